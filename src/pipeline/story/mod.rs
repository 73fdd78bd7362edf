//! Story keys: syndicated copies and republished versions of one story share a key.
//!
//! Split as the house style asks for a stage with shared state: the [`Story`] stage is pure
//! (it computes the [`Signature`] of the cleaned text, nothing else), and [`assign`] is the
//! online decision, run by the transport between the pipeline and the publish, over a small
//! [`StoryIndex`] trait: [`MemoryIndex`] for `lede process` and tests, the JetStream KV index
//! (`transport::kv`) for the worker. Both run this same code, so an article gets the same key
//! offline and online.
//!
//! The index holds two kinds of entries, both written with create-if-absent:
//! - `m.<hash of id>`: one per article, its [`StoryOut`] and signature (for verification and
//!   for redelivery: an article that already has an entry gets that answer back);
//! - `b.<band hash>`: one per LSH band value, naming the first article that had it.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Document, Stage, StageError};

mod signature;

pub use signature::{
    BAND_ROWS, BANDS, FRAME_PARAGRAPHS, FRAME_WORDS, PERMUTATIONS, SHINGLE_WORDS, Signature, words,
};

/// The stage's name in `--stages`.
pub const NAME: &str = "story";

/// A candidate is the same story when its estimated Jaccard similarity reaches this…
pub const JACCARD_THRESHOLD: f64 = 0.5;
/// …or when the shorter text is this much contained in the longer one (truncated copies)…
pub const CONTAINMENT_THRESHOLD: f64 = 0.7;
/// …and the shorter text has at least this many distinct shingles, in all and in its body
/// ([`Signature::body`]): short texts in one outlet's frame share most of their shingles with
/// each other, so containment says nothing there.
pub const CONTAINMENT_MIN_SHINGLES: u32 = 15;

/// The pure half: the signature of the cleaned text, for [`assign`] to use.
#[derive(Debug, Default, Clone, Copy)]
pub struct Story;

impl Stage for Story {
    fn name(&self) -> &'static str {
        NAME
    }

    fn process(&self, doc: &mut Document) -> Result<(), StageError> {
        doc.story = Some(Pending {
            signature: Signature::of(&doc.text),
        });
        Ok(())
    }
}

/// The story an article was assigned to (the record's `story`, built by `enrich`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoryOut {
    /// Opaque story key, shared by every copy of the story.
    pub key: String,
    /// Estimated similarity to the closest earlier member; `None` for the first article.
    pub similarity: Option<f64>,
    /// The id of the article that started the story.
    pub first_id: String,
}

/// The story stage ran; its key is still to be assigned against the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The signature of the cleaned text; `None` when it has no word.
    pub signature: Option<Signature>,
}

