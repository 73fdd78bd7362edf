//! The JetStream worker loop: pull, enrich on the stage pool, publish, then ack.
//!
//! Order per article (ack only what is stored): publish the record to the output stream with
//! `Nats-Msg-Id` = article id, await the publish ack, then ack the input. A crash anywhere
//! before the input ack means redelivery, and the output stream's duplicate window turns the
//! second publish into a no-op, so a redelivery never creates a second record. Rejected
//! articles go to the DLQ stream first and are terminated only once the dead letter is stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, consumer::PullConsumer, message::Acker};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::trace::{self, TraceParent};
use super::{
    HEADER_DELIVERY, HEADER_ERROR, HEADER_ERROR_KIND, HEADER_SCHEMA, HEADER_SOURCE_SEQUENCE,
    TransportError, insert_header,
};
use crate::enrich::{Enriched, Rejection};
use crate::metrics;
use crate::pipeline::Pipeline;
use crate::record::ENRICHED_SCHEMA;
use crate::runner::Runner;

/// How long one publish (output or dead letter) may take before it counts as failed.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one pull request waits on the server for messages before the worker asks again.
const PULL_EXPIRES: Duration = Duration::from_secs(5);
/// Extra time the client gives a pull request past its expiry (a broker that went away).
const PULL_GRACE: Duration = Duration::from_secs(5);
/// Pause after a pull request could not be sent (disconnected).
const PULL_RETRY_DELAY: Duration = Duration::from_millis(500);
/// Longest delay asked for when nak'ing after a transient failure.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// Attempts at storing a dead letter on an article's last delivery.
const LAST_DELIVERY_DLQ_ATTEMPTS: u32 = 5;

/// What the worker needs besides the consumer and the pipeline.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Articles held at once.
    pub in_flight: usize,
    /// Threads of the stage pool ([`Runner`]): articles on CPU at once.
    pub cpu_threads: usize,
    /// Largest payload accepted.
    pub max_bytes: usize,
    /// Subject enriched records go to.
    pub output_subject: String,
    /// Subject dead letters go to.
    pub dlq_subject: String,
    /// The consumer's ack wait (progress acks are sent at a third of it).
    pub ack_wait: Duration,
    /// The consumer's delivery attempts.
    pub max_deliver: i64,
    /// Time in-flight articles get to finish after shutdown is asked for.
    pub shutdown_timeout: Duration,
}

/// Counters of what the worker did (read at any time, returned at exit).
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages received.
    pub received: AtomicU64,
    /// Records stored on the output stream and inputs acked.
    pub enriched: AtomicU64,
    /// Of those, records the output stream had already (a redelivery after a lost ack).
    pub duplicates: AtomicU64,
    /// Articles dead-lettered and terminated.
    pub dead_lettered: AtomicU64,
    /// Messages nak'ed for a later retry (transient failure or shutdown).
    pub retried: AtomicU64,
    /// Messages that arrived on a second or later delivery.
    pub redelivered: AtomicU64,
}

impl Stats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

struct Shared {
    js: jetstream::Context,
    runner: Runner,
    settings: WorkerSettings,
    /// Cancelled when the shutdown timeout runs out: unfinished articles are nak'ed.
    force_stop: CancellationToken,
    stats: Arc<Stats>,
}

/// Runs the worker until `shutdown` is cancelled, then finishes in-flight articles (nak'ing
/// whatever cannot finish within the shutdown timeout) and flushes every ack.
///
/// # Errors
/// [`TransportError::Setup`] when the stage pool cannot start; [`TransportError::Consume`] when
/// the consumer goes away for good.
pub async fn run(
    client: async_nats::Client,
    consumer: PullConsumer,
    pipeline: Arc<Pipeline>,
    settings: WorkerSettings,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
) -> Result<(), TransportError> {
    let in_flight = Arc::new(Semaphore::new(settings.in_flight));
    let runner = Runner::start(pipeline, settings.cpu_threads, settings.max_bytes)
        .map_err(|e| TransportError::Setup(e.to_string()))?;
    let shared = Arc::new(Shared {
        js: jetstream::new(client.clone()),
        runner,
        force_stop: CancellationToken::new(),
        settings,
        stats,
    });
    let tracker = TaskTracker::new();
    let result = pull_loop(&consumer, &shared, &in_flight, &tracker, &shutdown).await;

    tracker.close();
    tracing::info!(
        in_flight = tracker.len(),
        "Stopped pulling; finishing in-flight articles"
    );
    if tokio::time::timeout(shared.settings.shutdown_timeout, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            unfinished = tracker.len(),
            "Shutdown timeout reached; nak'ing unfinished articles"
        );
        shared.force_stop.cancel();
        tracker.wait().await;
    }
    // Acks are queued by the client: flush so none is lost when the process exits.
    if let Err(e) = client.flush().await {
        tracing::warn!(error = %e, "Flushing acks failed");
    }
    result
}

