//! `lede eval tokenizer`: token agreement with spaCy on parity files.
//!
//! Reads every `parity/*.jsonl` under the data directory (records `{"id", "text", "tokens":
//! [[start, end, ws], …]}` with code-point offsets, as `shared/data/parity/README.md` defines
//! them), tokenizes each text and reports, per file, the tokens whose span and `ws` flag equal
//! spaCy's, the identical documents, and the first differing tokens with their context.

use std::collections::HashSet;
use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::model::ModelDir;
use crate::pipeline::segment::tokenizer::Tokenizer;

/// Differing tokens listed per file in the report.
const EXAMPLES_PER_FILE: usize = 20;

/// Agreement on one parity file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Documents in the file.
    pub docs: usize,
    /// Documents whose every token (span and `ws`) equals spaCy's.
    pub identical_docs: usize,
    /// spaCy's tokens.
    pub gold_tokens: usize,
    /// Our tokens that equal one of spaCy's (same span, same `ws`).
    pub agreeing_tokens: usize,
    /// The first differing spaCy tokens: `doc id: "token" (ws) vs ours [..] in "context"`.
    pub examples: Vec<String>,
}

impl FileReport {
    /// Agreeing tokens over spaCy's tokens, 0..=1 (1 for an empty file).
    pub fn agreement(&self) -> f64 {
        if self.gold_tokens == 0 {
            1.0
        } else {
            self.agreeing_tokens as f64 / self.gold_tokens as f64
        }
    }
}

impl fmt::Display for FileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        writeln!(
            f,
            "{name}: tokens {}/{} agree ({:.4}%), docs identical {}/{}",
            self.agreeing_tokens,
            self.gold_tokens,
            100.0 * self.agreement(),
            self.identical_docs,
            self.docs
        )?;
        for example in &self.examples {
            writeln!(f, "  {example}")?;
        }
        Ok(())
    }
}

/// Compares the tokenizer with one parity file, keeping up to `max_examples` differences.
///
/// # Errors
/// When the file cannot be read or a record is not a parity record.
pub fn compare_file(
    tokenizer: &Tokenizer,
    path: &Path,
    max_examples: usize,
) -> Result<FileReport, Box<dyn Error>> {
    let data = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut report = FileReport {
        path: path.to_path_buf(),
        docs: 0,
        identical_docs: 0,
        gold_tokens: 0,
        agreeing_tokens: 0,
        examples: Vec::new(),
    };
    for (n, line) in data.lines().enumerate() {
        let record: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        let bad = || format!("{}:{}: not a parity record", path.display(), n + 1);
        let id = record["id"].as_str().ok_or_else(bad)?;
        let text = record["text"].as_str().ok_or_else(bad)?;
        let mut byte_at: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        byte_at.push(text.len());
        let to_byte = |v: &serde_json::Value| -> Result<usize, String> {
            let cp = v.as_u64().ok_or_else(bad)?;
            usize::try_from(cp)
                .ok()
                .and_then(|cp| byte_at.get(cp).copied())
                .ok_or_else(bad)
        };
        let mut gold = Vec::new();
        for t in record["tokens"].as_array().ok_or_else(bad)? {
            gold.push((
                to_byte(&t[0])?,
                to_byte(&t[1])?,
                t[2].as_bool().ok_or_else(bad)?,
            ));
        }
        let ours: Vec<(usize, usize, bool)> = tokenizer
            .tokenize(text)
            .iter()
            .map(|t| (t.span.start, t.span.end, t.ws))
            .collect();
        report.docs += 1;
        report.gold_tokens += gold.len();
        let gold_set: HashSet<_> = gold.iter().collect();
        report.agreeing_tokens += ours.iter().filter(|t| gold_set.contains(t)).count();
        if ours == gold {
            report.identical_docs += 1;
            continue;
        }
        let our_set: HashSet<_> = ours.iter().collect();
        for g in gold.iter().filter(|g| !our_set.contains(g)) {
            if report.examples.len() >= max_examples {
                break;
            }
            let overlapping: Vec<&str> = ours
                .iter()
                .filter(|o| o.1 > g.0 && o.0 < g.1)
                .map(|o| &text[o.0..o.1])
                .collect();
            report.examples.push(format!(
                "{id}: spaCy {:?} (ws={}) vs ours {overlapping:?} in …{:?}…",
                &text[g.0..g.1],
                g.2,
                context(text, g.0, g.1)
            ));
        }
    }
    Ok(report)
}

/// Up to 30 bytes either side of `start..end`, on char boundaries.
fn context(text: &str, start: usize, end: usize) -> &str {
    let mut s = start.saturating_sub(30);
    while !text.is_char_boundary(s) {
        s -= 1;
    }
    let mut e = (end + 30).min(text.len());
    while !text.is_char_boundary(e) {
        e += 1;
    }
    &text[s..e]
}

/// Runs the comparison on every `parity/*.jsonl` under `data_dir` and returns the report.
///
/// # Errors
/// When the model or a parity file cannot be read, or there is no parity file.
pub fn run(data_dir: &Path, model_dir: &Path) -> Result<String, Box<dyn Error>> {
    let model = ModelDir::open(model_dir)?;
    let tokenizer = Tokenizer::from_model_dir(&model)?;
    let files = super::parity_files(data_dir)?;
    let mut out = format!("tokenizer parity with spaCy ({})\n", model.id());
    let (mut agree, mut total) = (0, 0);
    for file in &files {
        let report = compare_file(&tokenizer, file, EXAMPLES_PER_FILE)?;
        agree += report.agreeing_tokens;
        total += report.gold_tokens;
        out.push_str(&report.to_string());
    }
    out.push_str(&format!(
        "all: tokens {agree}/{total} agree ({:.4}%)\n",
        100.0 * agree as f64 / total.max(1) as f64
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data");

    #[test]
    fn reports_every_parity_file() {
        let model = ModelDir::from_env_or_default().unwrap_or_else(|e| panic!("{e}"));
        let report = run(Path::new(DATA_DIR), model.root()).expect("eval");
        for file in ["news_dev.jsonl", "seed.jsonl", "uner_dev.jsonl"] {
            assert!(report.contains(file), "{report}");
        }
        assert!(report.contains("all: tokens"), "{report}");
    }

    #[test]
    fn counts_a_difference() {
        let model = ModelDir::from_env_or_default().unwrap_or_else(|e| panic!("{e}"));
        let tokenizer = Tokenizer::from_model_dir(&model).expect("tokenizer");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.jsonl");
        // spaCy: "don't" → do + n't; this record claims one token.
        std::fs::write(
            &path,
            "{\"id\": \"a\", \"text\": \"I don't\", \"tokens\": [[0, 1, true], [2, 7, false]]}\n",
        )
        .expect("write");
        let report = compare_file(&tokenizer, &path, 5).expect("compare");
        assert_eq!((report.docs, report.identical_docs), (1, 0));
        assert_eq!((report.agreeing_tokens, report.gold_tokens), (1, 2));
        assert_eq!(report.examples.len(), 1);
        assert!(report.examples[0].contains("[\"do\", \"n't\"]"), "{report}");
    }
}
