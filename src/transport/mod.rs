//! NATS transport: connecting, provisioning streams, the worker loops and the publisher.
//!
//! The JetStream worker ([`jetstream::run`]) is the default: one durable pull consumer shared by
//! every replica, explicit acks sent only after the output is stored. The queue-group worker
//! ([`queue_group::run`], `--transport core`) is a core-NATS subscription for lowest latency
//! with no delivery guarantee. Both hand every payload to the one stage pool
//! ([`crate::runner::Runner`]) and label outputs and dead letters with the same headers
//! ([`record_headers`], [`dead_letter_headers`]).

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self as nats_js, consumer, stream};

use crate::config::NatsArgs;
use crate::enrich::{Enriched, Rejection};
use crate::record::ENRICHED_SCHEMA;
use crate::security::SecurityArgs;

pub mod jetstream;
pub mod publish;
pub mod queue_group;
pub mod tail;
pub mod trace;

/// JetStream's deduplication header: the output stream stores one record per article id.
pub const HEADER_MSG_ID: &str = "Nats-Msg-Id";
/// Header naming why an article was dead-lettered (a sentence for people).
pub const HEADER_ERROR: &str = "Lede-Error";
/// Header naming the kind of rejection (`invalid_json`, `stage_failed`, …).
pub const HEADER_ERROR_KIND: &str = "Lede-Error-Kind";
/// Header with the input's stream sequence, on outputs and dead letters.
pub const HEADER_SOURCE_SEQUENCE: &str = "Lede-Source-Sequence";
/// Header with the delivery attempt that produced a dead letter.
pub const HEADER_DELIVERY: &str = "Lede-Delivery";
/// Header with the record schema, on outputs.
pub const HEADER_SCHEMA: &str = "Lede-Schema";
/// Header with the article id, on dead letters whose payload got far enough to have one.
pub const HEADER_ARTICLE_ID: &str = "Lede-Article-Id";

/// How long the input stream keeps raw articles that no worker has acked yet.
const INPUT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long enriched records stay in their stream for downstream consumers.
const OUTPUT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long dead letters stay for inspection and replay.
const DLQ_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// Duplicate window of the input stream (deduplicates republished raw articles).
const INPUT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Why the transport could not start or went on failing.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Could not reach the broker.
    #[error("cannot connect to NATS at {url}: {message}")]
    Connect {
        /// Server URL(s).
        url: String,
        /// The client's error.
        message: String,
    },
    /// Streams or the consumer are missing or could not be created.
    #[error("{0}")]
    Setup(String),
    /// The consumer stopped delivering for good (deleted, for example).
    #[error("consuming failed: {0}")]
    Consume(String),
}

/// Connects to NATS with lede's client name, retrying the first connection and reconnecting
/// forever after (a broker restart is ridden out, not fatal).
///
/// # Errors
/// [`TransportError::Connect`] when the URL is unusable.
pub async fn connect(url: &str, name: &str) -> Result<async_nats::Client, TransportError> {
    connect_with(url, name, &SecurityArgs::default()).await
}

/// [`connect`] with credentials and TLS settings ([`crate::security`]).
///
/// # Errors
/// [`TransportError::Connect`] when the URL is unusable or the credentials or TLS files cannot
/// be used (the message names the file or variable, never a secret).
pub async fn connect_with(
    url: &str,
    name: &str,
    security: &SecurityArgs,
) -> Result<async_nats::Client, TransportError> {
    let options = async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Connected => tracing::info!("Connected to NATS"),
                async_nats::Event::Disconnected => tracing::warn!("Disconnected from NATS"),
                other => tracing::info!(event = %other, "NATS event"),
            }
        });
    let options = security
        .apply(options)
        .await
        .map_err(|e| TransportError::Connect {
            url: url.to_owned(),
            message: e.to_string(),
        })?;
    options
        .connect(url)
        .await
        .map_err(|e| TransportError::Connect {
            url: url.to_owned(),
            message: e.to_string(),
        })
}

/// The three streams lede uses, created or checked.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Input stream (raw articles).
    pub input: stream::Stream,
}

