//! Who is calling and what they may do.
//!
//! A request carries `Authorization: Bearer <token>` (integrations) or the browser session cookie
//! (the console, see [`crate::session`]). Tokens and session secrets are random 256-bit strings, stored
//! as SHA-256 digests and looked up on every request, so revocation takes effect at once; tokens expire
//! (`api.token_days` unless the issuer names fewer). Passwords are argon2id PHC strings
//! ([`crate::passwords`]). The permission matrix ([`allowed`], in
//! `shared::lifecycle` with the ticket actions) says which role may do what; [`Principal::relation`]
//! says how a department-bound caller stands to a ticket.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use shared::lifecycle::Relation;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::session::ClientAddr;
use crate::AppState;

pub use shared::lifecycle::{allowed, Perm, Role};

/// The authenticated caller.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub department: Option<String>,
    /// The token used, so a user can revoke it; none for the bootstrap admin token and sessions.
    #[serde(skip)]
    pub token_id: Option<Uuid>,
    #[serde(skip)]
    pub user_id: Option<Uuid>,
    /// The browser session used, if the request came with the session cookie.
    #[serde(skip)]
    pub session_id: Option<Uuid>,
    /// The session's secret (from the cookie), to issue CSRF tokens for it.
    #[serde(skip)]
    pub session_secret: Option<String>,
}

impl Principal {
    /// `agent:li.wei`, the actor name on the timeline and in events.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.name)
    }

    pub fn require(&self, perm: Perm) -> ApiResult<()> {
        if allowed(self.role, perm) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "role",
                format!("role {} may not do this", self.role.as_str()),
            ))
        }
    }

    /// How the caller's department stands to a ticket (lead, secondary, unrelated, or not bound).
    pub fn relation(&self, lead: Option<&str>, departments: &[String]) -> Relation {
        Relation::of(self.role, self.department.as_deref(), lead, departments)
    }

    /// A department-bound caller sees a ticket only when its department is the lead or one of the
    /// ticket's departments; any other ticket answers exactly like one that does not exist.
    pub fn check_department(&self, lead: Option<&str>, departments: &[String]) -> ApiResult<()> {
        match self.relation(lead, departments) {
            Relation::Unrelated => Err(ApiError::no_ticket()),
            _ => Ok(()),
        }
    }
}

/// SHA-256 of a token, hex: what the database stores and looks up.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A random 256-bit secret, e.g. `ldk_…` for tokens and `lds_…` for sessions.
pub fn new_secret(kind: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "{kind}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Shortest bootstrap admin token the api starts with.
pub const MIN_BOOTSTRAP_TOKEN_CHARS: usize = 32;

async fn bearer(state: &AppState, header: &str) -> ApiResult<Principal> {
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    let digest = token_digest(token);
    if state.admin_token_digest.as_deref() == Some(digest.as_str()) {
        let revoked: bool = sqlx::query_scalar(
            "select exists (select 1 from revoked_bootstrap_tokens where token_hash = $1)",
        )
        .bind(&digest)
        .fetch_one(&state.pool)
        .await?;
        if revoked {
            return Err(ApiError::Unauthorized);
        }
        return Ok(Principal {
            name: "bootstrap".into(),
            role: Role::Admin,
            department: None,
            token_id: None,
            user_id: None,
            session_id: None,
            session_secret: None,
        });
    }
    let row: Option<(Uuid, Uuid, String, String, Option<String>)> = sqlx::query_as(
        "with live as (
             select k.id, u.id as user_id, u.name, u.role, u.department
             from api_tokens k join api_users u on u.id = k.user_id
             where k.token_hash = $1 and k.revoked_at is null and k.expires_at > now()
               and u.disabled_at is null
         ), touched as (
             update api_tokens set last_used_at = now()
             where id = (select id from live)
               and (last_used_at is null or last_used_at < now() - interval '1 minute')
         )
         select id, user_id, name, role, department from live",
    )
    .bind(&digest)
    .fetch_optional(&state.pool)
    .await?;
    let (token_id, user_id, name, role, department) = row.ok_or(ApiError::Unauthorized)?;
    let role =
        Role::parse(&role).ok_or_else(|| ApiError::Internal(format!("unknown role {role}")))?;
    Ok(Principal {
        name,
        role,
        department,
        token_id: Some(token_id),
        user_id: Some(user_id),
        session_id: None,
        session_secret: None,
    })
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let header = header.to_str().map_err(|_| ApiError::Unauthorized)?;
            return bearer(state, header).await;
        }
        match crate::session::cookie(&parts.headers) {
            Some(secret) => crate::session::principal(state, parts, &secret).await,
            None => Err(ApiError::Unauthorized),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    /// Login name, e.g. `li.wei`: 1-100 characters without spaces.
    #[schema(min_length = 1, max_length = 100, pattern = r"^\S+$")]
    pub name: String,
    pub role: Role,
    /// Required for agents and supervisors.
    #[schema(max_length = 100)]
    pub department: Option<String>,
    /// Optional: users without a password only get tokens issued by an admin.
    #[schema(min_length = 8, max_length = 256)]
    pub password: Option<String>,
    /// The name colleagues know, e.g. 李伟 (shown beside the login name).
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub department: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    pub token_id: Uuid,
    /// Shown once; only its digest is stored.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserView,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Login {
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 256)]
    pub password: String,
}

