//! The survey worker: closes the loop after every resolution (docs/domain.md "Survey").
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
    /// The settings in force; a change of the setup's survey kind replaces them whole.
    pub live_settings: shared::live::Live<SurveySettings>,
    pub signer: TokenSigner,
    pub clock: Clock,
}

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
            live_settings: settings.into(),
            signer,
            clock,
        }
    }

    /// The settings in force now (one snapshot per batch or request).
    pub fn settings(&self) -> Arc<SurveySettings> {
        self.live_settings.current()
    }

    /// The response page of a token.
    pub fn link(&self, token: &str) -> String {
        format!("{}/s/{token}", self.settings().public_base_url)
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
