//! `lede eval quotes`: who said what, scored with `shared/data/quotes/score.py`'s metric
//! (ported here; `tests/quotes.rs` checks the port against `score.py` on the same input).
//!
//! The texts run through `segment,entities,quotes` (no `clean`, so offsets are those of the
//! gold text). Scored sets: every `quotes/*.jsonl` gold file under the data folder (the seed;
//! a withheld file dropped there is scored the same way), and lede's own case table
//! (`tests/fixtures/quotes_cases.jsonl`, built into the binary) split into the cases the stage
//! was tuned on (`t…`) and the held-out ones (`h…`). Direct quotes are scored as `score.py`
//! scores them; reported speech gets its own row with the same rules ([`reported_gold`]), and
//! the speakers' clusters their own column.

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::config::DEFAULT_MAX_BYTES;
use crate::pipeline::entities::py_isspace;
use crate::pipeline::{self, Pipeline, StageOptions};

/// lede's own cases, in the gold format.
pub const CASES: &str = include_str!("../../tests/fixtures/quotes_cases.jsonl");

/// The stages the evaluation runs: no `clean`, so the record's text is the gold text.
pub const STAGES: &[&str] = &["segment", "entities", "quotes"];

/// `score.py`'s quotation marks (what spans are trimmed of).
const QUOTES: &[char] = &[
    '"', '\'', '\u{201c}', '\u{201d}', '\u{2018}', '\u{2019}', '\u{201e}', '\u{201a}', '\u{201f}',
    '\u{201b}', '\u{ab}', '\u{bb}', '\u{2039}', '\u{203a}', '\u{2032}', '\u{2033}', '`',
];

/// `score.py`'s personal pronouns.
const PRONOUNS: &[&str] = &[
    "he", "she", "they", "i", "we", "you", "it", "his", "her", "their", "him", "them", "its",
    "our", "my", "me", "us",
];

/// A code-point range `(start, end)`, as `score.py` keeps spans.
type Range = (i64, i64);

fn trim(text: &[char], s: i64, e: i64) -> (i64, i64) {
    let n = text.len() as i64;
    let (mut s, mut e) = (s.max(0), e.min(n));
    let at = |i: i64| text[usize::try_from(i).unwrap_or(0)];
    while s < e && (py_isspace(at(s)) || QUOTES.contains(&at(s))) {
        s += 1;
    }
    while e > s && (py_isspace(at(e - 1)) || QUOTES.contains(&at(e - 1))) {
        e -= 1;
    }
    (s, e)
}

fn inter(a: (i64, i64), b: (i64, i64)) -> i64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0)
}

/// Python's `round(x, 4)` for the values the metric produces.
fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn prf(tp: usize, n_sys: usize, n_gold: usize) -> Value {
    let p = if n_sys > 0 {
        tp as f64 / n_sys as f64
    } else {
        0.0
    };
    let r = if n_gold > 0 {
        tp as f64 / n_gold as f64
    } else {
        0.0
    };
    let f = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    json!({"p": round4(p), "r": round4(r), "f1": round4(f), "tp": tp, "sys": n_sys, "gold": n_gold})
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f.trunc() as i64))
}

