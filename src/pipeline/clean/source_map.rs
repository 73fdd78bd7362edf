//! [`SourceMap`]: where each byte of the cleaned text came from in the clean stage's input.
//!
//! The cleaned text is tiled by [`Alignment`]s in order. A *verbatim* alignment was copied byte
//! for byte, so offsets inside it map linearly; any other alignment is a replacement (a decoded
//! entity, a collapsed run of spaces, an NFC-composed cluster, an inserted paragraph break) and
//! maps as a whole. This is the scheme of `tokenizers`' `NormalizedString`, kept compact: one
//! entry per run, not per byte.

use super::super::Span;

/// One run of the cleaned text and the source range it came from (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alignment {
    /// Bytes of the cleaned text.
    pub text: Span,
    /// Bytes of the source (the input `text`, or the extracted text for HTML input).
    pub source: Span,
    /// The run was copied unchanged, so inner offsets map linearly.
    pub verbatim: bool,
    /// `source` as code points: first one.
    pub source_char_start: usize,
    /// `source` as code points: one past the last.
    pub source_char_end: usize,
}

/// Alignments tiling the cleaned text, in order (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMap {
    alignments: Vec<Alignment>,
}

impl SourceMap {
    /// The alignments, tiling the cleaned text in order.
    pub fn alignments(&self) -> &[Alignment] {
        &self.alignments
    }

    /// The source range a span of the cleaned text came from.
    ///
    /// A span that starts or ends inside a replacement widens to the whole replacement, so the
    /// result always covers the span's origin. Spans past the end clamp to the end.
    ///
    /// # Examples
    /// ```
    /// use lede::pipeline::{Document, Span, Stage, StageOptions, clean::Clean};
    /// let mut doc = Document { text: "Tom &amp; Jerry\nfight.".into(), ..Document::default() };
    /// let options = StageOptions { source_offsets: true, ..StageOptions::default() };
    /// Clean::new(&options).process(&mut doc).unwrap();
    /// assert_eq!(doc.text, "Tom & Jerry\n\nfight.");
    /// let map = doc.source_map.as_ref().unwrap();
    /// assert_eq!(map.to_source(Span::new(0, 5)), Span::new(0, 9)); // "Tom &" ← "Tom &amp;"
    /// assert_eq!(map.to_source(Span::new(13, 19)), Span::new(16, 22)); // "fight."
    /// ```
    pub fn to_source(&self, span: Span) -> Span {
        let Some(last) = self.alignments.last() else {
            return Span::default();
        };
        let map_start = |at: usize| -> usize {
            let i = self.alignments.partition_point(|a| a.text.end <= at);
            match self.alignments.get(i) {
                Some(a) if a.verbatim => a.source.start + (at - a.text.start).min(a.source.len()),
                Some(a) => a.source.start,
                None => last.source.end,
            }
        };
        let map_end = |at: usize| -> usize {
            let i = self.alignments.partition_point(|a| a.text.end < at);
            match self.alignments.get(i) {
                Some(a) if at <= a.text.start => a.source.start,
                Some(a) if a.verbatim => a.source.start + (at - a.text.start).min(a.source.len()),
                Some(a) => a.source.end,
                None => last.source.end,
            }
        };
        let start = map_start(span.start);
        if span.is_empty() {
            return Span::new(start, start);
        }
        Span::new(start, map_end(span.end).max(start))
    }
}

/// Builds the cleaned text and its [`SourceMap`] together, merging adjacent verbatim runs.
#[derive(Debug, Default)]
pub(crate) struct MappedText {
    pub(crate) text: String,
    alignments: Vec<Alignment>,
}

impl MappedText {
    /// An empty text with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            text: String::with_capacity(capacity),
            alignments: Vec::new(),
        }
    }

    /// Appends `s`, copied unchanged from `source_start` of the source.
    pub(crate) fn push_verbatim(&mut self, s: &str, source_start: usize) {
        if s.is_empty() {
            return;
        }
        let out = self.text.len();
        self.text.push_str(s);
        if let Some(last) = self.alignments.last_mut()
            && last.verbatim
            && last.text.end == out
            && last.source.end == source_start
        {
            last.text.end += s.len();
            last.source.end += s.len();
            return;
        }
        self.alignments.push(Alignment {
            text: Span::new(out, out + s.len()),
            source: Span::new(source_start, source_start + s.len()),
            verbatim: true,
            source_char_start: 0,
            source_char_end: 0,
        });
    }

    /// Appends `s`, which replaces the source range `source`.
    pub(crate) fn push_replacement(&mut self, s: &str, source: Span) {
        if s.is_empty() {
            return;
        }
        let out = self.text.len();
        self.text.push_str(s);
        self.alignments.push(Alignment {
            text: Span::new(out, out + s.len()),
            source,
            verbatim: false,
            source_char_start: 0,
            source_char_end: 0,
        });
    }

    /// Appends `s` from `source`: verbatim when the bytes are the same, else a replacement.
    pub(crate) fn push(&mut self, s: &str, source_text: &str, source: Span) {
        if source_text.get(source.start..source.end) == Some(s) {
            self.push_verbatim(s, source.start);
        } else {
            self.push_replacement(s, source);
        }
    }

    /// Appends another mapped text (whose source offsets are already absolute).
    pub(crate) fn append(&mut self, other: &Self) {
        let base = self.text.len();
        self.text.push_str(&other.text);
        for a in &other.alignments {
            let shifted = Alignment {
                text: Span::new(a.text.start + base, a.text.end + base),
                ..*a
            };
            match self.alignments.last_mut() {
                Some(last)
                    if last.verbatim
                        && shifted.verbatim
                        && last.text.end == shifted.text.start
                        && last.source.end == shifted.source.start =>
                {
                    last.text.end = shifted.text.end;
                    last.source.end = shifted.source.end;
                }
                _ => self.alignments.push(shifted),
            }
        }
    }

    /// The source range from the first alignment's start to the last one's end.
    pub(crate) fn source_bounds(&self) -> Option<(usize, usize)> {
        Some((
            self.alignments.first()?.source.start,
            self.alignments.last()?.source.end,
        ))
    }

    /// The finished text and map; `source` fills in the code-point offsets.
    pub(crate) fn finish(mut self, source: &str) -> (String, SourceMap) {
        // Alignments are in source order (lines are processed in order), so one walk counts.
        let mut byte = 0;
        let mut chars = 0;
        let mut count_to = |to: usize| -> usize {
            if to > byte {
                chars += source.get(byte..to).map_or(0, |s| s.chars().count());
                byte = to;
            }
            chars
        };
        for a in &mut self.alignments {
            a.source_char_start = count_to(a.source.start);
            a.source_char_end = count_to(a.source.end);
        }
        (
            self.text,
            SourceMap {
                alignments: self.alignments,
            },
        )
    }
}
