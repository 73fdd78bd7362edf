//! How much does the story stage cost per article? Articles/s of the signature alone and of
//! signature + online assignment on the in-memory index, over the 488-article DEV stream
//! (../shared/data/dedup/dev.jsonl, as plain text).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lede::pipeline::story::{MemoryIndex, Signature, assign_now};

const DEV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/dedup/dev.jsonl"
);

fn bench(c: &mut Criterion) {
    let text = std::fs::read_to_string(DEV).expect("the DEV stream (../shared)");
    let articles: Vec<(String, String)> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            (
                v["id"].as_str().unwrap_or_default().to_owned(),
                v["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut group = c.benchmark_group("story");
    group.sample_size(20);
    group.throughput(Throughput::Elements(articles.len() as u64));
    group.bench_function("signature_dev_stream", |b| {
        b.iter(|| {
            for (_, text) in &articles {
                black_box(Signature::of(text));
            }
        });
    });
    group.bench_function("signature_and_assign_dev_stream", |b| {
        b.iter(|| {
            let index = MemoryIndex::new();
            for (id, text) in &articles {
                let sig = Signature::of(text);
                black_box(assign_now(&index, id, sig.as_ref()).ok());
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
