//! The worker's HTTP endpoints and trace export against a real nats-server: `/healthz`,
//! `/readyz` (ready, and not ready while the broker is down), `/metrics` counters moving as
//! articles flow and fail, and OTLP spans that continue the producer's `traceparent`.

mod common;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// `GET path` on the worker; `None` while nothing answers. (status, body)
async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let io = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
            .await?;
        let mut response = String::new();
        s.read_to_string(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(5), io)
        .await
        .ok()?
        .ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

/// Polls `path` until it answers `status`; returns the body.
async fn wait_status(port: u16, path: &str, status: u16) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = get(port, path).await;
        if let Some((s, body)) = &got
            && *s == status
        {
            return body.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{path} never answered {status}; last: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The samples of a Prometheus text exposition: `name{labels}` → value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// A sample's value, 0 when absent (a counter never incremented is not rendered).
fn value(s: &HashMap<String, f64>, key: &str) -> f64 {
    s.get(key).copied().unwrap_or(0.0)
}

/// Polls `/metrics` until `done` holds; returns the samples.
async fn wait_metrics(
    port: u16,
    done: impl Fn(&HashMap<String, f64>) -> bool,
) -> HashMap<String, f64> {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = samples(&wait_status(port, "/metrics", 200).await);
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "metrics never got there: {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `lede healthcheck --url <url>` (the image's HEALTHCHECK): did it exit 0?
fn healthcheck(url: &str) -> bool {
    std::process::Command::new(env!("CARGO_BIN_EXE_lede"))
        .args(["healthcheck", "--url", url])
        .output()
        .expect("running lede healthcheck")
        .status
        .success()
}

/// Sends SIGTERM and waits (bounded) for a clean exit.
async fn terminate(mut worker: WorkerProcess) {
    let pid = worker.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = worker.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            started.elapsed() < WAIT,
            "worker did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn endpoints_report_liveness_readiness_and_counters_that_follow_the_articles() {
    let mut server = NatsServer::start();
    let url = server.url();
    let http = free_port();
    let addr = format!("127.0.0.1:{http}");
    let worker = spawn_lede_worker(
        &url,
        &[
            "--stages",
            "delay",
            "--delay",
            "5ms",
            "--max-bytes",
            "300",
            "--http-addr",
            &addr,
        ],
    );
    assert_eq!(wait_status(http, "/healthz", 200).await, "ok\n");
    assert_eq!(wait_status(http, "/readyz", 200).await, "ready\n");
    assert!(healthcheck(&format!("http://{addr}/readyz")));
    let before = samples(&wait_status(http, "/metrics", 200).await);
    assert_eq!(value(&before, "lede_articles_received_total"), 0.0);
    assert_eq!(value(&before, "lede_build_info{version=\"0.1.0\"}"), 1.0);

    let js = jetstream::new(connect(&url).await);
    let good: Vec<Vec<u8>> = (0..3)
        .map(|i| article(&format!("m{i}"), "A fine article."))
        .collect();
    let good_bytes: usize = good.iter().map(Vec::len).sum();
    let mut payloads = good.clone();
    payloads.push(b"{\"text\": \"broken".to_vec());
    payloads.push(article("huge", &"x".repeat(400)));
    publish(&js, payloads).await;
    wait_for_messages(&js, "ARTICLES_ENRICHED", 3).await;
    wait_for_messages(&js, "ARTICLES_DLQ", 2).await;
    wait_consumer_idle(&js).await;

    // Each article's last record is its duration, and the gauge drops after it.
    let m = wait_metrics(http, |s| {
        value(s, "lede_article_duration_seconds_count") == 5.0
            && value(s, "lede_articles_in_flight") == 0.0
    })
    .await;
    assert_eq!(value(&m, "lede_articles_received_total"), 5.0);
    assert_eq!(value(&m, "lede_articles_enriched_total"), 3.0);
    assert_eq!(value(&m, "lede_articles_redelivered_total"), 0.0);
    assert_eq!(
        value(&m, "lede_articles_rejected_total{kind=\"invalid_json\"}"),
        1.0
    );
    assert_eq!(
        value(&m, "lede_articles_rejected_total{kind=\"too_large\"}"),
        1.0
    );
    assert_eq!(
        value(&m, "lede_dlq_published_total{kind=\"invalid_json\"}"),
        1.0
    );
    assert_eq!(
        value(&m, "lede_dlq_published_total{kind=\"too_large\"}"),
        1.0
    );
    assert!(value(&m, "lede_received_bytes_total") > good_bytes as f64);
    assert!(value(&m, "lede_enriched_bytes_total") > 0.0);
    // One `delay` timing per enriched article, each at least the 5 ms the stage sleeps.
    assert_eq!(
        value(&m, "lede_stage_duration_seconds_count{stage=\"delay\"}"),
        3.0
    );
    assert_eq!(
        value(
            &m,
            "lede_stage_duration_seconds_bucket{stage=\"delay\",le=\"0.0025\"}"
        ),
        0.0
    );
    assert!(value(&m, "lede_stage_duration_seconds_sum{stage=\"delay\"}") >= 0.015);
    assert_eq!(value(&m, "lede_article_duration_seconds_count"), 5.0);
    // The consumer gauges come from the broker, polled every few seconds.
    // (A poll may have caught the backlog mid-run; the next one, 5 s later, sees it empty.)
    wait_metrics(http, |s| {
        s.get("lede_consumer_pending") == Some(&0.0)
            && s.get("lede_consumer_ack_pending") == Some(&0.0)
    })
    .await;

    // Broker down: still alive, no longer ready; back up: ready again.
    server.kill();
    let why = wait_status(http, "/readyz", 503).await;
    assert!(why.contains("disconnected"), "{why}");
    assert_eq!(wait_status(http, "/healthz", 200).await, "ok\n");
    assert!(!healthcheck(&format!("http://{addr}/readyz")));
    assert!(healthcheck(&format!("http://{addr}/healthz")));
    server.restart();
    wait_status(http, "/readyz", 200).await;
    terminate(worker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readyz_is_503_until_the_consumer_is_bound_and_while_shutting_down() {
    let server = NatsServer::start();
    let url = server.url();
    let http = free_port();
    let addr = format!("127.0.0.1:{http}");
    // No `--ensure-streams`, and nothing provisioned yet: the worker cannot bind and says so.
    let mut unbound = spawn_lede_worker(
        &url,
        &[
            "--ensure-streams=false",
            "--stages",
            "",
            "--http-addr",
            &addr,
        ],
    );
    let status = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(s) = unbound.try_wait().unwrap() {
                return s;
            }
            // Until it gives up, it is alive but never ready.
            if let Some((code, _)) = get(http, "/readyz").await {
                assert_eq!(code, 503);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the unbound worker neither bound nor exited");
    assert!(!status.success());

    // Slow articles in flight, then SIGTERM: readiness drops while they finish.
    let js = jetstream::new(connect(&url).await);
    create_streams(&js, &url).await;
    let worker = spawn_lede_worker(
        &url,
        &[
            "--stages",
            "delay",
            "--delay",
            "3s",
            "--in-flight",
            "2",
            "--threads",
            "2",
            "--http-addr",
            &addr,
        ],
    );
    wait_status(http, "/readyz", 200).await;
    publish(
        &js,
        vec![article("s1", "Slow one."), article("s2", "Slow two.")],
    )
    .await;
    wait_metrics(http, |s| value(s, "lede_articles_in_flight") == 2.0).await;
    let pid = worker.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let why = wait_status(http, "/readyz", 503).await;
    assert!(why.contains("shutting down"), "{why}");
    terminate(worker).await;
    assert_eq!(stream_state(&js, "ARTICLES_ENRICHED").await.messages, 2);
}

/// An OTLP/HTTP receiver on loopback that keeps every export request's body.
async fn fake_collector() -> (u16, Arc<Mutex<Vec<bytes::Bytes>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: bytes::Bytes| {
            let keep = keep.clone();
            async move {
                keep.lock().expect("lock").push(body);
                // An empty ExportTraceServiceResponse.
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, got)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exported_spans_continue_the_producers_trace_and_the_output_names_lede_s_span() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;

    let server = NatsServer::start();
    let url = server.url();
    let (collector, got) = fake_collector().await;
    let js = jetstream::new(connect(&url).await);
    create_streams(&js, &url).await;
    let worker = spawn_lede_worker(
        &url,
        &[
            "--stages",
            "delay",
            "--otlp-endpoint",
            &format!("http://127.0.0.1:{collector}"),
        ],
    );
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
    wait_for_messages(&js, "ARTICLES_ENRICHED", 1).await;
    let out = read_all(&js, "ARTICLES_ENRICHED").await;
    let outgoing = out[0]
        .headers
        .as_ref()
        .and_then(|h| h.get("traceparent"))
        .map(|v| v.as_str().to_owned())
        .expect("traceparent on the output");
    // Exiting flushes the batch of spans.
    terminate(worker).await;

    let spans: Vec<_> = got
        .lock()
        .unwrap()
        .iter()
        .map(|body| ExportTraceServiceRequest::decode(body.as_ref()).expect("OTLP protobuf"))
        .flat_map(|r| r.resource_spans)
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect();
    let article = spans
        .iter()
        .find(|s| s.name == "article")
        .unwrap_or_else(|| {
            panic!(
                "no article span among {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(hex(&article.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(hex(&article.parent_span_id), "00f067aa0ba902b7");
    assert_eq!(
        outgoing,
        format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
            hex(&article.span_id)
        ),
        "the output's traceparent names the exported article span"
    );
    for child in ["stage", "publish"] {
        let span = spans
            .iter()
            .find(|s| s.name == child)
            .unwrap_or_else(|| panic!("no {child} span"));
        assert_eq!(span.trace_id, article.trace_id);
        assert_eq!(
            span.parent_span_id, article.span_id,
            "{child} under article"
        );
    }
}
