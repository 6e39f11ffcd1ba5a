//! The survey worker: closes the loop after every resolution (SPEC "Survey").
//!
//! * [`resolved`] consumes `{prefix}.ticket.resolved` and schedules one survey per resolution (and cancels
//!   an open survey when someone else reopens the ticket).
//! * [`timers`] fires the durable timers: the request (after the delay, outside quiet hours), one
//!   reminder, and the expiry.
//! * [`respond`] records answers from the bus (`{prefix}.survey.response.{channel}`) and from the page
//!   ([`web`]): one accepted answer per survey, every refused one kept with its reason; an unsatisfied
//!   answer reopens (or escalates) the ticket.
//! * [`report`] computes CSAT, NPS and the recovery rate from the kept answers.
//!
//! Every state change commits with its events through the shared outbox; the clock is injected
//! ([`schedule::Clock`]) so tests drive days of survey life without sleeping.

use std::sync::Arc;

use shared::subjects::Subjects;
use sqlx::PgPool;

pub mod answer;
pub mod report;
pub mod resolved;
pub mod respond;
pub mod schedule;
pub mod settings;
pub mod startup;
pub mod timers;
pub mod token;
pub mod web;

pub use schedule::Clock;
pub use settings::SurveySettings;
pub use token::TokenSigner;

/// Who the worker is on the timeline and in lifecycle events.
pub const ACTOR: &str = "worker:survey";

/// What every part of the worker needs; cheap to clone into each task.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub pool: PgPool,
    pub subjects: Subjects,
    pub settings: Arc<SurveySettings>,
    pub signer: TokenSigner,
    pub clock: Clock,
    /// Which optional ticket columns the api's migration added, looked up once.
    ticket_columns: Arc<tokio::sync::OnceCell<TicketColumns>>,
}

/// Ticket columns owned by the api that the survey worker keeps current when they exist: the last
/// survey answer (read by the api's reports) and the resolution fields a reopening clears (as the api's
/// own reopen does). The survey worker does not depend on them: without them it only skips these writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TicketColumns {
    pub survey_answer: bool,
    pub resolution: bool,
    /// The router's `lead_department`, used when a resolution event names no department.
    pub lead_department: bool,
}

/// The api's columns, as in its reopen action and its ticket model.
pub const SURVEY_ANSWER_COLUMNS: [&str; 3] =
    ["survey_satisfaction", "survey_nps", "survey_comment"];
pub const RESOLUTION_COLUMNS: [&str; 6] = [
    "resolved_at",
    "resolution",
    "unresolved_reason",
    "first_contact_resolved",
    "report_reviewed_by",
    "report_reviewed_at",
];

impl Ctx {
    pub fn new(
        pool: PgPool,
        subjects: Subjects,
        settings: Arc<SurveySettings>,
        signer: TokenSigner,
        clock: Clock,
    ) -> Self {
        Self {
            pool,
            subjects,
            settings,
            signer,
            clock,
            ticket_columns: Arc::default(),
        }
    }

    /// Looks the optional ticket columns up once per process.
    pub async fn ticket_columns(
        &self,
        conn: &mut sqlx::PgConnection,
    ) -> Result<TicketColumns, sqlx::Error> {
        if let Some(c) = self.ticket_columns.get() {
            return Ok(*c);
        }
        let present: Vec<String> = sqlx::query_scalar(
            "select column_name::text from information_schema.columns
             where table_schema = current_schema() and table_name = 'tickets'",
        )
        .fetch_all(conn)
        .await?;
        let has = |cols: &[&str]| cols.iter().all(|c| present.iter().any(|p| p == c));
        let found = TicketColumns {
            survey_answer: has(&SURVEY_ANSWER_COLUMNS),
            resolution: has(&RESOLUTION_COLUMNS),
            lead_department: has(&["lead_department"]),
        };
        let _ = self.ticket_columns.set(found);
        Ok(found)
    }

    /// The response page of a token.
    pub fn link(&self, token: &str) -> String {
        format!("{}/s/{token}", self.settings.public_base_url)
    }
}

/// `13812345678`, `+86 138-1234-5678` → `13812345678`: the last 11 digits, so an SMS reply from
/// `+8613812345678` finds the survey sent to `138 1234 5678`.
pub fn phone_key(phone: &str) -> Option<String> {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 5 {
        return None;
    }
    let start = digits.len().saturating_sub(11);
    Some(digits[start..].iter().collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn phone_keys_match_across_formats() {
        assert_eq!(
            super::phone_key("+86 138-1234-5678"),
            super::phone_key("13812345678")
        );
        assert_eq!(super::phone_key("12"), None);
    }
}
