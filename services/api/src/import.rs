//! `POST /v1/import`: the team's tracking spreadsheet (CSV or XLSX, Chinese or English headers) becomes
//! historical tickets with their real times. Each row is checked on its own and answered with
//! `created`, `duplicate` or `error` (code, field, message); good rows are kept when others are bad.
//! The sheet is read as the team keeps it: the placeholders people type for "nothing" ('-', '—', '/',
//! '无', 'N/A') are empty cells, and a problem-type label the taxonomy does not know becomes one of the
//! team's own categories (or, with a `mapping`, an existing one); `POST /v1/import/preview` shows the
//! rows, the columns found and the unknown labels before anything is written.
//!
//! Rows commit in chunks (each row inside its own savepoint), and ticket numbers are taken per chunk in
//! a short transaction of their own ([`shared::serials`]): a long import never holds the day's serial
//! counter, which intake needs for every new ticket, for longer than one upsert.
//!
//! Nothing a row carries is kept raw: every cell is redacted (national-ID and bank-card numbers) before
//! it is parsed, stored on the ticket or written into the `imported` timeline entry. A row whose
//! `部门`/department names a department the importer does not belong to is refused.
//!
//! Imported tickets are history: no `ticket.created` event is published, so the router, SLA and survey
//! workers do not act on tickets closed long ago; the reports count them from their real submit times.

use std::collections::HashMap;
use std::io::Cursor;

use axum::extract::State;
use axum::http::HeaderMap;
use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use shared::timeline::TimelineEntry;
use uuid::Uuid;

use crate::auth::{Perm, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Query};
use crate::import_taxonomy::{self, normalize, Known};
use crate::period;
use crate::AppState;

/// The channel imported tickets carry: the spreadsheet does not say where feedback came from.
pub const IMPORT_CHANNEL: &str = "import";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Col {
    Date,
    CustomerId,
    Description,
    Category,
    Priority,
    SubmitTime,
    FirstReply,
    FirstResponseMinutes,
    ResolvedTime,
    ResolutionMinutes,
    FirstContact,
    Status,
    Reason,
    Owner,
    Department,
}

impl Col {
    /// The column's name in answers and row errors.
    fn name(self) -> &'static str {
        match self {
            Col::Date => "date",
            Col::CustomerId => "customer_id",
            Col::Description => "description",
            Col::Category => "category",
            Col::Priority => "priority",
            Col::SubmitTime => "submit_time",
            Col::FirstReply => "first_reply_time",
            Col::FirstResponseMinutes => "first_response_minutes",
            Col::ResolvedTime => "resolved_time",
            Col::ResolutionMinutes => "resolution_minutes",
            Col::FirstContact => "first_contact_resolved",
            Col::Status => "status",
            Col::Reason => "unresolved_reason",
            Col::Owner => "owner",
            Col::Department => "department",
        }
    }
}

/// The placeholders people type for "nothing": read as an empty cell.
fn is_placeholder(cell: &str) -> bool {
    matches!(
        cell.trim().to_lowercase().as_str(),
        "-" | "--" | "—" | "——" | "–" | "－" | "/" | "／" | "无" | "n/a" | "na" | "null" | "none"
    )
}

/// A cell as the importer keeps it: placeholders empty, national-ID and bank-card numbers redacted.
fn clean_cell(cell: &str) -> String {
    if is_placeholder(cell) {
        return String::new();
    }
    shared::pii::redact_text(cell).0
}

