//! The JetStream worker loop: pull, enrich on the stage pool, publish, then settle the input.
//!
//! Order per article (ack only what is stored): publish the record to the output stream with
//! `Nats-Msg-Id` = `<article id>:<revision>` ([`crate::record::message_id`]), await the publish
//! ack, then ack the input. A crash anywhere before the input ack means redelivery, and the
//! output stream's duplicate window turns the second publish of the same revision into a no-op,
//! while a corrected article (a new revision) is always stored. Rejected articles go to the DLQ
//! stream first and are terminated only once the dead letter is stored.
//!
//! Redelivery is bounded by the *bound consumer's* `max_deliver`, `ack_wait` and `backoff` (read
//! from its info, not from flags). The last delivery is never nak'ed — the server would not
//! deliver it again, so a nak would strand it: it is finished, or dead-lettered. What no worker
//! finished on any delivery (each one crashed) is announced by the server's `MAX_DELIVERIES`
//! advisory; every worker listens for it and copies the message to the DLQ as `max_deliveries`,
//! keyed by its stream sequence so that the DLQ stores it once however many workers heard it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, consumer::PullConsumer, message::Acker};
use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
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
use crate::record::{ENRICHED_SCHEMA, RawArticle};
use crate::runner::Runner;

/// How long one publish (output or dead letter) may take before it counts as failed.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one pull request waits on the server for messages before the worker asks again.
const PULL_EXPIRES: Duration = Duration::from_secs(5);
/// Extra time the client gives a pull request past its expiry (a broker that went away).
const PULL_GRACE: Duration = Duration::from_secs(5);
/// First pause after a failed pull; it doubles with every failure in a row.
const PULL_BACKOFF_START: Duration = Duration::from_millis(100);
/// Longest pause between failed pulls.
const PULL_BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A pull request that ends empty sooner than this did not wait on the server: a failure.
const PULL_EARLY_END: Duration = Duration::from_millis(50);
/// After shutdown, how long the worker keeps reading an open pull request for messages the
/// server already sent, to hand them back at once rather than let their ack wait run out.
const SHUTDOWN_DRAIN_QUIET: Duration = Duration::from_millis(250);
/// Longest delay asked for when nak'ing after a transient failure.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// Attempts at storing a dead letter on an article's last delivery.
const LAST_DELIVERY_DLQ_ATTEMPTS: u32 = 5;
/// Fastest progress-ack cadence, whatever the ack wait.
const MIN_PROGRESS_EVERY: Duration = Duration::from_millis(200);
/// The `Lede-Error-Kind` of a message whose deliveries were exhausted without an outcome.
pub const KIND_MAX_DELIVERIES: &str = "max_deliveries";
/// Header with the article id of a dead letter, when the payload had one.
pub const HEADER_ARTICLE_ID: &str = "Lede-Article-Id";

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
    /// The ack wait asked for (`--ack-wait`); the bound consumer's own value is what counts.
    pub ack_wait: Duration,
    /// The delivery attempts asked for (`--max-deliver`); the bound consumer's own value is
    /// what counts.
    pub max_deliver: i64,
    /// Time in-flight articles get to finish after shutdown is asked for.
    pub shutdown_timeout: Duration,
    /// The shared story index (with the story stage).
    pub story: Option<super::kv::KvIndex>,
}

/// Counters of what the worker did (read at any time, returned at exit).
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages received.
    pub received: AtomicU64,
    /// Records stored on the output stream and inputs acked.
    pub enriched: AtomicU64,
    /// Of those, publishes the output stream reported as duplicates (`PubAck.duplicate`): the
    /// same revision was already stored (a redelivery, or an identical republish).
    pub duplicates: AtomicU64,
    /// Articles dead-lettered and terminated.
    pub dead_lettered: AtomicU64,
    /// Messages nak'ed for a later retry (transient failure, or not started at shutdown).
    pub retried: AtomicU64,
    /// Messages that arrived on a second or later delivery.
    pub redelivered: AtomicU64,
    /// Messages handed back at shutdown before a stage touched them.
    pub not_started: AtomicU64,
    /// Exhausted messages (a `MAX_DELIVERIES` advisory) this worker copied to the DLQ.
    pub exhausted: AtomicU64,
    /// Exhausted messages whose copy the DLQ already had (another worker heard it too).
    pub exhausted_duplicates: AtomicU64,
}

