//! Sentence segmentation eval.
use std::path::Path;
use crate::pipeline::segment::sentences;

/// Runs the eval.
pub fn run(data_dir: &Path, _model_dir: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let mut out = String::new();
    let golden = std::fs::read_to_string(data_dir.join("sbd/golden_rules_en.jsonl"))?;
    let mut ok = 0;
    for line in golden.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let text = v["text"].as_str().unwrap_or_default();
        let gold: Vec<&str> = v["sentences"].as_array().map(|a| a.iter().filter_map(|x| x.as_str()).collect()).unwrap_or_default();
        let got: Vec<&str> = sentences::split(text).iter().map(|s| &text[s.start..s.end]).collect();
        if got == gold { ok += 1 } else { out.push_str(&format!("FAIL {}: {}\n  gold {:?}\n  got  {:?}\n", v["id"], v["rule"], gold, got)); }
    }
    out.push_str(&format!("golden {ok}/48\n"));
    let ewt = std::fs::read_to_string(data_dir.join("sbd/ewt_test.jsonl"))?;
    let (mut tp, mut fp, mut fnn) = (0usize, 0usize, 0usize);
    for line in ewt.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let text = v["text"].as_str().unwrap_or_default();
        let chars: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        let gold: std::collections::BTreeSet<usize> = v["sent_starts"].as_array().map(|a| a.iter().filter_map(|x| x.as_u64()).map(|c| chars[c as usize]).filter(|&b| b > 0).collect()).unwrap_or_default();
        let mut got = std::collections::BTreeSet::new();
        let mut off = 0;
        for para in text.split('\n') {
            for s in sentences::split(para) { if off + s.start > 0 { got.insert(off + s.start); } }
            off += para.len() + 1;
        }
        tp += got.intersection(&gold).count(); fp += got.difference(&gold).count(); fnn += gold.difference(&got).count();
        for b in got.symmetric_difference(&gold) { let b=*b; let lo = text.floor_char_boundary(b.saturating_sub(40)); let hi = text.ceil_char_boundary((b+40).min(text.len())); out.push_str(&format!("{} {:?}|{:?}\n", if gold.contains(&b) {"MISS"} else {"EXTRA"}, &text[lo..b], &text[b..hi])); }
    }
    let p = tp as f64 / (tp + fp) as f64; let r = tp as f64 / (tp + fnn) as f64;
    out.push_str(&format!("ewt P {p:.3} R {r:.3} F1 {:.3}\n", 2.0*p*r/(p+r)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    #[ignore]
    fn report() {
        let d = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"));
        println!("{}", super::run(d, d).unwrap());
    }
}