/// Header → column, after trimming, lower-casing and dropping spaces, `_` and `-`.
fn column(header: &str) -> Option<Col> {
    let h: String = header
        .trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '(' | ')' | '（' | '）'))
        .flat_map(char::to_lowercase)
        .collect();
    Some(match h.as_str() {
        "日期" | "date" => Col::Date,
        "客户编号" | "customerid" | "customer" | "customerno" => Col::CustomerId,
        "问题描述" | "description" | "problemdescription" => Col::Description,
        "问题类型" | "type" | "category" | "problemtype" => Col::Category,
        "优先级" | "priority" => Col::Priority,
        "提交时间" | "submittime" | "submittedat" | "submitted" => Col::SubmitTime,
        "首次回复时间" | "firstreplytime" | "firstreply" | "firstreplyat" => Col::FirstReply,
        "首次响应耗时" | "首次响应耗时分钟" | "firstresponseminutes" | "firstresponsetime" => {
            Col::FirstResponseMinutes
        }
        "解决时间" | "resolvedtime" | "resolved" | "resolvedat" => Col::ResolvedTime,
        "解决耗时" | "解决耗时分钟" | "resolutionminutes" | "resolutiontime" => {
            Col::ResolutionMinutes
        }
        "是否首次解决" | "firstcontactresolved" | "firstcontactresolution" | "fcr" => {
            Col::FirstContact
        }
        "解决状态" | "status" => Col::Status,
        "未解决原因" | "unresolvedreason" | "reason" => Col::Reason,
        "责任人" | "owner" => Col::Owner,
        "部门" | "department" => Col::Department,
        _ => return None,
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Time zone of the sheet's dates and times (default: the configured one).
    #[param(value_type = Option<crate::period::TimeZoneName>)]
    pub tz: Option<String>,
    /// csv | xlsx; detected from the content when absent.
    #[param(pattern = "^(csv|xlsx)$")]
    pub format: Option<String>,
    /// Lead department for rows without a department column (supervisors: always their own).
    pub department: Option<String>,
    /// JSON object: problem-type label of the sheet → existing category (code or name), e.g.
    /// `{"技术咨询":"technical_fault"}`. Labels neither known nor mapped become the team's own categories.
    pub mapping: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// e.g. `missing_field`, `invalid_value`, `invalid_time`, `inconsistent`.
    pub code: &'static str,
    pub field: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowResult {
    /// 1-based line of the sheet (the header is line 1).
    pub line: usize,
    /// created | duplicate | error.
    pub result: &'static str,
    pub ticket_no: Option<String>,
    pub error: Option<RowError>,
}

/// A problem-type label of the sheet and how many readable rows carry it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LabelCount {
    pub label: String,
    pub count: usize,
    /// The category the rows got (added or mapped); none in a preview of an unknown label.
    pub category: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub created: usize,
    pub duplicates: usize,
    pub errors: usize,
    /// Headers that matched no known column.
    pub ignored_columns: Vec<String>,
    /// Labels the taxonomy did not know, added as the team's own categories, with their row counts.
    pub added_categories: Vec<LabelCount>,
    /// Labels imported onto an existing category through the `mapping`, with their row counts.
    pub mapped_labels: Vec<LabelCount>,
    pub rows: Vec<RowResult>,
}

/// A header of the sheet and the column it was read as.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ColumnFound {
    pub header: String,
    /// `date`, `description`, … or none when the header is ignored.
    pub column: Option<String>,
}

/// A category the unknown labels can be mapped onto.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CategoryOption {
    pub code: String,
    pub zh: String,
    pub en: String,
}

/// What an import of this sheet would do; nothing is written.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportPreview {
    /// Data rows (blank lines not counted).
    pub rows: usize,
    /// Rows that can be read (they would be created or found duplicate).
    pub readable: usize,
    pub columns: Vec<ColumnFound>,
    pub ignored_columns: Vec<String>,
    /// Problem-type labels the taxonomy does not know (and the mapping does not map), with counts.
    pub unknown_labels: Vec<LabelCount>,
    /// Labels the given mapping maps, with counts.
    pub mapped_labels: Vec<LabelCount>,
    /// The existing categories, for the mapping.
    pub categories: Vec<CategoryOption>,
    /// Rows that cannot be read, with the reason.
    pub problems: Vec<RowResult>,
}

/// A sheet as text cells, header first.
fn read_csv(body: &[u8]) -> ApiResult<Vec<Vec<String>>> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad("invalid_utf8", "CSV must be UTF-8 (save as \"CSV UTF-8\")"))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec =
            rec.map_err(|e| ApiError::bad("malformed_csv", format!("line {}: {e}", i + 1)))?;
        rows.push(rec.iter().map(str::to_string).collect());
    }
    Ok(rows)
}

fn cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => {
            if *b {
                "是".into()
            } else {
                "否".into()
            }
        }
        Data::DateTime(d) => match d.as_datetime() {
            // A time-only cell is a fraction of a day counted from Excel's epoch.
            Some(dt) if dt.date() < NaiveDate::from_ymd_opt(1900, 1, 2).unwrap_or_default() => {
                dt.format("%H:%M").to_string()
            }
            Some(dt) if dt.time() == NaiveTime::MIN => dt.format("%Y-%m-%d").to_string(),
            Some(dt) => dt.format("%Y-%m-%d %H:%M").to_string(),
            None => d.as_f64().to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#ERROR {e:?}"),
    }
}

/// Widest sheet an import reads: the tracking template has about twenty columns.
const MAX_XLSX_COLUMNS: u32 = 256;

