//! The api's own configuration section, `[api]` (env `LOOPDESK__API__…`).

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ApiSettings {
    /// A bootstrap admin token for first start and tests (main fills it from `LOOPDESK_ADMIN_TOKEN`).
    pub admin_token: Option<SecretString>,
    /// Largest spreadsheet `POST /v1/import` accepts, in bytes.
    pub max_import_bytes: usize,
    /// Rows one import may hold.
    pub max_import_rows: usize,
    /// TrueType/OpenType font (or collection) for PDF reports; else the first installed of
    /// `pdf::FONT_CANDIDATES`.
    pub pdf_font: Option<String>,
    /// How often pending report deltas are folded into the rollups, in milliseconds.
    pub rollup_fold_ms: u64,
    /// The console's built files (`npm run build` in `services/console`), served at `/`.
    pub console_dir: String,
    pub session: SessionSettings,
    pub login: LoginSettings,
    /// Days an issued api token lives unless the request names fewer.
    pub token_days: u32,
    /// Seconds between `event: ping` on an idle `GET /v1/events` stream.
    pub events_keepalive_secs: u64,
}

/// Browser sessions (`POST /v1/auth/session`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct SessionSettings {
    /// A session unused this long ends.
    pub idle_minutes: u32,
    /// A session ends this long after sign-in however busy it is.
    pub absolute_hours: u32,
    /// Marks the cookie `Secure` and sends `Strict-Transport-Security`: set it when the api is reached
    /// over https (directly or behind a proxy), never for plain-http local runs.
    pub secure_cookie: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_minutes: 120,
            absolute_hours: 12,
            secure_cookie: false,
        }
    }
}

/// Sign-in limits: failed attempts per name and per client address within a window, and how many
/// password hashes run at once.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct LoginSettings {
    pub window_secs: u64,
    /// Failed attempts for one name within the window before further attempts are refused.
    pub max_failures_per_name: u32,
    /// Failed attempts from one address within the window (any names) before it is refused.
    pub max_failures_per_address: u32,
    /// Password hashes (argon2, ~19 MiB and tens of ms each) computed at once; the rest wait.
    pub hash_concurrency: usize,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            window_secs: 900,
            max_failures_per_name: 10,
            max_failures_per_address: 50,
            hash_concurrency: 2,
        }
    }
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            admin_token: None,
            max_import_bytes: 10 * 1024 * 1024,
            max_import_rows: 20_000,
            pdf_font: None,
            rollup_fold_ms: 2_000,
            console_dir: "services/console/dist".into(),
            session: SessionSettings::default(),
            login: LoginSettings::default(),
            token_days: 90,
            events_keepalive_secs: 15,
        }
    }
}

impl ApiSettings {
    pub fn from_config(raw: &config::Config) -> Result<Self, config::ConfigError> {
        shared::config::section(raw, "api")
    }
}
