//! Browser sessions: an HttpOnly, SameSite=Strict cookie (`Secure` when `api.session.secure_cookie`)
//! holding a random secret, stored as its SHA-256 digest; idle and absolute limits from config.
//!
//! CSRF: every request authenticated by the cookie that is not GET/HEAD/OPTIONS must carry
//! `X-CSRF-Token`. The token is `nonce.mac` with mac = HMAC-SHA256(key = the session secret, nonce):
//! only someone who can read the api's answers (the console, which keeps it in memory) has one, any
//! number may be issued for one session (each tab asks `GET /v1/auth/session`), and nothing extra is
//! stored. SameSite=Strict already keeps the cookie off cross-site requests; the token also covers
//! same-site attackers (a sibling subdomain) and browsers without SameSite.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use crate::auth::{token_digest, Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::passwords;
use crate::AppState;

pub const COOKIE: &str = "loopdesk_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The client's address as the listener saw it (no proxy headers are trusted here).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// The session secret from the request's `Cookie` header.
pub fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, nonce: &[u8]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    m.update(b"loopdesk csrf v1:");
    m.update(nonce);
    m
}

/// A fresh CSRF token for the session whose secret is `secret`.
pub fn csrf_token(secret: &str) -> String {
    let nonce: [u8; 16] = rand::random();
    let tag = mac(secret, &nonce).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(nonce),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// Whether `token` was issued for the session whose secret is `secret` (constant-time comparison).
pub fn csrf_valid(secret: &str, token: &str) -> bool {
    let Some((nonce, tag)) = token.trim().split_once('.') else {
        return false;
    };
    let (Ok(nonce), Ok(tag)) = (URL_SAFE_NO_PAD.decode(nonce), URL_SAFE_NO_PAD.decode(tag)) else {
        return false;
    };
    mac(secret, &nonce).verify_slice(&tag).is_ok()
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The caller behind a session cookie; checks CSRF for state changes.
pub async fn principal(state: &AppState, parts: &Parts, secret: &str) -> ApiResult<Principal> {
    let s = &state.api.session;
    let row: Option<(Uuid, Uuid, String, String, Option<String>)> = sqlx::query_as(
        "with live as (
             select s.id, u.id as user_id, u.name, u.role, u.department
             from api_sessions s join api_users u on u.id = s.user_id
             where s.token_hash = $1 and s.revoked_at is null and s.expires_at > now()
               and s.last_seen_at > now() - make_interval(mins => $2) and u.disabled_at is null
         ), touched as (
             update api_sessions set last_seen_at = now()
             where id = (select id from live) and last_seen_at < now() - interval '1 minute'
         )
         select id, user_id, name, role, department from live",
    )
    .bind(token_digest(secret))
    .bind(s.idle_minutes as i32)
    .fetch_optional(&state.pool)
    .await?;
    let (session_id, user_id, name, role, department) = row.ok_or(ApiError::Unauthorized)?;
    if !is_safe(&parts.method) {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !csrf_valid(secret, sent) {
            return Err(ApiError::forbidden(
                "csrf",
                "a request made with the session cookie must carry the X-CSRF-Token header from GET /v1/auth/session",
            ));
        }
    }
    let role =
        Role::parse(&role).ok_or_else(|| ApiError::Internal(format!("unknown role {role}")))?;
    Ok(Principal {
        name,
        role,
        department,
        token_id: None,
        user_id: Some(user_id),
        session_id: Some(session_id),
        session_secret: Some(secret.to_string()),
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 256)]
    pub password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionUser {
    pub name: String,
    pub role: Role,
    pub department: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub user: SessionUser,
    /// Send as `X-CSRF-Token` with every state-changing request; keep it in memory only.
    pub csrf_token: String,
}

fn set_cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.api.session.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .expect("cookie value is printable ASCII")
}

fn with_cookie(resp: impl IntoResponse, cookie: HeaderValue) -> Response {
    let mut resp = resp.into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    resp
}

/// Signs in with name and password: sets the session cookie, answers the user and a CSRF token.
#[utoipa::path(post, path = "/v1/auth/session", tag = "auth", request_body = SignIn,
    responses(
        (status = 200, body = SessionView, description = "Signed in; `Set-Cookie: loopdesk_session=…; HttpOnly; SameSite=Strict`",
            headers(("Set-Cookie" = String, description = "the session cookie"))),
        (status = 400), (status = 401),
        (status = 429, headers(("Retry-After" = u64, description = "seconds until a new attempt is heard"))),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Json(body): Json<SignIn>,
) -> ApiResult<Response> {
    let account = passwords::sign_in(
        &state.pool,
        &state.passwords,
        &state.api.login,
        &body.name,
        &body.password,
        addr,
    )
    .await?;
    let secret = crate::auth::new_secret("lds");
    let lifetime = Duration::hours(i64::from(state.api.session.absolute_hours.max(1)));
    let user_agent: Option<String> = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(300).collect());
    sqlx::query(
        "insert into api_sessions (id, user_id, token_hash, expires_at, user_agent, client_ip)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(account.id)
    .bind(token_digest(&secret))
    .bind(Utc::now() + lifetime)
    .bind(user_agent)
    .bind(addr.map(sqlx::types::ipnetwork::IpNetwork::from))
    .execute(&state.pool)
    .await?;
    let view = SessionView {
        user: SessionUser {
            name: account.name,
            role: account.role,
            department: account.department,
        },
        csrf_token: csrf_token(&secret),
    };
    Ok(with_cookie(
        Json(view),
        set_cookie(&state, &secret, lifetime.num_seconds()),
    ))
}

fn session_secret(principal: &Principal) -> ApiResult<&str> {
    principal.session_secret.as_deref().ok_or_else(|| {
        ApiError::forbidden(
            "no_session",
            "this needs a browser session (cookie), not a bearer token",
        )
    })
}

/// The signed-in user and a fresh CSRF token; 401 without a live session.
#[utoipa::path(get, path = "/v1/auth/session", tag = "auth",
    responses((status = 200, body = SessionView), (status = 401), (status = 403)),
    security(("session" = [])))]