/// Reads the first sheet cell by cell, refusing a cell outside the bounds before anything is laid
/// out: calamine's whole-sheet range allocates every cell between the first and the last used one,
/// so a few-byte file with cells at A1 and XFD1048576 would ask for seventeen billion of them.
fn read_xlsx(body: Bytes, max_rows: usize) -> ApiResult<Vec<Vec<String>>> {
    use calamine::Reader;
    let unreadable = |e: calamine::XlsxError| {
        ApiError::bad("malformed_xlsx", format!("first sheet unreadable: {e}"))
    };
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(body)).map_err(|e| {
            ApiError::bad(
                "malformed_xlsx",
                format!("not a readable XLSX workbook: {e}"),
            )
        })?;
    let first = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| ApiError::bad("malformed_xlsx", "the workbook has no sheet"))?;
    // Room for the header and blank rows people leave between blocks; the row count is checked
    // again once blank rows are dropped.
    let max_row = u32::try_from(max_rows.saturating_mul(2).saturating_add(100)).unwrap_or(u32::MAX);
    let too_large = || {
        ApiError::bad(
            "sheet_too_large",
            format!(
                "the sheet reaches past {MAX_XLSX_COLUMNS} columns or {max_row} rows; \
                 import at most {max_rows} rows of the tracking sheet at a time"
            ),
        )
    };
    let mut cells = book.worksheet_cells_reader(&first).map_err(unreadable)?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut first_col = u32::MAX;
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (r, c) = cell.get_position();
        if r >= max_row || c >= MAX_XLSX_COLUMNS {
            return Err(too_large());
        }
        let text = cell_text(&calamine::Data::from(cell.get_value().clone()));
        if text.is_empty() {
            continue;
        }
        first_col = first_col.min(c);
        let (r, c) = (r as usize, c as usize);
        if rows.len() <= r {
            rows.resize_with(r + 1, Vec::new);
        }
        if rows[r].len() <= c {
            rows[r].resize(c + 1, String::new());
        }
        rows[r][c] = text;
    }
    // The sheet starts at its first used row and column, as a spreadsheet's used range does.
    let first_row = rows
        .iter()
        .position(|r| !r.is_empty())
        .unwrap_or(rows.len());
    rows.drain(..first_row);
    let skip = first_col as usize;
    for row in &mut rows {
        row.drain(..skip.min(row.len()));
    }
    Ok(rows)
}

/// One row, checked and ready to insert.
#[derive(Debug, Clone)]
struct Parsed {
    submitted_at: DateTime<Utc>,
    local_day: NaiveDate,
    customer_id: Option<String>,
    description: String,
    /// The sheet's problem-type label until [`resolve`], then the category code.
    category: Option<String>,
    priority: Option<&'static str>,
    first_reply_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    resolution: Option<&'static str>,
    status: &'static str,
    reason: Option<String>,
    first_contact: bool,
    owner: Option<String>,
    /// The sheet's department cell until [`resolve`], then the lead department's code.
    department: Option<String>,
}

fn err(code: &'static str, field: &str, message: impl Into<String>) -> RowError {
    RowError {
        code,
        field: Some(field.to_string()),
        message: message.into(),
    }
}

fn parse_day(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let head = s.split_whitespace().next().unwrap_or(s);
    ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(head, f).ok())
}

/// `HH:MM`, `HH:MM:SS`, or a full `YYYY-MM-DD HH:MM` (which then names its own day).
fn parse_when(s: &str) -> Option<(Option<NaiveDate>, NaiveTime)> {
    let s = s.trim();
    for f in ["%H:%M", "%H:%M:%S"] {
        if let Ok(t) = NaiveTime::parse_from_str(s, f) {
            return Some((None, t));
        }
    }
    for f in [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, f) {
            return Some((Some(dt.date()), dt.time()));
        }
    }
    None
}

fn to_utc(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&local)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
}

fn priority_code(s: &str) -> Option<&'static str> {
    Some(match s.trim().to_lowercase().as_str() {
        "紧急" | "高" | "紧急/高" | "urgent" | "high" => "urgent",
        "一般" | "中" | "一般/中" | "general" | "medium" => "general",
        "建议" | "低" | "建议/低" | "suggestion" | "low" => "suggestion",
        _ => return None,
    })
}

fn yes_no(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "是" | "yes" | "y" | "true" | "1" => Some(true),
        "否" | "no" | "n" | "false" | "0" | "" => Some(false),
        _ => None,
    }
}

/// Status → (ticket status, resolution).
fn status_code(s: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match s.trim().to_lowercase().as_str() {
        "已解决" | "完全解决" | "resolved" | "full" | "fully resolved" => {
            ("resolved", Some("full"))
        }
        "部分解决" | "partial" | "partially resolved" => ("resolved", Some("partial")),
        "未解决" | "unresolved" => ("resolved", Some("unresolved")),
        "处理中" | "in progress" | "in_progress" | "open" | "processing" => ("open", None),
        _ => return None,
    })
}

/// Resolves a time column against the submit instant: an explicit date wins; a bare time on the
/// submit day, or the next day when it lies before the submit time; a minutes column, when present,
/// gives the instant and must agree with the time column.
fn later_instant(
    tz: Tz,
    day: NaiveDate,
    submitted: DateTime<Utc>,
    time: &str,
    minutes: &str,
    (time_field, minutes_field): (&str, &str),
) -> Result<Option<DateTime<Utc>>, RowError> {
    let from_minutes = match minutes.trim() {
        "" => None,
        m => {
            let v: f64 = m.parse().map_err(|_| {
                err(
                    "invalid_value",
                    minutes_field,
                    format!("`{m}` is not a number of minutes"),
                )
            })?;
            if !(0.0..=5_256_000.0).contains(&v) {
                return Err(err(
                    "invalid_value",
                    minutes_field,
                    format!("{v} minutes is out of range"),
                ));
            }
            Some(submitted + Duration::seconds((v * 60.0).round() as i64))
        }
    };
    let from_time = match time.trim() {
        "" => None,
        t => {
            let (d, clock) = parse_when(t)
                .ok_or_else(|| err("invalid_time", time_field, format!("`{t}` is not HH:MM")))?;
            let local = NaiveDateTime::new(d.unwrap_or(day), clock);
            let mut at = to_utc(tz, local)
                .ok_or_else(|| err("invalid_time", time_field, "that local time does not exist"))?;
            if d.is_none() && at < submitted {
                at += Duration::days(1);
            }
            Some(at)
        }
    };
    match (from_time, from_minutes) {
        (Some(t), Some(m)) => {
            let local_m = m.with_timezone(&tz);
            let local_t = t.with_timezone(&tz);
            if (local_m.hour(), local_m.minute()) != (local_t.hour(), local_t.minute()) {
                return Err(err(
                    "inconsistent",
                    minutes_field,
                    format!("{minutes_field} does not match {time_field}"),
                ));
            }
            Ok(Some(m))
        }
        (t, m) => Ok(m.or(t)),
    }
}

