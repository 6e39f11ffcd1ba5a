//! The numbers (docs/domain.md "Metrics", definitions exact):
//! - tickets of a period are those whose submit time falls in it (in the report's time zone);
//! - avg first response = mean of (first reply − submit) over tickets with a reply;
//! - avg resolution = mean of (resolved − submit) over resolved tickets;
//! - resolved = resolution full (完全解决) or partial (部分解决); an "unresolved" outcome is not resolved;
//! - resolution rate = resolved ÷ all tickets × 100; first-contact resolution rate = tickets resolved at
//!   first contact ÷ all tickets × 100;
//! - CSAT = satisfied answers ÷ survey answers × 100; NPS = % promoters (9–10) − % detractors (0–6).
//!
//! Per-ticket contributions are computed once, in SQL (`report_delta_row`), and summed into hourly
//! rollups per dimension; a report reads at most (hours × keys) rollup rows plus the few deltas not
//! folded yet. Filters the rollups cannot answer (a department and another dimension, a time zone with
//! a non-whole-hour offset) are answered by a scan of the period's tickets with the same definitions.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::auth::{Perm, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Query};
use crate::model::{TicketRow, TicketSummary, COLUMNS};
use crate::period;
use crate::AppState;
use shared::setup::ReportTargets as Targets;

/// Folds up to 50,000 pending deltas into the rollups; returns how many were folded.
pub async fn fold(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select report_fold(50000)")
        .fetch_one(pool)
        .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Day,
    Week,
    Month,
    Agent,
    Category,
    Channel,
    Department,
}

impl GroupBy {
    fn dim(self) -> Option<&'static str> {
        match self {
            GroupBy::Agent => Some("agent"),
            GroupBy::Category => Some("category"),
            GroupBy::Channel => Some("channel"),
            GroupBy::Department => Some("department"),
            _ => None,
        }
    }

    /// The group label of a time bucket, as SQL over `expr` (a timestamptz) in time zone `$tz`.
    fn time_label(self, expr: &str, tz: &str) -> String {
        match self {
            GroupBy::Day => format!("to_char({expr} at time zone '{tz}', 'YYYY-MM-DD')"),
            GroupBy::Week => {
                format!("to_char(date_trunc('week', {expr} at time zone '{tz}'), 'IYYY-\"W\"IW')")
            }
            _ => format!("to_char({expr} at time zone '{tz}', 'YYYY-MM')"),
        }
    }

    /// Every label of a time grouping between two local dates, so empty periods show as zeros.
    fn labels(self, from: NaiveDate, to: NaiveDate) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut d = from;
        while d <= to {
            let label = match self {
                GroupBy::Day => d.format("%Y-%m-%d").to_string(),
                GroupBy::Week => {
                    let w = d.iso_week();
                    format!("{}-W{:02}", w.year(), w.week())
                }
                _ => d.format("%Y-%m").to_string(),
            };
            if out.last() != Some(&label) {
                out.push(label);
            }
            d += Duration::days(1);
        }
        out
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// First submit date, YYYY-MM-DD (inclusive).
    #[param(format = Date)]
    pub from: String,
    /// Last submit date, YYYY-MM-DD (inclusive).
    #[param(format = Date)]
    pub to: String,
    /// IANA time zone of the dates (default: the configured one, Asia/Shanghai).
    #[param(value_type = Option<crate::period::TimeZoneName>)]
    pub tz: Option<String>,
    /// day | week (ISO weeks) | month | agent | category | channel | department (default day).
    pub group_by: Option<GroupBy>,
    /// Only tickets whose lead department is this one (supervisors always see only their own).
    pub department: Option<String>,
    /// json (default) | csv | xlsx.
    #[param(value_type = Option<ExportFormat>)]
    pub format: Option<String>,
}

/// How a report is answered (for the OpenAPI document; the handlers read the string).
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Csv,
    Xlsx,
}

