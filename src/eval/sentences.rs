//! `lede eval sentences`: golden-rules accuracy and EWT boundary P/R/F1 of the sentence
//! segmenter, beside pySBD's and spaCy's figures measured on the same data.
//!
//! Protocol (`shared/data/sbd/README.md`): each EWT document's `text` is split at `\n` into its
//! paragraphs, each paragraph is segmented on its own, and a boundary is the code-point offset
//! where a sentence starts, excluding offset 0 of the document. Paragraph breaks are therefore
//! free; the boundaries inside paragraphs are reported separately because they are the hard
//! part.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use crate::pipeline::segment::sentences;

/// pySBD 0.3.4 and spaCy `en_core_web_sm` 3.8 (parser) with this protocol, measured by
/// `scripts/eval-sbd-baselines.py`: (name, golden rules passed, EWT test F1 over all
/// boundaries, inside paragraphs, EWT dev F1).
const BASELINES: &[(&str, usize, f64, f64, f64)] = &[
    ("pySBD 0.3.4", 47, 0.896, 0.845, 0.800),
    ("spaCy sm parser", 29, 0.916, 0.876, 0.855),
];

#[derive(Deserialize)]
struct Golden {
    id: u32,
    text: String,
    sentences: Vec<String>,
    rule: String,
}

#[derive(Deserialize)]
struct DevSentence {
    doc_id: String,
    text: String,
}

#[derive(Deserialize)]
struct Ewt {
    text: String,
    sent_starts: Vec<usize>,
    par_breaks: Vec<usize>,
}

/// Boundary counts.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Counts {
    fn add(&mut self, gold: &BTreeSet<usize>, got: &BTreeSet<usize>) {
        self.tp += gold.intersection(got).count();
        self.fp += got.difference(gold).count();
        self.fn_ += gold.difference(got).count();
    }

    fn prf(&self) -> (f64, f64, f64) {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let p = ratio(self.tp, self.tp + self.fp);
        let r = ratio(self.tp, self.tp + self.fn_);
        let f = if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        };
        (p, r, f)
    }
}

