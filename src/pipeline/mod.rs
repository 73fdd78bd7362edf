//! The NLP pipeline: the [`Stage`] trait, the working [`Document`] and the ordered [`Pipeline`].
//!
//! Stages are synchronous and pure: each one reads and enriches a `&mut Document` and does no
//! I/O, so it can be unit-tested and benchmarked without a runtime. Only the runner
//! ([`crate::runner`]) decides where CPU work runs. Inside a [`Document`] every span is a
//! **byte** range into [`Document::text`]; the record encoder ([`crate::enrich::encode`])
//! converts them to the code-point offsets of the output contract in one place. This module
//! knows nothing of the wire formats: a [`Pipeline`] takes a [`Document`] in and gives the
//! finished one back.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod clean;
pub mod delay;
pub mod entities;
pub mod quotes;
pub mod segment;
pub mod story;

/// A half-open byte range `[start, end)` into [`Document::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    /// First byte of the span.
    pub start: usize,
    /// One past the last byte of the span.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (bytes).
    pub const fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// Length in bytes.
    pub const fn len(&self) -> usize {
        self.end - self.start
    }

    /// True when the span covers no bytes.
    pub const fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// A sentence: its span and the index of the paragraph that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sentence {
    /// Bytes of the sentence (no leading or trailing whitespace).
    pub span: Span,
    /// Index into [`Document::paragraphs`].
    pub paragraph: usize,
}

/// One token, as spaCy's tokenizer reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Bytes of the token text.
    pub span: Span,
    /// True when a single U+0020 space that belongs to no token follows (spaCy's `whitespace_`).
    pub ws: bool,
    /// The NORM a tokenizer special case gave this token (`"n't"` → `"not"`), if any.
    pub norm: Option<Arc<str>>,
}

/// The 18 OntoNotes entity labels of spaCy's English models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)] // The names are the documentation: they are OntoNotes' labels verbatim.
pub enum Label {
    Person,
    Norp,
    Fac,
    Org,
    Gpe,
    Loc,
    Product,
    Event,
    WorkOfArt,
    Law,
    Language,
    Date,
    Time,
    Percent,
    Money,
    Quantity,
    Ordinal,
    Cardinal,
}

impl Label {
    /// All labels, in the order of the OntoNotes guidelines.
    pub const ALL: [Label; 18] = [
        Label::Person,
        Label::Norp,
        Label::Fac,
        Label::Org,
        Label::Gpe,
        Label::Loc,
        Label::Product,
        Label::Event,
        Label::WorkOfArt,
        Label::Law,
        Label::Language,
        Label::Date,
        Label::Time,
        Label::Percent,
        Label::Money,
        Label::Quantity,
        Label::Ordinal,
        Label::Cardinal,
    ];

    /// The label as spaCy spells it (`"WORK_OF_ART"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Label::Person => "PERSON",
            Label::Norp => "NORP",
            Label::Fac => "FAC",
            Label::Org => "ORG",
            Label::Gpe => "GPE",
            Label::Loc => "LOC",
            Label::Product => "PRODUCT",
            Label::Event => "EVENT",
            Label::WorkOfArt => "WORK_OF_ART",
            Label::Law => "LAW",
            Label::Language => "LANGUAGE",
            Label::Date => "DATE",
            Label::Time => "TIME",
            Label::Percent => "PERCENT",
            Label::Money => "MONEY",
            Label::Quantity => "QUANTITY",
            Label::Ordinal => "ORDINAL",
            Label::Cardinal => "CARDINAL",
        }
    }

    /// Parses spaCy's spelling of a label.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named entity found in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// Bytes of the entity text.
    pub span: Span,
    /// The label (after the rule layer, when it ran).
    pub label: Label,
    /// The model's own label, kept when the rule layer changed it.
    pub model_label: Option<Label>,
    /// Index into [`Document::sentences`] of the sentence that holds the entity's start.
    pub sentence: Option<usize>,
    /// Index into [`Document::clusters`].
    pub cluster: Option<usize>,
    /// A title or office attached to a person ("Brigadier General").
    pub title: Option<String>,
}

/// Mentions of one thing within an article ("Amir Hatami", "Hatami").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Label shared by the mentions.
    pub label: Label,
    /// The canonical (longest, first) name.
    pub name: String,
    /// Indices into [`Document::entities`], in text order.
    pub mentions: Vec<usize>,
}

