//! `lede eval html`: main-text extraction quality and speed of the clean stage on the ScrapingHub
//! article-extraction benchmark pages (`shared/data/html`, DEV split).
//!
//! The score is the benchmark's own (its `evaluate.py`, described in `html/README.md`): texts
//! become sequences of Unicode word tokens, every run of 4 words is a shingle, per-page
//! precision/recall come from the shingle multisets, corpus precision and recall are the means
//! over pages, and F1 is the harmonic mean of those two means.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::pipeline::clean::Clean;
use crate::pipeline::{Document, Stage, StageOptions};

/// Reference figures on the same 40 DEV pages (from `html/README.md`, upstream `evaluate.py`).
const PEERS: &[(&str, f64, f64, f64)] = &[
    (
        "rs_trafilatura (git 9261e08, upstream)",
        0.979,
        0.963,
        0.995,
    ),
    ("go_trafilatura ae7ea06", 0.969, 0.950, 0.989),
    ("dom_smoothie 0.19.0 Formatted", 0.967, 0.940, 0.995),
    ("Readability.js 0.6.0", 0.965, 0.940, 0.993),
    ("rs_trafilatura 0.2.2 (crates.io)", 0.963, 0.933, 0.995),
    ("trafilatura 2.0.0 (Python)", 0.955, 0.937, 0.975),
    ("html-text 0.7.0 (whole page)", 0.676, 0.512, 0.996),
];

/// One page's shingle counts against its ground truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageScore {
    /// Per-page precision; `None` when the prediction has no shingles (left out of the mean).
    pub precision: Option<f64>,
    /// Per-page recall.
    pub recall: f64,
}

/// The benchmark's word tokens: maximal runs of Unicode word characters (`\w+`).
fn words(text: &str) -> Vec<&str> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.split(|c: char| !is_word(c))
        .filter(|w| !w.is_empty())
        .collect()
}

/// The multiset of 4-word shingles; a text of 1–3 words gives one shorter shingle.
fn shingles(text: &str) -> HashMap<Vec<&str>, usize> {
    let words = words(text);
    let mut counts = HashMap::new();
    if words.is_empty() {
        return counts;
    }
    if words.len() < 4 {
        counts.insert(words, 1);
        return counts;
    }
    for window in words.windows(4) {
        *counts.entry(window.to_vec()).or_insert(0) += 1;
    }
    counts
}

/// Scores one prediction against its reference with the benchmark's shingle metric.
pub fn score_page(predicted: &str, truth: &str) -> PageScore {
    let pred = shingles(predicted);
    let gold = shingles(truth);
    let pred_total: usize = pred.values().sum();
    let gold_total: usize = gold.values().sum();
    let tp: usize = pred
        .iter()
        .map(|(k, n)| (*n).min(gold.get(k).copied().unwrap_or(0)))
        .sum();
    let fp = pred_total - tp;
    let fn_ = gold_total - tp;
    if fp == 0 && fn_ == 0 {
        return PageScore {
            precision: Some(1.0),
            recall: 1.0,
        };
    }
    let ratio = |a: usize, b: usize| {
        if a + b == 0 {
            0.0
        } else {
            a as f64 / (a + b) as f64
        }
    };
    PageScore {
        precision: (pred_total > 0).then(|| ratio(tp, fp)),
        recall: ratio(tp, fn_),
    }
}

/// Corpus precision, recall and F1 (harmonic mean of the two means).
pub fn corpus_scores(pages: &[PageScore]) -> (f64, f64, f64) {
    let precisions: Vec<f64> = pages.iter().filter_map(|p| p.precision).collect();
    let precision = if precisions.is_empty() {
        0.0
    } else {
        precisions.iter().sum::<f64>() / precisions.len() as f64
    };
    let recall = if pages.is_empty() {
        0.0
    } else {
        pages.iter().map(|p| p.recall).sum::<f64>() / pages.len() as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    (precision, recall, f1)
}

/// A benchmark page: key, decompressed HTML, ground-truth body and URL.
#[derive(Debug, Clone)]
pub struct Page {
    /// The benchmark's item id.
    pub key: String,
    /// The page, decoded as UTF-8 (lossily, as the README says all pages are UTF-8).
    pub html: String,
    /// The annotated main text.
    pub truth: String,
    /// Where the page was fetched from.
    pub url: String,
}

/// The folder that holds `ground-truth.json`: `data_dir/html` or `data_dir` itself.
fn html_dir(data_dir: &Path) -> PathBuf {
    let nested = data_dir.join("html");
    if nested.join("ground-truth.json").is_file() {
        nested
    } else {
        data_dir.to_path_buf()
    }
}

/// Loads every page with ground truth, in key order.
///
/// # Errors
/// When `ground-truth.json` or a page cannot be read or parsed.
pub fn load_pages(data_dir: &Path) -> Result<Vec<Page>, Box<dyn std::error::Error>> {
    let dir = html_dir(data_dir);
    let truth: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir.join("ground-truth.json"))?)?;
    let mut pages = Vec::with_capacity(truth.len());
    for (key, item) in truth {
        let mut bytes = Vec::new();
        let file = std::fs::File::open(dir.join(format!("{key}.html.gz")))?;
        flate2::read::GzDecoder::new(file).read_to_end(&mut bytes)?;
        pages.push(Page {
            html: String::from_utf8_lossy(&bytes).into_owned(),
            truth: item["articleBody"].as_str().unwrap_or_default().to_owned(),
            url: item["url"].as_str().unwrap_or_default().to_owned(),
            key,
        });
    }
    pages.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(pages)
}

