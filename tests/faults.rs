//! Fault injection against a real nats-server: worker SIGKILLs under load, broker SIGKILLs,
//! a stage slower than the ack wait, SIGTERM under load. One row per scenario:
//! sent / enriched / dead-lettered / lost / stored twice / redundant publishes.
//!
//! How duplicates are measured so that one *could* be seen: the output and DLQ streams
//! deduplicate by `Nats-Msg-Id`, so counting stored dedup keys alone would hide a worker that
//! published twice. "stored twice" counts records held more than once *by the record's own
//! `id`* (and dead letters by the payload's label), so one article stored under two keys shows
//! (must be 0). A plain core-NATS subscription on `articles.enriched` and `articles.dlq` sees
//! every publish, including those the stream dropped: "redundant publishes" counts publishes
//! the duplicate window absorbed, and each must be explained by a redelivery (redundant ≤
//! redeliveries, checked), so a worker that published twice on its own would fail the row. The
//! core subscription misses what is published while the broker is down or it is reconnecting,
//! so in the broker-restart row that column is a lower bound (and not checked); the
//! stream-side columns are exact.

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use common::*;
use futures::StreamExt;

/// Every 20th article is malformed (5 %).
const MALFORMED_EVERY: usize = 20;

/// One scenario's outcome.
#[derive(Debug, Default)]
struct Row {
    name: &'static str,
    sent: usize,
    enriched: usize,
    dead_lettered: usize,
    lost: usize,
    stored_twice: usize,
    misrouted: usize,
    redundant_publishes: usize,
    redeliveries: u64,
    seconds: f64,
    note: String,
    /// Why the scenario failed besides the counts (a time-out, an unclean exit).
    failure: Option<String>,
}

impl Row {
    fn passed(&self) -> bool {
        self.lost == 0 && self.stored_twice == 0 && self.misrouted == 0 && self.failure.is_none()
    }

    /// A publish the duplicate window absorbed must come from a redelivery: more of them than
    /// redeliveries means a worker published one delivery twice.
    fn check_redundant_publishes(&mut self) {
        let ok = self.redundant_publishes as u64 <= self.redeliveries;
        self.fail_unless(ok, "MORE REDUNDANT PUBLISHES THAN REDELIVERIES");
    }

    fn fail_unless(&mut self, ok: bool, why: &str) {
        if !ok {
            self.note.push_str("; ");
            self.note.push_str(why);
            self.failure = Some(why.to_owned());
        }
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | sent | enriched | dead-lettered | lost | stored twice | misrouted | redundant publishes (absorbed by dedup) | redeliveries | seconds | notes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} |",
            r.name,
            r.sent,
            r.enriched,
            r.dead_lettered,
            r.lost,
            r.stored_twice,
            r.misrouted,
            r.redundant_publishes,
            r.redeliveries,
            r.seconds,
            r.note
        );
    }
    out
}

/// The articles of a run: good ones are `g-<i>`, malformed ones carry `bad-<i>` in the payload.
struct Workload {
    payloads: Vec<Vec<u8>>,
    good: usize,
    bad: usize,
}

