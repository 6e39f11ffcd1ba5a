//! The two setup kinds that are settings rather than lists: when and how customers are asked about a
//! resolved ticket (the survey policy, read by the survey worker), and the figures the weekly report
//! holds each group to (the report targets, read by the api). Both are edited by admins like the rest
//! of the setup; the checks here are the only place their rules are written, so the survey worker's
//! own `[survey]` section (used where a deployment keeps the policy in its configuration) is checked
//! by the same code.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::messages::feedback::Channel;
use crate::messages::survey::SurveyChannel;

/// The longest a customer may wait between resolution and the survey (docs/domain.md "Deadlines").
pub const MAX_SURVEY_WAIT: Duration = Duration::hours(24);

/// The survey kind's document: durations as people write them (`"2h"`, `"30m"`), times of day `"HH:MM"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct SurveyPolicy {
    /// Wait after resolution before asking (with the quiet hours, at most 24 h).
    pub delay: String,
    /// Quiet hours in the customer's local time: no request or reminder starts inside them.
    pub quiet_start: String,
    pub quiet_end: String,
    /// The customers' time zone for quiet hours (an IANA name); empty: the deployment's `timezone`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Whether one reminder is sent when there is no answer after `reminder_after`.
    pub reminders: bool,
    pub reminder_after: String,
    /// The answer window, counted from the request; the link expires with it.
    pub expire_after: String,
    /// `reopen` (a second follow-up by the lead department) or `escalate` (to its supervisor).
    pub on_unsatisfied: String,
    /// A resolution learnt about later than this gets no survey (asking days later confuses people).
    pub skip_older_than: String,
    /// Survey channel per intake channel (`form = "sms"`); unlisted channels use the defaults.
    pub channels: BTreeMap<String, String>,
}

impl Default for SurveyPolicy {
    fn default() -> Self {
        Self {
            delay: "2h".into(),
            quiet_start: "21:00".into(),
            quiet_end: "09:00".into(),
            timezone: None,
            reminders: true,
            reminder_after: "24h".into(),
            expire_after: "72h".into(),
            on_unsatisfied: "reopen".into(),
            skip_older_than: "72h".into(),
            channels: BTreeMap::new(),
        }
    }
}

/// What to do when the customer is unsatisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUnsatisfied {
    /// Reopen the ticket for a second follow-up by its lead department (new SLA cycle, new survey).
    Reopen,
    /// Leave the ticket resolved and hand the answer to the lead department's supervisor.
    Escalate,
}

/// A [`SurveyPolicy`] read into values.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedSurveyPolicy {
    pub delay: Duration,
    pub quiet_start: NaiveTime,
    pub quiet_end: NaiveTime,
    pub timezone: Option<chrono_tz::Tz>,
    pub reminder_after: Option<Duration>,
    pub expire_after: Duration,
    pub on_unsatisfied: OnUnsatisfied,
    pub skip_older_than: Duration,
    pub channels: HashMap<Channel, SurveyChannel>,
}

/// Why a survey policy is refused: the key at fault and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct PolicyFault {
    /// The field, as in the document (`delay`, `reminder_after`, `channels`, ...).
    pub key: &'static str,
    /// Machine-readable: `bad_duration`, `bad_time`, `zero_deadline`, `late_survey`, `bad_value`.
    pub code: &'static str,
    pub message: String,
}

fn fault(key: &'static str, code: &'static str, message: impl Into<String>) -> PolicyFault {
    PolicyFault {
        key,
        code,
        message: message.into(),
    }
}

/// `"2h"`, `"30m"`, `"1h 30m"` (humantime) as a duration.
pub fn read_duration(key: &'static str, value: &str) -> Result<Duration, PolicyFault> {
    let bad = || {
        fault(
            key,
            "bad_duration",
            format!("`{value}` is not a duration (write e.g. \"2h\" or \"30m\")"),
        )
    };
    let d = humantime::parse_duration(value.trim()).map_err(|_| bad())?;
    Duration::from_std(d).map_err(|_| bad())
}

fn read_time(key: &'static str, value: &str) -> Result<NaiveTime, PolicyFault> {
    NaiveTime::parse_from_str(value.trim(), "%H:%M").map_err(|_| {
        fault(
            key,
            "bad_time",
            format!("`{value}` is not a time of day (write \"HH:MM\")"),
        )
    })
}

