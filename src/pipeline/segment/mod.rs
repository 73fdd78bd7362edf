//! The `segment` stage: paragraphs, sentences and spaCy-identical tokens.
//!
//! Paragraphs come from line structure ([`paragraphs`]), sentences from a rule-based
//! segmenter run on each paragraph ([`sentences`]), tokens from [`tokenizer`], a port of
//! spaCy's rule-based English tokenizer driven by the rules stored in the model directory.
//! Tokens are always made (the entity stage reads them; `--tokens` only decides whether they
//! are output), and sentence boundaries are snapped to token boundaries so that no token
//! straddles two sentences.

pub mod paragraphs;
pub mod sentences;
pub mod tokenizer;

use std::sync::{Arc, LazyLock};

use regex::Regex;

use crate::model::ModelDir;
use crate::pipeline::{Document, Sentence, Span, Stage, StageError, Token};

use tokenizer::{Tokenizer, TokenizerError};

/// A dateline opening the first paragraph: a capitalised place, optional date or agency in
/// parentheses, then a dash ("TEHRAN (Reuters) -", "WASHINGTON, Jan. 5 (AP) —"), or the agency
/// alone ("(Reuters) —").
static DATELINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:\p{Lu}[\p{Lu} .'’\-]{1,40}(?:,[^()\n]{1,40}?)?(?:\s*\([^()\n]{1,30}\))?|\([\p{L} ]{1,30}\))\s*(?:-{1,2}|–|—)\s",
    )
    .expect("valid regex")
});

/// The segment stage: fills paragraphs, sentences, tokens and (when absent) the dateline.
#[derive(Debug, Clone)]
pub struct Segment {
    tokenizer: Arc<Tokenizer>,
    model_id: String,
    max_tokens: Option<usize>,
}

impl Segment {
    /// A segment stage that tokenizes with `tokenizer`, loaded from the model `model_id`.
    pub fn new(tokenizer: Arc<Tokenizer>, model_id: impl Into<String>) -> Self {
        Self {
            tokenizer,
            model_id: model_id.into(),
            max_tokens: None,
        }
    }

    /// The same stage refusing articles of more than `max_tokens` tokens (`--max-tokens`) as
    /// [`StageError::TooLarge`]; tokenizing stops as soon as the budget is passed, so an
    /// over-long article costs no more memory than the budget.
    pub fn with_max_tokens(mut self, max_tokens: Option<usize>) -> Self {
        self.max_tokens = max_tokens;
        self
    }

    /// Loads the tokenizer rules of `model`.
    ///
    /// # Errors
    /// [`TokenizerError`] when the rules cannot be read or compiled.
    pub fn from_model_dir(model: &ModelDir) -> Result<Self, TokenizerError> {
        let tokenizer = Tokenizer::from_model_dir(model)?;
        Ok(Self::new(Arc::new(tokenizer), model.id()))
    }
}

impl Stage for Segment {
    fn name(&self) -> &'static str {
        "segment"
    }

    fn process(&self, doc: &mut Document) -> Result<(), StageError> {
        let limit = self.max_tokens.unwrap_or(usize::MAX);
        doc.tokens = self
            .tokenizer
            .tokenize_at_most(&doc.text, limit)
            .map_err(|over| {
                StageError::TooLarge(format!(
                    "the article has more than {limit} tokens, the budget of --max-tokens (LEDE_MAX_TOKENS): tokenizing stopped with {} tokens at byte {} of {}",
                    over.tokens,
                    over.at_byte,
                    doc.text.len()
                ))
            })?;
        segment(doc);
        Ok(())
    }

    fn model_id(&self) -> Option<String> {
        Some(self.model_id.clone())
    }
}

/// Fills `doc.paragraphs`, `doc.sentences` (with the rules of `doc.lang`, English when unknown)
/// and, when absent, `doc.dateline`; snaps sentences to `doc.tokens` when they are filled.
pub fn segment(doc: &mut Document) {
    doc.paragraphs = paragraphs::split(&doc.text);
    doc.sentences.clear();
    let lang = doc.lang.as_deref().unwrap_or("en");
    for (index, para) in doc.paragraphs.iter().enumerate() {
        let body = &doc.text[para.start..para.end];
        doc.sentences.extend(
            sentences::split_lang(body, lang)
                .into_iter()
                .map(|s| Sentence {
                    span: Span::new(para.start + s.start, para.start + s.end),
                    paragraph: index,
                }),
        );
    }
    if !doc.tokens.is_empty() {
        doc.sentences = snap_to_tokens(&doc.text, &doc.paragraphs, &doc.sentences, &doc.tokens);
    }
    if doc.dateline.is_none() {
        doc.dateline = find_dateline(&doc.text, doc.paragraphs.first().copied());
    }
}

/// The dateline at the start of `first` (the first paragraph), without its trailing space.
fn find_dateline(text: &str, first: Option<Span>) -> Option<Span> {
    let para = first?;
    let m = DATELINE.find(&text[para.start..para.end])?;
    let head = text[para.start..para.start + m.end()].trim_end();
    Some(Span::new(para.start, para.start + head.len()))
}

/// Moves every sentence start that falls inside a token to that token's start (or, when that
/// would empty the sentence before, to its end), so no token straddles two sentences. The
/// sentences are rebuilt from the snapped starts: still trimmed, ordered and tiling each
/// paragraph. `tokens` must be sorted and non-overlapping (spaCy's are).
pub fn snap_to_tokens(
    text: &str,
    paragraphs: &[Span],
    sentences: &[Sentence],
    tokens: &[Token],
) -> Vec<Sentence> {
    let mut out = Vec::with_capacity(sentences.len());
    let mut rest = sentences;
    for (index, para) in paragraphs.iter().enumerate() {
        let n = rest.iter().take_while(|s| s.paragraph == index).count();
        let (mine, tail) = rest.split_at(n);
        rest = tail;
        let mut starts = vec![para.start];
        for s in mine.iter().skip(1) {
            let mut cut = s.span.start;
            let k = tokens.partition_point(|t| t.span.end <= cut);
            if let Some(t) = tokens.get(k)
                && t.span.start < cut
            {
                let last = starts.last().copied().unwrap_or(para.start);
                cut = if t.span.start > last {
                    t.span.start
                } else {
                    t.span.end
                };
            }
            if cut > starts.last().copied().unwrap_or(para.start) && cut < para.end {
                starts.push(cut);
            }
        }
        starts.push(para.end);
        for w in starts.windows(2) {
            let body = &text[w[0]..w[1]];
            let lead = body.len() - body.trim_start().len();
            let t = body.trim();
            if !t.is_empty() {
                out.push(Sentence {
                    span: Span::new(w[0] + lead, w[0] + lead + t.len()),
                    paragraph: index,
                });
            }
        }
    }
    out
}