/// A user name as accepted everywhere.
pub fn check_name(name: &str) -> ApiResult<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.contains(char::is_whitespace) {
        return Err(ApiError::field(
            "invalid_value",
            "name",
            "name must be 1-100 characters without spaces",
        ));
    }
    Ok(name)
}

/// A display name: trimmed, at most 100 characters, no control characters; blank clears it.
pub fn check_display_name(value: &str) -> ApiResult<String> {
    let v = value.trim();
    if v.chars().count() > 100 || v.chars().any(char::is_control) {
        return Err(ApiError::field(
            "invalid_value",
            "display_name",
            "display_name has at most 100 characters and no control characters",
        ));
    }
    Ok(v.to_string())
}

/// Checks a role/department pair: agents and supervisors need a department.
pub fn check_department_for(role: Role, department: Option<&str>) -> ApiResult<()> {
    if role.department_bound() && department.is_none() {
        return Err(ApiError::field(
            "missing_field",
            "department",
            format!("a {} needs a department", role.as_str()),
        ));
    }
    if department.is_some_and(|d| d.chars().count() > 100) {
        return Err(ApiError::field(
            "field_too_long",
            "department",
            "department is longer than 100 characters",
        ));
    }
    Ok(())
}

/// The department a user is placed in, as the business's setup names it: its code, or either of
/// its names (`物流部`) resolved to the code. A department the setup does not know is refused, since
/// such a user would see no ticket at all.
pub async fn known_department(
    pool: &sqlx::PgPool,
    department: Option<&str>,
) -> ApiResult<Option<String>> {
    let Some(d) = department else { return Ok(None) };
    let setup = shared::setup::load(pool)
        .await
        .map_err(|e| ApiError::Internal(format!("setup: {e}")))?;
    let key = d.trim().to_lowercase();
    setup
        .departments
        .departments
        .iter()
        .find(|x| {
            [&x.code, &x.name_zh, &x.name_en]
                .iter()
                .any(|n| n.trim().to_lowercase() == key)
        })
        .map(|x| Some(x.code.clone()))
        .ok_or_else(|| {
            ApiError::field(
                "unknown_department",
                "department",
                format!(
                    "no department {d} in the business's setup (see GET /v1/setup/departments)"
                ),
            )
        })
}

