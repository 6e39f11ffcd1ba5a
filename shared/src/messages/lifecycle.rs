//! Ticket lifecycle events published by whoever changes the ticket (mostly the api, the survey worker for
//! reopenings): `{prefix}.ticket.{kind}` with `kind` from [`LifecycleChange::kind`]. The SLA worker starts,
//! stops, pauses and recomputes its clocks from these; reports and rollups count them.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::feedback::Priority;

/// 解决状态 at step 6 of handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// 完全解决
    Full,
    /// 部分解决
    Partial,
    /// 未解决 (with a reason)
    Unresolved,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Full => "full",
            Resolution::Partial => "partial",
            Resolution::Unresolved => "unresolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LifecycleChange {
    /// A reply to the customer; the first one ends the first-response clock.
    Replied {
        first: bool,
    },
    /// A proactive contact with the customer while handling.
    Contacted,
    /// Paused: waiting for the customer to supply something.
    WaitingOnCustomer {
        reason: Option<String>,
    },
    /// The customer answered; clocks resume.
    Resumed,
    PriorityChanged {
        from: Priority,
        to: Priority,
    },
    Assigned {
        owner: String,
    },
    Resolved {
        resolution: Resolution,
        reason: Option<String>,
        /// Resolved in the first contact with the customer.
        first_contact: bool,
    },
    Reopened {
        reason: Option<String>,
    },
    Archived,
}

impl LifecycleChange {
    /// The last subject token: `ticket.replied`, `ticket.resolved`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            LifecycleChange::Replied { .. } => "replied",
            LifecycleChange::Contacted => "contacted",
            LifecycleChange::WaitingOnCustomer { .. } => "waiting",
            LifecycleChange::Resumed => "resumed",
            LifecycleChange::PriorityChanged { .. } => "priority_changed",
            LifecycleChange::Assigned { .. } => "assigned",
            LifecycleChange::Resolved { .. } => "resolved",
            LifecycleChange::Reopened { .. } => "reopened",
            LifecycleChange::Archived => "archived",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TicketLifecycleEvent {
    pub schema_version: u32,
    /// Unique per change; consumers use it as their idempotency key.
    pub event_id: Uuid,
    pub ticket_id: Uuid,
    pub ticket_no: String,
    pub occurred_at: DateTime<Utc>,
    /// The user or worker that made the change, e.g. `agent:li.wei` or `worker:survey`.
    pub actor: String,
    /// The ticket's lead department at the time, when it has one.
    pub department: Option<String>,
    /// The ticket's priority after the change, when known.
    pub priority: Option<Priority>,
    #[serde(flatten)]
    pub change: LifecycleChange,
}

impl TicketLifecycleEvent {
    /// `ticket.{kind}` without the prefix; join it with [`crate::subjects::Subjects::subject`].
    pub fn subject_suffix(&self) -> String {
        format!("ticket.{}", self.change.kind())
    }
}
