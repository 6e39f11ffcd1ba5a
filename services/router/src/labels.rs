//! Label sets and classifier settings (`labels.toml`): which categories, priorities,
//! feedback types and tags exist, where their models live, and the confidence below which
//! a ticket goes to human review. A business with its own categories edits this file and
//! trains models for them; nothing in code names a category.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// One label: a stable code (used in events, routing and training files) and a display name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Label {
    pub code: String,
    pub name: String,
    /// English name, for the console (the taxonomy in `shared::setup` is what people edit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
}

/// The dimensions the router decides. Tags are decided by rules only (they are keyword
/// facts such as "response timeout"); the three others by rules and a model each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Category,
    Priority,
    FeedbackType,
}

impl Dimension {
    pub const ALL: [Dimension; 3] = [
        Dimension::Category,
        Dimension::Priority,
        Dimension::FeedbackType,
    ];

    /// Position in [`Dimension::ALL`], for per-dimension arrays.
    pub fn index(self) -> usize {
        match self {
            Dimension::Category => 0,
            Dimension::Priority => 1,
            Dimension::FeedbackType => 2,
        }
    }

    /// The column/key name used in config and training files.
    pub fn key(self) -> &'static str {
        match self {
            Dimension::Category => "category",
            Dimension::Priority => "priority",
            Dimension::FeedbackType => "feedback_type",
        }
    }
}

/// Where the trained models are, relative to the config directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPaths {
    pub category: PathBuf,
    pub priority: PathBuf,
    pub feedback_type: PathBuf,
}

/// When a decision is not trusted enough to act on silently.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSettings {
    /// Category or priority confidence below this puts the ticket in the review queue.
    pub min_confidence: f64,
}

/// The whole `labels.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSets {
    pub review: ReviewSettings,
    pub models: ModelPaths,
    pub category: Vec<Label>,
    pub priority: Vec<Label>,
    pub feedback_type: Vec<Label>,
    #[serde(default)]
    pub tag: Vec<Label>,
}

impl LabelSets {
    /// Parse and check `labels.toml`.
    pub fn from_toml(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let sets: LabelSets = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        for d in Dimension::ALL {
            let labels = sets.labels(d);
            if labels.len() < 2 {
                return Err(ConfigError::invalid(
                    path,
                    format!("label set `{}` needs at least two labels", d.key()),
                ));
            }
            let mut codes: Vec<&str> = labels.iter().map(|l| l.code.as_str()).collect();
            codes.sort_unstable();
            if codes.windows(2).any(|w| w[0] == w[1]) {
                return Err(ConfigError::invalid(
                    path,
                    format!("label set `{}` has a duplicate code", d.key()),
                ));
            }
        }
        if !(0.0..=1.0).contains(&sets.review.min_confidence) {
            return Err(ConfigError::invalid(
                path,
                "review.min_confidence must be between 0 and 1".to_string(),
            ));
        }
        Ok(sets)
    }

    /// Labels of one dimension.
    pub fn labels(&self, d: Dimension) -> &[Label] {
        match d {
            Dimension::Category => &self.category,
            Dimension::Priority => &self.priority,
            Dimension::FeedbackType => &self.feedback_type,
        }
    }

    /// Is `code` a label of dimension `d`?
    pub fn has(&self, d: Dimension, code: &str) -> bool {
        self.labels(d).iter().any(|l| l.code == code)
    }

    /// Is `code` a known tag?
    pub fn has_tag(&self, code: &str) -> bool {
        self.tag.iter().any(|l| l.code == code)
    }

    /// Display name of a label (the code itself when unknown).
    pub fn name(&self, d: Dimension, code: &str) -> String {
        self.labels(d)
            .iter()
            .find(|l| l.code == code)
            .map_or_else(|| code.to_string(), |l| l.name.clone())
    }

    /// Model path of a dimension.
    pub fn model_path(&self, d: Dimension) -> &Path {
        match d {
            Dimension::Category => &self.models.category,
            Dimension::Priority => &self.models.priority,
            Dimension::FeedbackType => &self.models.feedback_type,
        }
    }
}
