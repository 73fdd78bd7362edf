//! The `entities` stage on whole documents: byte spans, sentence indices, the English-only rule,
//! the build-time dependency on `segment`, and refusal of a model of another shape.
#![allow(clippy::unwrap_used)] // Helpers of tests: a failed step is a failed test.

use std::path::Path;
use std::sync::Arc;

use lede::model::ModelDir;
use lede::pipeline::entities::{Entities, EntityModel, LoadError};
use lede::pipeline::segment::tokenizer::Tokenizer;
use lede::pipeline::{BuildError, Document, Label, Sentence, Span, Stage, StageOptions, build};

fn model_dir() -> ModelDir {
    ModelDir::from_env_or_default().unwrap_or_else(|e| {
        panic!("spaCy model not usable: {e}; run scripts/fetch-model.sh (or set LEDE_MODEL)")
    })
}

const TEXT: &str = "Iran’s defence minister Amir Hatami visited Moscow on Tuesday. \
                    Russia didn’t comment.";

fn english_doc(tokenizer: &Tokenizer) -> Document {
    let mut doc = Document {
        text: TEXT.to_owned(),
        lang: Some("en".to_owned()),
        ..Document::default()
    };
    doc.tokens = tokenizer.tokenize(&doc.text);
    let split = TEXT.find("Russia").unwrap();
    doc.sentences = vec![
        Sentence {
            span: Span::new(0, split - 1),
            paragraph: 0,
        },
        Sentence {
            span: Span::new(split, TEXT.len()),
            paragraph: 0,
        },
    ];
    doc
}

#[test]
fn stage_fills_entities_with_byte_spans_and_sentences() {
    let dir = model_dir();
    let stage = Entities::new(Arc::new(EntityModel::from_model_dir(&dir).unwrap()));
    let tokenizer = Tokenizer::from_model_dir(&dir).unwrap();
    let mut doc = english_doc(&tokenizer);
    stage.process(&mut doc).unwrap();
    let found: Vec<(&str, Label, Option<usize>)> = doc
        .entities
        .iter()
        .map(|e| (doc.slice(e.span), e.label, e.sentence))
        .collect();
    // What spaCy en_core_web_sm 3.8 (NER-only) gives for this text.
    assert_eq!(
        found,
        [
            ("Iran", Label::Gpe, Some(0)),
            ("Amir Hatami", Label::Person, Some(0)),
            ("Moscow", Label::Gpe, Some(0)),
            ("Tuesday", Label::Date, Some(0)),
            ("Russia", Label::Gpe, Some(1)),
        ]
    );
    assert_eq!(stage.model_id().as_deref(), Some(dir.id()));
    // Without sentences the index is absent.
    doc.sentences.clear();
    stage.process(&mut doc).unwrap();
    assert_eq!(doc.entities.len(), 5);
    assert!(doc.entities.iter().all(|e| e.sentence.is_none()));
}

#[test]
fn stage_skips_other_languages() {
    let dir = model_dir();
    let stage = Entities::new(Arc::new(EntityModel::from_model_dir(&dir).unwrap()));
    let tokenizer = Tokenizer::from_model_dir(&dir).unwrap();
    let mut doc = english_doc(&tokenizer);
    doc.lang = Some("de".to_owned());
    stage.process(&mut doc).unwrap();
    assert!(doc.entities.is_empty());
    assert_eq!(doc.skipped.len(), 1);
    assert_eq!(doc.skipped[0].stage, "entities");
    assert!(
        doc.skipped[0].reason.contains("\"de\""),
        "{}",
        doc.skipped[0].reason
    );
    // No language at all is treated as English.
    let mut doc = english_doc(&tokenizer);
    doc.lang = None;
    stage.process(&mut doc).unwrap();
    assert_eq!(doc.entities.len(), 5);
}

#[test]
fn empty_document_has_no_entities() {
    let model = EntityModel::from_model_dir(&model_dir()).unwrap();
    assert!(model.recognize("", &[]).is_empty());
}