impl Stats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The redelivery rules of the bound consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redelivery {
    /// Deliveries the server makes of one message (`i64::MAX` when unlimited).
    pub max_deliver: i64,
    /// How often a message in work is progress-acked: a third of the shortest redelivery delay.
    pub progress_every: Duration,
}

impl Redelivery {
    /// The rules of a consumer configuration.
    pub fn of(config: &jetstream::consumer::Config) -> Self {
        let shortest = config
            .backoff
            .iter()
            .copied()
            .chain(std::iter::once(config.ack_wait))
            .filter(|d| !d.is_zero())
            .min()
            // The server's default ack wait.
            .unwrap_or(Duration::from_secs(30));
        Self {
            max_deliver: if config.max_deliver < 1 {
                i64::MAX
            } else {
                config.max_deliver
            },
            progress_every: (shortest / 3).max(MIN_PROGRESS_EVERY),
        }
    }

    /// Whether the server will deliver this message again after `delivered` deliveries.
    pub fn is_last(&self, delivered: i64) -> bool {
        delivered >= self.max_deliver
    }
}

/// How a delivery that has no outcome is handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handback {
    /// Nak: the server delivers it again (after the delay).
    Nak(Option<Duration>),
    /// The last delivery: a nak would strand it. Leave it un-acked; when its ack wait runs out
    /// the server announces `MAX_DELIVERIES` and a worker dead-letters it.
    ToAdvisory,
}

fn handback(redelivery: Redelivery, delivered: i64, delay: Option<Duration>) -> Handback {
    if redelivery.is_last(delivered) {
        Handback::ToAdvisory
    } else {
        Handback::Nak(delay)
    }
}

struct Shared {
    js: jetstream::Context,
    runner: Runner,
    settings: WorkerSettings,
    redelivery: Redelivery,
    /// The input stream (for `MAX_DELIVERIES` copies).
    stream: String,
    /// Cancelled when shutdown is asked for: messages not started yet are handed back.
    shutdown: CancellationToken,
    /// Cancelled when the shutdown timeout runs out: unfinished articles are handed back.
    force_stop: CancellationToken,
    stats: Arc<Stats>,
}

/// Runs the worker until `shutdown` is cancelled, then hands back what it has not started,
/// finishes in-flight articles (handing back whatever cannot finish within the shutdown
/// timeout) and flushes every ack.
///
/// The redelivery rules come from `consumer`'s info; `settings.ack_wait` and
/// `settings.max_deliver` only say what was asked for (a difference is logged).
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
    let info = consumer.cached_info();
    let redelivery = Redelivery::of(&info.config);
    if info.config.max_deliver != settings.max_deliver || info.config.ack_wait != settings.ack_wait
    {
        tracing::info!(
            consumer = %info.name,
            max_deliver = info.config.max_deliver,
            ack_wait_ms = info.config.ack_wait.as_millis(),
            flag_max_deliver = settings.max_deliver,
            flag_ack_wait_ms = settings.ack_wait.as_millis(),
            "Using the bound consumer's redelivery settings, not the flags'"
        );
    }
    let stream = info.stream_name.clone();
    let advisory_subject = format!(
        "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{}.{}",
        info.stream_name, info.name
    );
    let in_flight = Arc::new(Semaphore::new(settings.in_flight));
    let runner = Runner::start(pipeline, settings.cpu_threads, settings.max_bytes)
        .map_err(|e| TransportError::Setup(e.to_string()))?;
    let shared = Arc::new(Shared {
        js: jetstream::new(client.clone()),
        runner,
        shutdown: shutdown.clone(),
        force_stop: CancellationToken::new(),
        redelivery,
        stream,
        settings,
        stats,
    });
    let tracker = TaskTracker::new();
    let advisories = client
        .subscribe(advisory_subject.clone())
        .await
        .map_err(|e| {
            TransportError::Consume(format!("cannot subscribe to {advisory_subject}: {e}"))
        })?;
    let listener = tokio::spawn(listen_for_exhausted(
        shared.clone(),
        advisories,
        tracker.clone(),
        shutdown.clone(),
    ));
    let result = pull_loop(&consumer, &shared, &in_flight, &tracker, &shutdown).await;
    // The pull loop ends on shutdown or on a lost consumer; either way stop listening.
    listener.abort();

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
            "Shutdown timeout reached; handing back unfinished articles"
        );
        shared.force_stop.cancel();
        tracker.wait().await;
    }
    // Acks are queued by the client: flush so none is lost when the process exits, but never
    // wait forever on a broker that is gone.
    super::flush_for_shutdown(&client).await;
    result
}