/// One target: its configured value, the group's value and whether it was met (null without data).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TargetCheck {
    pub target: f64,
    pub value: Option<f64>,
    pub met: Option<bool>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupTargets {
    /// Average first response ≤ target minutes.
    pub first_response: TargetCheck,
    /// Average resolution ≤ target minutes.
    pub resolution: TargetCheck,
    /// Resolution rate ≥ target %.
    pub resolution_rate: TargetCheck,
    /// First-contact resolution rate ≥ target %.
    pub first_contact_resolution: TargetCheck,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupNumbers {
    /// The period label (`2025-01-02`, `2025-W01`, `2025-01`) or the agent/category/channel/department
    /// code (empty = none yet).
    pub key: String,
    pub tickets: i64,
    pub resolved: i64,
    pub avg_first_response_minutes: Option<f64>,
    pub avg_resolution_minutes: Option<f64>,
    pub resolution_rate: Option<f64>,
    pub first_contact_resolution_rate: Option<f64>,
    pub csat: Option<f64>,
    pub nps: Option<f64>,
    pub survey_answers: i64,
    pub targets: GroupTargets,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub from: String,
    pub to: String,
    pub tz: String,
    pub group_by: GroupBy,
    pub department: Option<String>,
    /// `rollup` or `scan`: where the numbers came from (both give the same numbers).
    pub source: &'static str,
    pub groups: Vec<GroupNumbers>,
    pub total: GroupNumbers,
}

/// Raw sums of one group.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Sums {
    pub key: String,
    pub tickets: i64,
    pub resolved: i64,
    pub resolution_secs: f64,
    pub first_responses: i64,
    pub first_response_secs: f64,
    pub fcr: i64,
    pub survey_answers: i64,
    pub satisfied: i64,
    pub nps_answers: i64,
    pub promoters: i64,
    pub detractors: i64,
}

impl Sums {
    fn add(&mut self, o: &Sums) {
        self.tickets += o.tickets;
        self.resolved += o.resolved;
        self.resolution_secs += o.resolution_secs;
        self.first_responses += o.first_responses;
        self.first_response_secs += o.first_response_secs;
        self.fcr += o.fcr;
        self.survey_answers += o.survey_answers;
        self.satisfied += o.satisfied;
        self.nps_answers += o.nps_answers;
        self.promoters += o.promoters;
        self.detractors += o.detractors;
    }

