//! `lede process`: the embedded mode with no broker.
//!
//! Raw articles in (files or stdin), enriched JSONL out on stdout, in input order. Articles are
//! processed in parallel on a rayon pool in chunks, so memory stays bounded on large inputs.
//! Rejected articles are reported on stderr with their origin and reason.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::enrich::{Rejection, enrich_payload};
use crate::input::{Payload, payloads};
use crate::pipeline::Pipeline;

/// Articles handed to the pool at once, per thread.
const CHUNK_PER_THREAD: usize = 32;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessSummary {
    /// Records written.
    pub enriched: u64,
    /// Articles rejected.
    pub rejected: u64,
    /// Wall-clock time.
    pub elapsed: Duration,
}

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Reading input or writing output failed (the error names the file).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The thread pool could not be built.
    #[error("cannot start {threads} threads: {message}")]
    Pool {
        /// Threads asked for.
        threads: usize,
        /// Why not.
        message: String,
    },
}

/// Enriches every payload of `files` (stdin when empty) into `out`, one JSON record per line.
///
/// # Errors
/// [`ProcessError`] on I/O failure; rejected articles are counted, not errors.
pub fn run(
    pipeline: &Pipeline,
    files: &[PathBuf],
    threads: usize,
    max_bytes: usize,
    out: &mut dyn Write,
) -> Result<ProcessSummary, ProcessError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("lede-process-{i}"))
        .stack_size(crate::pipeline::STAGE_STACK_BYTES)
        .build()
        .map_err(|e| ProcessError::Pool {
            threads,
            message: e.to_string(),
        })?;
    let progress = progress_bar();
    let started = Instant::now();
    let mut summary = ProcessSummary::default();
    let mut input = payloads(files);
    let chunk_len = CHUNK_PER_THREAD * threads.max(1);
    loop {
        let chunk: Vec<Payload> = input.by_ref().take(chunk_len).collect::<io::Result<_>>()?;
        if chunk.is_empty() {
            break;
        }
        let results: Vec<Result<Vec<u8>, Rejection>> = pool.install(|| {
            chunk
                .par_iter()
                .map(|p| enrich_payload(pipeline, &p.bytes, max_bytes).map(|e| e.record))
                .collect()
        });
        for (payload, result) in chunk.iter().zip(results) {
            match result {
                Ok(record) => {
                    out.write_all(&record)?;
                    out.write_all(b"\n")?;
                    summary.enriched += 1;
                }
                Err(rejection) => {
                    summary.rejected += 1;
                    progress.suspend(|| {
                        eprintln!(
                            "{}: rejected ({}): {}",
                            payload.origin, rejection.kind, rejection.message
                        );
                    });
                }
            }
        }
        progress.inc(chunk.len() as u64);
    }
    out.flush()?;
    progress.finish_and_clear();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// A spinner with count and rate on stderr, hidden when stderr is not a terminal.
fn progress_bar() -> indicatif::ProgressBar {
    if !io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {pos} articles ({per_sec}) {elapsed}")
    {
        bar.set_style(style);
    }
    bar
}
