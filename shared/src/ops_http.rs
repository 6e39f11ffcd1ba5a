//! Health, readiness and Prometheus metrics: the HTTP side every worker exposes for ops and orchestrators.
//!
//! `/health` answers while the process runs; `/ready` checks the database and NATS connection so a load
//! balancer or Kubernetes stops sending work to a replica that lost either; `/metrics` is the Prometheus
//! text format.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use sqlx::PgPool;

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
    pub pool: PgPool,
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
    let db = sqlx::query_scalar::<_, i32>("select 1")
        .fetch_one(&state.pool)
        .await
        .is_ok();
    let nats = matches!(
        state.nats.connection_state(),
        async_nats::connection::State::Connected
    );
    let status = if db && nats {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({"service": state.service, "database": db, "nats": nats})),
    )
}
