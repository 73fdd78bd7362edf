//! NATS transport: connecting, provisioning streams, the worker loops and the publisher.
//!
//! The JetStream worker ([`jetstream::run`]) is the default: one durable pull consumer shared by
//! every replica, explicit acks sent only after the output is stored. The queue-group worker
//! ([`queue_group::run`], `--transport core`) is a core-NATS subscription for lowest latency
//! with no delivery guarantee. Both hand every payload to the one stage pool
//! ([`crate::runner::Runner`]) and label outputs and dead letters with the same headers
//! ([`record_headers`], [`dead_letter_headers`]).

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self as nats_js, consumer, stream};

use crate::config::NatsArgs;
use crate::enrich::{Enriched, Rejection};
use crate::record::ENRICHED_SCHEMA;
use crate::security::SecurityArgs;

pub mod jetstream;
pub mod kv;
pub mod publish;
pub mod queue_group;
pub mod tail;
pub mod trace;

/// JetStream's deduplication header: the output stream stores one record per article revision
/// (`<id>:<revision>`), the DLQ one dead letter per input sequence (`dlq-<sequence>`).
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

/// How long shutdown waits for the broker to take queued acks and close the connection. A
/// broker that is gone never answers; the unflushed acks' articles are then redelivered (and
/// their outputs deduplicated by `Nats-Msg-Id`), so nothing is lost by exiting.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Flushes the client's queued acks and publishes, for at most [`CLOSE_TIMEOUT`]; `false`
/// (with a warning) when the broker did not take them.
pub async fn flush_for_shutdown(client: &async_nats::Client) -> bool {
    match tokio::time::timeout(CLOSE_TIMEOUT, client.flush()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Flushing acks failed; their articles will be redelivered");
            false
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = CLOSE_TIMEOUT.as_millis(),
                "The broker did not take the queued acks in time; their articles will be redelivered"
            );
            false
        }
    }
}

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

/// First pause between start-up attempts (connect, bind); it doubles up to [`RETRY_MAX`].
const RETRY_START: Duration = Duration::from_millis(250);
/// Longest pause between start-up attempts.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// How start-up rides out transient broker trouble (nothing reachable yet, a timeout, a 503
/// or "no responders" while a cluster elects a leader): retried with backoff until the
/// deadline, each wait reported (readiness shows it), and only a definitive answer — a stream
/// or consumer that does not exist, a refused configuration, bad credentials — or the deadline
/// ends it.
#[derive(Clone)]
pub struct StartupRetry {
    deadline: tokio::time::Instant,
    timeout: Duration,
    on_wait: Arc<dyn Fn(&str) + Send + Sync>,
}

impl std::fmt::Debug for StartupRetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartupRetry")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl StartupRetry {
    /// Retries for at most `timeout` from now (`--startup-timeout`).
    pub fn new(timeout: Duration) -> Self {
        Self {
            deadline: tokio::time::Instant::now() + timeout,
            timeout,
            on_wait: Arc::new(|_| {}),
        }
    }

    /// Calls `on_wait` with the reason whenever start-up waits on the broker.
    pub fn reporting(mut self, on_wait: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.on_wait = Arc::new(on_wait);
        self
    }

    /// Runs `attempt` until it succeeds, fails definitively, or the deadline passes.
    async fn run<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let mut pause = RETRY_START;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(Failure::Transient(error)) => {
                    if tokio::time::Instant::now() + pause > self.deadline {
                        return Err(Failure::Transient(format!(
                            "{error} (still failing after {attempts} attempts in {:.0?}; raise --startup-timeout to wait longer)",
                            self.timeout
                        )));
                    }
                    tracing::warn!(error = %error, attempt = attempts, "Waiting for {what}; retrying");
                    (self.on_wait)(&format!("waiting for {what}: {error}"));
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RETRY_MAX);
                }
                Err(definitive) => return Err(definitive),
            }
        }
    }
}

/// A failed start-up attempt, by what to do about it.
#[derive(Debug)]
enum Failure {
    /// Worth another try (timeouts, no responders, 5xx, cluster elections).
    Transient(String),
    /// The broker answered and the answer will not change.
    Definitive(String),
}

impl Failure {
    fn message(self) -> String {
        match self {
            Failure::Transient(m) | Failure::Definitive(m) => m,
        }
    }
}

