//! Running the synchronous pipeline off the executor under the per-article time budget.
//!
//! Stages cannot be interrupted: the pipeline checks the budget between stages
//! ([`crate::pipeline::Pipeline::with_deadline`]), and for a stage that does not return at all
//! the transport stops waiting once the budget (plus a grace) is spent and rejects the article
//! as `deadline_exceeded`. The thread running that stage is not killed — Rust cannot — so it
//! keeps a blocking-pool thread until the stage returns (tokio grows the pool up to 512
//! threads); the CPU permit is given back so the worker keeps serving other articles.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::enrich::{Enriched, Rejection, enrich_payload};
use crate::pipeline::Pipeline;

/// Extra time past the budget before the transport gives up on a stage that has not returned,
/// so the pipeline's own check (which names the stage) normally reports the overrun.
pub const DEADLINE_GRACE: Duration = Duration::from_millis(500);

/// Decodes and enriches `payload` on the blocking pool, within the pipeline's time budget.
///
/// # Errors
/// The article's [`Rejection`]: bad input, a stage's refusal or panic, or `deadline_exceeded`.
pub async fn enrich_blocking(
    pipeline: Arc<Pipeline>,
    payload: Bytes,
    max_bytes: usize,
) -> Result<Enriched, Rejection> {
    let budget = pipeline.deadline();
    let span = tracing::Span::current();
    let task = tokio::task::spawn_blocking(move || {
        span.in_scope(|| enrich_payload(&pipeline, &payload, max_bytes))
    });
    let joined = match budget {
        None => task.await,
        Some(budget) => match tokio::time::timeout(budget + DEADLINE_GRACE, task).await {
            Ok(joined) => joined,
            Err(_) => {
                tracing::error!(
                    budget_ms = budget.as_millis(),
                    "A stage is still running past the article's time budget; rejecting the article (its thread stays busy until the stage returns)"
                );
                return Err(Rejection {
                    id: None,
                    kind: "deadline_exceeded",
                    message: format!(
                        "a stage was still running {} ms after the article's time budget of {} ms (--deadline) ran out",
                        DEADLINE_GRACE.as_millis(),
                        budget.as_millis()
                    ),
                });
            }
        },
    };
    joined.unwrap_or_else(|e| {
        Err(Rejection {
            id: None,
            kind: "panic",
            message: format!("the pipeline task failed: {e}"),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{Document, Stage, StageError};

    /// A stage that blocks far longer than any budget (a stand-in for one that never returns).
    struct Stuck;
    impl Stage for Stuck {
        fn name(&self) -> &'static str {
            "stuck"
        }
        fn process(&self, _doc: &mut Document) -> Result<(), StageError> {
            std::thread::sleep(Duration::from_secs(2));
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_stage_that_does_not_return_is_rejected_once_the_budget_is_spent() {
        let pipeline = Arc::new(
            Pipeline::new(vec![Arc::new(Stuck)], false)
                .with_deadline(Some(Duration::from_millis(100))),
        );
        let started = std::time::Instant::now();
        let err = enrich_blocking(pipeline, Bytes::from_static(b"text"), 1 << 20)
            .await
            .unwrap_err();
        assert_eq!(err.kind, "deadline_exceeded");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "gave up at the budget, not when the stage returned: {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn within_the_budget_the_record_comes_back() {
        let pipeline =
            Arc::new(Pipeline::new(vec![], false).with_deadline(Some(Duration::from_secs(5))));
        let ok = enrich_blocking(pipeline, Bytes::from_static(b"Some text."), 1 << 20)
            .await
            .unwrap();
        assert!(!ok.record.is_empty());
    }
}
