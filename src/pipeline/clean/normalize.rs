//! Character normalization that keeps meaning, one line at a time, with a source map.
//!
//! Per line: HTML entities are decoded (double-escaped ones like `&amp;amp;` to the end, so a
//! second pass changes nothing); zero-width characters, the soft hyphen and bidi marks are
//! removed; other control characters become spaces (so words never fuse); every kind of space (tab, NBSP, the U+2000 family, ideographic
//! space) becomes U+0020, runs collapse to one, and the line is trimmed; the result is put in
//! Unicode NFC. ZWJ and ZWNJ stay: they are part of emoji sequences and of Persian and Indic
//! spelling. Quotes and dashes stay as written unless `fold_punctuation` is set.
//!
//! A line that needed NFC composition maps back to its source as one replacement (composition
//! can reorder marks, so no finer mapping is honest); lines already in NFC — nearly all text —
//! keep byte-exact alignments.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use super::super::Span;
use super::source_map::MappedText;

/// The longest entity we try to decode, `&` and `;` included (`&CounterClockwiseContourIntegral;`).
const MAX_ENTITY_BYTES: usize = 40;

/// Splits `text` into line spans, on `\n`, `\r\n`, `\r`, VT, FF, NEL, U+2028 and U+2029.
pub(crate) fn line_spans(text: &str) -> Vec<Span> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let is_break = matches!(
            c,
            '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
        );
        if !is_break {
            continue;
        }
        lines.push(Span::new(start, i));
        let mut next = i + c.len_utf8();
        if c == '\r' && matches!(chars.peek(), Some((_, '\n'))) {
            chars.next();
            next += 1;
        }
        start = next;
    }
    lines.push(Span::new(start, text.len()));
    lines
}

/// What normalization does with one character.
enum CharAction {
    /// Part of a run of spaces (collapses to one U+0020).
    Space,
    /// Removed.
    Drop,
    /// Kept as this character (the same one, or its folded form).
    Keep(char),
}

fn classify(c: char, fold_punctuation: bool) -> CharAction {
    match c {
        ' '
        | '\t'
        | '\u{A0}'
        | '\u{1680}'
        | '\u{2000}'..='\u{200A}'
        | '\u{202F}'
        | '\u{205F}'
        | '\u{3000}' => CharAction::Space,
        '\u{AD}'
        | '\u{180E}'
        | '\u{200B}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}' => CharAction::Drop,
        c if c.is_control() => CharAction::Space,
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' if fold_punctuation => {
            CharAction::Keep('\'')
        }
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{AB}' | '\u{BB}'
            if fold_punctuation =>
        {
            CharAction::Keep('"')
        }
        '\u{2010}'..='\u{2015}' if fold_punctuation => CharAction::Keep('-'),
        c => CharAction::Keep(c),
    }
}

/// Decodes the entity at the start of `s` (which starts with `&`): its length in `s` and text.
///
/// Only the `&name;`, `&#123;` and `&#x1F;` forms count. A decoded `&` followed by more entity
/// text (`&amp;amp;`, `&amp;lt;`) is decoded again, so cleaning is idempotent.
fn decode_entity(s: &str) -> Option<(usize, String)> {
    let end = s
        .as_bytes()
        .iter()
        .take(MAX_ENTITY_BYTES)
        .position(|&b| b == b';')?;
    let candidate = &s[..=end];
    let body = &candidate[1..end];
    let well_formed = !body.is_empty()
        && (body.bytes().all(|b| b.is_ascii_alphanumeric())
            || body
                .strip_prefix('#')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric())));
    if !well_formed {
        return None;
    }
    let decoded = html_escape::decode_html_entities(candidate);
    if decoded == candidate {
        return None;
    }
    if decoded == "&" {
        // `&amp;lt;` is `&lt;` escaped once more: decode the rest as if it followed `&` directly.
        let rest = &s[end + 1..];
        let mut again = String::with_capacity(rest.len().min(MAX_ENTITY_BYTES) + 1);
        again.push('&');
        again.push_str(&rest[..floor_char_boundary(rest, MAX_ENTITY_BYTES)]);
        if let Some((len, text)) = decode_entity(&again) {
            return Some((end + len, text));
        }
    }
    Some((candidate.len(), decoded.into_owned()))
}

