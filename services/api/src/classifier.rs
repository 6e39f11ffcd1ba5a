//! The classifier as the business's own: an admin asks for a model trained on its history (imported
//! tickets with their categories, inspectors' corrections), reads its held-out figures beside the live
//! model's and the baseline's on the same split, and adopts it or not.
//!
//! The api only records and announces: training runs in the router (which owns the model code), one
//! replica per request; an adoption is announced to every router replica, which switch without a
//! restart (`shared::messages::classifier`).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use shared::messages::classifier::{ModelAdopted, TrainRequested, ADOPTED_SUBJECT, TRAIN_SUBJECT};
use shared::outbox::OutboxMessage;

use crate::auth::{Perm, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::AppState;

/// A trained (or training) model and its figures.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ModelInfo {
    pub version: i64,
    /// requested | training | trained | failed | adopted | retired.
    pub status: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub trained_at: Option<DateTime<Utc>>,
    /// Labelled examples used (training and held out).
    pub examples: Option<i32>,
    /// `{train, held_out, split, candidate, live, baseline, better_than_live}`; each of the three with
    /// `macro_f1`, `accuracy` and per-label `precision`/`recall`/`f1`/`support`.
    #[schema(value_type = Option<Object>)]
    pub evaluation: Option<Value>,
    pub error: Option<String>,
    pub adopted_by: Option<String>,
    pub adopted_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "version, status, requested_by, requested_at, trained_at, examples, evaluation,
    error, adopted_by, adopted_at";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelList {
    /// The adopted model's version, none while the shipped model is in force.
    pub adopted: Option<i64>,
    pub models: Vec<ModelInfo>,
}

async fn one(state: &AppState, version: i64) -> ApiResult<ModelInfo> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from classifier_models where version = $1"
    ))
    .bind(version)
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| ApiError::NotFound("model".into()))
}

/// Asks the router to train a new category model; answers at once (202), the figures follow.
#[utoipa::path(post, path = "/v1/classifier/trainings", tag = "classifier", operation_id = "classifier_train",
    responses((status = 202, body = ModelInfo), (status = 401), (status = 403)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn train(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<(StatusCode, Json<ModelInfo>)> {
    principal.require(Perm::TrainClassifier)?;
    let mut tx = state.pool.begin().await?;
    let version: i64 = sqlx::query_scalar(
        "insert into classifier_models (requested_by) values ($1) returning version",
    )
    .bind(principal.actor())
    .fetch_one(&mut *tx)
    .await?;
    let message = OutboxMessage::json(
        state.subjects.subject(TRAIN_SUBJECT),
        &TrainRequested { version },
    )?;
    shared::outbox::enqueue(&mut tx, &[message]).await?;
    tx.commit().await?;
    state.relay.notify_one();
    Ok((StatusCode::ACCEPTED, Json(one(&state, version).await?)))
}

/// Every model, newest first.
#[utoipa::path(get, path = "/v1/classifier/models", tag = "classifier", operation_id = "classifier_list",
    responses((status = 200, body = ModelList), (status = 401), (status = 403)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<ModelList>> {
    principal.require(Perm::TrainClassifier)?;
    let models: Vec<ModelInfo> = sqlx::query_as(&format!(
        "select {COLUMNS} from classifier_models order by version desc limit 100"
    ))
    .fetch_all(&state.pool)
    .await?;
    let adopted: Option<i64> = sqlx::query_scalar(
        "select version from classifier_models where dimension = 'category' and status = 'adopted'",
    )
    .fetch_optional(&state.pool)
    .await?;
    Ok(Json(ModelList { adopted, models }))
}

/// One model with its figures.
#[utoipa::path(get, path = "/v1/classifier/models/{version}", tag = "classifier", operation_id = "classifier_show",
    params(("version" = i64, Path)),
    responses((status = 200, body = ModelInfo), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [])))]
pub async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(version): Path<i64>,
) -> ApiResult<Json<ModelInfo>> {
    principal.require(Perm::TrainClassifier)?;
    Ok(Json(one(&state, version).await?))
}

/// Adopts a trained model (or a retired one again, to roll back): the router replicas switch to it.
#[utoipa::path(post, path = "/v1/classifier/models/{version}/adopt", tag = "classifier", operation_id = "classifier_adopt",
    params(("version" = i64, Path)),
    responses((status = 200, body = ModelInfo), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn adopt(
    State(state): State<AppState>,
    principal: Principal,
    Path(version): Path<i64>,
) -> ApiResult<Json<ModelInfo>> {
    principal.require(Perm::TrainClassifier)?;
    let mut tx = state.pool.begin().await?;
    // One adoption at a time: the lock orders concurrent adoptions, the partial unique index backs it.
    sqlx::query("lock table classifier_models in share row exclusive mode")
        .execute(&mut *tx)
        .await?;
    let status: Option<String> =
        sqlx::query_scalar("select status from classifier_models where version = $1")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
    match status.as_deref() {
        None => return Err(ApiError::NotFound("model".into())),
        Some("trained" | "retired") => {}
        Some("adopted") => {
            tx.rollback().await?;
            return Ok(Json(one(&state, version).await?));
        }
        Some(other) => {
            return Err(ApiError::conflict(
                "not_trained",
                format!("model v{version} is {other}; only a trained model can be adopted"),
            ))
        }
    }
    sqlx::query(
        "update classifier_models set status = 'retired' where dimension = 'category' and status = 'adopted'",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "update classifier_models set status = 'adopted', adopted_by = $2, adopted_at = now() where version = $1",
    )
    .bind(version)
    .bind(principal.actor())
    .execute(&mut *tx)
    .await?;
    let message = OutboxMessage::json(
        state.subjects.subject(ADOPTED_SUBJECT),
        &ModelAdopted { version },
    )?;
    shared::outbox::enqueue(&mut tx, &[message]).await?;
    tx.commit().await?;
    state.relay.notify_one();
    Ok(Json(one(&state, version).await?))
}