/// Runs the eval over `data_dir` (`shared/data`) and returns the report. The model is not
/// used: sentence segmentation is rule-based.
///
/// # Errors
/// When a data file cannot be read or parsed.
pub fn run(data_dir: &Path, _model_dir: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let mut out = String::new();

    let golden = std::fs::read_to_string(data_dir.join("sbd/golden_rules_en.jsonl"))?;
    let mut passed = 0;
    let mut total = 0;
    let mut failures = String::new();
    for line in golden.lines() {
        let case: Golden = serde_json::from_str(line)?;
        let got: Vec<&str> = sentences::split(&case.text)
            .iter()
            .map(|s| &case.text[s.start..s.end])
            .collect();
        total += 1;
        if got == case.sentences {
            passed += 1;
        } else {
            writeln!(
                failures,
                "  FAIL {} {}\n    gold {:?}\n    got  {:?}",
                case.id, case.rule, case.sentences, got
            )?;
        }
    }

    let ewt = std::fs::read_to_string(data_dir.join("sbd/ewt_test.jsonl"))?;
    let (mut all, mut inside) = (Counts::default(), Counts::default());
    let mut docs = 0;
    for line in ewt.lines() {
        let doc: Ewt = serde_json::from_str(line)?;
        docs += 1;
        let gold: BTreeSet<usize> = doc.sent_starts.iter().copied().filter(|&c| c > 0).collect();
        let got = predicted_starts(&doc.text);
        all.add(&gold, &got);
        let breaks: BTreeSet<usize> = doc.par_breaks.iter().copied().collect();
        let gold_in: BTreeSet<usize> = gold.difference(&breaks).copied().collect();
        let got_in: BTreeSet<usize> = got.difference(&breaks).copied().collect();
        inside.add(&gold_in, &got_in);
    }

    // The dev sentences (UNER's copy of EWT dev), joined per document with one space: there
    // are no paragraph breaks, so every boundary is an inside one. Rules are tuned here.
    let dev_text = std::fs::read_to_string(data_dir.join("ner/uner_ewt/en_ewt-ud-dev.jsonl"))?;
    let mut dev_docs: Vec<(String, Vec<String>)> = Vec::new();
    for line in dev_text.lines() {
        let s: DevSentence = serde_json::from_str(line)?;
        match dev_docs.last_mut() {
            Some((id, sents)) if *id == s.doc_id => sents.push(s.text),
            _ => dev_docs.push((s.doc_id, vec![s.text])),
        }
    }
    let mut dev = Counts::default();
    for (_, sents) in &dev_docs {
        let text = sents.join(" ");
        let mut gold = BTreeSet::new();
        let mut at = 0;
        for s in sents {
            if at > 0 {
                gold.insert(at);
            }
            at += s.chars().count() + 1;
        }
        let got: BTreeSet<usize> = sentences::split(&text)
            .iter()
            .map(|s| text[..s.start].chars().count())
            .filter(|&c| c > 0)
            .collect();
        dev.add(&gold, &got);
    }

    writeln!(
        out,
        "Sentence segmentation (lede::pipeline::segment::sentences)"
    )?;
    writeln!(out, "English Golden Rules: {passed}/{total} exact")?;
    out.push_str(&failures);
    let (p, r, f) = all.prf();
    writeln!(
        out,
        "UD EWT test ({docs} docs), all boundaries: P {p:.3} R {r:.3} F1 {f:.3} \
         (tp {} fp {} fn {})",
        all.tp, all.fp, all.fn_
    )?;
    let (p, r, f) = inside.prf();
    writeln!(
        out,
        "UD EWT test, boundaries inside paragraphs: P {p:.3} R {r:.3} F1 {f:.3} \
         (tp {} fp {} fn {})",
        inside.tp, inside.fp, inside.fn_
    )?;
    let (p, r, f) = dev.prf();
    writeln!(
        out,
        "UD EWT dev ({} docs, sentences joined, no paragraph breaks): P {p:.3} R {r:.3} \
         F1 {f:.3} (tp {} fp {} fn {})",
        dev_docs.len(),
        dev.tp,
        dev.fp,
        dev.fn_
    )?;
    writeln!(
        out,
        "Baselines, same protocol (scripts/eval-sbd-baselines.py), F1:"
    )?;
    for (name, golden, all, inside, dev) in BASELINES {
        writeln!(
            out,
            "  {name:<16} golden {golden}/48  test all {all:.3}  test inside {inside:.3}  dev {dev:.3}"
        )?;
    }
    Ok(out)
}

/// Predicted sentence starts (code points, excluding 0) of an EWT text, each `\n`-separated
/// paragraph segmented on its own.
fn predicted_starts(text: &str) -> BTreeSet<usize> {
    let mut starts = BTreeSet::new();
    let mut byte = 0;
    let mut chars = 0;
    for para in text.split('\n') {
        for s in sentences::split(para) {
            let at = chars + para[..s.start].chars().count();
            if at > 0 {
                starts.insert(at);
            }
        }
        byte += para.len() + 1;
        chars += para.chars().count() + 1;
    }
    debug_assert!(byte >= text.len());
    starts
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data");

    #[test]
    fn report_has_golden_and_ewt_figures() {
        let report = super::run(Path::new(DATA), Path::new(DATA)).expect("eval runs");
        println!("{report}");
        assert!(
            report.contains("English Golden Rules: 48/48 exact"),
            "{report}"
        );
        let f1: f64 = report
            .lines()
            .find(|l| l.contains("all boundaries: P"))
            .and_then(|l| l.split("F1 ").nth(1))
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .expect("F1 in report");
        // Above both anchors: pySBD 0.896, spaCy 0.916.
        assert!(f1 > 0.916, "EWT F1 {f1} not above spaCy's 0.916");
    }
}
