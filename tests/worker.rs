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

/// Polls `done` every 20 ms for at most [`WAIT`].
async fn wait_until(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not met in {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
        assert_eq!(r.revision.len(), 32, "every record names its revision");
        assert_eq!(
            header(m, "Nats-Msg-Id"),
            Some(format!("{}:{}", r.id, r.revision).as_str()),
            "the output is deduplicated per revision"
        );
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
    // The output stream would absorb a second publish of a record: watch the subject itself.
    let publishes = PublishCounter::start(&server.url(), "articles.enriched").await;
    publish(
        &js,
        (0..n)
            .map(|i| article(&format!("n{i}"), &format!("Article number {i}.")))
            .collect(),
    )
    .await;
    wait_for_messages(&js, "ARTICLES_ENRICHED", n).await;
    let info = wait_consumer_idle(&js).await;
    let got = ids(&read_all(&js, "ARTICLES_ENRICHED").await);
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!((got.len(), unique.len()), (n as usize, n as usize));
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let (ea, eb) = (load(&a.stats.enriched), load(&b.stats.enriched));
    assert_eq!(ea + eb, n);
    assert_eq!(info.num_redelivered, 0, "no fault, no redelivery");
    assert_eq!(
        load(&a.stats.duplicates) + load(&b.stats.duplicates),
        0,
        "no publish was a duplicate"
    );
    wait_until(|| publishes.total() >= n as usize).await;
    assert_eq!(
        publishes.total(),
        n as usize,
        "each article published exactly once by the workers, not deduplicated by the stream"
    );
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
    let publishes = PublishCounter::start(&url, "articles.enriched").await;
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
    let info = wait_consumer_idle(&js).await;
    let got = ids(&read_all(&js, "ARTICLES_ENRICHED").await);
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(
        (got.len(), unique.len()),
        (n as usize, n as usize),
        "each article exactly once (counted by the record's own id, not the dedup key)"
    );
    // Publishes the stream absorbed: only a redelivered article may be published again.
    wait_until(|| publishes.total() >= n as usize).await;
    let redeliveries = info.delivered.consumer_sequence - n;
    let redundant = publishes.total() - n as usize;
    assert!(
        redeliveries >= 1 && redundant as u64 <= redeliveries,
        "{redundant} redundant publishes for {redeliveries} redeliveries"
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
            "3s",
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
    // Delivered is not yet started: shutdown hands back at once what no stage has begun (its
    // own test below), and on a loaded machine (a CI run saw 1 of 4 finished) the stage threads
    // can start a moment after the delivery. A second into the 3 s stages, all four run.
    tokio::time::sleep(Duration::from_secs(1)).await;
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
            .find(|m| header(m, "Nats-Msg-Id").is_some_and(|h| h.starts_with(&format!("{id}:"))))
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
    // The worker's own account: first stores never exceed n (a first store whose publish ack
    // the restart swallowed is counted by no one, hence not equality). Unlike the worker-kill
    // rows, duplicates are not bounded by redeliveries here: a publish whose ack the restart
    // swallowed is repeated by the retry, and the consumer's delivery counts need not survive
    // the restart, so the output window's absorbing them is what keeps one record each.
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let (enriched, duplicates) = (load(&worker.stats.enriched), load(&worker.stats.duplicates));
    assert!(
        enriched - duplicates <= n,
        "{enriched} stores, {duplicates} duplicates"
    );
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
    assert!(header(&record, "Nats-Msg-Id").is_some_and(|id| id.starts_with("c2:")));
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

/// Records of `stream` by revision, with their article ids.
async fn revisions(js: &jetstream::Context, stream: &str) -> Vec<(String, String)> {
    read_all(js, stream)
        .await
        .iter()
        .map(|m| {
            let r: EnrichedArticle = serde_json::from_slice(&m.payload).expect("record");
            assert_eq!(
                header(m, "Nats-Msg-Id"),
                Some(format!("{}:{}", r.id, r.revision).as_str())
            );
            (r.id, r.revision)
        })
        .collect()
}

/// Publishes `payload` with an input `Nats-Msg-Id` of the caller's choosing (a producer that
/// does not follow lede's rule); returns whether the input stream called it a duplicate.
async fn publish_as(js: &jetstream::Context, msg_id: &str, payload: Vec<u8>) -> bool {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", msg_id);
    js.publish_with_headers("articles.raw", headers, payload.into())
        .await
        .unwrap()
        .await
        .unwrap()
        .duplicate
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn within_the_windows_a_correction_is_stored_and_an_identical_republish_is_not() {
    let server = NatsServer::start();
    let js = jetstream::new(connect(&server.url()).await);
    let worker = Worker::start(
        &server.url(),
        delay_pipeline(0),
        Duration::from_secs(5),
        1 << 20,
    )
    .await;
    let publishes = PublishCounter::start(&server.url(), "articles.enriched").await;
    let v1 = article("rev-1", "The minister resigned on Monday.");
    let v2 = article("rev-1", "The minister resigned on Tuesday, not Monday.");
    let first = lede::transport::publish::publish_all(&js, "articles.raw", [v1.clone()], 8).await;
    assert_eq!(first.stored, 1);
    wait_for_messages(&js, "ARTICLES_ENRICHED", 1).await;

    // `lede publish` of the same revision again: the input window drops it.
    let again = lede::transport::publish::publish_all(&js, "articles.raw", [v1.clone()], 8).await;
    assert_eq!((again.stored, again.duplicates), (0, 1), "{again}");
    // The same revision under another input id reaches the worker; the output window drops it.
    assert!(!publish_as(&js, "someone-elses-id", v1.clone()).await);
    wait_until(|| publishes.total() >= 2).await;
    // The correction, published the same way 1 s later, is a new revision: stored.
    let corrected =
        lede::transport::publish::publish_all(&js, "articles.raw", [v2.clone()], 8).await;
    assert_eq!(
        corrected.stored, 1,
        "the input window kept the correction: {corrected}"
    );
    wait_for_messages(&js, "ARTICLES_ENRICHED", 2).await;
    wait_consumer_idle(&js).await;

    let stored = revisions(&js, "ARTICLES_ENRICHED").await;
    let r1 = lede::record::RawArticle::decode(&v1, 1 << 20)
        .unwrap()
        .revision();
    let r2 = lede::record::RawArticle::decode(&v2, 1 << 20)
        .unwrap()
        .revision();
    assert_ne!(r1, r2);
    let mut want = vec![
        ("rev-1".to_owned(), r1.clone()),
        ("rev-1".to_owned(), r2.clone()),
    ];
    let mut got = stored.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "each revision stored exactly once");
    // What the worker published, seen on the subject: v1 twice (the second absorbed), v2 once.
    let seen = publishes.by_id();
    assert_eq!(seen.get(&format!("rev-1:{r1}")), Some(&2), "{seen:?}");
    assert_eq!(seen.get(&format!("rev-1:{r2}")), Some(&1), "{seen:?}");
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        load(&worker.stats.duplicates),
        1,
        "the identical republish, absorbed"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn beyond_the_windows_a_correction_is_stored_once_and_a_republish_keeps_its_revision() {
    let server = NatsServer::start();
    let url = server.url();
    let js = jetstream::new(connect(&url).await);
    // Every duplicate window 1 s, so that the test can step past them.
    let window = Duration::from_secs(1);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "ARTICLES".into(),
        subjects: vec!["articles.raw".into()],
        retention: async_nats::jetstream::stream::RetentionPolicy::WorkQueue,
        duplicate_window: window,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut args = nats_args(&url);
    args.duplicate_window = window;
    lede::transport::streams(&js, &args).await.unwrap();
    let worker = Worker::start(&url, delay_pipeline(0), Duration::from_secs(5), 1 << 20).await;
    let publishes = PublishCounter::start(&url, "articles.enriched").await;
    let v1 = article("late-1", "Early figures put the turnout at 41 per cent.");
    let v2 = article("late-1", "Final figures put the turnout at 44 per cent.");
    publish(&js, vec![v1.clone()]).await;
    wait_for_messages(&js, "ARTICLES_ENRICHED", 1).await;
    // Past both windows (the input's and the output's).
    tokio::time::sleep(window + Duration::from_millis(300)).await;
    publish(&js, vec![v2.clone()]).await;
    wait_for_messages(&js, "ARTICLES_ENRICHED", 2).await;
    tokio::time::sleep(window + Duration::from_millis(300)).await;
    // An identical republish beyond both windows is stored again, under the same revision: a
    // consumer's upsert on `id` leaves its copy unchanged.
    publish(&js, vec![v1.clone()]).await;
    wait_for_messages(&js, "ARTICLES_ENRICHED", 3).await;
    wait_consumer_idle(&js).await;
    let stored = revisions(&js, "ARTICLES_ENRICHED").await;
    let r1 = lede::record::RawArticle::decode(&v1, 1 << 20)
        .unwrap()
        .revision();
    let r2 = lede::record::RawArticle::decode(&v2, 1 << 20)
        .unwrap()
        .revision();
    let count = |r: &str| stored.iter().filter(|(_, rev)| rev == r).count();
    assert_eq!(
        count(&r2),
        1,
        "the correction stored exactly once: {stored:?}"
    );
    assert_eq!(
        count(&r1),
        2,
        "the late identical republish: same revision: {stored:?}"
    );
    assert_eq!(stored.len(), 3);
    assert_eq!(
        publishes.total(),
        3,
        "nothing published twice by the worker"
    );
    // The input sequence orders the versions: the correction's is above the first's.
    let out = read_all(&js, "ARTICLES_ENRICHED").await;
    let seq = |m: &async_nats::Message| -> u64 {
        header(m, "Lede-Source-Sequence").unwrap().parse().unwrap()
    };
    let seqs: Vec<u64> = out.iter().map(seq).collect();
    assert!(seqs[0] < seqs[1] && seqs[1] < seqs[2], "{seqs:?}");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exhausted_deliveries_are_dead_lettered_exactly_once_across_workers() {
    let server = NatsServer::start();
    let url = server.url();
    let js = jetstream::new(connect(&url).await);
    create_streams(&js, &url).await;
    // A consumer as operations would provision it: 2 deliveries, a 2 s ack wait.
    let input = js.get_stream("ARTICLES").await.unwrap();
    let crashed: async_nats::jetstream::consumer::PullConsumer = input
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("lede".into()),
            filter_subject: "articles.raw".into(),
            ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
            ack_wait: Duration::from_secs(2),
            max_deliver: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    let dead_publishes = PublishCounter::start(&url, "articles.dlq").await;
    let payload = article("crash-1", "Every worker that touches this article dies.");
    publish(&js, vec![payload.clone()]).await;
    // Two deliveries taken by "workers" that die without a word (never acked).
    for delivery in 1..=2 {
        let mut batch = crashed
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(10))
            .messages()
            .await
            .unwrap();
        let m = tokio::time::timeout(WAIT, futures::StreamExt::next(&mut batch))
            .await
            .expect("a delivery")
            .expect("a message")
            .unwrap();
        assert_eq!(m.info().unwrap().delivered, delivery);
    }
    // Two workers come up, bound to the provisioned consumer; the server will not deliver the
    // message again, and announces it once its last ack wait has run out.
    let options = WorkerOptions {
        ensure: false,
        ..WorkerOptions::default()
    };
    let a = Worker::start_with(&url, delay_pipeline(0), options.clone()).await;
    let b = Worker::start_with(&url, delay_pipeline(0), options).await;
    wait_for_messages(&js, "ARTICLES_DLQ", 1).await;
    let dead = read_all(&js, "ARTICLES_DLQ").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].payload[..], payload[..], "the original payload");
    assert_eq!(header(&dead[0], "Lede-Error-Kind"), Some("max_deliveries"));
    assert_eq!(header(&dead[0], "Lede-Delivery"), Some("2"));
    assert_eq!(header(&dead[0], "Lede-Article-Id"), Some("crash-1"));
    assert_eq!(header(&dead[0], "Nats-Msg-Id"), Some("dlq-1"));
    // Nothing stranded: the message left the work queue.
    let deadline = std::time::Instant::now() + WAIT;
    while stream_state(&js, "ARTICLES").await.messages > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "still in the work queue"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(load(&a.stats.exhausted) + load(&b.stats.exhausted), 1);
    let copies = load(&a.stats.exhausted)
        + load(&b.stats.exhausted)
        + load(&a.stats.exhausted_duplicates)
        + load(&b.stats.exhausted_duplicates);
    assert_eq!(
        dead_publishes.total() as u64,
        copies,
        "every copy a worker published is accounted for; the DLQ's dedup kept one"
    );
    a.stop().await;
    b.stop().await;
    assert_eq!(stream_state(&js, "ARTICLES_DLQ").await.messages, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_hands_back_at_once_what_no_stage_has_started() {
    let server = NatsServer::start();
    let url = server.url();
    let js = jetstream::new(connect(&url).await);
    // Six held at once, one at a time on the CPU, 1.5 s each.
    let worker = Worker::start_with(
        &url,
        delay_pipeline(1500),
        WorkerOptions {
            in_flight: 6,
            cpu_threads: 1,
            ack_wait: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(20),
            ..WorkerOptions::default()
        },
    )
    .await;
    publish(
        &js,
        (0..6)
            .map(|i| article(&format!("s{i}"), "Held while another is worked on."))
            .collect(),
    )
    .await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let s = js.get_stream("ARTICLES").await.unwrap();
        let mut c: async_nats::jetstream::consumer::PullConsumer =
            s.get_consumer("lede").await.unwrap();
        if c.info().await.unwrap().num_ack_pending == 6 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never all six held");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = worker.stats.clone();
    let started = std::time::Instant::now();
    worker.stop().await;
    let took = started.elapsed();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        load(&stats.enriched),
        1,
        "only the one in a stage was finished"
    );
    assert_eq!(
        load(&stats.not_started),
        5,
        "the five waiting were handed back"
    );
    assert!(
        took < Duration::from_millis(3_000),
        "stopped after the one running article, not all six: {took:?}"
    );
    // Nak'ed, so deliverable again at once: a fresh pull gets all five well inside the 30 s
    // ack wait (a message merely dropped would come back only after it).
    let s = js.get_stream("ARTICLES").await.unwrap();
    let c: async_nats::jetstream::consumer::PullConsumer = s.get_consumer("lede").await.unwrap();
    let mut batch = c
        .fetch()
        .max_messages(5)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .unwrap();
    let mut back = 0;
    while let Some(m) = futures::StreamExt::next(&mut batch).await {
        m.unwrap();
        back += 1;
    }
    assert_eq!(
        back, 5,
        "the five handed back are deliverable again at once"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "redelivered within the ack wait"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_failure_names_the_url_and_the_cause() {
    let dead = format!("nats://127.0.0.1:{}", free_port());
    let started = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lede"))
        .args([
            "worker",
            "--nats-url",
            &dead,
            "--startup-timeout",
            "2s",
            "--stages",
            "",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warns: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("Waiting for NATS"))
        .collect();
    assert!(!warns.is_empty(), "{stderr}");
    for line in &warns {
        assert!(
            line.contains(&dead) && line.to_lowercase().contains("connection refused"),
            "each attempt names the URL and the cause: {line}"
        );
    }
    let fatal = format!("cannot connect to NATS at {dead}: ");
    let line = stderr
        .lines()
        .find(|l| l.contains(&fatal))
        .unwrap_or_else(|| panic!("no fatal line naming the URL: {stderr}"));
    assert!(
        line.to_lowercase().contains("connection refused") && line.contains("--startup-timeout"),
        "{line}"
    );
    assert!(!stderr.contains("jetstream request timed out"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_url_list_with_a_dead_server_still_connects() {
    let server = NatsServer::start();
    let js = jetstream::new(connect(&server.url()).await);
    let urls = format!(
        "nats://127.0.0.1:{},{}, nats://127.0.0.1:{}",
        free_port(),
        server.url(),
        free_port()
    );
    let mut worker = spawn_lede_worker(&urls, &["--stages", ""]);
    // The worker makes the streams once it has connected through the list.
    let deadline = std::time::Instant::now() + WAIT;
    while js.get_stream("ARTICLES").await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker never connected through {urls}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    publish(
        &js,
        vec![article("listed", "Reached through a server list.")],
    )
    .await;
    wait_for_messages(&js, "ARTICLES_ENRICHED", 1).await;
    assert_eq!(ids(&read_all(&js, "ARTICLES_ENRICHED").await), ["listed"]);
    worker.kill().ok();
    worker.wait().ok();
}

/// `lede publish` right after the input stream is created: the stream may not answer yet (a new
/// replicated stream elects its leader first; the cluster test saw every publish fail in its
/// first 50 ms). Publishes that fail for a reason that passes are sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_before_the_stream_answers_are_sent_again_until_it_does() {
    let server = NatsServer::start();
    let js = jetstream::new(connect(&server.url()).await);
    let payloads: Vec<Vec<u8>> = (0..50)
        .map(|i| article(&format!("early-{i}"), "The minister resigned on Monday."))
        .collect();
    let publishing = {
        let js = js.clone();
        tokio::spawn(async move {
            lede::transport::publish::publish_all(&js, "late.raw", payloads, 16).await
        })
    };
    // No stream holds `late.raw` yet: every first send gets "no responders".
    tokio::time::sleep(Duration::from_millis(250)).await;
    js.create_stream(jetstream::stream::Config {
        name: "LATE".into(),
        subjects: vec!["late.>".into()],
        ..Default::default()
    })
    .await
    .expect("create stream");
    let summary = publishing.await.expect("publish task");
    assert_eq!((summary.stored, summary.failed), (50, 0), "{summary}");
    assert_eq!(stream_state(&js, "LATE").await.messages, 50);
}