fn parse_row(cells: &HashMap<Col, String>, tz: Tz) -> Result<Parsed, RowError> {
    let get = |c: Col| cells.get(&c).map(|s| s.trim()).unwrap_or("");
    let description = get(Col::Description);
    if description.is_empty() {
        return Err(err(
            "missing_field",
            "description",
            "问题描述 / description is empty",
        ));
    }
    if description.chars().count() > 10_000 {
        return Err(err(
            "field_too_long",
            "description",
            "description is longer than 10000 characters",
        ));
    }
    let (description, _) = shared::pii::redact_text(description);
    let date = get(Col::Date);
    let submit = get(Col::SubmitTime);
    let (sd, st) = if submit.is_empty() {
        return Err(err(
            "missing_field",
            "submit_time",
            "提交时间 / submit time is empty",
        ));
    } else {
        parse_when(submit).ok_or_else(|| {
            err(
                "invalid_time",
                "submit_time",
                format!("`{submit}` is not HH:MM"),
            )
        })?
    };
    let day = match (sd, date) {
        (Some(d), _) => d,
        (None, "") => return Err(err("missing_field", "date", "日期 / date is empty")),
        (None, d) => parse_day(d)
            .ok_or_else(|| err("invalid_date", "date", format!("`{d}` is not YYYY-MM-DD")))?,
    };
    let submitted_at = to_utc(tz, NaiveDateTime::new(day, st)).ok_or_else(|| {
        err(
            "invalid_time",
            "submit_time",
            "that local time does not exist",
        )
    })?;
    if submitted_at > Utc::now() + Duration::minutes(5) {
        return Err(err(
            "invalid_time",
            "submit_time",
            "the submit time lies in the future",
        ));
    }
    let first_reply_at = later_instant(
        tz,
        day,
        submitted_at,
        get(Col::FirstReply),
        get(Col::FirstResponseMinutes),
        ("first_reply_time", "first_response_minutes"),
    )?;
    let resolved_at = later_instant(
        tz,
        day,
        submitted_at,
        get(Col::ResolvedTime),
        get(Col::ResolutionMinutes),
        ("resolved_time", "resolution_minutes"),
    )?;
    let (status, resolution) = match get(Col::Status) {
        "" if resolved_at.is_some() => ("resolved", Some("full")),
        "" => ("open", None),
        s => status_code(s).ok_or_else(|| {
            err(
                "invalid_value",
                "status",
                format!("`{s}` is not 已解决/部分解决/处理中/未解决"),
            )
        })?,
    };
    if resolution.is_some_and(|r| r != "unresolved") && resolved_at.is_none() {
        return Err(err(
            "missing_field",
            "resolved_time",
            "a resolved row needs 解决时间 / resolved time",
        ));
    }
    if status == "open" && resolved_at.is_some() {
        return Err(err(
            "inconsistent",
            "status",
            "a row still in progress has a resolved time",
        ));
    }
    let reason = Some(get(Col::Reason))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if resolution == Some("unresolved") && reason.is_none() {
        return Err(err(
            "missing_field",
            "unresolved_reason",
            "an unresolved row needs 未解决原因 / unresolved reason",
        ));
    }
    let fcr_text = get(Col::FirstContact);
    let first_contact = yes_no(fcr_text).ok_or_else(|| {
        err(
            "invalid_value",
            "first_contact_resolved",
            format!("`{fcr_text}` is not 是/否"),
        )
    })?;
    if first_contact && !matches!(resolution, Some("full" | "partial")) {
        return Err(err(
            "inconsistent",
            "first_contact_resolved",
            "a row not resolved cannot be resolved at first contact",
        ));
    }
    // Matched against the taxonomy (or added) once the whole sheet is read: see [`resolve`].
    let category = Some(get(Col::Category))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let priority = match get(Col::Priority) {
        "" => None,
        p => Some(priority_code(p).ok_or_else(|| {
            err(
                "invalid_value",
                "priority",
                format!("`{p}` is not 紧急/一般/建议"),
            )
        })?),
    };
    let department = Some(get(Col::Department))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok(Parsed {
        submitted_at,
        local_day: submitted_at.with_timezone(&tz).date_naive(),
        customer_id: Some(get(Col::CustomerId))
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        description,
        category,
        priority,
        first_reply_at,
        resolved_at: if resolution == Some("unresolved") {
            resolved_at
        } else {
            resolved_at.filter(|_| resolution.is_some())
        },
        resolution,
        status,
        reason,
        first_contact,
        owner: Some(get(Col::Owner))
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        department,
    })
    .and_then(|p| {
        if p.first_reply_at.is_some_and(|r| r < p.submitted_at) {
            return Err(err(
                "inconsistent",
                "first_reply_time",
                "first reply before submit",
            ));
        }
        if p.resolved_at.is_some_and(|r| r < p.submitted_at) {
            return Err(err(
                "inconsistent",
                "resolved_time",
                "resolved before submit",
            ));
        }
        Ok(p)
    })
}

