//! Bounded memory and threads, measured on child processes running every stage with the spaCy
//! model: peak RSS (`VmHWM`) of `lede process` on a multi-megabyte article and on one over the
//! token budget, and of a `lede worker` draining a burst, whose stage threads stay exactly
//! `--threads` even while stages are stuck past their deadline.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    NatsServer, article, connect, model_dir, publish, spawn_lede_worker, wait_for_messages,
};

const MB: usize = 1024 * 1024;

/// The issue's bound for one 4 MiB article through every stage (README "Hostile input and
/// limits").
const ARTICLE_BOUND_MIB: u64 = 300;
/// The bound for a worker draining a burst of news articles.
const BURST_BOUND_MIB: u64 = 150;

/// A process's `VmHWM` (KiB) and thread names, read from `/proc`.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn thread_names(pid: u32) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|n| n.trim_end().to_owned())
        .collect()
}

/// News text of about `bytes` bytes: the seed article, repeated.
fn news_text(bytes: usize) -> String {
    let seed = include_str!("../examples/seed.txt");
    let mut text = String::with_capacity(bytes + seed.len());
    while text.len() + seed.len() + 2 <= bytes {
        text.push_str(seed.trim_end());
        text.push_str("\n\n");
    }
    text
}

struct Run {
    success: bool,
    code: Option<i32>,
    stderr: String,
    peak_kib: u64,
    took: Duration,
}

/// Runs `lede process` with every stage on `file`, sampling its `VmHWM` until it exits.
fn lede_process(file: &Path, extra: &[&str]) -> Run {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lede"))
        .args(["process", "--threads", "1", "--model"])
        .arg(model_dir())
        .args(extra)
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lede process");
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "lede process hung"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).ok();
    }
    Run {
        success: status.success(),
        code: status.code(),
        stderr,
        peak_kib: peak,
        took: started.elapsed(),
    }
}

#[test]
fn a_4_mib_news_article_through_every_stage_stays_under_the_memory_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("long.txt");
    // Just under the default --max-bytes (4 MiB), as a long transcript or live blog would be.
    let text = news_text(4 * MB - 4096);
    std::fs::write(&path, &text).expect("write");
    let run = lede_process(&path, &[]);
    eprintln!(
        "lede process --threads 1, {} bytes of news, all stages: peak RSS {} MiB in {:.1?}",
        text.len(),
        run.peak_kib / 1024,
        run.took
    );
    assert!(run.success, "exit {:?}: {}", run.code, run.stderr);
    assert!(
        run.peak_kib < ARTICLE_BOUND_MIB * 1024,
        "peak RSS {} MiB for a {} byte article (bound {ARTICLE_BOUND_MIB} MiB)",
        run.peak_kib / 1024,
        text.len()
    );
}

#[test]
fn a_10_mb_article_with_no_stages_costs_a_handful_of_copies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.txt");
    let text = "A very long line about the talks in Vienna. ".repeat(10 * MB / 44);
    std::fs::write(&path, &text).expect("write");
    let run = lede_process(&path, &["--stages", "", "--max-bytes", "16000000"]);
    eprintln!(
        "lede process, 10 MB article, no stages: peak RSS {} MiB in {:.1?}",
        run.peak_kib / 1024,
        run.took
    );
    assert!(run.success, "exit {:?}: {}", run.code, run.stderr);
    // Input, decoded text, document, record and its JSON: a handful of copies, not more.
    let bound_kib = (16 * 10 * MB / 1024) as u64;
    assert!(
        run.peak_kib < bound_kib,
        "peak RSS {} KiB for a 10 MB article (bound {bound_kib} KiB)",
        run.peak_kib
    );
}

#[test]
fn an_article_over_the_token_budget_is_refused_as_too_large_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.txt");
    // 10 MB of short words: about 2.4 M tokens, far over the default --max-tokens.
    let text = "A very long line about the talks in Vienna. ".repeat(10 * MB / 44);
    std::fs::write(&path, &text).expect("write");
    let run = lede_process(&path, &["--max-bytes", "16000000"]);
    eprintln!(
        "lede process, 10 MB article over the token budget: peak RSS {} MiB in {:.1?}",
        run.peak_kib / 1024,
        run.took
    );
    assert_eq!(run.code, Some(2), "rejected, not crashed: {}", run.stderr);
    assert!(
        run.stderr.contains("rejected (too_large)") && run.stderr.contains("--max-tokens"),
        "{}",
        run.stderr
    );
    assert!(
        run.peak_kib < ARTICLE_BOUND_MIB * 1024,
        "peak RSS {} MiB refusing a 10 MB article (bound {ARTICLE_BOUND_MIB} MiB)",
        run.peak_kib / 1024
    );
}

