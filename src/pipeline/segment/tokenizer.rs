//! spaCy's English tokenizer, ported from `spacy/tokenizer.pyx` (v3.8) and driven by the rules
//! stored in the model's `tokenizer` file.
//!
//! The algorithm, step by step as spaCy runs it:
//! 1. Split the text into chunks of Python-`isspace` and non-space chars. A single U+0020
//!    after a chunk is not a token: it sets the chunk's last token's `ws` flag. Every other run
//!    of whitespace (`"\n"`, the second space of `"  "`) is a chunk of its own.
//! 2. Each chunk is a special case (`"don't"` → `do` + `n't`), or is split
//!    ([`Tokenizer`]'s `split_affixes`): prefixes and suffixes are peeled off in turn, stopping
//!    as soon as what is left (or what is left without the prefix / suffix just found) is a
//!    special case.
//! 3. What is left in the middle is a special case, a URL (`url_match`), or is cut at the
//!    infixes (`infix_finditer`; an infix at offset 0 is ignored).
//! 4. Finally the special-case matcher: every special case whose text has an affix or infix
//!    (spaCy's `faster_heuristics`) is also looked for as a token sequence over the whole
//!    document (spaCy's `PhraseMatcher`), longest first, and re-tokenized when the matched
//!    text is exactly the special case.
//!
//! The rules are Python `re` patterns; [`pyre`] translates and compiles them with Python's
//! match semantics. Results are memoized per whitespace-separated chunk in a per-thread cache,
//! as spaCy does in its `_cache`: the tokenization of a chunk does not depend on its context,
//! so the cache cannot change a result.
//!
//! Crates: `rmpv` reads the msgpack file as a dynamic value (its special cases are maps keyed by
//! spaCy's integer attribute ids, awkward for serde); `fancy-regex` runs the look-around
//! alternatives; `regex-automata` runs the rest, because it can search anchored at a given
//! position (the `regex` crate cannot), which keeps Python's search semantics linear;
//! `rustc-hash` hashes the short strings of the special-case and cache tables.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use lede::model::ModelDir;
//! use lede::pipeline::segment::tokenizer::Tokenizer;
//!
//! let tokenizer = Tokenizer::from_model_dir(&ModelDir::open("models/en_core_web_sm-3.8.0")?)?;
//! let text = "We don't know.";
//! let tokens = tokenizer.tokenize(text);
//! let words: Vec<&str> = tokens.iter().map(|t| &text[t.span.start..t.span.end]).collect();
//! assert_eq!(words, ["We", "do", "n't", "know", "."]);
//! assert_eq!(tokens[2].norm.as_deref(), Some("not"));
//! # Ok(())
//! # }
//! ```

pub mod pyre;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashMap;

use self::pyre::{PatternError, PyRegex, py_isspace};
use crate::model::ModelDir;
use crate::pipeline::{Span, Token};

/// spaCy's attribute id of ORTH (`spacy.attrs.ORTH`), the key of a piece's text.
const ATTR_ORTH: u64 = 65;
/// spaCy's attribute id of NORM, the key of a piece's norm.
const ATTR_NORM: u64 = 67;

/// Chunks remembered per thread; spaCy's default `max_cache_size`. Like spaCy, a full cache
/// keeps what it has and stops adding (clearing it instead was measured slower: on varied
/// text it keeps refilling).
const CACHE_CAPACITY: usize = 10_000;

/// Longer chunks are not cached: they rarely repeat and would pin memory.
const MAX_CACHED_CHUNK: usize = 64;

