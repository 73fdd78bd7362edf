//! lede: a streaming NLP worker for news.
//!
//! Raw articles (scraped text or whole HTML pages) arrive on a NATS subject; each goes through
//! the synchronous stages of a [`pipeline::Pipeline`] — clean, story (opt-in), segment,
//! entities, quotes — and comes out
//! as an [`record::EnrichedArticle`] on the output subject. Rejects go to a dead-letter subject
//! with their reason.
//!
//! ```text
//! NATS articles.raw ──► transport (JetStream pull consumer, ack after output stored)
//!                         │  decode RawArticle (bad → DLQ + Term)
//!                         ▼
//!                  Runner: exactly --threads stage threads, the only place stages run
//!                  Pipeline (sync stages, span per stage, --deadline, --max-tokens)
//!                  clean ──► [story (signature), opt-in] ──► segment ──► entities ──► quotes
//!                         │  encode EnrichedArticle
//!                         ▼
//!                  story step (async, with the story stage): the key ◄──► JetStream KV
//!                         │
//!                         ▼
//!       articles.enriched (Nats-Msg-Id = id:revision)   articles.dlq (with Lede-Error)
//! ```
//!
//! Modules: [`record`] (wire formats), [`pipeline`] (stages), [`enrich`] (the per-message
//! path between them), [`runner`] (the fixed stage pool), [`config`] (flags and env),
//! [`transport`] (NATS), [`security`] (NATS credentials and TLS), [`process`] (the embedded mode without a broker), [`telemetry`].

pub mod bench;
pub mod config;
pub mod enrich;
pub mod eval;
pub mod http;
pub mod input;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod process;
pub mod record;
pub mod runner;
pub mod security;
pub mod telemetry;
pub mod transport;
