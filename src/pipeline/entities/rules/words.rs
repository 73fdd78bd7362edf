//! Word-level reading of the text around entities: whitespace words, name shapes, mention keys.
//!
//! The rules read words off `text` rather than spaCy's tokens: titles like "Brig. Gen." or
//! "Commander-in-Chief" are one or several tokens depending on tokenizer exceptions, but always
//! the same whitespace words.

use super::lexicon::Case;

/// Characters that may open a word without being part of it (`“President`).
const OPENERS: &[char] = &['“', '"', '‘', '\'', '(', '['];

/// Characters that may close a word without being part of it (`Minister,`).
const CLOSERS: &[char] = &[
    ',', ';', ':', '.', ')', ']', '”', '"', '’', '\'', '…', '!', '?',
];

/// The word that ends just before `pos`, separated from it by spaces on the same line.
///
/// Returns its byte range, or `None` when `pos` is not preceded by a space, or a line break or
/// the start of the text comes first.
pub(crate) fn prev_word(text: &str, pos: usize) -> Option<(usize, usize)> {
    let before = &text[..pos];
    let trimmed = before.trim_end_matches([' ', '\u{a0}']);
    if trimmed.len() == before.len() || trimmed.is_empty() {
        return None;
    }
    let end = trimmed.len();
    let start = trimmed
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8());
    (start < end).then_some((start, end))
}

/// The word that starts after the spaces at `pos` (same line), as a byte range.
pub(crate) fn next_word(text: &str, pos: usize) -> Option<(usize, usize)> {
    let after = &text[pos..];
    let trimmed = after.trim_start_matches([' ', '\u{a0}']);
    let start = pos + (after.len() - trimmed.len());
    let len = trimmed
        .char_indices()
        .find(|(_, c)| c.is_whitespace())
        .map_or(trimmed.len(), |(i, _)| i);
    (len > 0).then_some((start, start + len))
}

/// The whitespace words of `text[start..end]`, as byte ranges.
pub(crate) fn words_in(text: &str, start: usize, end: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut word_start = None;
    for (i, c) in text[start..end].char_indices() {
        let at = start + i;
        match (c.is_whitespace(), word_start) {
            (true, Some(s)) => {
                out.push((s, at));
                word_start = None;
            }
            (false, None) => word_start = Some(at),
            _ => {}
        }
    }
    if let Some(s) = word_start {
        out.push((s, end));
    }
    out
}

/// `word` without closing punctuation (`Minister,` → `Minister`).
pub(crate) fn strip_closers(word: &str) -> &str {
    word.trim_end_matches(CLOSERS)
}

/// `word` without opening punctuation (`“President` → `President`).
pub(crate) fn strip_openers(word: &str) -> &str {
    word.trim_start_matches(OPENERS)
}

/// Whether the text word `word` is the lexicon word `want` under `case`.
pub(crate) fn word_is(word: &str, want: &str, case: Case) -> bool {
    match case {
        Case::Exact => word == want,
        Case::Any => word.eq_ignore_ascii_case(want),
    }
}

/// Whether `word` is in `list`, in any ASCII case.
pub(crate) fn in_list_any_case(word: &str, list: &[&str]) -> bool {
    list.iter().any(|w| w.eq_ignore_ascii_case(word))
}

/// Whether `word` looks like part of a person's name: capitalised, letters (and `'’-.`), not
/// an all-capitals acronym ("McDonald", "O'Brien", "Jean-Luc", "J.", "Eugênio"; not "OR",
/// "ISIS", "2020").
pub(crate) fn is_name_word(word: &str) -> bool {
    let mut chars = word.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if !first.is_uppercase() {
        return false;
    }
    if !word
        .chars()
        .all(|c| c.is_alphabetic() || matches!(c, '\'' | '’' | '-' | '.'))
    {
        return false;
    }
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    let has_lower = word.chars().any(char::is_lowercase);
    // An initial ("J.") is a name word; a run of capitals ("NASA", "OR") is not.
    has_lower || (letters == 1 && word.ends_with('.'))
}

/// The key under which mentions with the same surface form meet: no leading "the", no
/// possessive, whitespace collapsed ("the Iraqi\nCommunications Ministry’s" →
/// "Iraqi Communications Ministry").
pub(crate) fn mention_key(surface: &str) -> String {
    let mut s = surface.trim();
    for article in ["the ", "The ", "THE "] {
        if let Some(rest) = s.strip_prefix(article) {
            s = rest.trim_start();
            break;
        }
    }
    for suffix in ["'s", "’s", "'", "’"] {
        if let Some(rest) = s.strip_suffix(suffix) {
            s = rest;
            break;
        }
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An acronym as written ("AEOI", "U.S.", "IRGC") reduced to its letters ("US"), when `word`
/// is one: 2 to 10 capitals and digits, with optional dots or `&`.
pub(crate) fn acronym_letters(word: &str) -> Option<String> {
    let letters: String = word.chars().filter(|c| !matches!(c, '.' | '&')).collect();
    let count = letters.chars().count();
    let ok = (2..=10).contains(&count)
        && letters
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && letters.chars().any(|c| c.is_ascii_uppercase());
    ok.then_some(letters)
}

/// The byte where the sentence holding `pos` starts: from the segmenter's sentences when there
/// are any, else after the last line break or ". " before `pos`.
pub(crate) fn sentence_start(
    text: &str,
    sentences: &[crate::pipeline::Sentence],
    pos: usize,
) -> usize {
    if let Some(s) = sentences
        .iter()
        .find(|s| s.span.start <= pos && pos <= s.span.end)
    {
        return s.span.start;
    }
    let before = &text[..pos];
    let line = before.rfind('\n').map_or(0, |i| i + 1);
    let stop = before.rfind(". ").map_or(0, |i| i + 2);
    line.max(stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prev_and_next_word_stay_on_the_line() {
        let text = "General\nAmir Hatami,  the head";
        assert_eq!(prev_word(text, 8), None, "a line break is not a word gap");
        assert_eq!(prev_word(text, 13), Some((8, 12)));
        assert_eq!(next_word(text, 20), Some((22, 25)));
        assert_eq!(&text[22..25], "the");
    }

    #[test]
    fn name_words() {
        for w in ["Hatami", "McDonald", "O'Brien", "Jean-Luc", "J.", "Eugênio"] {
            assert!(is_name_word(w), "{w}");
        }
        for w in ["ISIS", "OR", "2020", "hatami", "", "Pro!"] {
            assert!(!is_name_word(w), "{w}");
        }
    }

    #[test]
    fn mention_keys() {
        assert_eq!(
            mention_key("the Iraqi\nCommunications Ministry’s"),
            "Iraqi Communications Ministry"
        );
        assert_eq!(mention_key("Trump's"), "Trump");
        assert_eq!(mention_key("ISIS"), "ISIS");
    }

    #[test]
    fn acronyms() {
        assert_eq!(acronym_letters("U.S.").as_deref(), Some("US"));
        assert_eq!(acronym_letters("AEOI").as_deref(), Some("AEOI"));
        assert_eq!(acronym_letters("Iran"), None);
        assert_eq!(acronym_letters("A"), None);
    }
}
