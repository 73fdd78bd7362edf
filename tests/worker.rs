//! The JetStream worker against a real nats-server: round trip, dead letters, load sharing,
//! crash and signal handling, trace propagation, broker restarts.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use async_nats::jetstream;
use common::*;
use lede::pipeline::{self, Pipeline, StageOptions};
use lede::record::EnrichedArticle;

fn delay_pipeline(ms: u64) -> Pipeline {
    pipeline::build(
        &["delay".to_owned()],
        &StageOptions {
            delay: Duration::from_millis(ms),
            ..StageOptions::default()
        },
    )
    .unwrap()
}

fn header<'a>(m: &'a async_nats::Message, name: &str) -> Option<&'a str> {
    m.headers.as_ref()?.get(name).map(|v| v.as_str())
}

fn ids(messages: &[async_nats::Message]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            let r: EnrichedArticle = serde_json::from_slice(&m.payload).expect("record");
            r.id
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn round_trip_stores_one_record_per_article_and_acks_the_input() {
    let server = NatsServer::start();
    let js = jetstream::new(connect(&server.url()).await);
    let worker = Worker::start(
        &server.url(),
        delay_pipeline(0),
        Duration::from_secs(5),
        1 << 20,
    )
    .await;

    publish(
        &js,
        vec![
            article("a1", "Iran’s defence minister met his Iraqi counterpart."),
            b"A plain text article, not JSON.".to_vec(),
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed.jsonl")).unwrap(),
        ],
    )
    .await;
    wait_for_messages(&js, "ARTICLES_ENRICHED", 3).await;
    wait_consumer_idle(&js).await;
    let out = read_all(&js, "ARTICLES_ENRICHED").await;
    let records: Vec<EnrichedArticle> = out
        .iter()
        .map(|m| serde_json::from_slice(&m.payload).unwrap())
        .collect();
    // Articles are processed concurrently, so records come in any order.
    let by_text = |t: &str| records.iter().find(|r| r.text.starts_with(t)).expect(t);
    assert_eq!(by_text("Iran’s defence minister met").id, "a1");
    let plain = by_text("A plain text article");
    assert_eq!(
        plain.id,
        lede::record::RawArticle::decode(b"A plain text article, not JSON.", 1 << 20)
            .unwrap()
            .id
    );
    let seed = by_text("Iran’s defence minister says");
    assert_eq!(seed.id, "seed-iran-defence-minister");
    assert_eq!(seed.source.as_deref(), Some("seed"));
    for (m, r) in out.iter().zip(&records) {
        assert_eq!(r.schema, "lede.enriched/1");
        assert_eq!(header(m, "Nats-Msg-Id"), Some(r.id.as_str()));
        assert!(header(m, "traceparent").is_some());
    }
    assert_eq!(
        stream_state(&js, "ARTICLES").await.messages,
        0,
        "acked inputs leave the work queue"
    );
    assert_eq!(stream_state(&js, "ARTICLES_DLQ").await.messages, 0);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_goes_to_the_dlq_with_its_reason_and_the_next_article_still_flows() {
    let server = NatsServer::start();
    let js = jetstream::new(connect(&server.url()).await);
    let worker = Worker::start(
        &server.url(),
        delay_pipeline(0),
        Duration::from_secs(5),
        200,
    )
    .await;

    let bad: Vec<(Vec<u8>, &str)> = vec![
        (b"{\"text\": \"unterminated".to_vec(), "invalid_json"),
        (b"\xff\xfe not utf-8".to_vec(), "invalid_utf8"),
        (
            br#"{"id":"t","title":"no body"}"#.to_vec(),
            "missing_content",
        ),
        (article("big", &"x".repeat(300)), "too_large"),
        (
            br#"{"id":"h","html":"<p>html needs the clean stage</p>"}"#.to_vec(),
            "no_text",
        ),
    ];
    let mut payloads: Vec<Vec<u8>> = bad.iter().map(|(p, _)| p.clone()).collect();
    payloads.push(article("good", "The next article is fine."));
    publish(&js, payloads).await;

    wait_for_messages(&js, "ARTICLES_DLQ", bad.len() as u64).await;
    wait_for_messages(&js, "ARTICLES_ENRICHED", 1).await;
    wait_consumer_idle(&js).await;
    let dead = read_all(&js, "ARTICLES_DLQ").await;
    assert_eq!(dead.len(), bad.len());
    for (payload, kind) in &bad {
        // The original payload is kept; order is not (articles are processed concurrently).
        let m = dead
            .iter()
            .find(|m| m.payload[..] == payload[..])
            .expect("payload in the DLQ");
        assert_eq!(header(m, "Lede-Error-Kind"), Some(*kind));
        let reason = header(m, "Lede-Error").unwrap_or_default();
        assert!(reason.len() > 10, "a clear reason, got {reason:?}");
    }
    assert_eq!(ids(&read_all(&js, "ARTICLES_ENRICHED").await), ["good"]);
    assert_eq!(
        stream_state(&js, "ARTICLES").await.messages,
        0,
        "rejects are terminated"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panicking_stage_dead_letters_the_article_and_the_worker_goes_on() {
    let server = NatsServer::start();
    let js = jetstream::new(connect(&server.url()).await);
    let pipeline = Pipeline::new(vec![std::sync::Arc::new(PanicOn("poison"))], false);
    let worker = Worker::start(&server.url(), pipeline, Duration::from_secs(5), 1 << 20).await;
    publish(
        &js,
        vec![article("p", "poison pill"), article("ok", "fine")],
    )
    .await;
    wait_for_messages(&js, "ARTICLES_DLQ", 1).await;
    wait_for_messages(&js, "ARTICLES_ENRICHED", 1).await;
    let dead = read_all(&js, "ARTICLES_DLQ").await;
    assert_eq!(header(&dead[0], "Lede-Error-Kind"), Some("panic"));
    assert!(header(&dead[0], "Lede-Error").unwrap().contains("poison"));
    worker.stop().await;
}

struct PanicOn(&'static str);
impl lede::pipeline::Stage for PanicOn {
    fn name(&self) -> &'static str {
        "panic_on"
    }
    fn process(
        &self,
        doc: &mut lede::pipeline::Document,
    ) -> Result<(), lede::pipeline::StageError> {
        assert!(!doc.text.contains(self.0), "refusing to process {}", self.0);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_on_one_consumer_split_the_load_and_output_each_article_once() {
    let server = NatsServer::start();
    let js = jetstream::new(connect(&server.url()).await);
    let a = Worker::start(
        &server.url(),
        delay_pipeline(5),
        Duration::from_secs(5),
        1 << 20,
    )
    .await;
    let b = Worker::start(
        &server.url(),
        delay_pipeline(5),
        Duration::from_secs(5),
        1 << 20,
    )
    .await;
    let n = 300;
    publish(
        &js,
        (0..n)
            .map(|i| article(&format!("n{i}"), &format!("Article number {i}.")))
            .collect(),
    )
    .await;
    wait_for_messages(&js, "ARTICLES_ENRICHED", n).await;
    wait_consumer_idle(&js).await;
    let got = ids(&read_all(&js, "ARTICLES_ENRICHED").await);
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!((got.len(), unique.len()), (n as usize, n as usize));
    let (ea, eb) = (
        a.stats.enriched.load(std::sync::atomic::Ordering::Relaxed),
        b.stats.enriched.load(std::sync::atomic::Ordering::Relaxed),
    );
    assert_eq!(ea + eb, n);
    assert!(
        ea > n / 10 && eb > n / 10,
        "both workers took a share: {ea} / {eb}"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sigkilled_worker_loses_nothing_and_duplicates_nothing() {
    let server = NatsServer::start();
    let url = server.url();
    let js = jetstream::new(connect(&url).await);
    create_streams(&js, &url).await;
    let n = 60;
    publish(
        &js,
        (0..n)
            .map(|i| article(&format!("k{i}"), &format!("Killed worker article {i}.")))
            .collect(),
    )
    .await;
    let flags = [
        "--stages",
        "delay",
        "--delay",
        "150ms",
        "--in-flight",
        "8",
        "--threads",
        "8",
        "--ack-wait",
        "2s",
    ];
    let mut first = spawn_lede_worker(&url, &flags);
    wait_for_messages(&js, "ARTICLES_ENRICHED", 10).await;
    let mut input = js.get_stream("ARTICLES").await.unwrap();
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        input.get_consumer("lede").await.unwrap();
    let in_flight_at_kill = consumer.info().await.unwrap().num_ack_pending;
    first.kill().expect("SIGKILL");
    first.wait().expect("reap");
    let after_kill = stream_state(&js, "ARTICLES_ENRICHED").await.messages;
    assert!(
        after_kill < n,
        "the worker was killed mid-run ({after_kill} of {n} done)"
    );
    assert!(
        in_flight_at_kill > 0,
        "articles were in flight (un-acked) when the worker died"
    );
    let _ = &mut input;

    let mut second = spawn_lede_worker(&url, &flags);
    wait_for_messages(&js, "ARTICLES_ENRICHED", n).await;
    wait_consumer_idle(&js).await;
    let got = ids(&read_all(&js, "ARTICLES_ENRICHED").await);
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(
        (got.len(), unique.len()),
        (n as usize, n as usize),
        "each article exactly once"
    );
    second.kill().ok();
    second.wait().ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_in_flight_articles_acks_them_and_exits_zero() {
    let server = NatsServer::start();
    let url = server.url();
    let js = jetstream::new(connect(&url).await);
    create_streams(&js, &url).await;
    let mut worker = spawn_lede_worker(
        &url,
        &[
            "--stages",
            "delay",
            "--delay",
            "1500ms",
            "--in-flight",
            "4",
            "--threads",
            "4",
            "--shutdown-timeout",
            "20s",
        ],
    );
    publish(
        &js,
        (0..4)
            .map(|i| article(&format!("t{i}"), "Slow article."))
            .collect(),
    )
    .await;
    // Wait until all four are in flight (delivered, not yet acked).
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let s = js.get_stream("ARTICLES").await.unwrap();
        if let Ok(mut c) = s
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>("lede")
            .await
        {
            let info = c.info().await.unwrap();
            if info.num_ack_pending == 4 {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "articles never got in flight"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = worker.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = worker.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < WAIT,
            "worker did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(
        stream_state(&js, "ARTICLES_ENRICHED").await.messages,
        4,
        "in-flight work finished"
    );
    let info = wait_consumer_idle(&js).await;
    assert_eq!(
        info.num_redelivered, 0,
        "finished articles were acked, not redelivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn traceparent_is_continued_on_the_output() {
    let server = NatsServer::start();
    let client = connect(&server.url()).await;
    let js = jetstream::new(client.clone());
    let worker = Worker::start(
        &server.url(),
        delay_pipeline(0),
        Duration::from_secs(5),
        1 << 20,
    )
    .await;
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("traceparent", parent);
    headers.insert("Nats-Msg-Id", "traced");
    js.publish_with_headers(
        "articles.raw",
        headers,
        article("traced", "Traced article.").into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    publish(&js, vec![article("untraced", "No trace header.")]).await;
    wait_for_messages(&js, "ARTICLES_ENRICHED", 2).await;
    let out = read_all(&js, "ARTICLES_ENRICHED").await;
    // Records come in any order: find each by its id.
    let by_id = |id: &str| {
        out.iter()
            .find(|m| header(m, "Nats-Msg-Id") == Some(id))
            .expect(id)
    };
    let child = header(by_id("traced"), "traceparent").unwrap();
    assert!(
        child.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{child}"
    );
    assert_ne!(child, parent, "lede's own span id");
    let root = header(by_id("untraced"), "traceparent").unwrap();
    assert!(!root.contains("4bf92f3577b34da6a3ce929d0e0e4736"));
    assert_eq!(
        lede::transport::trace::TraceParent::parse(root).map(|t| t.flags),
        Some(1)
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_restart_loses_nothing_and_duplicates_nothing() {
    let mut server = NatsServer::start();
    let url = server.url();
    let js = jetstream::new(connect(&url).await);
    let worker = Worker::start(&url, delay_pipeline(20), Duration::from_secs(3), 1 << 20).await;
    let n = 200;
    publish(
        &js,
        (0..n)
            .map(|i| article(&format!("r{i}"), &format!("Restart article {i}.")))
            .collect(),
    )
    .await;
    wait_for_messages(&js, "ARTICLES_ENRICHED", 20).await;
    server.restart();
    let js = jetstream::new(connect(&url).await);
    let at_restart = stream_state(&js, "ARTICLES_ENRICHED").await.messages;
    assert!(
        at_restart < n,
        "the broker died mid-run ({at_restart} of {n} done)"
    );
    wait_for_messages(&js, "ARTICLES_ENRICHED", n).await;
    wait_consumer_idle(&js).await;
    let got = ids(&read_all(&js, "ARTICLES_ENRICHED").await);
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!((got.len(), unique.len()), (n as usize, n as usize));
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_ensure_streams_a_missing_stream_is_a_clear_startup_error() {
    let server = NatsServer::start();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lede"))
        .args([
            "worker",
            "--nats-url",
            &server.url(),
            "--ensure-streams=false",
            "--stages",
            "",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stream ARTICLES") && stderr.contains("--ensure-streams"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_core_transport_serves_a_queue_group() {
    let server = NatsServer::start();
    let client = connect(&server.url()).await;
    let mut out = client.subscribe("articles.enriched").await.unwrap();
    let mut worker = spawn_lede_worker(&server.url(), &["--transport", "core", "--stages", ""]);
    // Core NATS keeps nothing: publish until the worker's subscription is up.
    let record = tokio::time::timeout(WAIT, async {
        loop {
            client
                .publish("articles.raw", article("c1", "Core article.").into())
                .await
                .unwrap();
            if let Ok(Some(m)) = tokio::time::timeout(
                Duration::from_millis(200),
                futures::StreamExt::next(&mut out),
            )
            .await
            {
                return m;
            }
        }
    })
    .await
    .expect("no record from the core worker");
    let r: EnrichedArticle = serde_json::from_slice(&record.payload).unwrap();
    assert_eq!(r.id, "c1");
    worker.kill().ok();
    worker.wait().ok();
}

/// Publishes `payload` on core NATS until a message arrives on `sub` (core NATS keeps nothing,
/// so the first publishes may go out before the worker has subscribed).
async fn publish_until_reply(
    client: &async_nats::Client,
    sub: &mut async_nats::Subscriber,
    payload: Vec<u8>,
    every: Duration,
) -> async_nats::Message {
    tokio::time::timeout(WAIT, async {
        loop {
            client
                .publish("articles.raw", payload.clone().into())
                .await
                .unwrap();
            if let Ok(Some(m)) = tokio::time::timeout(every, futures::StreamExt::next(sub)).await {
                return m;
            }
        }
    })
    .await
    .expect("no reply from the core worker")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_core_transport_has_the_jetstream_deadline_and_headers() {
    let server = NatsServer::start();
    let client = connect(&server.url()).await;
    let mut out = client.subscribe("articles.enriched").await.unwrap();
    let mut dlq = client.subscribe("articles.dlq").await.unwrap();
    let mut worker = spawn_lede_worker(
        &server.url(),
        &[
            "--transport",
            "core",
            "--threads",
            "1",
            "--stages",
            "delay",
            "--delay",
            "3s",
            "--deadline",
            "100ms",
        ],
    );
    // A stage stuck past the budget: dead-lettered at budget + grace, not when it returns.
    let stuck = publish_until_reply(
        &client,
        &mut dlq,
        article("late", "A slow article."),
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(header(&stuck, "Lede-Error-Kind"), Some("deadline_exceeded"));
    assert!(header(&stuck, "Lede-Error").is_some_and(|e| e.contains("--deadline")));
    assert_eq!(header(&stuck, "Lede-Delivery"), Some("1"));
    assert!(header(&stuck, "traceparent").is_some());
    worker.kill().ok();
    worker.wait().ok();
    drop(dlq);

    // A fresh subscription: nothing the stuck worker sent can be read as the next reply.
    let mut dlq = client.subscribe("articles.dlq").await.unwrap();
    let mut worker = spawn_lede_worker(&server.url(), &["--transport", "core", "--stages", ""]);
    let record = publish_until_reply(
        &client,
        &mut out,
        article("c2", "Core article."),
        Duration::from_millis(200),
    )
    .await;
    assert_eq!(header(&record, "Nats-Msg-Id"), Some("c2"));
    assert_eq!(
        header(&record, "Lede-Schema"),
        Some(lede::record::ENRICHED_SCHEMA)
    );
    assert_eq!(header(&record, "Content-Type"), Some("application/json"));
    assert!(header(&record, "traceparent").is_some());
    let bad = publish_until_reply(
        &client,
        &mut dlq,
        b"{\"text\": ".to_vec(),
        Duration::from_millis(200),
    )
    .await;
    assert_eq!(header(&bad, "Lede-Error-Kind"), Some("invalid_json"));
    assert_eq!(header(&bad, "Lede-Delivery"), Some("1"));
    worker.kill().ok();
    worker.wait().ok();
}
