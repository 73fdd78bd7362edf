//! Real outputs validated against the JSON Schemas in `schema/`, and the offset contract:
//! every span of a record slices its `text` in code points.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

mod common;

use common::model_dir;

use lede::pipeline::{self, StageOptions};
use serde_json::Value;

fn schema(name: &str) -> jsonschema::Validator {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/");
    let text = std::fs::read_to_string(format!("{path}{name}")).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, value: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the schema:\n{}",
        errors.join("\n")
    );
}

/// Every stage but the fault-injection one, story keys included (opt-in, not a default).
fn full_pipeline(tokens: bool) -> pipeline::Pipeline {
    let names: Vec<String> = pipeline::STAGE_NAMES
        .iter()
        .filter(|s| **s != "delay")
        .map(|s| (*s).to_owned())
        .collect();
    pipeline::build(
        &names,
        &StageOptions {
            model_dir: Some(model_dir()),
            tokens,
            entity_rules: true,
            entity_sentence_bounds: lede::config::DEFAULT_ENTITY_SENTENCE_BOUNDS,
            ..StageOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e} (run scripts/fetch-model.sh to get the model)"))
}

/// Every `{start, end}` in the record is inside `text`, in code points, and entity texts match.
fn assert_offsets(record: &Value) {
    let text: Vec<char> = record["text"].as_str().unwrap().chars().collect();
    let check = |items: &Value, what: &str| {
        for item in items.as_array().into_iter().flatten() {
            let (s, e) = (
                item["start"].as_u64().unwrap() as usize,
                item["end"].as_u64().unwrap() as usize,
            );
            assert!(
                s <= e && e <= text.len(),
                "{what} {s}..{e} outside a text of {} chars",
                text.len()
            );
            if let Some(t) = item.get("text").and_then(Value::as_str) {
                assert_eq!(text[s..e].iter().collect::<String>(), t, "{what} text");
            }
        }
    };
    for field in ["paragraphs", "sentences", "tokens", "entities"] {
        check(&record[field], field);
    }
}

#[test]
fn the_examples_are_valid_raw_articles() {
    let raw = schema("raw-article.schema.json");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    for line in std::fs::read_to_string(format!("{dir}/seed.jsonl"))
        .unwrap()
        .lines()
    {
        assert_valid(
            &raw,
            &serde_json::from_str(line).unwrap(),
            "examples/seed.jsonl",
        );
    }
    assert!(!raw.is_valid(&serde_json::json!({"title": "no body"})));
    assert!(!raw.is_valid(&serde_json::json!({"text": "  "})));
}

#[test]
fn records_of_every_stage_match_the_schema_and_slice_their_text() {
    let enriched = schema("enriched-article.schema.json");
    let pipeline = full_pipeline(true);
    let index = lede::pipeline::story::MemoryIndex::new();
    let mut inputs: Vec<Vec<u8>> = vec![
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed.jsonl")).unwrap(),
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/html-article.jsonl"
        ))
        .unwrap(),
        "Plain text with “quotes”, émigrés and 東京.\n\nA second paragraph."
            .as_bytes()
            .to_vec(),
    ];
    let parity = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/parity/news_dev.jsonl"
    );
    for line in std::fs::read_to_string(parity).unwrap().lines().take(10) {
        let v: Value = serde_json::from_str(line).unwrap();
        inputs.push(
            serde_json::json!({"id": v["id"], "text": v["text"]})
                .to_string()
                .into_bytes(),
        );
    }
    for input in &inputs {
        let mut out = lede::enrich::enrich_payload(&pipeline, input, 1 << 24).unwrap();
        futures::executor::block_on(lede::enrich::assign_story(&index, &mut out)).unwrap();
        let record: Value = serde_json::from_slice(&out.record).unwrap();
        assert!(record["story"]["key"].is_string(), "{record}");
        assert!(record["quotes"].is_array(), "{record}");
        assert_valid(&enriched, &record, &out.id);
        assert_offsets(&record);
    }
}