/// Samples a child's `VmHWM` and threads until `done` resolves.
async fn watch<F: std::future::Future<Output = ()>>(
    pid: u32,
    done: F,
) -> (u64, usize, Vec<String>) {
    tokio::pin!(done);
    let (mut peak, mut most_threads, mut names) = (0, 0, Vec::new());
    loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        let now = thread_names(pid);
        if now.len() > most_threads {
            most_threads = now.len();
            names = now;
        }
        tokio::select! {
            () = &mut done => return (peak, most_threads, names),
            () = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_draining_a_burst_keeps_its_threads_and_memory_bounded() {
    let server = NatsServer::start();
    let client = connect(&server.url()).await;
    let js = async_nats::jetstream::new(client);
    common::create_streams(&js, &server.url()).await;
    let model = model_dir();
    let model = model.to_str().expect("utf-8 model path");
    let mut worker = spawn_lede_worker(&server.url(), &["--threads", "2", "--model", model]);
    // Every article of the burst is published before the worker has pulled much of it.
    let seed = include_str!("../examples/seed.txt");
    let burst: Vec<Vec<u8>> = (0..400)
        .map(|i| article(&format!("burst-{i}"), &format!("{seed}\n\nUpdate {i}.")))
        .collect();
    publish(&js, burst).await;
    let pid = worker.id();
    let (peak, most, names) = watch(pid, async {
        wait_for_messages(&js, "ARTICLES_ENRICHED", 400).await;
    })
    .await;
    worker.kill().ok();
    worker.wait().ok();
    let stage: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("lede-stage-"))
        .collect();
    eprintln!(
        "lede worker --threads 2, burst of 400 articles: peak RSS {} MiB, at most {most} threads ({names:?})",
        peak / 1024
    );
    assert_eq!(stage.len(), 2, "stage threads: {names:?}");
    assert!(
        peak < BURST_BOUND_MIB * 1024,
        "peak RSS {} MiB draining a burst (bound {BURST_BOUND_MIB} MiB)",
        peak / 1024
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_stuck_past_their_deadline_add_no_thread() {
    let server = NatsServer::start();
    let client = connect(&server.url()).await;
    let js = async_nats::jetstream::new(client);
    common::create_streams(&js, &server.url()).await;
    // Every article sleeps 1 s in a stage; the deadline gives up on it after 0.1 + 0.5 s.
    let mut worker = spawn_lede_worker(
        &server.url(),
        &[
            "--threads",
            "1",
            "--stages",
            "delay",
            "--delay",
            "1s",
            "--deadline",
            "100ms",
        ],
    );
    let pid = worker.id();
    let not_stage = |names: &[String]| {
        names
            .iter()
            .filter(|n| !n.starts_with("lede-stage-"))
            .count()
    };
    // The worker is up once it has made its consumer; its threads then are the baseline.
    let started = Instant::now();
    loop {
        let input = js.get_stream("ARTICLES").await.expect("stream");
        if input.consumer_info("lede").await.is_ok() {
            break;
        }
        assert!(
            started.elapsed() < common::WAIT,
            "the worker made no consumer"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let baseline = thread_names(pid);
    let articles: Vec<Vec<u8>> = (0..3)
        .map(|i| article(&format!("stuck-{i}"), "A stuck article."))
        .collect();
    publish(&js, articles).await;
    let (_, most, names) = watch(pid, async {
        wait_for_messages(&js, "ARTICLES_DLQ", 3).await;
    })
    .await;
    worker.kill().ok();
    worker.wait().ok();
    eprintln!(
        "3 stuck articles, --threads 1: threads before {baseline:?}, at most {most}: {names:?}"
    );
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("lede-stage-"))
            .count(),
        1,
        "{names:?}"
    );
    // Before the pool, each article given up on left its blocking-pool thread sleeping and the
    // next article took a new one.
    assert!(
        not_stage(&names) <= not_stage(&baseline),
        "threads grew from {baseline:?} to {names:?}"
    );
}