/// Creates a user (admin only).
#[utoipa::path(post, path = "/v1/users", tag = "auth", request_body = NewUser,
    responses((status = 201, body = UserView), (status = 400), (status = 401), (status = 403), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    principal.require(Perm::ManageUsers)?;
    let name = check_name(&body.name)?;
    let department = body
        .department
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    check_department_for(body.role, department)?;
    let department = known_department(&state.pool, department).await?;
    let department = department.as_deref();
    let password_hash = match body.password.as_deref() {
        Some(p) => {
            crate::passwords::check_new("password", p)?;
            Some(state.passwords.hash(p).await?)
        }
        None => None,
    };
    let display_name = check_display_name(body.display_name.as_deref().unwrap_or(""))?;
    let id = Uuid::now_v7();
    let inserted = sqlx::query(
        "insert into api_users (id, name, role, department, password_hash, password_changed_at, display_name)
         values ($1, $2, $3, $4, $5, case when $5::text is null then null else now() end, $6)
         on conflict (name) do nothing",
    )
    .bind(id)
    .bind(name)
    .bind(body.role.as_str())
    .bind(department)
    .bind(password_hash)
    .bind(&display_name)
    .execute(&state.pool)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::conflict(
            "user_exists",
            format!("user {name} already exists"),
        ));
    }
    Ok((
        StatusCode::CREATED,
        Json(UserView {
            id,
            name: name.to_string(),
            display_name,
            role: body.role,
            department: department.map(str::to_string),
        }),
    ))
}

/// Issues a token for `user`, living `days` days (at most `api.token_days`).
pub async fn issue(
    state: &AppState,
    user: UserView,
    days: Option<u32>,
    label: Option<String>,
) -> ApiResult<IssuedToken> {
    let max = state.api.token_days.max(1);
    let days = days.unwrap_or(max);
    if days == 0 || days > max {
        return Err(ApiError::field(
            "invalid_value",
            "expires_in_days",
            format!("expires_in_days must be between 1 and {max}"),
        ));
    }
    let token = new_secret("ldk");
    let token_id = Uuid::now_v7();
    let expires_at = Utc::now() + Duration::days(i64::from(days));
    sqlx::query(
        "insert into api_tokens (id, user_id, token_hash, expires_at, label) values ($1, $2, $3, $4, $5)",
    )
    .bind(token_id)
    .bind(user.id)
    .bind(token_digest(&token))
    .bind(expires_at)
    .bind(label)
    .execute(&state.pool)
    .await?;
    Ok(IssuedToken {
        token_id,
        token,
        expires_at,
        user,
    })
}

/// A user as stored, with the password hash (for the sign-in check and the admin's pages).
#[derive(Debug, sqlx::FromRow)]
pub struct AccountRow {
    pub id: Uuid,
    pub name: String,
    pub role: String,
    pub department: Option<String>,
    pub password_hash: Option<String>,
    pub display_name: String,
}

impl AccountRow {
    /// `where` picks the user; `$1` is bound by the caller.
    pub const SELECT: &'static str =
        "select id, name, role, department, password_hash, display_name from api_users";

    /// The user as the api shows it, and the password hash.
    pub fn into_view(self) -> ApiResult<(UserView, Option<String>)> {
        let role = Role::parse(&self.role)
            .ok_or_else(|| ApiError::Internal(format!("unknown role {}", self.role)))?;
        Ok((
            UserView {
                id: self.id,
                name: self.name,
                display_name: self.display_name,
                role,
                department: self.department,
            },
            self.password_hash,
        ))
    }
}

/// A user by name, with the password hash; disabled users too (admins manage them).
pub async fn user_by_name(state: &AppState, name: &str) -> ApiResult<(UserView, Option<String>)> {
    let row: Option<AccountRow> =
        sqlx::query_as(&format!("{} where name = $1", AccountRow::SELECT))
            .bind(name)
            .fetch_optional(&state.pool)
            .await?;
    row.ok_or_else(|| ApiError::NotFound("user".into()))?
        .into_view()
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    /// Lifetime in days (default and maximum: `api.token_days`, 90 unless configured).
    #[schema(minimum = 1, maximum = 365)]
    pub expires_in_days: Option<u32>,
    /// What the token is for, e.g. `crm-sync`.
    #[schema(max_length = 100)]
    pub label: Option<String>,
}

