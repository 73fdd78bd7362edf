//! One configuration, from flags and `LEDE_*` environment variables, validated at start-up.
//!
//! Every flag has an environment variable (12-factor); defaults are the named constants below.
//! Bad values fail before anything connects, with a message that says what to change.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::pipeline::StageOptions;

/// Default NATS server.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// Subject raw articles arrive on.
pub const DEFAULT_INPUT_SUBJECT: &str = "articles.raw";
/// Subject enriched records go to.
pub const DEFAULT_OUTPUT_SUBJECT: &str = "articles.enriched";
/// Subject rejected articles go to.
pub const DEFAULT_DLQ_SUBJECT: &str = "articles.dlq";
/// JetStream stream over the input subject.
pub const DEFAULT_INPUT_STREAM: &str = "ARTICLES";
/// JetStream stream over the output subject.
pub const DEFAULT_OUTPUT_STREAM: &str = "ARTICLES_ENRICHED";
/// JetStream stream over the dead-letter subject.
pub const DEFAULT_DLQ_STREAM: &str = "ARTICLES_DLQ";
/// The durable consumer every replica shares.
pub const DEFAULT_CONSUMER: &str = "lede";
/// Default spaCy pipeline directory (made by `scripts/fetch-model.sh`).
pub const DEFAULT_MODEL_DIR: &str = "models/en_core_web_sm-3.8.0";
/// Articles one worker holds un-acked at once.
pub const DEFAULT_IN_FLIGHT: usize = 64;
/// Delivery attempts before an article goes to the DLQ.
pub const DEFAULT_MAX_DELIVER: i64 = 5;
/// Time the server waits for an ack (progress acks extend it while a stage runs).
pub const DEFAULT_ACK_WAIT: &str = "30s";
/// Un-acked messages the consumer allows across **all** replicas.
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1024;
/// How long the output stream remembers `Nats-Msg-Id`s to drop duplicate records.
pub const DEFAULT_DUPLICATE_WINDOW: &str = "20m";
/// How long start-up retries reaching NATS and binding the streams and consumer through
/// transient errors (nothing listening yet, timeouts, a cluster electing a leader).
pub const DEFAULT_STARTUP_TIMEOUT: &str = "60s";
/// Replicas of the streams `--ensure-streams` creates (3 on a 3-node cluster).
pub const DEFAULT_STREAM_REPLICAS: u16 = 1;
/// Time SIGTERM leaves in-flight articles to finish.
pub const DEFAULT_SHUTDOWN_TIMEOUT: &str = "20s";
/// What `lede healthcheck` probes: the liveness endpoint at the images' `LEDE_HTTP_ADDR`.
pub const DEFAULT_HEALTHCHECK_URL: &str = "http://127.0.0.1:8080/healthz";
/// Whether entities are kept inside lede's own sentences by default (measured: README "Entities").
pub const DEFAULT_ENTITY_SENTENCE_BOUNDS: bool = true;
/// Largest payload accepted; larger ones are dead-lettered.
pub const DEFAULT_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Time budget of one article through every stage.
pub const DEFAULT_DEADLINE: &str = "60s";
/// Most tokens one article may have; more is dead-lettered as `too_large` (README "Hostile
/// input and limits" gives the memory this bounds).
pub const DEFAULT_MAX_TOKENS: usize = 1_000_000;
/// The stages run by default, as `--stages` takes them (`pipeline::default_stages`, joined).
pub const DEFAULT_STAGES: &str = "clean,segment,entities,quotes";
/// JetStream KV bucket of the story index.
pub const DEFAULT_STORY_BUCKET: &str = "LEDE_STORIES";
/// How long the story index remembers an article: copies further apart start a new story.
pub const DEFAULT_STORY_WINDOW: &str = "72h";

/// lede: a streaming NLP worker for news.
#[derive(Debug, Parser)]
#[command(name = "lede", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, env = "LEDE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,
    /// Export trace spans over OTLP/HTTP to this collector (e.g. `http://otel-collector:4318`);
    /// off when unset.
    #[arg(long, env = "LEDE_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per event.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // Parsed once at start-up.
pub enum Command {
    /// Run the long-lived NATS worker.
    Worker(WorkerArgs),
    /// Enrich raw articles from files or stdin without a broker (JSONL in, JSONL out).
    Process(ProcessArgs),
    /// Publish raw articles to the input subject through JetStream.
    Publish(PublishArgs),
    /// Measure articles/s through a local broker and through `lede process`.
    Bench(BenchArgs),
    /// Print records of the output (or dead-letter) stream, from the start, as JSONL.
    Tail(TailArgs),
    /// Print an evaluation report (accuracy against the shared gold data).
    Eval(EvalArgs),
    /// Exit 0 when a worker's HTTP endpoint answers 200 (a container HEALTHCHECK).
    Healthcheck(HealthcheckArgs),
}

