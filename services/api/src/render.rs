//! The per-ticket report (问题解决与反馈报告) as HTML or PDF, laid out like the team's template:
//! report number, date, customer (masked), type, urgency, description, the handling log in time order
//! (who did what with what result), solution, customer feedback, follow-up plan, handler, reviewer.
//! Labels are in the reader's language (`lang=zh`, the default, or `en`). The log shows what people
//! did; the workers' bookkeeping (registration, routing, SLA clocks, survey scheduling) is folded into
//! one line per kind. The PDF is drawn by [`crate::pdf`] with a subset of a CJK font.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::labels::{self, Business, BusinessKind, Lang};
use crate::model::TicketRow;
use crate::tickets::{self, TimelineItem};
use crate::AppState;

/// One line of the handling log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub at: String,
    pub who: String,
    pub action: String,
    pub result: String,
}

/// The report's content, shared by both renderings.
pub struct ReportDoc {
    pub lang: Lang,
    pub title: String,
    /// (label, value) in the template's order.
    pub fields: Vec<(String, String)>,
    pub log_title: String,
    /// Column heads of the log: time, who, action, result.
    pub log_heads: [String; 4],
    pub log: Vec<LogLine>,
}

fn local(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// `agent:li.wei` as a reader sees it: `li.wei（客服专员）`, or the system for workers.
fn who(actor: &str, lang: Lang) -> String {
    match actor.split_once(':') {
        Some(("worker", _)) => labels::role("worker", lang),
        Some((role, name)) => match lang {
            Lang::Zh => format!("{name}（{}）", labels::role(role, lang)),
            Lang::En => format!("{name} ({})", labels::role(role, lang)),
        },
        None => actor.to_string(),
    }
}

fn is_machine(item: &TimelineItem) -> bool {
    item.actor.starts_with("worker:")
}

/// What a person's timeline entry did, in one line.
fn result_of(item: &TimelineItem, lang: Lang, taxonomy: &Business) -> String {
    let d = &item.data;
    let pick = |k: &str| d.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let join = |parts: Vec<Option<String>>| {
        parts
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · ")
    };
    match item.kind.as_str() {
        "replied" => pick("message").unwrap_or_default(),
        "note" => pick("text").unwrap_or_default(),
        "step" => join(vec![
            pick("name").map(|n| labels::fixed(&n, lang)),
            pick("result"),
            pick("remark"),
            pick("solution"),
        ]),
        "resolved" => join(vec![
            pick("resolution").map(|r| labels::fixed(&r, lang)),
            pick("reason"),
            pick("solution"),
        ]),
        "assigned" => pick("owner").unwrap_or_default(),
        "priority_changed" => format!(
            "{} → {}",
            labels::fixed(&pick("from").unwrap_or_default(), lang),
            labels::fixed(&pick("to").unwrap_or_default(), lang)
        ),
        "reopened" | "waiting_on_customer" => pick("reason").unwrap_or_default(),
        "contacted" => pick("note").unwrap_or_default(),
        "solution_approved" | "report_reviewed" => {
            join(vec![pick("remark"), pick("follow_up_plan")])
        }
        "merged" => pick("into").unwrap_or_default(),
        "supplemented" => {
            let source = pick("info_source").unwrap_or_default();
            let fields = d
                .get("fields")
                .and_then(|f| f.as_object())
                .map(|f| f.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            format!("{fields} · {}{source}", lang.pick("信息来源：", "source: "))
        }
        "reclassify_requested" => {
            let correction = d.get("correction");
            let category = correction
                .and_then(|c| c.get("category"))
                .and_then(|c| c.as_str())
                .map(|c| labels::business(taxonomy, BusinessKind::Category, c, lang));
            join(vec![category, pick("comment")])
        }
        _ => String::new(),
    }
}

/// The handling log: people's entries one by one; each kind of machine entry folded into one line at
/// its first occurrence (`×n` when it repeated).
pub fn handling_log(
    timeline: &[TimelineItem],
    tz: Tz,
    lang: Lang,
    taxonomy: &Business,
) -> Vec<LogLine> {
    let mut out: Vec<LogLine> = Vec::new();
    let mut folded: Vec<(String, usize, usize)> = Vec::new(); // (kind, line index, count)
    for item in timeline {
        if is_machine(item) {
            if let Some(f) = folded.iter_mut().find(|(k, _, _)| *k == item.kind) {
                f.2 += 1;
                continue;
            }
            folded.push((item.kind.clone(), out.len(), 1));
            out.push(LogLine {
                at: local(item.at, tz),
                who: who(&item.actor, lang),
                action: labels::kind(&item.kind, lang),
                result: String::new(),
            });
            continue;
        }
        out.push(LogLine {
            at: local(item.at, tz),
            who: who(&item.actor, lang),
            action: labels::kind(&item.kind, lang),
            result: result_of(item, lang, taxonomy),
        });
    }
    for (_, line, count) in folded {
        if count > 1 {
            out[line].result = format!("×{count}");
        }
    }
    out
}

/// Who handled the ticket: its owner, else whoever resolved it, else whoever last replied.
fn handler(t: &TicketRow, timeline: &[TimelineItem], lang: Lang) -> String {
    if let Some(o) = &t.owner {
        return o.clone();
    }
    let by_kind = |kind: &str| {
        timeline
            .iter()
            .rev()
            .find(|e| e.kind == kind && !is_machine(e))
            .map(|e| who(&e.actor, lang))
    };
    by_kind("resolved")
        .or_else(|| by_kind("replied"))
        .unwrap_or_default()
}

/// The solution: as proposed or recorded at resolution, else what the customer was last told.
fn solution(t: &TicketRow, timeline: &[TimelineItem]) -> String {
    t.solution.clone().unwrap_or_else(|| {
        timeline
            .iter()
            .rev()
            .find(|e| e.kind == "replied")
            .and_then(|e| e.data.get("message")?.as_str().map(str::to_string))
            .unwrap_or_default()
    })
}

pub fn build(
    t: &TicketRow,
    timeline: &[TimelineItem],
    tz: Tz,
    lang: Lang,
    taxonomy: &Business,
) -> ReportDoc {
    let l = |zh: &str, en: &str| lang.pick(zh, en).to_string();
    let mut feedback = t
        .survey_satisfaction
        .as_deref()
        .map(|s| labels::fixed(s, lang))
        .unwrap_or_else(|| l("尚无评价", "no answer yet"));
    if let Some(n) = t.survey_nps {
        feedback.push_str(&format!(" · NPS {n}"));
    }
    if let Some(c) = &t.survey_comment {
        feedback.push_str(&format!(" · {c}"));
    }
    let category = [
        t.category
            .as_deref()
            .map(|c| labels::business(taxonomy, BusinessKind::Category, c, lang)),
        t.feedback_type
            .as_deref()
            .map(|f| labels::business(taxonomy, BusinessKind::FeedbackType, f, lang)),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" / ");
    let status = match (t.status.as_str(), t.resolution.as_deref()) {
        (s, Some(r)) if s == "resolved" || s == "archived" => match lang {
            Lang::Zh => format!("{}（{}）", labels::fixed(s, lang), labels::fixed(r, lang)),
            Lang::En => format!("{} ({})", labels::fixed(s, lang), labels::fixed(r, lang)),
        },
        (s, _) => labels::fixed(s, lang),
    };
    let customer = [
        t.customer_name.as_deref().map(shared::pii::mask_name),
        t.customer_phone.as_deref().map(shared::pii::mask_phone),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let reviewer = match (&t.report_reviewed_by, t.report_reviewed_at) {
        (Some(who), Some(at)) => format!("{who} ({})", local(at, tz)),
        _ => l("未审核", "not reviewed yet"),
    };
    let mut plan = t.follow_up_plan.clone().unwrap_or_default();
    if let Some(reason) = &t.unresolved_reason {
        plan = [
            plan,
            format!("{}{reason}", l("未解决原因：", "unresolved because: ")),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    }
    let fields = vec![
        (l("报告编号", "Report no."), t.ticket_no.clone()),
        (l("日期", "Date"), local(t.submitted_at, tz)),
        (l("客户", "Customer"), customer),
        (l("问题类型", "Type"), category),
        (
            l("紧急程度", "Urgency"),
            t.priority
                .as_deref()
                .map(|p| labels::fixed(p, lang))
                .unwrap_or_default(),
        ),
        (l("状态", "Status"), status),
        (l("问题描述", "Description"), t.description.clone()),
        (l("解决方案", "Solution"), solution(t, timeline)),
        (l("客户反馈", "Customer feedback"), feedback),
        (l("后续计划", "Follow-up plan"), plan),
        (l("处理人", "Handler"), handler(t, timeline, lang)),
        (l("审核人", "Reviewer"), reviewer),
    ];
    ReportDoc {
        lang,
        title: l(
            "问题解决与反馈报告",
            "Problem resolution and feedback report",
        ),
        fields,
        log_title: l("处理记录", "Handling log"),
        log_heads: [
            l("时间", "Time"),
            l("处理人", "Who"),
            l("动作", "Action"),
            l("结果", "Result"),
        ],
        log: handling_log(timeline, tz, lang, taxonomy),
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out
}

impl ReportDoc {
    pub fn html(&self) -> String {
        let lang = self.lang.pick("zh-CN", "en");
        let mut h = format!(
            "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{}</title>\
             <style>body{{font-family:sans-serif;margin:2em;color:#222}}h1{{text-align:center;font-size:1.4em}}\
             table{{border-collapse:collapse;width:100%;margin-bottom:1.5em}}\
             td,th{{border:1px solid #888;padding:6px 8px;text-align:left;vertical-align:top}}\
             th{{background:#f0f0f0;white-space:nowrap;width:8em}}</style></head><body><h1>{}</h1><table>",
            esc(&self.title),
            esc(&self.title)
        );
        for (k, v) in &self.fields {
            h.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                esc(k),
                esc(v)
            ));
        }
        h.push_str(&format!(
            "</table><h2>{}</h2><table><tr>",
            esc(&self.log_title)
        ));
        for head in &self.log_heads {
            h.push_str(&format!("<th scope=\"col\">{}</th>", esc(head)));
        }
        h.push_str("</tr>");
        for line in &self.log {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&line.at),
                esc(&line.who),
                esc(&line.action),
                esc(&line.result)
            ));
        }
        h.push_str("</table></body></html>");
        h
    }
}

