//! The per-ticket report (问题解决与反馈报告) as HTML or PDF: report number, date, customer (masked),
//! type, urgency, description, the handling log in time order (who, action, result), solution, customer
//! feedback, follow-up plan, handler and reviewer.
//!
//! PDF text is drawn with an embedded TrueType font: `api.pdf_font` if set, else the first installed of
//! [`FONT_CANDIDATES`] (CJK fonts first). Chinese text needs a CJK font (e.g. Debian's
//! `fonts-wqy-microhei`); with only DejaVu installed, CJK characters show as empty boxes.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::model::TicketRow;
use crate::tickets::{self, TimelineItem};
use crate::AppState;

pub const FONT_CANDIDATES: [&str; 6] = [
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// The report's content, shared by both renderings.
pub struct ReportDoc {
    pub number: String,
    pub date: String,
    pub customer: String,
    pub category: String,
    pub urgency: String,
    pub description: String,
    /// (time, who, action, result)
    pub log: Vec<(String, String, String, String)>,
    pub solution: String,
    pub feedback: String,
    pub follow_up_plan: String,
    pub handler: String,
    pub reviewer: String,
    pub status: String,
}

fn local(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// What a timeline entry says, in one line.
fn result_of(item: &TimelineItem) -> String {
    let d = &item.data;
    let pick = |k: &str| d.get(k).and_then(|v| v.as_str()).map(str::to_string);
    match item.kind.as_str() {
        "replied" => pick("message").unwrap_or_default(),
        "note" => pick("text").unwrap_or_default(),
        "step" => [
            pick("name"),
            pick("result"),
            pick("remark"),
            pick("solution"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · "),
        "resolved" => [pick("resolution"), pick("reason")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · "),
        "assigned" => pick("owner").unwrap_or_default(),
        "priority_changed" => format!(
            "{} → {}",
            pick("from").unwrap_or_default(),
            pick("to").unwrap_or_default()
        ),
        "reopened" | "waiting_on_customer" => pick("reason").unwrap_or_default(),
        "merged" => pick("into").unwrap_or_default(),
        _ => String::new(),
    }
}

pub fn build(t: &TicketRow, timeline: &[TimelineItem], tz: Tz) -> ReportDoc {
    let satisfaction = match t.survey_satisfaction.as_deref() {
        Some("satisfied") => "满意 satisfied",
        Some("basically_satisfied") => "基本满意 basically satisfied",
        Some("unsatisfied") => "不满意 unsatisfied",
        Some(other) => other,
        None => "—",
    };
    let mut feedback = satisfaction.to_string();
    if let Some(n) = t.survey_nps {
        feedback.push_str(&format!(" · NPS {n}"));
    }
    if let Some(c) = &t.survey_comment {
        feedback.push_str(&format!(" · {c}"));
    }
    ReportDoc {
        number: t.ticket_no.clone(),
        date: local(t.submitted_at, tz),
        customer: [
            t.customer_name.as_deref().map(shared::pii::mask_name),
            t.customer_phone.as_deref().map(shared::pii::mask_phone),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" "),
        category: [t.category.clone(), t.feedback_type.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" / "),
        urgency: t.priority.clone().unwrap_or_default(),
        description: t.description.clone(),
        log: timeline
            .iter()
            .map(|e| {
                (
                    local(e.at, tz),
                    e.actor.clone(),
                    e.kind.clone(),
                    result_of(e),
                )
            })
            .collect(),
        solution: t.solution.clone().unwrap_or_default(),
        feedback,
        follow_up_plan: t.follow_up_plan.clone().unwrap_or_default(),
        handler: t.owner.clone().unwrap_or_default(),
        reviewer: match (&t.report_reviewed_by, t.report_reviewed_at) {
            (Some(who), Some(at)) => format!("{who} ({})", local(at, tz)),
            _ => "not reviewed yet".into(),
        },
        status: format!("{} {}", t.status, t.resolution.clone().unwrap_or_default())
            .trim()
            .to_string(),
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
            c => out.push(c),
        }
    }
    out
}

impl ReportDoc {
    fn fields(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("报告编号 Report no.", &self.number),
            ("日期 Date", &self.date),
            ("客户 Customer", &self.customer),
            ("类型 Type", &self.category),
            ("紧急程度 Urgency", &self.urgency),
            ("状态 Status", &self.status),
            ("问题描述 Description", &self.description),
            ("解决方案 Solution", &self.solution),
            ("客户反馈 Customer feedback", &self.feedback),
            ("后续计划 Follow-up plan", &self.follow_up_plan),
            ("处理人 Handler", &self.handler),
            ("审核人 Reviewer", &self.reviewer),
        ]
    }

    pub fn html(&self) -> String {
        let mut h = String::from(
            "<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>问题解决与反馈报告</title>\
             <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}\
             td,th{border:1px solid #999;padding:4px 8px;text-align:left;vertical-align:top}th{background:#eee}</style>\
             </head><body><h1>问题解决与反馈报告 Problem resolution and feedback report</h1><table>",
        );
        for (k, v) in self.fields() {
            h.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v)));
        }
        h.push_str("</table><h2>处理记录 Handling log</h2><table><tr><th>时间 Time</th><th>处理人 Who</th><th>动作 Action</th><th>结果 Result</th></tr>");
        for (at, who, action, result) in &self.log {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(at),
                esc(who),
                esc(action),
                esc(result)
            ));
        }
        h.push_str("</table></body></html>");
        h
    }

    /// Lines of text for the PDF, wrapped to the page width (CJK characters count double).
    fn lines(&self) -> Vec<String> {
        let mut out = vec![
            "问题解决与反馈报告 Problem resolution and feedback report".to_string(),
            String::new(),
        ];
        for (k, v) in self.fields() {
            out.extend(wrap(&format!("{k}: {v}"), 96));
        }
        out.push(String::new());
        out.push("处理记录 Handling log".into());
        for (at, who, action, result) in &self.log {
            out.extend(wrap(&format!("{at}  {who}  {action}  {result}"), 96));
        }
        out
    }

    pub fn pdf(&self, font_path: Option<&str>) -> ApiResult<Vec<u8>> {
        use printpdf::{BuiltinFont, Mm, PdfDocument};
        let pdf_err = |e: printpdf::Error| ApiError::Internal(format!("pdf: {e}"));
        let (doc, page, layer) = PdfDocument::new(
            format!("Report {}", self.number),
            Mm(210.0),
            Mm(297.0),
            "report",
        );
        let font_file = font_path.map(str::to_string).or_else(|| {
            FONT_CANDIDATES
                .iter()
                .find(|p| std::path::Path::new(p).exists())
                .map(|p| p.to_string())
        });
        let (font, embedded) = match font_file.as_deref().map(std::fs::read) {
            Some(Ok(bytes)) => (
                doc.add_external_font(bytes.as_slice()).map_err(pdf_err)?,
                true,
            ),
            _ => (
                doc.add_builtin_font(BuiltinFont::Helvetica)
                    .map_err(pdf_err)?,
                false,
            ),
        };
        let mut current = doc.get_page(page).get_layer(layer);
        let mut y = 280.0;
        for line in self.lines() {
            if y < 15.0 {
                let (p, l) = doc.add_page(Mm(210.0), Mm(297.0), "report");
                current = doc.get_page(p).get_layer(l);
                y = 280.0;
            }
            // The built-in font knows only Latin-1: other characters would come out as garbage.
            let text = if embedded {
                line
            } else {
                line.chars()
                    .map(|c| if c.is_ascii() { c } else { '?' })
                    .collect()
            };
            current.use_text(text, 10.0, Mm(15.0), Mm(y), &font);
            y -= 5.5;
        }
        doc.save_to_bytes().map_err(pdf_err)
    }
}