/// Scores `system` records against `gold` records exactly as `score.py GOLD SYSTEM` does
/// (piece units, every gold id scored), returning its JSON line as a value.
///
/// # Errors
/// A record's text differs from its gold text, or a gold record is malformed.
pub fn score(gold: &[Value], system: &[Value], gold_file: &str) -> Result<Value, Box<dyn Error>> {
    let sys: HashMap<&str, &Value> = system
        .iter()
        .filter_map(|r| Some((r["id"].as_str()?, r)))
        .collect();
    let mut ids: Vec<&str> = gold.iter().filter_map(|g| g["id"].as_str()).collect();
    ids.sort_unstable();
    let gold_of: HashMap<&str, &Value> = gold
        .iter()
        .filter_map(|g| Some((g["id"].as_str()?, g)))
        .collect();
    let (mut n_gold, mut n_sys, mut exact, mut matched, mut spk_ok, mut spk_null) =
        (0, 0, 0, 0, 0, 0);
    let (mut ignored, mut mismatch, mut bad_spans, mut no_source) = (0, 0, 0, 0);
    let mut by_src: HashMap<&str, (usize, usize)> = HashMap::new();
    for id in &ids {
        let g = gold_of[id];
        let text_str = g["text"].as_str().ok_or("gold record without text")?;
        if let Some(s) = sys.get(id)
            && let Some(t) = s.get("text").and_then(Value::as_str)
            && t != text_str
        {
            return Err(format!("record {id} has a text that differs from the gold text").into());
        }
        let text: Vec<char> = text_str.chars().collect();
        let slice = |s: i64, e: i64| -> String {
            let (s, e) = (s.clamp(0, text.len() as i64), e.clamp(0, text.len() as i64));
            text[usize::try_from(s).unwrap_or(0)..usize::try_from(e.max(s)).unwrap_or(0)]
                .iter()
                .collect()
        };
        let mut units: Vec<(Range, Vec<Range>, &str)> = Vec::new();
        let mut mixed: Vec<(i64, i64)> = Vec::new();
        for q in g["quotes"].as_array().ok_or("gold record without quotes")? {
            let src: Vec<(i64, i64)> = q["source_fragments"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|f| Some((int(&f[0])?, int(&f[1])?)))
                        .collect()
                })
                .unwrap_or_default();
            let cls = if src.is_empty() {
                "none"
            } else {
                let joined: Vec<String> = src.iter().map(|&(s, e)| slice(s, e)).collect();
                let joined = joined.join(" ").trim().to_lowercase();
                if PRONOUNS.contains(&joined.as_str()) {
                    "pronoun"
                } else {
                    "other"
                }
            };
            for pc in q["pieces"].as_array().ok_or("gold quote without pieces")? {
                let (s, e) = (
                    int(&pc["start"]).ok_or("piece start")?,
                    int(&pc["end"]).ok_or("piece end")?,
                );
                let t = trim(&text, s, e);
                if pc["direct"].as_bool() == Some(true) && t.1 > t.0 {
                    units.push((t, src.clone(), cls));
                } else if pc["quote_mark"].as_bool() == Some(true) {
                    mixed.push((s, e));
                }
            }
        }
        let mut sq: Vec<(Range, Option<Range>)> = Vec::new();
        let empty = Vec::new();
        let quotes = sys
            .get(id)
            .and_then(|s| s.get("quotes"))
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        for q in quotes {
            let (Some(s), Some(e)) = (int(&q["start"]), int(&q["end"])) else {
                bad_spans += 1;
                continue;
            };
            if !(0 <= s && s <= e && e <= text.len() as i64) {
                bad_spans += 1;
            }
            let sp = match q.get("speaker") {
                None | Some(Value::Null) => None,
                Some(spk) => match (int(&spk["start"]), int(&spk["end"])) {
                    (Some(a), Some(b)) => {
                        if let Some(t) = spk.get("text").and_then(Value::as_str)
                            && t != slice(a, b)
                        {
                            mismatch += 1;
                        }
                        Some((a, b))
                    }
                    _ => {
                        bad_spans += 1;
                        None
                    }
                },
            };
            sq.push((trim(&text, s, e), sp));
        }
        n_gold += units.len();
        n_sys += sq.len();
        no_source += units.iter().filter(|u| u.1.is_empty()).count();

        let mut pool: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
        for (k, (t, _)) in sq.iter().enumerate() {
            pool.entry(*t).or_default().push(k);
        }
        for u in &units {
            if let Some(list) = pool.get_mut(&u.0)
                && list.pop().is_some()
            {
                exact += 1;
            }
        }

        let mut pairs = Vec::new();
        for (gi, u) in units.iter().enumerate() {
            let glen = u.0.1 - u.0.0;
            for (si, (t, _)) in sq.iter().enumerate() {
                let ov = inter(u.0, *t);
                if ov > 0 && 2 * ov >= glen {
                    pairs.push((-ov, ((t.1 - t.0) - glen).abs(), gi, si));
                }
            }
        }
        pairs.sort_unstable();
        let (mut gm, mut sm): (HashMap<usize, usize>, HashMap<usize, usize>) = Default::default();
        for &(_, _, gi, si) in &pairs {
            if gm.contains_key(&gi) || sm.contains_key(&si) {
                continue;
            }
            gm.insert(gi, si);
            sm.insert(si, gi);
        }
        for (&gi, &si) in &gm {
            let (u, (_, sp)) = (&units[gi], &sq[si]);
            let ok = if u.1.is_empty() {
                sp.is_none()
            } else {
                sp.is_some_and(|sp| u.1.iter().any(|&f| inter(sp, f) > 0))
            };
            matched += 1;
            spk_ok += usize::from(ok);
            spk_null += usize::from(sp.is_none());
            let e = by_src.entry(u.2).or_default();
            e.0 += usize::from(ok);
            e.1 += 1;
        }
        for (si, (t, _)) in sq.iter().enumerate() {
            if sm.contains_key(&si) {
                continue;
            }
            let tl = t.1 - t.0;
            if tl > 0 && mixed.iter().any(|&m| 2 * inter(*t, m) >= tl) {
                ignored += 1;
            }
        }
    }
    let lenient = n_sys - ignored;
    let ratio = |a: usize, b: usize| {
        if b > 0 {
            round4(a as f64 / b as f64)
        } else {
            0.0
        }
    };
    let mut overlap = prf(matched, n_sys, n_gold);
    overlap["p_lenient"] = json!(ratio(matched, lenient));
    let mut e2e = prf(spk_ok, n_sys, n_gold);
    e2e["p_lenient"] = json!(ratio(spk_ok, lenient));
    let by: serde_json::Map<String, Value> = ["pronoun", "other", "none"]
        .iter()
        .map(|k| {
            let (ok, n) = by_src.get(k).copied().unwrap_or_default();
            let acc = if n > 0 {
                json!(round4(ok as f64 / n as f64))
            } else {
                Value::Null
            };
            ((*k).to_owned(), json!({"acc": acc, "n": n}))
        })
        .collect();
    Ok(json!({
        "gold_file": gold_file,
        "units": "piece",
        "articles": ids.len(),
        "articles_missing_in_system": ids.iter().filter(|i| !sys.contains_key(*i)).count(),
        "system_ids_not_in_gold": sys.keys().filter(|i| !gold_of.contains_key(*i)).count(),
        "gold_quotes": n_gold,
        "system_quotes": n_sys,
        "exact": prf(exact, n_sys, n_gold),
        "overlap": overlap,
        "speaker_acc": ratio(spk_ok, matched),
        "speaker_acc_by_gold_source": by,
        "e2e": e2e,
        "counts": {
            "matched_without_system_speaker": spk_null,
            "unmatched_system_in_gold_mixed": ignored,
            "gold_pieces_without_source": no_source,
            "speaker_text_mismatch": mismatch,
            "bad_spans": bad_spans,
        },
    }))
}

