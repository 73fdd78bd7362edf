//! How fast is the clean stage? Time per page extracting the 40 ScrapingHub DEV HTML pages and
//! the 846 html-extra pages, and MB/s cleaning scraped text (the seed article and the DEV
//! pages' ground-truth bodies, as plain text).

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

    let extra = lede::eval::html::load_extra(Path::new(DATA)).expect("html-extra pages");
    let mut group = c.benchmark_group("clean_html");
    for (name, set, samples) in [
        ("40_dev_pages", &pages, 20),
        ("846_extra_pages", &extra, 10),
    ] {
        group.sample_size(samples);
        group.throughput(Throughput::Elements(set.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                for page in set {
                    let mut doc = Document {
                        html: Some(page.html.clone()),
                        url: Some(page.url.clone()),
                        ..Document::default()
                    };
                    // A page may be refused (none is today); its time still counts.
                    let _ = black_box(clean.process(&mut doc));
                    black_box(&doc.text);
                }
            });
        });
    }
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