fn wrap(s: &str, max_units: usize) -> Vec<String> {
    let mut out = Vec::new();
    for para in s.split('\n') {
        let mut line = String::new();
        let mut units = 0;
        for c in para.chars() {
            let w = if c.is_ascii() { 1 } else { 2 };
            if units + w > max_units {
                out.push(std::mem::take(&mut line));
                units = 0;
            }
            line.push(c);
            units += w;
        }
        out.push(line);
    }
    out
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// html (default) | pdf.
    pub format: Option<String>,
    pub tz: Option<String>,
}

/// The per-ticket report as HTML or PDF.
#[utoipa::path(get, path = "/v1/tickets/{id}/report", tag = "reports",
    params(("id" = String, Path, description = "ticket id or number"), ReportQuery),
    responses((status = 200, description = "text/html or application/pdf"), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn ticket_report(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let t = tickets::readable(&state, &principal, &key).await?;
    let tz = crate::period::parse_tz(q.tz.as_deref(), state.tz)?;
    let timeline = tickets::timeline(&state, t.id).await?;
    let doc = build(&t, &timeline, tz);
    match q.format.as_deref().unwrap_or("html") {
        "html" => Ok((
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            doc.html(),
        )
            .into_response()),
        "pdf" => {
            let font = state.api.pdf_font.clone();
            let bytes = tokio::task::spawn_blocking(move || doc.pdf(font.as_deref()))
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
        other => Err(ApiError::bad(
            "invalid_value",
            format!("format must be html or pdf, not {other}"),
        )),
    }
}
