//! Titles: ranks, offices and honorifics attached to a person.
//!
//! Three places hold a title: right before the name ("US President Joe Biden"), inside the
//! model's span when it swallowed one ("President Joe Biden" as one PERSON, trimmed to the
//! name), and in an appositive after or before it ("Mohammad Eslami, the head of the Atomic
//! Energy Organization of Iran (AEOI), …", "The Commander-in-Chief of the Iranian Army, Major
//! General …"). The found parts are joined with ", " in that order: the prefix, then the
//! appositive before, then the appositive after.
//!
//! A trimmed span is not recorded separately: its title starts with exactly the words the model
//! had put in the span, which sit right before the entity in `text`. `--no-entity-rules` shows
//! the model's own spans.

use super::lexicon::{
    ARTICLES, CLAUSE_WORDS, Case, HONORIFICS, MODIFIERS, NOT_TITLED, PORTFOLIO_HEADS, PORTFOLIOS,
    ROLES, TITLES,
};
use super::words::{
    in_list_any_case, is_name_word, next_word, prev_word, sentence_start, strip_closers,
    strip_openers, word_is, words_in,
};
use crate::pipeline::{Document, Entity, Label, Span};

/// Longest appositive taken as a title, in words: longer ones are clauses, not offices.
const MAX_APPOSITIVE_WORDS: usize = 16;

/// Longest entity, in words, taken as a title's qualifier ("Democratic Republic of the Congo").
const MAX_QUALIFIER_WORDS: usize = 5;

/// How many words into an appositive its head noun may come ("a Senior Advisor", "Iran's
/// former defence minister").
const MAX_HEAD_OFFSET: usize = 5;

/// Labels whose entity, followed by "'s" or directly, can qualify a title ("Iran's", "US").
fn is_qualifier(label: Label) -> bool {
    matches!(label, Label::Gpe | Label::Norp | Label::Org)
}

/// Relabels names the model missed as persons when a strong honorific stands before them
/// ("Mr. Trump" tagged ORG). Returns how many entities changed.
pub(crate) fn relabel_honorifics(doc: &mut Document) -> usize {
    let mut changed = 0;
    for i in 0..doc.entities.len() {
        let e = &doc.entities[i];
        let relabelable = matches!(
            e.label,
            Label::Org
                | Label::Gpe
                | Label::Norp
                | Label::Fac
                | Label::Loc
                | Label::Product
                | Label::WorkOfArt
                | Label::Event
        );
        if !relabelable {
            continue;
        }
        let surface = doc.slice(e.span);
        if !surface.split_whitespace().all(is_name_word) {
            continue;
        }
        // A cheap look at the word before first: most entities follow no honorific.
        let after_honorific = prev_word(&doc.text, e.span.start).is_some_and(|(s, w)| {
            let word = strip_openers(&doc.text[s..w]);
            HONORIFICS
                .iter()
                .any(|h| h.rsplit(' ').next() == Some(word))
        });
        if !after_honorific {
            continue;
        }
        let Some((start, _)) = match_prefix_core(&doc.text, e.span.start, TITLES) else {
            continue;
        };
        let core = doc.text[start..e.span.start].trim_end();
        if !HONORIFICS.contains(&strip_openers(core)) || not_titled(core, surface) {
            continue;
        }
        let old = e.label;
        let e = &mut doc.entities[i];
        e.model_label.get_or_insert(old);
        e.label = Label::Person;
        changed += 1;
    }
    changed
}

/// Trims swallowed titles off PERSON spans and sets every person's `title`. Returns how many
/// spans were trimmed.
pub(crate) fn attach(doc: &mut Document) -> usize {
    let mut trimmed = 0;
    for i in 0..doc.entities.len() {
        if doc.entities[i].label != Label::Person {
            continue;
        }
        let mut swallowed = None;
        if let Some(name_start) = swallowed_title(&doc.text, doc.entities[i].span) {
            swallowed = Some(doc.entities[i].span.start);
            doc.entities[i].span.start = name_start;
            trimmed += 1;
        }
        let title = find_title(doc, &doc.entities[i], swallowed);
        doc.entities[i].title = title;
    }
    trimmed
}

