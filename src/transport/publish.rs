//! Publishing raw articles to the input subject through JetStream (`lede publish`, benches).
//!
//! Each payload is published with `Nats-Msg-Id` = `<article id>:<revision>`, the rule the
//! worker uses for its output ([`crate::record::message_id`]): publishing the same file twice
//! stores each article once, while a corrected article (same id, new content) is always stored.
//! Acks are pipelined: up to `window` publishes are awaiting their ack at once.

use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream;
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

/// Publishes every payload to `subject`, keeping up to `window` acks outstanding.
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
    let mut pending = FuturesUnordered::new();
    for payload in payloads {
        let (id, valid) = message_id(&payload);
        if !valid {
            summary.invalid += 1;
        }
        let mut headers = HeaderMap::new();
        headers.insert(super::HEADER_MSG_ID, id.as_str());
        match js
            .publish_with_headers(subject.to_owned(), headers, payload.into())
            .await
        {
            Ok(ack) => pending.push(ack.into_future()),
            Err(e) => {
                tracing::warn!(error = %e, "Publish failed");
                summary.failed += 1;
            }
        }
        while pending.len() >= window.max(1) {
            if let Some(result) = pending.next().await {
                count(&mut summary, result);
            }
        }
    }
    while let Some(result) = pending.next().await {
        count(&mut summary, result);
    }
    summary.elapsed = started.elapsed();
    summary
}

fn count(
    summary: &mut PublishSummary,
    result: Result<jetstream::publish::PublishAck, jetstream::context::PublishError>,
) {
    match result {
        Ok(ack) if ack.duplicate => summary.duplicates += 1,
        Ok(_) => summary.stored += 1,
        Err(e) => {
            tracing::warn!(error = %e, "Publish not acknowledged");
            summary.failed += 1;
        }
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
