//! Reading tickets: the filtered, cursor-paginated list and the detail with timeline and SLA clocks.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use shared::lifecycle::Action;

use crate::auth::{Perm, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::inbox::ViewQuery;
use crate::model::{self, TicketFull, TicketRow, TicketSummary, COLUMNS};
use crate::period;
use crate::AppState;

/// Which SLA state to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaFilter {
    /// Some SLA clock breached or past due.
    Overdue,
    /// No clock breached or past due.
    OnTime,
}

/// The list's order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Newest submission first.
    #[default]
    Submitted,
    /// Nearest deadline of a running clock first (overdue ones first of all); tickets without a
    /// running clock follow, newest first.
    Deadline,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Ticket status, e.g. `open`; several comma-separated.
    #[param(max_length = 200)]
    pub status: Option<String>,
    /// Department (lead or any responsible one).
    #[param(max_length = 200)]
    pub department: Option<String>,
    /// Priority code; several comma-separated.
    #[param(max_length = 200)]
    pub priority: Option<String>,
    /// `overdue` (some SLA clock breached or past due) or `on_time`.
    pub sla: Option<SlaFilter>,
    /// Owner's user name; several comma-separated.
    #[param(max_length = 200)]
    pub owner: Option<String>,
    /// Channel code; several comma-separated.
    #[param(max_length = 200)]
    pub channel: Option<String>,
    /// Category code; several comma-separated.
    #[param(max_length = 200)]
    pub category: Option<String>,
    /// Submit date from (YYYY-MM-DD, inclusive, in `tz`).
    #[param(format = Date)]
    pub from: Option<String>,
    /// Submit date to (YYYY-MM-DD, inclusive, in `tz`).
    #[param(format = Date)]
    pub to: Option<String>,
    /// IANA time zone of `from`/`to` (default: the configured one).
    #[param(value_type = Option<crate::period::TimeZoneName>)]
    pub tz: Option<String>,
    /// Text in the description (Chinese or English, substring), or an exact ticket, customer or order number.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// `true`: only tickets unread by the caller.
    pub unread: Option<bool>,
    /// `submitted` (default, newest first) or `deadline` (nearest SLA deadline first).
    pub sort: Option<Sort>,
    /// The `next_cursor` of the previous page.
    #[param(
        pattern = r"^[sd]\.-?[0-9]{1,16}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    )]
    pub cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

