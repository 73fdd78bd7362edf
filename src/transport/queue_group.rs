//! The queue-group worker (`--transport core`): a core-NATS subscription, at-most-once, lowest
//! latency.
//!
//! Nothing is persisted or acknowledged: an article in flight when a worker dies is lost, and a
//! record published while no one listens is gone. Use it where latency matters more than
//! completeness; the JetStream worker is the default. The per-message path is the JetStream
//! worker's: the same stage pool ([`Runner`], so the same `--threads` and `--deadline`) and the
//! same headers ([`record_headers`], [`dead_letter_headers`]; no stream sequence, delivery 1).
//! Records still carry `Nats-Msg-Id`, so an output stream over the output subject deduplicates
//! them.

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::{TransportError, dead_letter_headers, record_headers};
use crate::metrics;
use crate::pipeline::Pipeline;
use crate::runner::Runner;
use crate::transport::jetstream::WorkerSettings;

/// Runs the queue-group worker until `shutdown`, then finishes what it holds.
///
/// # Errors
/// [`TransportError::Setup`] when the stage pool cannot start; [`TransportError::Consume`] when
/// subscribing fails.
pub async fn run(
    client: async_nats::Client,
    input_subject: &str,
    queue_group: &str,
    pipeline: Arc<Pipeline>,
    settings: WorkerSettings,
    shutdown: CancellationToken,
) -> Result<(), TransportError> {
    let runner = Runner::start(pipeline, settings.cpu_threads, settings.max_bytes)
        .map_err(|e| TransportError::Setup(e.to_string()))?;
    let mut subscription = client
        .queue_subscribe(input_subject.to_owned(), queue_group.to_owned())
        .await
        .map_err(|e| {
            TransportError::Consume(format!("cannot subscribe to {input_subject}: {e}"))
        })?;
    let in_flight = Arc::new(Semaphore::new(settings.in_flight));
    let settings = Arc::new(settings);
    let tracker = TaskTracker::new();
    loop {
        let permit = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            p = in_flight.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let message = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            m = subscription.next() => match m { Some(m) => m, None => break },
        };
        let (client, runner, settings) = (client.clone(), runner.clone(), settings.clone());
        tracker.spawn(async move {
            let _permit = permit;
            let _in_flight = metrics::InFlight::start();
            metrics::received(message.payload.len(), 1);
            let (span, context) = super::article_span(&message, 1);
            async move {
                let result = match runner.submit(message.payload.clone()).await {
                    // The story step; core NATS cannot retry, so an index failure is a dead
                    // letter (`story_index_failed`), never a record without its key.
                    Ok(mut enriched) => {
                        match super::kv::assign(settings.story.as_ref(), &mut enriched).await {
                            Ok(()) => Ok(enriched),
                            Err(e) => Err(crate::enrich::Rejection {
                                id: Some(enriched.id),
                                kind: "story_index_failed",
                                message: e.to_string(),
                            }),
                        }
                    }
                    Err(rejection) => Err(rejection),
                };
                let (subject, headers, body) = match result {
                    Ok(enriched) => {
                        // Counted when handed to the client: core NATS confirms nothing.
                        metrics::enriched(&enriched, false);
                        let headers = record_headers(&enriched, &context, None);
                        (settings.output_subject.clone(), headers, enriched.record.into())
                    }
                    Err(rejection) => {
                        tracing::info!(kind = rejection.kind, reason = %rejection.message, "Article rejected");
                        metrics::rejected(rejection.kind);
                        metrics::dead_lettered(rejection.kind);
                        let headers = dead_letter_headers(&rejection, &context, None, 1);
                        (settings.dlq_subject.clone(), headers, message.payload)
                    }
                };
                if let Err(e) = client.publish_with_headers(subject, headers, body).await {
                    tracing::warn!(error = %e, "Publishing failed; the article is lost (core transport)");
                }
            }
            .instrument(span)
            .await;
        });
    }
    drop(subscription);
    tracker.close();
    if tokio::time::timeout(settings.shutdown_timeout, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            unfinished = tracker.len(),
            "Shutdown timeout reached; unfinished articles are dropped (core transport)"
        );
    }
    super::flush_for_shutdown(&client).await;
    Ok(())
}
