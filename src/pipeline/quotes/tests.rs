//! Unit tests of the stage on text segmented without the model (rough words, no entities):
//! marks, attribution clauses, continuation, descriptions and pronouns, offsets.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;
use crate::pipeline::segment;

fn run(text: &str) -> (Document, Vec<Quote>) {
    let mut doc = Document {
        text: text.into(),
        ..Document::default()
    };
    segment::segment(&mut doc);
    let quotes = find(&mut doc);
    (doc, quotes)
}

/// `(kind, content, speaker)` of every quote.
fn summary(text: &str) -> Vec<(&'static str, String, Option<String>)> {
    let (doc, quotes) = run(text);
    quotes
        .iter()
        .map(|q| {
            (
                q.kind.as_str(),
                doc.slice(q.span).to_owned(),
                q.speaker.map(|s| doc.slice(s).to_owned()),
            )
        })
        .collect()
}

fn direct(text: &str) -> Vec<(String, Option<String>)> {
    summary(text)
        .into_iter()
        .filter(|q| q.0 == "direct")
        .map(|q| (q.1, q.2))
        .collect()
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

#[test]
fn the_clause_after_a_quote_names_its_speaker() {
    assert_eq!(
        direct("“We will stay,” he said."),
        [("“We will stay,”".into(), some("he"))]
    );
    assert_eq!(
        direct("“Iraq is safer today,” added the top general."),
        [("“Iraq is safer today,”".into(), some("the top general"))]
    );
    assert_eq!(
        direct("“It has been defeated,” Iran’s defence minister noted."),
        [(
            "“It has been defeated,”".into(),
            some("Iran’s defence minister")
        )]
    );
}

#[test]
fn the_clause_before_a_quote_names_its_speaker() {
    assert_eq!(
        direct("The minister said: “We are ready.”"),
        [("“We are ready.”".into(), some("The minister"))]
    );
    assert_eq!(
        direct("He touched upon the attacks, saying, “People have suffered.”"),
        [("“People have suffered.”".into(), some("He"))]
    );
}

#[test]
fn an_interrupted_quote_is_two_quotes_with_one_speaker() {
    let q = direct("“A deal is close,” he said. “But not yet.”");
    assert_eq!(q.len(), 2);
    assert_eq!(q[0].1, some("he"));
    assert_eq!(q[1], ("“But not yet.”".into(), some("he")));
}

#[test]
fn scare_quotes_and_titles_are_not_quotes() {
    assert!(direct("Critics called it a “stealth tax” on Monday.").is_empty());
    assert!(direct("The film “Winter Light” opens on Friday.").is_empty());
    assert!(direct("He said the plan was “a disgrace.”").is_empty());
}

#[test]
fn reported_speech_has_its_speaker() {
    let q = summary("The defence chief said Tehran’s policy is to bring nations closer.");
    assert_eq!(
        q,
        [(
            "reported",
            "Tehran’s policy is to bring nations closer".into(),
            some("The defence chief")
        )]
    );
    let q = summary("Three people died in the blast, according to local police.");
    assert_eq!(q[0].1, "Three people died in the blast");
    assert_eq!(q[0].2, some("local police"));
}

#[test]
fn an_unnamed_speaker_gets_a_cluster_of_its_own_and_keeps_it() {
    let text = "“We won,” the Iranian defence minister said.\n\n\
                The Iraqi communications minister, in turn, thanked Iran. He said Iran has helped his country a great deal.";
    let (doc, quotes) = run(text);
    assert_eq!(quotes.len(), 2);
    let (a, b) = (quotes[0].cluster.unwrap(), quotes[1].cluster.unwrap());
    assert_ne!(a, b, "the second speaker is another person");
    assert_eq!(doc.clusters[b].name, "Iraqi communications minister");
    assert!(doc.clusters[b].mentions.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn any_typography_gives_spans_inside_the_text(
        text in "[a-zA-Z .,:\n\"'“”‘’«»„` ]{0,200}",
    ) {
        let (doc, quotes) = run(&text);
        for q in &quotes {
            for s in [Some(q.span), q.speaker, q.cue].into_iter().flatten() {
                prop_assert!(s.start <= s.end && s.end <= doc.text.len());
                prop_assert!(doc.text.is_char_boundary(s.start) && doc.text.is_char_boundary(s.end));
            }
        }
    }
}