async fn pull_loop(
    consumer: &PullConsumer,
    shared: &Arc<Shared>,
    in_flight: &Arc<Semaphore>,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<(), TransportError> {
    loop {
        // Take the permits before asking for work, and ask for exactly as many messages as
        // there are free slots: a message this worker holds is always being worked on (and
        // progress-acked), never waiting in a client-side buffer while its ack wait runs out.
        let first = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(()),
            p = in_flight.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return Ok(()),
            },
        };
        let mut permits = vec![first];
        while let Ok(p) = in_flight.clone().try_acquire_owned() {
            permits.push(p);
        }
        let request = consumer
            .batch()
            .max_messages(permits.len())
            .expires(PULL_EXPIRES)
            .messages();
        let mut batch = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(()),
            b = request => match b {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "Pull request failed; retrying");
                    tokio::time::sleep(PULL_RETRY_DELAY).await;
                    continue;
                }
            },
        };
        while !permits.is_empty() {
            let next = tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ok(()),
                m = tokio::time::timeout(PULL_EXPIRES + PULL_GRACE, batch.next()) => m,
            };
            match next {
                Ok(Some(Ok(message))) => {
                    if let Some(permit) = permits.pop() {
                        tracker.spawn(handle(shared.clone(), message, permit));
                    }
                }
                Ok(Some(Err(e))) => {
                    let text = e.to_string();
                    if text.contains("consumer deleted") || text.contains("Consumer Deleted") {
                        return Err(TransportError::Consume(format!(
                            "the consumer was deleted: {text}"
                        )));
                    }
                    tracing::warn!(error = %text, "Pulling failed; asking again");
                    break;
                }
                // The request expired or was filled (or the broker went away): ask again.
                Ok(None) | Err(_) => break,
            }
        }
    }
}

async fn handle(shared: Arc<Shared>, message: jetstream::Message, _permit: OwnedSemaphorePermit) {
    let _in_flight = metrics::InFlight::start();
    let (delivered, sequence) = message
        .info()
        .map(|i| (i.delivered, i.stream_sequence))
        .unwrap_or((1, 0));
    let (message, acker) = message.split();
    let (span, context) = super::article_span(&message, delivered);
    Stats::bump(&shared.stats.received);
    metrics::received(message.payload.len(), delivered);
    if delivered > 1 {
        Stats::bump(&shared.stats.redelivered);
    }
    let article = Article {
        payload: message.payload,
        acker,
        delivered,
        sequence,
        context,
    };
    process(&shared, article).instrument(span).await;
}

/// One delivery of one input message.
struct Article {
    payload: Bytes,
    acker: Acker,
    delivered: i64,
    sequence: u64,
    context: TraceParent,
}

