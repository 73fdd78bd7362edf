//! The wire formats: [`RawArticle`] in, [`EnrichedArticle`] out.
//!
//! Decoding is a plain function over bytes ([`RawArticle::decode`]) so that every rule about bad
//! input is tested without a broker. [`CharOffsets`] turns byte offsets into the **Unicode
//! code-point offsets** of the output contract (what Python string slicing and spaCy's
//! `start_char` use); filling a record from a finished document is [`crate::enrich::encode`],
//! so this module knows nothing of stages.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The `schema` value of every enriched record.
pub const ENRICHED_SCHEMA: &str = "lede.enriched/1";

/// Hex digits of the SHA-256 content hash used as the id of an article that has none.
const CONTENT_ID_HEX_DIGITS: usize = 32;
/// Hex digits of a [`RawArticle::revision`] (128 bits of SHA-256).
pub const REVISION_HEX_DIGITS: usize = 32;

/// Why a payload is not a usable raw article. Always permanent: the payload goes to the DLQ.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The payload is not valid UTF-8.
    #[error("payload is not valid UTF-8 (invalid byte at offset {offset})")]
    InvalidUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The payload starts with `{` but is not a valid raw-article JSON object.
    #[error("invalid JSON article: {0}")]
    InvalidJson(String),
    /// Neither a non-empty `text` nor `html`.
    #[error("article has no content: give a non-empty \"text\" or \"html\"")]
    MissingContent,
    /// The payload is larger than the configured limit.
    #[error("payload is {size} bytes, over the limit of {limit} bytes (--max-bytes)")]
    TooLarge {
        /// Payload size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl DecodeError {
    /// A short machine-readable kind, sent as the `Lede-Error-Kind` header.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::InvalidUtf8 { .. } => "invalid_utf8",
            DecodeError::InvalidJson(_) => "invalid_json",
            DecodeError::MissingContent => "missing_content",
            DecodeError::TooLarge { .. } => "too_large",
        }
    }
}

/// A raw article as it arrives on the input subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawArticle {
    /// The article id: given, or a stable hash of the content.
    pub id: String,
    /// Where the article was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The publisher or feed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Headline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Publication time, as the producer wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    /// Language code declared by the producer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Plain article text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A whole HTML page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Every other field of the input, passed through untouched.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub meta: Map<String, Value>,
}

/// The JSON shape of a raw article; unknown fields are collected for `meta`.
#[derive(Deserialize)]
struct RawJson {
    id: Option<String>,
    url: Option<String>,
    source: Option<String>,
    title: Option<String>,
    published_at: Option<String>,
    lang: Option<String>,
    text: Option<String>,
    html: Option<String>,
    #[serde(flatten)]
    meta: Map<String, Value>,
}

impl RawArticle {
    /// Decodes a payload.
    ///
    /// A payload whose first non-blank character is `{` must be a JSON object with a non-empty
    /// `text` or `html`; any other UTF-8 payload is taken as `{"text": payload}`. Without an
    /// `id`, the id is a hash of the content, so republishing an article gives the same id.
    ///
    /// # Errors
    /// [`DecodeError`] when the payload is over `max_bytes`, not UTF-8, broken JSON, or has no
    /// content.
    ///
    /// # Examples
    /// ```
    /// let a = lede::record::RawArticle::decode(b"Plain text.", 1 << 20).unwrap();
    /// assert_eq!(a.text.as_deref(), Some("Plain text."));
    /// let b = lede::record::RawArticle::decode(br#"{"id":"x","html":"<p>Hi</p>","src":"a"}"#, 1 << 20).unwrap();
    /// assert_eq!((b.id.as_str(), b.meta["src"].as_str()), ("x", Some("a")));
    /// ```
    pub fn decode(payload: &[u8], max_bytes: usize) -> Result<Self, DecodeError> {
        if payload.len() > max_bytes {
            return Err(DecodeError::TooLarge {
                size: payload.len(),
                limit: max_bytes,
            });
        }
        let text = std::str::from_utf8(payload).map_err(|e| DecodeError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })?;
        // A byte-order mark is an encoding artefact, not content: JSON after one is still JSON.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let raw = if text.trim_start().starts_with('{') {
            serde_json::from_str::<RawJson>(text)
                .map_err(|e| DecodeError::InvalidJson(e.to_string()))?
        } else {
            RawJson {
                id: None,
                url: None,
                source: None,
                title: None,
                published_at: None,
                lang: None,
                text: Some(text.to_owned()),
                html: None,
                meta: Map::new(),
            }
        };
        let text = raw.text.filter(|t| !t.trim().is_empty());
        let html = raw.html.filter(|h| !h.trim().is_empty());
        if text.is_none() && html.is_none() {
            return Err(DecodeError::MissingContent);
        }
        let id = match raw.id.filter(|id| !id.is_empty()) {
            Some(id) => id,
            None => content_id(text.as_deref(), html.as_deref()),
        };
        Ok(Self {
            id,
            url: raw.url,
            source: raw.source,
            title: raw.title,
            published_at: raw.published_at,
            lang: raw.lang,
            text,
            html,
            meta: raw.meta,
        })
    }
}

