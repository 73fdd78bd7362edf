//! The per-message logic: payload bytes in, an encoded record or a typed rejection out.
//!
//! Both transports and `lede process` call [`enrich_payload`]; it is tested without a broker.

use crate::pipeline::{Label, Pipeline, PipelineError, StageTiming};
use crate::record::{DecodeError, RawArticle};

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
    let raw = RawArticle::decode(payload, max_bytes)?;
    tracing::Span::current().record("id", raw.id.as_str());
    let record = pipeline
        .enrich(&raw)
        .map_err(|e| Rejection::from_pipeline(&raw.id, &e))?;
    // Read back from the record rather than re-run: the stage names are the pipeline's own
    // `&'static str`s, so recording a histogram allocates nothing.
    let names = pipeline.names();
    let timings = record
        .processing
        .stages
        .iter()
        .filter_map(|t| {
            let stage = names.iter().find(|n| **n == t.stage)?;
            Some(StageTiming {
                stage,
                micros: t.micros,
            })
        })
        .collect();
    let entity_labels = record
        .entities
        .iter()
        .flatten()
        .filter_map(|e| Label::parse(&e.label))
        .collect();
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
    })
}
