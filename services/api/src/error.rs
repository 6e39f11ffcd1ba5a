//! The one error type of the HTTP boundary: every refusal is a JSON body with a machine-readable code
//! (`{"error": {"code": "...", "message": "..."}}`); internal details are logged, never returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use shared::lifecycle::{Action, Refusal, TicketStatus};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid bearer token")]
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
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            message: message.into(),
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
        let mut error = json!({"code": code, "message": message});
        if let Some(details) = self.details() {
            error["details"] = details;
        }
        let mut resp = (status, Json(json!({ "error": error }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
