//! The seed article end to end through the default pipeline, pinned against its full record
//! (`tests/fixtures/seed.enriched.json`), plus the points that matter spelled out: the story is
//! intact, the six truncated teasers are reported as removed, and the entity layer names
//! "Amir Hatami" with his title and links "Hatami" to him.
//!
//! After an intended change, `LEDE_BLESS=1 cargo test --test seed` rewrites the fixture; review
//! its diff like code.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

mod common;

use common::model_dir;

use lede::pipeline::{self, StageOptions};
use serde_json::Value;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/seed.enriched.json"
);

/// The seed's record with the run-dependent timings zeroed.
fn seed_record() -> Value {
    let names: Vec<String> = pipeline::default_stages()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let pipeline = pipeline::build(
        &names,
        &StageOptions {
            model_dir: Some(model_dir()),
            entity_rules: true,
            entity_sentence_bounds: lede::config::DEFAULT_ENTITY_SENTENCE_BOUNDS,
            ..StageOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e} (run scripts/fetch-model.sh)"));
    let input = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed.jsonl")).unwrap();
    let out = lede::enrich::enrich_payload(&pipeline, &input, usize::MAX).unwrap();
    let mut record: Value = serde_json::from_slice(&out.record).unwrap();
    for stage in record["processing"]["stages"].as_array_mut().unwrap() {
        stage["micros"] = 0.into();
    }
    record["processing"]["lede_version"] = "VERSION".into();
    record
}

#[test]
fn the_seed_record_is_pinned() {
    let record = seed_record();
    if std::env::var_os("LEDE_BLESS").is_some() {
        std::fs::write(
            FIXTURE,
            serde_json::to_string_pretty(&record).unwrap() + "\n",
        )
        .unwrap();
    }
    let pinned: Value = serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    if record != pinned {
        let got = serde_json::to_string_pretty(&record).unwrap();
        let want = serde_json::to_string_pretty(&pinned).unwrap();
        let first = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "the seed record changed (first differing line {first}):\n  got:  {}\n  want: {}\n\
             rerun with LEDE_BLESS=1 if the change is intended",
            got.lines().nth(first).unwrap_or(""),
            want.lines().nth(first).unwrap_or("")
        );
    }
}

#[test]
fn the_story_is_intact_and_the_six_teasers_are_reported() {
    let record = seed_record();
    let text = record["text"].as_str().unwrap();
    let original =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed.txt")).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    let (story, teasers) = lines.split_at(lines.len() - 6);
    for line in story {
        assert!(text.contains(line.trim()), "story line missing: {line}");
    }
    let removed: Vec<(&str, &str)> = record["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["kind"].as_str().unwrap(), r["text"].as_str().unwrap()))
        .collect();
    assert_eq!(removed.len(), 6, "{removed:?}");
    for (teaser, (kind, removed)) in teasers.iter().zip(&removed) {
        assert_eq!((*kind, *removed), ("teaser", teaser.trim()));
        assert!(!text.contains(teaser.trim()));
    }
    assert_eq!(record["lang"], "en");
}

#[test]
fn hatami_is_titled_and_clustered_and_the_places_are_gpe() {
    let record = seed_record();
    let entities = record["entities"].as_array().unwrap();
    let find = |t: &'static str| entities.iter().filter(move |e| e["text"] == t);
    let amir = find("Amir Hatami").next().expect("Amir Hatami");
    assert_eq!(amir["label"], "PERSON");
    assert_eq!(amir["title"], "Brigadier General");
    let hatami = find("Hatami").next().expect("Hatami");
    assert_eq!(hatami["label"], "PERSON");
    assert_eq!(hatami["cluster"], amir["cluster"], "Hatami → Amir Hatami");
    for place in ["Iran", "Iraq", "Baghdad"] {
        let mentions: Vec<&Value> = find(place).collect();
        assert!(!mentions.is_empty(), "{place} found");
        assert!(
            mentions.iter().all(|e| e["label"] == "GPE"),
            "{place} is GPE everywhere"
        );
    }
    let isis: Vec<&Value> = find("ISIS").collect();
    assert!(isis.len() > 5);
    assert!(
        isis.iter()
            .all(|e| e["label"] == "ORG" && e["cluster"] == isis[0]["cluster"])
    );
    let clusters = record["clusters"].as_array().unwrap();
    let isis_cluster = &clusters[isis[0]["cluster"].as_u64().unwrap() as usize];
    assert_eq!(
        isis_cluster["mentions"].as_array().unwrap().len(),
        isis.len(),
        "one ISIS cluster"
    );
}
