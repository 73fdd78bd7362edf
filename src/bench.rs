//! `lede bench`: articles/s through a local broker, and through `lede process`, in one run.
//!
//! Three measurements, each on its own throw-away streams: the transport's ceiling (the worker
//! with no stages over synthetic 5 KB articles), the full pipeline through the broker, and the
//! same pipeline with no broker (`lede process`'s path). The difference between the last two is
//! the transport's share of the cost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::config::{BenchArgs, NatsArgs};
use crate::pipeline::Pipeline;
use crate::runner::Runner;
use crate::transport::jetstream::{Stats, WorkerSettings};
use crate::transport::{self, ConsumerSettings, TransportError};

/// Size of a synthetic article's text.
const SYNTHETIC_BYTES: usize = 5 * 1024;
/// Longest a measurement may take before it is abandoned.
const MEASUREMENT_TIMEOUT: Duration = Duration::from_secs(600);

/// One measured row.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub name: String,
    /// Articles processed.
    pub articles: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl Row {
    /// Articles per second.
    pub fn rate(&self) -> f64 {
        self.articles as f64 / self.seconds.max(1e-9)
    }
}

/// Synthetic raw articles of about 5 KB, with distinct ids.
pub fn synthetic_articles(count: usize) -> Vec<Vec<u8>> {
    let sentence = "The minister said on Wednesday that the talks in Baghdad would continue. ";
    let text: String = sentence.chars().cycle().take(SYNTHETIC_BYTES).collect();
    (0..count)
        .map(|i| {
            serde_json::json!({"id": format!("bench-{i}"), "text": text})
                .to_string()
                .into_bytes()
        })
        .collect()
}

/// `count` articles cycling through the texts of `corpus`, with distinct ids.
pub fn corpus_articles(corpus: &[String], count: usize) -> Vec<Vec<u8>> {
    corpus
        .iter()
        .cycle()
        .take(count)
        .enumerate()
        .map(|(i, text)| {
            serde_json::json!({"id": format!("bench-{i}"), "text": text})
                .to_string()
                .into_bytes()
        })
        .collect()
}

/// Runs the three measurements and returns their rows.
///
/// # Errors
/// [`TransportError`] when the broker is unreachable or a measurement times out.
pub async fn run(
    args: &BenchArgs,
    pipeline: Arc<Pipeline>,
    corpus: &[String],
) -> Result<Vec<Row>, TransportError> {
    let client = transport::connect(&args.nats_url, "lede-bench", Duration::from_secs(10)).await?;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let mut rows = Vec::new();

    let synthetic = synthetic_articles(args.articles);
    let seconds = through_broker(&client, Arc::new(Pipeline::default()), &synthetic, args).await?;
    rows.push(Row {
        name: "broker, no stages (5 KB articles)".into(),
        articles: synthetic.len(),
        seconds,
    });

    let articles = corpus_articles(corpus, args.stage_articles);
    let names = pipeline.names().join(",");
    let seconds = through_broker(&client, pipeline.clone(), &articles, args).await?;
    rows.push(Row {
        name: format!("broker, stages {names}"),
        articles: articles.len(),
        seconds,
    });

    let runner = Runner::start(pipeline, threads, usize::MAX)
        .map_err(|e| TransportError::Setup(e.to_string()))?;
    let started = Instant::now();
    let outcomes = futures::future::join_all(
        articles
            .iter()
            .map(|a| runner.submit(Bytes::from(a.clone()))),
    )
    .await;
    let enriched = outcomes.iter().filter(|o| o.is_ok()).count();
    rows.push(Row {
        name: format!("lede process, stages {names}"),
        articles: enriched,
        seconds: started.elapsed().as_secs_f64(),
    });
    Ok(rows)
}

/// Publishes `payloads` to fresh streams, then times a worker draining them into records.
async fn through_broker(
    client: &async_nats::Client,
    pipeline: Arc<Pipeline>,
    payloads: &[Vec<u8>],
    args: &BenchArgs,
) -> Result<f64, TransportError> {
    let tag = crate::transport::trace::TraceParent::new_root().trace_id_hex()[..8].to_owned();
    let nats = NatsArgs {
        nats_url: args.nats_url.clone(),
        ensure_streams: true,
        stream_replicas: 1,
        startup_timeout: Duration::from_secs(30),
        input_subject: format!("bench.{tag}.raw"),
        output_subject: format!("bench.{tag}.enriched"),
        dlq_subject: format!("bench.{tag}.dlq"),
        input_stream: format!("BENCH_{tag}"),
        output_stream: format!("BENCH_{tag}_ENRICHED"),
        dlq_stream: format!("BENCH_{tag}_DLQ"),
        duplicate_window: Duration::from_secs(120),
        story_bucket: format!("BENCH_{tag}_STORIES"),
        story_window: Duration::from_secs(3600),
        security: crate::security::SecurityArgs::default(),
    };
    let js = jetstream::new(client.clone());
    let topology = transport::streams(&js, &nats).await?;
    let summary =
        transport::publish::publish_all(&js, &nats.input_subject, payloads.iter().cloned(), 512)
            .await;
    if summary.failed > 0 {
        return Err(TransportError::Setup(format!(
            "publishing the bench articles failed: {summary}"
        )));
    }
    let consumer = transport::consumer(
        &topology.input,
        &ConsumerSettings {
            name: "bench".into(),
            filter_subject: nats.input_subject.clone(),
            ack_wait: Duration::from_secs(30),
            max_deliver: 3,
            max_ack_pending: 10_000,
        },
        true,
    )
    .await?;
    let shutdown = CancellationToken::new();
    let settings = WorkerSettings {
        in_flight: args.in_flight,
        cpu_threads: std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        max_bytes: usize::MAX,
        output_subject: nats.output_subject.clone(),
        dlq_subject: nats.dlq_subject.clone(),
        ack_wait: Duration::from_secs(30),
        max_deliver: 3,
        shutdown_timeout: Duration::from_secs(10),
        story: if pipeline.has(crate::pipeline::story::NAME) {
            let retry = transport::StartupRetry::new(nats.startup_timeout);
            Some(transport::kv::KvIndex::new(
                transport::kv::bucket(&js, &nats, &retry).await?,
                js.client(),
            ))
        } else {
            None
        },
    };
    let started = Instant::now();
    let worker = tokio::spawn(transport::jetstream::run(
        client.clone(),
        consumer,
        pipeline,
        settings,
        Arc::new(Stats::default()),
        shutdown.clone(),
    ));
    let expected = payloads.len() as u64;
    let mut output = js
        .get_stream(&nats.output_stream)
        .await
        .map_err(|e| TransportError::Setup(e.to_string()))?;
    let done = async {
        loop {
            let info = output
                .info()
                .await
                .map_err(|e| TransportError::Setup(e.to_string()))?;
            if info.state.messages >= expected {
                return Ok::<_, TransportError>(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(MEASUREMENT_TIMEOUT, done)
        .await
        .map_err(|_| TransportError::Setup("the bench measurement timed out".into()))??;
    let seconds = started.elapsed().as_secs_f64();
    shutdown.cancel();
    worker
        .await
        .map_err(|e| TransportError::Setup(e.to_string()))??;
    for name in [&nats.input_stream, &nats.output_stream, &nats.dlq_stream] {
        if let Err(e) = js.delete_stream(name).await {
            tracing::warn!(stream = %name, error = %e, "Deleting a bench stream failed");
        }
    }
    if let Err(e) = js.delete_key_value(&nats.story_bucket).await {
        tracing::warn!(bucket = %nats.story_bucket, error = %e, "Deleting the bench story bucket failed");
    }
    Ok(seconds)
}
