//! How fast is segmentation (paragraphs + sentences, then the whole stage with spaCy tokens) on
//! news text? Corpus: the 40 DEV news texts of `shared/data/parity/news_dev.jsonl`.
//!
//! Compare with pySBD on the same texts: `scripts/bench-sbd-pysbd.py`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lede::model::ModelDir;
use lede::pipeline::segment::{Segment, segment};
use lede::pipeline::{Document, Stage};

fn news_texts() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/parity/news_dev.jsonl"
    );
    let data = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    data.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            v["text"].as_str().expect("text").to_owned()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let texts = news_texts();
    let bytes: usize = texts.iter().map(String::len).sum();
    let mut group = c.benchmark_group("segment/news_dev");
    group.throughput(Throughput::Bytes(bytes as u64));

    group.bench_function("paragraphs+sentences", |b| {
        b.iter(|| {
            for text in &texts {
                let mut doc = Document {
                    text: text.clone(),
                    ..Document::default()
                };
                segment(&mut doc);
                black_box(&doc.sentences);
            }
        });
    });

    let model = ModelDir::from_env_or_default().unwrap_or_else(|e| panic!("{e}"));
    let stage = Segment::from_model_dir(&model).unwrap_or_else(|e| panic!("{e}"));
    group.bench_function("stage (with spaCy tokens)", |b| {
        b.iter(|| {
            for text in &texts {
                let mut doc = Document {
                    text: text.clone(),
                    ..Document::default()
                };
                stage.process(&mut doc).expect("segment");
                black_box(&doc.sentences);
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
