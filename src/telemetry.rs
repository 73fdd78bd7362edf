//! Logging and tracing set-up: one subscriber, pretty or JSON, filtered by `RUST_LOG`, and
//! optionally OpenTelemetry trace export over OTLP/HTTP (`--otlp-endpoint`).
//!
//! Logs go to stderr: colour only when stderr is a terminal and `NO_COLOR` is unset or empty
//! (<https://no-color.org>), so a file or a pipe gets plain text; JSON logs are one object per
//! line and never coloured. The error that ends the process is reported once ([`Telemetry::fatal`]).
//!
//! Span names and fields are fixed so logs can be queried: `article` (id, subject, bytes,
//! delivery, trace_id), `stage` (name), `publish` (subject). Per-article events are DEBUG,
//! lifecycle events INFO.
//!
//! Trace export uses `tracing-opentelemetry` (the tracing project's own bridge) with the
//! OpenTelemetry SDK's batch processor and the OTLP/HTTP protobuf exporter, so lede's existing
//! spans become OpenTelemetry spans without a second instrumentation. The W3C `traceparent`
//! lede already parses ([`crate::transport::trace`]) becomes the remote parent of the
//! `article` span ([`continue_trace`]), and the `traceparent` lede puts on its outputs names the
//! exported span, so a trace runs producer → lede → downstream consumer in the back end.

use std::ffi::OsStr;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, filter};

use crate::config::LogFormat;
use crate::transport::trace::TraceParent;

/// The filter when `RUST_LOG` is unset.
const DEFAULT_FILTER: &str = "info,async_nats=warn";
/// The OpenTelemetry `service.name` unless `OTEL_SERVICE_NAME` says otherwise.
const SERVICE_NAME: &str = "lede";
/// How long exiting waits for the last spans to be exported.
const EXPORT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one export request may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// True once an OpenTelemetry layer is installed ([`continue_trace`] then asks it for ids).
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// What [`init`] set up; [`Telemetry::shutdown`] flushes exported spans before exit.
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    format: LogFormat,
}

impl Telemetry {
    /// Reports the error that ends the process, once: with JSON logs as one ERROR event (so
    /// every stderr line stays a JSON object), otherwise as one `error: …` line. Both carry
    /// the whole cause chain the caller formats into `error`.
    pub fn fatal(&self, error: &dyn std::fmt::Display) {
        if self.format == LogFormat::Json && tracing::enabled!(tracing::Level::ERROR) {
            tracing::error!(error = %error, "Exiting on error");
        } else {
            eprintln!("error: {error}");
        }
    }

    /// Exports the spans still buffered (bounded by a timeout). Call it outside the runtime,
    /// after the work is done.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown_with_timeout(EXPORT_SHUTDOWN_TIMEOUT)
        {
            eprintln!("warning: exporting the last spans failed: {e}");
        }
    }
}

/// Why telemetry could not be set up.
pub type InitError = Box<dyn std::error::Error + Send + Sync>;

/// Installs the global subscriber, writing to stderr (stdout carries `lede process` output),
/// and, with `otlp_endpoint`, an OpenTelemetry layer exporting spans to
/// `<endpoint>/v1/traces` (OTLP/HTTP protobuf; a URL already ending in `/v1/traces` is used
/// as is). Call it before any async runtime starts.
///
/// # Errors
/// When a subscriber is already installed or the endpoint is not a URL.
pub fn init(format: LogFormat, otlp_endpoint: Option<&str>) -> Result<Telemetry, InitError> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::NONE);
    let ansi = colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let fmt = match format {
        LogFormat::Pretty => fmt.compact().with_ansi(ansi).with_filter(filter).boxed(),
        LogFormat::Json => fmt
            .with_ansi(false)
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_filter(filter)
            .boxed(),
    };
    let Some(endpoint) = otlp_endpoint.filter(|e| !e.trim().is_empty()) else {
        tracing_subscriber::registry().with(fmt).try_init()?;
        return Ok(Telemetry {
            provider: None,
            format,
        });
    };
    let provider = tracer_provider(endpoint)?;
    let tracer = provider.tracer("lede");
    // lede's own spans at every level (`stage` and `publish` are DEBUG spans) whatever
    // RUST_LOG says for the logs; lede's INFO+ events become span events.
    let export_filter = filter::filter_fn(|meta| {
        meta.target().starts_with("lede")
            && (meta.is_span() || *meta.level() <= tracing::Level::INFO)
    });
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(export_filter);
    tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init()?;
    EXPORTING.store(true, Ordering::Release);
    Ok(Telemetry {
        provider: Some(provider),
        format,
    })
}

/// Whether log lines get ANSI colour: only on a terminal, and not when `NO_COLOR` is set to
/// anything but the empty string.
fn colour(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

fn tracer_provider(endpoint: &str) -> Result<SdkTracerProvider, InitError> {
    let endpoint = endpoint.trim().trim_end_matches('/');
    let url = if endpoint.ends_with("/v1/traces") {
        endpoint.to_owned()
    } else {
        format!("{endpoint}/v1/traces")
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .with_timeout(EXPORT_TIMEOUT)
        .build()?;
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| SERVICE_NAME.to_owned());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Makes `span` continue `parent` (the input's `traceparent`, if any) and returns the context
/// to put on lede's outputs.
///
/// When spans are exported, the parent becomes the remote parent of `span` and the returned
/// context names `span` itself, as exported (so the next consumer's span hangs under lede's).
/// Otherwise lede's context is a child of the parent (or a new root) with a fresh span id.
/// Either way `span`'s `trace_id` field is recorded.
pub fn continue_trace(span: &tracing::Span, parent: Option<TraceParent>) -> TraceParent {
    let context = exported_context(span, parent)
        .unwrap_or_else(|| parent.map_or_else(TraceParent::new_root, |p| p.child()));
    span.record("trace_id", context.trace_id_hex().as_str());
    context
}

fn exported_context(span: &tracing::Span, parent: Option<TraceParent>) -> Option<TraceParent> {
    if !EXPORTING.load(Ordering::Acquire) || span.is_disabled() {
        return None;
    }
    if let Some(p) = parent {
        let remote = SpanContext::new(
            TraceId::from_bytes(p.trace_id),
            SpanId::from_bytes(p.span_id),
            TraceFlags::new(p.flags),
            true,
            TraceState::default(),
        );
        // Fails only when the span was already started, which a fresh span is not.
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
    let cx = span.context();
    let own = cx.span().span_context().clone();
    own.is_valid().then(|| TraceParent {
        trace_id: own.trace_id().to_bytes(),
        span_id: own.span_id().to_bytes(),
        flags: own.trace_flags().to_u8(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(
            colour(true, Some(OsStr::new(""))),
            "an empty NO_COLOR is unset"
        );
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None), "a file or a pipe gets no escapes");
        assert!(!colour(false, Some(OsStr::new("1"))));
    }
}
