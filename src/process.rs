//! `lede process`: the embedded mode with no broker.
//!
//! Raw articles in (files or stdin), enriched JSONL out on stdout, in input order. Articles go
//! through the same stage pool and per-message path as the workers' ([`Runner`]: `--threads`
//! threads, the `--deadline`), a bounded window of them at a time, so memory stays bounded on
//! large inputs. Rejected articles are reported on stderr with their origin and reason.

use std::collections::VecDeque;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::enrich::{Enriched, Rejection, assign_story};
use crate::input::payloads;
use crate::pipeline::story::MemoryIndex;
use crate::runner::{Runner, Ticket};

/// Articles queued or running at once, per pool thread (output waits for the oldest).
const WINDOW_PER_THREAD: usize = 8;

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
}

/// Enriches every payload of `files` (stdin when empty) into `out`, one JSON record per line,
/// on `runner`'s threads. Blocks: call it from a thread of its own (`spawn_blocking`), never on
/// the async executor.
///
/// # Errors
/// [`ProcessError`] on I/O failure; rejected articles are counted, not errors.
pub fn run(
    runner: &Runner,
    files: &[PathBuf],
    out: &mut dyn Write,
) -> Result<ProcessSummary, ProcessError> {
    let progress = progress_bar();
    let started = Instant::now();
    let mut summary = ProcessSummary::default();
    // Story keys are decided as records are written, in input order: the same online decision
    // the worker makes against the shared KV index, here over an in-memory one.
    let stories = MemoryIndex::new();
    let window = WINDOW_PER_THREAD * runner.threads();
    let mut pending: VecDeque<(String, Result<Ticket, Rejection>)> =
        VecDeque::with_capacity(window);
    for payload in payloads(files) {
        let payload = payload?;
        let ticket = runner.enqueue_blocking(Bytes::from(payload.bytes));
        pending.push_back((payload.origin, ticket));
        if pending.len() >= window
            && let Some((origin, ticket)) = pending.pop_front()
        {
            write_one(&origin, ticket, &stories, out, &mut summary, &progress)?;
        }
    }
    while let Some((origin, ticket)) = pending.pop_front() {
        write_one(&origin, ticket, &stories, out, &mut summary, &progress)?;
    }
    out.flush()?;
    progress.finish_and_clear();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Waits for the oldest article and writes its record, or reports its rejection.
fn write_one(
    origin: &str,
    ticket: Result<Ticket, Rejection>,
    stories: &MemoryIndex,
    out: &mut dyn Write,
    summary: &mut ProcessSummary,
    progress: &indicatif::ProgressBar,
) -> io::Result<()> {
    match ticket
        .and_then(Ticket::wait)
        .and_then(|e| story_step(stories, e))
    {
        Ok(enriched) => {
            out.write_all(&enriched.record)?;
            out.write_all(b"\n")?;
            summary.enriched += 1;
        }
        Err(rejection) => {
            summary.rejected += 1;
            progress.suspend(|| {
                eprintln!(
                    "{origin}: rejected ({}): {}",
                    rejection.kind, rejection.message
                );
            });
        }
    }
    progress.inc(1);
    Ok(())
}

/// The story step on the in-memory index (its futures complete at once). A failure rejects
/// the article: a record never goes out without its key.
fn story_step(index: &MemoryIndex, mut enriched: Enriched) -> Result<Enriched, Rejection> {
    match futures::executor::block_on(assign_story(index, &mut enriched)) {
        Ok(()) => Ok(enriched),
        Err(e) => Err(Rejection {
            id: Some(enriched.id),
            kind: "story_index_failed",
            message: e.to_string(),
        }),
    }
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
