//! Scratch probe: news sanity.
fn main() {
    let t = std::fs::read_to_string("/work/shared/data/parity/news_dev.jsonl").unwrap();
    for l in t.lines().take(40) {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let mut doc = lede::pipeline::Document { text: v["text"].as_str().unwrap().to_owned(), ..Default::default() };
        lede::pipeline::segment::segment(&mut doc);
        println!("=== {:?}", doc.dateline.map(|d| doc.slice(d).to_owned()));
        for s in doc.sentences.iter().take(6) { println!("  {} {:?}", s.paragraph, doc.slice(s.span)); }
    }
}