/// Whether a JetStream API error can go away by itself: a 5xx (the server's own "temporarily
/// unavailable", "no leader"), a 408, or a cluster state code; anything else (404 stream not
/// found, 400 bad configuration) is the answer.
fn api_error(e: &async_nats::jetstream::Error) -> Failure {
    use async_nats::jetstream::ErrorCode;
    let cluster = [
        ErrorCode::CLUSTER_NOT_AVAILABLE,
        ErrorCode::CLUSTER_NOT_LEADER,
        ErrorCode::CLUSTER_NOT_ACTIVE,
        ErrorCode::CLUSTER_NOT_ASSIGNED,
        ErrorCode::CLUSTER_INCOMPLETE,
        ErrorCode::CLUSTER_NO_PEERS,
        ErrorCode::STREAM_OFFLINE,
        ErrorCode::CONSUMER_OFFLINE,
        ErrorCode::STREAM_OFFLINE_REASON,
        ErrorCode::CONSUMER_OFFLINE_REASON,
        ErrorCode::CLUSTER_SERVER_MEMBER_CHANGE_INFLIGHT,
    ];
    if e.code() >= 500 || e.code() == 408 || cluster.contains(&e.error_code()) {
        Failure::Transient(e.to_string())
    } else {
        Failure::Definitive(e.to_string())
    }
}