/// Which stages run and how.
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    /// Comma-separated stages, in order (empty: none).
    #[arg(long, env = "LEDE_STAGES", value_delimiter = ',', default_value = DEFAULT_STAGES)]
    pub stages: Vec<String>,
    /// spaCy pipeline directory (run scripts/fetch-model.sh to get it).
    #[arg(long, env = "LEDE_MODEL", default_value = DEFAULT_MODEL_DIR)]
    pub model: PathBuf,
    /// Put tokens in the records (bulky).
    #[arg(long, env = "LEDE_TOKENS")]
    pub tokens: bool,
    /// Output the model's entities only: no titles, clusters or label fixes.
    #[arg(long, env = "LEDE_NO_ENTITY_RULES")]
    pub no_entity_rules: bool,
    /// Keep entities inside lede's sentences (spaCy's full-pipeline rule; see README "Entities").
    #[arg(long, env = "LEDE_ENTITY_SENTENCE_BOUNDS", default_value_t = DEFAULT_ENTITY_SENTENCE_BOUNDS, action = clap::ArgAction::Set)]
    pub entity_sentence_bounds: bool,
    /// Fold curly quotes and dashes while cleaning.
    #[arg(long, env = "LEDE_NORMALIZE_PUNCTUATION")]
    pub normalize_punctuation: bool,
    /// Put `source_offsets` in the records: where each stretch of the cleaned text came from.
    #[arg(long, env = "LEDE_SOURCE_OFFSETS")]
    pub source_offsets: bool,
    /// Sleep of the `delay` stage (fault injection), e.g. `200ms`.
    #[arg(long, env = "LEDE_DELAY", value_parser = humantime::parse_duration, default_value = "0s")]
    pub delay: Duration,
    /// Time budget per article: one still running after it is rejected as
    /// `deadline_exceeded`, like any bad article (checked between stages; `0s`: none).
    #[arg(long, env = "LEDE_DEADLINE", value_parser = humantime::parse_duration, default_value = DEFAULT_DEADLINE)]
    pub deadline: Duration,
    /// Most tokens an article may have: one with more is rejected as `too_large` (the
    /// memory of an article grows with its tokens; `0`: no limit).
    #[arg(long, env = "LEDE_MAX_TOKENS", default_value_t = DEFAULT_MAX_TOKENS)]
    pub max_tokens: usize,
}

impl PipelineArgs {
    /// The stage names, with blanks dropped (`--stages ''` means none).
    pub fn stage_names(&self) -> Vec<String> {
        self.stages
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// The settings the stages are built from.
    pub fn stage_options(&self) -> StageOptions {
        StageOptions {
            model_dir: Some(self.model.clone()),
            tokens: self.tokens,
            entity_rules: !self.no_entity_rules,
            normalize_punctuation: self.normalize_punctuation,
            entity_sentence_bounds: self.entity_sentence_bounds && !self.no_entity_rules,
            source_offsets: self.source_offsets,
            delay: self.delay,
            deadline: Some(self.deadline).filter(|d| !d.is_zero()),
            max_tokens: Some(self.max_tokens).filter(|n| *n > 0),
        }
    }
}

/// Where the broker is.
#[derive(Debug, Clone, Args)]
pub struct NatsArgs {
    /// NATS server URL(s), comma-separated: every node of a cluster, e.g.
    /// `nats://n1:4222,nats://n2:4222,nats://n3:4222`.
    #[arg(long, env = "LEDE_NATS_URL", default_value = DEFAULT_NATS_URL)]
    pub nats_url: String,
    /// Create missing streams and the consumer (off: bind to what operations provisioned).
    #[arg(long, env = "LEDE_ENSURE_STREAMS", default_value_t = true, action = clap::ArgAction::Set)]
    pub ensure_streams: bool,
    /// Replicas of the streams --ensure-streams creates (1..=5; 3 on a 3-node cluster).
    #[arg(long, env = "LEDE_STREAM_REPLICAS", default_value_t = DEFAULT_STREAM_REPLICAS, value_parser = clap::value_parser!(u16).range(1..=5))]
    pub stream_replicas: u16,
    /// How long start-up retries connecting and binding through transient errors (timeouts,
    /// no responders, a leader election) before it gives up; readiness says why meanwhile.
    #[arg(long, env = "LEDE_STARTUP_TIMEOUT", value_parser = humantime::parse_duration, default_value = DEFAULT_STARTUP_TIMEOUT)]
    pub startup_timeout: Duration,
    /// Subject raw articles arrive on.
    #[arg(long, env = "LEDE_INPUT_SUBJECT", default_value = DEFAULT_INPUT_SUBJECT)]
    pub input_subject: String,
    /// Subject enriched records go to.
    #[arg(long, env = "LEDE_OUTPUT_SUBJECT", default_value = DEFAULT_OUTPUT_SUBJECT)]
    pub output_subject: String,
    /// Subject rejected articles go to.
    #[arg(long, env = "LEDE_DLQ_SUBJECT", default_value = DEFAULT_DLQ_SUBJECT)]
    pub dlq_subject: String,
    /// Stream over the input subject.
    #[arg(long, env = "LEDE_INPUT_STREAM", default_value = DEFAULT_INPUT_STREAM)]
    pub input_stream: String,
    /// Stream over the output subject.
    #[arg(long, env = "LEDE_OUTPUT_STREAM", default_value = DEFAULT_OUTPUT_STREAM)]
    pub output_stream: String,
    /// Stream over the dead-letter subject.
    #[arg(long, env = "LEDE_DLQ_STREAM", default_value = DEFAULT_DLQ_STREAM)]
    pub dlq_stream: String,
    /// How long the output and DLQ streams drop repeated `Nats-Msg-Id`s.
    #[arg(long, env = "LEDE_DUPLICATE_WINDOW", value_parser = humantime::parse_duration, default_value = DEFAULT_DUPLICATE_WINDOW)]
    pub duplicate_window: Duration,
    /// JetStream KV bucket of the story index (shared by every replica).
    #[arg(long, env = "LEDE_STORY_BUCKET", default_value = DEFAULT_STORY_BUCKET)]
    pub story_bucket: String,
    /// How long the story index keeps an article (the bucket's TTL, set when it is created).
    #[arg(long, env = "LEDE_STORY_WINDOW", value_parser = humantime::parse_duration, default_value = DEFAULT_STORY_WINDOW)]
    pub story_window: Duration,
    /// Authentication and TLS (secrets from env or files only).
    #[command(flatten)]
    pub security: crate::security::SecurityArgs,
}

/// How the worker receives articles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportKind {
    /// JetStream durable pull consumer: at-least-once in, effectively-once out.
    Jetstream,
    /// Core NATS queue group: at-most-once, lowest latency, nothing persisted.
    Core,
}