fn label(l: Option<String>) -> ApiResult<Option<String>> {
    let l = l.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    if l.as_ref().is_some_and(|s| s.chars().count() > 100) {
        return Err(ApiError::field(
            "field_too_long",
            "label",
            "label is longer than 100 characters",
        ));
    }
    Ok(l)
}

/// Issues a token for a user (admin only), e.g. for a service account or a user without a password.
#[utoipa::path(post, path = "/v1/users/{name}/tokens", tag = "auth", request_body(content = Option<NewToken>),
    params(("name" = String, Path, description = "user name")),
    responses((status = 201, body = IssuedToken), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn issue_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<IssuedToken>)> {
    principal.require(Perm::ManageUsers)?;
    // The body is optional: an empty one, or JSON null, means the defaults.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let body: NewToken = match first {
        None => NewToken::default(),
        // serde reads a struct from an array too (`[30, "crm"]`); the api's bodies are objects.
        Some(b'{') | Some(b'n') => {
            crate::extract::parse_json::<Option<NewToken>>(&body)?.unwrap_or_default()
        }
        Some(_) => {
            return Err(ApiError::field(
                "invalid_value",
                "body",
                "the body is a JSON object, or empty for the defaults",
            ))
        }
    };
    let (user, _) = user_by_name(&state, &name).await?;
    let token = issue(&state, user, body.expires_in_days, label(body.label)?).await?;
    Ok((StatusCode::CREATED, Json(token)))
}

/// Exchanges a name and password for a token (integrations; the console uses `POST /v1/auth/session`).
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Login,
    responses((status = 201, body = IssuedToken), (status = 400), (status = 401),
        (status = 429, headers(("Retry-After" = u64, description = "seconds until a new attempt is heard")))))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Json(body): Json<Login>,
) -> ApiResult<(StatusCode, Json<IssuedToken>)> {
    let account = crate::passwords::sign_in(
        &state.pool,
        &state.passwords,
        &state.api.login,
        &body.name,
        &body.password,
        addr,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(issue(&state, account, None, None).await?),
    ))
}

/// Revokes a token: the caller's own, or any token for an admin.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "auth",
    params(("id" = Uuid, Path, description = "token id")),
    responses((status = 204), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn revoke_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let owner: Option<Uuid> = sqlx::query_scalar("select user_id from api_tokens where id = $1")
        .bind(id)
        .fetch_optional(&state.pool)
        .await?;
    let owner = owner.ok_or_else(|| ApiError::NotFound("token".into()))?;
    if principal.role != Role::Admin && principal.user_id != Some(owner) {
        return Err(ApiError::forbidden(
            "owner",
            "only an admin may revoke another user's token",
        ));
    }
    sqlx::query("update api_tokens set revoked_at = coalesce(revoked_at, now()) where id = $1")
        .bind(id)
        .execute(&state.pool)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub name: String,
    pub role: Role,
    pub department: Option<String>,
    pub token_id: Option<Uuid>,
    /// Set for the bootstrap admin token: what to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

/// Who the token or session belongs to.
#[utoipa::path(get, path = "/v1/me", tag = "auth", responses((status = 200, body = Me), (status = 401)),
    security(("bearer" = []), ("session" = [])))]
pub async fn me(principal: Principal) -> Json<Me> {
    let notice = (principal.user_id.is_none()).then(|| {
        "this is the bootstrap admin token: create a real admin user, then remove LOOPDESK_ADMIN_TOKEN \
         from the environment or revoke it with DELETE /v1/auth/bootstrap-token"
            .to_string()
    });
    Json(Me {
        name: principal.name,
        role: principal.role,
        department: principal.department,
        token_id: principal.token_id,
        notice,
    })
}