pub async fn current(principal: Principal) -> ApiResult<Json<SessionView>> {
    let secret = session_secret(&principal)?;
    Ok(Json(SessionView {
        csrf_token: csrf_token(secret),
        user: SessionUser {
            name: principal.name,
            role: principal.role,
            department: principal.department,
        },
    }))
}

/// Signs out: ends this session and clears the cookie.
#[utoipa::path(delete, path = "/v1/auth/session", tag = "auth",
    responses((status = 204, headers(("Set-Cookie" = String, description = "clears the session cookie"))),
        (status = 401), (status = 403)),
    security(("session" = [], "csrf" = [])))]
pub async fn sign_out(State(state): State<AppState>, principal: Principal) -> ApiResult<Response> {
    session_secret(&principal)?;
    sqlx::query("update api_sessions set revoked_at = coalesce(revoked_at, now()) where id = $1")
        .bind(principal.session_id)
        .execute(&state.pool)
        .await?;
    Ok(with_cookie(
        StatusCode::NO_CONTENT,
        set_cookie(&state, "", 0),
    ))
}

/// Ends every session and revokes every token of a user.
pub async fn revoke_everything(state: &AppState, user_id: Uuid) -> ApiResult<()> {
    let mut tx = state.pool.begin().await?;
    sqlx::query(
        "update api_sessions set revoked_at = now() where user_id = $1 and revoked_at is null",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "update api_tokens set revoked_at = now() where user_id = $1 and revoked_at is null",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sign out everywhere: every session and every token of the caller ends.
#[utoipa::path(post, path = "/v1/auth/session/revoke-all", tag = "auth",
    responses((status = 204, headers(("Set-Cookie" = String, description = "clears the session cookie"))),
        (status = 401), (status = 403)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn revoke_all(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Response> {
    let user_id = principal.user_id.ok_or_else(|| {
        ApiError::forbidden(
            "no_user",
            "the bootstrap token has no sessions: revoke it with DELETE /v1/auth/bootstrap-token",
        )
    })?;
    revoke_everything(&state, user_id).await?;
    Ok(with_cookie(
        StatusCode::NO_CONTENT,
        set_cookie(&state, "", 0),
    ))
}