/// Failed pulls in a row: backs off and logs once per streak, not per attempt.
#[derive(Debug, Default)]
struct PullStreak {
    failures: u32,
    since: Option<Instant>,
}

impl PullStreak {
    /// Records a failure and returns how long to wait before asking again.
    fn failed(&mut self, error: &str) -> Duration {
        if self.failures == 0 {
            tracing::warn!(
                error,
                "Pulling failed; backing off and retrying (logged once until it recovers)"
            );
            self.since = Some(Instant::now());
        } else {
            tracing::debug!(error, failures = self.failures + 1, "Pulling failed again");
        }
        self.failures = self.failures.saturating_add(1);
        pull_backoff(self.failures)
    }

    /// A pull worked: ends the streak.
    fn succeeded(&mut self) {
        if self.failures > 0 {
            tracing::info!(
                failures = self.failures,
                seconds = self.since.map_or(0.0, |s| s.elapsed().as_secs_f64()),
                "Pulling recovered"
            );
        }
        *self = Self::default();
    }
}

/// The pause after the `failures`-th failed pull in a row: doubling from 100 ms, at most 5 s.
fn pull_backoff(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    PULL_BACKOFF_START
        .saturating_mul(1 << exponent)
        .min(PULL_BACKOFF_MAX)
}

async fn pull_loop(
    consumer: &PullConsumer,
    shared: &Arc<Shared>,
    in_flight: &Arc<Semaphore>,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<(), TransportError> {
    let mut streak = PullStreak::default();
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
        let asked = Instant::now();
        let mut batch = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(()),
            b = request => match b {
                Ok(b) => b,
                Err(e) => {
                    let pause = streak.failed(&format!("the pull request could not be sent: {e}"));
                    if pause_or_stop(pause, shutdown).await {
                        return Ok(());
                    }
                    continue;
                }
            },
        };
        let mut received = 0usize;
        let mut failure: Option<String> = None;
        while !permits.is_empty() {
            let next = tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    drain_after_shutdown(&mut batch, shared, &mut permits, tracker).await;
                    return Ok(());
                }
                m = tokio::time::timeout(PULL_EXPIRES + PULL_GRACE, batch.next()) => m,
            };
            match next {
                Ok(Some(Ok(message))) => {
                    received += 1;
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
                    failure = Some(text);
                    break;
                }
                // The request expired or was filled: ask again.
                Ok(None) => {
                    if received == 0 && asked.elapsed() < PULL_EARLY_END {
                        failure = Some("the pull request ended at once with no messages".into());
                    }
                    break;
                }
                Err(_) => {
                    failure = Some(format!(
                        "no answer to the pull request within {:?}",
                        PULL_EXPIRES + PULL_GRACE
                    ));
                    break;
                }
            }
        }
        match failure {
            Some(error) if received == 0 => {
                drop(permits);
                let pause = streak.failed(&error);
                if pause_or_stop(pause, shutdown).await {
                    return Ok(());
                }
            }
            _ => streak.succeeded(),
        }
    }
}

/// Sleeps `pause`; true when shutdown came first.
async fn pause_or_stop(pause: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        () = shutdown.cancelled() => true,
        () = tokio::time::sleep(pause) => false,
    }
}

/// Shutdown came while a pull request was open: messages the server already sent are handed
/// back now (a nak) instead of waiting out their ack wait — except a last delivery, which a nak
/// would strand: it is worked on like any other within the shutdown timeout.
async fn drain_after_shutdown(
    batch: &mut jetstream::consumer::pull::Batch,
    shared: &Arc<Shared>,
    permits: &mut Vec<OwnedSemaphorePermit>,
    tracker: &TaskTracker,
) {
    while let Ok(Some(Ok(message))) = tokio::time::timeout(SHUTDOWN_DRAIN_QUIET, batch.next()).await
    {
        let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
        if shared.redelivery.is_last(delivered)
            && let Some(permit) = permits.pop()
        {
            tracker.spawn(handle(shared.clone(), message, permit));
            continue;
        }
        Stats::bump(&shared.stats.not_started);
        Stats::bump(&shared.stats.retried);
        metrics::retried("shutdown");
        if let Err(e) = message.ack_with(AckKind::Nak(None)).await {
            tracing::debug!(error = %e, "Nak at shutdown failed (the ack wait redelivers it)");
        }
    }
}