/// Runs the clean stage over every page and returns the report: P/R/F1, ms/page, the peers'
/// figures, and the ten weakest pages. `model_dir` is unused (the clean stage has no model).
///
/// # Errors
/// When the pages cannot be loaded.
pub fn run(data_dir: &Path, _model_dir: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let pages = load_pages(data_dir)?;
    let stage = Clean::new(&StageOptions::default());
    let mut scores = Vec::with_capacity(pages.len());
    let mut failures = 0usize;
    let started = Instant::now();
    let mut outputs = Vec::with_capacity(pages.len());
    let mut removed: std::collections::BTreeMap<&'static str, usize> = Default::default();
    for page in &pages {
        let mut doc = Document {
            html: Some(page.html.clone()),
            url: Some(page.url.clone()),
            ..Document::default()
        };
        if stage.process(&mut doc).is_err() {
            failures += 1;
        }
        for r in &doc.removed {
            *removed.entry(r.kind).or_insert(0) += 1;
        }
        outputs.push(doc.text);
    }
    let elapsed = started.elapsed();
    for (page, text) in pages.iter().zip(&outputs) {
        scores.push(score_page(text, &page.truth));
    }
    let (p, r, f1) = corpus_scores(&scores);
    let ms = elapsed.as_secs_f64() * 1000.0 / pages.len().max(1) as f64;
    let mut out = String::new();
    writeln!(
        out,
        "clean stage on {} ScrapingHub DEV pages ({}; ms/page includes lang detection and cleaning)",
        pages.len(),
        if cfg!(debug_assertions) {
            "DEBUG build: timings are not representative"
        } else {
            "release build"
        }
    )?;
    writeln!(
        out,
        "{:<42} {:>6} {:>6} {:>6} {:>9}",
        "system", "F1", "P", "R", "ms/page"
    )?;
    writeln!(
        out,
        "{:<42} {f1:>6.3} {p:>6.3} {r:>6.3} {ms:>9.2}",
        "lede clean"
    )?;
    for (name, f1, p, r) in PEERS {
        writeln!(out, "{name:<42} {f1:>6.3} {p:>6.3} {r:>6.3} {:>9}", "-")?;
    }
    writeln!(out, "pages with an extraction error: {failures}")?;
    let kinds: Vec<String> = removed.iter().map(|(k, n)| format!("{k} {n}")).collect();
    writeln!(
        out,
        "lines removed after extraction, by kind: {}",
        kinds.join(", ")
    )?;
    let mut order: Vec<usize> = (0..pages.len()).collect();
    let f = |s: &PageScore| {
        let p = s.precision.unwrap_or(0.0);
        if p + s.recall == 0.0 {
            0.0
        } else {
            2.0 * p * s.recall / (p + s.recall)
        }
    };
    order.sort_by(|&a, &b| f(&scores[a]).total_cmp(&f(&scores[b])));
    writeln!(out, "weakest pages (key prefix, P, R):")?;
    for &i in order.iter().take(10) {
        let s = scores[i];
        writeln!(
            out,
            "  {} {:.3} {:.3}",
            &pages[i].key[..12.min(pages[i].key.len())],
            s.precision.unwrap_or(0.0),
            s.recall
        )?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_texts_score_one() {
        let s = score_page("one two three four five", "one, two. three four five!");
        assert_eq!(
            s,
            PageScore {
                precision: Some(1.0),
                recall: 1.0
            }
        );
    }

    #[test]
    fn extra_words_cost_precision_and_missing_words_cost_recall() {
        let truth = "a b c d e f g h";
        let s = score_page("a b c d e f g h x y z w", truth);
        assert_eq!(s.recall, 1.0);
        assert!((s.precision.unwrap() - 5.0 / 9.0).abs() < 1e-12);
        let s = score_page("a b c d", truth);
        assert_eq!(s.precision, Some(1.0));
        assert!((s.recall - 1.0 / 5.0).abs() < 1e-12);
    }

    #[test]
    fn empty_prediction_has_no_precision_and_zero_recall() {
        let s = score_page("", "some words here");
        assert_eq!(
            s,
            PageScore {
                precision: None,
                recall: 0.0
            }
        );
        let (p, r, f1) = corpus_scores(&[
            s,
            PageScore {
                precision: Some(0.5),
                recall: 1.0,
            },
        ]);
        assert_eq!((p, r), (0.5, 0.5));
        assert!((f1 - 0.5).abs() < 1e-12);
    }

    #[test]
    fn short_texts_are_one_shingle() {
        assert_eq!(shingles("a b").len(), 1);
        assert!(shingles("  ,. ").is_empty());
    }

    /// Prints the report; run by hand with `cargo test --release eval_html_report -- --ignored --nocapture`.
    #[test]
    #[ignore = "prints the DEV extraction report; slow in debug builds"]
    fn eval_html_report() {
        let data = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"));
        let report = run(data, Path::new("")).unwrap();
        println!("{report}");
    }
}
