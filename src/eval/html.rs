//! `lede eval html`: main-text extraction quality and speed of the clean stage on two page sets,
//! `shared/data/html-extra` (846 pages, three sources; the main development set, split by site
//! into a tuning part and a held-out part, see [`held_out`]) and `shared/data/html` (the 40
//! ScrapingHub benchmark DEV pages), each beside trafilatura's figures on the same pages.
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

/// Reference figures on the 40 ScrapingHub DEV pages (from `html/README.md`, upstream `evaluate.py`).
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
    /// The reference's source (`scrapinghub`, or html-extra's `readability`, `newspaper`, `wcxb`).
    pub source: String,
    /// The page's registrable domain (html-extra's `site`; empty when unknown).
    pub site: String,
    /// Whether the page is a news page (html-extra's `kind` = `news`; every ScrapingHub page).
    pub news: bool,
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

/// Reads `dir/ground-truth.json` and every `dir/<key>.html.gz`, in key order.
fn load_dir(dir: &Path) -> Result<Vec<Page>, Box<dyn std::error::Error>> {
    let truth: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir.join("ground-truth.json"))?)?;
    let info: serde_json::Map<String, serde_json::Value> =
        match std::fs::read(dir.join("pages.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes)?,
            Err(_) => serde_json::Map::new(),
        };
    let mut pages = Vec::with_capacity(truth.len());
    for (key, item) in truth {
        let mut bytes = Vec::new();
        let file = std::fs::File::open(dir.join(format!("{key}.html.gz")))?;
        flate2::read::GzDecoder::new(file).read_to_end(&mut bytes)?;
        let about = info.get(&key);
        let field = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
        pages.push(Page {
            html: String::from_utf8_lossy(&bytes).into_owned(),
            truth: item["articleBody"].as_str().unwrap_or_default().to_owned(),
            url: item["url"].as_str().unwrap_or_default().to_owned(),
            source: field(item.get("source")).unwrap_or_else(|| "scrapinghub".to_owned()),
            site: field(about.and_then(|a| a.get("site"))).unwrap_or_default(),
            news: about.is_none_or(|a| a.get("kind").and_then(|k| k.as_str()) == Some("news")),
            key,
        });
    }
    pages.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(pages)
}

/// Loads the 40 ScrapingHub DEV pages (`data_dir/html`), in key order.
///
/// # Errors
/// When `ground-truth.json` or a page cannot be read or parsed.
pub fn load_pages(data_dir: &Path) -> Result<Vec<Page>, Box<dyn std::error::Error>> {
    load_dir(&html_dir(data_dir))
}

/// Loads the 846 html-extra pages (`data_dir/html-extra`), in key order.
///
/// # Errors
/// When `ground-truth.json`, `pages.json` or a page cannot be read or parsed.
pub fn load_extra(data_dir: &Path) -> Result<Vec<Page>, Box<dyn std::error::Error>> {
    load_dir(&data_dir.join("html-extra"))
}

/// Percent of html-extra's sites held out from tuning.
pub const HELD_OUT_PERCENT: u64 = 30;

/// The fixed split of html-extra: whether `page` is in the held-out part nobody tunes on.
///
/// By site, so no rule learnt on one page of a site is scored on another page of it: the
/// FNV-1a 64 hash of the site (the page key when the site is unknown) modulo 100, below
/// [`HELD_OUT_PERCENT`]. Fixed before any tuning; never change it to move a page.
pub fn held_out(page: &Page) -> bool {
    let name = if page.site.is_empty() {
        &page.key
    } else {
        &page.site
    };
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % 100 < HELD_OUT_PERCENT
}

/// Where `lede eval html` looks for trafilatura's texts (`scripts/trafilatura-html.sh` writes
/// them); `LEDE_EVAL_PEER` overrides it.
const PEER_FILE: &str = "target/trafilatura-html.jsonl";

