//! What the agents' inbox needs beyond the ticket itself: each user's unread marks, every row's SLA
//! clocks as the SLA worker keeps them, and personal saved views.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{Perm, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::AppState;

/// The clocks an agent watches on a row (docs/domain.md "Deadlines").
pub const ROW_CLOCKS: [&str; 3] = ["first_response", "proactive_contact", "resolution"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    FirstResponse,
    ProactiveContact,
    Resolution,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Counting down to `deadline`.
    Running,
    /// Waiting on the customer: stopped counting, `remaining_secs` kept.
    Paused,
    /// Stopped before its deadline.
    Met,
    /// Past its deadline (still running, or stopped late).
    Breached,
}

/// One SLA clock of a ticket as a row shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Clock {
    pub kind: ClockKind,
    pub state: ClockState,
    /// When a running clock breaches; null when paused or stopped.
    pub deadline: Option<DateTime<Utc>>,
    /// When a running clock turns to its warning period (in the past once warned); null otherwise.
    pub warn_at: Option<DateTime<Utc>>,
    /// Seconds left: to the deadline while running (negative once overdue), of the target while
    /// paused; null when stopped.
    pub remaining_secs: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ClockRow {
    ticket_id: Uuid,
    kind: String,
    state: String,
    deadline: Option<DateTime<Utc>>,
    warn_at: Option<DateTime<Utc>>,
    remaining_secs: Option<i64>,
}

/// The row clocks of `ids`, in `ROW_CLOCKS` order per ticket. A clock warned already reports as its
/// warning instant the last time the SLA worker saved it (that is, at or after the warning).
pub async fn clocks(pool: &PgPool, ids: &[Uuid]) -> ApiResult<HashMap<Uuid, Vec<Clock>>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<ClockRow> = sqlx::query_as(
        "select c.ticket_id, c.kind,
                case when c.breached_at is not null or (c.status = 'running' and c.due_at <= now()) then 'breached'
                     when c.status = 'paused' then 'paused'
                     when c.status = 'stopped' then 'met'
                     else 'running' end as state,
                case when c.status = 'running' then c.due_at end as deadline,
                case when c.status <> 'running' then null
                     when c.warned_fraction > 0 then least(c.updated_at, now())
                     else (select min(w.due_at) from sla_timers w
                           where w.ticket_id = c.ticket_id and w.clock = c.kind and w.event = 'warning'
                             and w.fired_at is null and w.version = c.version) end as warn_at,
                case when c.status = 'running' then floor(extract(epoch from c.due_at - now()))::bigint
                     when c.status = 'paused' then (c.target_us - c.elapsed_us) / 1000000 end as remaining_secs
         from sla_clocks c
         where c.ticket_id = any($1) and c.kind = any($2)
         order by c.ticket_id, array_position($2, c.kind::text)",
    )
    .bind(ids)
    .bind(&ROW_CLOCKS[..])
    .fetch_all(pool)
    .await?;
    let mut out: HashMap<Uuid, Vec<Clock>> = HashMap::new();
    for r in rows {
        let kind = match r.kind.as_str() {
            "first_response" => ClockKind::FirstResponse,
            "proactive_contact" => ClockKind::ProactiveContact,
            _ => ClockKind::Resolution,
        };
        let state = match r.state.as_str() {
            "breached" => ClockState::Breached,
            "paused" => ClockState::Paused,
            "met" => ClockState::Met,
            _ => ClockState::Running,
        };
        out.entry(r.ticket_id).or_default().push(Clock {
            kind,
            state,
            deadline: r.deadline,
            warn_at: r.warn_at,
            remaining_secs: r.remaining_secs,
        });
    }
    Ok(out)
}

/// Marks a ticket read for a user as of this moment (the statement's clock, so that inside an action's
/// transaction it falls after the action's own change and timeline entry).
pub async fn mark_read(
    conn: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
    ticket_id: Uuid,
) -> ApiResult<()> {
    sqlx::query(
        "insert into ticket_reads (user_id, ticket_id, read_at) values ($1, $2, clock_timestamp())
         on conflict (user_id, ticket_id) do update set read_at = excluded.read_at",
    )
    .bind(user_id)
    .bind(ticket_id)
    .execute(conn)
    .await?;
    Ok(())
}

fn user_id(principal: &Principal) -> ApiResult<Uuid> {
    principal.user_id.ok_or_else(|| {
        ApiError::forbidden(
            "no_user",
            "the bootstrap token is not a person: sign in as a user",
        )
    })
}

