//! How many tokens per second does the spaCy tokenizer port produce on the parity texts
//! (news_dev, uner_dev, seed: 359 docs, 64,109 tokens), with and without its chunk cache?
//!
//! Compare with `scripts/bench-tokenizer-spacy.py`, which times spaCy's own tokenizer on the
//! same texts.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lede::model::ModelDir;
use lede::pipeline::segment::tokenizer::Tokenizer;

const PARITY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/parity");
const FILES: [&str; 3] = ["news_dev.jsonl", "uner_dev.jsonl", "seed.jsonl"];

fn texts() -> Vec<String> {
    let mut texts = Vec::new();
    for file in FILES {
        let path = format!("{PARITY_DIR}/{file}");
        let data = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        for line in data.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            texts.push(v["text"].as_str().expect("text").to_owned());
        }
    }
    texts
}

fn bench(c: &mut Criterion) {
    let model = ModelDir::from_env_or_default().unwrap_or_else(|e| panic!("{e}"));
    let cached = Tokenizer::from_model_dir(&model).unwrap_or_else(|e| panic!("{e}"));
    let uncached = Tokenizer::from_model_dir(&model)
        .unwrap_or_else(|e| panic!("{e}"))
        .without_cache();
    let texts = texts();
    let tokens: usize = texts.iter().map(|t| cached.tokenize(t).len()).sum();

    let mut group = c.benchmark_group("tokenizer");
    group.throughput(Throughput::Elements(tokens as u64));
    group.sample_size(20);
    group.bench_function("parity_texts/cached", |b| {
        b.iter(|| {
            for text in &texts {
                black_box(cached.tokenize(black_box(text)));
            }
        })
    });
    group.bench_function("parity_texts/uncached", |b| {
        b.iter(|| {
            for text in &texts {
                black_box(uncached.tokenize(black_box(text)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
