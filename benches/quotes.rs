//! What share of the default pipeline's time per article does the quotes stage take on real
//! news? (The 40 news_dev parity texts: `quotes` alone on documents already through `segment`
//! and `entities`, and the whole per-message path — decode, clean, segment, entities, quotes,
//! encode — on the same texts as payloads.)

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lede::pipeline::{self, Document, Stage, StageOptions};

fn bench(c: &mut Criterion) {
    let names: Vec<String> = pipeline::default_stages()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let model = lede::model::ModelDir::from_env_or_default()
        .unwrap_or_else(|e| panic!("{e} (run scripts/fetch-model.sh)"));
    let options = StageOptions {
        model_dir: Some(model.path("")),
        entity_rules: true,
        entity_sentence_bounds: lede::config::DEFAULT_ENTITY_SENTENCE_BOUNDS,
        ..StageOptions::default()
    };
    let full = pipeline::build(&names, &options).unwrap_or_else(|e| panic!("{e}"));
    let before: Vec<String> = ["segment", "entities"].map(str::to_owned).to_vec();
    let prepare = pipeline::build(&before, &options).expect("segment,entities");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/parity/news_dev.jsonl"
    );
    let data = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let texts: Vec<String> = data
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            v["text"].as_str().expect("text").to_owned()
        })
        .collect();
    let payloads: Vec<Vec<u8>> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            serde_json::to_vec(&serde_json::json!({"id": format!("news-{i}"), "text": text}))
                .expect("payload")
        })
        .collect();
    let docs: Vec<Document> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut doc = Document::from_text(format!("news-{i}"), text.clone());
            prepare.run(&mut doc).expect("segment,entities");
            doc
        })
        .collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let stage = lede::pipeline::quotes::Quotes;
    let mut group = c.benchmark_group("quotes");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(20);
    group.bench_function("quotes_stage_news_dev_40", |b| {
        b.iter_batched(
            || docs.clone(),
            |mut docs| {
                for d in &mut docs {
                    stage.process(d).expect("quotes never fails");
                }
                black_box(docs)
            },
            BatchSize::LargeInput,
        );
    });
    group.bench_function("default_pipeline_news_dev_40", |b| {
        b.iter(|| {
            for payload in &payloads {
                black_box(
                    lede::enrich::enrich_payload(&full, payload, usize::MAX).expect("enrich"),
                );
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