#[test]
fn build_needs_segment_before_entities() {
    let options = StageOptions {
        model_dir: Some(model_dir().root().to_owned()),
        ..StageOptions::default()
    };
    for names in [vec!["entities"], vec!["entities", "segment"]] {
        let names: Vec<String> = names.into_iter().map(str::to_owned).collect();
        match build(&names, &options) {
            Err(BuildError::MissingDependency { stage, needs }) => {
                assert_eq!((stage, needs), ("entities", "segment"));
            }
            Err(BuildError::UnknownStage { name }) => {
                // Before the segment stage is merged, "segment" itself is unknown; the
                // dependency check must still fire for ["entities"] alone.
                assert_eq!(name, "segment", "{names:?}");
            }
            other => panic!("{names:?}: expected a missing dependency, got {other:?}"),
        }
    }
}

/// A copy of the pipeline directory (symlinked files) whose `ner/moves` has only PERSON.
fn model_with_fewer_moves(src: &Path, dst: &Path) {
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "ner" {
            std::os::unix::fs::symlink(entry.path(), dst.join(entry.file_name())).unwrap();
        }
    }
    std::fs::create_dir(dst.join("ner")).unwrap();
    for file in ["model", "cfg"] {
        std::os::unix::fs::symlink(src.join("ner").join(file), dst.join("ner").join(file)).unwrap();
    }
    let moves = r#"{"0":{},"1":{"PERSON":1},"2":{"PERSON":1},"3":{"PERSON":1},"4":{"PERSON":1,"":1},"5":{"":1}}"#;
    let value = rmpv::Value::Map(vec![
        (rmpv::Value::from("moves"), rmpv::Value::from(moves)),
        (
            rmpv::Value::from("cfg"),
            rmpv::Value::Map(vec![(rmpv::Value::from("neg_key"), rmpv::Value::Nil)]),
        ),
    ]);
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &value).unwrap();
    std::fs::write(dst.join("ner").join("moves"), bytes).unwrap();
}

#[test]
fn refuses_a_model_of_another_shape() {
    let tmp = tempfile::tempdir().unwrap();
    model_with_fewer_moves(model_dir().root(), tmp.path());
    match EntityModel::load(tmp.path()) {
        Err(LoadError::Format { message, .. }) => {
            assert!(
                message.contains("shape [74, 64], expected [6, 64]"),
                "{message}"
            );
        }
        other => panic!("expected a format error, got {other:?}"),
    }
    let missing = tempfile::tempdir().unwrap();
    let err = EntityModel::load(missing.path()).unwrap_err();
    assert!(err.to_string().contains("fetch-model.sh"), "{err}");
}

#[test]
fn output_is_the_same_on_every_thread() {
    let dir = model_dir();
    let model = Arc::new(EntityModel::from_model_dir(&dir).unwrap());
    let tokenizer = Tokenizer::from_model_dir(&dir).unwrap();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/parity/uner_dev.jsonl"
    );
    let docs: Arc<Vec<_>> = Arc::new(
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .take(60)
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let text = v["text"].as_str().unwrap().to_owned();
                let tokens = tokenizer.tokenize(&text);
                (text, tokens)
            })
            .collect(),
    );
    let run = |model: &EntityModel, docs: &[(String, Vec<lede::pipeline::Token>)], rev: bool| {
        let mut out: Vec<_> = if rev {
            docs.iter()
                .rev()
                .map(|(t, k)| model.recognize(t, k))
                .collect()
        } else {
            docs.iter().map(|(t, k)| model.recognize(t, k)).collect()
        };
        if rev {
            out.reverse();
        }
        out
    };
    let single = run(&model, &docs, false);
    assert!(single.iter().map(Vec::len).sum::<usize>() > 50);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (model, docs) = (Arc::clone(&model), Arc::clone(&docs));
            // Different orders, so every thread's scratch holds another document's leftovers.
            std::thread::spawn(move || run(&model, &docs, i % 2 == 1))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), single);
    }
}
