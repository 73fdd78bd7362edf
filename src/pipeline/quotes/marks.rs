//! Quotation marks: which marks open and close a quote, and the top-level quoted stretches.
//!
//! A mark's role comes from its glyph ("“" opens, "”" closes) and from what stands on either
//! side of it (a mark after a space and before a letter opens), the sides winning when they
//! clearly contradict the glyph (German „…“, Swedish ”…”, reversed »…«). Apostrophes and primes
//! are told apart first (`Iran’s`, `'90s`, `rock 'n' roll`, `5'11`). Marks are matched with a
//! stack inside one paragraph; a quote still open at a paragraph's end continues only when the
//! next paragraph opens with a mark of its family (the news convention for quotes running over
//! paragraphs), else it is closed at the paragraph's end when it reads like a whole quoted
//! sentence, or dropped. Nothing here fails: an unbalanced mark only yields fewer quotes.

use crate::pipeline::Span;

/// The kind of mark, so a closer finds its opener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// `"`, `“ ”`, `„`, ``` `` ```, `''`.
    Double,
    /// `'`, `‘ ’`, `‚`, `‹ ›`.
    Single,
    /// `« »`.
    Guillemet,
}

/// What the glyph alone says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glyph {
    Open,
    Close,
    Neutral,
}

/// Whether a mark opens or closes here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Open,
    Close,
}

/// A top-level quoted stretch: from its opening mark to its closing mark (or the end of the
/// paragraph where a closing mark is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quoted {
    /// The opening mark.
    pub(crate) open: Span,
    /// The closing mark, when there is one.
    pub(crate) close: Option<Span>,
    /// Index of the paragraph of the opening mark.
    pub(crate) first_paragraph: usize,
    /// Index of the paragraph of the closing mark (or end).
    pub(crate) last_paragraph: usize,
    /// End of the stretch: after the closing mark, or the paragraph's end.
    pub(crate) end: usize,
}

impl Quoted {
    /// The whole stretch, marks included.
    pub(crate) fn span(&self) -> Span {
        Span::new(self.open.start, self.end)
    }

    /// The quoted words, marks excluded.
    pub(crate) fn inner(&self) -> Span {
        Span::new(self.open.end, self.close.map_or(self.end, |c| c.start))
    }
}

/// Word-initial elisions written with an apostrophe: not opening quotes.
const ELISIONS: &[&str] = &[
    "em", "til", "cause", "cos", "tis", "twas", "bout", "round", "nuff", "kay", "n", "s",
];

/// Characters a closing mark can be followed by.
const AFTER_CLOSE: &str = ".,;:!?)]}>—–-…/";

/// Characters an opening mark can follow.
const BEFORE_OPEN: &str = "([{<—–-/";

/// Sentence punctuation that ends a quote before its closing mark (the seed's “… groups.’).
const END_PUNCT: &str = ".,!?…";

/// The quotation-mark characters (also what trimming removes).
pub(crate) fn is_mark_char(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | '`'
            | '\u{201c}'
            | '\u{201d}'
            | '\u{2018}'
            | '\u{2019}'
            | '\u{201e}'
            | '\u{201a}'
            | '\u{201f}'
            | '\u{201b}'
            | '\u{ab}'
            | '\u{bb}'
            | '\u{2039}'
            | '\u{203a}'
    )
}

/// The mark starting at byte `i`, if any: its family, glyph and length in bytes.
fn mark_at(text: &str, i: usize) -> Option<(Family, Glyph, usize)> {
    let rest = &text[i..];
    let c = rest.chars().next()?;
    let n = c.len_utf8();
    Some(match c {
        '"' => (Family::Double, Glyph::Neutral, n),
        '\u{201c}' | '\u{201f}' | '\u{201e}' => (Family::Double, Glyph::Open, n),
        '\u{201d}' => (Family::Double, Glyph::Close, n),
        '\u{2018}' | '\u{201b}' | '\u{201a}' | '\u{2039}' => (Family::Single, Glyph::Open, n),
        '\u{2019}' | '\u{203a}' => (Family::Single, Glyph::Close, n),
        '\'' if rest.starts_with("''") => (Family::Double, Glyph::Neutral, 2),
        '\'' => (Family::Single, Glyph::Neutral, n),
        '`' if rest.starts_with("``") => (Family::Double, Glyph::Open, 2),
        '`' => (Family::Single, Glyph::Open, n),
        '\u{ab}' => (Family::Guillemet, Glyph::Open, n),
        '\u{bb}' => (Family::Guillemet, Glyph::Close, n),
        _ => return None,
    })
}