impl RawArticle {
    /// The revision of this version of the article: the first 128 bits of SHA-256, in hex, over
    /// every field but `id` (`url`, `source`, `title`, `published_at`, `lang`, `text`, `html` and
    /// `meta`, with object keys sorted). A correction changes it; a redelivery or an identical
    /// republish does not. The output's `Nats-Msg-Id` is `<id>:<revision>` ([`message_id`]).
    ///
    /// # Examples
    /// ```
    /// use lede::record::RawArticle;
    /// let v1 = RawArticle::decode(br#"{"id":"a","text":"First."}"#, 1 << 20).unwrap();
    /// let v2 = RawArticle::decode(br#"{"id":"a","text":"Corrected."}"#, 1 << 20).unwrap();
    /// assert_ne!(v1.revision(), v2.revision());
    /// assert_eq!(v1.revision(), RawArticle::decode(br#"{"text":"First.","id":"a"}"#, 1 << 20).unwrap().revision());
    /// ```
    pub fn revision(&self) -> String {
        let mut hasher = Sha256::new();
        let fields = [
            ("url", &self.url),
            ("source", &self.source),
            ("title", &self.title),
            ("published_at", &self.published_at),
            ("lang", &self.lang),
            ("text", &self.text),
            ("html", &self.html),
        ];
        for (name, value) in fields {
            // Name, presence and length first: no two different articles hash the same bytes.
            hasher.update(name.as_bytes());
            match value {
                Some(v) => {
                    hasher.update([1u8]);
                    hasher.update((v.len() as u64).to_le_bytes());
                    hasher.update(v.as_bytes());
                }
                None => hasher.update([0u8]),
            }
        }
        hasher.update(b"meta");
        hash_object(&mut hasher, &self.meta);
        hex_prefix(&hasher.finalize(), REVISION_HEX_DIGITS)
    }
}

/// The `Nats-Msg-Id` of one revision of an article: `<id>:<revision>`. The output stream (and
/// the input stream, through `lede publish`) drops a second publish of the same revision within
/// its duplicate window, and never a correction.
pub fn message_id(id: &str, revision: &str) -> String {
    format!("{id}:{revision}")
}

/// Feeds a JSON value to the hasher in a canonical form: object keys sorted, every item
/// length-prefixed, so the digest does not depend on key order or serde_json's map type.
fn hash_value(hasher: &mut Sha256, value: &Value) {
    match value {
        Value::Null => hasher.update([b'n']),
        Value::Bool(b) => hasher.update([b'b', u8::from(*b)]),
        Value::Number(n) => {
            let text = n.to_string();
            hasher.update([b'#']);
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        }
        Value::String(s) => {
            hasher.update([b's']);
            hasher.update((s.len() as u64).to_le_bytes());
            hasher.update(s.as_bytes());
        }
        Value::Array(items) => {
            hasher.update([b'[']);
            hasher.update((items.len() as u64).to_le_bytes());
            for item in items {
                hash_value(hasher, item);
            }
        }
        Value::Object(map) => hash_object(hasher, map),
    }
}

fn hash_object(hasher: &mut Sha256, map: &Map<String, Value>) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    hasher.update([b'{']);
    hasher.update((keys.len() as u64).to_le_bytes());
    for key in keys {
        hasher.update((key.len() as u64).to_le_bytes());
        hasher.update(key.as_bytes());
        if let Some(value) = map.get(key) {
            hash_value(hasher, value);
        }
    }
}

