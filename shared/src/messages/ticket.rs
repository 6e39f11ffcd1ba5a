//! `{prefix}.ticket.created`: a submission became a ticket. Personal data is already masked and ID/card
//! numbers redacted, so any department may consume it.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::feedback::{Attachment, Channel, CustomerType, FeedbackType, Priority};

/// Where a ticket stands: the one definition is the lifecycle's.
pub use crate::lifecycle::TicketStatus;

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