impl ListQuery {
    /// The filters, as a saved view keeps them.
    pub fn filters(&self) -> ViewQuery {
        ViewQuery {
            status: self.status.clone(),
            department: self.department.clone(),
            priority: self.priority.clone(),
            sla: self.sla,
            owner: self.owner.clone(),
            channel: self.channel.clone(),
            category: self.category.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            q: self.q.clone(),
            unread: self.unread,
            sort: self.sort,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TicketPage {
    pub items: Vec<TicketSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A cursor: where the previous page ended, in the order it was listed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cursor {
    /// After (submitted_at, id), newest first.
    Submitted(DateTime<Utc>, Uuid),
    /// After (deadline, id), nearest deadline first.
    Deadline(DateTime<Utc>, Uuid),
}

/// A cursor reads `s.<micros>.<id>` (newest-first order) or `d.<micros>.<id>` (deadline order): the
/// last row's time and id, nothing a caller could not see already. Every string of that shape is a
/// cursor this api accepts (up to 16 digits of microseconds keep any value a valid instant), so the
/// OpenAPI document states it exactly as a pattern on `cursor`.
fn encode_cursor(c: Cursor) -> String {
    match c {
        Cursor::Submitted(at, id) => format!("s.{}.{id}", at.timestamp_micros()),
        Cursor::Deadline(at, id) => format!("d.{}.{id}", at.timestamp_micros()),
    }
}

fn decode_cursor(s: &str) -> ApiResult<Cursor> {
    let bad = || {
        ApiError::field(
            "invalid_cursor",
            "cursor",
            "cursor is not one this api issued",
        )
    };
    let mut parts = s.splitn(3, '.');
    let (kind, micros, id) = (
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
    );
    if micros.trim_start_matches('-').len() > 16 {
        return Err(bad());
    }
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    match kind {
        "s" => Ok(Cursor::Submitted(at, id)),
        "d" => Ok(Cursor::Deadline(at, id)),
        _ => Err(bad()),
    }
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

/// Refuses filters the list would refuse (a department-bound caller naming another department, a
/// bad date), so a saved view always loads.
pub fn validate(state: &AppState, principal: &Principal, f: &ViewQuery) -> ApiResult<()> {
    if let Some(d) = f.department.as_deref().filter(|d| !d.is_empty()) {
        if principal.role.department_bound() && principal.department.as_deref() != Some(d) {
            return Err(ApiError::forbidden(
                "department",
                "you may list only your own department",
            ));
        }
    }
    let _ = state;
    for (field, value) in [("from", &f.from), ("to", &f.to)] {
        if let Some(v) = value.as_deref() {
            period::parse_date(field, v)?;
        }
    }
    Ok(())
}

/// The filters of `f` as SQL over `tickets t` joined with the caller's reads `r`.
fn push_filters(
    qb: &mut QueryBuilder<'_, Postgres>,
    state: &AppState,
    principal: &Principal,
    f: &ViewQuery,
    tz: chrono_tz::Tz,
) -> ApiResult<()> {
    validate(state, principal, f)?;
    push_visibility(qb, principal);
    if let Some(d) = f.department.as_deref().filter(|d| !d.is_empty()) {
        qb.push(" and (t.lead_department = ")
            .push_bind(d.to_string())
            .push(" or ")
            .push_bind(d.to_string())
            .push(" = any(t.departments))");
    }
    for (column, value) in [
        ("t.status", &f.status),
        ("t.priority", &f.priority),
        ("t.owner", &f.owner),
        ("t.channel", &f.channel),
        ("t.category", &f.category),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            qb.push(format!(" and {column} = any("))
                .push_bind(list_of(v))
                .push(")");
        }
    }
    if let Some(sla) = f.sla {
        qb.push(if sla == SlaFilter::Overdue {
            " and exists"
        } else {
            " and not exists"
        })
        .push(" (select 1 from sla_ticket_clocks c where c.ticket_id = t.id and c.overdue)");
    }
    if let Some(from) = f.from.as_deref() {
        let d = period::parse_date("from", from)?;
        qb.push(" and t.submitted_at >= ")
            .push_bind(period::day_start(d, tz));
    }
    if let Some(to) = f.to.as_deref() {
        let d = period::parse_date("to", to)?;
        let (_, end) = period::range(d, d, tz)?;
        qb.push(" and t.submitted_at < ").push_bind(end);
    }
    if let Some(text) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
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
    if f.unread == Some(true) {
        qb.push(" and ").push(UNREAD);
    }
    Ok(())
}

/// A listed ticket with what the list adds to it.
#[derive(sqlx::FromRow)]
struct Listed {
    #[sqlx(flatten)]
    row: TicketRow,
    unread: bool,
    deadline: Option<DateTime<Utc>>,
}

/// `select` of a listed row: the ticket, whether the caller has read it since it last changed, and
/// (for the deadline order) its nearest running deadline.
fn select_listed(deadline: &str) -> String {
    format!("select {COLUMNS}, {UNREAD} as unread, {deadline} as deadline")
}

/// Whether the reader `r` has not seen the ticket `t` as it is: never opened, or since then the ticket
/// changed or someone wrote on its timeline (the SLA worker's deadline bookkeeping aside: the clocks
/// show that).
pub const UNREAD: &str = "(r.read_at is null or t.updated_at > r.read_at
    or exists (select 1 from ticket_events e where e.ticket_id = t.id and e.at > r.read_at
               and e.actor <> 'worker:sla'))";

fn push_reads(qb: &mut QueryBuilder<'_, Postgres>, principal: &Principal) {
    qb.push(" left join ticket_reads r on r.ticket_id = t.id and r.user_id = ")
        .push_bind(principal.user_id);
}

/// Tickets with a running row clock, nearest deadline first; each ticket once, at its nearest one.
/// Walks the running-clock deadline index, so the first page costs about `limit` look-ups.
async fn by_deadline(
    state: &AppState,
    principal: &Principal,
    f: &ViewQuery,
    tz: chrono_tz::Tz,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> ApiResult<Vec<Listed>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(select_listed("c.due_at"));
    qb.push(" from sla_clocks c join tickets t on t.id = c.ticket_id");
    push_reads(&mut qb, principal);
    qb.push(" where c.status = 'running' and c.kind = any(")
        .push_bind(&crate::inbox::ROW_CLOCKS[..])
        .push(") and not exists (select 1 from sla_clocks n where n.ticket_id = c.ticket_id and n.status = 'running' and n.kind = any(")
        .push_bind(&crate::inbox::ROW_CLOCKS[..])
        .push(") and (n.due_at, n.kind) < (c.due_at, c.kind))");
    push_filters(&mut qb, state, principal, f, tz)?;
    if let Some((at, id)) = after {
        qb.push(" and (c.due_at, t.id) > (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    qb.push(" order by c.due_at, t.id limit ").push_bind(limit);
    Ok(qb.build_query_as().fetch_all(&state.pool).await?)
}

/// Tickets newest first; with `without_running_clock`, only those no row clock is running for.
#[allow(clippy::too_many_arguments)]
async fn by_submitted(
    state: &AppState,
    principal: &Principal,
    f: &ViewQuery,
    tz: chrono_tz::Tz,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
    without_running_clock: bool,
) -> ApiResult<Vec<Listed>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(select_listed("null::timestamptz"));
    qb.push(" from tickets t");
    push_reads(&mut qb, principal);
    qb.push(" where true");
    push_filters(&mut qb, state, principal, f, tz)?;
    if without_running_clock {
        qb.push(" and not exists (select 1 from sla_clocks c where c.ticket_id = t.id and c.status = 'running' and c.kind = any(")
            .push_bind(&crate::inbox::ROW_CLOCKS[..])
            .push("))");
    }
    if let Some((at, id)) = after {
        qb.push(" and (t.submitted_at, t.id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    qb.push(" order by t.submitted_at desc, t.id desc limit ")
        .push_bind(limit);
    Ok(qb.build_query_as().fetch_all(&state.pool).await?)
}

/// Rows as the list shows them: masked, a description excerpt, unread mark and row clocks.
pub async fn summaries(
    state: &AppState,
    rows: Vec<(TicketRow, bool)>,
) -> ApiResult<Vec<TicketSummary>> {
    let ids: Vec<Uuid> = rows.iter().map(|(r, _)| r.id).collect();
    let mut clocks = crate::inbox::clocks(&state.pool, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|(row, unread)| {
            let mut s = TicketSummary::from(&row);
            s.description = model::excerpt(&s.description, model::EXCERPT_CHARS);
            s.unread = unread;
            s.clocks = clocks.remove(&row.id).unwrap_or_default();
            s
        })
        .collect())
}

/// Lists tickets, newest first or nearest deadline first, with per-user unread marks and SLA clocks.
#[utoipa::path(get, path = "/v1/tickets", tag = "tickets", params(ListQuery),
    responses((status = 200, body = TicketPage), (status = 400), (status = 401), (status = 403)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<TicketPage>> {
    principal.require(Perm::ReadTickets)?;
    // What the document promises (maxLength 200) is what is accepted.
    for (field, value) in [
        ("status", &q.status),
        ("department", &q.department),
        ("priority", &q.priority),
        ("owner", &q.owner),
        ("channel", &q.channel),
        ("category", &q.category),
        ("q", &q.q),
    ] {
        if value.as_deref().is_some_and(|v| v.chars().count() > 200) {
            return Err(ApiError::field(
                "field_too_long",
                field,
                format!("{field} is longer than 200 characters"),
            ));
        }
        // Postgres text cannot hold a NUL: such a filter matches nothing, and says so.
        if value.as_deref().is_some_and(|v| v.contains('\0')) {
            return Err(ApiError::field(
                "invalid_value",
                field,
                format!("{field} holds a NUL character"),
            ));
        }
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::field(
            "invalid_value",
            "limit",
            "limit must be between 1 and 200",
        ));
    }
    let tz = period::parse_tz(q.tz.as_deref(), state.tz)?;
    let f = q.filters();
    let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut rows: Vec<Listed> = Vec::new();
    match (q.sort.unwrap_or_default(), cursor) {
        (Sort::Submitted, c) => {
            let after = match c {
                Some(Cursor::Submitted(at, id)) => Some((at, id)),
                Some(Cursor::Deadline(..)) => {
                    return Err(ApiError::field(
                        "invalid_cursor",
                        "cursor",
                        "the cursor is of another sort order",
                    ))
                }
                None => None,
            };
            rows = by_submitted(&state, &principal, &f, tz, after, limit + 1, false).await?;
        }
        (Sort::Deadline, c) => {
            // Tickets with a running clock first; then, in a second phase, the rest newest first.
            let (deadline_after, submitted_after) = match c {
                None => (None, None),
                Some(Cursor::Deadline(at, id)) => (Some((at, id)), None),
                Some(Cursor::Submitted(at, id)) => (None, Some((at, id))),
            };
            if submitted_after.is_none() {
                rows = by_deadline(&state, &principal, &f, tz, deadline_after, limit + 1).await?;
            }
            if (rows.len() as i64) <= limit {
                let more = limit + 1 - rows.len() as i64;
                rows.extend(
                    by_submitted(&state, &principal, &f, tz, submitted_after, more, true).await?,
                );
            }
        }
    }
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|l| {
            encode_cursor(match l.deadline {
                Some(at) => Cursor::Deadline(at, l.row.id),
                None => Cursor::Submitted(l.row.submitted_at, l.row.id),
            })
        })
    } else {
        None
    };
    let items = summaries(
        &state,
        rows.into_iter().map(|l| (l.row, l.unread)).collect(),
    )
    .await?;
    Ok(Json(TicketPage { items, next_cursor }))
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
    security(("bearer" = []), ("session" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<Json<TicketDetail>> {
    let t = readable(&state, &principal, &key).await?;
    let mut ticket = TicketFull::from(&t);
    ticket.summary.clocks = crate::inbox::clocks(&state.pool, &[t.id])
        .await?
        .remove(&t.id)
        .unwrap_or_default();
    // Opening a ticket reads it.
    if let Some(me) = principal.user_id {
        crate::inbox::mark_read(&state.pool, me, t.id).await?;
    }
    Ok(Json(TicketDetail {
        allowed_actions: crate::actions::allowed_for(&principal, &t),
        ticket,
        timeline: timeline(&state, t.id).await?,
        sla_clocks: sla_clocks(&state, t.id).await?,
    }))
}
