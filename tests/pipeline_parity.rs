//! The whole record path against spaCy: `--stages segment,entities --no-entity-rules` over every
//! parity document gives spaCy's entities, in code points, through `enrich_payload` and the
//! record encoder (what the worker publishes).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

mod common;

use common::model_dir;

use lede::pipeline::{self, StageOptions};
use serde_json::Value;

#[test]
fn records_carry_spacys_entities_on_every_parity_document() {
    let pipeline = pipeline::build(
        &["segment".to_owned(), "entities".to_owned()],
        &StageOptions {
            model_dir: Some(model_dir()),
            entity_rules: false,
            ..StageOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e} (run scripts/fetch-model.sh)"));
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/parity");
    let (mut expected, mut agreed, mut got_total) = (0usize, 0usize, 0usize);
    let mut mismatches = Vec::new();
    for file in ["seed.jsonl", "news_dev.jsonl", "uner_dev.jsonl"] {
        for line in std::fs::read_to_string(format!("{dir}/{file}"))
            .unwrap()
            .lines()
        {
            let doc: Value = serde_json::from_str(line).unwrap();
            let input = serde_json::json!({"id": doc["id"], "text": doc["text"]}).to_string();
            let out = lede::enrich::enrich_payload(&pipeline, input.as_bytes(), usize::MAX)
                .unwrap_or_else(|r| panic!("{}: rejected: {r}", doc["id"]));
            let record: Value = serde_json::from_slice(&out.record).unwrap();
            assert_eq!(record["text"], doc["text"], "text passes through unchanged");
            let want: Vec<(u64, u64, String)> = doc["ents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e[0].as_u64().unwrap(),
                        e[1].as_u64().unwrap(),
                        e[2].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            let got: Vec<(u64, u64, String)> = record["entities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["start"].as_u64().unwrap(),
                        e["end"].as_u64().unwrap(),
                        e["label"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            expected += want.len();
            got_total += got.len();
            agreed += got.iter().filter(|g| want.contains(g)).count();
            for g in got.iter().filter(|g| !want.contains(g)) {
                mismatches.push(format!("{file} {}: extra {g:?}", doc["id"]));
            }
            for w in want.iter().filter(|w| !got.contains(w)) {
                mismatches.push(format!("{file} {}: missing {w:?}", doc["id"]));
            }
        }
    }
    for m in &mismatches {
        eprintln!("{m}");
    }
    let f1 = 2.0 * agreed as f64 / (expected + got_total) as f64;
    eprintln!("record entities vs spaCy: {agreed}/{expected} agree, {got_total} found, F1 {f1:.5}");
    assert!(
        mismatches.is_empty(),
        "{} entities differ from spaCy's (listed above); every document must match exactly",
        mismatches.len()
    );
}

#[test]
fn by_default_entities_stay_inside_sentences_and_end_on_text() {
    let names: Vec<String> = ["segment", "entities"].map(str::to_owned).to_vec();
    let pipeline = pipeline::build(
        &names,
        &StageOptions {
            model_dir: Some(model_dir()),
            entity_rules: true,
            entity_sentence_bounds: lede::config::DEFAULT_ENTITY_SENTENCE_BOUNDS,
            ..StageOptions::default()
        },
    )
    .unwrap();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/parity/news_dev.jsonl"
    );
    let mut crossing = 0;
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let doc: Value = serde_json::from_str(line).unwrap();
        let input = serde_json::json!({"id": doc["id"], "text": doc["text"]}).to_string();
        let out = lede::enrich::enrich_payload(&pipeline, input.as_bytes(), usize::MAX).unwrap();
        let record: Value = serde_json::from_slice(&out.record).unwrap();
        let sentences = record["sentences"].as_array().unwrap();
        for e in record["entities"].as_array().unwrap() {
            let text = e["text"].as_str().unwrap();
            assert_eq!(text, text.trim(), "entity text ends on text: {text:?}");
            let (s, end) = (e["start"].as_u64().unwrap(), e["end"].as_u64().unwrap());
            let inside = sentences
                .iter()
                .any(|x| x["start"].as_u64().unwrap() <= s && end <= x["end"].as_u64().unwrap());
            if !inside {
                crossing += 1;
                eprintln!("{}: {text:?} crosses a sentence boundary", doc["id"]);
            }
        }
    }
    assert_eq!(crossing, 0);
}