/// The server list of a `--nats-url` value: comma-separated URLs (blanks around commas
/// ignored), each with the client's defaults (`nats://`, port 4222).
///
/// # Errors
/// [`TransportError::Connect`] naming the entry that is not a URL.
pub fn server_addrs(urls: &str) -> Result<Vec<async_nats::ServerAddr>, TransportError> {
    let addrs = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            u.parse::<async_nats::ServerAddr>()
                .map_err(|e| TransportError::Connect {
                    url: urls.to_owned(),
                    message: format!("{u:?} is not a server URL: {e}"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if addrs.is_empty() {
        return Err(TransportError::Connect {
            url: urls.to_owned(),
            message: "no server URL given (--nats-url, LEDE_NATS_URL)".into(),
        });
    }
    Ok(addrs)
}

/// Connects to NATS with lede's client name, retrying the first connection for up to
/// `retry_for` and reconnecting forever after (a broker restart is ridden out, not fatal).
///
/// # Errors
/// [`TransportError::Connect`] when the URL is unusable or no server answered in time.
pub async fn connect(
    url: &str,
    name: &str,
    retry_for: Duration,
) -> Result<async_nats::Client, TransportError> {
    connect_with(
        url,
        name,
        &SecurityArgs::default(),
        &StartupRetry::new(retry_for),
    )
    .await
}

/// [`connect`] with credentials and TLS settings ([`crate::security`]).
///
/// `url` may list several servers, comma-separated (a cluster): the client connects to any
/// one that answers and reconnects to another when it goes away. Every failed attempt is
/// logged at WARN with the URL(s) and the cause; once `retry`'s deadline passes the last cause
/// is the error.
///
/// # Errors
/// [`TransportError::Connect`] when the URL is unusable, the credentials or TLS files cannot
/// be used (the message names the file or variable, never a secret), the server refused them,
/// or no server answered before `retry`'s deadline.
pub async fn connect_with(
    url: &str,
    name: &str,
    security: &SecurityArgs,
    retry: &StartupRetry,
) -> Result<async_nats::Client, TransportError> {
    let addrs = server_addrs(url)?;
    let what = format!("NATS at {url}");
    retry
        .run(&what, || async {
            let servers = url.to_owned();
            let options = async_nats::ConnectOptions::new()
                .name(name)
                .connection_timeout(Duration::from_secs(5))
                .event_callback(move |event| {
                    let servers = servers.clone();
                    async move {
                        match event {
                            async_nats::Event::Connected => tracing::info!("Connected to NATS"),
                            async_nats::Event::Disconnected => {
                                tracing::warn!(url = %servers, "Disconnected from NATS; reconnecting")
                            }
                            async_nats::Event::ClientError(e) => {
                                tracing::warn!(url = %servers, error = %e, "NATS connection attempt failed")
                            }
                            other => tracing::info!(event = %other, "NATS event"),
                        }
                    }
                });
            let options = security
                .apply(options)
                .await
                .map_err(|e| Failure::Definitive(e.to_string()))?;
            options.connect(addrs.clone()).await.map_err(|e| {
                use async_nats::ConnectErrorKind as K;
                match e.kind() {
                    K::ServerParse | K::Authentication | K::AuthorizationViolation | K::Tls => {
                        Failure::Definitive(e.to_string())
                    }
                    _ => Failure::Transient(e.to_string()),
                }
            })
        })
        .await
        .map_err(|f| TransportError::Connect {
            url: url.to_owned(),
            message: f.message(),
        })
}

/// The three streams lede uses, created or checked.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Input stream (raw articles).
    pub input: stream::Stream,
}

/// Creates the three streams when missing (`ensure`), or checks that they exist, riding out
/// transient errors for `--startup-timeout`.
///
/// # Errors
/// [`TransportError::Setup`] naming what is missing and how to provision it.
pub async fn streams(js: &nats_js::Context, nats: &NatsArgs) -> Result<Topology, TransportError> {
    bind_streams(js, nats, &StartupRetry::new(nats.startup_timeout)).await
}

/// [`streams`] with the caller's retry budget and wait reporting.
///
/// # Errors
/// [`TransportError::Setup`] naming what is missing and how to provision it.
pub async fn bind_streams(
    js: &nats_js::Context,
    nats: &NatsArgs,
    retry: &StartupRetry,
) -> Result<Topology, TransportError> {
    let ensure = nats.ensure_streams;
    let replicas = nats.stream_replicas;
    let input = stream::Config {
        // The stream is the backlog: an acked or terminated article leaves it.
        retention: stream::RetentionPolicy::WorkQueue,
        ..file_stream(
            &nats.input_stream,
            &nats.input_subject,
            INPUT_MAX_AGE,
            INPUT_DUPLICATE_WINDOW,
            replicas,
        )
    };
    let input = stream_or_create(js, ensure, input, retry).await?;
    let output = file_stream(
        &nats.output_stream,
        &nats.output_subject,
        OUTPUT_MAX_AGE,
        nats.duplicate_window,
        replicas,
    );
    stream_or_create(js, ensure, output, retry).await?;
    let dlq = file_stream(
        &nats.dlq_stream,
        &nats.dlq_subject,
        DLQ_MAX_AGE,
        nats.duplicate_window,
        replicas,
    );
    stream_or_create(js, ensure, dlq, retry).await?;
    if ensure {
        // The story index lives beside the streams (README "Story keys"); the worker opens it
        // again when its pipeline has the story stage.
        kv::bucket(js, nats, retry).await?;
    }
    Ok(Topology { input })
}

/// A file-stored stream over one subject.
fn file_stream(
    name: &str,
    subject: &str,
    max_age: Duration,
    duplicate_window: Duration,
    replicas: u16,
) -> stream::Config {
    stream::Config {
        name: name.to_owned(),
        subjects: vec![subject.to_owned()],
        storage: stream::StorageType::File,
        max_age,
        duplicate_window,
        num_replicas: usize::from(replicas),
        ..Default::default()
    }
}

async fn stream_or_create(
    js: &nats_js::Context,
    ensure: bool,
    config: stream::Config,
    retry: &StartupRetry,
) -> Result<stream::Stream, TransportError> {
    use async_nats::jetstream::context::{CreateStreamErrorKind, GetStreamErrorKind};
    let name = config.name.clone();
    let subject = config.subjects.join(", ");
    let what = format!("stream {name}");
    if ensure {
        retry
            .run(&what, || async {
                js.get_or_create_stream(config.clone())
                    .await
                    .map_err(|e| match e.kind() {
                        CreateStreamErrorKind::JetStream(api) => api_error(&api),
                        CreateStreamErrorKind::JetStreamUnavailable
                        | CreateStreamErrorKind::TimedOut => Failure::Transient(e.to_string()),
                        _ => Failure::Definitive(e.to_string()),
                    })
            })
            .await
            .map_err(|f| {
                TransportError::Setup(format!(
                    "cannot create stream {name} over {subject}: {}",
                    f.message()
                ))
            })
    } else {
        retry
            .run(&what, || async {
                js.get_stream(&name).await.map_err(|e| match e.kind() {
                    GetStreamErrorKind::Request => Failure::Transient(e.to_string()),
                    GetStreamErrorKind::JetStream(api) => api_error(&api),
                    _ => Failure::Definitive(e.to_string()),
                })
            })
            .await
            .map_err(|f| {
                TransportError::Setup(format!(
                    "stream {name} over {subject} is not available ({}); provision it (README \"Deploy\") or run with --ensure-streams=true",
                    f.message()
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

/// Creates or updates the durable consumer (`ensure`), or binds to the provisioned one, riding
/// out transient errors for [`crate::config::DEFAULT_STARTUP_TIMEOUT`] (see [`bind_consumer`]).
///
/// # Errors
/// [`TransportError::Setup`] when the consumer is missing or cannot be created.
pub async fn consumer(
    input: &stream::Stream,
    settings: &ConsumerSettings,
    ensure: bool,
) -> Result<consumer::PullConsumer, TransportError> {
    let retry = StartupRetry::new(
        humantime::parse_duration(crate::config::DEFAULT_STARTUP_TIMEOUT)
            .unwrap_or(Duration::from_secs(60)),
    );
    bind_consumer(input, settings, ensure, &retry).await
}

/// [`consumer`] with the caller's retry budget and wait reporting.
///
/// # Errors
/// [`TransportError::Setup`] when the consumer is missing or cannot be created.
pub async fn bind_consumer(
    input: &stream::Stream,
    settings: &ConsumerSettings,
    ensure: bool,
    retry: &StartupRetry,
) -> Result<consumer::PullConsumer, TransportError> {
    use async_nats::jetstream::context::{ConsumerInfoError, ConsumerInfoErrorKind};
    use async_nats::jetstream::stream::ConsumerErrorKind;
    let stream_name = input.cached_info().config.name.clone();
    let what = format!("consumer {} on stream {stream_name}", settings.name);
    if ensure {
        return retry
            .run(&what, || async {
                input
                    .create_consumer(settings.config())
                    .await
                    .map_err(|e| match e.kind() {
                        ConsumerErrorKind::JetStream(api) => api_error(&api),
                        ConsumerErrorKind::TimedOut | ConsumerErrorKind::Request => {
                            Failure::Transient(e.to_string())
                        }
                        _ => Failure::Definitive(e.to_string()),
                    })
            })
            .await
            .map_err(|f| {
                TransportError::Setup(format!(
                    "cannot create or update consumer {} on stream {stream_name}: {}",
                    settings.name,
                    f.message()
                ))
            });
    }
    let consumer: consumer::PullConsumer = retry
        .run(&what, || async {
            input.get_consumer(&settings.name).await.map_err(|e| {
                match e.downcast_ref::<ConsumerInfoError>().map(|e| e.kind()) {
                    Some(ConsumerInfoErrorKind::JetStream(api)) => api_error(&api),
                    Some(
                        ConsumerInfoErrorKind::Offline
                        | ConsumerInfoErrorKind::Request
                        | ConsumerInfoErrorKind::TimedOut
                        | ConsumerInfoErrorKind::NoResponders,
                    ) => Failure::Transient(e.to_string()),
                    _ => Failure::Definitive(e.to_string()),
                }
            })
        })
        .await
        .map_err(|f| {
            TransportError::Setup(format!(
                "consumer {} on stream {stream_name} is not available ({}); provision it (README \"Deploy\") or run with --ensure-streams=true",
                settings.name,
                f.message()
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
    insert_header(&mut headers, HEADER_MSG_ID, &enriched.message_id());
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
    fn a_comma_separated_url_list_is_a_server_list() {
        let addrs =
            server_addrs("nats://127.0.0.1:4222, nats://127.0.0.1:4223,127.0.0.1:4224").unwrap();
        assert_eq!(addrs.len(), 3);
        assert_eq!(addrs[2].port(), 4224);
        let err = server_addrs("nats://127.0.0.1:4222,nats://127.0.0.1:x").unwrap_err();
        assert!(err.to_string().contains("nats://127.0.0.1:x"), "{err}");
        assert!(server_addrs(" , ").is_err());
    }

    #[test]
    fn only_server_side_trouble_is_retried() {
        let parse =
            |json: &str| -> async_nats::jetstream::Error { serde_json::from_str(json).unwrap() };
        let transient = [
            r#"{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"}"#,
            r#"{"code":500,"err_code":10118,"description":"stream is offline"}"#,
        ];
        for json in transient {
            assert!(
                matches!(api_error(&parse(json)), Failure::Transient(_)),
                "{json}"
            );
        }
        let definitive = [
            r#"{"code":404,"err_code":10059,"description":"stream not found"}"#,
            r#"{"code":404,"err_code":10014,"description":"consumer not found"}"#,
            r#"{"code":400,"err_code":10058,"description":"stream name already in use"}"#,
        ];
        for json in definitive {
            assert!(
                matches!(api_error(&parse(json)), Failure::Definitive(_)),
                "{json}"
            );
        }
    }

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