async fn handle(shared: Arc<Shared>, message: jetstream::Message, _permit: OwnedSemaphorePermit) {
    let _in_flight = metrics::InFlight::start();
    let (delivered, sequence) = match message.info() {
        Ok(i) => (i.delivered, Some(i.stream_sequence)),
        Err(_) => (1, None),
    };
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
    /// The input stream sequence (`None` if the delivery's metadata could not be read).
    sequence: Option<u64>,
    context: TraceParent,
}

/// How far the pipeline got with one delivery.
enum Outcome {
    /// It ran: a record or a rejection.
    Done(Result<Enriched, Rejection>),
    /// Shutdown came before a stage touched it.
    NotStarted,
    /// The shutdown timeout ran out while it was in a stage.
    Stopped,
}

async fn process(shared: &Arc<Shared>, article: Article) {
    let outcome = match enrich_with_progress(shared, &article).await {
        Outcome::Done(outcome) => outcome,
        Outcome::NotStarted => {
            Stats::bump(&shared.stats.not_started);
            hand_back(shared, &article, None, "shutdown").await;
            return;
        }
        Outcome::Stopped => {
            // Shutdown timeout: hand the article back for another worker, now.
            hand_back(shared, &article, None, "shutdown").await;
            return;
        }
    };
    // The story step: the index is written before the record is published and the input
    // acked; an index failure waits and retries like a failed publish.
    let outcome = match outcome {
        Ok(mut enriched) => {
            match super::kv::assign(shared.settings.story.as_ref(), &mut enriched).await {
                Ok(()) => Ok(enriched),
                Err(e) => {
                    let rejection = Rejection {
                        id: Some(enriched.id),
                        kind: "story_index_failed",
                        message: format!(
                            "the story index failed on every one of {} deliveries: {e}",
                            article.delivered
                        ),
                    };
                    retry_or_dead_letter(shared, &article, rejection, &e.to_string()).await;
                    return;
                }
            }
        }
        Err(rejection) => Err(rejection),
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
                    if article.delivered == 1 {
                        // Not a redelivery of this input: another input message carried the
                        // very same revision and its record is already stored. Nothing is lost
                        // (the content is identical), but the producer's input Nats-Msg-Id does
                        // not follow lede's rule, so its republishes cost a pass each.
                        tracing::warn!(
                            revision = %enriched.revision,
                            "The output stream already holds this revision of the article from another input message; not stored again (publish with Nats-Msg-Id = <id>:<revision>, as `lede publish` does, to drop such republishes at the input)"
                        );
                    }
                }
                metrics::enriched(&enriched, duplicate);
                tracing::debug!(duplicate, revision = %enriched.revision, "Article enriched");
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
/// or queued article is not redelivered while it waits or is worked on.
async fn enrich_with_progress(shared: &Arc<Shared>, article: &Article) -> Outcome {
    let last = shared.redelivery.is_last(article.delivered);
    let work = async {
        // An article no pool thread has taken when shutdown comes is handed back untouched; its
        // last delivery is not (a nak would strand it): it waits its turn like any other.
        let stop = async {
            if last {
                std::future::pending::<()>().await;
            } else {
                shared.shutdown.cancelled().await;
            }
        };
        match shared
            .runner
            .submit_until(article.payload.clone(), stop)
            .await
        {
            Some(result) => Outcome::Done(result),
            None => Outcome::NotStarted,
        }
    };
    tokio::pin!(work);
    let every = shared.redelivery.progress_every;
    let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            biased;
            () = shared.force_stop.cancelled() => return Outcome::Stopped,
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

/// Stores the record; `Ok(true)` when the stream already had this revision (`PubAck.duplicate`).
async fn publish_output(
    shared: &Shared,
    article: &Article,
    enriched: &Enriched,
) -> Result<bool, PublishFailure> {
    let mut headers = HeaderMap::new();
    insert_header(&mut headers, super::HEADER_MSG_ID, &enriched.message_id());
    headers.insert(trace::HEADER, article.context.to_string().as_str());
    headers.insert(HEADER_SCHEMA, ENRICHED_SCHEMA);
    headers.insert("Content-Type", "application/json");
    if let Some(sequence) = article.sequence {
        headers.insert(HEADER_SOURCE_SEQUENCE, sequence.to_string().as_str());
    }
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
    if shared.redelivery.is_last(article.delivered) {
        tracing::warn!(error, "Last delivery failed; dead-lettering");
        metrics::rejected(rejection.kind);
        dead_letter(shared, article, &rejection).await;
    } else {
        tracing::warn!(error, "Transient failure; the article will be retried");
        hand_back(
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

/// Gives a delivery without an outcome back to the server: a nak, except on the last delivery,
/// which is left un-acked for the `MAX_DELIVERIES` advisory (a nak would strand it).
async fn hand_back(
    shared: &Shared,
    article: &Article,
    delay: Option<Duration>,
    reason: &'static str,
) {
    match handback(shared.redelivery, article.delivered, delay) {
        Handback::Nak(delay) => {
            Stats::bump(&shared.stats.retried);
            metrics::retried(reason);
            if let Err(e) = article.acker.ack_with(AckKind::Nak(delay)).await {
                // Without the nak the server redelivers after the ack wait: slower, never lost.
                tracing::warn!(error = %e, "Nak failed");
            }
        }
        Handback::ToAdvisory => {
            tracing::error!(
                reason,
                delivery = article.delivered,
                "The last delivery ended without an outcome; leaving it un-acked: when its ack wait runs out the server's MAX_DELIVERIES advisory has a worker dead-letter it as max_deliveries"
            );
        }
    }
}

/// Stores the original payload on the DLQ with its reason, then terminates the input. If the
/// dead letter cannot be stored the input is handed back instead: nothing is dropped unrecorded.
async fn dead_letter(shared: &Shared, article: &Article, rejection: &Rejection) {
    let attempts = if shared.redelivery.is_last(article.delivered) {
        LAST_DELIVERY_DLQ_ATTEMPTS
    } else {
        1
    };
    let mut last_error = String::new();
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(retry_delay(i64::from(attempt))).await;
            // Keep the delivery ours while waiting to retry.
            let _ = article.acker.ack_with(AckKind::Progress).await;
        }
        let letter = DeadLetter {
            payload: &article.payload,
            sequence: article.sequence,
            delivered: article.delivered,
            kind: rejection.kind,
            reason: &rejection.message,
            article_id: rejection.id.as_deref(),
            traceparent: Some(article.context.to_string()),
        };
        match publish_dead_letter(shared, &letter).await {
            Ok(_) => {
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
    tracing::error!(error = %last_error, "Storing the dead letter failed");
    hand_back(
        shared,
        article,
        Some(retry_delay(article.delivered)),
        "dlq_failed",
    )
    .await;
}

/// One dead letter to store.
struct DeadLetter<'a> {
    payload: &'a Bytes,
    sequence: Option<u64>,
    delivered: i64,
    kind: &'a str,
    reason: &'a str,
    article_id: Option<&'a str>,
    traceparent: Option<String>,
}

/// The DLQ's `Nats-Msg-Id` of a dead letter: `dlq-<input stream sequence>`, one dead letter per
/// input message however often (and by whichever path) it is dead-lettered. Without a sequence
/// (unreadable delivery metadata) the id is unique to this publish — a digest of the payload
/// and a random nonce — so distinct dead letters never share an id.
fn dead_letter_id(sequence: Option<u64>, payload: &[u8]) -> String {
    match sequence {
        Some(sequence) => format!("dlq-{sequence}"),
        None => {
            let digest = Sha256::digest(payload);
            let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            format!("dlq-unsequenced-{hex}-{:016x}", rand::random::<u64>())
        }
    }
}

/// Stores a dead letter; `Ok(true)` when the DLQ already had it.
async fn publish_dead_letter(shared: &Shared, letter: &DeadLetter<'_>) -> Result<bool, String> {
    let mut headers = HeaderMap::new();
    let dedup = dead_letter_id(letter.sequence, letter.payload);
    headers.insert(super::HEADER_MSG_ID, dedup.as_str());
    insert_header(&mut headers, HEADER_ERROR, letter.reason);
    insert_header(&mut headers, HEADER_ERROR_KIND, letter.kind);
    if let Some(sequence) = letter.sequence {
        headers.insert(HEADER_SOURCE_SEQUENCE, sequence.to_string().as_str());
    }
    headers.insert(HEADER_DELIVERY, letter.delivered.to_string().as_str());
    if let Some(context) = &letter.traceparent {
        headers.insert(trace::HEADER, context.as_str());
    }
    if let Some(id) = letter.article_id {
        insert_header(&mut headers, HEADER_ARTICLE_ID, id);
    }
    let publish = async {
        let ack = shared
            .js
            .publish_with_headers(
                shared.settings.dlq_subject.clone(),
                headers,
                letter.payload.clone(),
            )
            .await
            .map_err(|e| e.to_string())?;
        ack.await.map_err(|e| e.to_string())
    };
    let ack = tokio::time::timeout(PUBLISH_TIMEOUT, publish)
        .instrument(tracing::debug_span!("publish", subject = %shared.settings.dlq_subject))
        .await
        .map_err(|_| format!("no publish ack within {PUBLISH_TIMEOUT:?}"))??;
    Ok(ack.duplicate)
}

/// The part of the server's `io.nats.jetstream.advisory.v1.max_deliver` advisory lede reads.
#[derive(Debug, serde::Deserialize)]
struct MaxDeliveriesAdvisory {
    stream_seq: u64,
    deliveries: i64,
}

/// Copies every message the server announces as exhausted to the DLQ (`max_deliveries`).
async fn listen_for_exhausted(
    shared: Arc<Shared>,
    mut advisories: async_nats::Subscriber,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    loop {
        let message = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            m = advisories.next() => match m {
                Some(m) => m,
                None => return,
            },
        };
        match serde_json::from_slice::<MaxDeliveriesAdvisory>(&message.payload) {
            Ok(advisory) => {
                tracker.spawn(dead_letter_exhausted(shared.clone(), advisory));
            }
            Err(e) => tracing::warn!(error = %e, "Unreadable MAX_DELIVERIES advisory"),
        }
    }
}

/// Reads the exhausted message by its stream sequence, stores it on the DLQ keyed by that
/// sequence (so however many workers heard the advisory, the DLQ holds it once), then deletes
/// it from the work queue, where no delivery would ever remove it.
async fn dead_letter_exhausted(shared: Arc<Shared>, advisory: MaxDeliveriesAdvisory) {
    let sequence = advisory.stream_seq;
    let span = tracing::info_span!("exhausted", sequence, deliveries = advisory.deliveries);
    async move {
        let stream = match shared.js.get_stream_no_info(&shared.stream).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "Cannot reach the input stream to dead-letter an exhausted message");
                return;
            }
        };
        let message = match stream.get_raw_message(sequence).await {
            Ok(m) => m,
            Err(e) => {
                // Gone already: acked at the last moment, or another worker moved it.
                tracing::debug!(error = %e, "Exhausted message no longer in the input stream");
                return;
            }
        };
        let article_id = RawArticle::decode(&message.payload, usize::MAX)
            .ok()
            .map(|a| a.id);
        let reason = format!(
            "delivered {} times (the consumer's max_deliver) and no delivery reached an outcome: each one's worker crashed or stopped, or its dead letter could not be stored",
            advisory.deliveries
        );
        let letter = DeadLetter {
            payload: &message.payload,
            sequence: Some(sequence),
            delivered: advisory.deliveries,
            kind: KIND_MAX_DELIVERIES,
            reason: &reason,
            article_id: article_id.as_deref(),
            traceparent: message
                .headers
                .get(trace::HEADER)
                .map(|v| v.as_str().to_owned()),
        };
        match publish_dead_letter(&shared, &letter).await {
            Ok(duplicate) => {
                if duplicate {
                    Stats::bump(&shared.stats.exhausted_duplicates);
                } else {
                    Stats::bump(&shared.stats.exhausted);
                    metrics::dead_lettered(KIND_MAX_DELIVERIES);
                    tracing::warn!(
                        article_id = article_id.as_deref().unwrap_or(""),
                        "Dead-lettered a message whose deliveries were exhausted"
                    );
                }
                if let Err(e) = stream.delete_message(sequence).await {
                    tracing::debug!(error = %e, "Deleting the exhausted message failed (another worker may have)");
                }
            }
            Err(e) => tracing::error!(
                error = %e,
                "Storing the dead letter of an exhausted message failed; it stays in the input stream"
            ),
        }
    }
    .instrument(span)
    .await;
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

    #[test]
    fn pull_backoff_doubles_and_is_capped() {
        assert_eq!(pull_backoff(1), Duration::from_millis(100));
        assert_eq!(pull_backoff(2), Duration::from_millis(200));
        assert_eq!(pull_backoff(4), Duration::from_millis(800));
        assert_eq!(pull_backoff(100), PULL_BACKOFF_MAX);
    }

    /// Counts the WARN and INFO events emitted while it is the default subscriber.
    #[derive(Clone, Default)]
    struct Levels {
        warn: Arc<std::sync::atomic::AtomicUsize>,
        info: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Levels {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            use std::sync::atomic::Ordering::Relaxed;
            match *event.metadata().level() {
                tracing::Level::WARN => self.warn.fetch_add(1, Relaxed),
                tracing::Level::INFO => self.info.fetch_add(1, Relaxed),
                _ => 0,
            };
        }
    }

    #[test]
    fn a_pull_failure_streak_backs_off_and_warns_once() {
        use std::sync::atomic::Ordering::Relaxed;
        use tracing_subscriber::layer::SubscriberExt as _;
        let levels = Levels::default();
        let subscriber = tracing_subscriber::registry().with(levels.clone());
        let (pauses, after_recovery) = tracing::subscriber::with_default(subscriber, || {
            let mut streak = PullStreak::default();
            let pauses: Vec<Duration> = (0..200).map(|_| streak.failed("503")).collect();
            streak.succeeded();
            streak.succeeded();
            (pauses, streak.failed("503 again"))
        });
        assert_eq!(
            pauses[..4],
            [100, 200, 400, 800].map(Duration::from_millis),
            "a streak backs off, doubling"
        );
        assert!(
            pauses[4..]
                .iter()
                .all(|p| *p >= Duration::from_millis(1600))
        );
        assert_eq!(pauses[199], PULL_BACKOFF_MAX);
        assert_eq!(
            after_recovery,
            Duration::from_millis(100),
            "a new streak starts over"
        );
        assert_eq!(
            levels.warn.load(Relaxed),
            2,
            "one warning per streak, not per failure"
        );
        assert_eq!(levels.info.load(Relaxed), 1, "one recovery line");
    }

    #[test]
    fn the_last_delivery_is_never_nakked() {
        let r = Redelivery {
            max_deliver: 3,
            progress_every: Duration::from_secs(1),
        };
        let delay = Some(Duration::from_secs(2));
        assert_eq!(handback(r, 1, delay), Handback::Nak(delay));
        assert_eq!(handback(r, 2, None), Handback::Nak(None));
        assert_eq!(handback(r, 3, delay), Handback::ToAdvisory);
        assert_eq!(handback(r, 4, None), Handback::ToAdvisory);
    }

    #[test]
    fn redelivery_rules_come_from_the_consumer_config() {
        let config = jetstream::consumer::Config {
            max_deliver: 4,
            ack_wait: Duration::from_secs(30),
            backoff: vec![Duration::from_secs(6), Duration::from_secs(60)],
            ..Default::default()
        };
        let r = Redelivery::of(&config);
        assert_eq!(r.max_deliver, 4);
        assert_eq!(
            r.progress_every,
            Duration::from_secs(2),
            "a third of the shortest delay"
        );
        assert!(!r.is_last(3) && r.is_last(4));
        let unlimited = Redelivery::of(&jetstream::consumer::Config {
            max_deliver: -1,
            ..Default::default()
        });
        assert!(!unlimited.is_last(1_000_000));
        assert_eq!(unlimited.progress_every, Duration::from_secs(10));
    }

    #[test]
    fn dead_letter_ids_are_per_sequence_and_never_shared_without_one() {
        assert_eq!(dead_letter_id(Some(42), b"x"), "dlq-42");
        assert_eq!(dead_letter_id(Some(42), b"y"), "dlq-42");
        let (a, b) = (dead_letter_id(None, b"x"), dead_letter_id(None, b"x"));
        assert_ne!(a, b, "two unsequenced dead letters never share an id");
        assert!(a.starts_with("dlq-unsequenced-"));
        assert_ne!(a, "dlq-0");
    }
}