fn workload(n: usize) -> Workload {
    let mut payloads = Vec::with_capacity(n);
    let mut bad = 0;
    for i in 0..n {
        if i % MALFORMED_EVERY == MALFORMED_EVERY - 1 {
            bad += 1;
            payloads.push(match (i / MALFORMED_EVERY) % 4 {
                0 => format!(r#"{{"id":"bad-{i}","text": "unterminated"#).into_bytes(),
                1 => {
                    let mut p = b"\xff\xfe not utf-8 ".to_vec();
                    p.extend_from_slice(format!("bad-{i}").as_bytes());
                    p
                }
                2 => format!(r#"{{"id":"bad-{i}","title":"no body"}}"#).into_bytes(),
                _ => format!(r#"{{"id":"bad-{i}","text": 42}}"#).into_bytes(),
            });
        } else {
            payloads.push(article(
                &format!("g-{i}"),
                &format!("Article {i}: the minister met his counterpart on Tuesday."),
            ));
        }
    }
    Workload {
        good: n - bad,
        bad,
        payloads,
    }
}

/// The `bad-<i>` label inside a malformed payload.
fn bad_label(payload: &[u8]) -> Option<String> {
    let at = payload.windows(4).position(|w| w == b"bad-")?;
    let digits: String = payload[at + 4..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| char::from(b))
        .collect();
    (!digits.is_empty()).then(|| format!("bad-{digits}"))
}

fn msg_id(m: &async_nats::Message) -> Option<String> {
    Some(m.headers.as_ref()?.get("Nats-Msg-Id")?.as_str().to_owned())
}

/// Counts every publish on the output and DLQ subjects with a plain core subscription.
struct Recorder {
    enriched: Arc<Mutex<HashMap<String, usize>>>,
    dead: Arc<Mutex<HashMap<String, usize>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Recorder {
    async fn start(url: &str) -> Self {
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(1 << 20)
            .connect(url)
            .await
            .expect("recorder connect");
        let enriched = Arc::new(Mutex::new(HashMap::new()));
        let dead = Arc::new(Mutex::new(HashMap::new()));
        let mut tasks = Vec::new();
        for (subject, counts, by_payload) in [
            ("articles.enriched", enriched.clone(), false),
            ("articles.dlq", dead.clone(), true),
        ] {
            let mut sub = client.subscribe(subject).await.expect("subscribe");
            tasks.push(tokio::spawn(async move {
                while let Some(m) = sub.next().await {
                    let key = if by_payload {
                        bad_label(&m.payload)
                    } else {
                        msg_id(&m)
                    };
                    let key = key.unwrap_or_else(|| "?".into());
                    *counts.lock().expect("lock").entry(key).or_default() += 1;
                }
            }));
        }
        client.flush().await.expect("flush");
        Self {
            enriched,
            dead,
            tasks,
        }
    }

    fn publishes(&self) -> (usize, usize) {
        let sum = |m: &Arc<Mutex<HashMap<String, usize>>>| {
            m.lock().expect("lock").values().sum::<usize>()
        };
        (sum(&self.enriched), sum(&self.dead))
    }

    fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

/// A `lede worker` process with quiet logs (warnings still reach stderr).
fn spawn_worker(url: &str, flags: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lede"))
        .args(["worker", "--nats-url", url])
        .args(flags)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot start lede worker")
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -TERM failed");
}

/// Waits for `child` to exit; its status and how long it took, or `None` after `limit`.
async fn wait_exit(child: &mut Child, limit: Duration) -> Option<(std::process::ExitStatus, f64)> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some((status, started.elapsed().as_secs_f64()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

async fn stored(js: &jetstream::Context, stream: &str) -> u64 {
    match js.get_stream(stream).await {
        Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or(0),
        Err(_) => 0,
    }
}

/// True once both streams hold what they should and the consumer has nothing left.
async fn finished(js: &jetstream::Context, w: &Workload) -> bool {
    if stored(js, "ARTICLES_ENRICHED").await < w.good as u64
        || stored(js, "ARTICLES_DLQ").await < w.bad as u64
    {
        return false;
    }
    let Ok(s) = js.get_stream("ARTICLES").await else {
        return false;
    };
    let Ok(mut c) = s
        .get_consumer::<jetstream::consumer::pull::Config>("lede")
        .await
    else {
        return false;
    };
    matches!(c.info().await, Ok(i) if i.num_pending == 0 && i.num_ack_pending == 0)
}

/// Waits (bounded) for the run to finish; false when `limit` ran out.
async fn wait_finished(js: &jetstream::Context, w: &Workload, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if finished(js, w).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Enriched (id) and dead-lettered (bad label) done-fraction, read from the streams.
async fn progress(js: &jetstream::Context, w: &Workload) -> f64 {
    let done = stored(js, "ARTICLES_ENRICHED").await + stored(js, "ARTICLES_DLQ").await;
    done as f64 / w.payloads.len() as f64
}

async fn wait_progress(js: &jetstream::Context, w: &Workload, fraction: f64) {
    let deadline = Instant::now() + WAIT;
    while progress(js, w).await < fraction {
        assert!(
            Instant::now() < deadline,
            "no progress to {fraction} in {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Compares what the streams hold with what was sent.
async fn measure(
    js: &jetstream::Context,
    w: &Workload,
    recorder: Recorder,
    name: &'static str,
    started: Instant,
) -> Row {
    // By the record's own id, not its dedup key: an article stored under two keys counts twice.
    let mut out: HashMap<String, usize> = HashMap::new();
    for m in read_all(js, "ARTICLES_ENRICHED").await {
        let id = serde_json::from_slice::<lede::record::EnrichedArticle>(&m.payload)
            .map(|r| r.id)
            .unwrap_or_else(|_| format!("unreadable:{}", msg_id(&m).unwrap_or_default()));
        *out.entry(id).or_default() += 1;
    }
    let mut dead: HashMap<String, usize> = HashMap::new();
    for m in read_all(js, "ARTICLES_DLQ").await {
        *dead
            .entry(
                bad_label(&m.payload).unwrap_or_else(|| {
                    format!("good-in-dlq:{}", String::from_utf8_lossy(&m.payload))
                }),
            )
            .or_default() += 1;
    }
    let (mut lost, mut misrouted) = (0, 0);
    for i in 0..w.payloads.len() {
        let (good, bad) = (format!("g-{i}"), format!("bad-{i}"));
        if i % MALFORMED_EVERY == MALFORMED_EVERY - 1 {
            if !dead.contains_key(&bad) {
                lost += 1;
            }
            if out.contains_key(&bad) {
                misrouted += 1;
            }
        } else if !out.contains_key(&good) {
            lost += 1;
        }
    }
    misrouted += dead.keys().filter(|k| k.starts_with("good-in-dlq")).count();
    let twice =
        |m: &HashMap<String, usize>| m.values().map(|&c| c.saturating_sub(1)).sum::<usize>();
    let stored_records: usize = out.values().sum::<usize>() + dead.values().sum::<usize>();
    // Publishes still in flight to the recorder land within a moment of the consumer going idle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (pub_out, pub_dead) = recorder.publishes();
    recorder.stop();
    // Every delivery, first or not, takes a consumer sequence number.
    let deliveries = match js.get_stream("ARTICLES").await {
        Ok(s) => match s
            .get_consumer::<jetstream::consumer::pull::Config>("lede")
            .await
        {
            Ok(mut c) => c
                .info()
                .await
                .map(|i| i.delivered.consumer_sequence)
                .unwrap_or(0),
            Err(_) => 0,
        },
        Err(_) => 0,
    };
    Row {
        name,
        sent: w.payloads.len(),
        enriched: out.len(),
        dead_lettered: dead.len(),
        lost,
        stored_twice: twice(&out) + twice(&dead),
        misrouted,
        redundant_publishes: (pub_out + pub_dead).saturating_sub(stored_records),
        redeliveries: deliveries.saturating_sub(w.payloads.len() as u64),
        seconds: started.elapsed().as_secs_f64(),
        note: String::new(),
        failure: None,
    }
}

/// 10,000 articles (5 % malformed), three workers, one SIGKILLed and restarted every 3 s.
async fn worker_kills() -> Row {
    let server = NatsServer::start();
    let url = server.url();
    let js = jetstream::new(connect(&url).await);
    create_streams(&js, &url).await;
    let recorder = Recorder::start(&url).await;
    let w = workload(10_000);
    let started = Instant::now();
    publish(&js, w.payloads.clone()).await;
    let flags = [
        "--stages",
        "delay",
        "--delay",
        "40ms",
        "--threads",
        "8",
        "--in-flight",
        "16",
        "--ack-wait",
        "2s",
    ];
    let mut workers: Vec<Child> = (0..3).map(|_| spawn_worker(&url, &flags)).collect();
    let mut kills = 0;
    let limit = Duration::from_secs(150);
    let mut done = false;
    while started.elapsed() < limit {
        let pause = Instant::now();
        while pause.elapsed() < Duration::from_secs(3) {
            if finished(&js, &w).await {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if done || progress(&js, &w).await >= 0.97 {
            break;
        }
        // Rotate the victim so every worker dies with articles in flight.
        let victim = kills % workers.len();
        workers[victim].kill().expect("SIGKILL");
        workers[victim].wait().expect("reap");
        kills += 1;
        workers[victim] = spawn_worker(&url, &flags);
    }
    let done = done || wait_finished(&js, &w, limit.saturating_sub(started.elapsed())).await;
    let mut row = measure(
        &js,
        &w,
        recorder,
        "10k articles, 3 workers, SIGKILL every 3 s",
        started,
    )
    .await;
    row.note = format!("{kills} SIGKILLs");
    row.fail_unless(kills >= 3, "fewer than 3 SIGKILLs landed mid-run");
    row.check_redundant_publishes();
    row.fail_unless(done, "TIMED OUT");
    for mut worker in workers {
        worker.kill().ok();
        worker.wait().ok();
    }
    row
}

/// The broker SIGKILLed and restarted twice mid-run (file storage), two workers.
async fn broker_kills() -> Row {
    let mut server = NatsServer::start();
    let url = server.url();
    let js = jetstream::new(connect(&url).await);
    create_streams(&js, &url).await;
    let recorder = Recorder::start(&url).await;
    let w = workload(2_000);
    let started = Instant::now();
    publish(&js, w.payloads.clone()).await;
    let flags = [
        "--stages",
        "delay",
        "--delay",
        "20ms",
        "--threads",
        "8",
        "--in-flight",
        "16",
        "--ack-wait",
        "2s",
    ];
    let mut workers: Vec<Child> = (0..2).map(|_| spawn_worker(&url, &flags)).collect();
    let mut restarts = 0;
    for at in [0.25, 0.6] {
        wait_progress(&js, &w, at).await;
        server.restart();
        restarts += 1;
    }
    let js = jetstream::new(connect(&url).await);
    let done = wait_finished(&js, &w, Duration::from_secs(120)).await;
    let mut row = measure(
        &js,
        &w,
        recorder,
        "broker SIGKILLed + restarted mid-run",
        started,
    )
    .await;
    row.note = format!(
        "{restarts} broker restarts; redundant publishes: a lower bound; redeliveries: as counted by the consumer state the broker recovered"
    );
    row.fail_unless(done, "TIMED OUT");
    for mut worker in workers.drain(..) {
        worker.kill().ok();
        worker.wait().ok();
    }
    row
}

/// Every article takes 2.5 s in a stage, 2.5 × the 1 s ack wait. With `in_flight` ≥ the 40
/// articles every one is in a stage at once, so only progress acks stand between it and a
/// redelivery; with fewer, the client also holds prefetched messages that wait for a slot.
async fn slow_stage(name: &'static str, in_flight: &str) -> Row {
    let server = NatsServer::start();
    let url = server.url();
    let js = jetstream::new(connect(&url).await);
    create_streams(&js, &url).await;
    let recorder = Recorder::start(&url).await;
    let w = workload(40);
    let started = Instant::now();
    publish(&js, w.payloads.clone()).await;
    let mut worker = spawn_worker(
        &url,
        &[
            "--stages",
            "delay",
            "--delay",
            "2500ms",
            "--threads",
            in_flight,
            "--in-flight",
            in_flight,
            "--ack-wait",
            "1s",
        ],
    );
    let done = wait_finished(&js, &w, Duration::from_secs(60)).await;
    let mut row = measure(&js, &w, recorder, name, started).await;
    row.note = format!("--in-flight {in_flight}, 40 articles");
    if in_flight == "40" {
        // Nothing waits outside a stage here: any redelivery means progress acks failed.
        row.fail_unless(row.redeliveries == 0, "REDELIVERED WHILE IN A STAGE");
    }
    row.check_redundant_publishes();
    row.fail_unless(done, "TIMED OUT");
    worker.kill().ok();
    worker.wait().ok();
    row
}

/// Two workers under load; each is SIGTERMed in turn and must exit 0 within its shutdown
/// timeout, a fresh one taking its place; the last are SIGTERMed once the work is done.
async fn sigterm_under_load() -> Row {
    let server = NatsServer::start();
    let url = server.url();
    let js = jetstream::new(connect(&url).await);
    create_streams(&js, &url).await;
    let recorder = Recorder::start(&url).await;
    let w = workload(2_000);
    let started = Instant::now();
    publish(&js, w.payloads.clone()).await;
    let timeout = Duration::from_secs(5);
    let flags = [
        "--stages",
        "delay",
        "--delay",
        "30ms",
        "--threads",
        "8",
        "--in-flight",
        "32",
        "--ack-wait",
        "2s",
        "--shutdown-timeout",
        "5s",
    ];
    let mut workers: Vec<Child> = (0..2).map(|_| spawn_worker(&url, &flags)).collect();
    let mut exits = Vec::new();
    let mut clean = true;
    for (victim, at) in [(0, 0.3), (1, 0.6)] {
        wait_progress(&js, &w, at).await;
        sigterm(&workers[victim]);
        match wait_exit(&mut workers[victim], timeout + Duration::from_secs(2)).await {
            Some((status, secs)) => {
                clean &= status.success();
                exits.push(secs);
            }
            None => clean = false,
        }
        workers[victim] = spawn_worker(&url, &flags);
    }
    let done = wait_finished(&js, &w, Duration::from_secs(90)).await;
    for worker in &workers {
        sigterm(worker);
    }
    for worker in &mut workers {
        match wait_exit(worker, timeout + Duration::from_secs(2)).await {
            Some((status, secs)) => {
                clean &= status.success();
                exits.push(secs);
            }
            None => clean = false,
        }
    }
    let mut row = measure(&js, &w, recorder, "SIGTERM under load (4 exits)", started).await;
    let slowest = exits.iter().copied().fold(0.0, f64::max);
    row.note = format!(
        "{} exits of 4 within the {}s timeout, slowest {slowest:.1} s",
        exits.len(),
        timeout.as_secs()
    );
    row.fail_unless(clean && exits.len() == 4, "UNCLEAN OR LATE EXIT");
    row.check_redundant_publishes();
    row.fail_unless(done, "TIMED OUT");
    row
}

/// Writes to the real stderr: the table shows in `cargo test` output even when the test passes
/// (libtest captures only the `print!` macros).
fn show(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_injection_suite_loses_nothing_and_duplicates_nothing() {
    let mut rows = Vec::new();
    for scenario in [0, 1, 2, 3, 4] {
        let row = match scenario {
            0 => worker_kills().await,
            1 => broker_kills().await,
            2 => slow_stage("stage 2.5 s > ack wait 1 s, all in a stage", "40").await,
            3 => slow_stage("stage 2.5 s > ack wait 1 s, prefetch waits", "20").await,
            _ => sigterm_under_load().await,
        };
        show(&table(std::slice::from_ref(&row)));
        rows.push(row);
    }
    let report = table(&rows);
    show(&format!("\nFault-injection suite\n{report}"));
    for row in &rows {
        assert!(row.passed(), "scenario failed: {row:?}\n{report}");
    }
}

/// A record that grows past the broker's `max_payload` (1 MiB by default) cannot be stored by
/// any retry: it is dead-lettered on its first delivery instead of being nak'ed max-deliver
/// times.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_record_over_the_brokers_max_payload_is_dead_lettered_at_once() {
    let server = NatsServer::start();
    let url = server.url();
    let js = jetstream::new(connect(&url).await);
    let worker = Worker::start(
        &url,
        lede::pipeline::Pipeline::new(vec![], false),
        Duration::from_secs(5),
        4 << 20,
    )
    .await;
    // 600 KB of quotes as plain text: JSON-escaped in the record it doubles to 1.2 MB.
    let swelling = "\"".repeat(600_000).into_bytes();
    publish(
        &js,
        vec![swelling.clone(), article("fine", "A normal article.")],
    )
    .await;
    wait_for_messages(&js, "ARTICLES_DLQ", 1).await;
    wait_for_messages(&js, "ARTICLES_ENRICHED", 1).await;
    wait_consumer_idle(&js).await;
    let dead = read_all(&js, "ARTICLES_DLQ").await;
    let header = |name: &str| {
        dead[0]
            .headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_owned())
    };
    assert_eq!(header("Lede-Error-Kind").as_deref(), Some("too_large"));
    assert_eq!(header("Lede-Delivery").as_deref(), Some("1"), "no retries");
    assert!(
        header("Lede-Error")
            .unwrap_or_default()
            .contains("max_payload"),
        "{:?}",
        header("Lede-Error")
    );
    assert_eq!(
        dead[0].payload.len(),
        swelling.len(),
        "the original payload"
    );
    assert_eq!(
        worker
            .stats
            .retried
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    worker.stop().await;
}

/// Sleeps 3 s on articles that mention "stuck" (a stand-in for a stage that hangs).
struct HangsOnStuck;
impl lede::pipeline::Stage for HangsOnStuck {
    fn name(&self) -> &'static str {
        "hangs_on_stuck"
    }
    fn process(
        &self,
        doc: &mut lede::pipeline::Document,
    ) -> Result<(), lede::pipeline::StageError> {
        if doc.text.contains("stuck") {
            std::thread::sleep(Duration::from_secs(3));
        }
        Ok(())
    }
}

/// A stage that does not return within the article's budget: the worker stops waiting at the
/// budget (plus grace), dead-letters the article as `deadline_exceeded` on its first delivery,
/// and keeps serving the next ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_stage_is_dead_lettered_at_the_deadline_and_the_worker_goes_on() {
    let server = NatsServer::start();
    let url = server.url();
    let js = jetstream::new(connect(&url).await);
    let pipeline = lede::pipeline::Pipeline::new(vec![Arc::new(HangsOnStuck)], false)
        .with_deadline(Some(Duration::from_millis(300)));
    let worker = Worker::start(&url, pipeline, Duration::from_secs(5), 1 << 20).await;
    let started = Instant::now();
    publish(
        &js,
        vec![
            article("hung", "This article gets the stage stuck."),
            article("next", "The next article is fine."),
        ],
    )
    .await;
    wait_for_messages(&js, "ARTICLES_DLQ", 1).await;
    let dead_after = started.elapsed();
    wait_for_messages(&js, "ARTICLES_ENRICHED", 1).await;
    wait_consumer_idle(&js).await;
    let dead = read_all(&js, "ARTICLES_DLQ").await;
    let header = |name: &str| {
        dead[0]
            .headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_owned())
    };
    assert_eq!(
        header("Lede-Error-Kind").as_deref(),
        Some("deadline_exceeded")
    );
    assert_eq!(header("Lede-Delivery").as_deref(), Some("1"));
    assert!(
        header("Lede-Error")
            .unwrap_or_default()
            .contains("still running"),
        "the transport, not the stage's return, ended the wait: {:?}",
        header("Lede-Error")
    );
    assert!(
        dead_after < Duration::from_millis(2_500),
        "dead-lettered before the stage returned (3 s): {dead_after:?}"
    );
    worker.stop().await;
}

/// SIGTERM after the broker has died with articles in flight: the worker cannot hand them back
/// or flush its acks, so it must give up on the broker and exit (the articles are redelivered
/// to the next worker), not wait forever on a connection that never comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_with_the_broker_gone_exits_within_the_shutdown_timeout() {
    let mut server = NatsServer::start();
    let url = server.url();
    let js = jetstream::new(connect(&url).await);
    create_streams(&js, &url).await;
    let mut worker = spawn_lede_worker(
        &url,
        &[
            "--stages",
            "delay",
            "--delay",
            "2s",
            "--shutdown-timeout",
            "1s",
        ],
    );
    publish(
        &js,
        (0..8)
            .map(|i| article(&format!("a{i}"), "Held in flight."))
            .collect(),
    )
    .await;
    let deadline = Instant::now() + WAIT;
    loop {
        // The worker creates the consumer once it has started.
        let stream = js.get_stream("ARTICLES").await.expect("stream");
        if let Ok(mut c) = stream
            .get_consumer::<jetstream::consumer::pull::Config>("lede")
            .await
            && c.info().await.expect("consumer info").num_ack_pending > 0
        {
            break;
        }
        assert!(Instant::now() < deadline, "nothing went in flight");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.kill();
    sigterm(&worker);
    // 1 s shutdown timeout, then at most CLOSE_TIMEOUT (5 s) each for the flush and the drain.
    let exited = wait_exit(&mut worker, Duration::from_secs(20)).await;
    let (status, seconds) = exited.expect("the worker still runs 20 s after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    assert!(seconds < 15.0, "took {seconds:.1} s");
}
