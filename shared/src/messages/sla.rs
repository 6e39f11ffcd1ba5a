//! SLA worker events, one subject per kind and department so each department subscribes to its own:
//! `{prefix}.sla.warning.{department}`, `{prefix}.sla.breached.{department}` and
//! `{prefix}.sla.escalated.{department}` (a breach addressed to the department supervisor, held until
//! the department's notify hours). Tickets not yet routed use the department `unassigned`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::feedback::Priority;

/// The deadlines a ticket is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaClock {
    /// Receipt → registered with a department (30 minutes).
    Registration,
    /// Submit → first reply to the customer.
    FirstResponse,
    /// Last contact → next proactive contact while handling.
    ProactiveContact,
    /// Submit (or reopening) → resolved.
    Resolution,
    /// Resolved → survey / revisit done (24 hours).
    Survey,
}

impl SlaClock {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaClock::Registration => "registration",
            SlaClock::FirstResponse => "first_response",
            SlaClock::ProactiveContact => "proactive_contact",
            SlaClock::Resolution => "resolution",
            SlaClock::Survey => "survey",
        }
    }
}

/// What happened to the clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SlaAlert {
    /// The clock has used `fraction` of its target (default 0.75 and 0.9).
    Warning { fraction: f64, elapsed_secs: i64 },
    /// The target is used up.
    Breached,
    /// The breach, addressed to the department supervisor.
    Escalated {
        supervisor: Option<String>,
        breached_at: DateTime<Utc>,
    },
}

impl SlaAlert {
    /// The subject token: `warning`, `breached`, `escalated`.
    pub fn kind(&self) -> &'static str {
        match self {
            SlaAlert::Warning { .. } => "warning",
            SlaAlert::Breached => "breached",
            SlaAlert::Escalated { .. } => "escalated",
        }
    }
}

/// A deadline notice about one clock of one ticket: a warning, a breach or its escalation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SlaNotice {
    pub schema_version: u32,
    /// Unique per notice; consumers use it as their idempotency key.
    pub event_id: Uuid,
    pub ticket_id: Uuid,
    pub ticket_no: Option<String>,
    /// The ticket's lead department, or `unassigned`.
    pub department: String,
    pub priority: Option<Priority>,
    pub clock: SlaClock,
    /// Which run of the clock (a reopened ticket starts a new resolution cycle).
    pub cycle: i32,
    /// The target in business seconds (wall seconds for the survey clock).
    pub target_secs: i64,
    /// The instant the clock is (or was) due.
    pub deadline_at: DateTime<Utc>,
    /// When the worker fired this notice.
    pub occurred_at: DateTime<Utc>,
    #[serde(flatten)]
    pub alert: SlaAlert,
}

impl SlaNotice {
    /// The department as a subject token (anything but letters, digits, `-` and `_` becomes `_`).
    pub fn department_token(department: &str) -> String {
        let token: String = department
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if token.is_empty() {
            "unassigned".to_owned()
        } else {
            token
        }
    }

    /// `sla.{kind}.{department}` without the prefix; join it with [`crate::subjects::Subjects::subject`].
    pub fn subject_suffix(&self) -> String {
        format!(
            "sla.{}.{}",
            self.alert.kind(),
            Self::department_token(&self.department)
        )
    }
}
