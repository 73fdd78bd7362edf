//! Parity of the entity model with spaCy en_core_web_sm 3.8 (NER-only) on the shared parity
//! files: every entity must agree (threshold 99.9 % per file; every mismatch is printed).

use std::path::PathBuf;
use std::sync::Arc;

use lede::pipeline::entities::EntityModel;
use lede::pipeline::{Span, Token};

fn model_dir() -> PathBuf {
    let dir = std::env::var_os("LEDE_MODEL").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models/en_core_web_sm-3.8.0")),
        PathBuf::from,
    );
    assert!(
        dir.join("ner").join("model").is_file(),
        "spaCy model missing at {}: run scripts/fetch-model.sh (or set LEDE_MODEL)",
        dir.display()
    );
    dir
}

/// Byte offset of every code-point index (plus the end) of `text`.
fn byte_offsets(text: &str) -> Vec<usize> {
    text.char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(text.len()))
        .collect()
}

struct Doc {
    id: String,
    text: String,
    tokens: Vec<Token>,
    ents: Vec<(usize, usize, String)>,
}

fn read_parity(name: &str) -> Vec<Doc> {
    let path = format!(
        "{}/../shared/data/parity/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let data = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    data.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let text = v["text"].as_str().unwrap().to_owned();
            let at = byte_offsets(&text);
            let cp = |x: &serde_json::Value| at[usize::try_from(x.as_u64().unwrap()).unwrap()];
            let tokens = v["tokens"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| Token {
                    span: Span::new(cp(&t[0]), cp(&t[1])),
                    ws: t[2].as_bool().unwrap(),
                    norm: None,
                })
                .collect();
            let ents = v["ents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (cp(&e[0]), cp(&e[1]), e[2].as_str().unwrap().to_owned()))
                .collect();
            Doc {
                id: v["id"].as_str().unwrap().to_owned(),
                text,
                tokens,
                ents,
            }
        })
        .collect()
}

fn check_file(model: &EntityModel, name: &str) {
    let docs = read_parity(name);
    let (mut agree, mut want_n, mut got_n, mut identical) = (0usize, 0usize, 0usize, 0usize);
    for doc in &docs {
        let got: Vec<(usize, usize, String)> = model
            .recognize(&doc.text, &doc.tokens)
            .iter()
            .map(|e| {
                (
                    doc.tokens[e.start].span.start,
                    doc.tokens[e.end - 1].span.end,
                    e.label.as_str().to_owned(),
                )
            })
            .collect();
        let common = got.iter().filter(|e| doc.ents.contains(e)).count();
        agree += common;
        want_n += doc.ents.len();
        got_n += got.len();
        if got == doc.ents {
            identical += 1;
            continue;
        }
        for e in doc.ents.iter().filter(|e| !got.contains(e)) {
            println!("{name} {}: missing {} {:?}", doc.id, e.2, &doc.text[e.0..e.1]);
        }
        for e in got.iter().filter(|e| !doc.ents.contains(e)) {
            println!("{name} {}: extra   {} {:?}", doc.id, e.2, &doc.text[e.0..e.1]);
        }
    }
    let f1 = 2.0 * agree as f64 / (want_n + got_n).max(1) as f64;
    println!(
        "{name}: docs {}/{} identical, entities spaCy {want_n} ours {got_n} agree {agree} (F1 {f1:.5})",
        identical,
        docs.len()
    );
    assert!(f1 >= 0.999, "{name}: entity agreement {f1:.5} < 0.999");
}

fn model() -> Arc<EntityModel> {
    Arc::new(EntityModel::load(&model_dir()).expect("load the NER"))
}

#[test]
fn seed_parity() {
    check_file(&model(), "seed");
}

#[test]
fn news_dev_parity() {
    check_file(&model(), "news_dev");
}

#[test]
fn uner_dev_parity() {
    check_file(&model(), "uner_dev");
}