fn hex_prefix(digest: &[u8], hex_digits: usize) -> String {
    let mut out = String::with_capacity(hex_digits);
    for byte in digest.iter().take(hex_digits / 2) {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// A stable id for content without one: the first 128 bits of SHA-256, in hex.
fn content_id(text: Option<&str>, html: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    if let Some(text) = text {
        hasher.update(b"text\0");
        hasher.update(text.as_bytes());
    }
    if let Some(html) = html {
        hasher.update(b"\0html\0");
        hasher.update(html.as_bytes());
    }
    hex_prefix(&hasher.finalize(), CONTENT_ID_HEX_DIGITS)
}

/// A code-point span `[start, end)` into the record's `text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharSpan {
    /// First code point.
    pub start: usize,
    /// One past the last code point.
    pub end: usize,
}

/// A sentence of the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentenceOut {
    /// First code point.
    pub start: usize,
    /// One past the last code point.
    pub end: usize,
    /// Index into `paragraphs`.
    pub paragraph: usize,
}

/// A token of the record (only with `--tokens`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenOut {
    /// First code point.
    pub start: usize,
    /// One past the last code point.
    pub end: usize,
    /// A single trailing space follows that belongs to no token.
    pub ws: bool,
    /// The NORM of a tokenizer special case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub norm: Option<String>,
}

/// An entity of the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityOut {
    /// The entity text, `text[start..end]`.
    pub text: String,
    /// OntoNotes label.
    pub label: String,
    /// First code point.
    pub start: usize,
    /// One past the last code point.
    pub end: usize,
    /// Index into `sentences`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentence: Option<usize>,
    /// Index into `clusters`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<usize>,
    /// Title or office attached to a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The model's label, when the rule layer changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_label: Option<String>,
}

/// A mention cluster of the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterOut {
    /// Index of the cluster (what entities' `cluster` refers to).
    pub id: usize,
    /// Shared label.
    pub label: String,
    /// Canonical name.
    pub name: String,
    /// Indices into `entities`.
    pub mentions: Vec<usize>,
}

/// The speaker mention of a quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeakerOut {
    /// First code point.
    pub start: usize,
    /// One past the last code point.
    pub end: usize,
    /// `text[start..end]` ("he", "the top general").
    pub text: String,
}

/// A direct quote or reported statement of the record (the `quotes` stage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteOut {
    /// First code point of the content (its opening mark, for a direct quote).
    pub start: usize,
    /// One past the last code point of the content.
    pub end: usize,
    /// `direct` (quote-mark bounded) or `reported`.
    pub kind: String,
    /// The local speaker mention in the quoting clause, or null.
    pub speaker: Option<SpeakerOut>,
    /// Index into `clusters` of whom the speaker refers to, or null.
    pub cluster: Option<usize>,
    /// The reporting verb ("said", "according to"), or null.
    pub cue: Option<CharSpan>,
}

/// Something the clean stage removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedOut {
    /// What it was (`teaser`, `share`, …).
    pub kind: String,
    /// The removed text.
    pub text: String,
}

/// One run of the record's `text` and where it came from in the clean stage's input (the raw
/// `text`, or for HTML input the extracted text), all in code points. The runs tile `text` in
/// order; a `verbatim` run was copied unchanged and maps char for char, any other run (decoded
/// entity, collapsed spaces, paragraph break, NFC-composed line) maps as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceOffsetOut {
    /// First code point in `text`.
    pub start: usize,
    /// One past the last code point in `text`.
    pub end: usize,
    /// First code point in the source.
    pub source_start: usize,
    /// One past the last code point in the source.
    pub source_end: usize,
    /// Copied unchanged.
    pub verbatim: bool,
}

/// A stage that left the article alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedOut {
    /// The stage.
    pub stage: String,
    /// Why.
    pub reason: String,
}

/// One stage's time on this article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageTimeOut {
    /// The stage.
    pub stage: String,
    /// Wall-clock microseconds.
    pub micros: u64,
}

/// How the record was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Processing {
    /// lede's version.
    pub lede_version: String,
    /// The NLP model the stages used, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Per-stage times, in pipeline order.
    pub stages: Vec<StageTimeOut>,
}

/// What an HTML page declares about its article (JSON-LD, OpenGraph/`article:*` meta,
/// `<link rel=canonical>`, `<time>`, `<html lang>`), read by the clean stage. Absent for text
/// input. `sources` says where each value came from (`json-ld`, `meta`, `link`, `time`,
/// `html`, `readability`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)] // The fields are named for what they hold; see the schema.
pub struct PageMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_name: Option<String>,
    /// The language the page declares (as written, e.g. `en-GB`); `lang` is the detected one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// How the main text was found: `readability`, `json-ld` (the `articleBody`) or
    /// `largest-block` (the fallback when no article container was found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extraction: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sources: std::collections::BTreeMap<String, String>,
}

