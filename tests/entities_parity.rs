//! Parity of the entity model with spaCy en_core_web_sm 3.8 (NER-only) on the shared parity
//! files. Each text goes through lede's tokenizer (whose tokens must equal the file's, since
//! special-case NORMs feed the NER) and then the NER; entity agreement must be >= 99.9 % per
//! file, and every mismatch is printed. On the DEV files it is 100 %.
#![allow(clippy::unwrap_used)] // Helpers of tests: a failed step is a failed test.

use lede::model::ModelDir;
use lede::pipeline::entities::EntityModel;
use lede::pipeline::segment::tokenizer::Tokenizer;

fn model_dir() -> ModelDir {
    ModelDir::from_env_or_default().unwrap_or_else(|e| {
        panic!("spaCy model not usable: {e}; run scripts/fetch-model.sh (or set LEDE_MODEL)")
    })
}

/// Byte offset of every code-point index (plus the end) of `text`.
fn byte_offsets(text: &str) -> Vec<usize> {
    text.char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(text.len()))
        .collect()
}

type Spans = Vec<(usize, usize, String)>;

struct Doc {
    id: String,
    text: String,
    tokens: Vec<(usize, usize, bool)>,
    ents: Spans,
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
                .map(|t| (cp(&t[0]), cp(&t[1]), t[2].as_bool().unwrap()))
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

fn check_file(name: &str) {
    let dir = model_dir();
    let model = EntityModel::from_model_dir(&dir).expect("load the NER");
    let tokenizer = Tokenizer::from_model_dir(&dir).expect("load the tokenizer");
    let docs = read_parity(name);
    let (mut agree, mut want_n, mut got_n, mut identical) = (0usize, 0usize, 0usize, 0usize);
    for doc in &docs {
        let tokens = tokenizer.tokenize(&doc.text);
        let spans: Vec<(usize, usize, bool)> = tokens
            .iter()
            .map(|t| (t.span.start, t.span.end, t.ws))
            .collect();
        assert!(
            spans == doc.tokens,
            "{name} {}: tokens differ from spaCy's",
            doc.id
        );
        let got: Spans = model
            .recognize(&doc.text, &tokens)
            .iter()
            .map(|e| {
                let span = (tokens[e.start].span.start, tokens[e.end - 1].span.end);
                assert!(doc.text.is_char_boundary(span.0) && doc.text.is_char_boundary(span.1));
                (span.0, span.1, e.label.as_str().to_owned())
            })
            .collect();
        agree += got.iter().filter(|e| doc.ents.contains(e)).count();
        want_n += doc.ents.len();
        got_n += got.len();
        if got == doc.ents {
            identical += 1;
            continue;
        }
        for e in doc.ents.iter().filter(|e| !got.contains(e)) {
            println!(
                "{name} {}: missing {} {:?}",
                doc.id,
                e.2,
                &doc.text[e.0..e.1]
            );
        }
        for e in got.iter().filter(|e| !doc.ents.contains(e)) {
            println!(
                "{name} {}: extra   {} {:?}",
                doc.id,
                e.2,
                &doc.text[e.0..e.1]
            );
        }
    }
    let f1 = 2.0 * agree as f64 / (want_n + got_n).max(1) as f64;
    println!(
        "{name}: docs {identical}/{} identical, entities spaCy {want_n} ours {got_n} agree {agree} (F1 {f1:.5})",
        docs.len()
    );
    assert!(f1 >= 0.999, "{name}: entity agreement {f1:.5} < 0.999");
}

#[test]
fn seed_parity() {
    check_file("seed");
}

#[test]
fn news_dev_parity() {
    check_file("news_dev");
}

#[test]
fn uner_dev_parity() {
    check_file("uner_dev");
}
