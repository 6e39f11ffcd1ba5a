//! `POST /v1/feedback`: the public web form's way in, on the same schema and checks as the bus.
//!
//! The form faces anyone on the internet, so it believes less than the bus (whose adapters are the
//! deployment's own integrations):
//! - the submit time is the server's receive time and the priority is the router's to decide; what the
//!   body says of either is ignored ([`Origin::PublicForm`]);
//! - the client IP is the connection's, or behind the configured trusted proxies the right-most
//!   untrusted `X-Forwarded-For` hop ([`shared::http::client_ip`]);
//! - the answer never names another ticket (no `likely_duplicate_of`), and a repeated `external_id`
//!   finds the earlier ticket only when the whole submission is repeated: the form's idempotency key is
//!   the external id bound to the submission's content ([`form_key`]), so guessing an id reveals
//!   nothing.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shared::http::TrustedProxies;
use shared::messages::feedback::{FeedbackSubmission, RejectReason};

use crate::group_commit::GroupCommit;
use crate::settings::IntakeSettings;
use crate::store::{Received, Registered};
use crate::validate::{parse_submission, Origin};

#[derive(Clone)]
pub struct FormState {
    /// Registers each submission together with the others arriving at the same moment.
    pub commits: GroupCommit,
    pub settings: IntakeSettings,
    /// Proxies whose `X-Forwarded-For` is believed (`http.trusted_proxies`).
    pub trusted_proxies: TrustedProxies,
}

pub fn router(state: FormState) -> Router {
    // Bodies up to 16x the limit are read so an oversized one can still be stored (truncated) and answered
    // with a clear error; beyond that the request is refused without being stored.
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
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let arriving = state.commits.arriving();
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return unread_body(rejection),
    };
    let now = Utc::now();
    let client_ip = shared::http::client_ip(&headers, peer.ip(), &state.trusted_proxies);
    let parsed =
        parse_submission(&body, "form", now, &state.settings, Origin::PublicForm).map(|mut s| {
            // The form's IP is what the server saw, never what the body claims.
            s.client_ip = Some(client_ip.to_string());
            s.external_id = form_key(&s);
            s
        });
    let item = Received {
        raw: body.to_vec(),
        source: format!("http:{client_ip}"),
        received_at: now,
        parsed,
    };
    match state.commits.register(item, arriving).await {
        Ok(Registered::Created {
            ticket_id,
            ticket_no,
            ..
        }) => (
            StatusCode::CREATED,
            Json(json!({
                "ticket_id": ticket_id,
                "ticket_no": ticket_no,
                "already_registered": false,
            })),
        )
            .into_response(),
        Ok(Registered::AlreadyRegistered {
            ticket_id,
            ticket_no,
        }) => (
            StatusCode::OK,
            Json(
                json!({"ticket_id": ticket_id, "ticket_no": ticket_no, "already_registered": true}),
            ),
        )
            .into_response(),
        Ok(Registered::Rejected {
            rejection_id,
            rejection,
        }) => {
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
        Err(e) => {
            tracing::error!(error = %e, "form submission could not be stored");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the submission could not be stored; retry with the same external_id",
            )
        }
    }
}

/// The form's idempotency key: the client's `external_id` bound to what was submitted (everything but
/// the server-set receive time and address), so a retry of the same submission is the same ticket and
/// the same id with other content is another one.
fn form_key(s: &FeedbackSubmission) -> String {
    let mut content = s.clone();
    content.submitted_at = chrono::DateTime::UNIX_EPOCH;
    content.client_ip = None;
    let mut hash = Sha256::new();
    hash.update(s.external_id.as_bytes());
    hash.update([0]);
    hash.update(serde_json::to_vec(&content).unwrap_or_default());
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("web:{hex}")
}

/// A body that could not be read: far beyond the size limit (not stored), or not sent in time.
fn unread_body(rejection: BytesRejection) -> Response {
    match rejection {
        BytesRejection::FailedToBufferBody(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                RejectReason::PayloadTooLarge.as_str(),
                "the submission is far larger than the limit",
            )
        }
        other => {
            tracing::debug!(error = %other, "form body not received");
            error(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the submission was not received completely in time",
            )
        }
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body: Value = json!({"error": {"code": code, "message": message}});
    (status, Json(body)).into_response()
}