/// The business labels of the current setup; the product defaults (and codes) when it cannot be read.
async fn taxonomy(state: &AppState) -> Business {
    use crate::labels::BusinessKind as K;
    let s = match shared::setup::load(&state.pool).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "setup unreadable; the report shows default labels");
            return Business::new();
        }
    };
    let mut out = Business::new();
    let mut add = |k: K, code: &str, zh: &str, en: &str| {
        let en = if en.is_empty() { code } else { en };
        out.insert((k, code.to_string()), (zh.to_string(), en.to_string()));
    };
    for c in &s.taxonomy.categories {
        add(K::Category, &c.code, &c.name_zh, &c.name_en);
    }
    for f in &s.taxonomy.feedback_types {
        add(K::FeedbackType, &f.code, &f.name_zh, &f.name_en);
    }
    for d in &s.departments.departments {
        add(K::Department, &d.code, &d.name_zh, &d.name_en);
    }
    out
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    #[default]
    Html,
    Pdf,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// html (default) | pdf.
    pub format: Option<ReportFormat>,
    /// zh (default) | en: the language of the labels.
    pub lang: Option<Lang>,
    /// IANA time zone of the times shown (default: the configured one).
    #[param(value_type = Option<crate::period::TimeZoneName>)]
    pub tz: Option<String>,
}