/// The evaluation pipeline (`segment,entities,quotes`).
///
/// # Errors
/// When the model cannot be loaded.
pub fn pipeline(model_dir: &Path) -> Result<Pipeline, Box<dyn Error>> {
    let names: Vec<String> = STAGES.iter().map(|s| (*s).to_owned()).collect();
    Ok(pipeline::build(
        &names,
        &StageOptions {
            model_dir: Some(model_dir.to_owned()),
            entity_rules: true,
            entity_sentence_bounds: crate::config::DEFAULT_ENTITY_SENTENCE_BOUNDS,
            ..StageOptions::default()
        },
    )?)
}

/// Runs each gold record's text through `pipeline`: the records (as JSON), and the ids of
/// articles the pipeline rejected.
pub fn records(pipeline: &Pipeline, gold: &[Value]) -> (Vec<Value>, Vec<String>) {
    let mut out = Vec::new();
    let mut failed = Vec::new();
    for g in gold {
        let id = g["id"].as_str().unwrap_or_default().to_owned();
        let payload = json!({"id": id, "text": g["text"]}).to_string();
        match crate::enrich::enrich_payload(pipeline, payload.as_bytes(), DEFAULT_MAX_BYTES) {
            Ok(enriched) => {
                out.push(serde_json::from_slice(&enriched.record).unwrap_or(Value::Null));
            }
            Err(_) => failed.push(id),
        }
    }
    (out, failed)
}

/// The same records with only their direct quotes: what `score.py` should read (it counts
/// every quote of a record, and reported speech is not what it scores).
pub fn direct_only(records: &[Value]) -> Vec<Value> {
    of_kind(records, "direct")
}

/// The same records with only their reported statements (`kind` `reported`), for
/// [`reported_gold`].
pub fn reported_only(records: &[Value]) -> Vec<Value> {
    of_kind(records, "reported")
}

/// The same records with only their quotes of `kind`.
fn of_kind(records: &[Value], kind: &str) -> Vec<Value> {
    records
        .iter()
        .map(|r| {
            let quotes: Vec<Value> = r["quotes"]
                .as_array()
                .map(|q| q.iter().filter(|q| q["kind"] == kind).cloned().collect())
                .unwrap_or_default();
            json!({"id": r["id"], "text": r["text"], "quotes": quotes})
        })
        .collect()
}

