//! The per-message path: payload bytes → decode → run the stages → encode → record or rejection.
//!
//! [`enrich_payload`] is the one function every way in shares: the runner's pool threads
//! ([`crate::runner`]) call it for the JetStream worker, the queue-group transport and
//! `lede process` alike, and it is tested without a broker. It is also the one place that
//! knows both sides: [`crate::record`] (the wire formats) and [`crate::pipeline`] (the
//! working [`Document`]) do not import each other; [`document`] and [`encode`] translate.

use crate::pipeline::story::{self, IndexError, Pending, StoryIndex};
use crate::pipeline::{Document, Label, Pipeline, PipelineError, StageError, StageTiming};
use crate::record::{
    CharOffsets, ClusterOut, DecodeError, ENRICHED_SCHEMA, EnrichedArticle, EntityOut, Parts,
    Processing, QuoteOut, RawArticle, RemovedOut, SentenceOut, SkippedOut, SourceOffsetOut,
    SpeakerOut, StageTimeOut, StoryOut, TokenOut,
};

/// An article that went through the pipeline.
#[derive(Debug, Clone)]
pub struct Enriched {
    /// The article id.
    pub id: String,
    /// The article's revision ([`crate::record::RawArticle::revision`]).
    pub revision: String,
    /// The enriched record, JSON.
    pub record: Vec<u8>,
    /// How long each stage took (for the latency histograms).
    pub timings: Vec<StageTiming>,
    /// The label of every entity in the record (for the entities-by-label counter).
    pub entity_labels: Vec<Label>,
    /// The story stage's signature, until [`assign_story`] has put the key in the record
    /// (boxed: a fixed 512 bytes that would otherwise ride in every outcome by value).
    pub story: Option<Box<Pending>>,
}

impl Enriched {
    /// The output's `Nats-Msg-Id`: `<id>:<revision>` ([`crate::record::message_id`]).
    pub fn message_id(&self) -> String {
        crate::record::message_id(&self.id, &self.revision)
    }
}

/// Why an article was rejected: permanent, it goes to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    /// The article id, when the payload got far enough to have one.
    pub id: Option<String>,
    /// Machine-readable kind (`Lede-Error-Kind`): `invalid_utf8`, `invalid_json`,
    /// `missing_content`, `too_large`, `stage_failed`, `panic`, `no_text`, `encode`,
    /// `deadline_exceeded`.
    pub kind: &'static str,
    /// A clear message for people (`Lede-Error`).
    pub message: String,
}

