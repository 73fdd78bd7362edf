//! The `quotes` stage: who said what — direct quotes and reported speech, each with the local
//! speaker mention and the entity cluster it refers to.
//!
//! It runs after `entities` on the finished [`Document`] (tokens, sentences, paragraphs,
//! entities, titles, clusters) and adds no model: a few thousand rule look-ups an article.
//! In order:
//!
//! 1. **Marks** (`marks.rs`): the top-level quoted stretches, robust to real typography (curly
//!    and straight, single and double, `''…''`, guillemets, a closing mark of the wrong kind,
//!    apostrophes and primes, quotes over several paragraphs). Unbalanced marks give fewer
//!    quotes, never an error.
//! 2. **Mentions**: outside quoted text, every person-like mention — entities, pronouns, and
//!    descriptions ("the top general", "Iran’s defence minister"), each sentence's subject
//!    marked (the first mention not after a preposition).
//! 3. **Attribution**: for each stretch, the reporting clause after it (`“…,” he said`,
//!    `“…,” added the top general`) or before it (`He said: “…”`, `…, saying, “…”`); a stretch
//!    with neither that starts a sentence continues the previous quote's speaker (`“A,” he said.
//!    “B.”`). A stretch that is part of a sentence (`called it “a disgrace”`, a title, a scare
//!    quote) is not a direct quote. Reported speech: `X said (that) …`, `according to X`,
//!    `…, X said.` in sentences outside quotes.
//! 4. **Resolution**: each mention gets a referent walking the text in order — a named person
//!    by its cluster; "he"/"she" the most recent subject person (gender kept consistent); a
//!    description the most recent person whose titles and earlier descriptions fit it (same
//!    role or portfolio, no clashing nationality) or else a referent of its own; a description
//!    in the article's first sentence joins the person named as the next sentence's subject
//!    (the news lede). A referent with no named entity gets a cluster of its own, appended to
//!    `doc.clusters` with no entity mentions, so later "he said" statements point at it.
//!
//! Limitations, written down: gender comes only from honorifics, role words and earlier
//! pronouns; "they" and "it" resolve only to organisations and places; a quote whose only
//! attribution is in another sentence ("That was the verdict of …") has no speaker.

use std::collections::HashMap;

use super::{BuildError, Cluster, Document, Label, Skip, Span, Stage, StageError};

mod lexicon;
mod marks;

use lexicon::Class;

/// The stage's name in `--stages`.
pub const NAME: &str = "quotes";

/// Whether `c` is a quotation mark the stage knows.
pub fn is_quote_mark(c: char) -> bool {
    marks::is_mark_char(c)
}

/// Whether a quote is quote-mark bounded or reported speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuoteKind {
    /// Bounded by quotation marks: the span includes the marks.
    Direct,
    /// Reported speech without marks ("He said Iran has adopted …").
    Reported,
}

impl QuoteKind {
    /// The kind as the record spells it (`"direct"`, `"reported"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            QuoteKind::Direct => "direct",
            QuoteKind::Reported => "reported",
        }
    }
}

/// One statement: what was said, by whom, and the verb that says so. Spans are bytes into
/// [`Document::text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The quoted content (with its marks, for a direct quote).
    pub span: Span,
    /// Direct or reported.
    pub kind: QuoteKind,
    /// The local speaker mention in the quoting clause ("he", "the top general").
    pub speaker: Option<Span>,
    /// The cluster (index into [`Document::clusters`]) the speaker refers to.
    pub cluster: Option<usize>,
    /// The reporting verb ("said", "according to").
    pub cue: Option<Span>,
}

/// The `quotes` pipeline stage. Holds no state: the word lists are consts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quotes;

impl Quotes {
    /// Builds the stage; `names` is the whole `--stages` list, which must have `entities`
    /// before `quotes`.
    ///
    /// # Errors
    /// [`BuildError::MissingDependency`] when `entities` is missing or comes later.
    pub fn build(names: &[String]) -> Result<Self, BuildError> {
        let me = names.iter().position(|n| n == NAME);
        let entities = names.iter().position(|n| n == super::entities::NAME);
        match (entities, me) {
            (Some(e), Some(q)) if e < q => Ok(Self),
            (_, None) => Ok(Self),
            _ => Err(BuildError::MissingDependency {
                stage: NAME,
                needs: super::entities::NAME,
            }),
        }
    }
}

impl Stage for Quotes {
    fn name(&self) -> &'static str {
        NAME
    }

    fn process(&self, doc: &mut Document) -> Result<(), StageError> {
        if let Some(skip) = doc
            .skipped
            .iter()
            .find(|s| s.stage == super::entities::NAME)
        {
            let reason = format!("the entities stage skipped the article ({})", skip.reason);
            doc.skipped.push(Skip {
                stage: NAME,
                reason,
            });
            return Ok(());
        }
        doc.quotes = find(doc);
        Ok(())
    }
}

