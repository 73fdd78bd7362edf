//! How many tokens per second does the entity model recognise on one thread? (News parity texts,
//! spaCy's tokens taken from the parity file, so the NER alone is measured.)

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lede::pipeline::entities::{EntityModel, Scratch};
use lede::pipeline::{Span, Token};

fn model_dir() -> PathBuf {
    std::env::var_os("LEDE_MODEL").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models/en_core_web_sm-3.8.0")),
        PathBuf::from,
    )
}

/// (text, tokens) of every document of a parity file, offsets converted to bytes.
fn parity_docs(name: &str) -> Vec<(String, Vec<Token>)> {
    let path = format!(
        "{}/../shared/data/parity/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let data = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    data.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            let text = v["text"].as_str().expect("text").to_owned();
            let at: Vec<usize> = text
                .char_indices()
                .map(|(b, _)| b)
                .chain(std::iter::once(text.len()))
                .collect();
            let cp = |x: &serde_json::Value| at[x.as_u64().expect("offset") as usize];
            let tokens = v["tokens"]
                .as_array()
                .expect("tokens")
                .iter()
                .map(|t| Token {
                    span: Span::new(cp(&t[0]), cp(&t[1])),
                    ws: t[2].as_bool().unwrap_or(false),
                    norm: None,
                })
                .collect();
            (text, tokens)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = model_dir();
    let model = EntityModel::load(&dir).unwrap_or_else(|e| {
        panic!("{e} (model dir {}; run scripts/fetch-model.sh)", dir.display())
    });
    let docs = parity_docs("news_dev");
    let n_tokens: usize = docs.iter().map(|(_, t)| t.len()).sum();
    let mut group = c.benchmark_group("entities");
    group.throughput(Throughput::Elements(n_tokens as u64));
    group.sample_size(20);
    group.bench_function("news_dev", |b| {
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        b.iter(|| {
            let mut found = 0;
            for (text, tokens) in &docs {
                model.recognize_with(text, tokens, &mut scratch, &mut out);
                found += out.len();
            }
            found
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