/// The per-ticket report as HTML or PDF.
#[utoipa::path(get, path = "/v1/tickets/{id}/report", tag = "reports",
    params(("id" = String, Path, description = "ticket id or number"), ReportQuery),
    responses(
        (status = 200, description = "The report", content((String = "text/html"), (Vec<u8> = "application/pdf"))),
        (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [])))]
pub async fn ticket_report(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let t = tickets::readable(&state, &principal, &key).await?;
    let tz = crate::period::parse_tz(q.tz.as_deref(), state.tz)?;
    let timeline = tickets::timeline(&state, t.id).await?;
    let doc = build(
        &t,
        &timeline,
        tz,
        q.lang.unwrap_or_default(),
        &taxonomy(&state).await,
    );
    match q.format.unwrap_or_default() {
        ReportFormat::Html => Ok((
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            doc.html(),
        )
            .into_response()),
        ReportFormat::Pdf => {
            let font = state.report_font.clone();
            let bytes =
                tokio::task::spawn_blocking(move || crate::pdf::render(&doc, font.as_deref()))
                    .await
                    .map_err(|e| ApiError::Internal(format!("pdf task: {e}")))??;
            Ok((
                [
                    (header::CONTENT_TYPE, "application/pdf".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("inline; filename=\"report_{}.pdf\"", t.ticket_no),
                    ),
                ],
                bytes,
            )
                .into_response())
        }
    }
}
