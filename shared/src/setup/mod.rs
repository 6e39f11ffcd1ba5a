//! The business's own setup as versioned data in Postgres (`setup_documents`, migrations/0600_setup.sql).
//!
//! Each kind (taxonomy, departments, routing, ...) is a JSON document; every save adds a version, so who
//! changed what and when, the difference between versions and a one-step rollback come from one table.
//! The current document of a kind is its highest version. A kind with no version yet is seeded from the
//! files in `config/` the first time anyone reads it ([`defaults`]).
//!
//! Every write validates the whole setup, not only the kind written ([`Setup::problems`]): a change that
//! would leave the system broken (a category no route serves, a route to an unknown department, a
//! deadline of zero) is refused with reasons a person understands, and nothing is stored. After a
//! save the writer announces it on `{prefix}.config.changed` ([`announce`]); workers reload on the
//! announcement and also poll the versions ([`versions`]), so a replica that missed it converges anyway.

pub mod defaults;
pub mod diff;
pub mod documents;
pub mod policies;
mod store;

use serde::{Deserialize, Serialize};

pub use documents::{
    Assignment, Department, Departments, Named, Route, RouteDecision, RouteWhen, Routing, Setup,
    Taxonomy,
};
pub use policies::{CheckedSurveyPolicy, OnUnsatisfied, PolicyFault, ReportTargets, SurveyPolicy};
pub use store::{
    add_categories, add_categories_in, history, load, load_in, rollback, save, save_together,
    version, versions, AddedCategory, HistoryEntry, Saved, Versioned,
};

/// The kinds of setup document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Categories, feedback types, priorities, tags.
    Taxonomy,
    /// Departments and the default department.
    Departments,
    /// Routes from category / feedback type / tag to departments.
    Routing,
    /// SLA targets, overrides, each department's calendar and supervisor.
    Sla,
    /// Business calendars: opening hours, holidays, make-up working days.
    Calendars,
    /// When and how customers are asked about a resolved ticket.
    Survey,
    /// What the weekly report holds each group to.
    Targets,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Taxonomy,
        Kind::Departments,
        Kind::Routing,
        Kind::Sla,
        Kind::Calendars,
        Kind::Survey,
        Kind::Targets,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Taxonomy => "taxonomy",
            Kind::Departments => "departments",
            Kind::Routing => "routing",
            Kind::Sla => "sla",
            Kind::Calendars => "calendars",
            Kind::Survey => "survey",
            Kind::Targets => "targets",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason a setup is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// The kind whose document is at fault (may differ from the one being saved).
    pub kind: Kind,
    /// Machine-readable reason, e.g. `unknown_department`, `category_without_route`, `zero_deadline`.
    pub code: String,
    /// Where in that kind's document (a path such as `routes[3].departments[0]`).
    pub path: String,
    /// The code the reason is about (the unknown department, the unserved category), for translations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// English sentence for people and logs.
    pub message: String,
}

impl Problem {
    pub fn new(
        kind: Kind,
        code: &str,
        path: impl Into<String>,
        subject: Option<&String>,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            kind,
            code: code.to_string(),
            path: path.into(),
            subject: subject.cloned(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The change would leave the system broken; nothing was stored.
    #[error("refused: {}", .0.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("; "))]
    Refused(Vec<Problem>),
    /// A rollback asked of a kind that has only one version.
    #[error("{0} has no earlier version to go back to")]
    NoEarlierVersion(Kind),
    /// A stored document no longer reads as its kind (edited by hand in the database).
    #[error("the stored {kind} version {version} is unreadable: {message}")]
    Corrupt {
        kind: Kind,
        version: i32,
        message: String,
    },
}

/// The announcement of a saved version on `{prefix}.config.changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    pub kind: Kind,
    pub version: i32,
    pub author: String,
}

/// `{prefix}.config.changed`.
pub fn changed_subject(subjects: &crate::subjects::Subjects) -> String {
    subjects.subject("config.changed")
}

/// Tells every running replica that the setup changed. Core NATS, not JetStream: the message is a
/// hint to reload now; each replica also polls [`versions`], so a lost announcement only delays it.
pub async fn announce(
    nats: &async_nats::Client,
    subjects: &crate::subjects::Subjects,
    changed: &Changed,
) -> Result<(), String> {
    let payload = serde_json::to_vec(changed).map_err(|e| e.to_string())?;
    nats.publish(changed_subject(subjects), payload.into())
        .await
        .map_err(|e| e.to_string())?;
    nats.flush().await.map_err(|e| e.to_string())
}

/// Keeps a worker's setup current: reloads when `{prefix}.config.changed` arrives, and polls the versions
/// every `poll` besides (an announcement lost with a reconnect, or a save made while this replica was
/// starting, is picked up within one poll). `apply` gets each new setup; `seen` is the versions of the
/// setup the worker started with. Runs until `shutdown`.
pub async fn follow<F, Fut>(
    pool: sqlx::PgPool,
    nats: async_nats::Client,
    subjects: crate::subjects::Subjects,
    poll: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
    mut seen: std::collections::BTreeMap<Kind, i32>,
    mut apply: F,
) where
    F: FnMut(Setup) -> Fut + Send,
    Fut: std::future::Future<Output = ()> + Send,
{
    use futures::StreamExt;
    let mut announcements = match nats.subscribe(changed_subject(&subjects)).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for setup changes; polling only");
            None
        }
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(poll) => {}
            m = async {
                match announcements.as_mut() {
                    Some(s) => s.next().await,
                    None => std::future::pending().await,
                }
            } => {
                if m.is_none() {
                    announcements = None;
                }
            }
        }
        let now = match versions(&pool).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the setup versions; will retry");
                continue;
            }
        };
        if now == seen {
            continue;
        }
        match load(&pool).await {
            Ok(setup) => {
                tracing::info!(versions = ?setup.versions, "setup changed; applying");
                seen = setup.versions.clone();
                apply(setup).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the changed setup; the previous one stays")
            }
        }
    }
}