/// Whether title `core` before a name starting with `surface` names something else
/// ("General Motors", "Dr. Pepper").
fn not_titled(core: &str, surface: &str) -> bool {
    let first = surface.split_whitespace().next().unwrap_or_default();
    let core = strip_openers(core);
    NOT_TITLED.iter().any(|n| {
        n.strip_prefix(core)
            .and_then(|rest| rest.strip_prefix(' '))
            .is_some_and(|rest| rest == first || rest == strip_closers(first))
    })
}

/// Matches the longest entry of `table` that ends just before `pos` (one gap of spaces), and
/// returns the byte range of the matched words.
fn match_prefix_core(text: &str, pos: usize, table: &[(&str, Case)]) -> Option<(usize, usize)> {
    let mut before = Vec::new();
    let mut at = pos;
    while before.len() < 4 {
        let Some(w) = prev_word(text, at) else { break };
        before.push(w);
        at = w.0;
    }
    let first = *before.first()?;
    let mut best: Option<(usize, usize)> = None;
    for (entry, case) in table {
        // Word counts and comparisons walk the entry in place: this runs for every entity.
        let n = entry.split(' ').count();
        if n > before.len() || best.is_some_and(|(m, _)| m >= n) {
            continue;
        }
        let ok = entry.split(' ').rev().enumerate().all(|(k, w)| {
            let (s, e) = before[k];
            let word = &text[s..e];
            // Only the leftmost word may carry an opening quote or bracket.
            let word = if k + 1 == n {
                strip_openers(word)
            } else {
                word
            };
            word_is(word, w, *case)
        });
        if ok {
            let (s, e) = before[n - 1];
            let opener = text[s..e].len() - strip_openers(&text[s..e]).len();
            best = Some((n, s + opener));
        }
    }
    best.map(|(_, start)| (start, first.1))
}

/// The core title right before `pos`: a table entry, or a portfolio office
/// ("communications minister", "defence chief").
fn prefix_core(text: &str, pos: usize) -> Option<(usize, usize)> {
    let table = match_prefix_core(text, pos, TITLES);
    let portfolio = prev_word(text, pos).and_then(|(hs, he)| {
        let head = &text[hs..he];
        if !in_list_any_case(head, PORTFOLIO_HEADS) {
            return None;
        }
        let (ps, _) = prev_word(text, hs)?;
        let word = strip_openers(&text[ps..hs]).trim_end();
        in_list_any_case(word, PORTFOLIOS).then_some((
            ps + (text[ps..hs].len() - strip_openers(&text[ps..hs]).len()),
            he,
        ))
    });
    match (table, portfolio) {
        (Some(t), Some(p)) => Some(if p.0 < t.0 { p } else { t }),
        (t, p) => t.or(p),
    }
}

/// Extends a title starting at `start` to the left over modifiers ("former") and one
/// qualifying entity ("US", "Iran's"); returns the new start.
fn extend_left(text: &str, entities: &[Entity], mut start: usize) -> usize {
    let mut qualified = false;
    loop {
        let Some((ws, we)) = prev_word(text, start) else {
            return start;
        };
        let word = &text[ws..we];
        if MODIFIERS.contains(&word) {
            start = ws;
            continue;
        }
        // Stacked titles: "Supreme Leader Ayatollah", "Prime Minister Dr.".
        if let Some((core_start, _)) = prefix_core(text, start) {
            start = core_start;
            continue;
        }
        if qualified {
            return start;
        }
        let possessive = ["’s", "'s"]
            .iter()
            .find_map(|p| word.strip_suffix(p).map(|w| ws + w.len()));
        let qualifier = [Some(we), possessive]
            .into_iter()
            .flatten()
            .find_map(|end| ending_at(entities, end))
            .filter(|e| {
                is_qualifier(e.label)
                    && e.span.start >= line_start(text, ws)
                    && is_qualifier_text(&text[e.span.start..e.span.end])
            });
        match qualifier {
            Some(q) => {
                start = q.span.start;
                qualified = true;
            }
            None => return start,
        }
    }
}

