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

use super::TransportError;
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

/// The bucket's configuration: one value per key, kept for the story window, on disk.
pub fn bucket_config(name: &str, window: Duration) -> kv::Config {
    kv::Config {
        bucket: name.to_owned(),
        description: "lede story index: article and MinHash band entries (README \"Story keys\")"
            .into(),
        history: 1,
        max_age: window,
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    }
}

/// Creates the story bucket when missing (`--ensure-streams`), or opens the provisioned one.
///
/// # Errors
/// [`TransportError::Setup`] when it cannot be created or is not there.
pub async fn bucket(js: &jetstream::Context, nats: &NatsArgs) -> Result<kv::Store, TransportError> {
    let name = &nats.story_bucket;
    if nats.ensure_streams {
        match js.get_key_value(name).await {
            Ok(store) => Ok(store),
            Err(_) => js
                .create_key_value(bucket_config(name, nats.story_window))
                .await
                .map_err(|e| {
                    TransportError::Setup(format!("cannot create the story bucket {name}: {e}"))
                }),
        }
    } else {
        js.get_key_value(name).await.map_err(|e| {
            TransportError::Setup(format!(
                "story bucket {name} is not available ({e}); provision it (README \"Deploy\") or run with --ensure-streams=true"
            ))
        })
    }
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
