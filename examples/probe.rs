//! Scratch probe.
fn main() {
    let text = std::fs::read_to_string("/work/shared/data/seed/article.txt").unwrap();
    let mut doc = lede::pipeline::Document { text, ..Default::default() };
    lede::pipeline::segment::segment(&mut doc);
    println!("dateline {:?} paragraphs {}", doc.dateline, doc.paragraphs.len());
    for s in &doc.sentences { println!("{} {:?}", s.paragraph, doc.slice(s.span)); }
}
