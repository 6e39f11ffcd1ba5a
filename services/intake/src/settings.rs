//! Intake's own configuration section, `[intake]` (env `LOOPDESK__INTAKE__…`).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct IntakeSettings {
    /// Largest submission accepted, in bytes; larger ones are refused and stored truncated.
    pub max_payload_bytes: usize,
    /// How far in the future `submitted_at` may lie (adapters' clocks drift).
    pub max_clock_skew_secs: i64,
    /// How far back a likely duplicate is looked for.
    pub duplicate_window_hours: i64,
    /// Text similarity (character-bigram Dice coefficient, 0–1) from which a submission is flagged as a likely duplicate.
    pub duplicate_similarity: f32,
    /// Take the client IP from `X-Forwarded-For` (only behind a trusted reverse proxy).
    pub trust_forwarded_for: bool,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            max_payload_bytes: 64 * 1024,
            max_clock_skew_secs: 300,
            duplicate_window_hours: 72,
            duplicate_similarity: 0.55,
            trust_forwarded_for: false,
        }
    }
}

impl IntakeSettings {
    pub fn from_config(raw: &config::Config) -> Result<Self, config::ConfigError> {
        match raw.get::<IntakeSettings>("intake") {
            Err(config::ConfigError::NotFound(_)) => Ok(Self::default()),
            other => other,
        }
    }
}
