//! Accounts over their life: list users and who holds which role, change a role or department,
//! disable and enable, reset or change a password, list and revoke tokens, and retire the bootstrap
//! admin token. Disabling a user, resetting a password and changing one's own end every session and
//! token of that user (the caller's current session survives its own password change).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{check_department_for, user_by_name, Perm, Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::AppState;

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UserInfo {
    pub id: Uuid,
    pub name: String,
    /// The name colleagues know (may be empty).
    pub display_name: String,
    #[schema(value_type = Role)]
    pub role: String,
    pub department: Option<String>,
    /// Whether the user may sign in with a password.
    pub has_password: bool,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub password_changed_at: Option<DateTime<Utc>>,
    /// The last password sign-in (null: never).
    pub last_signed_in_at: Option<DateTime<Utc>>,
    /// Browser sessions not ended.
    pub live_sessions: i64,
    /// Tokens neither revoked nor expired.
    pub live_tokens: i64,
}

const USER_INFO: &str = "select u.id, u.name, u.display_name, u.role, u.department, u.password_hash is not null as has_password,
        u.disabled_at, u.created_at, u.password_changed_at, u.last_signed_in_at,
        (select count(*) from api_sessions s where s.user_id = u.id and s.revoked_at is null and s.expires_at > now()) as live_sessions,
        (select count(*) from api_tokens k where k.user_id = u.id and k.revoked_at is null and k.expires_at > now()) as live_tokens
     from api_users u";