/// Finds the quotes of `doc` (tokens, sentences, paragraphs and entities filled) and appends a
/// cluster to `doc.clusters` for each speaker with no named entity. Never fails.
///
/// # Examples
/// ```
/// use lede::pipeline::{Document, segment, quotes};
/// let mut doc = Document {
///     text: "Hatami spoke. “We will stay,” he said. “Iraq is safe.”".into(),
///     ..Document::default()
/// };
/// segment::segment(&mut doc);
/// let found = quotes::find(&mut doc);
/// assert_eq!(found.len(), 2);
/// assert_eq!(doc.slice(found[0].speaker.unwrap()), "he");
/// assert_eq!(found[1].speaker, found[0].speaker);
/// ```
pub fn find(doc: &mut Document) -> Vec<Quote> {
    let paragraphs = if doc.paragraphs.is_empty() {
        vec![Span::new(0, doc.text.len())]
    } else {
        doc.paragraphs.clone()
    };
    let quoted = marks::find(&doc.text, &paragraphs);
    let words = Words::new(doc);
    let ctx = Ctx {
        doc: &*doc,
        words: &words,
        quoted: &quoted,
    };
    let mentions = ctx.mentions();
    let mut quotes = ctx.direct(&mentions);
    let reported = ctx.reported(&mentions, &quotes);
    quotes.extend(reported);
    let referents = ctx.resolve(&mentions);
    quotes.sort_by_key(|q| (q.quote.span.start, q.quote.span.end));
    ctx.continue_reported(&mut quotes);
    // Clusters for referents with no entity, made only for the speakers that need one.
    let mut own: HashMap<usize, usize> = HashMap::new();
    let mut new_clusters: Vec<Cluster> = Vec::new();
    let base = doc.clusters.len();
    let mut out = Vec::with_capacity(quotes.len());
    let mut raw: HashMap<String, usize> = HashMap::new();
    for q in quotes {
        let mut quote = q.quote;
        let referent = q.mention.and_then(|m| referents.of_mention[m]);
        if let Some(r) = referent {
            let referent = &referents.list[r];
            quote.cluster = referent.cluster.or_else(|| {
                let next = base + new_clusters.len();
                let id = *own.entry(r).or_insert(next);
                if id == next {
                    new_clusters.push(Cluster {
                        label: if referent.person {
                            Label::Person
                        } else {
                            Label::Org
                        },
                        name: referent.name.clone(),
                        mentions: Vec::new(),
                    });
                }
                Some(id)
            });
        } else if q.mention.is_none()
            && let Some(speaker) = quote.speaker
        {
            // A speaker that is no mention ("the statement"): its own cluster, one per phrase.
            let text = doc.slice(speaker);
            let name = ["the ", "The "]
                .iter()
                .find_map(|p| text.strip_prefix(p))
                .unwrap_or(text);
            let next = base + new_clusters.len();
            let id = *raw.entry(name.to_lowercase()).or_insert(next);
            if id == next {
                new_clusters.push(Cluster {
                    label: Label::Org,
                    name: name.to_owned(),
                    mentions: Vec::new(),
                });
            }
            quote.cluster = Some(id);
        }
        out.push(quote);
    }
    doc.clusters.extend(new_clusters);
    out
}

/// The non-blank tokens of the document, with their lowercase forms.
struct Words {
    spans: Vec<Span>,
    lower: String,
    ranges: Vec<(usize, usize)>,
    /// The lists each lowercase word is in.
    class: Vec<Class>,
    /// The same with trailing periods trimmed ("gen." as "gen").
    trimmed: Vec<Class>,
    /// What each word looks like.
    shape: Vec<Shape>,
}

/// What a word looks like, worked out once: the stage asks again and again, and the Unicode
/// table look-ups behind `char::is_alphabetic` were a fifth of its time when it asked each time.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    /// Starts with an uppercase letter.
    capital: bool,
    /// Has no letter or digit.
    punct: bool,
    /// Letters only, once trailing periods are trimmed.
    alphabetic: bool,
}

impl Shape {
    /// The shape of `word`, whose lowercase form is `lc`.
    fn of(word: &str, lc: &str) -> Self {
        Self {
            capital: word.chars().next().is_some_and(char::is_uppercase),
            punct: !word.chars().any(char::is_alphanumeric),
            alphabetic: lc.trim_end_matches('.').chars().all(char::is_alphabetic),
        }
    }
}

impl Words {
    fn new(doc: &Document) -> Self {
        let spans: Vec<Span> = if doc.tokens.is_empty() {
            rough_words(&doc.text)
        } else {
            doc.tokens
                .iter()
                .map(|t| t.span)
                .filter(|&s| !doc.slice(s).trim().is_empty())
                .collect()
        };
        let mut lower = String::with_capacity(doc.text.len());
        let mut ranges = Vec::with_capacity(spans.len());
        let mut class = Vec::with_capacity(spans.len());
        let mut trimmed = Vec::with_capacity(spans.len());
        let mut shape = Vec::with_capacity(spans.len());
        for &span in &spans {
            let s = doc.slice(span);
            let from = lower.len();
            for c in s.chars() {
                lower.extend(c.to_lowercase());
            }
            let lc = &lower[from..];
            shape.push(Shape::of(s, lc));
            let c = Class::of(lc);
            let bare = lc.trim_end_matches('.');
            class.push(c);
            trimmed.push(if bare.len() == lc.len() {
                c
            } else {
                Class::of(bare)
            });
            ranges.push((from, lower.len()));
        }
        Self {
            spans,
            lower,
            ranges,
            class,
            trimmed,
            shape,
        }
    }

    /// What word `i` looks like (an empty word's shape past the end).
    fn shape(&self, i: usize) -> Shape {
        self.shape.get(i).copied().unwrap_or(Shape {
            capital: false,
            punct: true,
            alphabetic: true,
        })
    }

    /// The lists word `i` is in (none past the end).
    fn class(&self, i: usize) -> Class {
        self.class.get(i).copied().unwrap_or_default()
    }

    /// The lists word `i` is in with trailing periods trimmed.
    fn trimmed(&self, i: usize) -> Class {
        self.trimmed.get(i).copied().unwrap_or_default()
    }

    fn len(&self) -> usize {
        self.spans.len()
    }

    /// Lowercase text of word `i` ("" past the end).
    fn lc(&self, i: usize) -> &str {
        self.ranges.get(i).map_or("", |&(a, b)| &self.lower[a..b])
    }

    /// The first word starting at or after byte `b`.
    fn at_or_after(&self, b: usize) -> usize {
        self.spans.partition_point(|s| s.start < b)
    }

    /// How many words end at or before byte `b`.
    fn ending_by(&self, b: usize) -> usize {
        self.spans.partition_point(|s| s.end <= b)
    }
}

/// Words of a text with no tokens (the stage used without `segment`'s tokenizer, as in
/// examples): whitespace-separated, with punctuation and a possessive "’s" split off.
fn rough_words(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut pos = 0;
    for piece in text.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end();
        let (mut a, mut b) = (pos, pos + word.len());
        pos += piece.len();
        let is_p = |c: char| !c.is_alphanumeric() && c != '-';
        while let Some(c) = text[a..b].chars().next().filter(|&c| is_p(c)) {
            out.push(Span::new(a, a + c.len_utf8()));
            a += c.len_utf8();
        }
        let mut tail = Vec::new();
        while let Some(c) = text[a..b].chars().next_back().filter(|&c| is_p(c)) {
            tail.push(Span::new(b - c.len_utf8(), b));
            b -= c.len_utf8();
        }
        for suffix in ["’s", "'s"] {
            if b - a > suffix.len() && text[a..b].ends_with(suffix) {
                tail.push(Span::new(b - suffix.len(), b));
                b -= suffix.len();
            }
        }
        if b > a {
            out.push(Span::new(a, b));
        }
        out.extend(tail.into_iter().rev());
    }
    out
}

