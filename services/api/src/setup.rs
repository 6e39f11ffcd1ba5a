//! The business's setup over HTTP: the taxonomy every signed-in person reads (the console's labels),
//! and for admins each kind's current document, a new version (refused with reasons when it would break
//! the system), its history with the differences, a one-step rollback and an export.
//!
//! The store is `shared::setup`; this module only maps it to HTTP. After every stored change it
//! announces `{prefix}.config.changed`, so every worker replica reloads within seconds. The api itself
//! reads the setup from Postgres per request, so each api replica is current the moment a save commits.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shared::setup::{self, Changed, Kind, Named, SetupError};

use crate::auth::{Perm, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::AppState;

/// The business's lists with their names in both languages (GET /v1/taxonomy).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaxonomyView {
    pub categories: Vec<Named>,
    pub feedback_types: Vec<Named>,
    pub priorities: Vec<Named>,
    pub tags: Vec<Named>,
    pub departments: Vec<Named>,
    /// The setup versions these lists were read at (taxonomy, departments).
    pub versions: std::collections::BTreeMap<String, i32>,
}

impl From<SetupError> for ApiError {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::Refused(problems) => ApiError::Detailed {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "setup_refused",
                message: problems
                    .iter()
                    .map(|p| p.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                field: problems.first().map(|p| p.path.clone()),
                details: Some(json!({ "problems": problems })),
            },
            SetupError::NoEarlierVersion(kind) => ApiError::conflict(
                "no_earlier_version",
                format!("{kind} has no earlier version to go back to"),
            ),
            SetupError::Db(e) => ApiError::from(e),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// The setup's kind named in a path.
fn kind_of(s: &str) -> ApiResult<Kind> {
    Kind::parse(s).ok_or_else(|| {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        ApiError::NotFound(format!("setup kind `{s}` (known: {})", known.join(", ")))
    })
}

/// Categories, feedback types, priorities, tags and departments with Chinese and English names: the
/// labels the console shows for the business's codes. Any signed-in person.
#[utoipa::path(get, path = "/v1/taxonomy", tag = "setup", operation_id = "setup_taxonomy",
    responses((status = 200, body = TaxonomyView), (status = 401)),
    security(("bearer" = []), ("session" = [])))]
pub async fn taxonomy(
    State(state): State<AppState>,
    _principal: Principal,
) -> ApiResult<Json<TaxonomyView>> {
    let s = setup::load(&state.pool).await?;
    let departments = s
        .departments
        .departments
        .iter()
        .map(|d| Named {
            code: d.code.clone(),
            name_zh: d.name_zh.clone(),
            name_en: d.name_en.clone(),
        })
        .collect();
    let versions = s
        .versions
        .iter()
        .filter(|(k, _)| matches!(k, Kind::Taxonomy | Kind::Departments))
        .map(|(k, v)| (k.as_str().to_string(), *v))
        .collect();
    Ok(Json(TaxonomyView {
        categories: s.taxonomy.categories,
        feedback_types: s.taxonomy.feedback_types,
        priorities: s.taxonomy.priorities,
        tags: s.taxonomy.tags,
        departments,
        versions,
    }))
}

/// The current document of a kind (admin).
#[utoipa::path(get, path = "/v1/setup/{kind}", tag = "setup", operation_id = "setup_current",
    params(("kind" = Kind, Path, description = "taxonomy | departments | routing | sla | calendars | survey | targets")),
    responses((status = 200, body = setup::Versioned), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [])))]
pub async fn current(
    State(state): State<AppState>,
    principal: Principal,
    Path(kind): Path<String>,
) -> ApiResult<Json<setup::Versioned>> {
    principal.require(Perm::ManageSetup)?;
    let kind = kind_of(&kind)?;
    setup::version(&state.pool, kind, None)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("setup {kind}")))
}

/// A new version of a kind's document.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupChange {
    /// The whole document of the kind (as `GET /v1/setup/{kind}` returns it in `body`).
    #[schema(value_type = Object)]
    pub body: Value,
    /// Why (kept in the history).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: String,
    /// The version the editor started from: when another admin saved since, the change is refused
    /// (409) instead of silently undoing theirs.
    pub base_version: Option<i32>,
}

