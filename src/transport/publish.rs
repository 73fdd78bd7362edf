//! Publishing raw articles to the input subject through JetStream (`lede publish`, benches).
//!
//! Each payload is published with `Nats-Msg-Id` = `<article id>:<revision>`, the rule the
//! worker uses for its output ([`crate::record::message_id`]): publishing the same file twice
//! stores each article once, while a corrected article (same id, new content) is always stored.
//! Acks are pipelined: up to `window` publishes are awaiting their ack at once.

use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use sha2::{Digest, Sha256};

use crate::record::RawArticle;

/// What a publish run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishSummary {
    /// Payloads stored by the stream.
    pub stored: u64,
    /// Payloads the stream already had (same id within its duplicate window).
    pub duplicates: u64,
    /// Payloads that are not valid articles (published anyway: the worker dead-letters them).
    pub invalid: u64,
    /// Publishes that failed.
    pub failed: u64,
    /// Wall-clock time.
    pub elapsed: Duration,
}

impl std::fmt::Display for PublishSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = self.stored + self.duplicates + self.failed;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        write!(
            f,
            "published {total} payloads in {:.2}s ({:.0}/s): {} stored, {} duplicates, {} failed; {} not valid articles (the worker will dead-letter them)",
            secs,
            total as f64 / secs,
            self.stored,
            self.duplicates,
            self.failed,
            self.invalid
        )
    }
}

/// The `Nats-Msg-Id` of a payload: `<article id>:<revision>`, or a hash of its bytes when it is
/// not a valid article. Returns whether it was valid.
pub fn message_id(payload: &[u8]) -> (String, bool) {
    match RawArticle::decode(payload, usize::MAX) {
        Ok(article) => (
            crate::record::message_id(&article.id, &article.revision()),
            true,
        ),
        Err(_) => {
            let digest = Sha256::digest(payload);
            let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
            (format!("invalid-{hex}"), false)
        }
    }
}

/// How many times a payload is sent before it counts as failed. A publish fails for a reason
/// that passes when the stream was just created and its replicas are still electing a leader
/// ("no responders"), or when the leader changes under it (no ack in time): each later round
/// resends what failed, after a pause of [`RETRY_PAUSE`] doubled each round (3.1 s in all).
pub const PUBLISH_ATTEMPTS: u32 = 6;

/// The pause before the first resend.
pub const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Whether a failed publish is worth sending again: not when the message is too large or a
/// precondition failed, which no resend changes.
fn passes(kind: jetstream::context::PublishErrorKind) -> bool {
    use jetstream::context::PublishErrorKind as K;
    !matches!(
        kind,
        K::MaxPayloadExceeded | K::WrongLastMessageId | K::WrongLastSequence
    )
}

/// Publishes every payload to `subject`, keeping up to `window` acks outstanding, and resends
/// those that failed for a reason that passes (up to [`PUBLISH_ATTEMPTS`] sends each). A resent
/// payload the stream reports as a duplicate was, as a rule, stored by this run's earlier send
/// whose ack was lost: it counts as stored.
pub async fn publish_all<I>(
    js: &jetstream::Context,
    subject: &str,
    payloads: I,
    window: usize,
) -> PublishSummary
where
    I: IntoIterator<Item = Vec<u8>>,
{
    let started = Instant::now();
    let mut summary = PublishSummary::default();
    let mut again = Vec::new();
    let mut invalid = 0;
    // The first round streams the payloads; later rounds hold only what failed.
    let first = payloads.into_iter().map(|payload| {
        let (id, valid) = message_id(&payload);
        if !valid {
            invalid += 1;
        }
        (id, Bytes::from(payload))
    });
    let round = Round {
        resend: false,
        last: PUBLISH_ATTEMPTS == 1,
    };
    send_round(js, subject, first, window, round, &mut summary, &mut again).await;
    summary.invalid = invalid;
    let mut pause = RETRY_PAUSE;
    for attempt in 2..=PUBLISH_ATTEMPTS {
        if again.is_empty() {
            break;
        }
        tracing::warn!(
            failed = again.len(),
            attempt,
            "Publishes failed for a reason that passes; sending them again in {pause:?}"
        );
        tokio::time::sleep(pause).await;
        pause *= 2;
        let round = Round {
            resend: true,
            last: attempt == PUBLISH_ATTEMPTS,
        };
        let payloads = std::mem::take(&mut again);
        send_round(
            js,
            subject,
            payloads,
            window,
            round,
            &mut summary,
            &mut again,
        )
        .await;
    }
    summary.elapsed = started.elapsed();
    summary
}

/// Which round of sends this is.
#[derive(Debug, Clone, Copy)]
struct Round {
    /// The payloads were sent before: a duplicate is one of ours.
    resend: bool,
    /// No round follows: a failure is final.
    last: bool,
}

/// One pass over `payloads` (id, bytes): failures that pass go to `again` unless this is the
/// last round.
async fn send_round(
    js: &jetstream::Context,
    subject: &str,
    payloads: impl IntoIterator<Item = (String, Bytes)>,
    window: usize,
    Round { resend, last }: Round,
    summary: &mut PublishSummary,
    again: &mut Vec<(String, Bytes)>,
) {
    let mut pending = FuturesUnordered::new();
    let mut settle = |summary: &mut PublishSummary,
                      (id, payload, result): (String, Bytes, Result<_, _>)| {
        match result {
            Ok(ack) => {
                let ack: jetstream::publish::PublishAck = ack;
                if ack.duplicate && !resend {
                    summary.duplicates += 1;
                } else {
                    summary.stored += 1;
                }
            }
            Err(e) => {
                let e: jetstream::context::PublishError = e;
                if !last && passes(e.kind()) {
                    again.push((id, payload));
                } else {
                    tracing::warn!(error = %e, "Publish not acknowledged");
                    summary.failed += 1;
                }
            }
        }
    };
    for (id, payload) in payloads {
        let mut headers = HeaderMap::new();
        headers.insert(super::HEADER_MSG_ID, id.as_str());
        match js
            .publish_with_headers(subject.to_owned(), headers, payload.clone())
            .await
        {
            Ok(ack) => pending.push(async move { (id, payload, ack.into_future().await) }),
            Err(e) => settle(summary, (id, payload, Err(e))),
        }
        while pending.len() >= window.max(1) {
            if let Some(done) = pending.next().await {
                settle(summary, done);
            }
        }
    }
    while let Some(done) = pending.next().await {
        settle(summary, done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_is_the_article_id_and_revision_or_a_hash() {
        let v1 = br#"{"id":"a1","text":"x"}"#;
        let raw = RawArticle::decode(v1, 100).unwrap();
        assert_eq!(message_id(v1), (format!("a1:{}", raw.revision()), true));
        let (corrected, _) = message_id(br#"{"id":"a1","text":"x, corrected"}"#);
        assert_ne!(corrected, message_id(v1).0, "a correction gets a new id");
        assert!(corrected.starts_with("a1:"));
        let (plain, valid) = message_id(b"Some text.");
        assert!(valid);
        let raw = RawArticle::decode(b"Some text.", 100).unwrap();
        assert_eq!(plain, format!("{}:{}", raw.id, raw.revision()));
        let (bad, valid) = message_id(b"{not json");
        assert!(!valid);
        assert!(bad.starts_with("invalid-"));
        assert_eq!(message_id(b"{not json").0, bad);
    }
}
