//! Logging and tracing set-up: one subscriber, pretty or JSON, filtered by `RUST_LOG`.
//!
//! Span names and fields are fixed so logs can be queried: `article` (id, subject, bytes,
//! delivery, trace_id), `stage` (name), `publish` (subject). Per-article events are DEBUG,
//! lifecycle events INFO.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogFormat;

/// The filter when `RUST_LOG` is unset.
const DEFAULT_FILTER: &str = "info,async_nats=warn";

/// Installs the global subscriber, writing to stderr (stdout carries `lede process` output).
///
/// # Errors
/// When a subscriber is already installed.
pub fn init(format: LogFormat) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::NONE);
    match format {
        LogFormat::Pretty => builder.compact().try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    }
}