/// When a single mark at `i` (of `len` bytes) is an apostrophe or a prime, how many bytes to
/// skip (the mark, or a whole `'n'`).
fn apostrophe(
    text: &str,
    i: usize,
    len: usize,
    prev: Option<char>,
    next: Option<char>,
) -> Option<usize> {
    let alnum = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    if alnum(prev) && alnum(next) {
        return Some(len); // Iran’s, don't, rock'n'roll
    }
    if prev.is_some_and(|c| c.is_ascii_digit()) {
        return Some(len); // 5'11, the 1990's
    }
    if alnum(prev) {
        return None; // a closing mark or a plural possessive: the stack decides
    }
    let after = &text[i + len..];
    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 2 || (digits == 4 && after[4..].starts_with('s')) {
        return Some(len); // '90s, ’05
    }
    let word_len = after
        .char_indices()
        .find(|(_, c)| !c.is_alphabetic())
        .map_or(after.len(), |(k, _)| k);
    let word = &after[..word_len];
    if word.is_empty() || !ELISIONS.iter().any(|e| word.eq_ignore_ascii_case(e)) {
        return None;
    }
    let tail = &after[word_len..];
    if word.eq_ignore_ascii_case("n") {
        // rock 'n' roll: both marks are apostrophes.
        if let Some((_, g, l)) = mark_at(tail, 0).filter(|m| m.0 == Family::Single) {
            let _ = g;
            return Some(len + word_len + l);
        }
        return None;
    }
    // 'em, 'til … unless a closing single mark right after makes it a quoted word ('til').
    match tail.chars().next() {
        Some(c) if is_mark_char(c) => None,
        _ => Some(len),
    }
}

/// The role of a mark with glyph `glyph` between `prev` and `next` (`None`: the paragraph's
/// edge), when its family is (`open`) or is not on the stack.
fn role(glyph: Glyph, prev: Option<char>, next: Option<char>, open: bool) -> Option<Role> {
    let opening_side = |c: Option<char>| {
        c.is_none_or(|c| c.is_whitespace() || BEFORE_OPEN.contains(c) || is_mark_char(c))
    };
    let closing_side = |c: Option<char>| {
        c.is_none_or(|c| c.is_whitespace() || AFTER_CLOSE.contains(c) || is_mark_char(c))
    };
    let left = next.is_some_and(|c| !c.is_whitespace()) && opening_side(prev);
    let right = prev.is_some_and(|c| !c.is_whitespace()) && closing_side(next);
    match glyph {
        Glyph::Open if right && !left => Some(Role::Close),
        Glyph::Open => Some(Role::Open),
        Glyph::Close if left && !right => Some(Role::Open),
        Glyph::Close => Some(Role::Close),
        Glyph::Neutral => match (left, right) {
            (true, false) => Some(Role::Open),
            (false, true) => Some(Role::Close),
            (true, true) if open => Some(Role::Close),
            (true, true) => Some(Role::Open),
            (false, false) => None,
        },
    }
}

#[derive(Debug, Clone, Copy)]
struct Opened {
    family: Family,
    mark: Span,
    paragraph: usize,
}

/// Whether `before` ends in feet and inches (`5'11`), so a `"` after it is a prime.
fn is_inches(before: &str) -> bool {
    let b = before.as_bytes();
    let digits = b.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 2 || b.len() < digits + 2 {
        return false;
    }
    let at = b.len() - digits - 1;
    matches!(b[at], b'\'') && b[at - 1].is_ascii_digit()
}

/// Whether an unclosed quote from `from` to the paragraph end `to` reads like a whole quoted
/// sentence (ends in sentence punctuation, three words or more): then the closing mark was
/// left out, else the opening "mark" was not one.
fn whole_sentence(text: &str, from: usize, to: usize) -> bool {
    let inner = text[from..to].trim_end();
    inner.ends_with(['.', '!', '?', '…']) && inner.split_whitespace().count() >= 3
}