/// Why the tokenizer rules cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// The rules file cannot be read.
    #[error("cannot read tokenizer rules {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not the msgpack map spaCy writes.
    #[error("tokenizer rules {path} are not spaCy's msgpack format: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A stored pattern cannot be translated or compiled.
    #[error("tokenizer rule {name} cannot be used: {source}")]
    Pattern {
        /// `prefix_search`, `suffix_search`, `infix_finditer`, `url_match` or `token_match`.
        name: &'static str,
        /// Why.
        source: PatternError,
    },
    /// A special case is malformed (spaCy refuses it too: errors E997 and E1005).
    #[error("tokenizer special case {key:?}: {message}")]
    SpecialCase {
        /// The special case's text.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// One token of a special case: its length in bytes and the NORM it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    len: usize,
    norm: Option<Arc<str>>,
}

/// The pieces of a chunk, relative to the chunk's start, as the cache keeps them.
type Pieces = Arc<[Piece]>;

/// A text over [`Tokenizer::tokenize_at_most`]'s budget: how far tokenizing got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{tokens} tokens by byte {at_byte}")]
pub struct TooManyTokens {
    /// Tokens made when tokenizing stopped (more than the budget).
    pub tokens: usize,
    /// Byte of the text where it stopped.
    pub at_byte: usize,
}

/// spaCy's tokenizer for one model; build once, share (`Send + Sync`) across threads.
#[derive(Debug)]
pub struct Tokenizer {
    prefix: Option<PyRegex>,
    suffix: Option<PyRegex>,
    infix: Option<PyRegex>,
    url: Option<PyRegex>,
    token_match: Option<PyRegex>,
    specials: FxHashMap<Box<str>, Pieces>,
    /// The longest special-case key in bytes: longer strings skip the hash lookup, which keeps
    /// affix splitting of a very long chunk linear (spaCy hashes every time).
    max_special_len: usize,
    matcher: SpecialMatcher,
    /// Identifies this tokenizer's entries in the per-thread cache.
    id: u64,
    cache_capacity: usize,
}

/// Token sequences of special cases, found over a whole document (spaCy's `PhraseMatcher` on
/// ORTH), as a trie of token texts.
#[derive(Debug, Default)]
struct SpecialMatcher {
    /// Node 0 is the root; each node maps a token text to a child node.
    nodes: Vec<FxHashMap<Box<str>, usize>>,
    terminal: Vec<bool>,
}

impl SpecialMatcher {
    fn add(&mut self, words: &[&str]) {
        if self.nodes.is_empty() {
            self.nodes.push(FxHashMap::default());
            self.terminal.push(false);
        }
        let mut node = 0;
        for word in words {
            node = match self.nodes[node].get(*word) {
                Some(&next) => next,
                None => {
                    let next = self.nodes.len();
                    self.nodes.push(FxHashMap::default());
                    self.terminal.push(false);
                    self.nodes[node].insert((*word).into(), next);
                    next
                }
            };
        }
        self.terminal[node] = true;
    }

    /// Every `(start, end)` token range whose texts form a pattern.
    fn find(&self, text: &str, tokens: &[Token], out: &mut Vec<(usize, usize)>) {
        let Some(root) = self.nodes.first() else {
            return;
        };
        for start in 0..tokens.len() {
            let mut node = root;
            let mut end = start;
            while end < tokens.len() {
                let t = &tokens[end];
                match node.get(&text[t.span.start..t.span.end]) {
                    Some(&id) => {
                        node = &self.nodes[id];
                        end += 1;
                        if self.terminal[id] {
                            out.push((start, end));
                        }
                    }
                    None => break,
                }
            }
        }
    }
}

thread_local! {
    /// Per-thread chunk cache: chunk → pieces, for the tokenizer whose id is `owner`. Per
    /// thread so the shared tokenizer takes no lock on the hot path. A thread that alternates
    /// between two tokenizers empties it at every switch (results stay correct).
    static CACHE: RefCell<ChunkCache> = RefCell::new(ChunkCache::default());
}