/// Why the index could not answer. Always transient for the article: it waits and is retried,
/// as for a failed output publish; it never goes out without its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// The store did not answer or refused the request.
    #[error("the story index is unavailable: {0}")]
    Unavailable(String),
    /// A stored value could not be read back (a foreign writer in the bucket).
    #[error("the story index holds an unreadable entry {key}: {message}")]
    Corrupt {
        /// The entry's key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The three key-value operations the story algorithm needs. Batches are answered in order;
/// an implementation sends a batch's requests at once (pipelined), not one round trip after
/// another.
pub trait StoryIndex: Send + Sync {
    /// The values of `keys` (`None` where absent).
    fn get(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<Bytes>>, IndexError>> + Send;

    /// Creates each entry unless its key exists; `true` where this call created it.
    fn create(
        &self,
        entries: &[(String, Bytes)],
    ) -> impl Future<Output = Result<Vec<bool>, IndexError>> + Send;

    /// Overwrites one entry.
    fn put(&self, key: &str, value: Bytes) -> impl Future<Output = Result<(), IndexError>> + Send;
}

/// What the index keeps per article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Member {
    id: String,
    key: String,
    first_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    similarity: Option<f64>,
    shingles: u32,
    /// Body shingles ([`Signature::body`]); absent in entries written before it existed,
    /// which count all their shingles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<u32>,
    /// The MinHash values, 8 hex digits each.
    mins: String,
}

impl Member {
    fn new(id: &str, out: &StoryOut, sig: &Signature) -> Self {
        let mut mins = String::with_capacity(PERMUTATIONS * 8);
        for m in sig.mins {
            mins.push_str(&format!("{m:08x}"));
        }
        Self {
            id: id.to_owned(),
            key: out.key.clone(),
            first_id: out.first_id.clone(),
            similarity: out.similarity,
            shingles: sig.shingles,
            body: Some(sig.body),
            mins,
        }
    }

    fn encode(&self) -> Bytes {
        // A struct of strings and numbers always serializes.
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(key: &str, bytes: &[u8]) -> Result<Self, IndexError> {
        let corrupt = |message: String| IndexError::Corrupt {
            key: key.to_owned(),
            message,
        };
        let member: Self = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        member
            .signature()
            .ok_or_else(|| corrupt("bad signature".into()))?;
        Ok(member)
    }

    fn signature(&self) -> Option<Signature> {
        if self.mins.len() != PERMUTATIONS * 8 || !self.mins.is_ascii() {
            return None;
        }
        let mut mins = [0u32; PERMUTATIONS];
        for (i, m) in mins.iter_mut().enumerate() {
            *m = u32::from_str_radix(&self.mins[i * 8..i * 8 + 8], 16).ok()?;
        }
        Some(Signature {
            mins,
            shingles: self.shingles,
            body: self.body.unwrap_or(self.shingles),
        })
    }

    fn out(&self) -> StoryOut {
        StoryOut {
            key: self.key.clone(),
            similarity: self.similarity,
            first_id: self.first_id.clone(),
        }
    }
}

/// The index key of an article's entry.
fn member_key(id: &str) -> String {
    format!("m.{}", hex(&Sha256::digest(id.as_bytes())[..16]))
}

/// The story key a new story gets: derived from the id of its first article.
fn new_story(id: &str) -> StoryOut {
    let mut hasher = Sha256::new();
    hasher.update(b"story\0");
    hasher.update(id.as_bytes());
    StoryOut {
        key: hex(&hasher.finalize()[..12]),
        similarity: None,
        first_id: id.to_owned(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn band_keys(sig: &Signature) -> Vec<String> {
    sig.bands().iter().map(|h| format!("b.{h:016x}")).collect()
}

/// How similar a candidate is, when it counts as the same story: the estimated Jaccard
/// similarity, or the containment of the shorter text when that is higher and allowed.
pub fn same_story(a: &Signature, b: &Signature) -> Option<f64> {
    let jaccard = a.jaccard(b);
    let shorter = if a.shingles <= b.shingles { a } else { b };
    let containment = if shorter.shingles >= CONTAINMENT_MIN_SHINGLES
        && shorter.body >= CONTAINMENT_MIN_SHINGLES
    {
        a.containment(b)
    } else {
        0.0
    };
    (jaccard >= JACCARD_THRESHOLD || containment >= CONTAINMENT_THRESHOLD)
        .then_some(jaccard.max(containment))
}

async fn members<I: StoryIndex + ?Sized>(
    index: &I,
    keys: Vec<String>,
) -> Result<Vec<(Member, Signature)>, IndexError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let values = index.get(&keys).await?;
    let mut out = Vec::with_capacity(keys.len());
    for (key, value) in keys.iter().zip(values) {
        // Absent: expired with the story window since its band was read.
        let Some(value) = value else { continue };
        match Member::decode(key, &value) {
            Ok(m) => {
                if let Some(sig) = m.signature() {
                    out.push((m, sig));
                }
            }
            Err(e) => tracing::warn!(error = %e, "Skipping an unreadable story candidate"),
        }
    }
    Ok(out)
}

fn owners(values: Vec<Option<Bytes>>) -> Vec<Option<String>> {
    values
        .into_iter()
        .map(|v| v.and_then(|b| String::from_utf8(b.to_vec()).ok()))
        .collect()
}

/// Decides the story of article `id` online, against everything the index holds, and records
/// the article in it. Idempotent: a second call for the same id returns the first answer.
///
/// Racing calls (two replicas on two copies at once) agree on one key: both claim the band
/// entries with create-if-absent, so each sees the band the other won; the one that sees
/// without being seen adopts the other's key, and when both see each other the smaller first
/// id wins (see README "Story keys" for the argument and its limits).
///
/// # Errors
/// [`IndexError`] when the index cannot be read or written: the caller retries the article.
pub async fn assign<I: StoryIndex + ?Sized>(
    index: &I,
    id: &str,
    sig: Option<&Signature>,
) -> Result<StoryOut, IndexError> {
    // No word at all: nothing to compare, a story of its own (the same on every call).
    let Some(sig) = sig else {
        return Ok(new_story(id));
    };
    let me = member_key(id);
    let bands = band_keys(sig);
    // Its own entry and its bands' owners in one request: a first delivery needs both.
    let mut keys = Vec::with_capacity(bands.len() + 1);
    keys.push(me.clone());
    keys.extend(bands.iter().cloned());
    let mut values = index.get(&keys).await?;
    let band_values = values.split_off(1);
    if let Some(Some(found)) = values.pop() {
        let member = Member::decode(&me, &found)?;
        // A delivery that stopped between its entry and its band claims: finish the claims
        // (create-if-absent, so this is a no-op when they were made).
        if let Some(stored) = member.signature() {
            let bands = band_keys(&stored);
            let absent: Vec<(String, Bytes)> = bands
                .iter()
                .zip(index.get(&bands).await?)
                .filter(|(_, owner)| owner.is_none())
                .map(|(b, _)| (b.clone(), Bytes::from(me.clone())))
                .collect();
            if !absent.is_empty() {
                index.create(&absent).await?;
            }
        }
        return Ok(member.out());
    }
    let band_owners = owners(band_values);
    let mut seen: HashSet<&str> = HashSet::from([me.as_str()]);
    let candidates: Vec<String> = band_owners
        .iter()
        .flatten()
        .filter(|k| seen.insert(k.as_str()))
        .cloned()
        .collect();
    let best = members(index, candidates)
        .await?
        .into_iter()
        .filter_map(|(m, s)| same_story(sig, &s).map(|score| (score, m)))
        .max_by(|a, b| {
            a.0.total_cmp(&b.0)
                .then_with(|| b.1.first_id.cmp(&a.1.first_id))
        });
    let mut out = match &best {
        Some((score, m)) => StoryOut {
            key: m.key.clone(),
            similarity: Some(*score),
            first_id: m.first_id.clone(),
        },
        None => new_story(id),
    };
    let created = index
        .create(&[(me.clone(), Member::new(id, &out, sig).encode())])
        .await?;
    if !created.first().copied().unwrap_or(false) {
        // Another delivery of this very article got there first: its answer stands.
        return match index.get(std::slice::from_ref(&me)).await?.pop().flatten() {
            Some(found) => Ok(Member::decode(&me, &found)?.out()),
            None => Err(IndexError::Unavailable(format!(
                "entry {me} exists but cannot be read"
            ))),
        };
    }
    let claim: Vec<(String, Bytes)> = bands
        .iter()
        .zip(&band_owners)
        .filter(|(_, o)| o.is_none())
        .map(|(b, _)| (b.clone(), Bytes::from(me.clone())))
        .collect();
    if claim.is_empty() {
        return Ok(out);
    }
    let won = index.create(&claim).await?;
    let mine: HashSet<&str> = claim
        .iter()
        .zip(&won)
        .filter(|(_, w)| **w)
        .map(|(c, _)| c.0.as_str())
        .collect();
    let lost: Vec<String> = claim
        .iter()
        .zip(&won)
        .filter(|(_, w)| !**w)
        .map(|(c, _)| c.0.clone())
        .collect();
    if lost.is_empty() || best.is_some() {
        return Ok(out);
    }
    // A new story that lost a band to an article being decided at the same time: settle the
    // race so both end with one key.
    let racers: Vec<String> = owners(index.get(&lost).await?)
        .into_iter()
        .flatten()
        .filter(|k| !seen.contains(k.as_str()))
        .collect();
    let racers = members(index, dedup(racers)).await?;
    let mut joined: Option<(f64, Member)> = None;
    let mut founder: Option<(f64, Member)> = None;
    for (m, s) in racers {
        let Some(score) = same_story(sig, &s) else {
            continue;
        };
        if m.similarity.is_some() {
            // It found an earlier story: this article belongs there too.
            if joined.as_ref().is_none_or(|(best, _)| score > *best) {
                joined = Some((score, m));
            }
            continue;
        }
        // Both new. It sees this article when this article owns a band the two share; then
        // both know of each other and the smaller first id wins. Otherwise only this article
        // knows, and it yields.
        let theirs: HashSet<String> = band_keys(&s).into_iter().collect();
        let seen_by_them = mine.iter().any(|b| theirs.contains(*b));
        if seen_by_them && m.first_id.as_str() >= id {
            continue;
        }
        if founder
            .as_ref()
            .is_none_or(|(_, f)| m.first_id < f.first_id)
        {
            founder = Some((score, m));
        }
    }
    if let Some((score, m)) = joined.or(founder) {
        out = StoryOut {
            key: m.key,
            similarity: Some(score),
            first_id: m.first_id,
        };
        index.put(&me, Member::new(id, &out, sig).encode()).await?;
    }
    Ok(out)
}

fn dedup(mut keys: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    keys
}

/// An in-process [`StoryIndex`]: `lede process` and tests. No window: it keeps everything it is
/// given for its lifetime.
#[derive(Debug, Default)]
pub struct MemoryIndex {
    entries: Mutex<std::collections::HashMap<String, Bytes>>,
}

impl MemoryIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Entries held (articles plus band values).
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl StoryIndex for MemoryIndex {
    async fn get(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, IndexError> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(keys.iter().map(|k| entries.get(k).cloned()).collect())
    }

    async fn create(&self, new: &[(String, Bytes)]) -> Result<Vec<bool>, IndexError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(new
            .iter()
            .map(|(k, v)| match entries.entry(k.clone()) {
                std::collections::hash_map::Entry::Occupied(_) => false,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(v.clone());
                    true
                }
            })
            .collect())
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<(), IndexError> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned(), value);
        Ok(())
    }
}

/// [`assign`] on a [`MemoryIndex`], synchronously (its futures never wait).
///
/// # Errors
/// Never in practice: the in-memory index is always available.
pub fn assign_now(
    index: &MemoryIndex,
    id: &str,
    sig: Option<&Signature>,
) -> Result<StoryOut, IndexError> {
    futures::executor::block_on(assign(index, id, sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn story(index: &MemoryIndex, id: &str, text: &str) -> StoryOut {
        assign_now(index, id, Signature::of(text).as_ref()).expect("memory index")
    }

    const TEXT: &str = "The city council voted on Tuesday to approve a new budget that raises \
        spending on schools and roads, after months of debate among members about taxes.";

    #[test]
    fn copies_share_a_key_and_distinct_texts_do_not() {
        let index = MemoryIndex::new();
        let a = story(&index, "a", TEXT);
        assert_eq!(a.first_id, "a");
        assert_eq!(a.similarity, None);
        let b = story(&index, "b", &format!("BREAKING: {TEXT}"));
        assert_eq!(b.key, a.key);
        assert_eq!(b.first_id, "a");
        assert!(b.similarity.is_some_and(|s| s > 0.5));
        let c = story(
            &index,
            "c",
            "A storm closed the harbour and cancelled every ferry to the islands for two days while crews cleared debris.",
        );
        assert_ne!(c.key, a.key);
    }

    #[test]
    fn a_second_call_for_the_same_id_gives_the_first_answer() {
        let index = MemoryIndex::new();
        let a = story(&index, "a", TEXT);
        let held = index.len();
        let again = story(
            &index,
            "a",
            "something else entirely, no longer the same words at all",
        );
        assert_eq!(again, a);
        assert_eq!(index.len(), held);
    }

    #[test]
    fn an_article_without_words_is_its_own_story() {
        let index = MemoryIndex::new();
        let a = assign_now(&index, "x", None).expect("ok");
        assert_eq!(a, new_story("x"));
        assert!(index.is_empty());
    }

    #[test]
    fn members_round_trip_through_their_encoding() {
        let sig = Signature::of(TEXT).expect("words");
        let m = Member::new("a", &new_story("a"), &sig);
        let back = Member::decode("m.x", &m.encode()).expect("decodes");
        assert_eq!(back.signature(), Some(sig));
        assert!(Member::decode("m.x", b"{}").is_err());
    }
}
