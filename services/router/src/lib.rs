//! Loopdesk classification and routing worker.
//!
//! The classification core (this phase): text normalisation and segmentation ([`text`]),
//! the data-driven rule set ([`rules`]), the statistical model ([`model`]), the routing
//! table ([`routing`]), their combination into a decision ([`decision`]), quality figures
//! ([`eval`]) and the command line ([`cli`]); the worker ([`worker`], [`store`], [`live`], [`startup`])
//! consumes `ticket.created` and `ticket.reclassify` and publishes through the shared outbox.

pub mod baseline;
pub mod cli;
pub mod decision;
pub mod eval;
pub mod examples;
pub mod labels;
pub mod live;
pub mod model;
pub mod routing;
pub mod rules;
pub mod settings;
pub mod startup;
pub mod store;
pub mod text;
pub mod training;
pub mod worker;

use std::path::Path;

/// A config file that cannot be used. The message names the file and the rule/route at
/// fault so an operator can fix it; the previous config stays live.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
    #[error("{path} is not valid TOML: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("model: {0}")]
    Model(String),
}

impl ConfigError {
    pub(crate) fn invalid(path: &Path, message: String) -> Self {
        ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        }
    }
}
