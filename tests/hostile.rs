//! Hostile input: every nasty payload yields a valid record or a clean rejection (a DLQ entry
//! with a known kind), within a per-article time budget and bounded memory.
//!
//! Small cases are checked in under `tests/fixtures/hostile/` (they double as the fuzz seed
//! corpus); the big ones (10 MB single line, 10 MB of HTML, 100,000 nested tags, 200,000
//! entities, JSON nested past serde's recursion limit) are generated here, never committed.
//! Arbitrary bytes go through the same function in the property tests at the end. The big
//! inputs run through every stage, the entity model included (`make test` installs it;
//! `LEDE_MODEL` points elsewhere); peak memory is checked in `tests/memory.rs`.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lede::enrich::{Rejection, enrich_payload};
use lede::pipeline::{self, Pipeline, StageOptions};
use lede::record::{ENRICHED_SCHEMA, EnrichedArticle, RawArticle};
use proptest::prelude::*;

/// Every `Lede-Error-Kind` a rejection may carry.
const KINDS: &[&str] = &[
    "invalid_utf8",
    "invalid_json",
    "missing_content",
    "too_large",
    "stage_failed",
    "panic",
    "no_text",
    "encode",
    "deadline_exceeded",
];

/// Per-article time budget of these tests (the `--deadline` they run with).
const BUDGET: Duration = Duration::from_secs(10);

/// How much longer than [`BUDGET`] an article may take to come out: a stage cannot be
/// interrupted, so the last stage may run past the budget before the pipeline rejects the
/// article, and unoptimized test builds run the stages several times slower than release.
const GRACE: u32 = if cfg!(debug_assertions) { 4 } else { 2 };

const MB: usize = 1024 * 1024;

/// The pipelines every input goes through: no stages, and every default stage with the spaCy
/// model and the default token budget (what `lede worker` runs).
fn pipelines() -> Vec<Pipeline> {
    let options = StageOptions {
        model_dir: Some(common::model_dir()),
        entity_rules: true,
        entity_sentence_bounds: true,
        deadline: Some(BUDGET),
        max_tokens: Some(lede::config::DEFAULT_MAX_TOKENS),
        ..StageOptions::default()
    };
    let names: Vec<String> = pipeline::default_stages()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let all = pipeline::build(&names, &options).unwrap_or_else(|e| {
        panic!("cannot build {names:?} with the model (run `make setup` or set LEDE_MODEL): {e}")
    });
    assert!(all.has("entities"), "{all:?}");
    vec![
        Pipeline::new(vec![], false).with_deadline(Some(BUDGET)),
        all,
    ]
}

/// Runs `payload` through `pipeline` and checks the outcome is a valid record or a clean
/// rejection, in time. Returns the rejection kind, or `None` for a record.
fn check(
    pipeline: &Pipeline,
    name: &str,
    payload: &[u8],
    max_bytes: usize,
) -> Option<&'static str> {
    let started = Instant::now();
    let outcome = enrich_payload(pipeline, payload, max_bytes);
    let took = started.elapsed();
    assert!(
        took < BUDGET * GRACE,
        "{name}: took {took:?}, over {GRACE} × the budget {BUDGET:?}"
    );
    match outcome {
        Ok(enriched) => {
            let record: EnrichedArticle = serde_json::from_slice(&enriched.record)
                .unwrap_or_else(|e| panic!("{name}: the record is not valid JSON: {e}"));
            assert_eq!(record.schema, ENRICHED_SCHEMA, "{name}");
            assert!(!record.id.is_empty(), "{name}: empty id");
            assert_eq!(record.id, enriched.id, "{name}");
            assert!(!record.text.trim().is_empty(), "{name}: empty text");
            None
        }
        Err(Rejection { kind, message, .. }) => {
            assert!(KINDS.contains(&kind), "{name}: unknown kind {kind}");
            assert!(message.len() > 10, "{name}: unclear reason {message:?}");
            assert!(
                message.len() < 2_000,
                "{name}: the reason must not echo the payload ({} bytes)",
                message.len()
            );
            Some(kind)
        }
    }
}

fn fixture_dir() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/hostile"
    ))
}

#[test]
fn checked_in_nasty_inputs_give_a_record_or_a_clean_rejection() {
    // What the decoder must decide for the cases with one right answer.
    let expected: &[(&str, Option<&str>)] = &[
        ("invalid_utf8.txt", Some("invalid_utf8")),
        ("wrong_type_id.json", Some("invalid_json")),
        ("wrong_type_text.json", Some("invalid_json")),
        ("wrong_type_title.json", Some("invalid_json")),
        ("lone_surrogate.json", Some("invalid_json")),
        ("huge_numbers.json", Some("invalid_json")),
        ("null_content.json", Some("missing_content")),
        ("empty_object.json", Some("missing_content")),
        ("blank.txt", Some("missing_content")),
        ("rtl_emoji_zwj.txt", None),
        ("nul_bytes.txt", None),
        ("nul_escaped.json", None),
        ("crlf_json.json", None),
        ("json_array.txt", None),
    ];
    let mut seen = 0;
    for entry in std::fs::read_dir(fixture_dir()).expect("fixtures") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_owned();
        let payload = std::fs::read(&path).expect("read fixture");
        for pipeline in pipelines() {
            let outcome = check(&pipeline, &name, &payload, 4 * MB);
            if let Some((_, want)) = expected.iter().find(|(n, _)| *n == name) {
                assert_eq!(outcome, *want, "{name} through {pipeline:?}");
            }
        }
        seen += 1;
    }
    assert!(seen >= expected.len(), "fixtures missing: saw {seen}");
}

