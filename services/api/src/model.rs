//! The ticket as the api reads it, and the masked view shown outside the ticket itself.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use shared::lifecycle::{TicketFacts, TicketStatus};

use crate::error::{ApiError, ApiResult};

/// The columns every handler needs; `COLUMNS` selects them in this order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketRow {
    pub id: Uuid,
    pub ticket_no: String,
    pub channel: String,
    pub submitted_at: DateTime<Utc>,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    pub order_number: Option<String>,
    pub description: String,
    pub feedback_type: Option<String>,
    pub tags: Vec<String>,
    pub priority: Option<String>,
    pub status: TicketStatus,
    pub category: Option<String>,
    pub lead_department: Option<String>,
    pub departments: Vec<String>,
    pub owner: Option<String>,
    pub first_reply_at: Option<DateTime<Utc>>,
    pub last_contact_at: Option<DateTime<Utc>>,
    pub contacts: i32,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
    pub unresolved_reason: Option<String>,
    pub first_contact_resolved: Option<bool>,
    pub status_before_wait: Option<TicketStatus>,
    pub solution: Option<String>,
    pub solution_approved_by: Option<String>,
    pub solution_approved_at: Option<DateTime<Utc>>,
    pub report_reviewed_by: Option<String>,
    pub report_reviewed_at: Option<DateTime<Utc>>,
    pub follow_up_plan: Option<String>,
    pub merged_into: Option<Uuid>,
    pub archived_at: Option<DateTime<Utc>>,
    pub archived_by: Option<String>,
    pub imported: bool,
    pub survey_satisfaction: Option<String>,
    pub survey_nps: Option<i16>,
    pub survey_comment: Option<String>,
    pub customer_type: Option<String>,
    pub info_source: Option<String>,
    pub expected_resolution_at: Option<DateTime<Utc>>,
    /// The IVR call: keypresses and the speech-to-text draft.
    pub ivr: Option<serde_json::Value>,
    /// Attachments by reference (name, type, size, where stored).
    pub attachments: serde_json::Value,
    /// The online form's client address.
    pub client_ip: Option<String>,
}

impl TicketRow {
    /// What the lifecycle table needs to know about the ticket besides who asks.
    pub fn facts(&self) -> TicketFacts {
        TicketFacts {
            status: self.status,
            solution_proposed: self.solution.is_some(),
            solution_approved: self.solution_approved_at.is_some(),
            report_reviewed: self.report_reviewed_at.is_some(),
        }
    }
}

pub const COLUMNS: &str = "t.id, t.ticket_no, t.channel, t.submitted_at, t.customer_id, t.customer_name,
    t.customer_phone, t.order_number, t.description, t.feedback_type, t.tags, t.priority, t.status, t.category,
    t.lead_department, t.departments, t.owner, t.first_reply_at, t.last_contact_at, t.contacts, t.resolved_at,
    t.resolution, t.unresolved_reason, t.first_contact_resolved, t.status_before_wait, t.solution,
    t.solution_approved_by, t.solution_approved_at, t.report_reviewed_by, t.report_reviewed_at,
    t.follow_up_plan, t.merged_into, t.archived_at, t.archived_by, t.imported, t.survey_satisfaction,
    t.survey_nps, t.survey_comment, t.customer_type, t.info_source, t.expected_resolution_at, t.ivr,
    t.attachments, host(t.client_ip) as client_ip";

/// Finds a ticket by id or ticket number, locking it for the caller's transaction when `lock`.
pub async fn load(conn: &mut PgConnection, key: &str, lock: bool) -> ApiResult<TicketRow> {
    let sql = format!(
        "select {COLUMNS} from tickets t where {} {}",
        if Uuid::parse_str(key).is_ok() {
            "t.id = $1::uuid"
        } else {
            "t.ticket_no = $1"
        },
        if lock { "for update" } else { "" }
    );
    sqlx::query_as::<_, TicketRow>(&sql)
        .bind(key)
        .fetch_optional(conn)
        .await?
        .ok_or_else(ApiError::no_ticket)
}

/// A ticket in lists and reports: customer masked (name `张先生/女士`, phone last four digits).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TicketSummary {
    pub id: Uuid,
    pub ticket_no: String,
    pub status: TicketStatus,
    pub channel: String,
    pub submitted_at: DateTime<Utc>,
    pub priority: Option<String>,
    pub category: Option<String>,
    pub feedback_type: Option<String>,
    pub lead_department: Option<String>,
    pub departments: Vec<String>,
    pub owner: Option<String>,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    pub description: String,
    pub first_reply_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
    pub merged_into: Option<Uuid>,
    /// Unread by the caller: never opened, or changed since it was last opened.
    pub unread: bool,
    /// The SLA clocks an agent watches (first response, proactive contact, resolution).
    pub clocks: Vec<crate::inbox::Clock>,
}

