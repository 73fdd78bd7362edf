//! The `clean` stage: the article a reader would want, from scraped text or a whole HTML page.
//!
//! * **HTML in** ([`Document::html`]): the main text and metadata are extracted (see
//!   [`html`](self) notes in `html.rs`: `dom_smoothie`, chosen by measurement), then cleaned like
//!   scraped text. When an article has both `html` and `text`, the HTML extraction wins (it
//!   carries paragraphs and metadata) and `text` is only the fallback if extraction fails.
//!   Title, byline, published time, canonical URL and declared language fill the document's
//!   fields that are still `None`; everything the page declares (authors, modified time, site
//!   name, … with where each came from, `meta.rs`) goes to [`Document::page`]. When
//!   Readability finds no article container the text comes from a fallback (the JSON-LD
//!   `articleBody`, else the block with the most paragraph text) and a [`Skip`] of `clean`
//!   says so. The HTML is consumed (`doc.html` becomes `None`).
//! * **Paragraphs**: every non-blank input line is one paragraph, and paragraphs come out
//!   separated by exactly one blank line (`"\n\n"`). Scraped text puts one paragraph per line
//!   (the seed article does), extracted HTML one per block; hard-wrapped plain text (one
//!   sentence split over lines) is not re-joined — that is a known limitation.
//! * **Normalization** per line (`normalize.rs`): entities, NFC, invisible and control
//!   characters, spaces; quotes and dashes kept unless [`StageOptions::normalize_punctuation`].
//! * **Boilerplate** (`boilerplate.rs`): whole lines only, each one reported in
//!   [`Document::removed`] with its kind and its text as it stood in the input. A dateline
//!   ("TEHRAN (Reuters) -") stays in the text and is reported in [`Document::dateline`].
//! * **Source offsets**: with [`StageOptions::source_offsets`], [`Document::source_map`] maps any
//!   span of the cleaned text back to the input `text` — or, for HTML input, to the text the
//!   extractor produced (the page's DOM has no text offsets to map to).
//! * **Language** (`lang.rs`): whatlang on a prefix of the cleaned text. Detection is
//!   authoritative when its confidence reaches [`MIN_CONFIDENCE`] (or the script is not Latin);
//!   otherwise the declared language (the input's `lang`, else the page's `<html lang>`) is
//!   used, else [`MODEL_LANG`] — a guess never costs an article its entities. The guess's
//!   confidence is kept in [`Document::lang_confidence`], the guess itself in
//!   [`Document::lang_detected`] when it was not used, and [`Document::lang_source`] says why.
//! * **Idempotent**: cleaning cleaned text returns it unchanged and removes nothing.

mod boilerplate;
mod html;
mod lang;
mod meta;
mod normalize;
mod source_map;

pub use lang::{LangSource, MIN_CONFIDENCE, MODEL_LANG};
pub use source_map::{Alignment, SourceMap};

use super::{Document, Removal, Skip, Span, Stage, StageError, StageOptions};
use boilerplate::Rules;
use source_map::MappedText;

/// The paragraph separator of cleaned text.
pub const PARAGRAPH_BREAK: &str = "\n\n";

/// The clean stage; build once and share.
#[derive(Debug)]
pub struct Clean {
    rules: Rules,
    fold_punctuation: bool,
    source_offsets: bool,
}

/// Cleaned text and what cleaning found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleaned {
    /// The clean text, paragraphs separated by [`PARAGRAPH_BREAK`].
    pub text: String,
    /// Where each run of `text` came from in the input.
    pub source_map: SourceMap,
    /// Lines taken out, in input order.
    pub removed: Vec<Removal>,
    /// The dateline at the start of `text`, if any (bytes).
    pub dateline: Option<Span>,
}

impl Clean {
    /// A clean stage with the given options (`normalize_punctuation`, `source_offsets`).
    pub fn new(options: &StageOptions) -> Self {
        Self {
            rules: Rules::new(),
            fold_punctuation: options.normalize_punctuation,
            source_offsets: options.source_offsets,
        }
    }

    /// Cleans scraped text: normalization, paragraphs, boilerplate, dateline (no language).
    ///
    /// # Examples
    /// ```
    /// use lede::pipeline::{StageOptions, clean::Clean};
    /// let clean = Clean::new(&StageOptions::default());
    /// let out = clean.clean_text("TEHRAN (Reuters) -\u{A0}Iran said\u{2026} no.\nShare this article\n");
    /// assert_eq!(out.text, "TEHRAN (Reuters) - Iran said\u{2026} no.");
    /// assert_eq!(out.removed[0].kind, "share");
    /// assert_eq!(&out.text[out.dateline.unwrap().start..out.dateline.unwrap().end], "TEHRAN (Reuters) -");
    /// ```
    pub fn clean_text(&self, source: &str) -> Cleaned {
        self.clean(source, None, None)
    }