async fn process(shared: &Arc<Shared>, article: Article) {
    let Some(outcome) = enrich_with_progress(shared, &article).await else {
        // Shutdown timeout: hand the article back for another worker, now.
        nak(shared, &article, None, "shutdown").await;
        return;
    };
    match outcome {
        Ok(enriched) => match publish_output(shared, &article, &enriched).await {
            Ok(duplicate) => {
                if let Err(e) = article.acker.ack().await {
                    // The record is stored; a redelivery will be deduplicated.
                    tracing::warn!(error = %e, "Ack failed after the record was stored");
                }
                Stats::bump(&shared.stats.enriched);
                if duplicate {
                    Stats::bump(&shared.stats.duplicates);
                }
                metrics::enriched(&enriched, duplicate);
                tracing::debug!(duplicate, "Article enriched");
            }
            Err(PublishFailure::TooLarge(message)) => {
                // Permanent: retrying cannot shrink the record, so dead-letter it now.
                let rejection = Rejection {
                    id: Some(enriched.id),
                    kind: "too_large",
                    message: format!(
                        "the enriched record ({} bytes) is over the broker's max_payload: {message}",
                        enriched.record.len()
                    ),
                };
                tracing::info!(kind = rejection.kind, reason = %rejection.message, "Article rejected");
                dead_letter(shared, &article, &rejection).await;
            }
            Err(PublishFailure::Transient(message)) => {
                let rejection = Rejection {
                    id: Some(enriched.id),
                    kind: "publish_failed",
                    message: format!(
                        "publishing the record failed on every one of {} deliveries: {message}",
                        article.delivered
                    ),
                };
                retry_or_dead_letter(shared, &article, rejection, &message).await;
            }
        },
        Err(rejection) => {
            tracing::info!(kind = rejection.kind, reason = %rejection.message, "Article rejected");
            metrics::rejected(rejection.kind);
            dead_letter(shared, &article, &rejection).await;
        }
    }
}

/// Runs the article on the stage pool (`--threads` threads), sending progress acks so a slow
/// or queued article is not redelivered while it waits or is worked on. `None` when shutdown
/// forced a stop first.
async fn enrich_with_progress(
    shared: &Arc<Shared>,
    article: &Article,
) -> Option<Result<Enriched, Rejection>> {
    let work = async { Some(shared.runner.submit(article.payload.clone()).await) };
    tokio::pin!(work);
    let every = (shared.settings.ack_wait / 3).max(Duration::from_millis(200));
    let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            biased;
            () = shared.force_stop.cancelled() => return None,
            result = &mut work => return result,
            _ = progress.tick() => {
                if let Err(e) = article.acker.ack_with(AckKind::Progress).await {
                    tracing::debug!(error = %e, "Progress ack failed");
                }
            }
        }
    }
}

/// Why a record could not be stored.
enum PublishFailure {
    /// The record is over the broker's `max_payload`: no retry can help.
    TooLarge(String),
    /// Anything else (broker down, timeout): retried through redelivery.
    Transient(String),
}

/// Stores the record; `Ok(true)` when the stream already had it (a deduplicated redelivery).
async fn publish_output(
    shared: &Shared,
    article: &Article,
    enriched: &Enriched,
) -> Result<bool, PublishFailure> {
    let mut headers = HeaderMap::new();
    insert_header(&mut headers, super::HEADER_MSG_ID, &enriched.id);
    headers.insert(trace::HEADER, article.context.to_string().as_str());
    headers.insert(HEADER_SCHEMA, ENRICHED_SCHEMA);
    headers.insert("Content-Type", "application/json");
    headers.insert(
        HEADER_SOURCE_SEQUENCE,
        article.sequence.to_string().as_str(),
    );
    let publish = async {
        let ack = shared
            .js
            .publish_with_headers(
                shared.settings.output_subject.clone(),
                headers,
                Bytes::from(enriched.record.clone()),
            )
            .await
            .map_err(|e| {
                if e.kind() == jetstream::context::PublishErrorKind::MaxPayloadExceeded {
                    PublishFailure::TooLarge(e.to_string())
                } else {
                    PublishFailure::Transient(e.to_string())
                }
            })?;
        ack.await
            .map_err(|e| PublishFailure::Transient(e.to_string()))
    };
    let ack = tokio::time::timeout(PUBLISH_TIMEOUT, publish)
        .instrument(tracing::debug_span!("publish", subject = %shared.settings.output_subject))
        .await
        .map_err(|_| {
            PublishFailure::Transient(format!("no publish ack within {PUBLISH_TIMEOUT:?}"))
        })??;
    Ok(ack.duplicate)
}

