//! Reading tickets: the filtered, cursor-paginated list and the detail with timeline and SLA clocks.

use axum::extract::{Path, Query, State};
use axum::Json;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use shared::lifecycle::Action;

use crate::auth::{Perm, Principal};
use crate::error::{ApiError, ApiResult};
use crate::model::{self, TicketFull, TicketRow, TicketSummary, COLUMNS};
use crate::period;
use crate::AppState;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Ticket status, e.g. `open`; several comma-separated.
    pub status: Option<String>,
    /// Department (lead or any responsible one).
    pub department: Option<String>,
    pub priority: Option<String>,
    /// `overdue` (some SLA clock breached or past due) or `on_time`.
    pub sla: Option<String>,
    pub owner: Option<String>,
    pub channel: Option<String>,
    pub category: Option<String>,
    /// Submit date from (YYYY-MM-DD, inclusive, in `tz`).
    pub from: Option<String>,
    /// Submit date to (YYYY-MM-DD, inclusive, in `tz`).
    pub to: Option<String>,
    pub tz: Option<String>,
    /// Text in the description (Chinese or English, substring), or an exact ticket, customer or order number.
    pub q: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TicketPage {
    pub items: Vec<TicketSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn encode_cursor(t: &TicketRow) -> String {
    let raw = format!("{}|{}", t.submitted_at.timestamp_micros(), t.id);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(s: &str) -> ApiResult<(DateTime<Utc>, Uuid)> {
    let bad = || ApiError::bad("invalid_cursor", "cursor is not one this api issued");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (micros, id) = raw.split_once('|').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    Ok((
        DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
        Uuid::parse_str(id).map_err(|_| bad())?,
    ))
}

/// `%`, `_` and `\` are literal in a search.
fn like_pattern(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn list_of(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Adds the caller's department restriction to a query over `tickets t`.
pub fn push_visibility(qb: &mut QueryBuilder<'_, Postgres>, principal: &Principal) {
    if principal.role.department_bound() {
        let dept = principal.department.clone().unwrap_or_default();
        qb.push(" and (t.lead_department = ")
            .push_bind(dept.clone())
            .push(" or ")
            .push_bind(dept)
            .push(" = any(t.departments))");
    }
}

/// Lists tickets, newest first.
#[utoipa::path(get, path = "/v1/tickets", tag = "tickets", params(ListQuery),
    responses((status = 200, body = TicketPage), (status = 400), (status = 401), (status = 403)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<TicketPage>> {
    principal.require(Perm::ReadTickets)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad(
            "invalid_value",
            "limit must be between 1 and 200",
        ));
    }
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("select {COLUMNS} from tickets t where true"));
    push_visibility(&mut qb, &principal);
    if let Some(d) = q.department.as_deref().filter(|d| !d.is_empty()) {
        if principal.role.department_bound() && principal.department.as_deref() != Some(d) {
            return Err(ApiError::Forbidden(
                "you may list only your own department".into(),
            ));
        }
        qb.push(" and (t.lead_department = ")
            .push_bind(d.to_string())
            .push(" or ")
            .push_bind(d.to_string())
            .push(" = any(t.departments))");
    }
    for (column, value) in [
        ("t.status", &q.status),
        ("t.priority", &q.priority),
        ("t.owner", &q.owner),
        ("t.channel", &q.channel),
        ("t.category", &q.category),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            qb.push(format!(" and {column} = any("))
                .push_bind(list_of(v))
                .push(")");
        }
    }
    match q.sla.as_deref() {
        None | Some("") => {}
        Some(state_name @ ("overdue" | "on_time")) => {
            if state.has_sla_view {
                qb.push(if state_name == "overdue" {
                    " and exists"
                } else {
                    " and not exists"
                })
                .push(
                    " (select 1 from sla_ticket_clocks c where c.ticket_id = t.id and c.overdue)",
                );
            } else if state_name == "overdue" {
                qb.push(" and false");
            }
        }
        Some(other) => {
            return Err(ApiError::bad(
                "invalid_value",
                format!("sla must be overdue or on_time, not {other}"),
            ))
        }
    }
    let tz = period::parse_tz(q.tz.as_deref(), state.tz)?;
    if let Some(from) = q.from.as_deref() {
        let d = period::parse_date("from", from)?;
        qb.push(" and t.submitted_at >= ")
            .push_bind(period::day_start(d, tz));
    }
    if let Some(to) = q.to.as_deref() {
        let d = period::parse_date("to", to)?;
        let (_, end) = period::range(d, d, tz)?;
        qb.push(" and t.submitted_at < ").push_bind(end);
    }
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        qb.push(
            " and (t.id in (select s.ticket_id from ticket_search s where s.description ilike ",
        )
        .push_bind(like_pattern(text))
        .push(")")
        .push(" or t.ticket_no = ")
        .push_bind(text.to_string())
        .push(" or t.customer_id = ")
        .push_bind(text.to_string())
        .push(" or t.order_number = ")
        .push_bind(text.to_string())
        .push(")");
    }
    if let Some(cursor) = q.cursor.as_deref() {
        let (at, id) = decode_cursor(cursor)?;
        qb.push(" and (t.submitted_at, t.id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    qb.push(" order by t.submitted_at desc, t.id desc limit ")
        .push_bind(limit + 1);
    let mut rows: Vec<TicketRow> = qb.build_query_as().fetch_all(&state.pool).await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(encode_cursor)
    } else {
        None
    };
    Ok(Json(TicketPage {
        items: rows.iter().map(TicketSummary::from).collect(),
        next_cursor,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimelineItem {
    pub kind: String,
    pub actor: String,
    pub at: DateTime<Utc>,
    pub data: serde_json::Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TicketDetail {
    pub ticket: TicketFull,
    /// The whole append-only timeline in order.
    pub timeline: Vec<TimelineItem>,
    /// Every SLA clock of the ticket as the SLA worker keeps it (`sla_ticket_clocks`).
    #[schema(value_type = Vec<Object>)]
    pub sla_clocks: serde_json::Value,
    /// What the caller may do to the ticket now (as `GET /v1/tickets/{id}/actions`).
    pub allowed_actions: Vec<Action>,
}

pub async fn sla_clocks(state: &AppState, ticket_id: Uuid) -> ApiResult<serde_json::Value> {
    if !state.has_sla_view {
        return Ok(serde_json::Value::Array(Vec::new()));
    }
    let v: serde_json::Value = sqlx::query_scalar(
        "select coalesce(jsonb_agg(to_jsonb(c) - 'ticket_id' order by c.kind), '[]'::jsonb)
         from sla_ticket_clocks c where c.ticket_id = $1",
    )
    .bind(ticket_id)
    .fetch_one(&state.pool)
    .await?;
    Ok(v)
}

/// Loads a ticket the caller may read; another department's ticket answers as a missing one.
pub async fn readable(state: &AppState, principal: &Principal, key: &str) -> ApiResult<TicketRow> {
    principal.require(Perm::ReadTickets)?;
    let mut conn = state.pool.acquire().await?;
    let t = model::load(&mut conn, key, false).await?;
    principal.check_department(t.lead_department.as_deref(), &t.departments)?;
    Ok(t)
}

pub async fn timeline(state: &AppState, id: Uuid) -> ApiResult<Vec<TimelineItem>> {
    Ok(shared::timeline::for_ticket(&state.pool, id)
        .await?
        .into_iter()
        .map(|e| TimelineItem {
            kind: e.kind,
            actor: e.actor,
            at: e.at,
            data: e.data,
        })
        .collect())
}

/// One ticket with its whole timeline and every SLA clock.
#[utoipa::path(get, path = "/v1/tickets/{id}", tag = "tickets",
    params(("id" = String, Path, description = "ticket id or ticket number")),
    responses((status = 200, body = TicketDetail), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<Json<TicketDetail>> {
    let t = readable(&state, &principal, &key).await?;
    Ok(Json(TicketDetail {
        allowed_actions: crate::actions::allowed_for(&principal, &t),
        ticket: (&t).into(),
        timeline: timeline(&state, t.id).await?,
        sla_clocks: sla_clocks(&state, t.id).await?,
    }))
}
