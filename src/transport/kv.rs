//! The story index on JetStream key-value: the worker's [`StoryIndex`], shared by every
//! replica, with entries that expire after the story window (the bucket's max age).
//!
//! Every batch is sent at once (`join_all` over one connection: pipelined requests, not one
//! round trip after another), and every request is bounded by [`KV_TIMEOUT`]; a failure is
//! [`IndexError::Unavailable`], which the worker treats like a failed publish (nak, retry).

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::future::join_all;

use super::{Failure, StartupRetry, TransportError};
use crate::config::NatsArgs;
use crate::pipeline::story::{IndexError, StoryIndex};

/// How long one key-value request may take before the index counts as unavailable.
pub const KV_TIMEOUT: Duration = Duration::from_secs(5);

/// The story index in a JetStream KV bucket.
#[derive(Debug, Clone)]
pub struct KvIndex {
    store: kv::Store,
}

impl KvIndex {
    /// An index over an open bucket.
    pub fn new(store: kv::Store) -> Self {
        Self { store }
    }
}

/// The bucket's configuration: one value per key, kept for the story window, on disk, with the
/// streams' replica count.
pub fn bucket_config(name: &str, window: Duration, replicas: u16) -> kv::Config {
    kv::Config {
        bucket: name.to_owned(),
        description: "lede story index: article and MinHash band entries (README \"Story keys\")"
            .into(),
        history: 1,
        max_age: window,
        storage: jetstream::stream::StorageType::File,
        num_replicas: usize::from(replicas),
        ..Default::default()
    }
}

/// Opens the story bucket, creating it when missing with `--ensure-streams`; retries through
/// transient errors within the start-up budget, like the streams.
///
/// # Errors
/// [`TransportError::Setup`] when it cannot be created or is not there.
pub async fn bucket(
    js: &jetstream::Context,
    nats: &NatsArgs,
    retry: &StartupRetry,
) -> Result<kv::Store, TransportError> {
    use async_nats::jetstream::context::{CreateKeyValueErrorKind, KeyValueErrorKind};
    let name = nats.story_bucket.as_str();
    let what = format!("story bucket {name}");
    let ensure = nats.ensure_streams;
    retry
        .run(&what, || async {
            match js.get_key_value(name).await {
                Ok(store) => Ok(store),
                Err(e) if ensure || e.kind() == KeyValueErrorKind::JetStream => {
                    if !ensure {
                        return Err(Failure::Transient(e.to_string()));
                    }
                    js.create_key_value(bucket_config(
                        name,
                        nats.story_window,
                        nats.stream_replicas,
                    ))
                    .await
                    .map_err(|e| match e.kind() {
                        CreateKeyValueErrorKind::TimedOut | CreateKeyValueErrorKind::JetStream => {
                            Failure::Transient(e.to_string())
                        }
                        _ => Failure::Definitive(e.to_string()),
                    })
                }
                Err(e) => Err(Failure::Definitive(e.to_string())),
            }
        })
        .await
        .map_err(|f| {
            let reason = f.message();
            if ensure {
                TransportError::Setup(format!("cannot create the story bucket {name}: {reason}"))
            } else {
                TransportError::Setup(format!(
                    "story bucket {name} is not available ({reason}); provision it (README \"Deploy\") or run with --ensure-streams=true"
                ))
            }
        })
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> IndexError {
    IndexError::Unavailable(format!("{what}: {e}"))
}

async fn bounded<T, F: std::future::Future<Output = Result<T, IndexError>>>(
    what: &str,
    f: F,
) -> Result<T, IndexError> {
    tokio::time::timeout(KV_TIMEOUT, f)
        .await
        .map_err(|_| unavailable(what, format!("no answer within {KV_TIMEOUT:?}")))?
}

impl StoryIndex for KvIndex {
    async fn get(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, IndexError> {
        let gets = keys.iter().map(|k| {
            bounded("get", async move {
                self.store
                    .get(k.as_str())
                    .await
                    .map_err(|e| unavailable("get", e))
            })
        });
        join_all(gets).await.into_iter().collect()
    }

    async fn create(&self, entries: &[(String, Bytes)]) -> Result<Vec<bool>, IndexError> {
        let creates = entries.iter().map(|(k, v)| {
            bounded("create", async move {
                match self.store.create(k, v.clone()).await {
                    Ok(_) => Ok(true),
                    Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
                    Err(e) => Err(unavailable("create", e)),
                }
            })
        });
        join_all(creates).await.into_iter().collect()
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<(), IndexError> {
        bounded("put", async {
            self.store
                .put(key, value)
                .await
                .map(|_| ())
                .map_err(|e| unavailable("put", e))
        })
        .await
    }
}

/// The story step of both worker transports, between the pipeline and the publish.
///
/// # Errors
/// [`IndexError`] when the index fails, or when the pipeline computed a signature but the
/// worker was given no index (a record never goes out without its key).
pub async fn assign(
    index: Option<&KvIndex>,
    enriched: &mut crate::enrich::Enriched,
) -> Result<(), IndexError> {
    use tracing::Instrument;
    match index {
        Some(index) => {
            crate::enrich::assign_story(index, enriched)
                .instrument(tracing::debug_span!("story"))
                .await
        }
        None if enriched.story.is_some() => Err(IndexError::Unavailable(
            "the pipeline has the story stage but the worker has no story index".into(),
        )),
        None => Ok(()),
    }
}
