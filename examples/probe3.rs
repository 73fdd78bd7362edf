//! Scratch probe: test diffs.
fn main() {
    let t = std::fs::read_to_string("/work/shared/data/sbd/ewt_test.jsonl").unwrap();
    for l in t.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let text = v["text"].as_str().unwrap();
        let chars: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        let gold: std::collections::BTreeSet<usize> = v["sent_starts"].as_array().unwrap().iter().map(|x| chars[x.as_u64().unwrap() as usize]).filter(|&b| b > 0).collect();
        let mut got = std::collections::BTreeSet::new();
        let mut off = 0;
        for para in text.split('\n') {
            for s in lede::pipeline::segment::sentences::split(para) { if off + s.start > 0 { got.insert(off + s.start); } }
            off += para.len() + 1;
        }
        for b in got.symmetric_difference(&gold) { let b=*b; let lo = text.floor_char_boundary(b.saturating_sub(40)); let hi = text.ceil_char_boundary((b+40).min(text.len())); println!("{} {:?}|{:?}", if gold.contains(&b) {"MISS"} else {"EXTRA"}, &text[lo..b], &text[b..hi]); }
    }
}
