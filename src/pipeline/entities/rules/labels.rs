//! Consistent labels within an article: surnames of a named person, agreed surface forms, and
//! acronyms defined in the text.
//!
//! Every change keeps the model's label in `model_label`. The rules are deliberately narrow;
//! each was kept only where it helped on the UNER dev set (see `eval::entrules`).

use std::collections::{HashMap, HashSet};

use super::lexicon::{AMBIGUOUS_PLACES, PLACE_PREPOSITIONS};
use super::words::{is_name_word, mention_key, prev_word};
use crate::pipeline::{Document, Label};

/// Share of a surface form's mentions the winning label needs before the others follow it.
const MAJORITY_NUM: usize = 2;
/// Denominator of [`MAJORITY_NUM`]: two thirds.
const MAJORITY_DEN: usize = 3;
/// Fewest mentions of a surface form before a majority is trusted.
const MAJORITY_MIN_MENTIONS: usize = 3;

/// Labels that name things (not numbers, dates or amounts).
pub(crate) fn is_name_label(label: Label) -> bool {
    matches!(
        label,
        Label::Person
            | Label::Norp
            | Label::Fac
            | Label::Org
            | Label::Gpe
            | Label::Loc
            | Label::Product
            | Label::Event
            | Label::WorkOfArt
            | Label::Law
            | Label::Language
    )
}

/// Labels of places.
fn is_place(label: Label) -> bool {
    matches!(label, Label::Gpe | Label::Loc | Label::Fac)
}

/// Sets entity `i`'s label, keeping the model's.
fn relabel(doc: &mut Document, i: usize, label: Label) {
    let e = &mut doc.entities[i];
    if e.label != label {
        let old = e.label;
        e.model_label.get_or_insert(old);
        e.label = label;
    }
}

/// Whether entity `i` is a place by its context: a place label and either a place preposition
/// before it ("in Washington") or a name that is famously both ([`AMBIGUOUS_PLACES`]).
pub(crate) fn place_by_context(doc: &Document, i: usize) -> bool {
    let e = &doc.entities[i];
    if !is_place(e.label) {
        return false;
    }
    let key = mention_key(doc.slice(e.span));
    if AMBIGUOUS_PLACES.contains(&key.as_str()) {
        return true;
    }
    prev_word(&doc.text, e.span.start)
        .is_some_and(|(s, w)| PLACE_PREPOSITIONS.contains(&&doc.text[s..w]))
}

/// The person full names of the article ("Amir Hatami"), as word lists, that are safe to read
/// short forms off: two or more name-shaped words, none of them but the last used on its own
/// as a non-person entity ("Virginia Democrats" tagged PERSON is not).
pub(crate) fn full_names(doc: &Document) -> Vec<Vec<String>> {
    let standalone_other: HashSet<String> = doc
        .entities
        .iter()
        .filter(|e| e.label != Label::Person)
        .map(|e| mention_key(doc.slice(e.span)))
        .collect();
    let mut names: Vec<Vec<String>> = Vec::new();
    for e in doc.entities.iter().filter(|e| e.label == Label::Person) {
        let key = mention_key(doc.slice(e.span));
        let words: Vec<String> = key.split(' ').map(str::to_owned).collect();
        if words.len() < 2 || !words.iter().all(|w| is_name_word(w)) {
            continue;
        }
        let shadowed = words[..words.len() - 1]
            .iter()
            .any(|w| standalone_other.contains(w));
        if !shadowed && !names.contains(&words) {
            names.push(words);
        }
    }
    names
}

/// The one full name whose surname is `surname`, if exactly one person of the article has it.
pub(crate) fn unique_owner<'a>(names: &'a [Vec<String>], tail: &[&str]) -> Option<&'a [String]> {
    let owners: Vec<&Vec<String>> = names
        .iter()
        .filter(|n| {
            n.len() > tail.len()
                && n[n.len() - tail.len()..]
                    .iter()
                    .zip(tail)
                    .all(|(a, b)| a == b)
        })
        .collect();
    let longest = owners.iter().max_by_key(|n| n.len())?;
    // Owners that are themselves suffixes of the longest ("Abdolrahim Mousavi" within "Seyyed
    // Abdolrahim Mousavi") are the same person; any other owner makes the short form ambiguous.
    owners
        .iter()
        .all(|n| longest.ends_with(n))
        .then_some(longest.as_slice())
}