/// Whether an entity's text can qualify a title: a short name ("US", "United Nations",
/// "South Dakota"), not a run of junk the model tagged ("REUTERS/Jason Reed U.S.").
fn is_qualifier_text(surface: &str) -> bool {
    surface.split_whitespace().count() <= MAX_QUALIFIER_WORDS
        && surface
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '-' | '&' | '\'' | '’'))
}

/// The entity that ends at byte `end` (entities are in text order and do not overlap).
fn ending_at(entities: &[Entity], end: usize) -> Option<&Entity> {
    let i = entities.partition_point(|e| e.span.end < end);
    entities.get(i).filter(|e| e.span.end == end)
}

/// The entity that starts at byte `start`.
fn starting_at(entities: &[Entity], start: usize) -> Option<&Entity> {
    let i = entities.partition_point(|e| e.span.start < start);
    entities.get(i).filter(|e| e.span.start == start)
}

/// The start of the line holding `pos`.
fn line_start(text: &str, pos: usize) -> usize {
    text[..pos].rfind('\n').map_or(0, |i| i + 1)
}

/// If the PERSON span starts with a title followed by a name, the byte where the name starts.
fn swallowed_title(text: &str, span: Span) -> Option<usize> {
    let words = words_in(text, span.start, span.end);
    let mut k = 0;
    while k < words.len() && MODIFIERS.contains(&&text[words[k].0..words[k].1]) {
        k += 1;
    }
    let rest: Vec<&str> = words[k..].iter().map(|&(s, e)| &text[s..e]).collect();
    let mut best = 0;
    for (entry, case) in TITLES {
        let n = entry.split(' ').count();
        if n > best
            && n < rest.len()
            && entry
                .split(' ')
                .zip(&rest)
                .all(|(w, r)| word_is(r, w, *case))
        {
            best = n;
        }
    }
    if best == 0 {
        return None;
    }
    let core_start = words[k].0;
    let core_end = words[k + best - 1].1;
    let name = &text[words[k + best].0..span.end];
    let name_ok = name.split_whitespace().all(is_name_word);
    (name_ok && !not_titled(&text[core_start..core_end], name)).then_some(words[k + best].0)
}

