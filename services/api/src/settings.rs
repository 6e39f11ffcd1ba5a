//! The api's own configuration section, `[api]` (env `LOOPDESK__API__…`).

use secrecy::SecretString;
use serde::Deserialize;

/// The SPEC's default targets; configuration, not code.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct Targets {
    /// Average first response at most this many minutes.
    pub first_response_minutes: f64,
    /// Average resolution at most this many minutes.
    pub resolution_minutes: f64,
    /// Resolution rate at least this percentage.
    pub resolution_rate: f64,
    /// First-contact resolution rate at least this percentage.
    pub first_contact_resolution_rate: f64,
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            first_response_minutes: 30.0,
            resolution_minutes: 120.0,
            resolution_rate: 95.0,
            first_contact_resolution_rate: 80.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ApiSettings {
    /// A bootstrap admin token for first start and tests (main fills it from `LOOPDESK_ADMIN_TOKEN`).
    pub admin_token: Option<SecretString>,
    pub targets: Targets,
    /// Largest spreadsheet `POST /v1/import` accepts, in bytes.
    pub max_import_bytes: usize,
    /// Rows one import may hold.
    pub max_import_rows: usize,
    /// TrueType font embedded in PDF reports; the first existing of `pdf_font_candidates` otherwise.
    pub pdf_font: Option<String>,
    /// How often pending report deltas are folded into the rollups, in milliseconds.
    pub rollup_fold_ms: u64,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            admin_token: None,
            targets: Targets::default(),
            max_import_bytes: 10 * 1024 * 1024,
            max_import_rows: 20_000,
            pdf_font: None,
            rollup_fold_ms: 2_000,
        }
    }
}

impl ApiSettings {
    pub fn from_config(raw: &config::Config) -> Result<Self, config::ConfigError> {
        match raw.get::<ApiSettings>("api") {
            Err(config::ConfigError::NotFound(_)) => Ok(Self::default()),
            other => other,
        }
    }
}
