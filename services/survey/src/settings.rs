//! The `[survey]` configuration section (`LOOPDESK__SURVEY__*` in the environment).
//!
//! Durations are written as people write them (`"2h"`, `"72h"`, `"30m"`); times of day as `"HH:MM"`.
//! The token secret is never in a committed file: it comes from `LOOPDESK__SURVEY__TOKEN_SECRET` (or a
//! config file outside the repo).

use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveTime};
use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use shared::messages::feedback::Channel;
use shared::messages::survey::SurveyChannel;
use shared::setup::policies::{read_duration, CheckedSurveyPolicy, PolicyFault, SurveyPolicy};

/// Everything wrong with a `[survey]` section, named by its key.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("survey configuration could not be read: {0}")]
    Load(#[from] config::ConfigError),
    #[error("survey.{key}: {message}")]
    Invalid { key: &'static str, message: String },
    /// The business part (delay, quiet hours, reminder, ...), checked as the setup's survey kind is.
    #[error("survey.{0}")]
    Policy(#[from] PolicyFault),
}

/// The section as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RawSurveySettings {
    /// HMAC key for response tokens; at least 32 bytes. Required: every replica must sign and verify
    /// with the same key, or each refuses the links the others sent.
    pub token_secret: Option<SecretString>,
    /// Local demo only: without `token_secret`, sign with a key made up at start (links die with the
    /// process, and a second replica refuses them). Off by default, so a deployment that forgot the
    /// secret refuses to start instead of sending links that fail.
    pub allow_ephemeral_secret: bool,
    /// Whether the business's setup (its `survey` kind, edited in the console) decides when and how
    /// customers are asked, following every change (default). False: `policy` below does.
    pub from_setup: bool,
    /// Where customers reach the response page: links read `{public_base_url}/s/{token}`.
    pub public_base_url: String,
    /// When and how customers are asked (`[survey.policy]`, the keys of config/survey/survey.toml),
    /// in force only with `from_setup = false`; otherwise the setup's survey kind decides.
    pub policy: SurveyPolicy,
    /// Longest sleep of the timer loop when nothing is due sooner.
    pub poll_interval: String,
    /// Timers fired per transaction.
    pub timer_batch: i64,
    /// Longest comment kept, in characters.
    pub max_comment_chars: usize,
    /// Largest body the page's POST reads (a full comment in Chinese, percent-encoded, is ~18 KB).
    pub page_max_body_bytes: usize,
    /// Of a refused answer, at most this many bytes of what was sent are stored.
    pub max_stored_refusal_bytes: usize,
    /// Answers the page takes per client address per minute; beyond it 429, nothing stored.
    pub page_posts_per_minute_per_address: u32,
    /// Answers the page takes per survey link per hour (each refusal is stored and on the ticket's
    /// timeline); beyond it 429, nothing stored.
    pub page_posts_per_hour_per_link: u32,
}

impl Default for RawSurveySettings {
    fn default() -> Self {
        Self {
            token_secret: None,
            allow_ephemeral_secret: false,
            from_setup: true,
            public_base_url: "http://127.0.0.1:8083".into(),
            policy: SurveyPolicy::default(),
            poll_interval: "1s".into(),
            timer_batch: 200,
            max_comment_chars: 2000,
            page_max_body_bytes: 32 * 1024,
            max_stored_refusal_bytes: 2048,
            page_posts_per_minute_per_address: 30,
            page_posts_per_hour_per_link: 10,
        }
    }
}

pub use shared::setup::policies::{OnUnsatisfied, MAX_SURVEY_WAIT as MAX_WAIT};

/// Quiet hours: a half-open local-time window `[start, end)`, which may wrap past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub tz: Tz,
}

/// The validated section the worker runs with.
#[derive(Debug, Clone)]
pub struct SurveySettings {
    pub token_secret: Option<SecretString>,
    pub allow_ephemeral_secret: bool,
    pub from_setup: bool,
    pub public_base_url: String,
    /// The deployment's `timezone`: quiet hours' zone when the policy names none.
    pub deployment_tz: Tz,
    /// When and how customers are asked: the setup's survey kind, or `[survey.policy]`. A change of
    /// the setup replaces it whole.
    pub policy: CheckedSurveyPolicy,
    pub poll_interval: StdDuration,
    pub timer_batch: i64,
    pub max_comment_chars: usize,
    pub page_max_body_bytes: usize,
    pub max_stored_refusal_bytes: usize,
    pub page_posts_per_minute_per_address: u32,
    pub page_posts_per_hour_per_link: u32,
}