/// Marks a ticket read for the caller (opening its detail does the same).
#[utoipa::path(post, path = "/v1/tickets/{id}/read", tag = "tickets",
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 204), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn read(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    let me = user_id(&principal)?;
    let t = crate::tickets::readable(&state, &principal, &key).await?;
    mark_read(&state.pool, me, t.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Marks a ticket unread again for the caller.
#[utoipa::path(delete, path = "/v1/tickets/{id}/read", tag = "tickets",
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 204), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn unread(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    let me = user_id(&principal)?;
    let t = crate::tickets::readable(&state, &principal, &key).await?;
    sqlx::query("delete from ticket_reads where user_id = $1 and ticket_id = $2")
        .bind(me)
        .bind(t.id)
        .execute(&state.pool)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The filters a saved view keeps: the query parameters of `GET /v1/tickets` (no cursor or limit).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewQuery {
    #[schema(max_length = 200)]
    pub status: Option<String>,
    #[schema(max_length = 200)]
    pub department: Option<String>,
    #[schema(max_length = 200)]
    pub priority: Option<String>,
    pub sla: Option<crate::tickets::SlaFilter>,
    #[schema(max_length = 200)]
    pub owner: Option<String>,
    #[schema(max_length = 200)]
    pub channel: Option<String>,
    #[schema(max_length = 200)]
    pub category: Option<String>,
    #[schema(format = Date)]
    pub from: Option<String>,
    #[schema(format = Date)]
    pub to: Option<String>,
    #[schema(max_length = 200)]
    pub q: Option<String>,
    pub unread: Option<bool>,
    pub sort: Option<crate::tickets::Sort>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct View {
    pub id: Uuid,
    pub name: String,
    pub query: ViewQuery,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewView {
    /// Shown in the inbox's view list; saving a name again replaces that view.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    pub query: ViewQuery,
}

/// The caller's saved views, by name.
#[utoipa::path(get, path = "/v1/views", tag = "tickets",
    responses((status = 200, body = Vec<View>), (status = 401), (status = 403)),
    security(("bearer" = []), ("session" = [])))]
pub async fn views(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<View>>> {
    principal.require(Perm::ReadTickets)?;
    let me = user_id(&principal)?;
    let rows: Vec<(Uuid, String, sqlx::types::Json<ViewQuery>, DateTime<Utc>)> = sqlx::query_as(
        "select id, name, query, created_at from inbox_views where user_id = $1 order by name",
    )
    .bind(me)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(|(id, name, query, created_at)| View {
                id,
                name,
                query: query.0,
                created_at,
            })
            .collect(),
    ))
}

/// Saves a view (replacing the caller's view of the same name).
#[utoipa::path(post, path = "/v1/views", tag = "tickets", request_body = NewView,
    responses((status = 201, body = View), (status = 400), (status = 401), (status = 403)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn save_view(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewView>,
) -> ApiResult<(StatusCode, Json<View>)> {
    principal.require(Perm::ReadTickets)?;
    let me = user_id(&principal)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::field(
            "invalid_value",
            "name",
            "name must be 1-100 characters",
        ));
    }
    // The same checks as the list itself, so a saved view always loads.
    crate::tickets::validate(&state, &principal, &body.query)?;
    let views: i64 = sqlx::query_scalar("select count(*) from inbox_views where user_id = $1")
        .bind(me)
        .fetch_one(&state.pool)
        .await?;
    if views >= 100 {
        return Err(ApiError::conflict(
            "too_many_views",
            "a user keeps at most 100 views: delete one first",
        ));
    }
    let (id, created_at): (Uuid, DateTime<Utc>) = sqlx::query_as(
        "insert into inbox_views (id, user_id, name, query) values ($1, $2, $3, $4)
         on conflict (user_id, name) do update set query = excluded.query
         returning id, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(me)
    .bind(name)
    .bind(sqlx::types::Json(&body.query))
    .fetch_one(&state.pool)
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(View {
            id,
            name: name.to_string(),
            query: body.query,
            created_at,
        }),
    ))
}

/// Deletes one of the caller's views.
#[utoipa::path(delete, path = "/v1/views/{id}", tag = "tickets",
    params(("id" = Uuid, Path, description = "view id")),
    responses((status = 204), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn delete_view(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let me = user_id(&principal)?;
    let deleted = sqlx::query("delete from inbox_views where id = $1 and user_id = $2")
        .bind(id)
        .bind(me)
        .execute(&state.pool)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(ApiError::NotFound("view".into()));
    }
    Ok(StatusCode::NO_CONTENT)
}