/// Something the clean stage took out of the text, reported rather than silently dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// What it was: `teaser`, `share`, `read_more`, `related`, `subscribe`, `copyright`,
    /// `photo_credit`, `chrome`, ….
    pub kind: &'static str,
    /// The removed text, as it stood in the input.
    pub text: String,
}

/// A stage that ran but chose to leave the article alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// The stage's name.
    pub stage: &'static str,
    /// Why it did nothing ("language 'de' is not supported by the entity model").
    pub reason: String,
}

/// The working state of one article as it moves through the stages.
///
/// Fields start from the raw article; each stage fills in its own. All spans are byte ranges
/// into `text`.
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// The article id (given or content hash).
    pub id: String,
    /// The revision of the article's content (`RawArticle::revision`), set before its text
    /// is moved into the document.
    pub revision: String,
    /// The text the stages work on; the clean stage may rewrite it.
    pub text: String,
    /// The raw HTML page, when the article came as one. The clean stage consumes it.
    pub html: Option<String>,
    /// Headline (from the input, or extracted from HTML).
    pub title: Option<String>,
    /// Author line extracted from HTML.
    pub byline: Option<String>,
    /// Publication time (from the input, or extracted from HTML).
    pub published_at: Option<String>,
    /// Canonical URL (from the input, or extracted from HTML).
    pub url: Option<String>,
    /// ISO 639-1 language code: the input's, or the detected one.
    pub lang: Option<String>,
    /// The language detector's confidence in its guess, 0..=1 (the guess is `lang`, or
    /// `lang_detected` when it was not confident enough to be used).
    pub lang_confidence: Option<f64>,
    /// Where `lang` came from (set by the clean stage).
    pub lang_source: Option<clean::LangSource>,
    /// The detector's guess when it differs from `lang` (it was not confident enough).
    pub lang_detected: Option<String>,
    /// What the clean stage removed.
    pub removed: Vec<Removal>,
    /// A dateline at the start of the text ("TEHRAN (Reuters) -"); it stays in `text`.
    pub dateline: Option<Span>,
    /// Paragraph spans, tiling the non-blank text in order.
    pub paragraphs: Vec<Span>,
    /// Sentences, in order, each inside one paragraph.
    pub sentences: Vec<Sentence>,
    /// spaCy tokens, tiling `text` (whitespace tokens included).
    pub tokens: Vec<Token>,
    /// Named entities, in text order.
    pub entities: Vec<Entity>,
    /// Mention clusters; entities point into this list.
    pub clusters: Vec<Cluster>,
    /// Direct quotes and reported speech, with speakers (the `quotes` stage).
    pub quotes: Vec<quotes::Quote>,
    /// Stages that ran but left the article alone.
    pub skipped: Vec<Skip>,
    /// Where each run of `text` came from in the clean stage's input (with `source_offsets`).
    pub source_map: Option<clean::SourceMap>,
    /// What the HTML page declares about the article (HTML input only).
    pub page: Option<crate::record::PageMeta>,
    /// The story stage's signature, waiting for its key (`enrich::assign_story`).
    pub story: Option<story::Pending>,
}

impl Document {
    /// A document of plain `text` with this `id` (the other fields empty).
    pub fn from_text(id: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            text: text.into(),
            ..Self::default()
        }
    }

    /// The text of `span`.
    ///
    /// # Panics
    /// If `span` is out of bounds or not on char boundaries: spans are produced by stages over
    /// this very text, so that is a bug in a stage, caught by the pipeline.
    pub fn slice(&self, span: Span) -> &str {
        &self.text[span.start..span.end]
    }
}

/// Why a stage could not enrich an article. Every variant is permanent for that article: the
/// transport sends it to the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The article cannot be processed as given (for example HTML with no extractable text).
    #[error("{0}")]
    Invalid(String),
    /// The article is over a size budget of the stage (`--max-tokens`): it is dead-lettered as
    /// `too_large` rather than processed with memory that grows with it.
    #[error("{0}")]
    TooLarge(String),
}

/// One synchronous step of the pipeline.
///
/// A stage is pure: it reads and enriches the document in place, does no I/O, and holds its
/// models read-only so one instance serves every thread.
pub trait Stage: Send + Sync {
    /// The stage's name, as given to `--stages`.
    fn name(&self) -> &'static str;

    /// Enriches `doc`.
    ///
    /// # Errors
    /// [`StageError`] when this article cannot be processed; the article is rejected.
    fn process(&self, doc: &mut Document) -> Result<(), StageError>;