/// Default survey channel per intake channel. The IVR and the app answer on themselves; everything else
/// gets an SMS when there is a phone number (the customer's phone is the one contact every channel
/// collects), and a link (sent by e-mail/chat/social) otherwise — see [`SurveySettings::channel_for`].
pub fn default_channel(channel: Channel) -> SurveyChannel {
    match channel {
        Channel::App => SurveyChannel::App,
        Channel::Ivr => SurveyChannel::Ivr,
        Channel::Form | Channel::Phone | Channel::Chat | Channel::Social => SurveyChannel::Sms,
        Channel::Email => SurveyChannel::Link,
    }
}

fn invalid(key: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key,
        message: message.into(),
    }
}

impl RawSurveySettings {
    /// Reads `[survey]` from the loaded configuration; an absent section means every default.
    pub fn from_config(raw: &config::Config) -> Result<Self, SettingsError> {
        Ok(shared::config::section(raw, "survey")?)
    }

    /// Checks every value and the rules between them; `default_tz` is the deployment's time zone.
    pub fn validate(self, default_tz: Tz) -> Result<SurveySettings, SettingsError> {
        let policy = self.policy.check()?;
        let poll_interval = read_duration("poll_interval", &self.poll_interval)?;
        if let Some(secret) = &self.token_secret {
            if secret.expose_secret().len() < 32 {
                return Err(invalid("token_secret", "must be at least 32 bytes"));
            }
        }
        let base = self.public_base_url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(invalid(
                "public_base_url",
                "must start with http:// or https://",
            ));
        }
        if self.timer_batch < 1 {
            return Err(invalid("timer_batch", "must be at least 1"));
        }
        if poll_interval <= Duration::zero() {
            return Err(invalid("poll_interval", "must be positive"));
        }
        if self.page_posts_per_minute_per_address == 0 || self.page_posts_per_hour_per_link == 0 {
            return Err(invalid(
                "page_posts_per_minute_per_address",
                "page rate limits must be at least 1",
            ));
        }
        if self.page_max_body_bytes < 1024 {
            return Err(invalid("page_max_body_bytes", "must be at least 1024"));
        }
        Ok(SurveySettings {
            token_secret: self.token_secret,
            allow_ephemeral_secret: self.allow_ephemeral_secret,
            from_setup: self.from_setup,
            public_base_url: base,
            deployment_tz: default_tz,
            policy,
            poll_interval: poll_interval.to_std().unwrap_or(StdDuration::from_secs(1)),
            timer_batch: self.timer_batch,
            max_comment_chars: self.max_comment_chars,
            page_max_body_bytes: self.page_max_body_bytes,
            max_stored_refusal_bytes: self.max_stored_refusal_bytes,
            page_posts_per_minute_per_address: self.page_posts_per_minute_per_address,
            page_posts_per_hour_per_link: self.page_posts_per_hour_per_link,
        })
    }
}

impl SurveySettings {
    /// The policy's quiet hours, in its time zone or else the deployment's.
    pub fn quiet(&self) -> QuietHours {
        QuietHours {
            start: self.policy.quiet_start,
            end: self.policy.quiet_end,
            tz: self.policy.timezone.unwrap_or(self.deployment_tz),
        }
    }

    /// The signer for response links: the configured secret, or (local demo only, when allowed) one
    /// made up now. Without either the worker must not start.
    pub fn signer(&self) -> Result<crate::TokenSigner, SettingsError> {
        match &self.token_secret {
            Some(secret) => Ok(crate::TokenSigner::new(secret.clone())),
            None if self.allow_ephemeral_secret => {
                tracing::warn!(
                    "survey.token_secret is not set: signing with an ephemeral secret (allowed by \
                     survey.allow_ephemeral_secret); survey links stop working when this process exits"
                );
                Ok(crate::TokenSigner::ephemeral())
            }
            None => Err(invalid(
                "token_secret",
                "is required (LOOPDESK__SURVEY__TOKEN_SECRET, at least 32 bytes): replicas must share \
                 it or they refuse each other's links; a local demo may set \
                 LOOPDESK__SURVEY__ALLOW_EPHEMERAL_SECRET=true instead",
            )),
        }
    }