/// The largest char boundary of `s` at or below `at`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    let mut i = at;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Normalizes the line `line` of `source` (see the module docs) into a mapped text.
pub(crate) fn normalize_line(source: &str, line: Span, fold_punctuation: bool) -> MappedText {
    let text = &source[line.start..line.end];
    let mut out = MappedText::with_capacity(text.len());
    // Pending collapsed whitespace (source range), and a pending verbatim run (source start).
    let mut space: Option<Span> = None;
    let mut run: Option<usize> = None;
    let flush_run = |out: &mut MappedText, run: &mut Option<usize>, upto: usize| {
        if let Some(start) = run.take() {
            out.push_verbatim(&source[start..upto], start);
        }
    };
    let emit_space = |out: &mut MappedText, space: &mut Option<Span>| {
        if let Some(s) = space.take()
            && !out.text.is_empty()
        {
            out.push(" ", source, s);
        }
    };
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        let at = line.start + i;
        if c == '&'
            && let Some((len, decoded)) = decode_entity(&text[i..])
        {
            flush_run(&mut out, &mut run, at);
            let whole = Span::new(at, at + len);
            let mut kept = String::with_capacity(decoded.len());
            for d in decoded.chars() {
                match classify(d, fold_punctuation) {
                    CharAction::Keep(k) => kept.push(k),
                    CharAction::Space => kept.push(' '),
                    CharAction::Drop => {}
                }
            }
            let trimmed = kept.trim();
            if trimmed.is_empty() {
                if !kept.is_empty() {
                    space = Some(space.map_or(whole, |s| Span::new(s.start, whole.end)));
                }
            } else {
                emit_space(&mut out, &mut space);
                let collapsed = trimmed.split_whitespace().collect::<Vec<_>>().join(" ");
                out.push_replacement(&collapsed, whole);
            }
            // Skip the rest of the entity.
            let stop = i + len;
            while chars.as_str().len() > text.len() - stop {
                chars.next();
            }
            continue;
        }
        match classify(c, fold_punctuation) {
            CharAction::Space => {
                flush_run(&mut out, &mut run, at);
                let here = Span::new(at, at + c.len_utf8());
                space = Some(space.map_or(here, |s| Span::new(s.start, here.end)));
            }
            CharAction::Drop => flush_run(&mut out, &mut run, at),
            CharAction::Keep(k) if k == c => {
                if space.is_some() {
                    flush_run(&mut out, &mut run, at);
                    emit_space(&mut out, &mut space);
                }
                run.get_or_insert(at);
            }
            CharAction::Keep(k) => {
                flush_run(&mut out, &mut run, at);
                emit_space(&mut out, &mut space);
                let mut buf = [0u8; 4];
                out.push_replacement(k.encode_utf8(&mut buf), Span::new(at, at + c.len_utf8()));
            }
        }
    }
    flush_run(&mut out, &mut run, line.end);
    if is_nfc_quick(out.text.chars()) != IsNormalized::Yes {
        let nfc: String = out.text.nfc().collect();
        if nfc != out.text {
            let (first, last) = out.source_bounds().unwrap_or((line.start, line.end));
            let mut whole = MappedText::with_capacity(nfc.len());
            whole.push_replacement(&nfc, Span::new(first, last));
            return whole;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        normalize_line(s, Span::new(0, s.len()), false).text
    }

    #[test]
    fn lines_split_on_every_line_ending() {
        let t = "a\r\nb\rc\nd\u{2029}e";
        let lines: Vec<&str> = line_spans(t).iter().map(|s| &t[s.start..s.end]).collect();
        assert_eq!(lines, ["a", "b", "c", "d", "e"]);
    }

    #[test]
    fn normalization_table() {
        let cases = [
            ("  Tom &amp; Jerry  ", "Tom & Jerry"),
            ("a\u{A0}\u{A0}b\tc", "a b c"),
            ("co\u{AD}op\u{200B}er\u{FEFF}ate", "cooperate"),
            ("bell\u{7}ring", "bell ring"),
            ("cafe\u{301}", "caf\u{E9}"),
            ("&amp;amp; &amp;lt;b&gt;", "& <b>"),
            ("AT&T; &bogus; &#8217;", "AT&T; &bogus; \u{2019}"),
            ("x&nbsp;&nbsp;y", "x y"),
            (
                "\u{201C}Hi\u{201D} \u{2014} she",
                "\u{201C}Hi\u{201D} \u{2014} she",
            ),
            ("\u{1F468}\u{200D}\u{1F469}", "\u{1F468}\u{200D}\u{1F469}"),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input), want, "input {input:?}");
        }
    }

    #[test]
    fn folding_punctuation_is_opt_in() {
        let s = "\u{201C}It\u{2019}s\u{201D} \u{2014} 1\u{2013}2";
        let out = normalize_line(s, Span::new(0, s.len()), true).text;
        assert_eq!(out, "\"It's\" - 1-2");
    }

    #[test]
    fn alignments_slice_back_to_the_source() {
        let s = "  Tom &amp; Jerry\u{A0} ran ";
        let (text, map) = normalize_line(s, Span::new(0, s.len()), false).finish(s);
        assert_eq!(text, "Tom & Jerry ran");
        let src = map.to_source(Span::new(6, 11));
        assert_eq!(&s[src.start..src.end], "Jerry");
        let src = map.to_source(Span::new(4, 5));
        assert_eq!(&s[src.start..src.end], "&amp;");
        let src = map.to_source(Span::new(0, text.len()));
        assert_eq!(&s[src.start..src.end], "Tom &amp; Jerry\u{A0} ran");
    }
}