/// The title of the person entity `e`: prefix, appositive before and appositive after.
/// `swallowed` is where the model's span started when a title was trimmed off it: that title
/// is the prefix, whatever stands before it.
fn find_title(doc: &Document, e: &Entity, swallowed: Option<usize>) -> Option<String> {
    let text = &doc.text;
    let surface = doc.slice(e.span);
    let mut parts: Vec<&str> = Vec::new();
    let mut left_edge = e.span.start;
    if let Some(model_start) = swallowed {
        let core_end = text[..e.span.start].trim_end().len();
        let start = extend_left(text, &doc.entities, model_start);
        parts.push(&text[start..core_end]);
        left_edge = start;
    } else if let Some((core_start, core_end)) = prefix_core(text, e.span.start)
        && !not_titled(&text[core_start..core_end], surface)
    {
        let start = extend_left(text, &doc.entities, core_start);
        // "Melanie King Brandon Luna": a name right before the title, inside a sentence, makes
        // the title word part of another name.
        let named_before = prev_word(text, start).is_some_and(|(ws, we)| {
            is_name_word(strip_openers(&text[ws..we]))
                && sentence_start(text, &doc.sentences, ws) != ws
        });
        if !named_before {
            parts.push(&text[start..core_end]);
            left_edge = start;
        }
    }
    if let Some(before) = appositive_before(doc, left_edge) {
        parts.push(before);
    }
    if let Some(after) = appositive_after(doc, e.span.end) {
        parts.push(after);
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Whether the word at `(s, e)` can head an appositive title.
fn is_head(word: &str) -> bool {
    let w = strip_closers(word);
    in_list_any_case(w, ROLES)
        || TITLES
            .iter()
            .any(|(t, _)| !t.contains(' ') && t.eq_ignore_ascii_case(w))
}

/// Skips an article, a qualifier, modifiers and portfolio words from `start` and reports
/// whether a head noun follows within [`MAX_HEAD_OFFSET`] words; returns the phrase start
/// (after the article).
fn headed_phrase(text: &str, entities: &[Entity], start: usize, end: usize) -> Option<usize> {
    let mut pos = start;
    let mut phrase_start = None;
    for step in 0..MAX_HEAD_OFFSET {
        let (ws, we) = next_word(text, pos)?;
        if ws >= end {
            return None;
        }
        let word = &text[ws..we];
        if step == 0 && ARTICLES.contains(&word) {
            pos = we;
            continue;
        }
        phrase_start.get_or_insert(ws);
        if let Some(q) = starting_at(entities, ws)
            .filter(|q| is_qualifier(q.label) && is_qualifier_text(&text[q.span.start..q.span.end]))
        {
            // "Iran's", "the Iranian", "US": skip the entity and a possessive.
            let after = &text[q.span.end..];
            pos = q.span.end
                + ["’s", "'s"]
                    .iter()
                    .find(|p| after.starts_with(**p))
                    .map_or(0, |p| p.len());
            continue;
        }
        if is_head(word) {
            return phrase_start;
        }
        if MODIFIERS.contains(&word) || in_list_any_case(word, PORTFOLIOS) {
            pos = we;
            continue;
        }
        return None;
    }
    None
}

/// Whether `phrase` reads as a noun phrase: no clause word, not too long.
fn is_noun_phrase(phrase: &str) -> bool {
    let words: Vec<&str> = phrase.split_whitespace().collect();
    !words.is_empty()
        && words.len() <= MAX_APPOSITIVE_WORDS
        && !words
            .iter()
            .any(|w| CLAUSE_WORDS.contains(&strip_closers(strip_openers(w))))
}

/// The title in an appositive right after a person ("…, the head of X (XY),").
fn appositive_after(doc: &Document, end: usize) -> Option<&str> {
    let text = &doc.text;
    let rest = text[end..].strip_prefix(", ")?;
    let from = text.len() - rest.len();
    // The phrase runs to the first closing punctuation outside brackets.
    let mut depth = 0usize;
    let mut stop = text.len();
    let mut chars = text[from..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let at = from + i;
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' if depth > 0 => depth -= 1,
            ')' | ']' | ',' | ';' | '\n' | '…' | '—' | '“' | '”' | '"' | ':'
                if depth == 0 || c == '\n' =>
            {
                stop = at;
                break;
            }
            '.' => {
                let next = chars.peek().map(|&(_, n)| n);
                if depth == 0 && next.is_none_or(char::is_whitespace) {
                    stop = at;
                    break;
                }
            }
            _ => {}
        }
    }
    let phrase_start = headed_phrase(text, &doc.entities, from, stop)?;
    let phrase = text[phrase_start..stop].trim_end();
    is_noun_phrase(phrase).then_some(phrase)
}

/// The title in an appositive that opens the sentence before a person ("The Commander-in-Chief
/// of the Iranian Army, Major General …").
fn appositive_before(doc: &Document, left_edge: usize) -> Option<&str> {
    let text = &doc.text;
    let comma = text[..left_edge].strip_suffix(", ")?.len();
    let start = sentence_start(text, &doc.sentences, comma);
    let span = &text[start..comma];
    if span.contains([',', ';', '\n', '(', ')']) {
        return None;
    }
    let phrase_start = headed_phrase(text, &doc.entities, start, comma)?;
    let phrase = text[phrase_start..comma].trim_end();
    is_noun_phrase(phrase).then_some(phrase)
}
