//! Health, readiness and Prometheus metrics: the HTTP side every worker exposes for ops and orchestrators.
//!
//! `/health` answers while the process runs; `/ready` answers 503 while the replica cannot do its work
//! (the database unreachable as last probed, the NATS connection down, or one of its tasks ended), so
//! a load balancer or Kubernetes stops sending it work; `/metrics` is the Prometheus text format.
//! Readiness reads state the replica keeps current ([`crate::readiness`]), so it answers at once even
//! while the database hangs.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use crate::readiness::Readiness;

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide metrics recorder once; later calls (several workers in one test process)
/// reuse it.
pub fn metrics_handle() -> Option<PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}

/// What readiness depends on.
#[derive(Clone)]
pub struct OpsState {
    pub service: &'static str,
    pub readiness: Readiness,
    pub nats: async_nats::Client,
}

pub fn router(state: OpsState) -> Router {
    let handle = metrics_handle();
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/ready", get(ready))
        .route(
            "/metrics",
            get(move || {
                let handle = handle.clone();
                async move {
                    match handle {
                        Some(h) => (StatusCode::OK, h.render()),
                        None => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "metrics recorder unavailable".into(),
                        ),
                    }
                }
            }),
        )
        .with_state(state)
}

async fn ready(State(state): State<OpsState>) -> (StatusCode, Json<serde_json::Value>) {
    let db = state.readiness.database.is_up();
    let nats = matches!(
        state.nats.connection_state(),
        async_nats::connection::State::Connected
    );
    let failed_task = state.readiness.failed_task();
    let status = if db && nats && failed_task.is_none() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "service": state.service,
            "database": db,
            "nats": nats,
            "tasks": failed_task.is_none(),
            "failed_task": failed_task,
        })),
    )
}
