//! Classification and routing events (the router worker):
//! - `{prefix}.ticket.classified`: the decision (labels, confidences, reasons, departments), also when the
//!   ticket only went to the "needs review" queue, and again after an inspector's correction;
//! - `{prefix}.ticket.routed.{department}`: one per responsible department, with the ticket summary
//!   (personal data masked), its priority and deadlines — what a department subscribes to;
//! - `{prefix}.ticket.withdrawn.{department}`: a correction moved the ticket away from that department;
//! - `{prefix}.ticket.reclassify`: a quality inspector's correction (sent by the api), consumed by the router.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::feedback::{Channel, Priority};
use super::ticket::MaskedCustomer;

/// One decided label with how sure the router is and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DecidedLabel {
    /// Label code from the configured label set (e.g. `technical_fault`).
    pub code: String,
    /// Display name (e.g. `技术故障`).
    pub name: String,
    /// In [0, 1]; 1 for labels a person set.
    pub confidence: f64,
    /// `ticket` (set by a person), `rules`, `model` or `inspector`.
    pub source: String,
    pub reasons: Vec<String>,
}

/// `{prefix}.ticket.classified`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TicketClassified {
    pub schema_version: u32,
    /// Unique per decision; consumers use it as their idempotency key.
    pub event_id: Uuid,
    pub ticket_id: Uuid,
    pub ticket_no: String,
    pub occurred_at: DateTime<Utc>,
    /// 0 for the router's first decision, +1 per correction.
    pub revision: i32,
    /// `worker:router` or `inspector:{name}`.
    pub actor: String,
    pub category: DecidedLabel,
    /// The router's final priority (a code of the configured priority set).
    pub priority: Priority,
    pub priority_decision: DecidedLabel,
    pub feedback_type: DecidedLabel,
    pub tags: Vec<String>,
    /// Empty while the ticket waits for review.
    pub lead_department: Option<String>,
    pub departments: Vec<String>,
    /// True when confidence was too low: the ticket waits for a quality inspector instead of being routed.
    pub needs_review: bool,
    pub review_reasons: Vec<String>,
    /// How the departments were chosen (which routes matched).
    pub routing_reasons: Vec<String>,
}

/// Nominal deadlines from the priority targets (wall clock from submit/receipt); the SLA worker holds the
/// business-hours clocks and its warnings are authoritative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Deadlines {
    /// Receipt + 30 minutes.
    pub registration_due: DateTime<Utc>,
    pub first_response_due: DateTime<Utc>,
}

/// `{prefix}.ticket.routed.{department}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TicketRouted {
    pub schema_version: u32,
    pub event_id: Uuid,
    pub ticket_id: Uuid,
    pub ticket_no: String,
    pub occurred_at: DateTime<Utc>,
    pub revision: i32,
    /// The department this message is addressed to.
    pub department: String,
    pub lead_department: String,
    /// True when this department leads the ticket.
    pub is_lead: bool,
    pub departments: Vec<String>,
    pub channel: Channel,
    pub submitted_at: DateTime<Utc>,
    /// Name shown as `*先生/女士`, phone as its last four digits.
    pub customer: MaskedCustomer,
    /// The customer's words (ID and bank-card numbers already redacted by intake).
    pub description: String,
    pub category: String,
    pub feedback_type: String,
    pub tags: Vec<String>,
    pub priority: Priority,
    pub deadlines: Deadlines,
    /// The owner the department's assignment policy picked, if any.
    pub owner: Option<String>,
}

/// `{prefix}.ticket.withdrawn.{department}`: the department is no longer responsible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TicketWithdrawn {
    pub schema_version: u32,
    pub event_id: Uuid,
    pub ticket_id: Uuid,
    pub ticket_no: String,
    pub occurred_at: DateTime<Utc>,
    pub revision: i32,
    pub department: String,
    /// Where the ticket went instead.
    pub new_lead_department: Option<String>,
    pub reason: String,
}

/// `{prefix}.ticket.reclassify`: a quality inspector's correction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TicketReclassify {
    pub schema_version: u32,
    /// Unique per correction; the router's idempotency key.
    pub event_id: Uuid,
    pub ticket_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    /// The inspector, e.g. `zhang.min`.
    pub inspector: String,
    /// Correct category code.
    pub category: String,
    /// Correct priority, when the inspector changed it.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Correct feedback type code, when changed.
    #[serde(default)]
    pub feedback_type: Option<String>,
    /// Replacement tag list, when changed.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub comment: Option<String>,
}
