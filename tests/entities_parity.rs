//! Parity of the entity model with spaCy en_core_web_sm 3.8 (NER-only) on the shared parity
//! files. Each text goes through lede's tokenizer (whose tokens must equal the file's, since
//! special-case NORMs feed the NER) and then the NER; every document's entities must equal
//! spaCy's exactly, and every mismatch is printed. Long documents (concatenations of the
//! parity texts up to 1.2 M code points, past spaCy's default `max_length`) must match spaCy
//! too, with the entity stage's working memory bounded, and the chunk size the network runs
//! over must not change a single entity.
#![allow(clippy::unwrap_used)] // Helpers of tests: a failed step is a failed test.

use lede::model::ModelDir;
use std::io::Read;

use lede::pipeline::entities::{EntityModel, Scratch};
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
    assert_eq!(
        identical,
        docs.len(),
        "{name}: documents whose entities differ from spaCy's (listed above)"
    );
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

/// Every parity text, in the order of `scripts/gen-long-ner-fixture.py`.
fn all_texts() -> Vec<String> {
    ["news_dev", "uner_dev", "seed"]
        .into_iter()
        .flat_map(read_parity)
        .map(|d| d.text)
        .collect()
}

/// The long document `scripts/gen-long-ner-fixture.py` builds: piece `j` is text
/// `(j · stride) mod 359`, joined with `sep` until at least `target` code points.
fn long_text(texts: &[String], stride: usize, sep: &str, target: usize) -> String {
    let (mut text, mut chars, mut j) = (String::new(), 0, 0);
    while chars < target {
        if j > 0 {
            text.push_str(sep);
            chars += sep.chars().count();
        }
        let piece = &texts[(j * stride) % texts.len()];
        text.push_str(piece);
        chars += piece.chars().count();
        j += 1;
    }
    text
}

/// 64-bit FNV-1a, as in the fixture's `token_hash`.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn long_documents_match_spacy_with_bounded_memory() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/long_entities.json.gz"
    );
    let mut json = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut json)
        .unwrap();
    let fixture: serde_json::Value = serde_json::from_str(&json).unwrap();
    let dir = model_dir();
    let model = EntityModel::from_model_dir(&dir).expect("load the NER");
    let tokenizer = Tokenizer::from_model_dir(&dir).expect("load the tokenizer");
    let texts = all_texts();
    assert_eq!(texts.len(), 359);
    let mut scratch = Scratch::default();
    let mut found = Vec::new();
    for doc in fixture["docs"].as_array().unwrap() {
        let name = doc["name"].as_str().unwrap();
        let n = |k: &str| usize::try_from(doc[k].as_u64().unwrap()).unwrap();
        let text = long_text(
            &texts,
            n("stride"),
            doc["sep"].as_str().unwrap(),
            n("target_chars"),
        );
        assert_eq!(text.chars().count(), n("chars"), "{name}: rebuilt text");
        let at = byte_offsets(&text);
        // Code point of every byte offset that starts a char (or ends the text).
        let mut cp = vec![usize::MAX; text.len() + 1];
        for (i, &b) in at.iter().enumerate() {
            cp[b] = i;
        }
        let tokens = tokenizer.tokenize(&text);
        assert_eq!(tokens.len(), n("tokens"), "{name}: token count");
        let spans: String = tokens
            .iter()
            .map(|t| {
                format!(
                    "{},{},{};",
                    cp[t.span.start],
                    cp[t.span.end],
                    u8::from(t.ws)
                )
            })
            .collect();
        assert_eq!(
            format!("{:016x}", fnv1a(spans.as_bytes())),
            doc["token_hash"].as_str().unwrap(),
            "{name}: tokens differ from spaCy's"
        );
        model.recognize_with(&text, &tokens, &mut scratch, &mut found);
        let got: Vec<(usize, usize, String)> = found
            .iter()
            .map(|e| {
                (
                    cp[tokens[e.start].span.start],
                    cp[tokens[e.end - 1].span.end],
                    e.label.as_str().to_owned(),
                )
            })
            .collect();
        let want: Vec<(usize, usize, String)> = doc["ents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    usize::try_from(e[0].as_u64().unwrap()).unwrap(),
                    usize::try_from(e[1].as_u64().unwrap()).unwrap(),
                    e[2].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        if let Some(i) = (0..want.len().max(got.len())).find(|&i| want.get(i) != got.get(i)) {
            panic!(
                "{name}: entity {i} differs: spaCy {:?}, lede {:?} ({} vs {} entities)",
                want.get(i),
                got.get(i),
                want.len(),
                got.len()
            );
        }
        println!(
            "{name}: {} chars, {} tokens, {} entities identical to spaCy; scratch holds {} bytes",
            n("chars"),
            tokens.len(),
            got.len(),
            scratch.held_bytes()
        );
        // Whole-document buffers took several KB per token (over 1 GB here); chunked ones are
        // a few MB whatever the length.
        assert!(
            scratch.held_bytes() < 16 << 20,
            "{name}: scratch holds {} bytes after {} tokens",
            scratch.held_bytes(),
            tokens.len()
        );
    }
}

#[test]
fn chunk_size_does_not_change_entities() {
    let dir = model_dir();
    let model = EntityModel::from_model_dir(&dir).expect("load the NER");
    let tokenizer = Tokenizer::from_model_dir(&dir).expect("load the tokenizer");
    let docs = read_parity("news_dev");
    let text = docs
        .iter()
        .map(|d| d.text.as_str())
        .collect::<Vec<_>>()
        .join("\n\n");
    let tokens = tokenizer.tokenize(&text);
    let mut whole = Vec::new();
    model.recognize_with(
        &text,
        &tokens,
        &mut Scratch::with_chunk(usize::MAX),
        &mut whole,
    );
    assert!(whole.len() > 3000, "{} entities", whole.len());
    for chunk in [1, 9, 100, 1000] {
        let mut got = Vec::new();
        model.recognize_with(&text, &tokens, &mut Scratch::with_chunk(chunk), &mut got);
        assert!(got == whole, "chunks of {chunk} tokens change the entities");
    }
}
