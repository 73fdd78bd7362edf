//! The core-NATS worker: a queue-group subscription, at-most-once, lowest latency.
//!
//! Nothing is persisted or acknowledged: an article in flight when a worker dies is lost, and a
//! record published while no one listens is gone. Use it where latency matters more than
//! completeness; the JetStream worker is the default. Records still carry `Nats-Msg-Id`, so an
//! output stream over the output subject deduplicates them.

use std::sync::Arc;

use async_nats::HeaderMap;
use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::trace;
use super::{HEADER_ERROR, HEADER_ERROR_KIND, HEADER_SCHEMA, TransportError, insert_header};
use crate::enrich::enrich_payload;
use crate::metrics;
use crate::pipeline::Pipeline;
use crate::record::ENRICHED_SCHEMA;
use crate::transport::jetstream::WorkerSettings;

/// Runs the queue-group worker until `shutdown`, then finishes what it holds.
///
/// # Errors
/// [`TransportError::Consume`] when subscribing fails.
pub async fn run(
    client: async_nats::Client,
    input_subject: &str,
    queue_group: &str,
    pipeline: Arc<Pipeline>,
    settings: WorkerSettings,
    shutdown: CancellationToken,
) -> Result<(), TransportError> {
    let mut subscription = client
        .queue_subscribe(input_subject.to_owned(), queue_group.to_owned())
        .await
        .map_err(|e| {
            TransportError::Consume(format!("cannot subscribe to {input_subject}: {e}"))
        })?;
    let in_flight = Arc::new(Semaphore::new(settings.in_flight));
    let cpu = Arc::new(Semaphore::new(settings.cpu_threads));
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
        let (client, pipeline, settings, cpu) = (
            client.clone(),
            pipeline.clone(),
            settings.clone(),
            cpu.clone(),
        );
        tracker.spawn(async move {
            let _permit = permit;
            let _in_flight = metrics::InFlight::start();
            metrics::received(message.payload.len(), 1);
            let (span, context) = super::article_span(&message, 1);
            async move {
                let Ok(_cpu) = cpu.acquire().await else { return };
                let payload = message.payload.clone();
                let max_bytes = settings.max_bytes;
                let span = tracing::Span::current();
                let result = tokio::task::spawn_blocking(move || {
                    span.in_scope(|| enrich_payload(&pipeline, &payload, max_bytes))
                })
                .await;
                let mut headers = HeaderMap::new();
                headers.insert(trace::HEADER, context.to_string().as_str());
                let (subject, body) = match result {
                    Ok(Ok(enriched)) => {
                        // Counted when handed to the client: core NATS confirms nothing.
                        metrics::enriched(&enriched, false);
                        insert_header(
                            &mut headers,
                            super::HEADER_MSG_ID,
                            &enriched.message_id(),
                        );
                        headers.insert(HEADER_SCHEMA, ENRICHED_SCHEMA);
                        (settings.output_subject.clone(), enriched.record.into())
                    }
                    Ok(Err(rejection)) => {
                        metrics::rejected(rejection.kind);
                        metrics::dead_lettered(rejection.kind);
                        insert_header(&mut headers, HEADER_ERROR, &rejection.message);
                        headers.insert(HEADER_ERROR_KIND, rejection.kind);
                        (settings.dlq_subject.clone(), message.payload)
                    }
                    Err(e) => {
                        metrics::rejected("panic");
                        metrics::dead_lettered("panic");
                        insert_header(&mut headers, HEADER_ERROR, &format!("the pipeline task failed: {e}"));
                        headers.insert(HEADER_ERROR_KIND, "panic");
                        (settings.dlq_subject.clone(), message.payload)
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
    if let Err(e) = client.flush().await {
        tracing::warn!(error = %e, "Flushing failed");
    }
    Ok(())
}