/// The key that makes a re-import of the same row a duplicate.
fn external_id(p: &Parsed) -> String {
    let mut h = Sha256::new();
    h.update(p.customer_id.as_deref().unwrap_or("").as_bytes());
    h.update([0x1f]);
    h.update(p.submitted_at.to_rfc3339().as_bytes());
    h.update([0x1f]);
    h.update(p.description.as_bytes());
    format!("sheet:{}", hex::encode(&h.finalize()[..16]))
}

/// How many rows commit together: large enough that an import pays few commits, small enough that
/// a chunk's transaction (and the savepoints in it) stays short.
const CHUNK: usize = 200;

/// The sheet read and checked, before anything is written.
struct Sheet {
    columns: Vec<ColumnFound>,
    ignored: Vec<String>,
    /// Data rows: 1-based line, cleaned cells (redacted, placeholders empty), parse outcome.
    rows: Vec<(usize, Vec<String>, Result<Parsed, RowError>)>,
}

/// Who imports, into which department by default, and what the department column may name.
struct Importer {
    actor: String,
    /// Rows without a department column go here.
    default_department: Option<String>,
    /// A department-bound role (supervisor) may import into this department only.
    only_department: Option<String>,
}

fn importer(principal: &Principal, q: &ImportQuery) -> ApiResult<Importer> {
    principal.require(Perm::Import)?;
    if principal.role.department_bound() {
        if q.department
            .as_ref()
            .is_some_and(|d| Some(d) != principal.department.as_ref())
        {
            return Err(ApiError::Forbidden(
                "you may import only into your own department".into(),
            ));
        }
        Ok(Importer {
            actor: principal.actor(),
            default_department: principal.department.clone(),
            only_department: principal.department.clone(),
        })
    } else {
        Ok(Importer {
            actor: principal.actor(),
            default_department: q.department.clone().filter(|d| !d.is_empty()),
            only_department: None,
        })
    }
}

/// Reads the upload on the blocking pool: unzipping and parsing a sheet is CPU work that would
/// otherwise stall every request sharing the executor thread.
async fn read_upload(
    q: &ImportQuery,
    headers: &HeaderMap,
    body: Bytes,
    tz: Tz,
    max_rows: usize,
) -> ApiResult<Sheet> {
    let format = q.format.clone();
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    tokio::task::spawn_blocking(move || {
        read_sheet(format.as_deref(), &content_type, body, tz, max_rows)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("reading the sheet failed: {e}")))?
}

/// Reads the body as CSV or XLSX, maps the header and parses every row.
fn read_sheet(
    format: Option<&str>,
    content_type: &str,
    body: Bytes,
    tz: Tz,
    max_rows: usize,
) -> ApiResult<Sheet> {
    let is_xlsx = match format {
        Some("xlsx") => true,
        Some("csv") => false,
        Some(other) => {
            return Err(ApiError::bad(
                "invalid_value",
                format!("format must be csv or xlsx, not {other}"),
            ))
        }
        None => body.starts_with(b"PK\x03\x04") || content_type.contains("spreadsheetml"),
    };
    if body.is_empty() {
        return Err(ApiError::bad(
            "missing_field",
            "the request body holds no spreadsheet",
        ));
    }
    let sheet = if is_xlsx {
        read_xlsx(body, max_rows)?
    } else {
        read_csv(&body)?
    };
    let mut lines = sheet.into_iter().enumerate();
    let header = lines
        .next()
        .map(|(_, h)| h)
        .ok_or_else(|| ApiError::bad("missing_field", "the sheet is empty"))?;
    let mut cols: Vec<Option<Col>> = Vec::new();
    let mut ignored = Vec::new();
    let mut columns = Vec::new();
    for h in &header {
        let c = column(h);
        if c.is_none() && !h.trim().is_empty() {
            ignored.push(h.clone());
        }
        if !h.trim().is_empty() {
            columns.push(ColumnFound {
                header: h.trim().to_string(),
                column: c.map(|c| c.name().to_string()),
            });
        }
        cols.push(c);
    }
    let missing: Vec<&str> = [
        (Col::Date, "日期/date"),
        (Col::Description, "问题描述/description"),
        (Col::SubmitTime, "提交时间/submit time"),
    ]
    .iter()
    .filter(|(c, _)| !cols.contains(&Some(*c)))
    .map(|(_, n)| *n)
    .collect();
    if !missing.is_empty() {
        return Err(ApiError::bad(
            "missing_column",
            format!("the header lacks: {}", missing.join(", ")),
        ));
    }
    let rows: Vec<(usize, Vec<String>)> = lines
        .map(|(i, r)| (i + 1, r.iter().map(|c| clean_cell(c)).collect::<Vec<_>>()))
        .filter(|(_, r)| r.iter().any(|c| !c.trim().is_empty()))
        .collect();
    if rows.len() > max_rows {
        return Err(ApiError::bad(
            "too_many_rows",
            format!("at most {max_rows} rows per import"),
        ));
    }
    let rows = rows
        .into_iter()
        .map(|(line, cells)| {
            let map: HashMap<Col, String> = cols
                .iter()
                .zip(cells.iter())
                .filter_map(|(c, v)| c.map(|c| (c, v.clone())))
                .collect();
            let parsed = parse_row(&map, tz);
            (line, cells, parsed)
        })
        .collect();
    Ok(Sheet {
        columns,
        ignored,
        rows,
    })
}