    /// The NLP model this stage runs, as recorded in `processing.model` (`"en_core_web_sm-3.8.0"`).
    fn model_id(&self) -> Option<String> {
        None
    }
}

/// Stack size of the threads that run stages (the runner's pool, [`crate::runner`]). Parsers of
/// nested input recurse; a generous stack (virtual memory, touched only when used) keeps a
/// hostile article a rejection rather than a process abort.
pub const STAGE_STACK_BYTES: usize = 16 * 1024 * 1024;

/// Every stage name `--stages` accepts, in pipeline order.
pub const STAGE_NAMES: &[&str] = &["clean", "story", "segment", "entities", "quotes", "delay"];

/// Stages never in the default list: fault injection (`delay`), and story keys, opt-in until
/// their end-to-end cost (the KV round trips) is within budget (README "Story keys").
const NOT_DEFAULT: &[&str] = &["story", "delay"];

/// The default `--stages`: every NLP stage but the opt-in ones, in order.
pub fn default_stages() -> Vec<&'static str> {
    STAGE_NAMES
        .iter()
        .copied()
        .filter(|s| !NOT_DEFAULT.contains(s))
        .collect()
}

/// Settings the stages are built from (a slice of the worker's config).
#[derive(Debug, Clone, Default)]
pub struct StageOptions {
    /// The spaCy pipeline directory (`models/en_core_web_sm-3.8.0`).
    pub model_dir: Option<PathBuf>,
    /// Put tokens in the record.
    pub tokens: bool,
    /// Run the entity rule layer (titles, clusters, consistent labels) over the model's output.
    pub entity_rules: bool,
    /// Keep entities inside the segment stage's sentences (spaCy's full-pipeline rule).
    pub entity_sentence_bounds: bool,
    /// Fold quotes and dashes while cleaning.
    pub normalize_punctuation: bool,
    /// Keep the clean stage's map back to the input text and put it in the record.
    pub source_offsets: bool,
    /// Per-article sleep of the `delay` stage (fault injection).
    pub delay: Duration,
    /// Per-article time budget of the whole pipeline (`--deadline`); `None`: unlimited.
    pub deadline: Option<Duration>,
    /// Most tokens an article may have (`--max-tokens`); the segment stage refuses more as
    /// `too_large`. `None`: unlimited.
    pub max_tokens: Option<usize>,
}

/// Why a pipeline could not be built at start-up.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A name in `--stages` is not a stage.
    #[error("unknown stage {name:?}; the stages are: {}", STAGE_NAMES.join(", "))]
    UnknownStage {
        /// The name given.
        name: String,
    },
    /// A stage needs one that is missing or comes later.
    #[error("stage {stage:?} needs {needs:?} before it in --stages")]
    MissingDependency {
        /// The stage.
        stage: &'static str,
        /// What it needs.
        needs: &'static str,
    },
    /// A stage could not load what it needs (model files).
    #[error("stage {stage:?}: {message}")]
    Load {
        /// The stage.
        stage: &'static str,
        /// What went wrong and how to fix it.
        message: String,
    },
}

/// Builds the pipeline named by `--stages`, loading models once.
///
/// # Errors
/// [`BuildError`] for an unknown name, a stage listed before one it needs, a repeated stage, or
/// a model that cannot be loaded.
pub fn build(names: &[String], options: &StageOptions) -> Result<Pipeline, BuildError> {
    let mut stages: Vec<Arc<dyn Stage>> = Vec::with_capacity(names.len());
    for name in names {
        let stage: Arc<dyn Stage> = match name.as_str() {
            "clean" => Arc::new(clean::Clean::new(options)),
            "delay" => Arc::new(delay::Delay::new(options.delay)),
            story::NAME => {
                // It reads the cleaned text, not the outlet's boilerplate around it.
                if !names
                    .iter()
                    .take_while(|n| *n != story::NAME)
                    .any(|n| n == "clean")
                {
                    return Err(BuildError::MissingDependency {
                        stage: story::NAME,
                        needs: "clean",
                    });
                }
                Arc::new(story::Story)
            }
            "segment" => {
                let model = match &options.model_dir {
                    Some(dir) => crate::model::ModelDir::open(dir),
                    None => crate::model::ModelDir::from_env_or_default(),
                };
                let load = |message: String| BuildError::Load {
                    stage: "segment",
                    message,
                };
                let model = model.map_err(|e| load(e.to_string()))?;
                let stage =
                    segment::Segment::from_model_dir(&model).map_err(|e| load(e.to_string()))?;
                Arc::new(stage.with_max_tokens(options.max_tokens))
            }
            entities::NAME => Arc::new(entities::Entities::build(names, options)?),
            quotes::NAME => Arc::new(quotes::Quotes::build(names)?),
            _ => return Err(BuildError::UnknownStage { name: name.clone() }),
        };
        stages.push(stage);
    }
    Ok(Pipeline::new(stages, options.tokens).with_deadline(options.deadline))
}