    /// The survey channel for a ticket of `channel`, given what contact details the ticket has:
    /// SMS and IVR need a phone, the app needs a customer id; without them the survey falls back to a
    /// link (SMS if a phone exists, else the link).
    pub fn channel_for(
        &self,
        channel: Channel,
        has_phone: bool,
        has_customer_id: bool,
    ) -> SurveyChannel {
        let wanted = self
            .policy
            .channels
            .get(&channel)
            .copied()
            .unwrap_or_else(|| default_channel(channel));
        let possible = match wanted {
            SurveyChannel::Sms | SurveyChannel::Ivr => has_phone,
            SurveyChannel::App => has_customer_id,
            SurveyChannel::Link => true,
        };
        if possible {
            wanted
        } else if has_phone {
            SurveyChannel::Sms
        } else {
            SurveyChannel::Link
        }
    }

    /// Defaults with a given secret: what tests and examples start from.
    pub fn for_tests(secret: &str, tz: Tz) -> Self {
        let raw = RawSurveySettings {
            token_secret: Some(SecretString::from(secret.to_string())),
            ..Default::default()
        };
        match raw.validate(tz) {
            Ok(s) => s,
            Err(e) => panic!("default survey settings are valid: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawSurveySettings {
        RawSurveySettings {
            token_secret: Some(SecretString::from("x".repeat(32))),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_validate() {
        let s = raw().validate(chrono_tz::Asia::Shanghai).unwrap();
        assert_eq!(s.policy.delay, Duration::hours(2));
        assert_eq!(s.policy.reminder_after, Some(Duration::hours(24)));
        assert_eq!(s.policy.expire_after, Duration::hours(72));
        assert_eq!(s.policy.on_unsatisfied, OnUnsatisfied::Reopen);
        assert_eq!(s.quiet().start, NaiveTime::from_hms_opt(21, 0, 0).unwrap());
    }

    #[test]
    fn delay_and_quiet_hours_must_keep_the_24h_promise() {
        let mut r = raw();
        r.policy.delay = "13h".into();
        assert!(matches!(
            r.validate(chrono_tz::Asia::Shanghai),
            Err(SettingsError::Policy(PolicyFault { key: "delay", .. }))
        ));
        let mut r = raw();
        r.policy.delay = "25h".into();
        assert!(r.validate(chrono_tz::Asia::Shanghai).is_err());
    }

    #[test]
    fn bad_values_are_named() {
        let mut r = raw();
        r.policy.reminder_after = "80h".into();
        assert!(matches!(
            r.validate(chrono_tz::UTC),
            Err(SettingsError::Policy(PolicyFault {
                key: "reminder_after",
                ..
            }))
        ));
        let mut r = raw();
        r.policy.quiet_start = "9pm".into();
        assert!(matches!(
            r.validate(chrono_tz::UTC),
            Err(SettingsError::Policy(PolicyFault {
                key: "quiet_start",
                code: "bad_time",
                ..
            }))
        ));
        let mut r = raw();
        r.token_secret = Some(SecretString::from("short".to_string()));
        assert!(r.validate(chrono_tz::UTC).is_err());
        let mut r = raw();
        r.policy.channels.insert("form".into(), "fax".into());
        assert!(r.validate(chrono_tz::UTC).is_err());
    }

    #[test]
    fn without_a_secret_only_the_local_demo_may_start() {
        let mut r = raw();
        r.token_secret = None;
        let s = r.clone().validate(chrono_tz::UTC).unwrap();
        assert!(matches!(
            s.signer(),
            Err(SettingsError::Invalid {
                key: "token_secret",
                ..
            })
        ));
        r.allow_ephemeral_secret = true;
        assert!(r.validate(chrono_tz::UTC).unwrap().signer().is_ok());
        assert!(raw().validate(chrono_tz::UTC).unwrap().signer().is_ok());
    }

    #[test]
    fn channel_mapping_falls_back_when_contact_is_missing() {
        let mut r = raw();
        r.policy.channels.insert("email".into(), "sms".into());
        let s = r.validate(chrono_tz::UTC).unwrap();
        assert_eq!(s.channel_for(Channel::App, true, true), SurveyChannel::App);
        assert_eq!(s.channel_for(Channel::App, true, false), SurveyChannel::Sms);
        assert_eq!(s.channel_for(Channel::Ivr, true, false), SurveyChannel::Ivr);
        assert_eq!(
            s.channel_for(Channel::Form, true, false),
            SurveyChannel::Sms
        );
        assert_eq!(
            s.channel_for(Channel::Form, false, true),
            SurveyChannel::Link
        );
        assert_eq!(
            s.channel_for(Channel::Email, true, false),
            SurveyChannel::Sms
        );
        assert_eq!(
            s.channel_for(Channel::Email, false, false),
            SurveyChannel::Link
        );
    }
}