#[test]
fn rtl_emoji_and_zwj_text_keeps_its_code_points() {
    let payload = std::fs::read(fixture_dir().join("rtl_emoji_zwj.txt")).expect("fixture");
    let pipeline = Pipeline::new(vec![], false);
    let enriched = enrich_payload(&pipeline, &payload, MB).expect("a record");
    let record: EnrichedArticle = serde_json::from_slice(&enriched.record).expect("json");
    assert_eq!(
        record.text.as_bytes(),
        &payload[..],
        "text passes through byte for byte"
    );
}

/// The generated big and deep inputs.
fn generated() -> Vec<(&'static str, Vec<u8>)> {
    let ten_mb_line = "The minister said the talks would resume. ".repeat(10 * MB / 42);
    let mut html = String::from("<html><head><title>Big</title></head><body>");
    while html.len() < 10 * MB {
        html.push_str("<div class=\"c\"><p>Paragraph with <b>bold</b> &amp; <a href=\"/x\">link</a>.</p></div>\n");
    }
    html.push_str("</body></html>");
    let nested = format!(
        "{}deep{}",
        "<div>".repeat(100_000),
        "</div>".repeat(100_000)
    );
    let entities = "&amp;&lt;&#x1F600;&eacute;&#0;".repeat(40_000);
    let deep_json = format!(
        r#"{{"id":"deep","text":"ok","meta":{}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    vec![
        ("10 MB single line (text)", ten_mb_line.clone().into_bytes()),
        (
            "10 MB single line (JSON)",
            serde_json::json!({"id": "line", "text": ten_mb_line})
                .to_string()
                .into_bytes(),
        ),
        (
            "10 MB HTML",
            serde_json::json!({"id": "html", "html": html})
                .to_string()
                .into_bytes(),
        ),
        (
            "100,000 nested tags",
            serde_json::json!({"id": "nest", "html": nested, "text": "and some text"})
                .to_string()
                .into_bytes(),
        ),
        (
            "200,000 entities",
            serde_json::json!({"id": "ent", "text": entities.clone(), "html": entities})
                .to_string()
                .into_bytes(),
        ),
        ("JSON nested 100,000 deep", deep_json.into_bytes()),
        ("10 MB of NUL bytes", vec![0u8; 10 * MB]),
        ("10 MB of 0xFF", vec![0xFF; 10 * MB]),
    ]
}

#[test]
fn generated_huge_and_deep_inputs_are_bounded_by_max_bytes_and_the_budget() {
    for (name, payload) in generated() {
        for pipeline in pipelines() {
            // The default limit (4 MiB): anything bigger is a clean `too_large`.
            let outcome = check(&pipeline, name, &payload, 4 * MB);
            if payload.len() > 4 * MB {
                assert_eq!(outcome, Some("too_large"), "{name}");
            }
            // A generous limit: the content itself must still be handled in time.
            let outcome = check(&pipeline, name, &payload, 16 * MB);
            if name.starts_with("JSON nested") {
                // serde_json's recursion limit turns this into a rejection, not a stack overflow.
                assert_eq!(outcome, Some("invalid_json"), "{name}");
            }
            if name == "10 MB of 0xFF" {
                assert_eq!(outcome, Some("invalid_utf8"), "{name}");
            }
        }
    }
}

#[test]
fn a_pipeline_over_its_budget_rejects_with_deadline_exceeded() {
    let slow = pipeline::build(
        &["delay".to_owned()],
        &StageOptions {
            delay: Duration::from_millis(50),
            deadline: Some(Duration::from_millis(10)),
            ..StageOptions::default()
        },
    )
    .expect("pipeline");
    assert_eq!(
        check(&slow, "slow", b"Some text.", MB),
        Some("deadline_exceeded")
    );
}

fn any_pipeline() -> Arc<Pipeline> {
    Arc::new(Pipeline::new(vec![], false).with_deadline(Some(BUDGET)))
}

/// Strings that look like raw articles: JSON objects with fields of any type, and text.
fn json_like() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        Just("null".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        ".{0,40}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        Just("[1,\"a\",{}]".to_owned()),
        Just("{\"k\":\"v\"}".to_owned()),
    ];
    let key = prop_oneof![
        Just("id"),
        Just("text"),
        Just("html"),
        Just("title"),
        Just("url"),
        Just("lang"),
        Just("published_at"),
        Just("extra"),
    ];
    prop::collection::vec((key, value), 0..6).prop_map(|fields| {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(",")).into_bytes()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_end_as_record_or_rejection(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let p = any_pipeline();
        check(&p, "arbitrary bytes", &bytes, 2048);
        if let Ok(raw) = RawArticle::decode(&bytes, usize::MAX) {
            prop_assert!(raw.text.is_some() || raw.html.is_some());
            prop_assert!(!raw.id.is_empty());
        }
    }

    #[test]
    fn arbitrary_json_articles_never_panic(payload in json_like()) {
        let p = any_pipeline();
        check(&p, "json-like", &payload, 1 << 20);
    }

    #[test]
    fn arbitrary_unicode_text_is_a_record_with_the_same_text(text in "\\PC{1,300}") {
        prop_assume!(!text.trim().is_empty() && !text.trim_start().starts_with('{'));
        let p = any_pipeline();
        let enriched = enrich_payload(&p, text.as_bytes(), 1 << 20);
        let enriched = enriched.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let record: EnrichedArticle = serde_json::from_slice(&enriched.record).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(record.text, text);
    }
}
