//! The entity rule layer: what spaCy's NER does not give a news consumer — titles, mention
//! clusters and consistent labels within an article.
//!
//! It runs after the model on a [`Document`] whose `text`, `tokens`, `sentences` and `entities`
//! are filled, and never hides the model: a changed label keeps the model's in
//! [`Entity::model_label`](crate::pipeline::Entity::model_label), and `--no-entity-rules` (the
//! caller's switch) leaves the model's output untouched. In order:
//!
//! 1. **Honorifics** (`titles.rs`): a name after "Mr.", "Sen.", "Ayatollah", … that the model
//!    tagged ORG/GPE/… becomes PERSON.
//! 2. **Titles** (`titles.rs`): ranks, offices and honorifics before the name, inside the
//!    model's span (trimmed off it: "President Joe Biden" → "Joe Biden", title "President"), or
//!    in an appositive ("Mohammad Eslami, the head of …") go to `title`.
//! 3. **Surnames** (`labels.rs`): "Trump" tagged ORG after "Donald Trump" was named in full
//!    becomes PERSON, unless it is a place by context ("in Washington").
//! 4. **Acronyms** (`labels.rs`): an acronym defined in the text takes its expansion's label.
//! 5. **Majority** (`labels.rs`): mentions of one surface form follow a titled person
//!    ("President Trump" … "Trump" tagged ORG), else a two-thirds majority of at least three.
//! 6. **Clusters** (`clusters.rs`): every entity gets a cluster (singletons included).
//!
//! All word lists are const tables in `lexicon.rs`.
//!
//! Decisions a consumer should know:
//! - The layer adds and removes no entities; it only trims a swallowed title off a PERSON span
//!   and relabels. The model's span of a trimmed entity is not stored: its title then starts
//!   with the words the model had included, which stand right before the entity in `text`
//!   (`--no-entity-rules` shows the model's spans as they were).
//! - An acronym the model did not tag ("AEOI" in "… of Iran (AEOI)") is not added as an
//!   entity; it stays visible in the expansion's title or text.
//! - The entities must be in text order and must not overlap, as the NER produces them.
//!
//! Measured effect (`eval::entrules`, spaCy's own output as the model): on UNER EWT dev,
//! typed F1 0.5488 → 0.5528 and label accuracy on matched spans 0.8438 → 0.8486; on the
//! held-out test split F1 0.5409 → 0.5416, label accuracy 0.8352 → 0.8354.

use crate::pipeline::Document;

mod clusters;
mod labels;
mod lexicon;
mod titles;
mod words;

/// Which rules run; all of them by default. Switching single rules off is for measuring them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSet {
    /// Relabel names after strong honorifics as PERSON.
    pub honorifics: bool,
    /// Attach titles (and trim swallowed ones).
    pub titles: bool,
    /// Relabel surnames of named persons.
    pub surnames: bool,
    /// Relabel acronyms defined in the text.
    pub acronyms: bool,
    /// Relabel surface forms by two-thirds majority.
    pub majority: bool,
}

impl Default for RuleSet {
    fn default() -> Self {
        Self {
            honorifics: true,
            titles: true,
            surnames: true,
            acronyms: true,
            majority: true,
        }
    }
}

/// What the layer changed in one document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// Entities relabelled PERSON after an honorific.
    pub honorifics: usize,
    /// PERSON spans trimmed of a swallowed title.
    pub trimmed: usize,
    /// Entities that got a title.
    pub titled: usize,
    /// Surnames relabelled PERSON.
    pub surnames: usize,
    /// Acronyms relabelled to their expansion's label.
    pub acronyms: usize,
    /// Entities relabelled by majority.
    pub majority: usize,
}

/// Runs every rule over `doc`: titles, label fixes, clusters.
///
/// Sets `title` and `cluster` on the entities, `model_label` where a label changed, and
/// `doc.clusters`; earlier clusters are replaced.
///
/// # Examples
/// ```
/// use lede::pipeline::{Document, Entity, Label, Span};
/// let text = "President Joe Biden met Hatami. Biden left.";
/// let ent = |s, e, label| Entity { span: Span::new(s, e), label, model_label: None,
///     sentence: None, cluster: None, title: None };
/// let mut doc = Document { text: text.into(), ..Document::default() };
/// doc.entities = vec![ent(0, 19, Label::Person), ent(32, 37, Label::Person)];
/// lede::pipeline::entities::rules::apply(&mut doc);
/// assert_eq!(doc.slice(doc.entities[0].span), "Joe Biden");
/// assert_eq!(doc.entities[0].title.as_deref(), Some("President"));
/// assert_eq!(doc.entities[0].cluster, doc.entities[1].cluster);
/// assert_eq!(doc.clusters[0].name, "Joe Biden");
/// ```
pub fn apply(doc: &mut Document) {
    apply_with(doc, RuleSet::default());
}

/// Runs the rules of `rules` over `doc` and reports what changed. Clusters are always built.
pub fn apply_with(doc: &mut Document, rules: RuleSet) -> Changes {
    let mut changes = Changes::default();
    if rules.honorifics {
        changes.honorifics = titles::relabel_honorifics(doc);
    }
    if rules.titles {
        changes.trimmed = titles::attach(doc);
        changes.titled = doc.entities.iter().filter(|e| e.title.is_some()).count();
    }
    if rules.surnames {
        changes.surnames = labels::surnames(doc);
    }
    let definitions = clusters::acronym_definitions(doc);
    if rules.acronyms {
        changes.acronyms = labels::acronyms(doc, &definitions);
    }
    if rules.majority {
        changes.majority = labels::majority(doc);
    }
    clusters::build(doc, &definitions);
    changes
}

#[cfg(test)]
mod tests;
