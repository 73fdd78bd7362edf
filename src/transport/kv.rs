//! The story index on JetStream key-value: the worker's [`StoryIndex`], shared by every
//! replica, with entries that expire after the story window (the bucket's max age).
//!
//! A batch of look-ups is one request: the server's batched direct get (`multi_last`, ADR-31,
//! nats-server 2.11+) answers the last value of every key in one stream of replies, where one
//! `get` a key made 32 requests an article for its bands alone. async-nats 0.51 has no call
//! for it (synadia's `jetstream-extra` has, but is built on async-nats 0.48), so [`KvIndex`]
//! sends the request itself, on the bucket's own stream and subjects, and reads every batch's
//! replies on one subscription the index keeps for its life (a subscription a request would
//! make the server add and drop interest twice an article). A server without it
//! (no `Nats-Num-Pending` on the replies) gets one `get` a key instead. Creates are one request
//! each, all sent at once (`join_all` over one connection: pipelined, not one round trip after
//! another). Every request is bounded by [`KV_TIMEOUT`]; a failure is
//! [`IndexError::Unavailable`], which the worker treats like a failed publish (nak, retry).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::StreamExt;
use futures::future::join_all;
use tokio::sync::{OnceCell, mpsc};

use super::{Failure, StartupRetry, TransportError};
use crate::config::NatsArgs;
use crate::pipeline::story::{IndexError, StoryIndex};

/// How long one key-value request may take before the index counts as unavailable.
pub const KV_TIMEOUT: Duration = Duration::from_secs(5);

/// Most keys one batched direct get asks for (the server refuses more than 1,024 subjects).
pub const MULTI_LAST_KEYS: usize = 1000;

/// The story index in a JetStream KV bucket.
#[derive(Debug, Clone)]
pub struct KvIndex {
    store: kv::Store,
    client: async_nats::Client,
    /// The batched gets' reply subscription, made on the first get.
    replies: Arc<OnceCell<Arc<Replies>>>,
}

/// One subscription (`<inbox>.*`) for the replies of every batched get; each get waits on
/// its own token under it.
#[derive(Debug)]
struct Replies {
    inbox: String,
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, mpsc::UnboundedSender<async_nats::Message>>>,
}

impl Replies {
    /// Subscribes and starts the task that hands each reply to its get; the task ends with
    /// the connection (async-nats subscribes again by itself after a reconnect).
    async fn start(client: &async_nats::Client) -> Result<Arc<Self>, IndexError> {
        let inbox = client.new_inbox();
        let mut subscription = client
            .subscribe(format!("{inbox}.*"))
            .await
            .map_err(|e| unavailable("get", e))?;
        let replies = Arc::new(Self {
            inbox,
            next: AtomicU64::new(0),
            waiting: Mutex::new(HashMap::new()),
        });
        let router = replies.clone();
        tokio::spawn(async move {
            while let Some(reply) = subscription.next().await {
                let token = reply
                    .subject
                    .rsplit('.')
                    .next()
                    .and_then(|t| t.parse().ok());
                let waiting = token.and_then(|t| router.lock().get(&t).cloned());
                // A get that gave up (timeout) is gone: its late replies are dropped.
                if let Some(get) = waiting {
                    let _ = get.send(reply);
                }
            }
        });
        Ok(replies)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::UnboundedSender<async_nats::Message>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new reply subject and the receiver of its replies, withdrawn when the guard drops.
    fn wait(
        &self,
    ) -> (
        String,
        mpsc::UnboundedReceiver<async_nats::Message>,
        Withdraw<'_>,
    ) {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = mpsc::unbounded_channel();
        self.lock().insert(token, sender);
        (
            format!("{}.{token}", self.inbox),
            receiver,
            Withdraw(self, token),
        )
    }
}

/// Withdraws a get's reply token when the get ends, however it ends.
struct Withdraw<'a>(&'a Replies, u64);

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.0.lock().remove(&self.1);
    }
}

impl KvIndex {
    /// An index over an open bucket, read through `client` (the connection the bucket was
    /// opened on).
    pub fn new(store: kv::Store, client: async_nats::Client) -> Self {
        Self {
            store,
            client,
            replies: Arc::new(OnceCell::new()),
        }
    }

    /// The last values of `keys` in one batched direct get, in the order asked (`None` where
    /// absent, deleted or purged); `Ok(None)` when the server does not batch (then
    /// [`StoryIndex::get`] asks key by key). At most [`MULTI_LAST_KEYS`] keys.
    ///
    /// # Errors
    /// [`IndexError::Unavailable`] when the request fails or the server answers an error status.
    pub async fn get_batch(
        &self,
        keys: &[String],
    ) -> Result<Option<Vec<Option<Bytes>>>, IndexError> {
        let subjects: Vec<String> = keys
            .iter()
            .map(|k| format!("{}{k}", self.store.prefix))
            .collect();
        let request = serde_json::json!({ "multi_last": subjects, "batch": subjects.len() });
        let replies = self
            .replies
            .get_or_try_init(|| Replies::start(&self.client))
            .await?;
        let (inbox, mut replies, _withdraw) = replies.wait();
        self.client
            .publish_with_reply(
                format!("$JS.API.DIRECT.GET.{}", self.store.stream_name),
                inbox,
                request.to_string().into(),
            )
            .await
            .map_err(|e| unavailable("get", e))?;
        let mut found: HashMap<String, Option<Bytes>> = HashMap::with_capacity(keys.len());
        loop {
            let Some(reply) = replies.recv().await else {
                return Err(unavailable("get", "the reply subscription ended"));
            };
            if let Some(status) = reply.status {
                match status.as_u16() {
                    // End of batch (EOB); or not one of the keys is there.
                    204 | 404 => break,
                    code => {
                        let what = reply.description.unwrap_or_default();
                        return Err(unavailable("get", format!("status {code} {what}")));
                    }
                }
            }
            let headers = reply.headers.as_ref();
            let header = |name: &str| headers.and_then(|h| h.get(name)).map(|v| v.as_str());
            if header("Nats-Num-Pending").is_none() {
                return Ok(None);
            }
            let Some(subject) = header("Nats-Subject") else {
                return Err(unavailable("get", "a reply without Nats-Subject"));
            };
            let subject = subject.to_owned();
            // A deleted or purged key reads as absent, as `kv::Store::get` has it.
            let deleted = matches!(header("KV-Operation"), Some("DEL" | "PURGE"));
            found.insert(subject, (!deleted).then_some(reply.payload));
        }
        Ok(Some(
            subjects
                .iter()
                .map(|s| found.get(s).cloned().flatten())
                .collect(),
        ))
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
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MULTI_LAST_KEYS) {
            match bounded("get", self.get_batch(chunk)).await? {
                Some(values) => out.extend(values),
                None => out.extend(self.get_each(chunk).await?),
            }
        }
        Ok(out)
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

impl KvIndex {
    /// One `get` a key, all sent at once: for a server without batched direct gets.
    async fn get_each(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, IndexError> {
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