    /// [`Clean::clean_text`], also removing lines that only repeat the title or the byline.
    pub fn clean(&self, source: &str, title: Option<&str>, byline: Option<&str>) -> Cleaned {
        let mut lines: Vec<(Span, MappedText)> = Vec::new();
        for span in normalize::line_spans(source) {
            let line = normalize::normalize_line(source, span, self.fold_punctuation);
            if !line.text.is_empty() {
                lines.push((span, line));
            }
        }
        let texts: Vec<&str> = lines.iter().map(|(_, l)| l.text.as_str()).collect();
        let verdicts = self.rules.judge(&texts, title, byline);
        let mut out = MappedText::with_capacity(source.len());
        let mut removed = Vec::new();
        let mut prev_end: Option<usize> = None;
        for ((span, line), verdict) in lines.iter().zip(&verdicts) {
            if let Some(kind) = verdict {
                removed.push(Removal {
                    kind,
                    text: source[span.start..span.end].trim().to_owned(),
                });
                continue;
            }
            let (start, end) = line.source_bounds().unwrap_or((span.start, span.end));
            if let Some(prev) = prev_end {
                out.push_replacement(PARAGRAPH_BREAK, Span::new(prev, start.max(prev)));
            }
            out.append(line);
            prev_end = Some(end);
        }
        let first_line_end = out.text.find('\n').unwrap_or(out.text.len());
        let dateline = self
            .rules
            .dateline(&out.text[..first_line_end])
            .map(|len| Span::new(0, len));
        let (text, source_map) = out.finish(source);
        Cleaned {
            text,
            source_map,
            removed,
            dateline,
        }
    }

    /// Sets `lang` and its provenance from the cleaned text and the declared language.
    fn set_language(doc: &mut Document, declared_html: Option<&str>) {
        let declared = doc
            .lang
            .as_deref()
            .and_then(lang::normalize_declared)
            .or_else(|| declared_html.and_then(lang::normalize_declared));
        let decision = lang::decide(&doc.text, declared);
        if decision.source != LangSource::Detected {
            tracing::debug!(
                lang = %decision.lang,
                source = decision.source.as_str(),
                guess = decision.guess.as_ref().map(|g| g.code),
                "Language detection unsure; using the fallback"
            );
        }
        doc.lang_confidence = decision.guess.as_ref().map(|g| g.confidence);
        doc.lang_detected = decision
            .guess
            .map(|g| g.code)
            .filter(|code| *code != decision.lang)
            .map(str::to_owned);
        doc.lang_source = Some(decision.source);
        doc.lang = Some(decision.lang);
    }
}

impl Stage for Clean {
    fn name(&self) -> &'static str {
        "clean"
    }

    fn process(&self, doc: &mut Document) -> Result<(), StageError> {
        let mut declared_html = None;
        let mut source = None;
        if let Some(page) = doc.html.take() {
            match html::extract(&page, doc.url.as_deref()) {
                Ok(found) if !found.text.trim().is_empty() => {
                    if !doc.text.trim().is_empty() {
                        tracing::debug!("Article has html and text; using the HTML extraction");
                    }
                    doc.title = doc.title.take().or_else(|| found.page.title.clone());
                    doc.byline = doc.byline.take().or(found.byline);
                    doc.published_at = doc
                        .published_at
                        .take()
                        .or_else(|| found.page.published_at.clone());
                    doc.url = doc.url.take().or_else(|| found.page.canonical_url.clone());
                    declared_html.clone_from(&found.page.lang);
                    if let Some(reason) = found.fallback {
                        doc.skipped.push(Skip {
                            stage: "clean",
                            reason,
                        });
                    }
                    doc.page = Some(found.page);
                    source = Some(found.text);
                }
                Ok(_) | Err(_) if !doc.text.trim().is_empty() => {
                    tracing::debug!("No article in the HTML; cleaning the text instead");
                }
                Ok(_) => {
                    return Err(StageError::Invalid(
                        "the HTML page has no article text".into(),
                    ));
                }
                Err(e) => {
                    return Err(StageError::Invalid(format!(
                        "no article text could be extracted from the HTML: {e}"
                    )));
                }
            }
        }
        let cleaned = self.clean(
            source.as_deref().unwrap_or(&doc.text),
            doc.title.as_deref(),
            doc.byline.as_deref(),
        );
        doc.text = cleaned.text;
        doc.removed = cleaned.removed;
        doc.dateline = cleaned.dateline;
        doc.source_map = self.source_offsets.then_some(cleaned.source_map);
        Self::set_language(doc, declared_html.as_deref());
        Ok(())
    }
}