/// How much of the description a list row carries.
pub const EXCERPT_CHARS: usize = 140;

/// The first `max` characters of `text` (with `…` when cut).
pub fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
    }
}

impl From<&TicketRow> for TicketSummary {
    fn from(t: &TicketRow) -> Self {
        TicketSummary {
            id: t.id,
            ticket_no: t.ticket_no.clone(),
            status: t.status,
            channel: t.channel.clone(),
            submitted_at: t.submitted_at,
            priority: t.priority.clone(),
            category: t.category.clone(),
            feedback_type: t.feedback_type.clone(),
            lead_department: t.lead_department.clone(),
            departments: t.departments.clone(),
            owner: t.owner.clone(),
            customer_id: t.customer_id.clone(),
            customer_name: t.customer_name.as_deref().map(shared::pii::mask_name),
            customer_phone: t.customer_phone.as_deref().map(shared::pii::mask_phone),
            description: t.description.clone(),
            first_reply_at: t.first_reply_at,
            resolved_at: t.resolved_at,
            resolution: t.resolution.clone(),
            merged_into: t.merged_into,
            unread: false,
            clocks: Vec::new(),
        }
    }
}

/// The ticket itself, in full. The customer's name and phone stay masked here too: a role allowed to
/// see them asks `POST /v1/tickets/{id}/reveal`, and each reveal is written to the timeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TicketFull {
    #[serde(flatten)]
    pub summary: TicketSummary,
    pub order_number: Option<String>,
    /// new | returning.
    pub customer_type: Option<String>,
    /// Where the latest supplemented information came from, e.g. 电话补充.
    pub info_source: Option<String>,
    pub expected_resolution_at: Option<DateTime<Utc>>,
    /// IVR keypresses and speech-to-text draft, for IVR tickets.
    #[schema(value_type = Option<Object>)]
    pub ivr: Option<serde_json::Value>,
    /// Attachments by reference.
    #[schema(value_type = Vec<Object>)]
    pub attachments: serde_json::Value,
    /// The online form's client address.
    pub client_ip: Option<String>,
    pub tags: Vec<String>,
    pub last_contact_at: Option<DateTime<Utc>>,
    pub contacts: i32,
    pub unresolved_reason: Option<String>,
    pub first_contact_resolved: Option<bool>,
    pub solution: Option<String>,
    pub solution_approved_by: Option<String>,
    pub solution_approved_at: Option<DateTime<Utc>>,
    pub report_reviewed_by: Option<String>,
    pub report_reviewed_at: Option<DateTime<Utc>>,
    pub follow_up_plan: Option<String>,
    pub archived_at: Option<DateTime<Utc>>,
    pub archived_by: Option<String>,
    pub imported: bool,
    pub survey_satisfaction: Option<String>,
    pub survey_nps: Option<i16>,
    pub survey_comment: Option<String>,
}

impl From<&TicketRow> for TicketFull {
    fn from(t: &TicketRow) -> Self {
        TicketFull {
            summary: t.into(),
            order_number: t.order_number.clone(),
            customer_type: t.customer_type.clone(),
            info_source: t.info_source.clone(),
            expected_resolution_at: t.expected_resolution_at,
            ivr: t.ivr.clone(),
            attachments: t.attachments.clone(),
            client_ip: t.client_ip.clone(),
            tags: t.tags.clone(),
            last_contact_at: t.last_contact_at,
            contacts: t.contacts,
            unresolved_reason: t.unresolved_reason.clone(),
            first_contact_resolved: t.first_contact_resolved,
            solution: t.solution.clone(),
            solution_approved_by: t.solution_approved_by.clone(),
            solution_approved_at: t.solution_approved_at,
            report_reviewed_by: t.report_reviewed_by.clone(),
            report_reviewed_at: t.report_reviewed_at,
            follow_up_plan: t.follow_up_plan.clone(),
            archived_at: t.archived_at,
            archived_by: t.archived_by.clone(),
            imported: t.imported,
            survey_satisfaction: t.survey_satisfaction.clone(),
            survey_nps: t.survey_nps,
            survey_comment: t.survey_comment.clone(),
        }
    }
}
