//! lede on a real 3-node JetStream cluster on loopback, through leader elections and crashes.
//!
//! Three `nats-server`s, each with its own store and a `cluster {}` block routing to all three;
//! the R3 streams and the consumer are provisioned from `deploy/k8s/nats/*.json` (with
//! `num_replicas: 3`, and a 2 s ack wait instead of 30 s so that a killed worker's articles come
//! back within the test). Workers bind with `--ensure-streams=false` and get all three URLs.
//! While 2,000 articles and 100 malformed ones flow, the input stream's leader node is SIGKILLed and
//! restarted (a worker is started during that election and must come up), then the node that
//! leads next, then a worker. Nothing may be lost, nothing stored twice, every malformed
//! article dead-lettered once.
//!
//! "Stored twice" is counted by the record's own `id` and by the dedup key, over the streams'
//! contents: a stream replica that lost its duplicate-window state in an election, or a worker
//! that published one article under two keys, would show there. "Redundant publishes" are the
//! publishes the windows absorbed, seen by a plain subscription on the output and DLQ subjects
//! (a lower bound: that subscription reconnects when its node dies).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream};
use common::cluster::{Cluster, cluster_client};
use common::{WAIT, article, free_port};
use futures::StreamExt;
use lede::record::EnrichedArticle;

/// Every 21st payload is malformed: 2,000 good articles and 100 malformed ones.
const MALFORMED_EVERY: usize = 21;
/// Payloads of the run.
const ARTICLES: usize = 2_100;
/// The whole scenario must finish within this (it takes well under a minute here).
const SCENARIO_LIMIT: Duration = Duration::from_secs(90);