/// trafilatura's text per (set, key), from the script's JSONL; empty when the file is absent.
fn load_peer() -> HashMap<(String, String), String> {
    let path = std::env::var("LEDE_EVAL_PEER").unwrap_or_else(|_| PEER_FILE.to_owned());
    let Ok(file) = std::fs::read_to_string(&path) else {
        return HashMap::new();
    };
    file.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|v| {
            Some((
                (v["set"].as_str()?.to_owned(), v["id"].as_str()?.to_owned()),
                v["text"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// Per-page F1 (0 when the page has no precision).
fn page_f1(s: &PageScore) -> f64 {
    let p = s.precision.unwrap_or(0.0);
    if p + s.recall == 0.0 {
        0.0
    } else {
        2.0 * p * s.recall / (p + s.recall)
    }
}

/// lede's outcome on one page.
struct Outcome {
    score: PageScore,
    rejected: Option<String>,
    peer: Option<PageScore>,
}

/// Runs the clean stage over `pages`; returns the outcomes and the ms/page.
fn run_set(
    stage: &Clean,
    pages: &[Page],
    set: &str,
    peer: &HashMap<(String, String), String>,
) -> (
    Vec<Outcome>,
    f64,
    std::collections::BTreeMap<&'static str, usize>,
) {
    let mut outputs = Vec::with_capacity(pages.len());
    let mut removed: std::collections::BTreeMap<&'static str, usize> = Default::default();
    let started = Instant::now();
    for page in pages {
        let mut doc = Document {
            html: Some(page.html.clone()),
            url: Some(page.url.clone()),
            ..Document::default()
        };
        let rejected = stage.process(&mut doc).err().map(|e| e.to_string());
        for r in &doc.removed {
            *removed.entry(r.kind).or_insert(0) += 1;
        }
        outputs.push((doc.text, rejected));
    }
    let ms = started.elapsed().as_secs_f64() * 1000.0 / pages.len().max(1) as f64;
    let dump = std::env::var("LEDE_EVAL_DUMP").ok();
    let mut dump_lines = String::new();
    let outcomes = pages
        .iter()
        .zip(outputs)
        .map(|(page, (text, rejected))| {
            let score = score_page(&text, &page.truth);
            if dump.is_some() {
                let line = serde_json::json!({"set": set, "id": page.key, "f1": page_f1(&score), "text": text});
                dump_lines.push_str(&line.to_string());
                dump_lines.push('\n');
            }
            Outcome {
                score,
                rejected,
                peer: peer
                    .get(&(set.to_owned(), page.key.clone()))
                    .map(|t| score_page(t, &page.truth)),
            }
        })
        .collect();
    if let Some(path) = dump {
        let path = format!("{path}.{set}.jsonl");
        if let Err(e) = std::fs::write(&path, dump_lines) {
            tracing::warn!(path, error = %e, "Could not write the eval dump");
        }
    }
    (outcomes, ms, removed)
}

/// One report row: lede's F1/P/R on the pages `keep` selects, and the peer's beside it.
fn row(
    out: &mut String,
    name: &str,
    pages: &[Page],
    outcomes: &[Outcome],
    keep: impl Fn(&Page) -> bool,
) -> std::fmt::Result {
    let chosen: Vec<&Outcome> = pages
        .iter()
        .zip(outcomes)
        .filter(|(p, _)| keep(p))
        .map(|(_, o)| o)
        .collect();
    let ours: Vec<PageScore> = chosen.iter().map(|o| o.score).collect();
    let (p, r, f1) = corpus_scores(&ours);
    let theirs: Option<Vec<PageScore>> = chosen.iter().map(|o| o.peer).collect();
    let peer = match theirs.filter(|t| !t.is_empty()) {
        Some(t) => {
            let (tp, tr, tf) = corpus_scores(&t);
            let mark = if f1 >= tf { ">=" } else { "< " };
            format!("{mark} {tf:.3} {tp:.3} {tr:.3}")
        }
        None => "   (run scripts/trafilatura-html.sh)".to_owned(),
    };
    writeln!(
        out,
        "  {name:<26} {:>4}  {f1:.3} {p:.3} {r:.3}  {peer}",
        chosen.len()
    )
}

/// Runs the clean stage over both page sets and returns the report: per set, source, news
/// subset and html-extra split, lede's F1/P/R beside trafilatura's on the same pages; ms/page;
/// rejected pages; the pages lede scores below 0.5 where trafilatura does not; the weakest
/// pages. `model_dir` is unused (the clean stage has no model).
///
/// Set `LEDE_EVAL_DUMP=PREFIX` to also write every page's text and F1 to
/// `PREFIX.<set>.jsonl` (for looking at pages; the texts are the publishers').
///
/// # Errors
/// When the pages cannot be loaded.
pub fn run(data_dir: &Path, _model_dir: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let stage = Clean::new(&StageOptions::default());
    let peer = load_peer();
    let mut out = String::new();
    writeln!(
        out,
        "clean stage, ScrapingHub shingle metric ({}; ms/page includes lang detection and cleaning)",
        if cfg!(debug_assertions) {
            "DEBUG build: timings are not representative"
        } else {
            "release build"
        }
    )?;
    writeln!(
        out,
        "  {:<26} {:>4}  {:<17}  trafilatura 2.3 F1 P R (same pages, same metric)",
        "pages", "n", "lede F1 P R"
    )?;
    let sets: [(&str, Vec<Page>); 2] = [
        ("html-extra", load_extra(data_dir)?),
        ("html", load_pages(data_dir)?),
    ];
    let mut left_behind = Vec::new();
    for (set, pages) in &sets {
        let (outcomes, ms, removed) = run_set(&stage, pages, set, &peer);
        writeln!(out, "{set}: {ms:.2} ms/page")?;
        row(&mut out, "all", pages, &outcomes, |_| true)?;
        if *set == "html-extra" {
            row(
                &mut out,
                "tuning part (70% of sites)",
                pages,
                &outcomes,
                |p| !held_out(p),
            )?;
            row(&mut out, "held-out part (30%)", pages, &outcomes, held_out)?;
            for source in ["readability", "newspaper", "wcxb"] {
                row(&mut out, source, pages, &outcomes, |p| p.source == source)?;
            }
            row(&mut out, "news", pages, &outcomes, |p| p.news)?;
            row(&mut out, "news, held-out", pages, &outcomes, |p| {
                p.news && held_out(p)
            })?;
            for source in ["readability", "newspaper", "wcxb"] {
                let name = format!("news, {source}");
                row(&mut out, &name, pages, &outcomes, |p| {
                    p.news && p.source == source
                })?;
            }
        }
        let rejected: Vec<String> = pages
            .iter()
            .zip(&outcomes)
            .filter_map(|(p, o)| o.rejected.as_ref().map(|e| format!("{} ({e})", p.key)))
            .collect();
        writeln!(out, "  rejected pages: {}", rejected.len())?;
        for r in &rejected {
            writeln!(out, "    {r}")?;
        }
        let kinds: Vec<String> = removed.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(out, "  lines removed, by kind: {}", kinds.join(", "))?;
        let mut order: Vec<usize> = (0..pages.len()).collect();
        order.sort_by(|&a, &b| page_f1(&outcomes[a].score).total_cmp(&page_f1(&outcomes[b].score)));
        writeln!(out, "  weakest pages (key, F1, P, R, trafilatura F1):")?;
        for &i in order.iter().take(10) {
            let s = outcomes[i].score;
            writeln!(
                out,
                "    {:<40} {:.3} {:.3} {:.3} {}",
                pages[i].key,
                page_f1(&s),
                s.precision.unwrap_or(0.0),
                s.recall,
                outcomes[i]
                    .peer
                    .map_or("-".to_owned(), |p| format!("{:.3}", page_f1(&p)))
            )?;
        }
        for (page, o) in pages.iter().zip(&outcomes) {
            if let Some(theirs) = o
                .peer
                .filter(|t| page_f1(t) >= 0.5 && page_f1(&o.score) < 0.5)
            {
                left_behind.push(format!(
                    "    {set} {:<40} lede {:.3} trafilatura {:.3}{}",
                    page.key,
                    page_f1(&o.score),
                    page_f1(&theirs),
                    if held_out(page) && *set == "html-extra" {
                        " (held out)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    writeln!(
        out,
        "ScrapingHub DEV reference figures (html/README.md, upstream evaluate.py):"
    )?;
    for (name, f1, p, r) in PEERS {
        writeln!(out, "  {name:<40} {f1:.3} {p:.3} {r:.3}")?;
    }
    writeln!(
        out,
        "pages where lede < 0.5 and trafilatura >= 0.5: {}",
        left_behind.len()
    )?;
    for line in &left_behind {
        writeln!(out, "{line}")?;
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
