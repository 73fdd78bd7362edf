//! How many tokens per second does the entity model recognise on one thread? (The news_dev
//! parity texts, tokenized beforehand by lede's tokenizer, so the NER alone is measured.)

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lede::model::ModelDir;
use lede::pipeline::entities::{EntityModel, Scratch};
use lede::pipeline::segment::tokenizer::Tokenizer;

fn bench(c: &mut Criterion) {
    let dir = ModelDir::from_env_or_default()
        .unwrap_or_else(|e| panic!("{e} (run scripts/fetch-model.sh)"));
    let model = EntityModel::from_model_dir(&dir).expect("load the NER");
    let tokenizer = Tokenizer::from_model_dir(&dir).expect("load the tokenizer");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/parity/news_dev.jsonl"
    );
    let data = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let docs: Vec<_> = data
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            let text = v["text"].as_str().expect("text").to_owned();
            let tokens = tokenizer.tokenize(&text);
            (text, tokens)
        })
        .collect();
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
