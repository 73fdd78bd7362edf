//! Scratch probe: news sanity.
fn main() {
    let t = std::fs::read_to_string("/work/shared/data/parity/news_dev.jsonl").unwrap();
    let (mut np, mut ns) = (0, 0);
    for l in t.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let mut doc = lede::pipeline::Document { text: v["text"].as_str().unwrap().to_owned(), ..Default::default() };
        lede::pipeline::segment::segment(&mut doc);
        np += doc.paragraphs.len(); ns += doc.sentences.len();
        if let Some(d) = doc.dateline { println!("DATELINE {:?}", doc.slice(d)); }
        for s in &doc.sentences {
            let x = doc.slice(s.span);
            if x.chars().count() < 20 || x.chars().count() > 350 { println!("{:?}", x); }
        }
    }
    println!("paragraphs {np} sentences {ns}");
}