/// The `mapping` parameter: sheet label → existing category code.
fn read_mapping(raw: Option<&str>, known: &Known) -> ApiResult<HashMap<String, String>> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(HashMap::new());
    };
    let given: HashMap<String, String> = serde_json::from_str(raw).map_err(|e| {
        ApiError::field(
            "invalid_mapping",
            "mapping",
            format!("mapping must be a JSON object of label → category: {e}"),
        )
    })?;
    given
        .into_iter()
        .map(|(label, target)| {
            let code = known.category(&target).ok_or_else(|| {
                ApiError::field(
                    "invalid_mapping",
                    "mapping",
                    format!("`{target}` (for `{label}`) is not an existing category"),
                )
            })?;
            Ok((normalize(&label), code.to_string()))
        })
        .collect()
}

/// How the readable rows' problem-type labels split: known, mapped, unknown (label, count) in
/// order of first appearance.
struct LabelUse {
    mapped: Vec<(String, String, usize)>,
    unknown: Vec<(String, usize)>,
}

fn label_use(sheet: &Sheet, known: &Known, mapping: &HashMap<String, String>) -> LabelUse {
    let mut mapped: Vec<(String, String, usize)> = Vec::new();
    let mut unknown: Vec<(String, usize)> = Vec::new();
    for (_, _, parsed) in &sheet.rows {
        let Some(label) = parsed.as_ref().ok().and_then(|p| p.category.as_deref()) else {
            continue;
        };
        if known.category(label).is_some() {
            continue;
        }
        let label = label.trim();
        if let Some(code) = mapping.get(&normalize(label)) {
            match mapped.iter_mut().find(|(l, _, _)| l == label) {
                Some((_, _, n)) => *n += 1,
                None => mapped.push((label.to_string(), code.clone(), 1)),
            }
        } else {
            match unknown.iter_mut().find(|(l, _)| l == label) {
                Some((_, n)) => *n += 1,
                None => unknown.push((label.to_string(), 1)),
            }
        }
    }
    LabelUse { mapped, unknown }
}

/// The row's category label and department cell as codes; a department the importer may not import
/// into refuses the row.
fn resolve(
    mut p: Parsed,
    known: &Known,
    mapping: &HashMap<String, String>,
    added: &HashMap<String, String>,
    who: &Importer,
) -> Result<Parsed, RowError> {
    if let Some(label) = p.category.take() {
        let code = known
            .category(&label)
            .map(str::to_string)
            .or_else(|| mapping.get(&normalize(&label)).cloned())
            .or_else(|| added.get(label.trim()).cloned())
            .ok_or_else(|| {
                err(
                    "invalid_value",
                    "category",
                    format!("`{label}` is not a known problem type"),
                )
            })?;
        p.category = Some(code);
    }
    p.department = match p.department.take() {
        None => who.default_department.clone(),
        Some(cell) => {
            let code = known.department(&cell);
            match (&who.only_department, code) {
                (Some(own), Some(code)) if code == own => Some(code.to_string()),
                (Some(own), _) => {
                    return Err(err(
                        "forbidden_department",
                        "department",
                        format!("`{cell}` is not your department ({own}); you may import only into your own"),
                    ))
                }
                (None, Some(code)) => Some(code.to_string()),
                (None, None) => {
                    return Err(err(
                        "invalid_value",
                        "department",
                        format!("`{cell}` is not a known department"),
                    ))
                }
            }
        }
    };
    Ok(p)
}

fn row_error(line: usize, e: RowError) -> RowResult {
    RowResult {
        line,
        result: "error",
        ticket_no: None,
        error: Some(e),
    }
}

