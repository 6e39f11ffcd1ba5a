//! `{prefix}.ticket.created`: a submission became a ticket. Personal data is already masked and ID/card
//! numbers redacted, so any department may consume it.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::feedback::{Attachment, Channel, CustomerType, FeedbackType, Priority};

/// Where a ticket stands. The api owns the transitions; workers move a ticket only along their own edge
/// (the router from `new` to `open` or `needs_review`, the survey worker from `resolved` to `reopened`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Registered by intake, not yet classified.
    New,
    /// Classified with low confidence: waits for a quality inspector.
    NeedsReview,
    /// Routed to its department(s), being handled.
    Open,
    WaitingOnCustomer,
    Resolved,
    /// Reopened after resolution (an unsatisfied survey answer or an agent's decision).
    Reopened,
    Archived,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::New => "new",
            TicketStatus::NeedsReview => "needs_review",
            TicketStatus::Open => "open",
            TicketStatus::WaitingOnCustomer => "waiting_on_customer",
            TicketStatus::Resolved => "resolved",
            TicketStatus::Reopened => "reopened",
            TicketStatus::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<TicketStatus> {
        [
            TicketStatus::New,
            TicketStatus::NeedsReview,
            TicketStatus::Open,
            TicketStatus::WaitingOnCustomer,
            TicketStatus::Resolved,
            TicketStatus::Reopened,
            TicketStatus::Archived,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// The customer as everyone outside the ticket itself sees them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MaskedCustomer {
    pub id: Option<String>,
    /// e.g. `张先生/女士`.
    pub name: Option<String>,
    /// Only the last four digits, e.g. `*******5678`.
    pub phone: Option<String>,
    pub customer_type: Option<CustomerType>,
}

/// What intake found in the customer's earlier tickets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CustomerHistory {
    /// Earlier tickets of the same customer id or phone.
    pub previous_tickets: i64,
    /// The earlier ticket this one most likely repeats (same customer, similar text, within the window).
    pub likely_duplicate_of: Option<String>,
    /// Text similarity to that ticket in [0, 1].
    pub duplicate_similarity: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IvrSummary {
    pub call_id: String,
    pub caller_number: String,
    pub keypresses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TicketCreated {
    pub schema_version: u32,
    pub ticket_id: Uuid,
    /// 工单号: `YYYYMMDD` + daily serial, e.g. `20231027001`.
    pub ticket_no: String,
    pub channel: Channel,
    pub submitted_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub customer: MaskedCustomer,
    pub order_number: Option<String>,
    /// The customer's words with national ID and bank-card numbers redacted.
    pub description: String,
    pub feedback_type: Option<FeedbackType>,
    pub tags: Vec<String>,
    /// The priority the customer or agent gave, if any; the router decides the final one.
    pub priority: Option<Priority>,
    pub expected_resolution_at: Option<DateTime<Utc>>,
    pub attachments: Vec<Attachment>,
    pub info_source: Option<String>,
    pub ivr: Option<IvrSummary>,
    pub history: CustomerHistory,
}
