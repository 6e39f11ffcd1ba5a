//! What the spreadsheet import needs of the business's taxonomy, behind one small boundary: the
//! categories and departments a sheet's labels are matched against, and adding the team's own
//! categories. A team's problem-type list is its own (技术咨询, 售后投诉, …): a label the taxonomy does
//! not know becomes a category of the business instead of a refused row.

use sqlx::PgPool;

use crate::error::{ApiError, ApiResult};

/// One business label: its stable code and its names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub code: String,
    pub zh: String,
    pub en: String,
}

impl Entry {
    fn matches(&self, key: &str) -> bool {
        [&self.code, &self.zh, &self.en]
            .iter()
            .any(|n| normalize(n) == key)
    }
}

/// The categories and departments a sheet is read against.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub categories: Vec<Entry>,
    pub departments: Vec<Entry>,
}

/// Trimmed, lower case, `-`/space folded into `_`, so `Pre-sales`, `pre_sales` and ` PRE SALES ` match.
pub fn normalize(label: &str) -> String {
    label
        .trim()
        .chars()
        .map(|c| if matches!(c, '-' | ' ') { '_' } else { c })
        .flat_map(char::to_lowercase)
        .collect()
}

fn find<'a>(list: &'a [Entry], label: &str) -> Option<&'a str> {
    let key = normalize(label);
    list.iter()
        .find(|e| e.matches(&key))
        .map(|e| e.code.as_str())
}

impl Known {
    /// A category's code from its code or either name.
    pub fn category(&self, label: &str) -> Option<&str> {
        find(&self.categories, label)
    }

    /// A department's code from its code or either name (`customer_service`, `客服部`).
    pub fn department(&self, label: &str) -> Option<&str> {
        find(&self.departments, label)
    }
}

fn entries<'a>(list: impl Iterator<Item = (&'a str, &'a str, &'a str)>) -> Vec<Entry> {
    list.map(|(code, zh, en)| Entry {
        code: code.to_string(),
        zh: zh.to_string(),
        en: en.to_string(),
    })
    .collect()
}

fn setup_error(e: shared::setup::SetupError) -> ApiError {
    match e {
        shared::setup::SetupError::Refused(_) => ApiError::conflict("setup_refused", e.to_string()),
        other => ApiError::Internal(format!("setup: {other}")),
    }
}

/// The taxonomy in force (the business's setup in Postgres, seeded from config/ on first read).
pub async fn load(pool: &PgPool) -> ApiResult<Known> {
    let setup = shared::setup::load(pool).await.map_err(setup_error)?;
    Ok(Known {
        categories: entries(
            setup
                .taxonomy
                .categories
                .iter()
                .map(|c| (c.code.as_str(), c.name_zh.as_str(), c.name_en.as_str())),
        ),
        departments: entries(
            setup
                .departments
                .departments
                .iter()
                .map(|d| (d.code.as_str(), d.name_zh.as_str(), d.name_en.as_str())),
        ),
    })
}

/// Adds the team's labels as categories of the business (each routed to `department`, the default
/// department when none); returns `(label, code)`. The setup store names the codes and keeps the
/// change in its history; workers pick the new version up when they next poll the setup.
pub async fn add_categories(
    pool: &PgPool,
    actor: &str,
    labels: &[String],
    department: Option<&str>,
) -> ApiResult<Vec<(String, String)>> {
    let added = shared::setup::add_categories(pool, labels, department, actor)
        .await
        .map_err(setup_error)?;
    Ok(added.into_iter().map(|a| (a.label, a.code)).collect())
}
