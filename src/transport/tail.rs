//! Reading a stream from its start (`lede tail`): what a downstream consumer would see.

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures::StreamExt;

use super::TransportError;

/// One stored message: its payload and the headers lede set.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The payload.
    pub payload: bytes::Bytes,
    /// `Lede-Error-Kind` and `Lede-Error`, on dead letters.
    pub error: Option<(String, String)>,
}

/// Reads up to `count` messages (default: all the stream holds now) of `stream` from its
/// start, waiting at most `timeout` for each.
///
/// # Errors
/// [`TransportError::Setup`] when the stream is missing; `Consume` when reading fails.
pub async fn read(
    js: &jetstream::Context,
    stream: &str,
    count: Option<usize>,
    timeout: Duration,
) -> Result<Vec<Stored>, TransportError> {
    let mut s = js
        .get_stream(stream)
        .await
        .map_err(|e| TransportError::Setup(format!("stream {stream} is not available: {e}")))?;
    let held = s
        .info()
        .await
        .map_err(|e| TransportError::Consume(e.to_string()))?
        .state
        .messages;
    let want = count.unwrap_or(usize::try_from(held).unwrap_or(usize::MAX));
    let reader: consumer::PullConsumer = s
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        })
        .await
        .map_err(|e| TransportError::Consume(e.to_string()))?;
    let mut messages = reader
        .messages()
        .await
        .map_err(|e| TransportError::Consume(e.to_string()))?;
    let mut out = Vec::with_capacity(want.min(10_000));
    while out.len() < want {
        let next = tokio::time::timeout(timeout, messages.next()).await;
        let message = match next {
            Err(_) => {
                return Err(TransportError::Consume(format!(
                    "only {} of {want} records arrived within {timeout:?}",
                    out.len()
                )));
            }
            Ok(None) => break,
            Ok(Some(m)) => m.map_err(|e| TransportError::Consume(e.to_string()))?,
        };
        let error = message.headers.as_ref().and_then(|h| {
            let kind = h.get(super::HEADER_ERROR_KIND)?.as_str().to_owned();
            let reason = h.get(super::HEADER_ERROR)?.as_str().to_owned();
            Some((kind, reason))
        });
        out.push(Stored {
            payload: message.payload.clone(),
            error,
        });
    }
    Ok(out)
}