/// The gold with only its reported speech (`kind` `indirect`), each statement's whole content
/// (first to last fragment) made the one scored piece: [`score`] then gives `score.py`'s
/// metric — overlap ≥ 50 %, speaker accuracy, quote+speaker — on reported speech, which the
/// data README's metric leaves out (it scores direct quotes only).
pub fn reported_gold(gold: &[Value]) -> Vec<Value> {
    gold.iter()
        .map(|g| {
            let quotes: Vec<Value> = g["quotes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|q| q["kind"] == "indirect")
                .filter_map(|q| {
                    let fragments = q["content_fragments"].as_array()?;
                    let start = fragments.first()?.get(0)?.clone();
                    let end = fragments.last()?.get(1)?.clone();
                    let mut q = q.clone();
                    q["pieces"] =
                        json!([{"start": start, "end": end, "direct": true, "quote_mark": false}]);
                    q["direct"] = Value::Bool(true);
                    Some(q)
                })
                .collect();
            let mut g = g.clone();
            g["quotes"] = Value::Array(quotes);
            g
        })
        .collect()
}

/// Reads a JSONL file (or string) of records.
///
/// # Errors
/// A line that is not JSON.
pub fn parse_jsonl(text: &str) -> Result<Vec<Value>, serde_json::Error> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect()
}

/// The records by their `id`.
fn records_by_id(records: &[Value]) -> HashMap<&str, &Value> {
    records
        .iter()
        .filter_map(|r| Some((r["id"].as_str()?, r)))
        .collect()
}

/// How the speakers' clusters agree with the gold's `resolved` people, over gold attributions
/// (direct and reported) the system found: `(right, total)`. A system quote is found for a
/// gold attribution when it overlaps half of a piece; it is right when every attribution of
/// that person got one cluster, no other person's, and a named person's cluster is named so.
pub fn cluster_agreement(gold: &[Value], records: &[Value]) -> (usize, usize) {
    let by_id = records_by_id(records);
    let (mut right, mut total) = (0, 0);
    for g in gold {
        let Some(r) = g["id"].as_str().and_then(|id| by_id.get(id)) else {
            continue;
        };
        let text: Vec<char> = g["text"].as_str().unwrap_or_default().chars().collect();
        let sys = r["quotes"].as_array().cloned().unwrap_or_default();
        let clusters = r["clusters"].as_array().cloned().unwrap_or_default();
        let mut found: Vec<(String, Option<u64>)> = Vec::new();
        for q in g["quotes"].as_array().into_iter().flatten() {
            let Some(who) = q["resolved"].as_str() else {
                continue;
            };
            let hit = q["pieces"].as_array().into_iter().flatten().find_map(|pc| {
                let t = trim(&text, int(&pc["start"])?, int(&pc["end"])?);
                sys.iter().find(|s| {
                    let st = trim(
                        &text,
                        int(&s["start"]).unwrap_or(0),
                        int(&s["end"]).unwrap_or(0),
                    );
                    2 * inter(t, st) >= (t.1 - t.0).max(1)
                })
            });
            if let Some(s) = hit {
                found.push((who.to_owned(), s["cluster"].as_u64()));
            }
        }
        for (who, c) in &found {
            total += 1;
            let same_person_one_cluster =
                found.iter().filter(|(w, _)| w == who).all(|(_, x)| x == c);
            let not_shared = found.iter().filter(|(w, _)| w != who).all(|(_, x)| x != c);
            let named = who.chars().next().is_some_and(char::is_uppercase);
            let name_fits = c
                .and_then(|c| clusters.get(usize::try_from(c).ok()?))
                .is_some_and(|cl| {
                    let name = cl["name"].as_str().unwrap_or_default();
                    let own = cl["mentions"].as_array().is_some_and(Vec::is_empty);
                    if named {
                        who.contains(name) || name.contains(who.as_str())
                    } else {
                        own || !cl["label"].eq("PERSON")
                    }
                });
            right += usize::from(c.is_some() && same_person_one_cluster && not_shared && name_fits);
        }
    }
    (right, total)
}