/// Creates the three streams when missing (`ensure`), or checks that they exist.
///
/// # Errors
/// [`TransportError::Setup`] naming what is missing and how to provision it.
pub async fn streams(js: &nats_js::Context, nats: &NatsArgs) -> Result<Topology, TransportError> {
    let ensure = nats.ensure_streams;
    let input = stream::Config {
        // The stream is the backlog: an acked or terminated article leaves it.
        retention: stream::RetentionPolicy::WorkQueue,
        ..file_stream(
            &nats.input_stream,
            &nats.input_subject,
            INPUT_MAX_AGE,
            INPUT_DUPLICATE_WINDOW,
        )
    };
    let input = stream_or_create(js, ensure, input).await?;
    let output = file_stream(
        &nats.output_stream,
        &nats.output_subject,
        OUTPUT_MAX_AGE,
        nats.duplicate_window,
    );
    stream_or_create(js, ensure, output).await?;
    let dlq = file_stream(
        &nats.dlq_stream,
        &nats.dlq_subject,
        DLQ_MAX_AGE,
        nats.duplicate_window,
    );
    stream_or_create(js, ensure, dlq).await?;
    Ok(Topology { input })
}

/// A file-stored stream over one subject.
fn file_stream(
    name: &str,
    subject: &str,
    max_age: Duration,
    duplicate_window: Duration,
) -> stream::Config {
    stream::Config {
        name: name.to_owned(),
        subjects: vec![subject.to_owned()],
        storage: stream::StorageType::File,
        max_age,
        duplicate_window,
        ..Default::default()
    }
}

async fn stream_or_create(
    js: &nats_js::Context,
    ensure: bool,
    config: stream::Config,
) -> Result<stream::Stream, TransportError> {
    let name = config.name.clone();
    let subject = config.subjects.join(", ");
    if ensure {
        js.get_or_create_stream(config).await.map_err(|e| {
            TransportError::Setup(format!("cannot create stream {name} over {subject}: {e}"))
        })
    } else {
        js.get_stream(&name).await.map_err(|e| {
            TransportError::Setup(format!(
                "stream {name} over {subject} is not available ({e}); provision it (README \"Deploy\") or run with --ensure-streams=true"
            ))
        })
    }
}

/// The consumer settings every replica shares.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// Durable name.
    pub name: String,
    /// Subject filter (the input subject).
    pub filter_subject: String,
    /// Ack wait (the first redelivery delay).
    pub ack_wait: Duration,
    /// Delivery attempts.
    pub max_deliver: i64,
    /// Un-acked messages across all replicas.
    pub max_ack_pending: i64,
}

impl ConsumerSettings {
    /// The JetStream consumer configuration.
    pub fn config(&self) -> consumer::pull::Config {
        consumer::pull::Config {
            durable_name: Some(self.name.clone()),
            filter_subject: self.filter_subject.clone(),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver,
            backoff: backoff(self.ack_wait, self.max_deliver),
            max_ack_pending: self.max_ack_pending,
            ..Default::default()
        }
    }
}

/// Redelivery delays for unacknowledged deliveries: the ack wait, then doubling. A worker that
/// is alive sends progress acks, so these only pace redelivery after a crash or a lost ack.
fn backoff(ack_wait: Duration, max_deliver: i64) -> Vec<Duration> {
    let steps = usize::try_from(max_deliver.clamp(1, 8)).unwrap_or(1);
    (0..steps)
        .map(|i| ack_wait.saturating_mul(1 << i.min(4)))
        .collect()
}

/// Creates or updates the durable consumer (`ensure`), or binds to the provisioned one.
///
/// # Errors
/// [`TransportError::Setup`] when the consumer is missing or cannot be created.
pub async fn consumer(
    input: &stream::Stream,
    settings: &ConsumerSettings,
    ensure: bool,
) -> Result<consumer::PullConsumer, TransportError> {
    let stream_name = input.cached_info().config.name.clone();
    if ensure {
        input.create_consumer(settings.config()).await.map_err(|e| {
            TransportError::Setup(format!(
                "cannot create or update consumer {} on stream {stream_name}: {e}",
                settings.name
            ))
        })
    } else {
        let consumer: consumer::PullConsumer =
            input.get_consumer(&settings.name).await.map_err(|e| {
                TransportError::Setup(format!(
                    "consumer {} on stream {stream_name} is not available ({e}); provision it (README \"Deploy\") or run with --ensure-streams=true",
                    settings.name
                ))
            })?;
        let max_deliver = consumer.cached_info().config.max_deliver;
        if max_deliver < 1 {
            tracing::warn!(
                consumer = %settings.name,
                "Provisioned consumer has unlimited max_deliver: a poison article would be redelivered forever"
            );
        }
        Ok(consumer)
    }
}