/// Retries a JetStream call through an election, for at most [`WAIT`].
async fn retry<T, E: std::fmt::Display, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) => {
                assert!(Instant::now() < deadline, "{what}: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

fn deploy_file(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/deploy/k8s/nats/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("deploy file")
}

/// The streams and consumer operations would provision, from `deploy/k8s/nats/`, as R3.
async fn provision(js: &jetstream::Context) {
    for name in ["ARTICLES", "ARTICLES_ENRICHED", "ARTICLES_DLQ"] {
        let mut config: stream::Config =
            serde_json::from_str(&deploy_file(&format!("stream-{name}.json"))).unwrap();
        config.num_replicas = 3;
        retry(&format!("create stream {name}"), || {
            js.create_stream(config.clone())
        })
        .await;
    }
    let mut config: consumer::Config =
        serde_json::from_str(&deploy_file("consumer-lede.json")).unwrap();
    assert_eq!(
        config.max_deliver, 5,
        "the provisioned consumer bounds redelivery"
    );
    // A 30 s ack wait would make each killed worker's articles wait 30 s: 2 s, same shape.
    config.ack_wait = Duration::from_secs(2);
    config.backoff = (0..5).map(|i| Duration::from_secs(2 << i)).collect();
    let input = retry("get ARTICLES", || js.get_stream("ARTICLES")).await;
    retry("create consumer lede", || {
        input.create_consumer(config.clone())
    })
    .await;
}

/// The input stream's leader node, by server name.
async fn input_leader(js: &jetstream::Context) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(mut s) = js.get_stream("ARTICLES").await
            && let Ok(info) = s.info().await
            && let Some(leader) = info.cluster.as_ref().and_then(|c| c.leader.clone())
        {
            return leader;
        }
        assert!(Instant::now() < deadline, "no ARTICLES leader in {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The articles: good ones `g-<i>`, malformed ones carry `bad-<i>` in the payload.
fn workload() -> (Vec<Vec<u8>>, usize) {
    let mut bad = 0;
    let payloads = (0..ARTICLES)
        .map(|i| {
            if i % MALFORMED_EVERY == MALFORMED_EVERY - 1 {
                bad += 1;
                match (i / MALFORMED_EVERY) % 3 {
                    0 => format!(r#"{{"id":"bad-{i}","text": "unterminated"#).into_bytes(),
                    1 => format!(r#"{{"id":"bad-{i}","title":"no body"}}"#).into_bytes(),
                    _ => format!(r#"{{"id":"bad-{i}","text": 42}}"#).into_bytes(),
                }
            } else {
                article(
                    &format!("g-{i}"),
                    &format!("Article {i}: the council met on Tuesday in Leeds."),
                )
            }
        })
        .collect();
    (payloads, bad)
}

fn bad_label(payload: &[u8]) -> Option<String> {
    let at = payload.windows(4).position(|w| w == b"bad-")?;
    let digits: String = payload[at + 4..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| char::from(b))
        .collect();
    (!digits.is_empty()).then(|| format!("bad-{digits}"))
}

/// A `lede worker` bound to the provisioned cluster, logging to a file.
struct LedeWorker {
    child: Child,
    http_port: u16,
    log: PathBuf,
}

impl LedeWorker {
    fn spawn(urls: &str, logs: &std::path::Path, n: usize) -> Self {
        let http_port = free_port();
        let log = logs.join(format!("worker-{n}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_lede"))
            .args(["worker", "--nats-url", urls, "--ensure-streams=false"])
            .args(["--stages", "delay", "--delay", "15ms", "--threads", "4"])
            .args(["--in-flight", "16", "--startup-timeout", "60s"])
            .args(["--http-addr", &format!("127.0.0.1:{http_port}")])
            .env("RUST_LOG", "info")
            .env("LEDE_LOG_FORMAT", "pretty")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("cannot start lede worker");
        Self {
            child,
            http_port,
            log,
        }
    }

    /// `/readyz`'s status line and body.
    fn readyz(&self) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.http_port)).ok()?;
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        s.write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .ok()?;
        let mut response = String::new();
        let _ = s.read_to_string(&mut response);
        Some(response)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Counts every publish on the output and DLQ subjects (keyed by dedup id / bad label).
struct Recorder {
    enriched: Arc<Mutex<usize>>,
    dead: Arc<Mutex<usize>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Recorder {
    async fn start(urls: &str) -> Self {
        let addrs = lede::transport::server_addrs(urls).unwrap();
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(1 << 20)
            .connect(addrs)
            .await
            .expect("recorder connect");
        let enriched = Arc::new(Mutex::new(0));
        let dead = Arc::new(Mutex::new(0));
        let mut tasks = Vec::new();
        for (subject, count) in [
            ("articles.enriched", enriched.clone()),
            ("articles.dlq", dead.clone()),
        ] {
            let mut sub = client.subscribe(subject).await.expect("subscribe");
            tasks.push(tokio::spawn(async move {
                while sub.next().await.is_some() {
                    *count.lock().expect("lock") += 1;
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

    fn publishes(&self) -> usize {
        *self.enriched.lock().expect("lock") + *self.dead.lock().expect("lock")
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn stored(js: &jetstream::Context, name: &str) -> u64 {
    match js.get_stream(name).await {
        Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or(0),
        Err(_) => 0,
    }
}

async fn consumer_info(js: &jetstream::Context) -> Option<consumer::Info> {
    let s = js.get_stream("ARTICLES").await.ok()?;
    let mut c: consumer::PullConsumer = s.get_consumer("lede").await.ok()?;
    c.info().await.ok().cloned()
}

/// Fraction of the articles with an outcome stored.
async fn progress(js: &jetstream::Context) -> f64 {
    (stored(js, "ARTICLES_ENRICHED").await + stored(js, "ARTICLES_DLQ").await) as f64
        / ARTICLES as f64
}

async fn wait_progress(js: &jetstream::Context, fraction: f64) {
    let deadline = Instant::now() + WAIT;
    while progress(js).await < fraction {
        assert!(
            Instant::now() < deadline,
            "no progress to {fraction} in {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every stored message of `stream`, read from the start by a new consumer. A consumer just
/// created on a replicated stream, on a cluster that has just lost nodes, may answer its first
/// pulls with "no responders" (a CI run saw it): then the read starts again with a new consumer,
/// until `WAIT` has passed.
async fn read_all(js: &jetstream::Context, name: &str) -> Vec<async_nats::Message> {
    let total = stored(js, name).await as usize;
    let deadline = Instant::now() + WAIT;
    loop {
        match read_once(js, name, total, deadline).await {
            Ok(out) => return out,
            Err(e) => {
                assert!(Instant::now() < deadline, "reading {name}: {e}");
                eprintln!("reading {name} again with a new consumer: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

async fn read_once(
    js: &jetstream::Context,
    name: &str,
    total: usize,
    deadline: Instant,
) -> Result<Vec<async_nats::Message>, String> {
    let s = retry("get stream", || js.get_stream(name)).await;
    let reader: consumer::PullConsumer = retry("reader", || {
        s.create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
    })
    .await;
    let mut messages = reader.messages().await.map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = tokio::time::timeout(left, messages.next())
            .await
            .map_err(|_| format!("timed out after {} of {total} messages", out.len()))?
            .ok_or("the message stream ended")?
            .map_err(|e| format!("message error: {e}"))?;
        out.push(m.message);
    }
    Ok(out)
}

fn header(m: &async_nats::Message, name: &str) -> Option<String> {
    Some(m.headers.as_ref()?.get(name)?.as_str().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_three_node_cluster_loses_nothing_through_leader_kills_and_worker_kills() {
    let started = Instant::now();
    let mut cluster = Cluster::start();
    let urls = cluster.urls();
    let client = cluster_client(&urls).await;
    let js = jetstream::new(client);
    provision(&js).await;
    let logs = tempfile::tempdir().expect("log dir");
    let recorder = Recorder::start(&urls).await;
    let (payloads, bad) = workload();
    let summary = lede::transport::publish::publish_all(&js, "articles.raw", payloads, 256).await;
    assert_eq!(
        (summary.stored, summary.failed),
        (ARTICLES as u64, 0),
        "{summary}"
    );

    let mut spawned = 0;
    let mut spawn = |urls: &str| {
        spawned += 1;
        LedeWorker::spawn(urls, logs.path(), spawned)
    };
    let mut workers = vec![spawn(&urls), spawn(&urls)];
    let mut events = Vec::new();

    // 1. The input stream's leader dies; a worker starts during the election.
    wait_progress(&js, 0.15).await;
    let first = input_leader(&js).await;
    let i = cluster.index_of(&first);
    cluster.nodes[i].kill();
    let newcomer = spawn(&urls);
    let newcomer_spawned = Instant::now();
    events.push(format!("SIGKILL {first} (input leader)"));
    cluster.nodes[i].spawn();
    cluster.wait_healthy(i);
    let ready = loop {
        let response = newcomer.readyz().unwrap_or_default();
        if response.contains(" 200 ") {
            break true;
        }
        if newcomer_spawned.elapsed() > WAIT {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ready_after = newcomer_spawned.elapsed();
    assert!(
        ready,
        "the worker started during the election never became ready:\n{}",
        newcomer.log()
    );
    workers.push(newcomer);

    // 2. Another node: whichever leads the input stream now.
    wait_progress(&js, 0.4).await;
    let second = input_leader(&js).await;
    let j = if second == first {
        (i + 1) % 3
    } else {
        cluster.index_of(&second)
    };
    let second = cluster.nodes[j].name.clone();
    cluster.nodes[j].kill();
    events.push(format!("SIGKILL {second}"));
    cluster.nodes[j].spawn();
    cluster.wait_healthy(j);

    // 3. A worker, with articles in flight.
    wait_progress(&js, 0.6).await;
    workers[0].kill();
    events.push("SIGKILL worker 1".to_owned());
    workers[0] = spawn(&urls);

    // Done: every outcome stored and the consumer has nothing left.
    let good = (ARTICLES - bad) as u64;
    let deadline = started + SCENARIO_LIMIT;
    let finished = loop {
        let done = stored(&js, "ARTICLES_ENRICHED").await >= good
            && stored(&js, "ARTICLES_DLQ").await >= bad as u64
            && consumer_info(&js)
                .await
                .is_some_and(|c| c.num_pending == 0 && c.num_ack_pending == 0);
        if done || Instant::now() > deadline {
            break done;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let logs_text: String = workers
        .iter()
        .map(|w| format!("--- {}\n{}", w.log.display(), w.log()))
        .collect();
    assert!(
        finished,
        "not finished within {SCENARIO_LIMIT:?}: {} enriched, {} dead letters\n{logs_text}",
        stored(&js, "ARTICLES_ENRICHED").await,
        stored(&js, "ARTICLES_DLQ").await
    );

    // What the streams hold.
    let out = read_all(&js, "ARTICLES_ENRICHED").await;
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for m in &out {
        let r: EnrichedArticle = serde_json::from_slice(&m.payload).expect("record");
        *by_id.entry(r.id).or_default() += 1;
        *by_key
            .entry(header(m, "Nats-Msg-Id").unwrap_or_default())
            .or_default() += 1;
    }
    let dead = read_all(&js, "ARTICLES_DLQ").await;
    let mut dead_by_label: HashMap<String, usize> = HashMap::new();
    for m in &dead {
        let label = bad_label(&m.payload)
            .unwrap_or_else(|| format!("good-in-dlq:{:?}", header(m, "Lede-Error-Kind")));
        *dead_by_label.entry(label).or_default() += 1;
    }
    let (mut lost, mut misrouted) = (0, 0);
    for i in 0..ARTICLES {
        if i % MALFORMED_EVERY == MALFORMED_EVERY - 1 {
            lost += usize::from(!dead_by_label.contains_key(&format!("bad-{i}")));
            misrouted += usize::from(by_id.contains_key(&format!("bad-{i}")));
        } else {
            lost += usize::from(!by_id.contains_key(&format!("g-{i}")));
        }
    }
    misrouted += dead_by_label
        .keys()
        .filter(|k| k.starts_with("good-in-dlq"))
        .count();
    let twice = |m: &HashMap<String, usize>| m.values().map(|c| c - 1).sum::<usize>();
    let stored_twice = twice(&by_id) + twice(&by_key) + twice(&dead_by_label);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let redundant = recorder.publishes().saturating_sub(out.len() + dead.len());
    let deliveries = consumer_info(&js)
        .await
        .map_or(0, |c| c.delivered.consumer_sequence);
    let redeliveries = deliveries.saturating_sub(ARTICLES as u64);
    let seconds = started.elapsed().as_secs_f64();

    let mut table = String::from(
        "| scenario | sent | enriched | dead-lettered | lost | stored twice | misrouted | redundant publishes (absorbed by dedup, lower bound) | redeliveries | seconds | notes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    let _ = writeln!(
        table,
        "| 3-node cluster, R3 streams, 2,000 articles + 100 malformed | {ARTICLES} | {} | {} | {lost} | {stored_twice} | {misrouted} | {redundant} | {redeliveries} | {seconds:.1} | {}; a worker started during the first election became ready in {:.1} s |",
        by_id.len(),
        dead_by_label.len(),
        events.join(", "),
        ready_after.as_secs_f64(),
    );
    let _ = writeln!(std::io::stderr(), "\nCluster fault test\n{table}");
    assert_eq!(
        (lost, stored_twice, misrouted),
        (0, 0, 0),
        "{table}\n{logs_text}"
    );
    assert_eq!(
        dead_by_label.len(),
        bad,
        "every malformed article dead-lettered"
    );
    for mut w in workers {
        w.kill();
    }
}
