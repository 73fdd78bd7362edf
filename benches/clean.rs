//! How fast is the clean stage? ms/page extracting the 40 DEV HTML pages, and MB/s cleaning
//! scraped text (the seed article and the DEV pages' ground-truth bodies, as plain text).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lede::pipeline::clean::Clean;
use lede::pipeline::{Document, Stage, StageOptions};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data");
const SEED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/seed/article.txt"
));

fn bench(c: &mut Criterion) {
    let pages = lede::eval::html::load_pages(Path::new(DATA)).expect("DEV pages");
    let clean = Clean::new(&StageOptions::default());

    let mut group = c.benchmark_group("clean_html");
    group.sample_size(20);
    group.throughput(Throughput::Elements(pages.len() as u64));
    group.bench_function("40_dev_pages", |b| {
        b.iter(|| {
            for page in &pages {
                let mut doc = Document {
                    html: Some(page.html.clone()),
                    url: Some(page.url.clone()),
                    ..Document::default()
                };
                clean.process(&mut doc).expect("clean");
                black_box(&doc.text);
            }
        });
    });
    group.finish();

    let bodies: String = pages
        .iter()
        .map(|p| p.truth.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let mut group = c.benchmark_group("clean_text");
    for (name, text) in [("seed", SEED), ("dev_bodies", bodies.as_str())] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut doc = Document {
                    text: text.to_owned(),
                    ..Document::default()
                };
                clean.process(&mut doc).expect("clean");
                black_box(&doc.text);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