/// Every top-level quoted stretch of `text`, in order. `paragraphs` tile the non-blank text
/// (the segment stage's); marks are only matched within a paragraph or across a continuation.
pub(crate) fn find(text: &str, paragraphs: &[Span]) -> Vec<Quoted> {
    let mut out = Vec::new();
    let mut stack: Vec<Opened> = Vec::new();
    let mut continuing = false;
    for (p, para) in paragraphs.iter().enumerate() {
        let mut i = para.start;
        let mut at_start = true;
        while i < para.end {
            let Some(c) = text[i..para.end].chars().next() else {
                break;
            };
            let Some((family, glyph, len)) = mark_at(&text[..para.end], i) else {
                at_start &= c.is_whitespace();
                i += c.len_utf8();
                continue;
            };
            if std::mem::take(&mut at_start) && continuing {
                // The repeated opening mark of a quote running on from the last paragraph.
                continuing = false;
                i += len;
                continue;
            }
            let prev = if i == para.start {
                None
            } else {
                text[para.start..i].chars().next_back()
            };
            let next = text[i + len..para.end].chars().next();
            if family == Family::Single
                && let Some(skip) = apostrophe(&text[..para.end], i, len, prev, next)
            {
                i += skip;
                continue;
            }
            if glyph == Glyph::Neutral
                && family == Family::Double
                && is_inches(&text[para.start..i])
            {
                i += len; // 5'11": a prime
                continue;
            }
            let mark = Span::new(i, i + len);
            i += len;
            let open = stack.iter().any(|o| o.family == family);
            match role(glyph, prev, next, open) {
                Some(Role::Open) => stack.push(Opened {
                    family,
                    mark,
                    paragraph: p,
                }),
                Some(Role::Close) => {
                    let matched = stack.iter().rposition(|o| o.family == family);
                    let mismatched = matched.is_none()
                        && !stack.is_empty()
                        && prev.is_some_and(|c| END_PUNCT.contains(c))
                        && next.is_none_or(char::is_whitespace);
                    let k = match matched {
                        Some(k) => k,
                        None if mismatched => stack.len() - 1,
                        None => continue, // an apostrophe ("ministers’") or a stray mark
                    };
                    let opened = stack[k];
                    stack.truncate(k);
                    if k == 0 {
                        out.push(Quoted {
                            open: opened.mark,
                            close: Some(mark),
                            first_paragraph: opened.paragraph,
                            last_paragraph: p,
                            end: mark.end,
                        });
                    }
                }
                None => {}
            }
        }
        continuing = false;
        let Some(&bottom) = stack.first() else {
            continue;
        };
        let continues = paragraphs.get(p + 1).is_some_and(|next| {
            mark_at(text, next.start)
                .is_some_and(|(f, g, _)| f == bottom.family && g != Glyph::Close)
        });
        if continues {
            stack.truncate(1);
            continuing = true;
        } else {
            stack.clear();
            if bottom.family != Family::Single && whole_sentence(text, bottom.mark.end, para.end) {
                out.push(Quoted {
                    open: bottom.mark,
                    close: None,
                    first_paragraph: bottom.paragraph,
                    last_paragraph: p,
                    end: para.start + text[para.start..para.end].trim_end().len(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quoted inner texts of `text`, paragraphs split at blank lines.
    fn quoted(text: &str) -> Vec<String> {
        let mut paragraphs = Vec::new();
        let mut start = 0;
        for part in text.split("\n\n") {
            paragraphs.push(Span::new(start, start + part.len()));
            start += part.len() + 2;
        }
        find(text, &paragraphs)
            .iter()
            .map(|q| text[q.inner().start..q.inner().end].to_owned())
            .collect()
    }

    #[test]
    fn curly_straight_and_guillemets() {
        assert_eq!(quoted("“A b,” he said."), ["A b,"]);
        assert_eq!(quoted("\"A b,\" he said."), ["A b,"]);
        assert_eq!(quoted("‘A b,’ he said."), ["A b,"]);
        assert_eq!(quoted("«A b», he said."), ["A b"]);
        assert_eq!(quoted("``A b,'' he said."), ["A b,"]);
        assert_eq!(quoted("„A b“, sagte er."), ["A b"]);
    }

    #[test]
    fn apostrophes_are_not_quotes() {
        assert_eq!(
            quoted("Iran’s army, the ’90s and rock 'n' roll."),
            Vec::<String>::new()
        );
        assert_eq!(
            quoted("“Iran’s ministers’ plan,” he said."),
            ["Iran’s ministers’ plan,"]
        );
        assert_eq!(quoted("He is 5'11\" tall."), Vec::<String>::new());
    }

    #[test]
    fn a_mismatched_closing_mark_closes() {
        assert_eq!(
            quoted("saying, “In recent years, groups.’\n\nNext."),
            ["In recent years, groups."]
        );
    }

    #[test]
    fn nested_quotes_stay_inside() {
        assert_eq!(
            quoted("“He said ‘no’ twice,” she said."),
            ["He said ‘no’ twice,"]
        );
    }

    #[test]
    fn quotes_run_over_paragraphs() {
        let q = quoted("“One two three.\n\n“Four five.”\n\nSix.");
        assert_eq!(q, ["One two three.\n\n“Four five."]);
    }

    #[test]
    fn unbalanced_marks_give_fewer_quotes() {
        assert_eq!(quoted("“One two three.\n\nFour “five"), ["One two three."]);
        assert_eq!(quoted("a \" b"), Vec::<String>::new());
    }
}
