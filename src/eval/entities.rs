//! `lede eval entities`: entity parity with spaCy en_core_web_sm 3.8 (NER-only) on
//! `parity/*.jsonl` — each text tokenized by lede's tokenizer, then run through the NER, and the
//! entities compared exactly (span and label) with spaCy's.

use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;

use crate::model::ModelDir;
use crate::pipeline::entities::EntityModel;
use crate::pipeline::segment::tokenizer::Tokenizer;

/// Mismatches printed per file (all are counted).
const EXAMPLES_PER_FILE: usize = 20;

/// `(start, end, label)` with byte offsets.
type Ent = (usize, usize, String);

/// Runs the entity parity report over every `parity/*.jsonl` under `data_dir`.
///
/// # Errors
/// When the model does not load, or a parity file is missing or malformed.
pub fn run(data_dir: &Path, model_dir: &Path) -> Result<String, Box<dyn Error>> {
    let model_dir = ModelDir::open(model_dir)?;
    let tokenizer = Tokenizer::from_model_dir(&model_dir)?;
    let model = EntityModel::from_model_dir(&model_dir)?;
    let files = super::parity_files(data_dir)?;
    let mut out = format!("entity parity with spaCy NER-only ({})\n", model.id());
    let (mut all_agree, mut all_theirs, mut all_ours) = (0, 0, 0);
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let name = file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let (mut docs, mut identical, mut token_diffs) = (0, 0, 0);
        let (mut agree, mut theirs, mut ours) = (0, 0, 0);
        let mut examples = String::new();
        let mut shown = 0;
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let id = v["id"].as_str().unwrap_or("?");
            let doc_text = v["text"].as_str().ok_or("record without text")?;
            let at: Vec<usize> = doc_text
                .char_indices()
                .map(|(b, _)| b)
                .chain(std::iter::once(doc_text.len()))
                .collect();
            let byte = |x: &serde_json::Value| -> Result<usize, Box<dyn Error>> {
                let cp = x.as_u64().ok_or("offset is not an integer")?;
                Ok(*at.get(usize::try_from(cp)?).ok_or("offset past the text")?)
            };
            let gold: Vec<Ent> = v["ents"]
                .as_array()
                .ok_or("record without ents")?
                .iter()
                .map(|e| {
                    Ok((
                        byte(&e[0])?,
                        byte(&e[1])?,
                        e[2].as_str().ok_or("label")?.to_owned(),
                    ))
                })
                .collect::<Result<_, Box<dyn Error>>>()?;
            let tokens = tokenizer.tokenize(doc_text);
            let gold_tokens: Vec<(usize, usize, bool)> = v["tokens"]
                .as_array()
                .ok_or("record without tokens")?
                .iter()
                .map(|t| Ok((byte(&t[0])?, byte(&t[1])?, t[2].as_bool().unwrap_or(false))))
                .collect::<Result<_, Box<dyn Error>>>()?;
            let same_tokens = gold_tokens.len() == tokens.len()
                && gold_tokens
                    .iter()
                    .zip(&tokens)
                    .all(|(g, t)| *g == (t.span.start, t.span.end, t.ws));
            if !same_tokens {
                token_diffs += 1;
            }
            let got: Vec<Ent> = model
                .recognize(doc_text, &tokens)
                .iter()
                .map(|e| {
                    (
                        tokens[e.start].span.start,
                        tokens[e.end - 1].span.end,
                        e.label.as_str().to_owned(),
                    )
                })
                .collect();
            docs += 1;
            agree += got.iter().filter(|e| gold.contains(e)).count();
            theirs += gold.len();
            ours += got.len();
            if got == gold {
                identical += 1;
                continue;
            }
            let missing = gold
                .iter()
                .filter(|e| !got.contains(e))
                .map(|e| ("missing", e));
            let extra = got
                .iter()
                .filter(|e| !gold.contains(e))
                .map(|e| ("extra", e));
            for (kind, e) in missing.chain(extra) {
                if shown < EXAMPLES_PER_FILE {
                    let _ = writeln!(examples, "  {id}: {kind} {} {:?}", e.2, &doc_text[e.0..e.1]);
                }
                shown += 1;
            }
        }
        let _ = writeln!(
            out,
            "{name}: docs {identical}/{docs} identical, entities spaCy {theirs} lede {ours} \
             agree {agree} (F1 {:.5}); docs whose tokens differ from spaCy's: {token_diffs}",
            f1(agree, theirs, ours)
        );
        out.push_str(&examples);
        all_agree += agree;
        all_theirs += theirs;
        all_ours += ours;
    }
    let _ = writeln!(
        out,
        "all: entities spaCy {all_theirs} lede {all_ours} agree {all_agree} (F1 {:.5})",
        f1(all_agree, all_theirs, all_ours)
    );
    Ok(out)
}

fn f1(agree: usize, theirs: usize, ours: usize) -> f64 {
    2.0 * agree as f64 / (theirs + ours).max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_report_is_exact() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("parity")).unwrap();
        std::fs::copy(
            root.join("../shared/data/parity/seed.jsonl"),
            tmp.path().join("parity/seed.jsonl"),
        )
        .unwrap();
        let model = ModelDir::from_env_or_default()
            .unwrap_or_else(|e| panic!("{e}; run scripts/fetch-model.sh"));
        let report = run(tmp.path(), model.root()).unwrap();
        assert!(
            report.contains(
                "seed.jsonl: docs 1/1 identical, entities spaCy 71 lede 71 agree 71 (F1 1.00000)"
            ),
            "{report}"
        );
        assert!(run(&tmp.path().join("nowhere"), model.root()).is_err());
    }
}