#[derive(Default)]
struct ChunkCache {
    owner: u64,
    map: FxHashMap<Box<str>, Pieces>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Tokenizer {
    /// Loads the tokenizer of a validated model directory.
    ///
    /// # Errors
    /// [`TokenizerError`] when the `tokenizer` file cannot be read or holds rules lede cannot
    /// compile.
    pub fn from_model_dir(model: &ModelDir) -> Result<Self, TokenizerError> {
        Self::from_file(model.tokenizer_path())
    }

    /// Loads a spaCy `tokenizer` file (msgpack).
    ///
    /// # Errors
    /// As [`Tokenizer::from_model_dir`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TokenizerError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| TokenizerError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            TokenizerError::Format { message, .. } => TokenizerError::Format {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Loads the tokenizer from the bytes of a spaCy `tokenizer` file.
    ///
    /// # Errors
    /// As [`Tokenizer::from_model_dir`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TokenizerError> {
        let format = |message: String| TokenizerError::Format {
            path: PathBuf::new(),
            message,
        };
        let value = rmpv::decode::read_value(&mut &bytes[..]).map_err(|e| format(e.to_string()))?;
        let map = value
            .as_map()
            .ok_or_else(|| format("top level is not a map".into()))?;
        let field = |name: &str| {
            map.iter()
                .find(|(k, _)| k.as_str() == Some(name))
                .map(|(_, v)| v)
        };
        let pattern = |name: &'static str| -> Result<Option<PyRegex>, TokenizerError> {
            match field(name) {
                None => Ok(None),
                Some(v) if v.is_nil() => Ok(None),
                Some(v) => {
                    let p = v
                        .as_str()
                        .ok_or_else(|| format(format!("{name} is not a string")))?;
                    PyRegex::new(p)
                        .map(Some)
                        .map_err(|source| TokenizerError::Pattern { name, source })
                }
            }
        };
        let faster_heuristics = field("faster_heuristics")
            .map(|v| v.as_bool().unwrap_or(true))
            .unwrap_or(true);
        let mut tokenizer = Self {
            prefix: pattern("prefix_search")?,
            suffix: pattern("suffix_search")?,
            infix: pattern("infix_finditer")?,
            url: pattern("url_match")?,
            token_match: pattern("token_match")?,
            specials: FxHashMap::default(),
            max_special_len: 0,
            matcher: SpecialMatcher::default(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            cache_capacity: CACHE_CAPACITY,
        };
        let mut rules: Vec<(String, Vec<Piece>)> = Vec::new();
        if let Some(exceptions) = field("exceptions").filter(|v| !v.is_nil()) {
            let exceptions = exceptions
                .as_map()
                .ok_or_else(|| format("exceptions is not a map".into()))?;
            for (key, pieces) in exceptions {
                let key = key
                    .as_str()
                    .ok_or_else(|| format("an exception key is not a string".into()))?;
                rules.push((key.to_owned(), parse_special(key, pieces)?));
            }
        }
        // spaCy adds the rules in sorted order; the matcher patterns are the rules' own
        // tokenization without special cases.
        rules.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, pieces) in &rules {
            tokenizer.max_special_len = tokenizer.max_special_len.max(key.len());
            tokenizer
                .specials
                .insert(key.as_str().into(), pieces.clone().into());
        }
        let mut matcher = SpecialMatcher::default();
        for (key, _) in &rules {
            let heuristic = tokenizer.find_prefix(key) != 0
                || tokenizer.find_suffix(key) != 0
                || tokenizer.has_infix(key)
                || key.contains(' ');
            if !faster_heuristics || heuristic {
                let tokens = tokenizer.tokenize_affixes(key, false, usize::MAX);
                let words: Vec<&str> = tokens
                    .iter()
                    .map(|t| &key[t.span.start..t.span.end])
                    .collect();
                matcher.add(&words);
            }
        }
        tokenizer.matcher = matcher;
        Ok(tokenizer)
    }

    /// The same tokenizer with its per-thread chunk cache turned off (to measure what the cache
    /// buys; results are identical).
    pub fn without_cache(mut self) -> Self {
        self.cache_capacity = 0;
        self
    }

    /// Tokenizes `text` exactly as spaCy's `nlp.tokenizer(text)`.
    ///
    /// Tokens tile the text: each token's bytes, plus one U+0020 when `ws`, concatenate to
    /// `text`. Whitespace other than a single space after a token is a token itself.
    pub fn tokenize(&self, text: &str) -> Vec<Token> {
        let mut tokens = self.tokenize_affixes(text, true, usize::MAX);
        self.apply_special_cases(text, &mut tokens);
        tokens
    }

    /// [`Tokenizer::tokenize`], giving up as soon as `text` has more than `limit` tokens, so a
    /// text over the budget never holds more than about `limit` tokens in memory.
    ///
    /// # Errors
    /// [`TooManyTokens`] when the text has more than `limit` tokens.
    pub fn tokenize_at_most(&self, text: &str, limit: usize) -> Result<Vec<Token>, TooManyTokens> {
        let mut tokens = self.tokenize_affixes(text, true, limit);
        if tokens.len() > limit {
            return Err(TooManyTokens {
                tokens: tokens.len(),
                at_byte: tokens.last().map_or(0, |t| t.span.end),
            });
        }
        self.apply_special_cases(text, &mut tokens);
        if tokens.len() > limit {
            return Err(TooManyTokens {
                tokens: tokens.len(),
                at_byte: text.len(),
            });
        }
        Ok(tokens)
    }

    /// spaCy's `_tokenize_affixes`: chunks by whitespace, each chunk tokenized on its own.
    /// Stops early, after the chunk that takes it past `limit` tokens (the caller checks).
    fn tokenize_affixes(&self, text: &str, with_specials: bool, limit: usize) -> Vec<Token> {
        // News text runs at 5-6 bytes a token: a quarter of its length is room enough.
        let mut tokens = Vec::with_capacity((text.len() / 4).min(limit) + 1);
        let Some(first) = text.chars().next() else {
            return tokens;
        };
        let mut in_ws = py_isspace(first);
        let mut start = 0;
        for (i, c) in text.char_indices() {
            if py_isspace(c) != in_ws {
                if start < i {
                    self.tokenize_chunk(text, start, i, with_specials, &mut tokens);
                    if tokens.len() > limit {
                        return tokens;
                    }
                }
                if c == ' ' {
                    if let Some(last) = tokens.last_mut() {
                        last.ws = true;
                    }
                    start = i + 1;
                } else {
                    start = i;
                }
                in_ws = !in_ws;
            }
        }
        if start < text.len() {
            self.tokenize_chunk(text, start, text.len(), with_specials, &mut tokens);
            if let Some(last) = tokens.last_mut() {
                last.ws = text.ends_with(' ') && !in_ws;
            }
        }
        tokens
    }

    /// One chunk `text[start..end]`: special case, cache, or affix splitting.
    fn tokenize_chunk(
        &self,
        text: &str,
        start: usize,
        end: usize,
        with_specials: bool,
        tokens: &mut Vec<Token>,
    ) {
        let chunk = &text[start..end];
        if with_specials && let Some(pieces) = self.special(chunk) {
            push_pieces(tokens, start, pieces);
            return;
        }
        if !with_specials || self.cache_capacity == 0 || chunk.len() > MAX_CACHED_CHUNK {
            self.tokenize_uncached(chunk, start, with_specials, tokens);
            return;
        }
        // A hit is copied out under the borrow; a miss says whether there is room to keep it.
        let miss = CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.owner != self.id {
                cache.owner = self.id;
                cache.map.clear();
            }
            match cache.map.get(chunk) {
                Some(pieces) => {
                    push_pieces(tokens, start, pieces);
                    None
                }
                None => Some(cache.map.len() < self.cache_capacity),
            }
        });
        let Some(room) = miss else {
            return;
        };
        let first = tokens.len();
        self.tokenize_uncached(chunk, start, with_specials, tokens);
        if room {
            let pieces: Pieces = tokens[first..]
                .iter()
                .map(|t| Piece {
                    len: t.span.len(),
                    norm: t.norm.clone(),
                })
                .collect();
            CACHE.with(|cache| cache.borrow_mut().map.insert(chunk.into(), pieces));
        }
    }

    /// spaCy's `_tokenize`: split affixes, then attach prefixes, middle and suffixes.
    fn tokenize_uncached(
        &self,
        chunk: &str,
        offset: usize,
        with_specials: bool,
        tokens: &mut Vec<Token>,
    ) {
        let mut prefixes: Vec<(usize, usize)> = Vec::new();
        let mut suffixes: Vec<(usize, usize)> = Vec::new();
        let (ms, me) = self.split_affixes(chunk, with_specials, &mut prefixes, &mut suffixes);
        let push = |tokens: &mut Vec<Token>, s: usize, e: usize| {
            tokens.push(Token {
                span: Span::new(offset + s, offset + e),
                ws: false,
                norm: None,
            });
        };
        for &(s, e) in &prefixes {
            push(tokens, s, e);
        }
        if ms < me {
            let middle = &chunk[ms..me];
            if let Some(pieces) = self.special(middle).filter(|_| with_specials) {
                push_pieces(tokens, offset + ms, pieces);
            } else if self.is_token_match(middle) || self.is_url(middle) {
                push(tokens, ms, me);
            } else {
                let mut infixes = Vec::new();
                if let Some(infix) = &self.infix {
                    infix.find_iter(middle, &mut infixes);
                }
                let mut start = 0;
                for (s, e) in infixes {
                    if s == 0 {
                        continue;
                    }
                    if s != start {
                        push(tokens, ms + start, ms + s);
                    }
                    if s != e {
                        push(tokens, ms + s, ms + e);
                    }
                    start = e;
                }
                if start < middle.len() {
                    push(tokens, ms + start, me);
                }
            }
        }
        for &(s, e) in suffixes.iter().rev() {
            push(tokens, s, e);
        }
    }

    /// spaCy's `_split_affixes` over `chunk`: returns the middle's byte range and fills the
    /// prefix and suffix ranges (suffixes innermost last, as spaCy's vector).
    fn split_affixes(
        &self,
        chunk: &str,
        with_specials: bool,
        prefixes: &mut Vec<(usize, usize)>,
        suffixes: &mut Vec<(usize, usize)>,
    ) -> (usize, usize) {
        let is_special = |s: &str| with_specials && self.special(s).is_some();
        let (mut start, mut end) = (0, chunk.len());
        let mut last_size = 0;
        while start < end && end - start != last_size {
            let string = &chunk[start..end];
            if self.is_token_match(string) || is_special(string) {
                break;
            }
            last_size = string.len();
            let pre_len = self.find_prefix(string);
            if pre_len != 0 {
                let minus_pre = &string[pre_len..];
                if !minus_pre.is_empty() && is_special(minus_pre) {
                    prefixes.push((start, start + pre_len));
                    start += pre_len;
                    break;
                }
            }
            let suf_len = self.find_suffix(&string[pre_len..]);
            if suf_len != 0 {
                let minus_suf = &string[..string.len() - suf_len];
                if !minus_suf.is_empty() && is_special(minus_suf) {
                    suffixes.push((end - suf_len, end));
                    end -= suf_len;
                    break;
                }
            }
            if pre_len != 0 && suf_len != 0 && pre_len + suf_len <= string.len() {
                prefixes.push((start, start + pre_len));
                suffixes.push((end - suf_len, end));
                start += pre_len;
                end -= suf_len;
            } else if pre_len != 0 {
                prefixes.push((start, start + pre_len));
                start += pre_len;
            } else if suf_len != 0 {
                suffixes.push((end - suf_len, end));
                end -= suf_len;
            }
        }
        (start, end)
    }

    /// spaCy's `find_prefix`: the length of the prefix match, taken from the string's start
    /// (in chars, as Python counts), as a byte length.
    fn find_prefix(&self, string: &str) -> usize {
        let Some((s, e)) = self.prefix.as_ref().and_then(|re| re.search(string)) else {
            return 0;
        };
        if s == 0 {
            return e;
        }
        let n = string[s..e].chars().count();
        string
            .char_indices()
            .nth(n)
            .map_or(string.len(), |(i, _)| i)
    }

    /// spaCy's `find_suffix`: the length of the suffix match, taken from the string's end, as
    /// a byte length.
    fn find_suffix(&self, string: &str) -> usize {
        let Some((s, e)) = self.suffix.as_ref().and_then(|re| re.search(string)) else {
            return 0;
        };
        if e == string.len() {
            return e - s;
        }
        match string[s..e].chars().count() {
            0 => 0,
            n => string
                .char_indices()
                .rev()
                .nth(n - 1)
                .map_or(string.len(), |(i, _)| string.len() - i),
        }
    }

    /// The special case spelled `string`, if any.
    fn special(&self, string: &str) -> Option<&Pieces> {
        if string.len() > self.max_special_len {
            return None;
        }
        self.specials.get(string)
    }

    fn has_infix(&self, string: &str) -> bool {
        let mut out = Vec::new();
        if let Some(infix) = &self.infix {
            infix.find_iter(string, &mut out);
        }
        !out.is_empty()
    }

    fn is_token_match(&self, string: &str) -> bool {
        self.token_match
            .as_ref()
            .is_some_and(|re| re.matches_at_start(string))
    }

    fn is_url(&self, string: &str) -> bool {
        self.url
            .as_ref()
            .is_some_and(|re| re.matches_at_start(string))
    }

    /// spaCy's `_apply_special_cases`: find special-case token sequences, keep the longest
    /// non-overlapping ones, and replace those whose text is exactly a special case.
    fn apply_special_cases(&self, text: &str, tokens: &mut Vec<Token>) {
        let mut matches = Vec::new();
        self.matcher.find(text, tokens, &mut matches);
        if matches.is_empty() {
            return;
        }
        // spaCy's `_filter_special_spans`: longest first, then leftmost; a span is kept when
        // neither its first nor its last token was covered by an earlier span (kept or not).
        matches.sort_by(|a, b| (b.1 - b.0).cmp(&(a.1 - a.0)).then(a.0.cmp(&b.0)));
        matches.dedup();
        let mut seen = vec![false; tokens.len()];
        let mut kept = Vec::new();
        for (s, e) in matches {
            if !seen[s] && !seen[e - 1] {
                kept.push((s, e));
            }
            seen[s..e].iter_mut().for_each(|x| *x = true);
        }
        kept.sort_unstable();
        let mut out = Vec::with_capacity(tokens.len() + kept.len());
        let mut i = 0;
        for (s, e) in kept {
            out.extend_from_slice(&tokens[i..s]);
            let span_text = &text[tokens[s].span.start..tokens[e - 1].span.end];
            match self.special(span_text) {
                Some(pieces) => {
                    let ws = tokens[e - 1].ws;
                    push_pieces(&mut out, tokens[s].span.start, pieces);
                    if let Some(last) = out.last_mut() {
                        last.ws = ws;
                    }
                }
                None => out.extend_from_slice(&tokens[s..e]),
            }
            i = e;
        }
        out.extend_from_slice(&tokens[i..]);
        *tokens = out;
    }
}