    fn numbers(&self, targets: &Targets) -> GroupNumbers {
        let ratio = |num: f64, den: i64| (den > 0).then(|| round2(num / den as f64));
        let pct = |num: i64, den: i64| (den > 0).then(|| round2(num as f64 * 100.0 / den as f64));
        let avg_fr = ratio(self.first_response_secs / 60.0, self.first_responses);
        let avg_res = ratio(self.resolution_secs / 60.0, self.resolved);
        let rate = pct(self.resolved, self.tickets);
        let fcr = pct(self.fcr, self.tickets);
        let at_most = |target: f64, value: Option<f64>| TargetCheck {
            target,
            value,
            met: value.map(|v| v <= target),
        };
        let at_least = |target: f64, value: Option<f64>| TargetCheck {
            target,
            value,
            met: value.map(|v| v >= target),
        };
        GroupNumbers {
            key: self.key.clone(),
            tickets: self.tickets,
            resolved: self.resolved,
            avg_first_response_minutes: avg_fr,
            avg_resolution_minutes: avg_res,
            resolution_rate: rate,
            first_contact_resolution_rate: fcr,
            csat: pct(self.satisfied, self.survey_answers),
            nps: (self.nps_answers > 0).then(|| {
                round2((self.promoters - self.detractors) as f64 * 100.0 / self.nps_answers as f64)
            }),
            survey_answers: self.survey_answers,
            targets: GroupTargets {
                first_response: at_most(targets.first_response_minutes, avg_fr),
                resolution: at_most(targets.resolution_minutes, avg_res),
                resolution_rate: at_least(targets.resolution_rate, rate),
                first_contact_resolution: at_least(targets.first_contact_resolution_rate, fcr),
            },
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

const METRICS: [&str; 11] = [
    "tickets",
    "resolved",
    "resolution_secs",
    "first_responses",
    "first_response_secs",
    "fcr",
    "survey_answers",
    "satisfied",
    "nps_answers",
    "promoters",
    "detractors",
];

fn metric_sums() -> String {
    METRICS
        .iter()
        .map(|m| {
            let cast = if m.ends_with("_secs") {
                "float8"
            } else {
                "bigint"
            };
            format!("coalesce(sum({m}), 0)::{cast} as {m}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a report covers.
#[derive(Debug, Clone)]
pub struct Scope {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub tz: Tz,
    pub group_by: GroupBy,
    pub department: Option<String>,
}

/// Sums per group and where they came from.
pub async fn compute(
    pool: &PgPool,
    scope: &Scope,
) -> Result<(Vec<Sums>, &'static str), sqlx::Error> {
    let tz_name = scope.tz.name();
    let dim = scope.group_by.dim();
    let rollup_ok = period::whole_hour_offsets(scope.tz, scope.start, scope.end)
        && (scope.department.is_none() || dim.is_none() || dim == Some("department"));
    let metrics = METRICS.join(", ");
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new("with src as (");
    let source = if rollup_ok {
        // Which rollup rows: the dimension grouped by, or one key of `department`/`all` for time groupings.
        let (rdim, rkey, dcol) = match (dim, scope.department.as_deref()) {
            (Some(d), None) => (d, None, d),
            (Some(_), Some(dep)) | (None, Some(dep)) => ("department", Some(dep), "department"),
            (None, None) => ("all", None, "''"),
        };
        let dcol = if dim.is_some() { dcol } else { "''" };
        qb.push(format!(
            "select bucket, key, {metrics} from report_rollup where dim = "
        ))
        .push_bind(rdim)
        .push(" and bucket >= ")
        .push_bind(scope.start)
        .push(" and bucket < ")
        .push_bind(scope.end);
        if let Some(k) = rkey {
            qb.push(" and key = ").push_bind(k.to_string());
        }
        qb.push(format!(" union all select bucket, {dcol} as key, {metrics} from report_deltas where bucket >= "))
            .push_bind(scope.start)
            .push(" and bucket < ")
            .push_bind(scope.end);
        if let Some(k) = rkey {
            qb.push(" and department = ").push_bind(k.to_string());
        }
        "rollup"
    } else {
        let kcol = dim.map(|d| format!("d.{d}")).unwrap_or_else(|| "''".into());
        let m = METRICS
            .iter()
            .map(|m| format!("d.{m}"))
            .collect::<Vec<_>>()
            .join(", ");
        qb.push(format!(
            "select t.submitted_at as bucket, {kcol} as key, {m} from tickets t cross join lateral report_delta_row(t, 1) d where t.submitted_at >= "
        ))
        .push_bind(scope.start)
        .push(" and t.submitted_at < ")
        .push_bind(scope.end);
        if let Some(dep) = scope.department.as_deref() {
            qb.push(" and t.lead_department = ")
                .push_bind(dep.to_string());
        }
        "scan"
    };
    let label = match dim {
        Some(_) => "key".to_string(),
        None => scope.group_by.time_label("bucket", tz_name),
    };
    qb.push(format!(
        ") select {label} as key, {} from src group by 1 order by 1",
        metric_sums()
    ));
    let rows: Vec<Sums> = qb.build_query_as().fetch_all(pool).await?;
    Ok((rows, source))
}

fn scope_department(principal: &Principal, requested: Option<String>) -> ApiResult<Option<String>> {
    let requested = requested.filter(|d| !d.trim().is_empty());
    if principal.role.department_bound() {
        let mine = principal.department.clone();
        if requested.is_some() && requested != mine {
            return Err(ApiError::Forbidden(
                "you may report only on your own department".into(),
            ));
        }
        return Ok(mine);
    }
    Ok(requested)
}

pub async fn build_summary(
    state: &AppState,
    principal: &Principal,
    q: SummaryQuery,
) -> ApiResult<Summary> {
    principal.require(Perm::ReadReports)?;
    let tz = period::parse_tz(q.tz.as_deref(), state.tz)?;
    let from = period::parse_date("from", &q.from)?;
    let to = period::parse_date("to", &q.to)?;
    if (to - from).num_days() > 3660 {
        return Err(ApiError::bad(
            "invalid_value",
            "a report covers at most ten years",
        ));
    }
    let (start, end) = period::range(from, to, tz)?;
    let group_by = q.group_by.unwrap_or(GroupBy::Day);
    let department = scope_department(principal, q.department)?;
    let scope = Scope {
        start,
        end,
        tz,
        group_by,
        department: department.clone(),
    };
    let (rows, source) = compute(&state.pool, &scope).await?;
    // The business's targets as saved now (an admin's change shows on the next report).
    let targets = &shared::setup::load(&state.pool).await?.targets;
    let mut total = Sums {
        key: "total".into(),
        ..Default::default()
    };
    for r in &rows {
        total.add(r);
    }
    let groups = if group_by.dim().is_none() {
        // Every period of the range, zeros where nothing was submitted.
        let mut by_key: std::collections::HashMap<&str, &Sums> =
            rows.iter().map(|r| (r.key.as_str(), r)).collect();
        group_by
            .labels(from, to)
            .into_iter()
            .map(|label| match by_key.remove(label.as_str()) {
                Some(s) => s.numbers(targets),
                None => Sums {
                    key: label,
                    ..Default::default()
                }
                .numbers(targets),
            })
            .collect()
    } else {
        rows.iter()
            .filter(|r| r.tickets != 0)
            .map(|r| r.numbers(targets))
            .collect()
    };
    Ok(Summary {
        from: from.to_string(),
        to: to.to_string(),
        tz: tz.name().to_string(),
        group_by,
        department,
        source,
        groups,
        total: total.numbers(targets),
    })
}

/// A table for CSV and XLSX exports.
pub struct Table {
    pub title: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

pub enum Cell {
    Text(String),
    Number(Option<f64>),
}

/// A text cell as a spreadsheet may read it without running it: a leading `=`, `+`, `-`, `@`, tab or
/// carriage return makes Excel, LibreOffice and Sheets treat the cell as a formula (`=HYPERLINK(…)`
/// typed as an unresolved reason would run on the supervisor's machine), so such a cell gets a
/// leading apostrophe, which they show as text (OWASP's advice for CSV injection). The XLSX export
/// writes typed string cells, which are never formulas.
pub fn spreadsheet_safe(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

impl Table {
    pub fn to_csv(&self) -> ApiResult<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&self.headers)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        for row in &self.rows {
            let fields: Vec<String> = row
                .iter()
                .map(|c| match c {
                    Cell::Text(s) => spreadsheet_safe(s).into_owned(),
                    Cell::Number(Some(n)) => n.to_string(),
                    Cell::Number(None) => String::new(),
                })
                .collect();
            w.write_record(&fields)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
        }
        w.into_inner()
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    pub fn to_xlsx(&self) -> ApiResult<Vec<u8>> {
        let x = |e: rust_xlsxwriter::XlsxError| ApiError::Internal(format!("xlsx: {e}"));
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name(&self.title).map_err(x)?;
        let bold = rust_xlsxwriter::Format::new().set_bold();
        for (c, h) in self.headers.iter().enumerate() {
            sheet
                .write_string_with_format(0, c as u16, *h, &bold)
                .map_err(x)?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, cell) in row.iter().enumerate() {
                match cell {
                    Cell::Text(s) => {
                        sheet.write_string(r, c as u16, s).map_err(x)?;
                    }
                    Cell::Number(Some(n)) => {
                        sheet.write_number(r, c as u16, *n).map_err(x)?;
                    }
                    Cell::Number(None) => {}
                }
            }
        }
        book.save_to_buffer().map_err(x)
    }

    pub fn respond(&self, format: &str, filename: &str) -> ApiResult<Response> {
        let (bytes, mime, ext) = match format {
            "csv" => (self.to_csv()?, "text/csv; charset=utf-8", "csv"),
            "xlsx" => (
                self.to_xlsx()?,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
            ),
            other => {
                return Err(ApiError::bad(
                    "invalid_value",
                    format!("format must be json, csv or xlsx, not {other}"),
                ))
            }
        };
        Ok((
            [
                (header::CONTENT_TYPE, mime.to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{filename}.{ext}\""),
                ),
            ],
            bytes,
        )
            .into_response())
    }
}

fn met_text(m: Option<bool>) -> Cell {
    Cell::Text(match m {
        Some(true) => "met".into(),
        Some(false) => "missed".into(),
        None => String::new(),
    })
}

fn summary_table(s: &Summary) -> Table {
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    for g in s.groups.iter().chain(std::iter::once(&s.total)) {
        rows.push(vec![
            Cell::Text(g.key.clone()),
            Cell::Number(Some(g.tickets as f64)),
            Cell::Number(Some(g.resolved as f64)),
            Cell::Number(g.avg_first_response_minutes),
            Cell::Number(g.avg_resolution_minutes),
            Cell::Number(g.resolution_rate),
            Cell::Number(g.first_contact_resolution_rate),
            Cell::Number(g.csat),
            Cell::Number(g.nps),
            met_text(g.targets.first_response.met),
            met_text(g.targets.resolution.met),
            met_text(g.targets.resolution_rate.met),
            met_text(g.targets.first_contact_resolution.met),
        ]);
    }
    Table {
        title: "summary".into(),
        headers: vec![
            "group",
            "tickets",
            "resolved",
            "avg_first_response_minutes",
            "avg_resolution_minutes",
            "resolution_rate",
            "first_contact_resolution_rate",
            "csat",
            "nps",
            "first_response_target",
            "resolution_target",
            "resolution_rate_target",
            "first_contact_resolution_target",
        ],
        rows,
    }
}

/// Numbers per period or per agent/category/channel/department, with each target met or missed.
#[utoipa::path(get, path = "/v1/reports/summary", tag = "reports", params(SummaryQuery),
    responses((status = 200, description = "JSON, or CSV/XLSX with format=", content((Summary = "application/json"),
            (String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400), (status = 401), (status = 403)),
    security(("bearer" = []), ("session" = [])))]
pub async fn summary(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<SummaryQuery>,
) -> ApiResult<Response> {
    let format = q.format.clone().unwrap_or_else(|| "json".into());
    let s = build_summary(&state, &principal, q).await?;
    if format == "json" {
        return Ok(Json(s).into_response());
    }
    let name = format!("summary_{}_{}", s.from, s.to);
    summary_table(&s).respond(&format, &name)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverdueQuery {
    /// Only tickets with an overdue SLA clock.
    pub overdue_only: Option<bool>,
    pub department: Option<String>,
    /// 1-1000 (default 200).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// json (default) | csv | xlsx.
    #[param(value_type = Option<ExportFormat>)]
    pub format: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OverdueItem {
    #[serde(flatten)]
    pub ticket: TicketSummary,
    /// Some SLA clock is breached or past due.
    pub overdue: bool,
    /// Which clocks (first_response, resolution, ...).
    pub overdue_clocks: Vec<String>,
    pub unresolved_reason: Option<String>,
}

/// Tickets still unresolved — open, waiting, reopened, or closed as 未解决 — overdue first, oldest first,
/// with their owners.
#[utoipa::path(get, path = "/v1/reports/overdue", tag = "reports", params(OverdueQuery),
    responses((status = 200, description = "JSON, or CSV/XLSX with format=", content((Vec<OverdueItem> = "application/json"),
            (String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400), (status = 401), (status = 403)),
    security(("bearer" = []), ("session" = [])))]
pub async fn overdue(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<OverdueQuery>,
) -> ApiResult<Response> {
    principal.require(Perm::ReadTicketReports)?;
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad(
            "invalid_value",
            "limit must be between 1 and 1000",
        ));
    }
    let department = scope_department(&principal, q.department)?;
    let clocks = "coalesce((select array_agg(c.kind::text order by c.kind) from sla_ticket_clocks c where c.ticket_id = t.id and c.overdue), '{}')";
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select * from (select {COLUMNS}, {clocks} as overdue_clocks from tickets t
         where (t.status not in ('resolved', 'archived') or (t.status = 'resolved' and t.resolution = 'unresolved'))"
    ));
    if let Some(dep) = &department {
        qb.push(" and (t.lead_department = ")
            .push_bind(dep.clone())
            .push(" or ")
            .push_bind(dep.clone())
            .push(" = any(t.departments))");
    }
    qb.push(") x");
    if q.overdue_only.unwrap_or(false) {
        qb.push(" where cardinality(overdue_clocks) > 0");
    }
    qb.push(" order by cardinality(overdue_clocks) > 0 desc, submitted_at asc limit ")
        .push_bind(limit);
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        t: TicketRow,
        overdue_clocks: Vec<String>,
    }
    let rows: Vec<Row> = qb.build_query_as().fetch_all(&state.pool).await?;
    let items: Vec<OverdueItem> = rows
        .into_iter()
        .map(|r| OverdueItem {
            ticket: (&r.t).into(),
            overdue: !r.overdue_clocks.is_empty(),
            overdue_clocks: r.overdue_clocks,
            unresolved_reason: r.t.unresolved_reason.clone(),
        })
        .collect();
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(items).into_response()),
        format => {
            let table = Table {
                title: "unresolved".into(),
                headers: vec![
                    "ticket_no",
                    "status",
                    "priority",
                    "department",
                    "owner",
                    "submitted_at",
                    "overdue_clocks",
                    "unresolved_reason",
                ],
                rows: items
                    .iter()
                    .map(|i| {
                        vec![
                            Cell::Text(i.ticket.ticket_no.clone()),
                            Cell::Text(i.ticket.status.to_string()),
                            Cell::Text(i.ticket.priority.clone().unwrap_or_default()),
                            Cell::Text(i.ticket.lead_department.clone().unwrap_or_default()),
                            Cell::Text(i.ticket.owner.clone().unwrap_or_default()),
                            Cell::Text(i.ticket.submitted_at.to_rfc3339()),
                            Cell::Text(i.overdue_clocks.join(" ")),
                            Cell::Text(i.unresolved_reason.clone().unwrap_or_default()),
                        ]
                    })
                    .collect(),
            };
            table.respond(format, "unresolved")
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CategoriesQuery {
    #[param(format = Date)]
    pub from: String,
    #[param(format = Date)]
    pub to: String,
    #[param(value_type = Option<crate::period::TimeZoneName>)]
    pub tz: Option<String>,
    pub department: Option<String>,
    /// How many categories (default 10).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CategoryUnresolved {
    pub category: String,
    pub tickets: i64,
    /// Tickets of the period not resolved (still open, or closed as 未解决).
    pub unresolved: i64,
    /// unresolved ÷ tickets × 100.
    pub unresolved_rate: f64,
}

/// The categories that most often stay unresolved in a period.
#[utoipa::path(get, path = "/v1/reports/unresolved-categories", tag = "reports", params(CategoriesQuery),
    responses((status = 200, body = Vec<CategoryUnresolved>), (status = 400), (status = 401), (status = 403)),
    security(("bearer" = []), ("session" = [])))]
pub async fn unresolved_categories(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<CategoriesQuery>,
) -> ApiResult<Json<Vec<CategoryUnresolved>>> {
    let s = build_summary(
        &state,
        &principal,
        SummaryQuery {
            from: q.from,
            to: q.to,
            tz: q.tz,
            group_by: Some(GroupBy::Category),
            department: q.department,
            format: None,
        },
    )
    .await?;
    let mut out: Vec<CategoryUnresolved> = s
        .groups
        .iter()
        .map(|g| CategoryUnresolved {
            category: g.key.clone(),
            tickets: g.tickets,
            unresolved: g.tickets - g.resolved,
            unresolved_rate: if g.tickets > 0 {
                round2((g.tickets - g.resolved) as f64 * 100.0 / g.tickets as f64)
            } else {
                0.0
            },
        })
        .filter(|c| c.unresolved > 0)
        .collect();
    out.sort_by(|a, b| {
        b.unresolved
            .cmp(&a.unresolved)
            .then(a.category.cmp(&b.category))
    });
    out.truncate(q.limit.unwrap_or(10).clamp(1, 100));
    Ok(Json(out))
}