/// A transient failure: nak with a growing delay, or dead-letter on the last delivery.
async fn retry_or_dead_letter(
    shared: &Shared,
    article: &Article,
    rejection: Rejection,
    error: &str,
) {
    if article.delivered >= shared.settings.max_deliver {
        tracing::warn!(error, "Last delivery failed; dead-lettering");
        metrics::rejected(rejection.kind);
        dead_letter(shared, article, &rejection).await;
    } else {
        tracing::warn!(error, "Transient failure; the article will be retried");
        nak(
            shared,
            article,
            Some(retry_delay(article.delivered)),
            "transient",
        )
        .await;
    }
}

fn retry_delay(delivered: i64) -> Duration {
    let exponent = u32::try_from(delivered.clamp(1, 7) - 1).unwrap_or(0);
    Duration::from_secs(1 << exponent).min(MAX_RETRY_DELAY)
}

async fn nak(shared: &Shared, article: &Article, delay: Option<Duration>, reason: &'static str) {
    Stats::bump(&shared.stats.retried);
    metrics::retried(reason);
    if let Err(e) = article.acker.ack_with(AckKind::Nak(delay)).await {
        // Without the nak the server redelivers after the ack wait: slower, never lost.
        tracing::warn!(error = %e, "Nak failed");
    }
}

/// Stores the original payload on the DLQ with its reason, then terminates the input. If the
/// dead letter cannot be stored the input is nak'ed instead: nothing is dropped unrecorded.
async fn dead_letter(shared: &Shared, article: &Article, rejection: &Rejection) {
    let attempts = if article.delivered >= shared.settings.max_deliver {
        LAST_DELIVERY_DLQ_ATTEMPTS
    } else {
        1
    };
    let mut last_error = String::new();
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(retry_delay(i64::from(attempt))).await;
        }
        match publish_dead_letter(shared, article, rejection).await {
            Ok(()) => {
                if let Err(e) = article.acker.ack_with(AckKind::Term).await {
                    tracing::warn!(error = %e, "Term failed after the dead letter was stored");
                }
                Stats::bump(&shared.stats.dead_lettered);
                metrics::dead_lettered(rejection.kind);
                return;
            }
            Err(e) => last_error = e,
        }
    }
    tracing::error!(error = %last_error, "Storing the dead letter failed; nak'ing");
    nak(
        shared,
        article,
        Some(retry_delay(article.delivered)),
        "dlq_failed",
    )
    .await;
}

async fn publish_dead_letter(
    shared: &Shared,
    article: &Article,
    rejection: &Rejection,
) -> Result<(), String> {
    let mut headers = HeaderMap::new();
    // One dead letter per input message, however often it is delivered.
    let dedup = format!("dlq-{}", article.sequence);
    headers.insert(super::HEADER_MSG_ID, dedup.as_str());
    insert_header(&mut headers, HEADER_ERROR, &rejection.message);
    headers.insert(HEADER_ERROR_KIND, rejection.kind);
    headers.insert(
        HEADER_SOURCE_SEQUENCE,
        article.sequence.to_string().as_str(),
    );
    headers.insert(HEADER_DELIVERY, article.delivered.to_string().as_str());
    headers.insert(trace::HEADER, article.context.to_string().as_str());
    if let Some(id) = &rejection.id {
        insert_header(&mut headers, "Lede-Article-Id", id);
    }
    let publish = async {
        let ack = shared
            .js
            .publish_with_headers(
                shared.settings.dlq_subject.clone(),
                headers,
                article.payload.clone(),
            )
            .await
            .map_err(|e| e.to_string())?;
        ack.await.map_err(|e| e.to_string())
    };
    tokio::time::timeout(PUBLISH_TIMEOUT, publish)
        .instrument(tracing::debug_span!("publish", subject = %shared.settings.dlq_subject))
        .await
        .map_err(|_| format!("no publish ack within {PUBLISH_TIMEOUT:?}"))??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_grows_and_is_capped() {
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(2), Duration::from_secs(2));
        assert_eq!(retry_delay(4), Duration::from_secs(8));
        assert_eq!(retry_delay(100), Duration::from_secs(60));
    }
}
