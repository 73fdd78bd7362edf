//! Tokens per second of the entity model on one thread, over the tokens of parity files (the NER
//! alone: tokens come pre-made from the file). Used by `scripts/bench-ner.sh`.
//!
//! `cargo run --release --example ner_speed -- [RUNS] [FILE.jsonl ...]` prints one line per run
//! and a final `median_tokens_per_s=<n>` line.

use std::path::PathBuf;
use std::time::Instant;

use lede::pipeline::entities::{EntityModel, Scratch};
use lede::pipeline::{Span, Token};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().map_or(Ok(7), |a| a.parse())?;
    let mut files: Vec<PathBuf> = args.map(PathBuf::from).collect();
    if files.is_empty() {
        files.push(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/parity/news_dev.jsonl"
        )));
    }
    let dir = std::env::var_os("LEDE_MODEL").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models/en_core_web_sm-3.8.0")),
        PathBuf::from,
    );
    let model = EntityModel::load(&dir)?;
    let mut docs: Vec<(String, Vec<Token>)> = Vec::new();
    for file in &files {
        for line in std::fs::read_to_string(file)?.lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let text = v["text"].as_str().ok_or("no text")?.to_owned();
            let at: Vec<usize> = text
                .char_indices()
                .map(|(b, _)| b)
                .chain(std::iter::once(text.len()))
                .collect();
            let cp = |x: &serde_json::Value| x.as_u64().map(|i| at[i as usize]).unwrap_or(0);
            let tokens = v["tokens"]
                .as_array()
                .ok_or("no tokens")?
                .iter()
                .map(|t| Token {
                    span: Span::new(cp(&t[0]), cp(&t[1])),
                    ws: t[2].as_bool().unwrap_or(false),
                    norm: None,
                })
                .collect();
            docs.push((text, tokens));
        }
    }
    let n_tokens: usize = docs.iter().map(|(_, t)| t.len()).sum();
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    let mut pass = || {
        let started = Instant::now();
        let mut ents = 0;
        for (text, tokens) in &docs {
            model.recognize_with(text, tokens, &mut scratch, &mut out);
            ents += out.len();
        }
        (started.elapsed().as_secs_f64(), ents)
    };
    pass(); // warm-up: grows the scratch buffers, faults in the weights
    let mut rates = Vec::with_capacity(runs);
    for run in 0..runs {
        let (secs, ents) = pass();
        let rate = n_tokens as f64 / secs;
        println!("run {run}: {n_tokens} tokens, {ents} entities, {secs:.3} s, {rate:.0} tokens/s");
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!("docs={} tokens={n_tokens}", docs.len());
    println!("median_tokens_per_s={:.0}", rates[rates.len() / 2]);
    Ok(())
}