/// How long one stage took on one article.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageTiming {
    /// The stage's name.
    pub stage: &'static str,
    /// Wall-clock microseconds.
    pub micros: u64,
}

/// Why the pipeline rejected an article.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A stage refused the article.
    #[error("stage {stage}: {source}")]
    Stage {
        /// The stage's name.
        stage: &'static str,
        /// What it said.
        source: StageError,
    },
    /// The article came as HTML only and no stage turned it into text.
    #[error(
        "the article has only \"html\" and the pipeline has no clean stage to extract its text"
    )]
    NoText,
    /// The article used up its time budget (`--deadline`); checked after every stage.
    #[error(
        "the article took {elapsed_ms} ms, over its time budget of {budget_ms} ms (--deadline), after stage {stage}"
    )]
    DeadlineExceeded {
        /// The stage that finished past the budget.
        stage: &'static str,
        /// Milliseconds spent so far.
        elapsed_ms: u128,
        /// The budget in milliseconds.
        budget_ms: u128,
    },
    /// A stage panicked. The article is rejected; the worker goes on.
    #[error("stage {stage} panicked: {message}")]
    Panic {
        /// The stage's name.
        stage: &'static str,
        /// The panic message.
        message: String,
    },
}

/// A document that went through every stage, and how long each took.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The enriched document.
    pub doc: Document,
    /// One timing per stage, in pipeline order.
    pub timings: Vec<StageTiming>,
}

/// The ordered list of stages every article goes through.
#[derive(Clone, Default)]
pub struct Pipeline {
    stages: Vec<Arc<dyn Stage>>,
    tokens: bool,
    deadline: Option<Duration>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.stages.iter().map(|s| s.name()))
            .finish()
    }
}

impl Pipeline {
    /// A pipeline of `stages`, run in the given order; `tokens` puts tokens in the record.
    pub fn new(stages: Vec<Arc<dyn Stage>>, tokens: bool) -> Self {
        Self {
            stages,
            tokens,
            deadline: None,
        }
    }

