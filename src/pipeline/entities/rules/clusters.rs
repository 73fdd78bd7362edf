//! Mention clusters within one article.
//!
//! Every entity belongs to exactly one cluster; an entity with nothing to join is a singleton
//! cluster, so a consumer can always follow `cluster` and never has to special-case `None`.
//! Mentions join when they have the same label and
//! - the same surface form up to "the", a possessive and spacing ("ISIS" … "ISIS");
//! - the shorter is a trailing part of exactly one person's full name ("Amir Hatami" …
//!   "Hatami"); a surname two people share stays apart;
//! - one is an acronym of the other, defined in the text ("Atomic Energy Organization of Iran
//!   (AEOI)") or spelled by the initials of its capitalised words ("United States" … "US").
//!
//! Clusters are listed in the order of their first mention; a cluster's name is its longest
//! mention without "the" (the first, on a tie).

use std::collections::HashMap;

use super::labels::{full_names, unique_owner};
use super::lexicon::ACRONYM_SKIP;
use super::words::{acronym_letters, mention_key};
use crate::pipeline::{Cluster, Document, Label};

/// Acronyms the text defines: an entity followed by " (ACRONYM)" maps the acronym to it.
pub(crate) fn acronym_definitions(doc: &Document) -> HashMap<String, usize> {
    let mut defs = HashMap::new();
    for (i, e) in doc.entities.iter().enumerate() {
        if !super::labels::is_name_label(e.label) || !doc.slice(e.span).contains(' ') {
            continue;
        }
        let Some(rest) = doc.text[e.span.end..].strip_prefix(" (") else {
            continue;
        };
        let Some(close) = rest.find(')') else {
            continue;
        };
        let inner = &rest[..close];
        if acronym_letters(inner).is_some() {
            defs.entry(inner.to_owned()).or_insert(i);
        }
    }
    defs
}

/// The initials of the capitalised words of `name` ("Atomic Energy Organization of Iran" →
/// "AEOI"), or `None` for a one-word name.
fn initials(name: &str) -> Option<String> {
    let words: Vec<&str> = name
        .split_whitespace()
        .filter(|w| !ACRONYM_SKIP.contains(w))
        .collect();
    if words.len() < 2 {
        return None;
    }
    words
        .iter()
        .map(|w| w.chars().next().filter(char::is_ascii_uppercase))
        .collect()
}

/// A union-find over entity indices.
struct Sets(Vec<usize>);

impl Sets {
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        // The earlier mention stays the root, so roots are first mentions.
        if ra < rb {
            self.0[rb] = ra;
        } else if rb < ra {
            self.0[ra] = rb;
        }
    }
}

/// Groups the entities into clusters and sets `doc.clusters` and every entity's `cluster`.
pub(crate) fn build(doc: &mut Document, definitions: &HashMap<String, usize>) {
    let n = doc.entities.len();
    let keys: Vec<String> = doc
        .entities
        .iter()
        .map(|e| mention_key(doc.slice(e.span)))
        .collect();
    let labels: Vec<Label> = doc.entities.iter().map(|e| e.label).collect();
    let mut sets = Sets((0..n).collect());

    // Same label, same surface form.
    let mut first_of: HashMap<(Label, &str), usize> = HashMap::new();
    for i in 0..n {
        let first = *first_of.entry((labels[i], keys[i].as_str())).or_insert(i);
        sets.union(first, i);
    }

    // Person short forms → the one full name they belong to.
    let names = full_names(doc);
    let full_index: HashMap<&str, usize> = (0..n)
        .rev()
        .filter(|&i| labels[i] == Label::Person)
        .map(|i| (keys[i].as_str(), i))
        .collect();
    for i in 0..n {
        if labels[i] != Label::Person {
            continue;
        }
        let tail: Vec<&str> = keys[i].split(' ').collect();
        if let Some(owner) = unique_owner(&names, &tail)
            && let Some(&j) = full_index.get(owner.join(" ").as_str())
        {
            sets.union(i, j);
        }
    }

    // Acronyms: defined in the text, or spelled by the initials of a same-label name.
    let mut by_initials: HashMap<(Label, String), Vec<usize>> = HashMap::new();
    for i in 0..n {
        if let Some(ini) = initials(&keys[i]) {
            let list = by_initials.entry((labels[i], ini)).or_default();
            if !list.iter().any(|&j| keys[j] == keys[i]) {
                list.push(i);
            }
        }
    }
    for i in 0..n {
        if let Some(&def) = definitions.get(&keys[i]) {
            if labels[def] == labels[i] {
                sets.union(i, def);
            }
            continue;
        }
        let Some(letters) = acronym_letters(&keys[i]) else {
            continue;
        };
        if let Some(list) = by_initials.get(&(labels[i], letters))
            && let [only] = list.as_slice()
        {
            sets.union(i, *only);
        }
    }

    // Number the clusters by first mention and name them.
    let mut index_of_root: HashMap<usize, usize> = HashMap::new();
    let mut clusters: Vec<Cluster> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let root = sets.find(i);
        let c = *index_of_root.entry(root).or_insert_with(|| {
            clusters.push(Cluster {
                label: labels[root],
                name: String::new(),
                mentions: Vec::new(),
            });
            clusters.len() - 1
        });
        clusters[c].mentions.push(i);
        if key.chars().count() > clusters[c].name.chars().count() {
            clusters[c].name.clone_from(key);
        }
        doc.entities[i].cluster = Some(c);
    }
    doc.clusters = clusters;
}