/// Reported-speech recall: gold `indirect` attributions with a system `reported` quote over half
/// of their content whose speaker overlaps the gold source: `(right, total)`.
pub fn reported_recall(gold: &[Value], records: &[Value]) -> (usize, usize) {
    let by_id = records_by_id(records);
    let (mut right, mut total) = (0, 0);
    for g in gold {
        let sys = g["id"]
            .as_str()
            .and_then(|id| by_id.get(id))
            .and_then(|r| r["quotes"].as_array().cloned())
            .unwrap_or_default();
        for q in g["quotes"].as_array().into_iter().flatten() {
            if q["kind"] != "indirect" {
                continue;
            }
            total += 1;
            let (Some(cs), Some(ce)) = (
                int(&q["content_fragments"][0][0]),
                int(&q["content_fragments"][0][1]),
            ) else {
                continue;
            };
            let src = (
                int(&q["source"][0]).unwrap_or(-1),
                int(&q["source"][1]).unwrap_or(-1),
            );
            let ok = sys.iter().any(|s| {
                let span = (int(&s["start"]).unwrap_or(0), int(&s["end"]).unwrap_or(0));
                let spk = (
                    int(&s["speaker"]["start"]).unwrap_or(0),
                    int(&s["speaker"]["end"]).unwrap_or(0),
                );
                s["kind"] == "reported"
                    && 2 * inter((cs, ce), span) >= ce - cs
                    && inter(spk, src) > 0
            });
            right += usize::from(ok);
        }
    }
    (right, total)
}

fn line(
    out: &mut String,
    name: &str,
    gold: &[Value],
    pipeline: &Pipeline,
) -> Result<(), Box<dyn Error>> {
    let (recs, failed) = records(pipeline, gold);
    let (cr, ct) = cluster_agreement(gold, &recs);
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    for (kind, s) in [
        ("direct", score(gold, &direct_only(&recs), name)?),
        (
            "reported",
            score(&reported_gold(gold), &reported_only(&recs), name)?,
        ),
    ] {
        writeln!(
            out,
            "{name:<22} {kind:<8} {:>3} {:>5} {:>5}   {:.3}/{:.3}/{:.3}   {:.3}   {:.3}   {:.3}/{:.3}/{:.3}   {cr}/{ct}   {}",
            s["articles"].as_u64().unwrap_or(0),
            s["gold_quotes"].as_u64().unwrap_or(0),
            s["system_quotes"].as_u64().unwrap_or(0),
            f(&s["overlap"]["p"]),
            f(&s["overlap"]["r"]),
            f(&s["overlap"]["f1"]),
            f(&s["exact"]["f1"]),
            f(&s["speaker_acc"]),
            f(&s["e2e"]["p"]),
            f(&s["e2e"]["r"]),
            f(&s["e2e"]["f1"]),
            failed.len(),
        )?;
    }
    if std::env::var("LEDE_QUOTES_DETAILS").is_ok_and(|p| name.contains(&p)) {
        for (g, r) in gold.iter().zip(&recs) {
            let (g, r) = (std::slice::from_ref(g), std::slice::from_ref(r));
            let d = score(g, &direct_only(r), name)?;
            let rp = score(&reported_gold(g), &reported_only(r), name)?;
            if [&d, &rp].iter().any(|one| {
                one["e2e"]["tp"] != one["gold_quotes"] || one["e2e"]["tp"] != one["system_quotes"]
            }) {
                writeln!(out, "  {}: {}", g[0]["id"], r[0]["quotes"])?;
            }
        }
    }
    Ok(())
}

/// The report: one line per scored set.
///
/// # Errors
/// When the model does not load or a gold file is unreadable.
pub fn run(data_dir: &Path, model_dir: &Path) -> Result<String, Box<dyn Error>> {
    let pipeline = pipeline(model_dir)?;
    let mut out = String::from(
        "quote attribution, score.py's metric (stages segment,entities,quotes); direct: quote-bounded \
         pieces (score.py); reported: each reported statement's content, same rules\n\
         set                    kind     art  gold   sys   overlap P/R/F1        exact  spk_acc  quote+speaker P/R/F1   clusters  failed\n",
    );
    let dir = data_dir.join("quotes");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    for file in &files {
        let gold = parse_jsonl(&std::fs::read_to_string(file)?)?;
        let name = file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        line(&mut out, &name, &gold, &pipeline)?;
    }
    let cases = parse_jsonl(CASES)?;
    let (tune, held): (Vec<Value>, Vec<Value>) = cases
        .into_iter()
        .partition(|c| c["id"].as_str().is_some_and(|id| id.starts_with('t')));
    line(&mut out, "cases: tuned on (t…)", &tune, &pipeline)?;
    line(&mut out, "cases: held out (h…)", &held, &pipeline)?;
    out.push_str(
        "clusters: found attributions (direct and reported) whose speaker cluster is the right \
         person's\n",
    );
    Ok(out)
}
