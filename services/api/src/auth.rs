//! Who is calling and what they may do.
//!
//! Every request carries `Authorization: Bearer <token>`. Tokens are random 256-bit secrets, stored as
//! SHA-256 digests and looked up on every request, so revocation takes effect at once. Passwords (for
//! `POST /v1/auth/login`) are argon2id PHC strings. The permission matrix ([`allowed`], in
//! `shared::lifecycle` with the ticket actions) says which role may do what; [`Principal::relation`]
//! says how a department-bound caller stands to a ticket.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use shared::lifecycle::Relation;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

pub use shared::lifecycle::{allowed, Perm, Role};

/// The authenticated caller.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub department: Option<String>,
    /// The token used, so a user can revoke it; none for the bootstrap admin token.
    #[serde(skip)]
    pub token_id: Option<Uuid>,
    #[serde(skip)]
    pub user_id: Option<Uuid>,
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
            Err(ApiError::Forbidden(format!(
                "role {} may not do this",
                self.role.as_str()
            )))
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

fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "ldk_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let digest = token_digest(token);
        if state.admin_token_digest.as_deref() == Some(digest.as_str()) {
            return Ok(Principal {
                name: "bootstrap".into(),
                role: Role::Admin,
                department: None,
                token_id: None,
                user_id: None,
            });
        }
        let row: Option<(Uuid, Uuid, String, String, Option<String>)> = sqlx::query_as(
            "select k.id, u.id, u.name, u.role, u.department
             from api_tokens k join api_users u on u.id = k.user_id
             where k.token_hash = $1 and k.revoked_at is null",
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
        })
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    /// Login name, e.g. `li.wei`.
    pub name: String,
    pub role: Role,
    /// Required for agents and supervisors.
    pub department: Option<String>,
    /// Optional: users without a password only get tokens issued by an admin.
    pub password: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub department: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    pub token_id: Uuid,
    /// Shown once; only its digest is stored.
    pub token: String,
    pub user: UserView,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Login {
    pub name: String,
    pub password: String,
}

fn hash_password(password: &str) -> ApiResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("argon2: {e}")))
}

/// Creates a user (admin only).
#[utoipa::path(post, path = "/v1/users", tag = "auth", request_body = NewUser,
    responses((status = 201, body = UserView), (status = 400), (status = 401), (status = 403), (status = 409)),
    security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    principal.require(Perm::ManageUsers)?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 || name.contains(char::is_whitespace) {
        return Err(ApiError::bad(
            "invalid_value",
            "name must be 1-100 characters without spaces",
        ));
    }
    let department = body
        .department
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    if body.role.department_bound() && department.is_none() {
        return Err(ApiError::bad(
            "missing_field",
            format!("a {} needs a department", body.role.as_str()),
        ));
    }
    let password_hash = match body.password.as_deref() {
        Some(p) if p.chars().count() < 8 => {
            return Err(ApiError::bad(
                "invalid_value",
                "password must have at least 8 characters",
            ))
        }
        Some(p) => Some(hash_password(p)?),
        None => None,
    };
    let id = Uuid::now_v7();
    let inserted = sqlx::query(
        "insert into api_users (id, name, role, department, password_hash) values ($1, $2, $3, $4, $5)
         on conflict (name) do nothing",
    )
    .bind(id)
    .bind(name)
    .bind(body.role.as_str())
    .bind(department)
    .bind(password_hash)
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
            role: body.role,
            department: department.map(str::to_string),
        }),
    ))
}

async fn issue(state: &AppState, user: UserView) -> ApiResult<IssuedToken> {
    let token = new_token();
    let token_id = Uuid::now_v7();
    sqlx::query("insert into api_tokens (id, user_id, token_hash) values ($1, $2, $3)")
        .bind(token_id)
        .bind(user.id)
        .bind(token_digest(&token))
        .execute(&state.pool)
        .await?;
    Ok(IssuedToken {
        token_id,
        token,
        user,
    })
}

async fn user_by_name(state: &AppState, name: &str) -> ApiResult<(UserView, Option<String>)> {
    let row: Option<(Uuid, String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "select id, name, role, department, password_hash from api_users where name = $1",
    )
    .bind(name)
    .fetch_optional(&state.pool)
    .await?;
    let (id, name, role, department, hash) =
        row.ok_or_else(|| ApiError::NotFound("user".into()))?;
    let role =
        Role::parse(&role).ok_or_else(|| ApiError::Internal(format!("unknown role {role}")))?;
    Ok((
        UserView {
            id,
            name,
            role,
            department,
        },
        hash,
    ))
}

/// Issues a token for a user (admin only), e.g. for a service account or a user without a password.
#[utoipa::path(post, path = "/v1/users/{name}/tokens", tag = "auth",
    params(("name" = String, Path, description = "user name")),
    responses((status = 201, body = IssuedToken), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn issue_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<(StatusCode, Json<IssuedToken>)> {
    principal.require(Perm::ManageUsers)?;
    let (user, _) = user_by_name(&state, &name).await?;
    Ok((StatusCode::CREATED, Json(issue(&state, user).await?)))
}

/// Exchanges a name and password for a token.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Login,
    responses((status = 201, body = IssuedToken), (status = 401)))]
pub async fn login(
    State(state): State<AppState>,
    Json(body): Json<Login>,
) -> ApiResult<(StatusCode, Json<IssuedToken>)> {
    let (user, hash) = match user_by_name(&state, &body.name).await {
        Ok(found) => found,
        Err(ApiError::NotFound(_)) => return Err(ApiError::Unauthorized),
        Err(e) => return Err(e),
    };
    let hash = hash.ok_or(ApiError::Unauthorized)?;
    let parsed =
        PasswordHash::new(&hash).map_err(|e| ApiError::Internal(format!("stored hash: {e}")))?;
    Argon2::default()
        .verify_password(body.password.as_bytes(), &parsed)
        .map_err(|_| ApiError::Unauthorized)?;
    Ok((StatusCode::CREATED, Json(issue(&state, user).await?)))
}

/// Revokes a token: the caller's own, or any token for an admin.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "auth",
    params(("id" = Uuid, Path, description = "token id")),
    responses((status = 204), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
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
        return Err(ApiError::Forbidden(
            "only an admin may revoke another user's token".into(),
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
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/v1/me", tag = "auth", responses((status = 200, body = Me), (status = 401)),
    security(("bearer" = [])))]
pub async fn me(principal: Principal) -> Json<Me> {
    Json(Me {
        name: principal.name,
        role: principal.role,
        department: principal.department,
        token_id: principal.token_id,
    })
}
