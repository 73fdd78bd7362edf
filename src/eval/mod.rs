//! Evaluation reports run by `lede eval <topic>`: each topic's `run(data_dir, model_dir)`
//! returns the printed report.

pub mod entities;
pub mod entrules;
pub mod html;
pub mod quotes;
pub mod sentences;
pub mod tokenizer;

use std::path::Path;

/// Every `parity/*.jsonl` under `data_dir`, sorted (the spaCy parity files of the shared data).
///
/// # Errors
/// When the folder cannot be read or holds no parity file.
pub fn parity_files(
    data_dir: &Path,
) -> Result<Vec<std::path::PathBuf>, Box<dyn std::error::Error>> {
    let parity = data_dir.join("parity");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&parity)
        .map_err(|e| format!("{}: {e}", parity.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no parity/*.jsonl under {}", data_dir.display()).into());
    }
    Ok(files)
}

/// The report function every topic provides.
type Report = fn(&Path, &Path) -> Result<String, Box<dyn std::error::Error>>;

/// Every topic `lede eval` knows, with its report.
pub const TOPICS: &[(&str, Report)] = &[
    ("entities", entities::run),
    ("entrules", entrules::run),
    ("entity-sentences", entrules::sentence_bounds_report),
    ("html", html::run),
    ("quotes", quotes::run),
    ("sentences", sentences::run),
    ("tokenizer", tokenizer::run),
];

/// Runs the report of `topic` over `data_dir` (the shared data folder) and `model_dir`.
///
/// # Errors
/// An unknown topic, or whatever the report could not read or compute.
pub fn run(
    topic: &str,
    data_dir: &Path,
    model_dir: &Path,
) -> Result<String, Box<dyn std::error::Error>> {
    let Some((_, report)) = TOPICS.iter().find(|(name, _)| *name == topic) else {
        let names: Vec<&str> = TOPICS.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "unknown eval topic {topic:?}; the topics are: {}",
            names.join(", ")
        )
        .into());
    };
    report(data_dir, model_dir)
}