/// `lede worker`.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Broker settings.
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Pipeline settings.
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// JetStream (durable, at-least-once) or core NATS (queue group, at-most-once).
    #[arg(long, env = "LEDE_TRANSPORT", value_enum, default_value_t = TransportKind::Jetstream)]
    pub transport: TransportKind,
    /// Durable consumer shared by every replica.
    #[arg(long, env = "LEDE_CONSUMER", default_value = DEFAULT_CONSUMER)]
    pub consumer: String,
    /// Queue group of the core transport.
    #[arg(long, env = "LEDE_QUEUE_GROUP", default_value = DEFAULT_CONSUMER)]
    pub queue_group: String,
    /// Articles this worker holds at once (pulled, processing or publishing).
    #[arg(long, env = "LEDE_IN_FLIGHT", default_value_t = DEFAULT_IN_FLIGHT)]
    pub in_flight: usize,
    /// Articles processed on CPU at once (default: the number of cores).
    #[arg(long, env = "LEDE_THREADS")]
    pub threads: Option<usize>,
    /// Delivery attempts before an article is dead-lettered.
    #[arg(long, env = "LEDE_MAX_DELIVER", default_value_t = DEFAULT_MAX_DELIVER)]
    pub max_deliver: i64,
    /// Ack wait of the consumer; progress acks extend it while stages run.
    #[arg(long, env = "LEDE_ACK_WAIT", value_parser = humantime::parse_duration, default_value = DEFAULT_ACK_WAIT)]
    pub ack_wait: Duration,
    /// Un-acked messages allowed across all replicas (≥ replicas × --in-flight).
    #[arg(long, env = "LEDE_MAX_ACK_PENDING", default_value_t = DEFAULT_MAX_ACK_PENDING)]
    pub max_ack_pending: i64,
    /// Time SIGTERM leaves in-flight articles to finish before they are nak'ed.
    #[arg(long, env = "LEDE_SHUTDOWN_TIMEOUT", value_parser = humantime::parse_duration, default_value = DEFAULT_SHUTDOWN_TIMEOUT)]
    pub shutdown_timeout: Duration,
    /// Largest payload accepted (bytes); larger ones are dead-lettered.
    #[arg(long, env = "LEDE_MAX_BYTES", default_value_t = DEFAULT_MAX_BYTES)]
    pub max_bytes: usize,
    /// Serve /healthz, /readyz and /metrics on this address (e.g. `0.0.0.0:8080`); off when unset.
    #[arg(long, env = "LEDE_HTTP_ADDR")]
    pub http_addr: Option<std::net::SocketAddr>,
}

