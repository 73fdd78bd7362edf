//! Prometheus metrics: names, buckets, the recorder, and the few calls the transport makes.
//!
//! The `metrics` facade is used at the call sites (a relaxed atomic add per event, a no-op when
//! no recorder is installed, as in `lede process`), and `metrics-exporter-prometheus` renders
//! the text format for `GET /metrics` ([`crate::http`]). Both are the de-facto standard pair in
//! Rust services, so no exposition format is written by hand here.
//!
//! Every name is a constant below, and the README's "Deploy" section and the Grafana dashboard
//! (`deploy/grafana/dashboards/lede.json`) refer to them.

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::PullConsumer;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

use crate::enrich::Enriched;
use crate::pipeline::Label;

/// Messages received from the broker (every delivery).
pub const RECEIVED: &str = "lede_articles_received_total";
/// Deliveries that were a second or later attempt.
pub const REDELIVERED: &str = "lede_articles_redelivered_total";
/// Records stored on the output stream (input acked).
pub const ENRICHED: &str = "lede_articles_enriched_total";
/// Of those, records the output stream already had (a deduplicated redelivery).
pub const DUPLICATES: &str = "lede_articles_duplicate_total";
/// Articles rejected, by `kind` (the `Lede-Error-Kind`).
pub const REJECTED: &str = "lede_articles_rejected_total";
/// Dead letters stored on the DLQ stream, by `kind`.
pub const DEAD_LETTERED: &str = "lede_dlq_published_total";
/// Deliveries nak'ed for a later retry, by `reason` (`transient`, `shutdown`, `dlq_failed`).
pub const RETRIED: &str = "lede_articles_retried_total";
/// Articles held by this worker right now (pulled, processing or publishing).
pub const IN_FLIGHT: &str = "lede_articles_in_flight";
/// Payload bytes received.
pub const RECEIVED_BYTES: &str = "lede_received_bytes_total";
/// Record bytes published.
pub const ENRICHED_BYTES: &str = "lede_enriched_bytes_total";
/// Entities in published records, by `label`.
pub const ENTITIES: &str = "lede_entities_total";
/// Seconds one stage took on one article, by `stage`.
pub const STAGE_SECONDS: &str = "lede_stage_duration_seconds";
/// Seconds from receiving an article to its ack, term or nak.
pub const ARTICLE_SECONDS: &str = "lede_article_duration_seconds";
/// Messages the durable consumer has not delivered yet (the backlog), as the broker reports.
pub const CONSUMER_PENDING: &str = "lede_consumer_pending";
/// Messages delivered to some replica and not acked yet, as the broker reports.
pub const CONSUMER_ACK_PENDING: &str = "lede_consumer_ack_pending";
/// Messages the consumer is redelivering, as the broker reports.
pub const CONSUMER_REDELIVERED: &str = "lede_consumer_redelivered";
/// Always 1, labelled with lede's `version`.
pub const BUILD_INFO: &str = "lede_build_info";

/// How often upkeep runs and the consumer's state is read.
const POLL_EVERY: Duration = Duration::from_secs(5);

/// Histogram buckets in seconds: from half a millisecond (a `clean` on a short text) to ten
/// seconds (a large article under load). Real buckets, not summaries, so quantiles can be
/// aggregated across replicas in PromQL.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the global Prometheus recorder and describes every metric.
///
/// # Errors
/// When a recorder is already installed.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets(BUCKETS)?
        .install_recorder()?;
    describe();
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
}

fn describe() {
    describe_counter!(
        RECEIVED,
        "Messages received from the broker (every delivery)."
    );
    describe_counter!(
        REDELIVERED,
        "Deliveries that were a second or later attempt."
    );
    describe_counter!(
        ENRICHED,
        "Records stored on the output stream, inputs acked."
    );
    describe_counter!(
        DUPLICATES,
        "Records the output stream already had (deduplicated redeliveries)."
    );
    describe_counter!(
        REJECTED,
        "Articles rejected as permanently bad, by error kind."
    );
    describe_counter!(
        DEAD_LETTERED,
        "Dead letters stored on the DLQ, by error kind."
    );
    describe_counter!(RETRIED, "Deliveries nak'ed for a later retry, by reason.");
    describe_gauge!(IN_FLIGHT, "Articles this worker holds right now.");
    describe_counter!(RECEIVED_BYTES, "Payload bytes received.");
    describe_counter!(ENRICHED_BYTES, "Record bytes published.");
    describe_counter!(ENTITIES, "Entities in published records, by label.");
    describe_histogram!(
        STAGE_SECONDS,
        metrics::Unit::Seconds,
        "Time one stage took on one article."
    );
    describe_histogram!(
        ARTICLE_SECONDS,
        metrics::Unit::Seconds,
        "Time from receiving an article to its ack, term or nak."
    );
    describe_gauge!(
        CONSUMER_PENDING,
        "Messages the durable consumer has not delivered yet (backlog)."
    );
    describe_gauge!(
        CONSUMER_ACK_PENDING,
        "Messages delivered and not acked yet, across replicas."
    );
    describe_gauge!(
        CONSUMER_REDELIVERED,
        "Messages the consumer is redelivering."
    );
    describe_gauge!(BUILD_INFO, "Always 1, labelled with lede's version.");
}

