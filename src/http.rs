//! The worker's HTTP endpoints (`--http-addr`): `/healthz`, `/readyz` and `/metrics`.
//!
//! - `GET /healthz`: 200 while the process serves requests at all (liveness: restart me if not).
//! - `GET /readyz`: 200 when the client is connected to NATS, the consumer (or queue-group
//!   subscription) is bound, and the worker is not shutting down; 503 with the reason otherwise
//!   (readiness: the orchestrator waits, a rolling update holds, nothing is restarted).
//! - `GET /metrics`: the Prometheus text format ([`crate::metrics`]).
//!
//! axum because it is tokio's own small HTTP framework over hyper, already in the dependency
//! tree's family, and its `Router` can be served by tests on any listener.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

/// The worker's readiness, shared between the worker wiring (which sets it) and `/readyz`.
#[derive(Debug, Default)]
pub struct Health {
    client: OnceLock<async_nats::Client>,
    bound: AtomicBool,
    stopping: AtomicBool,
    /// What start-up is waiting for (a stream during a leader election, say).
    waiting: Mutex<Option<String>>,
}

impl Health {
    /// A new handle: not ready until [`Health::set_client`] and [`Health::set_bound`].
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The NATS client whose connection state readiness follows.
    pub fn set_client(&self, client: async_nats::Client) {
        // Set once at start-up; a second call keeps the first client.
        let _ = self.client.set(client);
    }

    /// The consumer (or subscription) is bound: the worker can take articles.
    pub fn set_bound(&self) {
        self.bound.store(true, Ordering::Release);
        self.set_waiting(None);
    }

    /// What start-up is waiting for, shown by `/readyz` until the consumer is bound.
    pub fn set_waiting(&self, reason: Option<String>) {
        if let Ok(mut waiting) = self.waiting.lock() {
            *waiting = reason;
        }
    }

    /// Shutdown started: the worker takes no more articles.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// `Ok` when ready, else why not.
    ///
    /// # Errors
    /// A sentence naming what is missing.
    pub fn ready(&self) -> Result<(), String> {
        if self.stopping.load(Ordering::Acquire) {
            return Err("shutting down".into());
        }
        let waiting = self.waiting.lock().ok().and_then(|w| w.clone());
        match self.client.get().map(async_nats::Client::connection_state) {
            None => return Err(waiting.unwrap_or_else(|| "not connected to NATS yet".into())),
            Some(async_nats::connection::State::Connected) => {}
            Some(_) => return Err("disconnected from NATS".into()),
        }
        if !self.bound.load(Ordering::Acquire) {
            return Err(waiting.unwrap_or_else(|| "consumer not bound yet".into()));
        }
        Ok(())
    }
}

#[derive(Clone)]
struct AppState {
    health: Arc<Health>,
    metrics: Option<PrometheusHandle>,
}

/// The routes: `/healthz`, `/readyz`, and `/metrics` when a recorder handle is given.
pub fn router(health: Arc<Health>, metrics: Option<PrometheusHandle>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(AppState { health, metrics })
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.health.ready() {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    match state.metrics {
        Some(handle) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        ),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain")],
            "no metrics recorder installed\n".to_owned(),
        ),
    }
}

/// Serves `router` on `listener` until `stop` is cancelled.
///
/// # Errors
/// When accepting connections fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    stop: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_ready_without_a_client_or_while_stopping() {
        let h = Health::new();
        assert_eq!(h.ready(), Err("not connected to NATS yet".into()));
        h.set_waiting(Some(
            "waiting for NATS at nats://x:1: connection refused".into(),
        ));
        assert_eq!(
            h.ready(),
            Err("waiting for NATS at nats://x:1: connection refused".into()),
            "the reason start-up waits is what readiness says"
        );
        h.set_bound();
        assert_eq!(h.ready(), Err("not connected to NATS yet".into()));
        h.set_stopping();
        assert_eq!(h.ready(), Err("shutting down".into()));
    }
}