/// Surnames of a person named in full earlier that the model labelled otherwise ("Donald
/// Trump" … "Trump" tagged ORG) become PERSON, unless the mention is a place by context.
/// Returns the count.
pub(crate) fn surnames(doc: &mut Document) -> usize {
    let names = full_names(doc);
    // Where each person is first named in full: only later mentions read as the surname
    // (news names a person in full first; "Islam" before "Umar Islam" is the religion).
    let mut first_full: HashMap<String, usize> = HashMap::new();
    for (i, e) in doc.entities.iter().enumerate() {
        if e.label == Label::Person {
            first_full
                .entry(mention_key(doc.slice(e.span)))
                .or_insert(i);
        }
    }
    let mut changed = 0;
    for i in 0..doc.entities.len() {
        let e = &doc.entities[i];
        if e.label == Label::Person || !is_name_label(e.label) || e.label == Label::Language {
            continue;
        }
        let key = mention_key(doc.slice(e.span));
        if key.contains(' ') || !is_name_word(&key) {
            continue;
        }
        let named_before = unique_owner(&names, &[key.as_str()])
            .and_then(|owner| first_full.get(&owner.join(" ")))
            .is_some_and(|&first| first < i);
        if !named_before || place_by_context(doc, i) {
            continue;
        }
        relabel(doc, i, Label::Person);
        changed += 1;
    }
    changed
}

/// The label the mentions `members` of one surface form should share, if one is clear: PERSON
/// when one of them is a titled person ("President Trump"; the strong reading wins), else a
/// two-thirds majority of at least three mentions.
fn group_winner(doc: &Document, members: &[usize]) -> Option<Label> {
    let labels: Vec<Label> = members.iter().map(|&i| doc.entities[i].label).collect();
    if labels.iter().all(|&l| l == labels[0]) {
        return None;
    }
    let titled = members
        .iter()
        .any(|&i| doc.entities[i].label == Label::Person && doc.entities[i].title.is_some());
    if titled {
        return Some(Label::Person);
    }
    if members.len() < MAJORITY_MIN_MENTIONS {
        return None;
    }
    let mut counts: Vec<(Label, usize)> = Vec::new();
    for label in labels {
        match counts.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => counts.push((label, 1)),
        }
    }
    counts.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    let (winner, n) = counts[0];
    (n * MAJORITY_DEN >= members.len() * MAJORITY_NUM).then_some(winner)
}

/// Mentions with the same surface form take one label (see [`group_winner`]), unless the
/// mention is a place by context. Returns the count.
pub(crate) fn majority(doc: &mut Document) -> usize {
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, e) in doc.entities.iter().enumerate() {
        if is_name_label(e.label) {
            groups
                .entry(mention_key(doc.slice(e.span)))
                .or_default()
                .push(i);
        }
    }
    let mut changed = 0;
    let mut keys: Vec<&String> = groups.keys().collect();
    keys.sort();
    let mut plan: Vec<(usize, Label)> = Vec::new();
    for key in keys {
        let members = &groups[key];
        let Some(winner) = group_winner(doc, members) else {
            continue;
        };
        for &i in members {
            let label = doc.entities[i].label;
            if label == winner || (winner == Label::Person && place_by_context(doc, i)) {
                continue;
            }
            if is_place(winner) && doc.entities[i].title.is_some() {
                continue;
            }
            plan.push((i, winner));
        }
    }
    for (i, label) in plan {
        relabel(doc, i, label);
        changed += 1;
    }
    changed
}

/// Mentions of an acronym the text defines ("the Atomic Energy Organization of Iran (AEOI)")
/// take the label of its expansion. `definitions` maps acronym → expansion entity. Returns the
/// count.
pub(crate) fn acronyms(doc: &mut Document, definitions: &HashMap<String, usize>) -> usize {
    let mut changed = 0;
    for i in 0..doc.entities.len() {
        let key = mention_key(doc.slice(doc.entities[i].span));
        let Some(&def) = definitions.get(&key) else {
            continue;
        };
        let label = doc.entities[def].label;
        if def != i && is_name_label(doc.entities[i].label) && doc.entities[i].label != label {
            relabel(doc, i, label);
            changed += 1;
        }
    }
    changed
}
