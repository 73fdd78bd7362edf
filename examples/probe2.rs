//! Scratch probe.
fn main() {
    let t = std::fs::read_to_string("/tmp/doc1.txt").unwrap();
    let t = t.as_str();
        let v: Vec<&str> = lede::pipeline::segment::sentences::split(t).iter().map(|s| &t[s.start..s.end]).collect();
        println!("{v:#?}");
        let v: Vec<&str> = sentencex::segment("en", t);
        println!("{v:#?}");
}
