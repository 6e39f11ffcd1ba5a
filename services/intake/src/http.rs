//! `POST /v1/feedback`: the web form's way in, on the same schema and checks as the bus. The client IP is
//! recorded from the connection (or `X-Forwarded-For` behind a trusted proxy).

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};
use shared::messages::feedback::RejectReason;

use crate::settings::IntakeSettings;
use crate::group_commit::GroupCommit;
use crate::store::{Received, Registered};
use crate::validate::parse_submission;

#[derive(Clone)]
pub struct FormState {
    /// Registers each submission together with the others arriving at the same moment.
    pub commits: GroupCommit,
    pub settings: IntakeSettings,
}

pub fn router(state: FormState) -> Router {
    // Bodies up to 16x the limit are read so an oversized one can still be stored (truncated) and answered
    // with a clear error; beyond that the connection is refused outright.
    let hard_limit = state.settings.max_payload_bytes.saturating_mul(16);
    Router::new()
        .route("/v1/feedback", post(submit))
        .layer(DefaultBodyLimit::max(hard_limit))
        .with_state(state)
}

async fn submit(
    State(state): State<FormState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arriving = state.commits.arriving();
    let now = Utc::now();
    let client_ip = client_ip(&headers, peer, state.settings.trust_forwarded_for);
    let parsed = parse_submission(&body, "form", now, &state.settings).map(|mut s| {
        // The form's IP is what the server saw, never what the body claims.
        s.client_ip = Some(client_ip.clone());
        s
    });
    let item = Received {
        raw: body.to_vec(),
        source: format!("http:{client_ip}"),
        received_at: now,
        parsed,
    };
    match state.commits.register(item, arriving).await {
        Ok(registered) => match registered {
            Registered::Created {
                ticket_id,
                ticket_no,
                likely_duplicate_of,
            } => (
                StatusCode::CREATED,
                Json(json!({
                    "ticket_id": ticket_id,
                    "ticket_no": ticket_no,
                    "already_registered": false,
                    "likely_duplicate_of": likely_duplicate_of,
                })),
            )
                .into_response(),
            Registered::AlreadyRegistered { ticket_id, ticket_no } => (
                StatusCode::OK,
                Json(json!({"ticket_id": ticket_id, "ticket_no": ticket_no, "already_registered": true})),
            )
                .into_response(),
            Registered::Rejected {
                rejection_id,
                rejection,
            } => {
                let status = match rejection.reason {
                    RejectReason::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                    RejectReason::MalformedJson | RejectReason::InvalidUtf8 => StatusCode::BAD_REQUEST,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                (
                    status,
                    Json(json!({
                        "error": {
                            "code": rejection.reason.as_str(),
                            "field": rejection.field,
                            "message": rejection.message,
                        },
                        "rejection_id": rejection_id,
                    })),
                )
                    .into_response()
            }
        },
        Err(e) => {
            tracing::error!(error = %e, "form submission could not be stored");
            internal_error("the submission could not be stored; retry with the same external_id")
        }
    }
}

fn client_ip(headers: &HeaderMap, peer: SocketAddr, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for {
        if let Some(first) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
        {
            return first.to_string();
        }
    }
    peer.ip().to_string()
}

fn internal_error(message: &str) -> Response {
    let body: Value = json!({"error": {"code": "unavailable", "message": message}});
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}
