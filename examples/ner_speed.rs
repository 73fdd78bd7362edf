//! Tokens per second of the entity model on one thread: the NER alone, over texts tokenized
//! beforehand by lede's tokenizer (tokenizing is not timed). Used by `scripts/bench-ner.sh`.
//!
//! `cargo run --release --example ner_speed -- [RUNS] [FILE.jsonl ...]` (default: 7 runs over
//! the news_dev parity texts) prints one line per run, then the medians of wall-clock and
//! thread-CPU throughput as `median_wall_tokens_per_s=` and `median_cpu_tokens_per_s=` lines,
//! the vector ISA the kernels dispatch to (`isa=`) and the multiply-adds the network did per
//! token (`multiply_adds_per_token=`, counted by the kernels themselves).

use std::path::PathBuf;
use std::time::Instant;

use cpu_time::ThreadTime;
use lede::model::ModelDir;
use lede::pipeline::Token;
use lede::pipeline::entities::{EntityModel, Scratch};
use lede::pipeline::segment::tokenizer::Tokenizer;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The widest x86 vector ISA detected at run time (what `faer` and `pulp` dispatch on).
fn isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "AVX-512F";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return "AVX2+FMA";
        }
        "SSE2"
    }
    #[cfg(not(target_arch = "x86_64"))]
    "scalar/NEON"
}

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
    let dir = ModelDir::from_env_or_default()?;
    let model = EntityModel::from_model_dir(&dir)?;
    let tokenizer = Tokenizer::from_model_dir(&dir)?;
    let mut docs: Vec<(String, Vec<Token>)> = Vec::new();
    for file in &files {
        for line in std::fs::read_to_string(file)?.lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let text = v["text"].as_str().ok_or("record without text")?.to_owned();
            let tokens = tokenizer.tokenize(&text);
            docs.push((text, tokens));
        }
    }
    let n_tokens: usize = docs.iter().map(|(_, t)| t.len()).sum();
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    let mut pass = |scratch: &mut Scratch| {
        let (wall, cpu) = (Instant::now(), ThreadTime::now());
        let mut ents = 0;
        for (text, tokens) in &docs {
            model.recognize_with(text, tokens, scratch, &mut out);
            ents += out.len();
        }
        (
            wall.elapsed().as_secs_f64(),
            cpu.elapsed().as_secs_f64(),
            ents,
        )
    };
    pass(&mut scratch); // warm-up: grows the scratch buffers, faults the weights in
    let per_token = scratch.multiply_adds() as f64 / n_tokens as f64;
    let (mut walls, mut cpus) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for run in 0..runs {
        let (wall, cpu, ents) = pass(&mut scratch);
        println!(
            "run {run}: {n_tokens} tokens, {ents} entities, wall {wall:.3} s ({:.0} tokens/s), cpu {cpu:.3} s ({:.0} tokens/s)",
            n_tokens as f64 / wall,
            n_tokens as f64 / cpu
        );
        walls.push(n_tokens as f64 / wall);
        cpus.push(n_tokens as f64 / cpu);
    }
    println!("docs={} tokens={n_tokens}", docs.len());
    println!("isa={}", isa());
    println!("multiply_adds_per_token={per_token:.0}");
    println!("median_wall_tokens_per_s={:.0}", median(walls));
    println!("median_cpu_tokens_per_s={:.0}", median(cpus));
    Ok(())
}