/// `lede healthcheck`.
#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// The URL to probe.
    #[arg(long, env = "LEDE_HEALTHCHECK_URL", default_value = DEFAULT_HEALTHCHECK_URL)]
    pub url: String,
    /// Give up after this long.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "3s")]
    pub timeout: Duration,
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value is out of range.
    #[error("{flag}: {message}")]
    Invalid {
        /// The flag (and env var).
        flag: &'static str,
        /// What to change.
        message: String,
    },
}

impl WorkerArgs {
    /// Checks values that clap cannot.
    ///
    /// # Errors
    /// [`ConfigError`] naming the flag to change.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.in_flight == 0 {
            return Err(ConfigError::Invalid {
                flag: "--in-flight (LEDE_IN_FLIGHT)",
                message: "must be at least 1".into(),
            });
        }
        if self.threads == Some(0) {
            return Err(ConfigError::Invalid {
                flag: "--threads (LEDE_THREADS)",
                message: "must be at least 1".into(),
            });
        }
        if self.max_deliver < 1 {
            return Err(ConfigError::Invalid {
                flag: "--max-deliver (LEDE_MAX_DELIVER)",
                message: "must be at least 1 (the server's default is unlimited redelivery)".into(),
            });
        }
        if self.ack_wait < Duration::from_secs(1) {
            return Err(ConfigError::Invalid {
                flag: "--ack-wait (LEDE_ACK_WAIT)",
                message: "must be at least 1s".into(),
            });
        }
        if self.max_ack_pending < i64::try_from(self.in_flight).unwrap_or(i64::MAX) {
            return Err(ConfigError::Invalid {
                flag: "--max-ack-pending (LEDE_MAX_ACK_PENDING)",
                message: format!(
                    "{} is below --in-flight {}: the consumer would starve this worker; size it as replicas × in-flight",
                    self.max_ack_pending, self.in_flight
                ),
            });
        }
        Ok(())
    }

    /// CPU threads: `--threads` or the number of cores.
    pub fn cpu_threads(&self) -> usize {
        self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
    }
}

/// `lede process`.
#[derive(Debug, Clone, Args)]
pub struct ProcessArgs {
    /// Raw-article JSONL files (a `.txt` file is one article); stdin when none.
    pub files: Vec<PathBuf>,
    /// Pipeline settings.
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Worker threads (default: the number of cores).
    #[arg(long, env = "LEDE_THREADS")]
    pub threads: Option<usize>,
    /// Largest article accepted (bytes).
    #[arg(long, env = "LEDE_MAX_BYTES", default_value_t = DEFAULT_MAX_BYTES)]
    pub max_bytes: usize,
}

/// `lede publish`.
#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// Raw-article JSONL files (a `.txt` file is one article); stdin when none.
    pub files: Vec<PathBuf>,
    /// Broker settings.
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Publishes awaiting their ack at once.
    #[arg(long, env = "LEDE_PUBLISH_WINDOW", default_value_t = 256)]
    pub window: usize,
}

/// `lede bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Raw-article JSONL corpus (default: synthetic 5 KB articles).
    pub corpus: Option<PathBuf>,
    /// NATS server URL of a local broker to measure through.
    #[arg(long, env = "LEDE_NATS_URL", default_value = DEFAULT_NATS_URL)]
    pub nats_url: String,
    /// Articles of the transport measurement (no stages).
    #[arg(long, default_value_t = 20_000)]
    pub articles: usize,
    /// Articles of the measurements with stages.
    #[arg(long, default_value_t = 1_000)]
    pub stage_articles: usize,
    /// Articles in flight in the worker.
    #[arg(long, default_value_t = DEFAULT_IN_FLIGHT)]
    pub in_flight: usize,
    /// Pipeline settings of the "all stages" measurement.
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

/// `lede tail`.
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// Broker settings.
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Read the dead-letter stream instead (prints each error with its payload).
    #[arg(long)]
    pub dlq: bool,
    /// Stop after this many records (default: what the stream holds now).
    #[arg(long)]
    pub count: Option<usize>,
    /// Give up waiting for records after this long.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    pub timeout: Duration,
}

/// `lede eval`.
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// What to evaluate (`lede eval --help` lists them): one of the `eval` module's topics.
    pub topic: String,
    /// The shared data folder (gold files).
    #[arg(long, env = "LEDE_DATA_DIR", default_value = "../shared/data")]
    pub data_dir: PathBuf,
    /// spaCy pipeline directory.
    #[arg(long, env = "LEDE_MODEL", default_value = DEFAULT_MODEL_DIR)]
    pub model: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typed_stages_default_is_the_pipelines() {
        assert_eq!(DEFAULT_STAGES, crate::pipeline::default_stages().join(","));
    }
}