/// Replaces a kind's document (admin). A change that would leave the system broken is refused with
/// 422 `setup_refused` and `details.problems` (each with a code, the path and the code at fault).
#[utoipa::path(put, path = "/v1/setup/{kind}", tag = "setup", operation_id = "setup_put", request_body = SetupChange,
    params(("kind" = Kind, Path, description = "taxonomy | departments | routing | sla | calendars | survey | targets")),
    responses((status = 200, body = setup::Saved),
        (status = 409, description = "Another admin saved a newer version since `base_version`"),
        (status = 422, description = "The change would break the setup: `details.problems` says how"),
        (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn put(
    State(state): State<AppState>,
    principal: Principal,
    Path(kind): Path<String>,
    Json(change): Json<SetupChange>,
) -> ApiResult<Json<setup::Saved>> {
    principal.require(Perm::ManageSetup)?;
    let kind = kind_of(&kind)?;
    check_note(&change.note)?;
    check_base(&state, kind, change.base_version).await?;
    let saved = setup::save(
        &state.pool,
        kind,
        &change.body,
        &principal.actor(),
        change.note.trim(),
    )
    .await?;
    if saved.changed {
        announce(&state, kind, saved.version, &principal.actor()).await;
    }
    Ok(Json(saved))
}

/// A change's note is kept in the history: at most 500 characters.
fn check_note(note: &str) -> ApiResult<()> {
    if note.chars().count() > 500 {
        return Err(ApiError::field(
            "field_too_long",
            "note",
            "note is longer than 500 characters",
        ));
    }
    Ok(())
}

/// Refuses a change made from `base` when another admin has saved the kind since (409), instead of
/// silently undoing their change.
async fn check_base(state: &AppState, kind: Kind, base: Option<i32>) -> ApiResult<()> {
    if let Some(base) = base {
        let now = setup::versions(&state.pool)
            .await?
            .get(&kind)
            .copied()
            .unwrap_or(0);
        if now != base {
            return Err(ApiError::Detailed {
                status: StatusCode::CONFLICT,
                code: "stale_version",
                message: format!(
                    "{kind} is at version {now} now, not {base}: reload and apply the change again"
                ),
                field: Some("base_version".into()),
                details: Some(json!({ "current_version": now })),
            });
        }
    }
    Ok(())
}

/// One document of a change to several kinds at once.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupDocument {
    pub kind: Kind,
    /// The whole document of the kind (as `GET /v1/setup/{kind}` returns it in `body`).
    #[schema(value_type = Object)]
    pub body: Value,
    /// The version the editor started from (409 when another admin saved since).
    pub base_version: Option<i32>,
}

/// New versions of several kinds, saved together.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupChanges {
    /// One document per kind, each kind at most once.
    #[schema(min_items = 1, max_items = 5)]
    pub documents: Vec<SetupDocument>,
    /// Why (kept in the history of every kind changed).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: String,
}