/// Every user with role, department and state (admin only).
#[utoipa::path(get, path = "/v1/users", tag = "auth", operation_id = "list_users",
    responses((status = 200, body = Vec<UserInfo>), (status = 401), (status = 403)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<UserInfo>>> {
    principal.require(Perm::ManageUsers)?;
    let users = sqlx::query_as::<_, UserInfo>(&format!("{USER_INFO} order by u.role, u.name"))
        .fetch_all(&state.pool)
        .await?;
    Ok(Json(users))
}

async fn info(state: &AppState, id: Uuid) -> ApiResult<UserInfo> {
    Ok(
        sqlx::query_as::<_, UserInfo>(&format!("{USER_INFO} where u.id = $1"))
            .bind(id)
            .fetch_one(&state.pool)
            .await?,
    )
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    pub role: Option<Role>,
    /// The department (agents and supervisors need one); an empty string clears it.
    #[schema(max_length = 100)]
    pub department: Option<String>,
    /// `true` disables the user (every session and token ends), `false` enables it again.
    pub disabled: Option<bool>,
    /// The name colleagues know; an empty string clears it.
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
}

/// Changes a user's role or department, or disables/enables it (admin only).
#[utoipa::path(patch, path = "/v1/users/{name}", tag = "auth", request_body = UserChange,
    params(("name" = String, Path, description = "user name")),
    responses((status = 200, body = UserInfo), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn change(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    Json(body): Json<UserChange>,
) -> ApiResult<Json<UserInfo>> {
    principal.require(Perm::ManageUsers)?;
    let (user, _) = user_by_name(&state, &name).await?;
    if principal.user_id == Some(user.id) && body.disabled == Some(true) {
        return Err(ApiError::field(
            "invalid_value",
            "disabled",
            "you cannot disable yourself",
        ));
    }
    let role = body.role.unwrap_or(user.role);
    let department = match body.department.as_deref().map(str::trim) {
        Some("") => None,
        Some(d) => Some(d.to_string()),
        None => user.department.clone(),
    };
    check_department_for(role, department.as_deref())?;
    let display_name = body
        .display_name
        .as_deref()
        .map(crate::auth::check_display_name)
        .transpose()?;
    let department = if department == user.department {
        department
    } else {
        crate::auth::known_department(&state.pool, department.as_deref()).await?
    };
    let mut tx = state.pool.begin().await?;
    sqlx::query(
        "update api_users set role = $2, department = $3,
             disabled_at = case when $4::bool is null then disabled_at
                                when $4 then coalesce(disabled_at, now()) else null end,
             display_name = coalesce($5, display_name)
         where id = $1",
    )
    .bind(user.id)
    .bind(role.as_str())
    .bind(&department)
    .bind(body.disabled)
    .bind(display_name)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if body.disabled == Some(true) {
        crate::session::revoke_everything(&state, user.id).await?;
    }
    Ok(Json(info(&state, user.id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordReset {
    #[schema(min_length = 8, max_length = 256)]
    pub new_password: String,
}

/// Sets a user's password (admin only); every session and token of the user ends.
#[utoipa::path(post, path = "/v1/users/{name}/password", tag = "auth", request_body = PasswordReset,
    params(("name" = String, Path, description = "user name")),
    responses((status = 204), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn reset_password(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    Json(body): Json<PasswordReset>,
) -> ApiResult<StatusCode> {
    principal.require(Perm::ManageUsers)?;
    crate::passwords::check_new("new_password", &body.new_password)?;
    let (user, _) = user_by_name(&state, &name).await?;
    let hash = state.passwords.hash(&body.new_password).await?;
    set_password(&state, user.id, &hash).await?;
    crate::session::revoke_everything(&state, user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_password(state: &AppState, user_id: Uuid, hash: &str) -> ApiResult<()> {
    sqlx::query(
        "update api_users set password_hash = $2, password_changed_at = now() where id = $1",
    )
    .bind(user_id)
    .bind(hash)
    .execute(&state.pool)
    .await?;
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    #[schema(max_length = 256)]
    pub current_password: String,
    #[schema(min_length = 8, max_length = 256)]
    pub new_password: String,
}

/// Changes the caller's own password. Every other session and every token of the caller end.
#[utoipa::path(post, path = "/v1/me/password", tag = "auth", request_body = PasswordChange,
    responses((status = 204), (status = 400), (status = 401), (status = 403)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn change_password(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    let user_id = principal
        .user_id
        .ok_or_else(|| ApiError::forbidden("no_user", "the bootstrap token has no password"))?;
    crate::passwords::check_new("new_password", &body.new_password)?;
    let hash: Option<String> =
        sqlx::query_scalar("select password_hash from api_users where id = $1")
            .bind(user_id)
            .fetch_one(&state.pool)
            .await?;
    if !state.passwords.verify(&body.current_password, hash).await? {
        return Err(ApiError::field(
            "wrong_password",
            "current_password",
            "the current password is not right",
        ));
    }
    let hash = state.passwords.hash(&body.new_password).await?;
    set_password(&state, user_id, &hash).await?;
    let mut tx = state.pool.begin().await?;
    sqlx::query(
        "update api_sessions set revoked_at = now()
         where user_id = $1 and revoked_at is null and id is distinct from $2",
    )
    .bind(user_id)
    .bind(principal.session_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "update api_tokens set revoked_at = now()
         where user_id = $1 and revoked_at is null and id is distinct from $2",
    )
    .bind(user_id)
    .bind(principal.token_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: Uuid,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A user's tokens, newest first (the user itself or an admin); secrets are never shown again.
#[utoipa::path(get, path = "/v1/users/{name}/tokens", tag = "auth",
    params(("name" = String, Path, description = "user name")),
    responses((status = 200, body = Vec<TokenInfo>), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [])))]
pub async fn tokens(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    let (user, _) = user_by_name(&state, &name).await?;
    if principal.role != Role::Admin && principal.user_id != Some(user.id) {
        return Err(ApiError::forbidden(
            "owner",
            "only an admin may list another user's tokens",
        ));
    }
    let rows = sqlx::query_as::<_, TokenInfo>(
        "select id, label, created_at, expires_at, last_used_at, revoked_at from api_tokens
         where user_id = $1 order by created_at desc",
    )
    .bind(user.id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// Ends every session and revokes every token of a user (the user itself or an admin).
#[utoipa::path(post, path = "/v1/users/{name}/revoke-all", tag = "auth", operation_id = "revoke_all_of_user",
    params(("name" = String, Path, description = "user name")),
    responses((status = 204), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn revoke_all(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let (user, _) = user_by_name(&state, &name).await?;
    if principal.role != Role::Admin && principal.user_id != Some(user.id) {
        return Err(ApiError::forbidden(
            "owner",
            "only an admin may sign another user out",
        ));
    }
    crate::session::revoke_everything(&state, user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Retires the bootstrap admin token configured in the environment (admin only): from now on it is
/// refused even while still set. Remove `LOOPDESK_ADMIN_TOKEN` from the environment as well.
#[utoipa::path(delete, path = "/v1/auth/bootstrap-token", tag = "auth",
    responses((status = 204), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn revoke_bootstrap(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<StatusCode> {
    principal.require(Perm::ManageUsers)?;
    let digest = state
        .admin_token_digest
        .clone()
        .ok_or_else(|| ApiError::NotFound("bootstrap token".into()))?;
    sqlx::query(
        "insert into revoked_bootstrap_tokens (token_hash) values ($1) on conflict do nothing",
    )
    .bind(digest)
    .execute(&state.pool)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start-up advice: a bootstrap token is configured though a real admin can sign in.
pub async fn bootstrap_advice(state: &AppState) -> Result<(), sqlx::Error> {
    let Some(digest) = &state.admin_token_digest else {
        return Ok(());
    };
    let (admins, revoked): (i64, bool) = sqlx::query_as(
        "select (select count(*) from api_users where role = 'admin' and disabled_at is null
                   and password_hash is not null),
                exists (select 1 from revoked_bootstrap_tokens where token_hash = $1)",
    )
    .bind(digest)
    .fetch_one(&state.pool)
    .await?;
    if revoked {
        tracing::warn!(
            "LOOPDESK_ADMIN_TOKEN is set but was revoked: remove it from the environment"
        );
    } else if admins > 0 {
        tracing::warn!(
            admins,
            "a bootstrap admin token is configured though an admin user exists: remove LOOPDESK_ADMIN_TOKEN \
             (or revoke it with DELETE /v1/auth/bootstrap-token)"
        );
    }
    Ok(())
}
