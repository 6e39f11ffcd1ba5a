//! Intake's own configuration section, `[intake]` (env `LOOPDESK__INTAKE__…`).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct IntakeSettings {
    /// Largest submission accepted, in bytes; larger ones are refused and stored truncated.
    pub max_payload_bytes: usize,
    /// How far in the future `submitted_at` may lie (adapters' clocks drift).
    pub max_clock_skew_secs: i64,
    /// How far before its receipt a bus adapter's `submitted_at` may lie (a backlog replayed after an
    /// outage); older submissions are refused with `stale_timestamp`, so nobody dates tickets into
    /// closed report periods. The web form always uses the receive time.
    pub max_backdate_hours: i64,
    /// How far back a likely duplicate is looked for.
    pub duplicate_window_hours: i64,
    /// Text similarity (character-bigram Dice coefficient, 0–1) from which a submission is flagged as a likely duplicate.
    pub duplicate_similarity: f32,
    /// Web form group commit: the longest wait, after a batch's first submission, for others being
    /// received at the same moment (see [`crate::group_commit`]).
    pub form_linger_ms: u64,
    /// Web form group commit: the largest batch of submissions committed in one transaction.
    pub form_max_batch: usize,
    /// Web form group commit: batches committing at once, each on one pooled connection.
    pub form_commit_lanes: usize,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            max_payload_bytes: 64 * 1024,
            max_clock_skew_secs: 300,
            max_backdate_hours: 168,
            duplicate_window_hours: 72,
            duplicate_similarity: 0.55,
            form_linger_ms: 2,
            form_max_batch: 500,
            form_commit_lanes: 2,
        }
    }
}

impl IntakeSettings {
    /// How the web form's concurrent submissions are grouped into transactions.
    pub fn group_commit(&self) -> crate::group_commit::GroupCommitSettings {
        crate::group_commit::GroupCommitSettings {
            linger: std::time::Duration::from_millis(self.form_linger_ms),
            max_batch: self.form_max_batch,
            lanes: self.form_commit_lanes,
        }
    }

    pub fn from_config(raw: &config::Config) -> Result<Self, config::ConfigError> {
        shared::config::section(raw, "intake")
    }
}