/// What a mention is.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// "he", "she", "they", "it".
    Pronoun,
    /// A named entity (index into `doc.entities`).
    Entity(usize),
    /// A description of a person ("the top general").
    Description(Features),
}

/// What a description or title says about a person.
#[derive(Debug, Clone, Default, PartialEq)]
struct Features {
    heads: Vec<String>,
    portfolios: Vec<String>,
    nations: Vec<String>,
    female: Option<bool>,
    definite: bool,
    plural: bool,
    /// Headed by an organisation or document noun ("the company").
    org: bool,
}

impl Features {
    fn of_words<S: AsRef<str>>(words: impl Iterator<Item = (S, bool)>) -> Self {
        let mut f = Self::default();
        for (lc, capital) in words {
            let lc = lc.as_ref().trim_end_matches('.');
            let class = Class::of(lc);
            if class.has(Class::ROLES) {
                f.heads.push(singular(lc).to_owned());
                f.plural = lc.ends_with('s') && !lc.ends_with("ss");
            } else if class.has(Class::ORG_NOUNS) {
                f.heads.push(lc.to_owned());
                f.org = true;
            } else if class.has(Class::PORTFOLIOS) {
                f.portfolios.push(lc.to_owned());
            } else if capital
                && !class.has(Class::MODIFIERS | Class::DETERMINERS)
                && lc.chars().next().is_some_and(char::is_alphabetic)
                && lc.len() > 2
            {
                f.nations.push(lc.chars().take(4).collect());
            }
            if class.has(Class::FEMALE) {
                f.female = Some(true);
            } else if class.has(Class::MALE) {
                f.female = Some(false);
            }
        }
        f
    }

    /// Whether these features clash with `other`'s (another nationality, portfolio, gender).
    fn clashes(&self, other: &Features) -> bool {
        let disjoint = |a: &[String], b: &[String]| {
            !a.is_empty() && !b.is_empty() && !a.iter().any(|x| b.contains(x))
        };
        disjoint(&self.nations, &other.nations)
            || disjoint(&self.portfolios, &other.portfolios)
            || matches!((self.female, other.female), (Some(a), Some(b)) if a != b)
    }

    fn merge(&mut self, other: &Features) {
        for (mine, theirs) in [
            (&mut self.heads, &other.heads),
            (&mut self.portfolios, &other.portfolios),
            (&mut self.nations, &other.nations),
        ] {
            for x in theirs {
                if !mine.contains(x) {
                    mine.push(x.clone());
                }
            }
        }
        self.female = self.female.or(other.female);
    }
}

fn singular(role: &str) -> &str {
    match role {
        "officials" => "official",
        "ministers" => "minister",
        "sources" => "source",
        _ => role,
    }
}

/// A mention of a person (or organisation) outside quoted text.
#[derive(Debug, Clone)]
struct Mention {
    span: Span,
    /// First word and one past the last word.
    words: (usize, usize),
    kind: Kind,
    /// What an appositive adds to a name ("Hamid Rezaei, Iran’s oil minister").
    extra: Features,
    sentence: usize,
    subject: bool,
}

/// A direct or reported quote before resolution, with the mention that is its speaker.
struct Found {
    quote: Quote,
    mention: Option<usize>,
}

/// Someone mentions refer to.
#[derive(Debug, Clone)]
struct Referent {
    cluster: Option<usize>,
    person: bool,
    features: Features,
    name: String,
    last: usize,
    last_subject: Option<usize>,
    first_sentence: usize,
}

struct Referents {
    list: Vec<Referent>,
    of_mention: Vec<Option<usize>>,
}

struct Ctx<'a> {
    doc: &'a Document,
    words: &'a Words,
    quoted: &'a [marks::Quoted],
}

/// Most words a speaker phrase may have.
const MAX_SPEAKER_WORDS: usize = 9;

/// How far into a clause its reporting verb may come, in words.
const MAX_CUE_OFFSET: usize = 10;

/// Fewest words of reported speech.
const MIN_REPORTED_WORDS: usize = 3;

/// Fewest words of a quote with no attribution of its own.
const MIN_BARE_QUOTE_WORDS: usize = 3;