impl From<DecodeError> for Rejection {
    fn from(e: DecodeError) -> Self {
        Self {
            id: None,
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl Rejection {
    fn from_pipeline(id: &str, e: &PipelineError) -> Self {
        let kind = match e {
            PipelineError::Stage {
                source: StageError::TooLarge(_),
                ..
            } => "too_large",
            PipelineError::Stage { .. } => "stage_failed",
            PipelineError::NoText => "no_text",
            PipelineError::Panic { .. } => "panic",
            PipelineError::DeadlineExceeded { .. } => "deadline_exceeded",
        };
        Self {
            id: Some(id.to_owned()),
            kind,
            message: e.to_string(),
        }
    }
}

/// Decodes `payload`, runs the pipeline and encodes the record.
///
/// # Errors
/// [`Rejection`] for a payload that is not a usable article, or that a stage rejected.
pub fn enrich_payload(
    pipeline: &Pipeline,
    payload: &[u8],
    max_bytes: usize,
) -> Result<Enriched, Rejection> {
    let mut raw = RawArticle::decode(payload, max_bytes)?;
    tracing::Span::current().record("id", raw.id.as_str());
    let finished = pipeline
        .enrich(document(&mut raw))
        .map_err(|e| Rejection::from_pipeline(&raw.id, &e))?;
    let (mut doc, timings) = (finished.doc, finished.timings);
    let story = doc.story.take().map(Box::new);
    let entity_labels = doc.entities.iter().map(|e| e.label).collect();
    let record = encode(
        &doc,
        &raw,
        parts(pipeline),
        pipeline.model_id().as_deref(),
        &timings,
    );
    drop(doc);
    let revision = record.revision.clone();
    let record = serde_json::to_vec(&record).map_err(|e| Rejection {
        id: Some(raw.id.clone()),
        kind: "encode",
        message: format!("cannot encode the record: {e}"),
    })?;
    Ok(Enriched {
        id: raw.id,
        revision,
        record,
        timings,
        entity_labels,
        story,
    })
}

/// The story step, after the stage pool and before the publish: decides the article's story
/// against the shared `index` and appends the key to the encoded record. Does nothing when the
/// story stage did not run or the key is already in.
///
/// The record is encoded on the pool thread with `story` absent and the field is appended
/// here, so the async side never re-encodes a large record.
///
/// # Errors
/// [`IndexError`] when the index is unreachable: transient, the article is retried (it never
/// goes out without its key).
pub async fn assign_story<I: StoryIndex + ?Sized>(
    index: &I,
    enriched: &mut Enriched,
) -> Result<(), IndexError> {
    let Some(pending) = &enriched.story else {
        return Ok(());
    };
    let out = story::assign(index, &enriched.id, pending.signature.as_ref()).await?;
    put_story(
        &mut enriched.record,
        &StoryOut {
            key: out.key,
            similarity: out.similarity,
            first_id: out.first_id,
        },
    );
    enriched.story = None;
    Ok(())
}

/// Appends `"story": …` as the last field of an encoded record (a JSON object).
fn put_story(record: &mut Vec<u8>, story: &StoryOut) {
    // The record is serde_json's encoding of a struct with required fields, so it is `{…}`
    // with at least one field before the closing brace.
    if record.last() == Some(&b'}') {
        record.pop();
        record.extend_from_slice(b",\"story\":");
        // Strings and a finite float always serialize (a similarity is a ratio of counts).
        if serde_json::to_writer(&mut *record, story).is_err() {
            record.extend_from_slice(b"null");
        }
        record.push(b'}');
    }
}

/// Starts the working document of a decoded article. The text and HTML are moved out of
/// `raw` (the record needs only its pass-through fields), so a long article is not copied.
pub fn document(raw: &mut RawArticle) -> Document {
    Document {
        id: raw.id.clone(),
        // Before the text is moved out: the revision is a digest of the content fields.
        revision: raw.revision(),
        text: raw.text.take().unwrap_or_default(),
        html: raw.html.take(),
        title: raw.title.clone(),
        published_at: raw.published_at.clone(),
        url: raw.url.clone(),
        lang: raw.lang.clone(),
        ..Document::default()
    }
}

/// Which optional parts of the record `pipeline` fills.
pub fn parts(pipeline: &Pipeline) -> Parts {
    Parts {
        cleaned: pipeline.has("clean"),
        segmented: pipeline.has("segment"),
        tokens: pipeline.tokens_in_record() && pipeline.has("segment"),
        entities: pipeline.has("entities"),
        quotes: pipeline.has(crate::pipeline::quotes::NAME),
    }
}

/// Builds the record of a finished document, converting its byte spans to code points.
pub fn encode(
    doc: &Document,
    raw: &RawArticle,
    parts: Parts,
    model: Option<&str>,
    timings: &[StageTiming],
) -> EnrichedArticle {
    let offsets = CharOffsets::new(&doc.text);
    // A stage that skipped the article (an unsupported language) leaves its fields absent,
    // not empty: "not run" is not "found nothing". Its reason is in `skipped`.
    let ran = |stage: &str| !doc.skipped.iter().any(|s| s.stage == stage);
    let with_entities = parts.entities && ran("entities");
    let entities = with_entities.then(|| {
        doc.entities
            .iter()
            .map(|e| {
                let span = offsets.span(e.span.start, e.span.end);
                EntityOut {
                    text: doc.slice(e.span).to_owned(),
                    label: e.label.as_str().to_owned(),
                    start: span.start,
                    end: span.end,
                    sentence: e.sentence,
                    cluster: e.cluster,
                    title: e.title.clone(),
                    model_label: e.model_label.map(|l| l.as_str().to_owned()),
                }
            })
            .collect()
    });
    let clusters = with_entities.then(|| {
        doc.clusters
            .iter()
            .enumerate()
            .map(|(id, c)| ClusterOut {
                id,
                label: c.label.as_str().to_owned(),
                name: c.name.clone(),
                mentions: c.mentions.clone(),
            })
            .collect()
    });
    let quotes = (parts.quotes && ran(crate::pipeline::quotes::NAME)).then(|| {
        doc.quotes
            .iter()
            .map(|q| {
                let span = offsets.span(q.span.start, q.span.end);
                QuoteOut {
                    start: span.start,
                    end: span.end,
                    kind: q.kind.as_str().to_owned(),
                    speaker: q.speaker.map(|s| {
                        let c = offsets.span(s.start, s.end);
                        SpeakerOut {
                            start: c.start,
                            end: c.end,
                            text: doc.slice(s).to_owned(),
                        }
                    }),
                    cluster: q.cluster,
                    cue: q.cue.map(|c| offsets.span(c.start, c.end)),
                }
            })
            .collect()
    });
    EnrichedArticle {
        schema: ENRICHED_SCHEMA.to_owned(),
        id: doc.id.clone(),
        revision: doc.revision.clone(),
        url: doc.url.clone(),
        source: raw.source.clone(),
        title: doc.title.clone(),
        byline: doc.byline.clone(),
        published_at: doc.published_at.clone(),
        lang: doc.lang.clone(),
        lang_confidence: doc.lang_confidence,
        lang_source: doc.lang_source.map(|s| s.as_str().to_owned()),
        lang_detected: doc.lang_detected.clone(),
        page: doc.page.clone(),
        meta: raw.meta.clone(),
        text: doc.text.clone(),
        removed: parts.cleaned.then(|| {
            doc.removed
                .iter()
                .map(|r| RemovedOut {
                    kind: r.kind.to_owned(),
                    text: r.text.clone(),
                })
                .collect()
        }),
        dateline: doc.dateline.map(|d| offsets.span(d.start, d.end)),
        source_offsets: doc.source_map.as_ref().map(|map| {
            map.alignments()
                .iter()
                .map(|a| SourceOffsetOut {
                    start: offsets.char_of(a.text.start),
                    end: offsets.char_of(a.text.end),
                    source_start: a.source_char_start,
                    source_end: a.source_char_end,
                    verbatim: a.verbatim,
                })
                .collect()
        }),
        paragraphs: parts.segmented.then(|| {
            doc.paragraphs
                .iter()
                .map(|p| offsets.span(p.start, p.end))
                .collect()
        }),
        sentences: parts.segmented.then(|| {
            doc.sentences
                .iter()
                .map(|s| {
                    let span = offsets.span(s.span.start, s.span.end);
                    SentenceOut {
                        start: span.start,
                        end: span.end,
                        paragraph: s.paragraph,
                    }
                })
                .collect()
        }),
        tokens: parts.tokens.then(|| {
            doc.tokens
                .iter()
                .map(|t| {
                    let span = offsets.span(t.span.start, t.span.end);
                    TokenOut {
                        start: span.start,
                        end: span.end,
                        ws: t.ws,
                        norm: t.norm.as_deref().map(str::to_owned),
                    }
                })
                .collect()
        }),
        entities,
        clusters,
        quotes,
        skipped: doc
            .skipped
            .iter()
            .map(|s| SkippedOut {
                stage: s.stage.to_owned(),
                reason: s.reason.clone(),
            })
            .collect(),
        processing: Processing {
            lede_version: env!("CARGO_PKG_VERSION").to_owned(),
            model: model.map(str::to_owned),
            stages: timings
                .iter()
                .map(|t| StageTimeOut {
                    stage: t.stage.to_owned(),
                    micros: t.micros,
                })
                .collect(),
        },
        // Appended by `assign_story` once the shared index has answered.
        story: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{Entity, Skip, Span};

    #[test]
    fn record_spans_slice_the_text_in_code_points() {
        let raw = RawArticle::decode("Iran’s minister met Hatami in Baghdad.".as_bytes(), 1 << 20)
            .unwrap();
        let mut doc = document(&mut raw.clone());
        let start = doc.text.find("Baghdad").unwrap();
        doc.entities.push(Entity {
            span: Span::new(start, start + "Baghdad".len()),
            label: Label::Gpe,
            model_label: None,
            sentence: None,
            cluster: None,
            title: None,
        });
        let parts = Parts {
            entities: true,
            ..Parts::default()
        };
        let record = encode(&doc, &raw, parts, None, &[]);
        let e = &record.entities.as_ref().unwrap()[0];
        let chars: Vec<char> = record.text.chars().collect();
        let sliced: String = chars[e.start..e.end].iter().collect();
        assert_eq!(sliced, "Baghdad");
        assert_eq!(e.text, "Baghdad");
        assert!(record.paragraphs.is_none(), "segment did not run");
        assert_eq!(record.schema, ENRICHED_SCHEMA);

        doc.skipped.push(Skip {
            stage: "entities",
            reason: "language \"de\" is not supported by the entity model".into(),
        });
        let skipped = encode(&doc, &raw, parts, None, &[]);
        assert!(skipped.entities.is_none() && skipped.clusters.is_none());
        assert_eq!(skipped.skipped[0].stage, "entities");
    }
}