/// The `article` span of one delivery, continuing the producer's trace when the message carries
/// a `traceparent`; returns the span and the context lede's outputs carry on.
pub(crate) fn article_span(
    message: &async_nats::Message,
    delivery: i64,
) -> (tracing::Span, trace::TraceParent) {
    let parent = message
        .headers
        .as_ref()
        .and_then(|h| h.get(trace::HEADER))
        .and_then(|v| trace::TraceParent::parse(v.as_str()));
    let span = tracing::info_span!(
        "article",
        id = tracing::field::Empty,
        subject = %message.subject,
        bytes = message.payload.len(),
        delivery,
        trace_id = tracing::field::Empty,
    );
    let context = crate::telemetry::continue_trace(&span, parent);
    (span, context)
}

/// The headers of an enriched record: its id for deduplication, the trace context, the schema,
/// and (JetStream) the input's stream sequence.
pub fn record_headers(
    enriched: &Enriched,
    context: &trace::TraceParent,
    sequence: Option<u64>,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    insert_header(&mut headers, HEADER_MSG_ID, &enriched.id);
    headers.insert(trace::HEADER, context.to_string().as_str());
    headers.insert(HEADER_SCHEMA, ENRICHED_SCHEMA);
    headers.insert("Content-Type", "application/json");
    if let Some(sequence) = sequence {
        headers.insert(HEADER_SOURCE_SEQUENCE, sequence.to_string().as_str());
    }
    headers
}

/// The headers of a dead letter: why (`Lede-Error`, `Lede-Error-Kind`), which delivery, the
/// trace context, the article id when known, and (JetStream) the input's stream sequence, which
/// also makes its `Nats-Msg-Id` (`dlq-<sequence>`: one dead letter per input message).
pub fn dead_letter_headers(
    rejection: &Rejection,
    context: &trace::TraceParent,
    sequence: Option<u64>,
    delivery: i64,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(sequence) = sequence {
        let dedup = format!("dlq-{sequence}");
        headers.insert(HEADER_MSG_ID, dedup.as_str());
    }
    insert_header(&mut headers, HEADER_ERROR, &rejection.message);
    headers.insert(HEADER_ERROR_KIND, rejection.kind);
    if let Some(sequence) = sequence {
        headers.insert(HEADER_SOURCE_SEQUENCE, sequence.to_string().as_str());
    }
    headers.insert(HEADER_DELIVERY, delivery.to_string().as_str());
    headers.insert(trace::HEADER, context.to_string().as_str());
    if let Some(id) = &rejection.id {
        insert_header(&mut headers, HEADER_ARTICLE_ID, id);
    }
    headers
}

/// Puts `value` in a header, with characters NATS headers cannot carry replaced.
pub(crate) fn insert_header(headers: &mut HeaderMap, name: &'static str, value: &str) {
    let clean: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    headers.insert(name, clean.as_str());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_at_ack_wait_and_never_exceeds_max_deliver() {
        let b = backoff(Duration::from_secs(30), 5);
        assert_eq!(b.len(), 5);
        assert_eq!(b[0], Duration::from_secs(30));
        assert_eq!(b[1], Duration::from_secs(60));
        assert_eq!(backoff(Duration::from_secs(1), 1).len(), 1);
    }

    #[test]
    fn consumer_config_bounds_redelivery() {
        let c = ConsumerSettings {
            name: "lede".into(),
            filter_subject: "articles.raw".into(),
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
            max_ack_pending: 1024,
        }
        .config();
        assert_eq!(c.max_deliver, 5);
        assert_eq!(c.durable_name.as_deref(), Some("lede"));
        assert!(matches!(c.ack_policy, consumer::AckPolicy::Explicit));
        assert!(!c.backoff.is_empty() && c.backoff.len() <= 5);
    }
}