/// Replaces several kinds' documents at once (admin), checked as the setup they make together: a new
/// category with the route that serves it, a removed category with its routes. All or none; a change
/// that would leave the system broken is refused with 422 `setup_refused` and `details.problems`.
#[utoipa::path(put, path = "/v1/setup", tag = "setup", operation_id = "setup_put_together", request_body = SetupChanges,
    responses((status = 200, body = Vec<setup::Saved>),
        (status = 400, description = "No document, or a kind named twice"),
        (status = 409, description = "Another admin saved a newer version of a kind since its `base_version`"),
        (status = 422, description = "The change would break the setup: `details.problems` says how"),
        (status = 401), (status = 403)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn put_together(
    State(state): State<AppState>,
    principal: Principal,
    Json(change): Json<SetupChanges>,
) -> ApiResult<Json<Vec<setup::Saved>>> {
    principal.require(Perm::ManageSetup)?;
    check_note(&change.note)?;
    if change.documents.is_empty() {
        return Err(ApiError::field(
            "missing_field",
            "documents",
            "name at least one document",
        ));
    }
    let mut kinds: Vec<Kind> = change.documents.iter().map(|d| d.kind).collect();
    kinds.sort();
    if kinds.windows(2).any(|w| w[0] == w[1]) {
        return Err(ApiError::field(
            "invalid_value",
            "documents",
            "each kind at most once",
        ));
    }
    for d in &change.documents {
        check_base(&state, d.kind, d.base_version).await?;
    }
    let documents: Vec<(Kind, Value)> = change
        .documents
        .into_iter()
        .map(|d| (d.kind, d.body))
        .collect();
    let saved = setup::save_together(
        &state.pool,
        &documents,
        &principal.actor(),
        change.note.trim(),
    )
    .await?;
    for s in saved.iter().filter(|s| s.changed) {
        announce(&state, s.kind, s.version, &principal.actor()).await;
    }
    Ok(Json(saved))
}

/// Tells the workers; a failure is logged only (they poll the versions as well).
pub(crate) async fn announce(state: &AppState, kind: Kind, version: i32, author: &str) {
    let changed = Changed {
        kind,
        version,
        author: author.to_string(),
    };
    if let Err(e) = setup::announce(&state.nats, &state.subjects, &changed).await {
        tracing::warn!(error = %e, %kind, version, "could not announce the setup change; workers pick it up on their next poll");
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// How many versions, newest first (default 50, at most 500).
    pub limit: Option<i64>,
}

/// A kind's versions, newest first, each with who, when, why and what changed (admin).
#[utoipa::path(get, path = "/v1/setup/{kind}/history", tag = "setup", operation_id = "setup_history",
    params(("kind" = Kind, Path, description = "taxonomy | departments | routing | sla | calendars | survey | targets"), HistoryQuery),
    responses((status = 200, body = Vec<setup::HistoryEntry>), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [])))]
pub async fn history(
    State(state): State<AppState>,
    principal: Principal,
    Path(kind): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<Vec<setup::HistoryEntry>>> {
    principal.require(Perm::ManageSetup)?;
    let kind = kind_of(&kind)?;
    Ok(Json(
        setup::history(&state.pool, kind, q.limit.unwrap_or(50)).await?,
    ))
}

/// Goes back one step: the previous version becomes current again, as a new version (admin). Refused
/// (422) when the other kinds changed since in a way the old version no longer fits.
#[utoipa::path(post, path = "/v1/setup/{kind}/rollback", tag = "setup", operation_id = "setup_rollback",
    params(("kind" = Kind, Path, description = "taxonomy | departments | routing | sla | calendars | survey | targets")),
    responses((status = 200, body = setup::Saved),
        (status = 409, description = "Only one version exists"),
        (status = 422, description = "The previous version no longer fits the rest of the setup"),
        (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn rollback(
    State(state): State<AppState>,
    principal: Principal,
    Path(kind): Path<String>,
) -> ApiResult<Json<setup::Saved>> {
    principal.require(Perm::ManageSetup)?;
    let kind = kind_of(&kind)?;
    let saved = setup::rollback(&state.pool, kind, &principal.actor()).await?;
    announce(&state, kind, saved.version, &principal.actor()).await;
    Ok(Json(saved))
}

/// Every kind's current document, keyed by kind: a backup, or another deployment's starting point
/// (each document goes back in with `PUT /v1/setup/{kind}`).
#[utoipa::path(get, path = "/v1/setup/export", tag = "setup", operation_id = "setup_export",
    responses((status = 200, body = Object), (status = 401), (status = 403)),
    security(("bearer" = []), ("session" = [])))]
pub async fn export(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<Value>> {
    principal.require(Perm::ManageSetup)?;
    let s = setup::load(&state.pool).await?;
    let mut out = serde_json::Map::new();
    for kind in Kind::ALL {
        out.insert(
            kind.as_str().to_string(),
            json!({ "version": s.versions.get(&kind), "body": s.body(kind) }),
        );
    }
    Ok(Json(Value::Object(out)))
}