    /// The same pipeline with a per-article time budget (`None` or zero: unlimited).
    ///
    /// Stages are synchronous and cannot be interrupted, so the budget is checked after every
    /// stage: an article over it is rejected with [`PipelineError::DeadlineExceeded`] and the
    /// later stages do not run. A stage that never returns is the runner's to stop waiting
    /// for ([`crate::runner`]).
    pub fn with_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline.filter(|d| !d.is_zero());
        self
    }

    /// The per-article time budget, if any.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// True when a stage of this name is in the pipeline.
    pub fn has(&self, name: &str) -> bool {
        self.stages.iter().any(|s| s.name() == name)
    }

    /// True when the record should carry tokens (`--tokens`).
    pub fn tokens_in_record(&self) -> bool {
        self.tokens
    }

    /// The model id the stages report (the first one that has a model).
    pub fn model_id(&self) -> Option<String> {
        self.stages.iter().find_map(|s| s.model_id())
    }

    /// Takes one document through every stage and gives it back finished, with the stages'
    /// timings.
    ///
    /// # Errors
    /// [`PipelineError`] when a stage rejects the article, panics, runs past the budget, or no
    /// text came out.
    pub fn enrich(&self, mut doc: Document) -> Result<Finished, PipelineError> {
        let timings = self.run(&mut doc)?;
        if doc.text.trim().is_empty() {
            return Err(PipelineError::NoText);
        }
        Ok(Finished { doc, timings })
    }

    /// The stage names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.stages.iter().map(|s| s.name()).collect()
    }

    /// Runs every stage on `doc`, each in a `stage` span, and returns their timings.
    ///
    /// A panic inside a stage is caught and returned as [`PipelineError::Panic`], so one bad
    /// article never takes the worker down.
    ///
    /// # Errors
    /// The first stage error or panic; later stages do not run.
    pub fn run(&self, doc: &mut Document) -> Result<Vec<StageTiming>, PipelineError> {
        let mut timings = Vec::with_capacity(self.stages.len());
        let article_started = Instant::now();
        for stage in &self.stages {
            let name = stage.name();
            let span = tracing::debug_span!("stage", name);
            let _entered = span.enter();
            let started = Instant::now();
            match catch_unwind(AssertUnwindSafe(|| stage.process(doc))) {
                Ok(Ok(())) => {}
                Ok(Err(source)) => {
                    return Err(PipelineError::Stage {
                        stage: name,
                        source,
                    });
                }
                Err(payload) => {
                    return Err(PipelineError::Panic {
                        stage: name,
                        message: panic_message(payload.as_ref()),
                    });
                }
            }
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            tracing::debug!(micros, "Stage done");
            timings.push(StageTiming {
                stage: name,
                micros,
            });
            if let Some(budget) = self.deadline {
                let elapsed = article_started.elapsed();
                if elapsed > budget {
                    return Err(PipelineError::DeadlineExceeded {
                        stage: name,
                        elapsed_ms: elapsed.as_millis(),
                        budget_ms: budget.as_millis(),
                    });
                }
            }
        }
        Ok(timings)
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Upper;
    impl Stage for Upper {
        fn name(&self) -> &'static str {
            "upper"
        }
        fn process(&self, doc: &mut Document) -> Result<(), StageError> {
            doc.text = doc.text.to_uppercase();
            Ok(())
        }
    }

    struct Boom;
    impl Stage for Boom {
        fn name(&self) -> &'static str {
            "boom"
        }
        fn process(&self, doc: &mut Document) -> Result<(), StageError> {
            if doc.text.contains("REFUSE") {
                return Err(StageError::Invalid("refused".into()));
            }
            panic!("stage bug on {}", doc.id);
        }
    }

    fn raw(text: &str) -> Document {
        Document::from_text("t", text)
    }

    #[test]
    fn stages_run_in_order_and_report_timings() {
        let p = Pipeline::new(
            vec![Arc::new(Upper), Arc::new(delay::Delay::new(Duration::ZERO))],
            false,
        );
        let finished = p.enrich(raw("hello")).unwrap();
        assert_eq!(finished.doc.text, "HELLO");
        let names: Vec<&str> = finished.timings.iter().map(|t| t.stage).collect();
        assert_eq!(names, ["upper", "delay"]);
    }

    #[test]
    fn a_panicking_stage_rejects_the_article_not_the_process() {
        let p = Pipeline::new(vec![Arc::new(Boom)], false);
        let err = p.enrich(raw("x")).unwrap_err();
        assert!(
            matches!(err, PipelineError::Panic { stage: "boom", .. }),
            "{err}"
        );
        assert!(err.to_string().contains("stage bug"));
        let err = p.enrich(raw("REFUSE")).unwrap_err();
        assert!(
            matches!(err, PipelineError::Stage { stage: "boom", .. }),
            "{err}"
        );
    }

    #[test]
    fn an_article_over_its_time_budget_is_rejected_after_the_slow_stage() {
        let slow = delay::Delay::new(Duration::from_millis(60));
        let p = Pipeline::new(vec![Arc::new(slow), Arc::new(Upper)], false)
            .with_deadline(Some(Duration::from_millis(20)));
        let err = p.enrich(raw("late")).unwrap_err();
        assert!(
            matches!(err, PipelineError::DeadlineExceeded { stage: "delay", .. }),
            "{err}"
        );
        assert!(err.to_string().contains("--deadline"), "{err}");
        let roomy = p.clone().with_deadline(Some(Duration::from_secs(60)));
        assert_eq!(roomy.enrich(raw("late")).unwrap().doc.text, "LATE");
        assert_eq!(p.with_deadline(Some(Duration::ZERO)).deadline(), None);
    }

    #[test]
    fn html_only_without_a_clean_stage_is_rejected() {
        let p = Pipeline::new(vec![], false);
        let html = Document {
            html: Some("<p>Hi</p>".into()),
            ..Document::default()
        };
        assert!(matches!(p.enrich(html), Err(PipelineError::NoText)));
    }

    #[test]
    fn unknown_stage_names_are_refused_with_the_list() {
        let err = build(&["nope".into()], &StageOptions::default()).unwrap_err();
        assert!(err.to_string().contains("unknown stage \"nope\""), "{err}");
    }
}