/// Appends special-case or cached pieces starting at byte `start`.
fn push_pieces(tokens: &mut Vec<Token>, start: usize, pieces: &[Piece]) {
    let mut at = start;
    for piece in pieces {
        tokens.push(Token {
            span: Span::new(at, at + piece.len),
            ws: false,
            norm: piece.norm.clone(),
        });
        at += piece.len;
    }
}

/// One special case's pieces, checked as spaCy's `_validate_special_case` does.
fn parse_special(key: &str, value: &rmpv::Value) -> Result<Vec<Piece>, TokenizerError> {
    let bad = |message: String| TokenizerError::SpecialCase {
        key: key.to_owned(),
        message,
    };
    let list = value
        .as_array()
        .ok_or_else(|| bad("pieces are not a list".into()))?;
    let mut pieces = Vec::with_capacity(list.len());
    let mut orth_total = String::new();
    for piece in list {
        let attrs = piece
            .as_map()
            .ok_or_else(|| bad("a piece is not a map".into()))?;
        let mut orth = None;
        let mut norm = None;
        for (attr, v) in attrs {
            let text = v
                .as_str()
                .ok_or_else(|| bad("an attribute value is not a string".into()))?;
            match attr.as_u64() {
                Some(ATTR_ORTH) => orth = Some(text),
                Some(ATTR_NORM) => norm = Some(Arc::<str>::from(text)),
                _ => return Err(bad(format!("attribute {attr} is not ORTH or NORM"))),
            }
        }
        let orth = orth.ok_or_else(|| bad("a piece has no ORTH".into()))?;
        orth_total.push_str(orth);
        pieces.push(Piece {
            len: orth.len(),
            norm,
        });
    }
    if orth_total != key {
        return Err(bad(format!("pieces spell {orth_total:?}")));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmpv::Value;

    fn model_tokenizer() -> Tokenizer {
        let model = ModelDir::from_env_or_default().unwrap_or_else(|e| panic!("{e}"));
        Tokenizer::from_model_dir(&model).unwrap_or_else(|e| panic!("{e}"))
    }

    fn encode(map: Vec<(Value, Value)>) -> Vec<u8> {
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &Value::Map(map)).expect("encode");
        bytes
    }

    fn piece(orth: &str, norm: Option<&str>) -> Value {
        let mut attrs = vec![(Value::from(ATTR_ORTH), Value::from(orth))];
        if let Some(norm) = norm {
            attrs.push((Value::from(ATTR_NORM), Value::from(norm)));
        }
        Value::Map(attrs)
    }

    fn rules(exceptions: Vec<(Value, Value)>) -> Vec<u8> {
        encode(vec![
            (Value::from("prefix_search"), Value::from(r"^\(|^'")),
            (Value::from("suffix_search"), Value::from(r"\)$|\.$")),
            (
                Value::from("infix_finditer"),
                Value::from(r"(?<=[a-z])-(?=[a-z])"),
            ),
            (Value::from("token_match"), Value::Nil),
            (Value::from("url_match"), Value::Nil),
            (Value::from("faster_heuristics"), Value::from(true)),
            (Value::from("exceptions"), Value::Map(exceptions)),
        ])
    }

    fn texts<'a>(tokenizer: &Tokenizer, text: &'a str) -> Vec<&'a str> {
        tokenizer
            .tokenize(text)
            .iter()
            .map(|t| &text[t.span.start..t.span.end])
            .collect()
    }

    /// `$` is translated to `\z`; Python's `$` also matches before a final `\n`. That can only
    /// matter on all-whitespace chunks (no other chunk has a `\n`), and no rule of the model
    /// matches anywhere in one.
    #[test]
    fn no_rule_matches_inside_whitespace() {
        let tokenizer = model_tokenizer();
        let rules = [
            &tokenizer.prefix,
            &tokenizer.suffix,
            &tokenizer.infix,
            &tokenizer.url,
        ];
        for &a in pyre::PY_SPACE {
            for &b in pyre::PY_SPACE.iter().chain(std::iter::once(&'\n')) {
                for text in [a.to_string(), format!("{a}{b}"), format!("{a}{b}\n")] {
                    for re in rules.iter().copied().flatten() {
                        assert_eq!(re.search(&text), None, "{text:?}");
                    }
                }
            }
        }
    }

    /// Expected tokens checked with spaCy 3.8: `Tokenizer(vocab, rules=…, prefix_search=…)`
    /// with the same rules.
    #[test]
    fn custom_rules_from_bytes() {
        let bytes = rules(vec![
            (
                Value::from("(x)"),
                Value::Array(vec![
                    piece("(", None),
                    piece("x", Some("ex")),
                    piece(")", None),
                ]),
            ),
            (
                Value::from("ab-cd"),
                Value::Array(vec![piece("ab-cd", Some("ABCD"))]),
            ),
        ]);
        let tokenizer = Tokenizer::from_bytes(&bytes).expect("rules");
        assert_eq!(texts(&tokenizer, "(ab-cd)."), vec!["(", "ab-cd", ")", "."]);
        assert_eq!(
            texts(&tokenizer, "(ef-gh)."),
            vec!["(", "ef", "-", "gh", ")", "."]
        );
        let tokens = tokenizer.tokenize("(x) '(x)");
        assert_eq!(tokens.len(), 7);
        assert_eq!(tokens[1].norm.as_deref(), Some("ex"));
        assert_eq!(tokens[5].norm.as_deref(), Some("ex"));
        // Only the special-case matcher can find these: infix splitting made the pieces.
        assert_eq!(texts(&tokenizer, "ab-cd-ef"), vec!["ab-cd", "-", "ef"]);
        assert_eq!(texts(&tokenizer, "zz-ab-cd"), vec!["zz", "-", "ab-cd"]);
        assert_eq!(texts(&tokenizer, "ab-cd -ef"), vec!["ab-cd", "-ef"]);
        let tokens = tokenizer.tokenize("zz-ab-cd");
        assert_eq!(tokens[2].norm.as_deref(), Some("ABCD"));
    }

    #[test]
    fn special_case_must_spell_its_key() {
        let bytes = rules(vec![(
            Value::from("don't"),
            Value::Array(vec![piece("do", None), piece("not", None)]),
        )]);
        let err = Tokenizer::from_bytes(&bytes).unwrap_err();
        assert!(matches!(err, TokenizerError::SpecialCase { .. }), "{err}");
    }

    #[test]
    fn special_case_attrs_are_orth_and_norm_only() {
        let bytes = rules(vec![(
            Value::from("a"),
            Value::Array(vec![Value::Map(vec![
                (Value::from(ATTR_ORTH), Value::from("a")),
                (Value::from(74u64), Value::from("DET")),
            ])]),
        )]);
        assert!(Tokenizer::from_bytes(&bytes).is_err());
    }

    #[test]
    fn bad_files_are_reported() {
        let err = Tokenizer::from_file("/nonexistent/tokenizer").unwrap_err();
        assert!(matches!(err, TokenizerError::Io { .. }), "{err}");
        let err = Tokenizer::from_bytes(b"\x93\x01\x02\x03").unwrap_err();
        assert!(matches!(err, TokenizerError::Format { .. }), "{err}");
        let bytes = encode(vec![(Value::from("prefix_search"), Value::from("(?i)^a"))]);
        let err = Tokenizer::from_bytes(&bytes).unwrap_err();
        assert!(matches!(
            err,
            TokenizerError::Pattern {
                name: "prefix_search",
                ..
            }
        ));
    }

    #[test]
    fn cache_does_not_change_results() {
        let cached = model_tokenizer();
        let uncached = model_tokenizer().without_cache();
        let text = "“Don't,” he said (twice) in 2019... U.S.-led e-mail: http://x.org/a?b=1 ok.";
        let first = cached.tokenize(text);
        assert_eq!(cached.tokenize(text), first);
        assert_eq!(uncached.tokenize(text), first);
    }

    #[test]
    fn tokenizer_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Tokenizer>();
    }
}