/// One delivery arrived.
pub(crate) fn received(bytes: usize, delivered: i64) {
    counter!(RECEIVED).increment(1);
    counter!(RECEIVED_BYTES).increment(bytes as u64);
    if delivered > 1 {
        counter!(REDELIVERED).increment(1);
    }
}

/// A record was stored: its size, per-stage times and entities by label.
pub(crate) fn enriched(enriched: &Enriched, duplicate: bool) {
    counter!(ENRICHED).increment(1);
    if duplicate {
        counter!(DUPLICATES).increment(1);
    }
    counter!(ENRICHED_BYTES).increment(enriched.record.len() as u64);
    for timing in &enriched.timings {
        histogram!(STAGE_SECONDS, "stage" => timing.stage)
            .record(Duration::from_micros(timing.micros).as_secs_f64());
    }
    let mut by_label = [0u64; Label::ALL.len()];
    for label in &enriched.entity_labels {
        if let Some(i) = Label::ALL.iter().position(|l| l == label) {
            by_label[i] += 1;
        }
    }
    for (label, n) in Label::ALL.iter().zip(by_label) {
        if n > 0 {
            counter!(ENTITIES, "label" => label.as_str()).increment(n);
        }
    }
}

/// An article was found permanently bad (it goes to the DLQ).
pub(crate) fn rejected(kind: &'static str) {
    counter!(REJECTED, "kind" => kind).increment(1);
}

/// A dead letter was stored.
pub(crate) fn dead_lettered(kind: &'static str) {
    counter!(DEAD_LETTERED, "kind" => kind).increment(1);
}

/// A delivery was nak'ed for a retry.
pub(crate) fn retried(reason: &'static str) {
    counter!(RETRIED, "reason" => reason).increment(1);
}

/// The consumer's state as the broker reports it.
fn consumer_state(pending: u64, ack_pending: usize, redelivered: usize) {
    gauge!(CONSUMER_PENDING).set(pending as f64);
    gauge!(CONSUMER_ACK_PENDING).set(ack_pending as f64);
    gauge!(CONSUMER_REDELIVERED).set(redelivered as f64);
}

/// Runs the Prometheus handle's upkeep (draining histogram buckets) every few seconds, until
/// `stop`. The recorder is installed without the exporter's own listener, so this is ours.
pub async fn upkeep(handle: PrometheusHandle, stop: CancellationToken) {
    let mut every = tokio::time::interval(POLL_EVERY);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => handle.run_upkeep(),
        }
    }
}

/// Asks the broker for the consumer's state every few seconds and sets the consumer gauges,
/// until `stop`. Every replica reports the same shared consumer: aggregate with `max`.
pub async fn poll_consumer(mut consumer: PullConsumer, stop: CancellationToken) {
    let mut every = tokio::time::interval(POLL_EVERY);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => match consumer.info().await {
                Ok(info) => consumer_state(info.num_pending, info.num_ack_pending, info.num_redelivered),
                Err(e) => tracing::debug!(error = %e, "Reading the consumer's state failed"),
            },
        }
    }
}

/// Counts an article in flight from creation to drop, and records how long it was held.
pub(crate) struct InFlight {
    started: Instant,
}

impl InFlight {
    /// An article was taken on.
    pub(crate) fn start() -> Self {
        gauge!(IN_FLIGHT).increment(1.0);
        Self {
            started: Instant::now(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // The histogram first: once the gauge is back down, everything about the article is
        // recorded.
        histogram!(ARTICLE_SECONDS).record(self.started.elapsed().as_secs_f64());
        gauge!(IN_FLIGHT).decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::StageTiming;

    #[test]
    fn an_enriched_article_records_stage_times_bytes_and_entities_by_label() {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .unwrap()
            .build_recorder();
        let handle = recorder.handle();
        let article = Enriched {
            id: "a".into(),
            revision: "0".into(),
            record: vec![b'x'; 120],
            timings: vec![
                StageTiming {
                    stage: "segment",
                    micros: 1_500,
                },
                StageTiming {
                    stage: "entities",
                    micros: 30_000,
                },
            ],
            entity_labels: vec![Label::Person, Label::Gpe, Label::Person],
            story: None,
        };
        metrics::with_local_recorder(&recorder, || {
            enriched(&article, false);
            enriched(&article, true);
            rejected("too_large");
        });
        let text = handle.render();
        for line in [
            "lede_articles_enriched_total 2",
            "lede_articles_duplicate_total 1",
            "lede_enriched_bytes_total 240",
            "lede_entities_total{label=\"PERSON\"} 4",
            "lede_entities_total{label=\"GPE\"} 2",
            "lede_articles_rejected_total{kind=\"too_large\"} 1",
            "lede_stage_duration_seconds_bucket{stage=\"segment\",le=\"0.001\"} 0",
            "lede_stage_duration_seconds_bucket{stage=\"segment\",le=\"0.0025\"} 2",
            "lede_stage_duration_seconds_bucket{stage=\"entities\",le=\"0.025\"} 0",
            "lede_stage_duration_seconds_bucket{stage=\"entities\",le=\"0.05\"} 2",
            "lede_stage_duration_seconds_count{stage=\"entities\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
        }
        assert!(
            !text.contains("label=\"ORG\""),
            "labels never seen are absent"
        );
    }
}
