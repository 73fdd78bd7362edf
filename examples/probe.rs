//! Scratch probe: dev misses.
fn main() {
    let t = std::fs::read_to_string("/work/shared/data/ner/uner_ewt/en_ewt-ud-dev.jsonl").unwrap();
    let mut docs: Vec<(String, Vec<String>)> = Vec::new();
    for l in t.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let id = v["doc_id"].as_str().unwrap().to_owned();
        let tx = v["text"].as_str().unwrap().to_owned();
        match docs.last_mut() { Some((i, s)) if *i == id => s.push(tx), _ => docs.push((id, vec![tx])) }
    }
    for (_, sents) in docs {
        let text = sents.join(" ");
        let mut gold = std::collections::BTreeSet::new();
        let mut at = 0; for s in &sents { if at > 0 { gold.insert(at); } at += s.len() + 1; }
        let got: std::collections::BTreeSet<usize> = lede::pipeline::segment::sentences::split(&text).iter().map(|s| s.start).filter(|&c| c > 0).collect();
        for b in got.symmetric_difference(&gold) { let b=*b; let lo = text.floor_char_boundary(b.saturating_sub(40)); let hi = text.ceil_char_boundary((b+40).min(text.len())); println!("{} {:?}|{:?}", if gold.contains(&b) {"MISS"} else {"EXTRA"}, &text[lo..b], &text[b..hi]); }
    }
}