/// What a preview and an import both start from: who imports, the sheet read, the business's
/// categories and departments, the importer's mapping and how the sheet's labels stand to them.
struct Upload {
    who: Importer,
    sheet: Sheet,
    known: Known,
    mapping: HashMap<String, String>,
    uses: LabelUse,
}

impl Upload {
    async fn read(
        state: &AppState,
        principal: &Principal,
        q: &ImportQuery,
        headers: &HeaderMap,
        body: Bytes,
    ) -> ApiResult<Upload> {
        let who = importer(principal, q)?;
        let tz = period::parse_tz(q.tz.as_deref(), state.tz)?;
        let sheet = read_upload(q, headers, body, tz, state.api.max_import_rows).await?;
        let known = import_taxonomy::load(&state.pool).await?;
        let mapping = read_mapping(q.mapping.as_deref(), &known)?;
        let uses = label_use(&sheet, &known, &mapping);
        Ok(Upload {
            who,
            sheet,
            known,
            mapping,
            uses,
        })
    }
}

/// Reads the sheet and says what an import would do, writing nothing.
#[utoipa::path(post, path = "/v1/import/preview", tag = "import", params(ImportQuery),
    request_body(content = String, description = "CSV (UTF-8) or XLSX bytes", content_type = "text/csv"),
    responses((status = 200, body = ImportPreview), (status = 400), (status = 401), (status = 403), (status = 413)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn preview(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportPreview>> {
    let Upload {
        who,
        sheet,
        known,
        mapping,
        uses,
    } = Upload::read(&state, &principal, &q, &headers, body).await?;
    // In a preview, unknown labels resolve to a placeholder so the other checks still run.
    let pending: HashMap<String, String> = uses
        .unknown
        .iter()
        .map(|(l, _)| (l.clone(), String::new()))
        .collect();
    let mut problems = Vec::new();
    let mut readable = 0;
    for (line, _, parsed) in &sheet.rows {
        match parsed
            .clone()
            .and_then(|p| resolve(p, &known, &mapping, &pending, &who))
        {
            Ok(_) => readable += 1,
            Err(e) => problems.push(row_error(*line, e)),
        }
    }
    Ok(Json(ImportPreview {
        rows: sheet.rows.len(),
        readable,
        columns: sheet.columns,
        ignored_columns: sheet.ignored,
        unknown_labels: uses
            .unknown
            .into_iter()
            .map(|(label, count)| LabelCount {
                label,
                count,
                category: None,
            })
            .collect(),
        mapped_labels: uses
            .mapped
            .into_iter()
            .map(|(label, code, count)| LabelCount {
                label,
                count,
                category: Some(code),
            })
            .collect(),
        categories: known
            .categories
            .iter()
            .map(|e| CategoryOption {
                code: e.code.clone(),
                zh: e.zh.clone(),
                en: e.en.clone(),
            })
            .collect(),
        problems,
    }))
}

/// Imports the tracking spreadsheet.
#[utoipa::path(post, path = "/v1/import", tag = "import", params(ImportQuery),
    request_body(content = String, description = "CSV (UTF-8) or XLSX bytes", content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 400), (status = 401), (status = 403), (status = 413)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn import(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportReport>> {
    let Upload {
        who,
        sheet,
        known,
        mapping,
        uses,
    } = Upload::read(&state, &principal, &q, &headers, body).await?;
    let new_labels: Vec<String> = uses.unknown.iter().map(|(l, _)| l.clone()).collect();
    let added: HashMap<String, String> = if new_labels.is_empty() {
        HashMap::new()
    } else {
        import_taxonomy::add_categories(
            &state.pool,
            &who.actor,
            &new_labels,
            who.default_department.as_deref(),
        )
        .await?
        .into_iter()
        .collect()
    };
    if !added.is_empty() {
        // The workers learn the new categories and routes now rather than at their next poll.
        let versions = shared::setup::versions(&state.pool)
            .await
            .map_err(|e| ApiError::Internal(format!("setup: {e}")))?;
        for kind in [shared::setup::Kind::Taxonomy, shared::setup::Kind::Routing] {
            if let Some(&version) = versions.get(&kind) {
                crate::setup::announce(&state, kind, version, &who.actor).await;
            }
        }
    }

    let mut results = Vec::with_capacity(sheet.rows.len());
    let mut ready: Vec<(usize, Vec<String>, Parsed)> = Vec::new();
    for (line, cells, parsed) in sheet.rows {
        match parsed.and_then(|p| resolve(p, &known, &mapping, &added, &who)) {
            Ok(p) => ready.push((line, cells, p)),
            Err(e) => results.push(row_error(line, e)),
        }
    }
    // The same row twice in one sheet is a duplicate of its first appearance.
    let mut seen: HashMap<String, String> = HashMap::new();
    for chunk in ready.chunks(CHUNK) {
        import_chunk(&state, &who.actor, chunk, &mut seen, &mut results).await?;
    }
    results.sort_by_key(|r| r.line);
    let count = |r: &str| results.iter().filter(|x| x.result == r).count();
    Ok(Json(ImportReport {
        created: count("created"),
        duplicates: count("duplicate"),
        errors: count("error"),
        ignored_columns: sheet.ignored,
        added_categories: uses
            .unknown
            .into_iter()
            .map(|(label, count)| LabelCount {
                category: added.get(&label).cloned(),
                label,
                count,
            })
            .collect(),
        mapped_labels: uses
            .mapped
            .into_iter()
            .map(|(label, code, count)| LabelCount {
                label,
                count,
                category: Some(code),
            })
            .collect(),
        rows: results,
    }))
}

/// One chunk: repeats found, numbers taken (in their own short transaction), rows inserted each in a
/// savepoint, timeline appended, committed.
async fn import_chunk(
    state: &AppState,
    actor: &str,
    chunk: &[(usize, Vec<String>, Parsed)],
    seen: &mut HashMap<String, String>,
    results: &mut Vec<RowResult>,
) -> ApiResult<()> {
    let exts: Vec<String> = chunk.iter().map(|(_, _, p)| external_id(p)).collect();
    let existing: Vec<(String, String)> = sqlx::query_as(
        "select external_id, ticket_no from tickets where channel = $1 and external_id = any($2)",
    )
    .bind(IMPORT_CHANNEL)
    .bind(&exts)
    .fetch_all(&state.pool)
    .await?;
    seen.extend(existing);
    let mut fresh = Vec::new();
    for ((line, cells, p), ext) in chunk.iter().zip(exts) {
        if let Some(no) = seen.get(&ext) {
            results.push(RowResult {
                line: *line,
                result: "duplicate",
                ticket_no: Some(no.clone()),
                error: None,
            });
            continue;
        }
        // Claimed now so a repeat later in the chunk is a duplicate; replaced by the number below.
        seen.insert(ext.clone(), String::new());
        fresh.push((*line, cells, p, ext));
    }
    if fresh.is_empty() {
        return Ok(());
    }
    let days: Vec<NaiveDate> = fresh.iter().map(|(_, _, p, _)| p.local_day).collect();
    let numbers = shared::serials::allocate(&state.pool, &days).await?;
    let mut timeline = Vec::with_capacity(fresh.len());
    let mut done = Vec::with_capacity(fresh.len());
    let mut tx = state.pool.begin().await?;
    for ((line, cells, p, ext), ticket_no) in fresh.into_iter().zip(numbers) {
        let mut sp = sqlx::Acquire::begin(&mut *tx).await?;
        match insert(&mut sp, p, &ext, &ticket_no).await {
            Ok(id) => {
                sp.commit().await?;
                timeline.push(TimelineEntry {
                    ticket_id: id,
                    kind: "imported".into(),
                    actor: actor.to_string(),
                    at: Utc::now(),
                    data: json!({"line": line, "row": cells}),
                });
                done.push((line, ext, Ok(ticket_no)));
            }
            Err(e) => {
                sp.rollback().await?;
                tracing::warn!(line, error = %e, "import row refused by the database");
                done.push((line, ext, Err(())));
            }
        }
    }
    shared::timeline::append(&mut tx, &timeline).await?;
    tx.commit().await?;
    for (line, ext, outcome) in done {
        match outcome {
            Ok(no) => {
                seen.insert(ext, no.clone());
                results.push(RowResult {
                    line,
                    result: "created",
                    ticket_no: Some(no),
                    error: None,
                });
            }
            Err(()) => {
                seen.remove(&ext);
                results.push(row_error(
                    line,
                    RowError {
                        code: "rejected",
                        field: None,
                        message: "the database refused this row".into(),
                    },
                ));
            }
        }
    }
    Ok(())
}

/// Inserts the ticket under the number already taken for it.
async fn insert(
    conn: &mut sqlx::PgConnection,
    p: &Parsed,
    ext: &str,
    ticket_no: &str,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    let departments: Vec<String> = p.department.iter().cloned().collect();
    sqlx::query(
        "insert into tickets (id, ticket_no, channel, external_id, submitted_at, received_at, customer_id, description,
            priority, status, category, lead_department, departments, owner, first_reply_at, last_contact_at, contacts,
            resolved_at, resolution, unresolved_reason, first_contact_resolved, imported, info_source)
         values ($1, $2, $3, $4, $5, now(), $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, $16, $17, $18, $19, true, 'import')",
    )
    .bind(id)
    .bind(ticket_no)
    .bind(IMPORT_CHANNEL)
    .bind(ext)
    .bind(p.submitted_at)
    .bind(&p.customer_id)
    .bind(&p.description)
    .bind(p.priority)
    .bind(p.status)
    .bind(&p.category)
    .bind(&p.department)
    .bind(&departments)
    .bind(&p.owner)
    .bind(p.first_reply_at)
    .bind(i32::from(p.first_reply_at.is_some()))
    .bind(p.resolved_at)
    .bind(p.resolution)
    .bind(&p.reason)
    .bind(p.resolution.map(|_| p.first_contact))
    .execute(&mut *conn)
    .await?;
    Ok(id)
}
