//! The router's own settings (`[router]` in the deployment config, or `LOOPDESK__ROUTER__*`).

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RouterSettings {
    /// Directory with labels.toml, rules.toml, routing.toml and the models.
    pub config_dir: PathBuf,
    /// How often the rule and routing files are checked for changes.
    pub reload_ms: u64,
    /// The base labelled set `router retrain` learns from, together with stored corrections.
    pub examples: PathBuf,
    /// How often each replica checks for a newly adopted model besides the bus announcement (which a
    /// replica misses while disconnected).
    pub adopted_poll_secs: u64,
}

impl Default for RouterSettings {
    fn default() -> Self {
        Self {
            config_dir: PathBuf::from("config/router"),
            reload_ms: 2000,
            examples: PathBuf::from("tests/data/router/labelled.tsv"),
            adopted_poll_secs: 30,
        }
    }
}

impl RouterSettings {
    pub fn from_config(raw: &config::Config) -> Result<Self, config::ConfigError> {
        match raw.get::<RouterSettings>("router") {
            Err(config::ConfigError::NotFound(_)) => Ok(Self::default()),
            other => other,
        }
    }
}