impl Ctx<'_> {
    fn text(&self) -> &str {
        &self.doc.text
    }

    fn lc(&self, i: usize) -> &str {
        self.words.lc(i)
    }

    fn capital(&self, i: usize) -> bool {
        self.words.shape(i).capital
    }

    fn is_punct(&self, i: usize) -> bool {
        self.words.shape(i).punct
    }

    fn is_possessive(&self, i: usize) -> bool {
        matches!(self.lc(i), "’s" | "'s" | "’" | "'")
    }

    /// The quoted stretch holding byte `b`, if any.
    fn quoted_at(&self, b: usize) -> Option<&marks::Quoted> {
        let k = self.quoted.partition_point(|q| q.end <= b);
        self.quoted.get(k).filter(|q| q.open.start <= b)
    }

    fn sentence_of(&self, b: usize) -> usize {
        let s = &self.doc.sentences;
        s.partition_point(|x| x.span.end <= b)
            .min(s.len().saturating_sub(1))
    }

    fn sentence_span(&self, i: usize) -> Span {
        self.doc
            .sentences
            .get(i)
            .map_or(Span::new(0, self.text().len()), |s| s.span)
    }

    fn paragraph_of(&self, b: usize) -> usize {
        self.doc.paragraphs.partition_point(|p| p.end <= b)
    }

    /// The entity starting at word `w`, if any.
    fn entity_at(&self, w: usize) -> Option<usize> {
        let start = self.words.spans.get(w)?.start;
        let e = &self.doc.entities;
        let k = e.partition_point(|x| x.span.start < start);
        (k < e.len() && e[k].span.start == start).then_some(k)
    }

    fn entity_end_word(&self, e: usize) -> usize {
        self.words.ending_by(self.doc.entities[e].span.end).max(1)
    }

    /// A description starting at word `w` ("the top general", "Iran’s defence minister"):
    /// one past its last word. `bare` allows one without determiner or possessive.
    fn description_at(&self, w: usize, bare: bool) -> Option<usize> {
        let n = self.words.len();
        let mut j = w;
        let mut anchored = false;
        if self.words.class(j).has(Class::DETERMINERS) {
            j += 1;
            anchored = true;
        } else if let Some(e) = self.entity_at(j)
            && self.is_possessive(self.entity_end_word(e))
        {
            j = self.entity_end_word(e) + 1;
            anchored = true;
        } else if self.capital(j) && self.is_possessive(j + 1) {
            j += 2;
            anchored = true;
        }
        if !anchored && !bare {
            return None;
        }
        let limit = (j + 5).min(n);
        while j < limit {
            let class = self.words.trimmed(j);
            if class.has(Class::ROLES | Class::ORG_NOUNS) {
                let mut end = j + 1;
                while end < n && self.words.trimmed(end).has(Class::ROLES) {
                    end += 1;
                }
                return Some(end);
            }
            let modifier = class.has(Class::MODIFIERS | Class::PORTFOLIOS)
                || (self.capital(j) && !class.has(Class::DETERMINERS))
                || (self.words.shape(j).alphabetic && !class.has(Class::STOP | Class::CUES));
            if !modifier || self.is_punct(j) {
                return None;
            }
            j += 1;
        }
        None
    }

    fn span_of(&self, from: usize, to: usize) -> Span {
        Span::new(self.words.spans[from].start, self.words.spans[to - 1].end)
    }

    /// Every mention outside quoted text, in order, with each sentence's subject marked.
    fn mentions(&self) -> Vec<Mention> {
        let mut out: Vec<Mention> = Vec::new();
        let n = self.words.len();
        let mut w = 0;
        let mut sentence_had_subject: Option<usize> = None;
        while w < n {
            let span = self.words.spans[w];
            if let Some(q) = self.quoted_at(span.start) {
                w = self.words.at_or_after(q.end).max(w + 1);
                continue;
            }
            let sentence = self.sentence_of(span.start);
            let found = self.mention_at(w);
            let Some((mut end, mut kind)) = found else {
                w += 1;
                continue;
            };
            let mut extra = Features::default();
            // Appositives: "NAME, DESCRIPTION," and "DESCRIPTION, NAME," are one mention.
            if self.lc(end) == "," {
                let closes = |d: usize| self.lc(d) == "," || self.cue_follows(d);
                match &kind {
                    Kind::Entity(e) if self.doc.entities[*e].label == Label::Person => {
                        if let Some(d) = self.description_at(end + 1, false).filter(|&d| closes(d))
                        {
                            extra = self.features(end + 1, d);
                            end = d;
                        }
                    }
                    Kind::Description(f) => {
                        if let Some(e) = self.entity_at(end + 1)
                            && self.doc.entities[e].label == Label::Person
                            && closes(self.entity_end_word(e))
                        {
                            extra = f.clone();
                            end = self.entity_end_word(e);
                            kind = Kind::Entity(e);
                        }
                    }
                    _ => {}
                }
            }
            let after_preposition = w > 0
                && self.words.class(w - 1).has(Class::PREPOSITIONS)
                && self.sentence_of(self.words.spans[w - 1].start) == sentence;
            let subject = sentence_had_subject != Some(sentence) && !after_preposition;
            if subject {
                sentence_had_subject = Some(sentence);
            }
            out.push(Mention {
                span: self.span_of(w, end),
                words: (w, end),
                kind,
                extra,
                sentence,
                subject,
            });
            w = end;
        }
        out
    }

    /// The mention starting at word `w`, if any: one past its last word, and its kind.
    fn mention_at(&self, w: usize) -> Option<(usize, Kind)> {
        let lc = self.lc(w);
        if matches!(lc, "he" | "she" | "they") {
            return Some((w + 1, Kind::Pronoun));
        }
        if matches!(lc, "it" | "i" | "we") && self.cue_follows(w + 1) {
            return Some((w + 1, Kind::Pronoun));
        }
        if let Some(e) = self.entity_at(w) {
            let end = self.entity_end_word(e).max(w + 1);
            let label = self.doc.entities[e].label;
            if self.is_possessive(end)
                && let Some(d) = self.description_at(w, false)
            {
                return Some((d, Kind::Description(self.features(w, d))));
            }
            if matches!(label, Label::Person | Label::Org | Label::Gpe | Label::Norp) {
                // A NORP before a role is a description ("Iraqi officials").
                if label == Label::Norp
                    && let Some(d) = self.description_at(w, true)
                {
                    return Some((d, Kind::Description(self.features(w, d))));
                }
                return Some((end, Kind::Entity(e)));
            }
            return None;
        }
        let bare = self.cue_follows(self.description_at(w, true).unwrap_or(w));
        let d = self.description_at(w, bare)?;
        // Title words before a name ("Brigadier General Amir Hatami") belong to the name.
        if let Some(e) = self.entity_at(d)
            && self.doc.entities[e].label == Label::Person
        {
            return Some((self.entity_end_word(e).max(d + 1), Kind::Entity(e)));
        }
        Some((d, Kind::Description(self.features(w, d))))
    }

    fn features(&self, from: usize, to: usize) -> Features {
        let mut f = Features::of_words((from..to).map(|i| {
            // A capitalised first word is sentence case, not a name.
            (self.lc(i), self.capital(i) && i != from)
        }));
        if from < to
            && self.capital(from)
            && !self
                .words
                .class(from)
                .has(Class::DETERMINERS | Class::ROLES | Class::MODIFIERS | Class::PORTFOLIOS)
        {
            f.nations.push(self.lc(from).chars().take(4).collect());
        }
        f.definite = !matches!(self.lc(from), "a" | "an" | "another" | "one");
        f
    }

    /// Whether word `w`, past adverbs, is a reporting verb.
    fn cue_follows(&self, w: usize) -> bool {
        let mut w = w;
        while self.words.class(w).has(Class::ADVERBS) {
            w += 1;
        }
        self.words.class(w).has(Class::CUES)
    }

    fn mention_covering(&self, mentions: &[Mention], from: usize, to: usize) -> Option<usize> {
        mentions
            .iter()
            .position(|m| m.words.0 < to && from < m.words.1)
    }

    /// The mention ending right before word `cue` (past adverbs), searched back to `floor`.
    fn mention_before(&self, mentions: &[Mention], cue: usize, floor: usize) -> Option<usize> {
        let mut k = cue;
        while k > floor && self.words.class(k - 1).has(Class::ADVERBS) {
            k -= 1;
        }
        // "NAME, an economist at HSBC, said": the first chunk names the speaker.
        if let Some(comma) = (floor..k).find(|&i| self.lc(i) == ",")
            && let Some(m) = mentions
                .iter()
                .position(|m| m.words.0 == floor && m.words.1 >= comma)
        {
            return Some(m);
        }
        if k > floor && self.lc(k - 1) == "," {
            k -= 1;
        }
        mentions
            .iter()
            .position(|m| m.words.1 == k && m.words.0 >= floor)
    }

    /// The speaker phrase right after an inverted cue ("said **the top general**"), as a
    /// mention when there is one, else as words.
    fn speaker_after(
        &self,
        mentions: &[Mention],
        from: usize,
        to: usize,
    ) -> Option<(Span, Option<usize>)> {
        if let Some(m) = mentions.iter().position(|m| m.words.0 == from) {
            return Some((mentions[m].span, Some(m)));
        }
        let mut end = from;
        while end < to && end - from < MAX_SPEAKER_WORDS {
            let lc = self.lc(end);
            if self.is_punct(end)
                || self.words.class(end).has(Class::PREPOSITIONS)
                || matches!(
                    lc,
                    "during" | "after" | "before" | "while" | "when" | "as" | "who"
                )
            {
                break;
            }
            end += 1;
        }
        (end > from).then(|| {
            (
                self.span_of(from, end),
                self.mention_covering(mentions, from, end),
            )
        })
    }

    /// The speaker phrase before a cue, from `floor`: a mention ending there, else the words
    /// when they read like a noun phrase.
    fn speaker_before(
        &self,
        mentions: &[Mention],
        cue: usize,
        floor: usize,
    ) -> Option<(Span, Option<usize>)> {
        if let Some(m) = self.mention_before(mentions, cue, floor) {
            return Some((mentions[m].span, Some(m)));
        }
        let mut end = cue;
        while end > floor && self.words.class(end - 1).has(Class::ADVERBS) {
            end -= 1;
        }
        let start = floor;
        if let Some(comma) = (floor..end).find(|&i| self.lc(i) == ",") {
            end = comma;
        }
        if end <= start || end - start > MAX_SPEAKER_WORDS {
            return None;
        }
        let np = self
            .words
            .class(start)
            .has(Class::DETERMINERS | Class::PRONOUNS)
            || self.capital(start);
        let verb_inside =
            (start..end).any(|i| matches!(self.lc(i), "is" | "was" | "were" | "are" | "be"));
        (np && !verb_inside).then(|| {
            (
                self.span_of(start, end),
                self.mention_covering(mentions, start, end),
            )
        })
    }

    /// Direct quotes: the quoted stretches that stand as quotes, with their attribution.
    fn direct(&self, mentions: &[Mention]) -> Vec<Found> {
        let mut out: Vec<Found> = Vec::new();
        let text = self.text();
        for (qi, q) in self.quoted.iter().enumerate() {
            let inner = q.inner();
            let content = text[inner.start..inner.end].trim_end();
            if content.trim().is_empty() {
                continue;
            }
            let para = self.paragraph_of(q.open.start);
            let para_start = self.doc.paragraphs.get(para).map_or(0, |p| p.start);
            let before = text[para_start..q.open.start].trim_end();
            let prev_char = before.chars().next_back();
            let opens_sentence =
                prev_char.is_none_or(|c| ".!?…".contains(c) || marks::is_mark_char(c));
            let prev_word_cue = {
                let w = self.words.ending_by(q.open.start);
                w > 0
                    && self
                        .words
                        .class(w - 1)
                        .has(Class::CUES | Class::PARTICIPLE_CUES)
            };
            let left_ok =
                opens_sentence || prev_char.is_some_and(|c| ":,;—–-(".contains(c)) || prev_word_cue;
            if !left_ok {
                continue;
            }
            let after_text = text[q.end..].trim_start();
            let next_char = after_text.chars().next();
            let inner_end = content.chars().next_back();
            let ends_sentence = inner_end.is_some_and(|c| ".!?…".contains(c))
                || next_char.is_none_or(|c| ".!?\n".contains(c))
                || q.close.is_none();
            let words_in = content.split_whitespace().count();

            let next_open = self.quoted.get(qi + 1).map(|n| n.open.start);
            let found = self
                .attribution_after(mentions, q, next_open)
                .filter(|_| {
                    inner_end.is_some_and(|c| ",.!?…—–-".contains(c))
                        || next_char.is_some_and(|c| ",—–".contains(c))
                })
                .or_else(|| {
                    self.attribution_before(mentions, q, qi)
                        .filter(|_| ends_sentence || next_char.is_some_and(|c| ",—–".contains(c)))
                });
            let quote_span = q.span();
            match found {
                Some((speaker, mention, cue)) => out.push(Found {
                    quote: Quote {
                        span: quote_span,
                        kind: QuoteKind::Direct,
                        speaker,
                        cluster: None,
                        cue,
                    },
                    mention,
                }),
                None => {
                    if !(opens_sentence && ends_sentence && words_in >= MIN_BARE_QUOTE_WORDS) {
                        continue;
                    }
                    // A continuation of the previous quote: same paragraph, or the one before.
                    let prev = out.last().filter(|p| {
                        let pp = self.paragraph_of(p.quote.span.end.saturating_sub(1));
                        p.quote.speaker.is_some() && pp + 1 >= para && pp <= para
                    });
                    let (speaker, mention, cue) = prev.map_or((None, None, None), |p| {
                        (p.quote.speaker, p.mention, p.quote.cue)
                    });
                    out.push(Found {
                        quote: Quote {
                            span: quote_span,
                            kind: QuoteKind::Direct,
                            speaker,
                            cluster: None,
                            cue,
                        },
                        mention,
                    });
                }
            }
        }
        out
    }

    /// A bare quote (no speaker, no mention) opening the paragraph right after one that ends
    /// with a reported statement ("Dr. Helen Park … said the results were clear." then a
    /// quote with no clause of its own) continues that statement's speaker: it gets its
    /// referent (so its cluster) but no speaker span, as it names none. `quotes` is sorted.
    fn continue_reported(&self, quotes: &mut [Found]) {
        for i in 1..quotes.len() {
            let (done, rest) = quotes.split_at_mut(i);
            let (q, p) = (&mut rest[0], &done[i - 1]);
            if q.quote.kind != QuoteKind::Direct || q.quote.speaker.is_some() || q.mention.is_some()
            {
                continue;
            }
            let para = self.paragraph_of(q.quote.span.start);
            let opens = self
                .doc
                .paragraphs
                .get(para)
                .is_some_and(|s| self.text()[s.start..q.quote.span.start].trim().is_empty());
            let after = self.paragraph_of(p.quote.span.end.saturating_sub(1)) + 1 == para;
            if opens && after && p.quote.kind == QuoteKind::Reported && p.mention.is_some() {
                q.mention = p.mention;
            }
        }
    }

    /// The attribution in the clause after a quote: `“…,” he said`, `“…,” said Hatami`,
    /// `“…,” according to X`.
    #[allow(clippy::type_complexity)]
    fn attribution_after(
        &self,
        mentions: &[Mention],
        q: &marks::Quoted,
        next_open: Option<usize>,
    ) -> Option<(Option<Span>, Option<usize>, Option<Span>)> {
        let text = self.text();
        let para_end = self
            .doc
            .paragraphs
            .get(self.paragraph_of(q.end.saturating_sub(1)))
            .map_or(text.len(), |p| p.end);
        let s = self.sentence_of(q.end.saturating_sub(1));
        let mut end = self.sentence_span(s).end;
        if end <= q.end {
            // The segmenter ended the sentence at the mark (`“…?” he asked.`): take the next
            // sentence when it goes on in lowercase.
            let next = self.sentence_span(s + 1);
            let first = text[next.start.min(text.len())..].chars().next();
            if next.start >= q.end && first.is_some_and(char::is_lowercase) {
                end = next.end;
            }
        }
        let end = end.min(para_end).min(next_open.unwrap_or(usize::MAX));
        if end <= q.end {
            return None;
        }
        let mut from = self.words.at_or_after(q.end);
        let to = self.words.ending_by(end);
        while from < to && self.is_punct(from) {
            from += 1;
        }
        if from >= to {
            return None;
        }
        let limit = (from + MAX_CUE_OFFSET).min(to);
        let cue = (from..limit).find(|&i| {
            self.words.class(i).has(Class::CUES)
                || (self.lc(i) == "according" && self.lc(i + 1) == "to")
        })?;
        // A comma or a sentence end between the quote and the verb: not its clause.
        if (from..cue).any(|i| matches!(self.lc(i), "." | ";" | "!" | "?")) {
            return None;
        }
        let according = self.lc(cue) == "according";
        let cue_end = if according { cue + 2 } else { cue + 1 };
        let cue_span = self.span_of(cue, cue_end);
        let speaker = if cue == from || according {
            self.speaker_after(mentions, cue_end, to)
        } else {
            self.speaker_before(mentions, cue, from)
        };
        let (speaker, mention) = speaker?;
        Some((Some(speaker), mention, Some(cue_span)))
    }

    /// The attribution in the clause before a quote: `He said: “…”`, `…, saying, “…”`,
    /// `Hatami was blunt: “…”`.
    #[allow(clippy::type_complexity)]
    fn attribution_before(
        &self,
        mentions: &[Mention],
        q: &marks::Quoted,
        qi: usize,
    ) -> Option<(Option<Span>, Option<usize>, Option<Span>)> {
        let text = self.text();
        let s = self.sentence_of(q.open.start);
        let mut start = self.sentence_span(s).start;
        if start >= q.open.start && s > 0 {
            // The quote opens its sentence: the clause may end the sentence before with ":".
            let prev = self.sentence_span(s - 1);
            if text[prev.start..prev.end].trim_end().ends_with(':') {
                start = prev.start;
            }
        }
        if qi > 0 {
            start = start.max(self.quoted[qi - 1].end);
        }
        if start >= q.open.start {
            return None;
        }
        let from = self.words.at_or_after(start);
        let mut to = self.words.ending_by(q.open.start);
        let mut last_punct = None;
        while to > from && self.is_punct(to - 1) {
            last_punct = Some(self.lc(to - 1).to_owned());
            to -= 1;
        }
        if to <= from {
            return None;
        }
        let punct_ok = matches!(last_punct.as_deref(), Some("," | ":" | "—" | "–" | "-"));
        let floor = to.saturating_sub(MAX_CUE_OFFSET).max(from);
        let cue = (floor..to).rev().find(|&i| {
            self.words
                .class(i)
                .has(Class::CUES | Class::PARTICIPLE_CUES)
        });
        let subject = || {
            mentions
                .iter()
                .position(|m| m.subject && m.sentence == s && m.span.end <= q.open.start)
        };
        match cue {
            Some(c) if c + 1 == to || punct_ok => {
                let cue_span = self.span_of(c, c + 1);
                let (speaker, mention) = if self.words.class(c).has(Class::PARTICIPLE_CUES) {
                    let m = subject()?;
                    (mentions[m].span, Some(m))
                } else {
                    let clause_start = (from..c)
                        .rev()
                        .find(|&i| self.lc(i) == ",")
                        .map_or(from, |i| i + 1);
                    match self.speaker_before(mentions, c, clause_start) {
                        Some(found) => found,
                        None => {
                            let m = subject()?;
                            (mentions[m].span, Some(m))
                        }
                    }
                };
                Some((Some(speaker), mention, Some(cue_span)))
            }
            None if last_punct.as_deref() == Some(":") => {
                let m = subject()?;
                Some((Some(mentions[m].span), Some(m), None))
            }
            _ => None,
        }
    }

    /// Reported speech in sentences outside quotes: `X said (that) …`, `according to X, …`,
    /// `…, X said.`.
    fn reported(&self, mentions: &[Mention], direct: &[Found]) -> Vec<Found> {
        let mut out = Vec::new();
        let mut done_sentence = None;
        for (mi, m) in mentions.iter().enumerate() {
            if done_sentence == Some(m.sentence) {
                continue;
            }
            let sent = self.sentence_span(m.sentence);
            let sent_first = self.words.at_or_after(sent.start);
            let sent_end = self.words.ending_by(sent.end);
            let mut w = m.words.1;
            while self.words.class(w).has(Class::ADVERBS) {
                w += 1;
            }
            if self.lc(w) == "," {
                if self.words.class(w + 1).has(Class::REPORTED_CUES) {
                    w += 1; // "Its director, Ines Moreau, said"
                } else if let Some(close) =
                    (w + 1..(w + 8).min(sent_end)).find(|&i| self.lc(i) == ",")
                    && self.words.class(close + 1).has(Class::REPORTED_CUES)
                {
                    w = close + 1; // ", in turn," / ", who led the study,"
                }
            }
            if !self.words.class(w).has(Class::REPORTED_CUES) || w >= sent_end {
                continue;
            }
            let cue = self.span_of(w, w + 1);
            let mut end_w = sent_end;
            while end_w > w && self.is_punct(end_w - 1) {
                end_w -= 1;
            }
            let tail = end_w - (w + 1);
            let (from, to) = if m.words.0 > sent_first && self.lc(m.words.0 - 1) == "," && tail <= 3
            {
                // "The talks will resume, a spokesman said (on Thursday)."
                let mut to = m.words.0 - 1;
                while to > sent_first && self.is_punct(to - 1) {
                    to -= 1;
                }
                (sent_first, to)
            } else {
                let mut c = w + 1;
                let skippable = |i: usize| {
                    self.capital(i)
                        || matches!(
                            self.lc(i),
                            "on" | "last"
                                | "this"
                                | "in"
                                | "at"
                                | "a"
                                | "an"
                                | "the"
                                | "statement"
                                | "interview"
                                | "speech"
                                | "letter"
                                | "note"
                                | "post"
                                | "week"
                                | "month"
                                | "year"
                                | "night"
                                | "morning"
                                | "evening"
                                | "afternoon"
                                | "earlier"
                                | "later"
                                | "also"
                                | "reporters"
                                | "journalists"
                        )
                };
                if let Some(t) = (c..(c + 7).min(sent_end))
                    .find(|&i| self.lc(i) == "that")
                    .filter(|&t| (c..t).all(skippable))
                {
                    c = t + 1;
                } else if matches!(self.lc(w), "told" | "tells") {
                    c += 1; // "told reporters …": the listener is not content
                }
                (c, end_w)
            };
            if to <= from || to - from < MIN_REPORTED_WORDS {
                continue;
            }
            let span = self.span_of(from, to);
            if self.text()[span.start..].starts_with(marks::is_mark_char) || self.is_punct(from) {
                continue; // a direct quote's clause ("He said: “…”")
            }
            if direct
                .iter()
                .any(|d| d.quote.span.start < span.end && span.start < d.quote.span.end)
            {
                continue;
            }
            done_sentence = Some(m.sentence);
            out.push(Found {
                quote: Quote {
                    span,
                    kind: QuoteKind::Reported,
                    speaker: Some(m.span),
                    cluster: None,
                    cue: Some(cue),
                },
                mention: Some(mi),
            });
        }
        let according = self.according_to(mentions, direct, &out);
        out.extend(according);
        out
    }

    /// `According to X, …` and `…, according to X.` outside quotes.
    fn according_to(
        &self,
        mentions: &[Mention],
        direct: &[Found],
        reported: &[Found],
    ) -> Vec<Found> {
        let mut out = Vec::new();
        for w in 0..self.words.len().saturating_sub(2) {
            if self.lc(w) != "according" || self.lc(w + 1) != "to" {
                continue;
            }
            let b = self.words.spans[w].start;
            if self.quoted_at(b).is_some() {
                continue;
            }
            let s = self.sentence_of(b);
            let sent = self.sentence_span(s);
            let (first, last) = (
                self.words.at_or_after(sent.start),
                self.words.ending_by(sent.end),
            );
            let Some((speaker, mention)) = self.speaker_after(mentions, w + 2, last) else {
                continue;
            };
            let after_speaker = self.words.at_or_after(speaker.end);
            let (from, to) = if w == first {
                let comma = (after_speaker..last).find(|&i| self.lc(i) == ",");
                match comma {
                    Some(c) => (c + 1, last),
                    None => continue,
                }
            } else {
                (first, w)
            };
            let mut to = to;
            while to > from && self.is_punct(to - 1) {
                to -= 1;
            }
            if to <= from || to - from < MIN_REPORTED_WORDS {
                continue;
            }
            let span = self.span_of(from, to);
            let overlaps =
                |f: &Found| f.quote.span.start < span.end && span.start < f.quote.span.end;
            if direct.iter().any(overlaps) || reported.iter().any(overlaps) {
                continue;
            }
            out.push(Found {
                quote: Quote {
                    span,
                    kind: QuoteKind::Reported,
                    speaker: Some(speaker),
                    cluster: None,
                    cue: Some(self.span_of(w, w + 2)),
                },
                mention,
            });
        }
        out
    }

    /// Gives every mention a referent, walking the text in order.
    fn resolve(&self, mentions: &[Mention]) -> Referents {
        let mut list: Vec<Referent> = Vec::new();
        let mut of_cluster: HashMap<usize, usize> = HashMap::new();
        let mut of_mention = vec![None; mentions.len()];
        let mut subject_of_sentence: HashMap<usize, usize> = HashMap::new();
        for (mi, m) in mentions.iter().enumerate() {
            let pos = m.span.start;
            let r = match &m.kind {
                Kind::Entity(e) => {
                    let entity = &self.doc.entities[*e];
                    let person = entity.label == Label::Person;
                    let cluster = entity.cluster;
                    // "Kim" after "Kim Jae-won": a one-word name that is the first or last
                    // word of an earlier person's name is that person, when the entity rules
                    // did not cluster them (they match last names only).
                    let short = self.doc.slice(entity.span);
                    let same_name = || {
                        (person && !short.contains(char::is_whitespace))
                            .then(|| {
                                list.iter().rposition(|r| {
                                    let mut w = r.name.split_whitespace();
                                    r.person
                                        && r.name.contains(char::is_whitespace)
                                        && (w.next() == Some(short) || w.next_back() == Some(short))
                                })
                            })
                            .flatten()
                    };
                    let known = cluster
                        .and_then(|c| of_cluster.get(&c).copied())
                        .or_else(same_name);
                    match known {
                        Some(r) => {
                            list[r].features.merge(&m.extra);
                            Some(r)
                        }
                        None => {
                            // The lede: "Iran’s defence minister says …. Brigadier General Amir
                            // Hatami says …" — one person.
                            let lede_position =
                                m.subject && person && m.sentence <= 2 && m.sentence > 0;
                            // `checked_sub`: a name in the first sentence has no sentence
                            // before it (a plain `- 1` overflowed there and the stage panicked).
                            let lede = m
                                .sentence
                                .checked_sub(1)
                                .and_then(|s| subject_of_sentence.get(&s))
                                .copied()
                                .filter(|&r| {
                                    let r: &Referent = &list[r];
                                    r.cluster.is_none()
                                        && r.person
                                        && r.first_sentence + 1 == m.sentence
                                })
                                .filter(|_| lede_position);
                            let mut features =
                                entity.title.as_deref().map_or_else(Features::default, |t| {
                                    Features::of_words(
                                        t.split(|c: char| c.is_whitespace() || c == ',')
                                            .filter(|w| !w.is_empty())
                                            .map(|w| {
                                                let capital = w
                                                    .chars()
                                                    .next()
                                                    .is_some_and(char::is_uppercase);
                                                let w =
                                                    w.trim_end_matches("’s").trim_end_matches("'s");
                                                (w.to_lowercase(), capital)
                                            }),
                                    )
                                });
                            features.merge(&m.extra);
                            let r = match lede {
                                Some(r) if !list[r].features.clashes(&features) => {
                                    list[r].cluster = cluster;
                                    list[r].features.merge(&features);
                                    r
                                }
                                _ => {
                                    list.push(Referent {
                                        cluster,
                                        person,
                                        features,
                                        name: self.doc.slice(entity.span).to_owned(),
                                        last: pos,
                                        last_subject: None,
                                        first_sentence: m.sentence,
                                    });
                                    list.len() - 1
                                }
                            };
                            if let Some(c) = cluster {
                                of_cluster.insert(c, r);
                            }
                            Some(r)
                        }
                    }
                }
                Kind::Pronoun => {
                    let lc = self.lc(m.words.0);
                    let female = match lc {
                        "she" => Some(true),
                        "he" => Some(false),
                        _ => None,
                    };
                    let wants_person = female.is_some() || matches!(lc, "i" | "we");
                    let found = list
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| {
                            if wants_person {
                                r.person
                                    && !r.features.plural
                                    && (female.is_none()
                                        || r.features.female.is_none_or(|f| Some(f) == female))
                            } else {
                                !r.person || r.features.plural
                            }
                        })
                        .max_by_key(|(_, r)| (r.last_subject, r.last))
                        .map(|(i, _)| i);
                    if let (Some(r), Some(f)) = (found, female) {
                        list[r].features.female.get_or_insert(f);
                    }
                    found
                }
                Kind::Description(f) => {
                    let candidate = if f.definite && !f.plural {
                        let specific = !f.nations.is_empty() || !f.portfolios.is_empty();
                        let strong = |r: &Referent| {
                            r.features
                                .heads
                                .iter()
                                .any(|h| f.heads.contains(h) || h == "counterpart")
                                || f.heads.iter().any(|h| h == "counterpart")
                                || r.features
                                    .portfolios
                                    .iter()
                                    .any(|p| f.portfolios.contains(p))
                                || f.heads
                                    .iter()
                                    .any(|h| Class::of(h).has(Class::GENERIC_ROLES))
                        };
                        let ok = |r: &&Referent| {
                            r.person != f.org && !r.features.plural && !r.features.clashes(f)
                        };
                        let best = |weak: bool| {
                            list.iter()
                                .enumerate()
                                .filter(|(_, r)| ok(r))
                                .filter(|(_, r)| {
                                    if weak {
                                        r.features.heads.is_empty()
                                            && r.features.portfolios.is_empty()
                                    } else {
                                        strong(r)
                                    }
                                })
                                .max_by_key(|(_, r)| r.last)
                                .map(|(i, _)| i)
                        };
                        best(false).or_else(|| if specific { None } else { best(true) })
                    } else {
                        None
                    };
                    let r = match candidate {
                        Some(r) => r,
                        None => {
                            let text = self.doc.slice(m.span);
                            let name = ["the ", "The "]
                                .iter()
                                .find_map(|p| text.strip_prefix(p))
                                .unwrap_or(text);
                            list.push(Referent {
                                cluster: None,
                                person: !f.org,
                                features: Features::default(),
                                name: name.to_owned(),
                                last: pos,
                                last_subject: None,
                                first_sentence: m.sentence,
                            });
                            list.len() - 1
                        }
                    };
                    list[r].features.merge(f);
                    Some(r)
                }
            };
            if let Some(r) = r {
                list[r].last = pos;
                if m.subject {
                    list[r].last_subject = Some(pos);
                    subject_of_sentence.insert(m.sentence, r);
                }
            }
            of_mention[mi] = r;
        }
        Referents { list, of_mention }
    }
}

#[cfg(test)]
mod tests;
