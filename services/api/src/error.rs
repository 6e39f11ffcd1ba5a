//! The one error type of the HTTP boundary: every refusal is a JSON body with a machine-readable code
//! (`{"error": {"code": "...", "message": "...", "field": "...", "details": {...}}}`); internal details
//! are logged, never returned. [`json_errors`] puts answers made outside the handlers (unknown routes,
//! wrong methods, body limits) into the same shape.

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use shared::lifecycle::{Action, Refusal, TicketStatus};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid credentials")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    /// Bad input: `code` names the problem, e.g. `invalid_value`, `missing_field`.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// The request is valid but the ticket's state refuses it, e.g. `invalid_transition`.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The lifecycle table refused an action: 403 (role, department) or 409 (status, ticket state),
    /// with machine-readable details. A ticket of another department is [`ApiError::NotFound`] instead.
    #[error(transparent)]
    Refused(Refusal),
    #[error("payload too large")]
    TooLarge,
    /// Too many attempts; try again after this many seconds.
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Any refusal that names the field at fault or carries machine-readable details.
    #[error("{message}")]
    Detailed {
        status: StatusCode,
        code: &'static str,
        message: String,
        field: Option<String>,
        details: Option<Value>,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

/// The error body, as the OpenAPI document describes it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable reason, e.g. `invalid_transition`, `forbidden`, `invalid_value`.
    pub code: String,
    /// English text for logs and integrators; people see a translation of `code`.
    pub message: String,
    /// The request field at fault, when there is one (a JSON path such as `items[2].name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Machine-readable values, e.g. `{"reason": "csrf"}` or `{"action": "resolve", "status": "archived"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

impl ApiError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// Bad input in one named field.
    pub fn field(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Detailed {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
            field: Some(field.into()),
            details: None,
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            message: message.into(),
        }
    }

    /// 403 with `details.reason` (`role`, `department`, `csrf`, `no_user`, ...).
    pub fn forbidden(reason: &'static str, message: impl Into<String>) -> Self {
        ApiError::Detailed {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: message.into(),
            field: None,
            details: Some(json!({ "reason": reason })),
        }
    }

    /// A transition the ticket's status does not allow.
    pub fn transition(action: Action, status: TicketStatus) -> Self {
        ApiError::Refused(Refusal::Status { action, status })
    }

    /// No such ticket, or one of another department: both answer exactly alike.
    pub fn no_ticket() -> Self {
        ApiError::NotFound("ticket".into())
    }

    /// Machine-readable values for the client beside the code.
    fn details(&self) -> Option<serde_json::Value> {
        match self {
            ApiError::Refused(Refusal::Role { .. }) => Some(json!({"reason": "role"})),
            ApiError::Refused(Refusal::Department { action }) => {
                Some(json!({"reason": "department", "action": action}))
            }
            ApiError::Refused(Refusal::Status { action, status }) => {
                Some(json!({"action": action, "status": status}))
            }
            _ => None,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::Refused(Refusal::Role { .. } | Refusal::Department { .. }) => {
                (StatusCode::FORBIDDEN, "forbidden")
            }
            ApiError::Refused(Refusal::NotFound) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Refused(Refusal::Status { .. }) => {
                (StatusCode::CONFLICT, "invalid_transition")
            }
            ApiError::Refused(Refusal::State { code, .. }) => (StatusCode::CONFLICT, code),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Detailed { status, code, .. } => (*status, code),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NotFound => ApiError::no_ticket(),
            other => ApiError::Refused(other),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(format!("database: {e}"))
    }
}

impl From<shared::outbox::OutboxError> for ApiError {
    fn from(e: shared::outbox::OutboxError) -> Self {
        ApiError::Internal(format!("outbox: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let (field, details) = match &self {
            ApiError::Detailed { field, details, .. } => (field.clone(), details.clone()),
            ApiError::RateLimited { retry_after_secs } => {
                (None, Some(json!({ "retry_after_secs": retry_after_secs })))
            }
            other => (None, other.details()),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message,
                field,
                details,
            },
        };
        let mut resp = (status, Json(body)).into_response();
        match &self {
            ApiError::Unauthorized => {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::RateLimited { retry_after_secs } => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The code of an error answer made by the framework rather than a handler.
fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_ACCEPTABLE => "not_acceptable",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_value",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// Middleware: an error answer that is not JSON yet (axum's own 404/405/413, a layer's refusal)
/// becomes the api's error shape, keeping its status and headers (`Allow`, `Retry-After`).
pub async fn json_errors(req: Request<Body>, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("request refused")
                .to_string()
        });
    let body = serde_json::to_vec(&json!({"error": {"code": code_for(status), "message": text}}))
        .unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}