impl SurveyPolicy {
    /// Reads every value and checks the rules between them: the survey still comes within 24 h of
    /// resolution when quiet hours push it back, the reminder comes before the link expires.
    pub fn check(&self) -> Result<CheckedSurveyPolicy, PolicyFault> {
        let delay = read_duration("delay", &self.delay)?;
        let quiet_start = read_time("quiet_start", &self.quiet_start)?;
        let quiet_end = read_time("quiet_end", &self.quiet_end)?;
        let timezone = match self.timezone.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => Some(name.parse::<chrono_tz::Tz>().map_err(|_| {
                fault(
                    "timezone",
                    "bad_value",
                    format!("`{name}` is not an IANA time zone name (e.g. Asia/Shanghai)"),
                )
            })?),
        };
        let reminder_after = read_duration("reminder_after", &self.reminder_after)?;
        let expire_after = read_duration("expire_after", &self.expire_after)?;
        let skip_older_than = read_duration("skip_older_than", &self.skip_older_than)?;
        if delay > MAX_SURVEY_WAIT {
            return Err(fault("delay", "late_survey", "must be between 0 and 24h"));
        }
        let quiet_len = {
            let d = quiet_end.signed_duration_since(quiet_start);
            if d < Duration::zero() {
                d + Duration::hours(24)
            } else {
                d
            }
        };
        // Quiet hours may push the request to their end; the sum must still keep the 24 h promise.
        if delay + quiet_len > MAX_SURVEY_WAIT {
            return Err(fault(
                "delay",
                "late_survey",
                format!(
                    "delay plus quiet hours ({} min) exceeds 24h, so a survey could come later than promised",
                    quiet_len.num_minutes()
                ),
            ));
        }
        if skip_older_than <= delay {
            return Err(fault(
                "skip_older_than",
                "bad_value",
                "must be longer than delay",
            ));
        }
        if expire_after <= Duration::zero() {
            return Err(fault("expire_after", "zero_deadline", "must be positive"));
        }
        if self.reminders && (reminder_after <= Duration::zero() || reminder_after >= expire_after)
        {
            return Err(fault(
                "reminder_after",
                "bad_value",
                "must be positive and shorter than expire_after",
            ));
        }
        let on_unsatisfied = match self.on_unsatisfied.as_str() {
            "reopen" => OnUnsatisfied::Reopen,
            "escalate" => OnUnsatisfied::Escalate,
            other => {
                return Err(fault(
                    "on_unsatisfied",
                    "bad_value",
                    format!("`{other}` is neither `reopen` nor `escalate`"),
                ))
            }
        };
        let mut channels = HashMap::new();
        for (from, to) in &self.channels {
            let from_c = Channel::parse(from).ok_or_else(|| {
                fault(
                    "channels",
                    "bad_value",
                    format!("`{from}` is not an intake channel"),
                )
            })?;
            let to_c = SurveyChannel::parse(to).ok_or_else(|| {
                fault(
                    "channels",
                    "bad_value",
                    format!("`{to}` is not a survey channel (sms, app, ivr, link)"),
                )
            })?;
            channels.insert(from_c, to_c);
        }
        Ok(CheckedSurveyPolicy {
            delay,
            quiet_start,
            quiet_end,
            timezone,
            reminder_after: self.reminders.then_some(reminder_after),
            expire_after,
            on_unsatisfied,
            skip_older_than,
            channels,
        })
    }
}

/// The report targets kind's document: what the weekly report marks as met or missed per group
/// (docs/domain.md "Reports").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ReportTargets {
    /// Average first response at most this many minutes.
    pub first_response_minutes: f64,
    /// Average resolution (of resolved tickets) at most this many minutes.
    pub resolution_minutes: f64,
    /// Resolution rate at least this percentage.
    pub resolution_rate: f64,
    /// First-contact resolution rate at least this percentage.
    pub first_contact_resolution_rate: f64,
}

impl Default for ReportTargets {
    fn default() -> Self {
        Self {
            first_response_minutes: 30.0,
            resolution_minutes: 120.0,
            resolution_rate: 95.0,
            first_contact_resolution_rate: 80.0,
        }
    }
}

impl ReportTargets {
    /// Every target out of range, as (field, code, message).
    pub fn faults(&self) -> Vec<(&'static str, &'static str, String)> {
        let mut out = Vec::new();
        for (key, minutes) in [
            ("first_response_minutes", self.first_response_minutes),
            ("resolution_minutes", self.resolution_minutes),
        ] {
            if !minutes.is_finite() || minutes <= 0.0 {
                out.push((
                    key,
                    "zero_deadline",
                    format!("{key} must be more than zero minutes"),
                ));
            } else if minutes > 525_600.0 {
                out.push((key, "bad_value", format!("{key} is more than a year")));
            }
        }
        for (key, rate) in [
            ("resolution_rate", self.resolution_rate),
            (
                "first_contact_resolution_rate",
                self.first_contact_resolution_rate,
            ),
        ] {
            if !rate.is_finite() || !(0.0..=100.0).contains(&rate) {
                out.push((
                    key,
                    "bad_rate",
                    format!("{key} is a percentage between 0 and 100"),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_sound() {
        let p = SurveyPolicy::default().check().unwrap();
        assert_eq!(p.delay, Duration::hours(2));
        assert_eq!(p.reminder_after, Some(Duration::hours(24)));
        assert_eq!(p.on_unsatisfied, OnUnsatisfied::Reopen);
        assert!(ReportTargets::default().faults().is_empty());
    }

    #[test]
    fn a_survey_later_than_promised_or_a_reminder_after_expiry_is_refused() {
        let late = SurveyPolicy {
            delay: "13h".into(),
            ..Default::default()
        };
        assert_eq!(late.check().unwrap_err().code, "late_survey");
        let reminder = SurveyPolicy {
            reminder_after: "80h".into(),
            ..Default::default()
        };
        assert_eq!(reminder.check().unwrap_err().key, "reminder_after");
        let time = SurveyPolicy {
            quiet_start: "9pm".into(),
            ..Default::default()
        };
        assert_eq!(time.check().unwrap_err().code, "bad_time");
        let mut fax = SurveyPolicy::default();
        fax.channels.insert("form".into(), "fax".into());
        assert_eq!(fax.check().unwrap_err().key, "channels");
    }

    #[test]
    fn targets_out_of_range_are_named() {
        let t = ReportTargets {
            first_response_minutes: 0.0,
            resolution_rate: 120.0,
            ..Default::default()
        };
        let keys: Vec<_> = t.faults().into_iter().map(|f| f.0).collect();
        assert_eq!(keys, ["first_response_minutes", "resolution_rate"]);
    }
}