/// The enriched record published downstream (`schema: "lede.enriched/1"`).
///
/// Fields of stages that did not run are absent. All offsets are code points into `text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // Each field is the raw article's or a stage's, documented there.
pub struct EnrichedArticle {
    pub schema: String,
    pub id: String,
    /// Which version of the article this is: [`RawArticle::revision`]. Consumers keep one record
    /// per `id`, the one from the latest input (README "Guarantees").
    #[serde(default)]
    pub revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang_confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang_detected: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub meta: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PageMeta>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<Vec<RemovedOut>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dateline: Option<CharSpan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_offsets: Option<Vec<SourceOffsetOut>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paragraphs: Option<Vec<CharSpan>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentences: Option<Vec<SentenceOut>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Vec<TokenOut>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<EntityOut>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Vec<ClusterOut>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quotes: Option<Vec<QuoteOut>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedOut>,
    pub processing: Processing,
    /// The story key, assigned after the stages by `enrich::assign_story` (it needs the
    /// shared index) and appended as the record's last field; absent without the story stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story: Option<StoryOut>,
}

/// The record's `story`: copies of one story share `key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoryOut {
    /// Opaque story key, shared by every copy of the story.
    pub key: String,
    /// Estimated similarity to the closest earlier member (Jaccard, or containment of the
    /// shorter text for a truncated copy); absent for the article that starts a story.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f64>,
    /// The id of the article that started the story.
    pub first_id: String,
}

/// Which optional parts of the record a pipeline produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parts {
    /// The clean stage ran (`removed`, `dateline`).
    pub cleaned: bool,
    /// The segment stage ran (`paragraphs`, `sentences`).
    pub segmented: bool,
    /// Tokens were asked for (`--tokens`).
    pub tokens: bool,
    /// The entity stage ran (`entities`, `clusters`).
    pub entities: bool,
    /// The quotes stage ran (`quotes`).
    pub quotes: bool,
}

/// Converts byte offsets of one text into code-point offsets.
#[derive(Debug)]
pub struct CharOffsets {
    /// Byte offset of every char start; empty when the text is ASCII (offsets are equal).
    starts: Vec<usize>,
    len: usize,
}

