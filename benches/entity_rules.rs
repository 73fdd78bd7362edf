//! How long does the entity rule layer (titles, label fixes, clusters) take on real news?
//!
//! Input: spaCy's entities for the 40 news_dev articles (`shared/data/parity/news_dev.jsonl`),
//! so the bench measures the rules alone, not the model. Throughput is in bytes of article text.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lede::eval::entrules::parity_document;
use lede::pipeline::entities::rules;

const NEWS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/parity/news_dev.jsonl"
);

fn bench(c: &mut Criterion) {
    let docs: Vec<_> = std::fs::read_to_string(NEWS)
        .expect("shared/data/parity/news_dev.jsonl")
        .lines()
        .map(|l| parity_document(l).expect("parity record"))
        .collect();
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    let mut group = c.benchmark_group("entity_rules");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("news_dev_40_articles", |b| {
        b.iter_batched(
            || docs.clone(),
            |mut docs| {
                for d in &mut docs {
                    rules::apply(d);
                }
                black_box(docs)
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