impl CharOffsets {
    /// Builds the table for `text` (free for ASCII text).
    pub fn new(text: &str) -> Self {
        let starts = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices().map(|(i, _)| i).collect()
        };
        Self {
            starts,
            len: text.len(),
        }
    }

    /// The code-point offset of byte offset `byte` (a char boundary, or the text's end).
    pub fn char_of(&self, byte: usize) -> usize {
        if self.starts.is_empty() {
            return byte;
        }
        if byte >= self.len {
            return self.starts.len();
        }
        // A char boundary is found exactly; anything else rounds down to its char.
        match self.starts.binary_search(&byte) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// The code-point span of the byte range `start..end`.
    pub fn span(&self, start: usize, end: usize) -> CharSpan {
        CharSpan {
            start: self.char_of(start),
            end: self.char_of(end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    #[test]
    fn plain_text_becomes_a_text_article_with_a_stable_id() {
        let a = RawArticle::decode("Iran’s minister spoke.".as_bytes(), MAX).unwrap();
        let b = RawArticle::decode("Iran’s minister spoke.".as_bytes(), MAX).unwrap();
        assert_eq!(a.text.as_deref(), Some("Iran’s minister spoke."));
        assert_eq!(a.id, b.id);
        assert_eq!(a.id.len(), CONTENT_ID_HEX_DIGITS);
        let c = RawArticle::decode(b"Another story.", MAX).unwrap();
        assert_ne!(a.id, c.id);
    }

    #[test]
    fn json_fields_are_read_and_unknown_ones_pass_through() {
        let a = RawArticle::decode(
            br#"{"id":"a1","url":"https://x/1","source":"wire","title":"T","published_at":"2024-01-01","lang":"en","text":"Body.","section":"world","tags":["a"]}"#,
            MAX,
        )
        .unwrap();
        assert_eq!(a.id, "a1");
        assert_eq!(a.url.as_deref(), Some("https://x/1"));
        assert_eq!(a.meta["section"], "world");
        assert_eq!(a.meta["tags"][0], "a");
        assert_eq!(a.meta.len(), 2);
    }

    #[test]
    fn a_byte_order_mark_does_not_hide_json() {
        let a = RawArticle::decode("\u{feff}{\"id\":\"b\",\"text\":\"Body.\"}".as_bytes(), MAX)
            .unwrap();
        assert_eq!((a.id.as_str(), a.text.as_deref()), ("b", Some("Body.")));
        let t = RawArticle::decode("\u{feff}Plain.".as_bytes(), MAX).unwrap();
        assert_eq!(t.text.as_deref(), Some("Plain."));
    }

    #[test]
    fn the_revision_changes_with_any_content_field_and_only_then() {
        let base = br#"{"id":"r","title":"T","text":"Body.","section":"world","tags":["a","b"]}"#;
        let a = RawArticle::decode(base, MAX).unwrap();
        let reordered = RawArticle::decode(
            br#"{"tags":["a","b"],"section":"world","text":"Body.","title":"T","id":"r"}"#,
            MAX,
        )
        .unwrap();
        assert_eq!(
            a.revision(),
            reordered.revision(),
            "key order is not content"
        );
        assert_eq!(a.revision().len(), REVISION_HEX_DIGITS);
        let other_id = RawArticle::decode(
            br#"{"id":"other","title":"T","text":"Body.","section":"world","tags":["a","b"]}"#,
            MAX,
        )
        .unwrap();
        assert_eq!(
            a.revision(),
            other_id.revision(),
            "the id is not part of it"
        );
        let changed: [&[u8]; 5] = [
            br#"{"id":"r","title":"T2","text":"Body.","section":"world","tags":["a","b"]}"#,
            br#"{"id":"r","title":"T","text":"Body!","section":"world","tags":["a","b"]}"#,
            br#"{"id":"r","title":"T","text":"Body.","section":"sport","tags":["a","b"]}"#,
            br#"{"id":"r","title":"T","text":"Body.","section":"world","tags":["b","a"]}"#,
            br#"{"id":"r","text":"Body.","section":"world","tags":["a","b"]}"#,
        ];
        for payload in changed {
            let b = RawArticle::decode(payload, MAX).unwrap();
            assert_ne!(
                a.revision(),
                b.revision(),
                "{}",
                String::from_utf8_lossy(payload)
            );
        }
        // Moving bytes between fields changes it too (fields are length-prefixed).
        let x = RawArticle::decode(br#"{"id":"r","title":"ab","text":"c"}"#, MAX).unwrap();
        let y = RawArticle::decode(br#"{"id":"r","title":"a","text":"bc"}"#, MAX).unwrap();
        assert_ne!(x.revision(), y.revision());
        assert_eq!(message_id("r", "00ff"), "r:00ff");
    }

    #[test]
    fn json_without_id_gets_the_content_hash() {
        let a = RawArticle::decode(br#"{"text":"Body."}"#, MAX).unwrap();
        let b = RawArticle::decode(br#"{"text":"Body.","source":"other"}"#, MAX).unwrap();
        assert_eq!(a.id, b.id, "the id hashes content, not metadata");
        let html = RawArticle::decode(br#"{"html":"<p>Body.</p>"}"#, MAX).unwrap();
        assert_ne!(a.id, html.id);
    }

    #[test]
    fn bad_payloads_are_rejected_with_their_kind() {
        let cases: [(&[u8], &str); 7] = [
            (b"\xff\xfeabc", "invalid_utf8"),
            (b"{\"text\": ", "invalid_json"),
            (br#"{"text": 5}"#, "invalid_json"),
            (br#"{"title":"only a title"}"#, "missing_content"),
            (br#"{"text":"   ","html":""}"#, "missing_content"),
            (b"   \n ", "missing_content"),
            (b"", "missing_content"),
        ];
        for (payload, kind) in cases {
            let err = RawArticle::decode(payload, MAX).unwrap_err();
            assert_eq!(
                err.kind(),
                kind,
                "{:?}: {err}",
                String::from_utf8_lossy(payload)
            );
        }
        let err = RawArticle::decode(&[b'a'; 11], 10).unwrap_err();
        assert_eq!(
            err,
            DecodeError::TooLarge {
                size: 11,
                limit: 10
            }
        );
    }

    #[test]
    fn char_offsets_count_code_points() {
        let text = "Iran’s é — Iraq";
        let offsets = CharOffsets::new(text);
        let iraq = text.find("Iraq").unwrap();
        assert_eq!(offsets.char_of(iraq), text[..iraq].chars().count());
        assert_eq!(offsets.char_of(text.len()), text.chars().count());
        let ascii = CharOffsets::new("plain");
        assert_eq!(ascii.char_of(3), 3);
    }
}
