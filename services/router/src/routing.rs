//! The routing table (`routing.toml`): departments, how each assigns owners, and which
//! category / feedback type / tag goes to which department(s) with which lead. Routes are
//! read in file order; every matching route adds its departments and the first matching
//! route names the lead, so specific routes (tags) are written before general ones. A route with
//! `stop = true` ends the search: its departments are the whole set.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

pub use shared::setup::{
    Assignment, Department, Departments, Route, RouteDecision, RouteWhen, Routing,
};

use crate::labels::{Dimension, LabelSets};
use crate::ConfigError;

/// The routing table the router decides with: the business's departments and routes, the same
/// documents (and the same route evaluation) as its setup in Postgres; `routing.toml` is their
/// first-start form.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    pub departments: Departments,
    pub routing: Routing,
}

/// The whole `routing.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutingFile {
    /// Lead when no route matches (every ticket lands somewhere).
    default_department: String,
    #[serde(rename = "department")]
    departments: Vec<Department>,
    #[serde(rename = "route", default)]
    routes: Vec<Route>,
    /// Nominal first-response target per priority code, in hours (wall clock); missing ones: 24.
    #[serde(default)]
    first_response_hours: BTreeMap<String, i64>,
}

impl RoutingTable {
    /// Parse and check `routing.toml` against the label sets.
    pub fn from_toml(path: &Path, text: &str, labels: &LabelSets) -> Result<Self, ConfigError> {
        let t: RoutingFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let known = |d: &str| t.departments.iter().any(|x| x.code == d);
        if !known(&t.default_department) {
            return Err(ConfigError::invalid(
                path,
                format!(
                    "default_department `{}` is not a department",
                    t.default_department
                ),
            ));
        }
        for (i, r) in t.routes.iter().enumerate() {
            let bad = |m: String| ConfigError::invalid(path, format!("route #{}: {m}", i + 1));
            let keys = [&r.when.category, &r.when.feedback_type, &r.when.tag]
                .iter()
                .filter(|k| k.is_some())
                .count();
            if keys != 1 {
                return Err(bad(
                    "`when` needs exactly one of category, feedback_type, tag".into(),
                ));
            }
            if let Some(c) = &r.when.category {
                if !labels.has(Dimension::Category, c) {
                    return Err(bad(format!("unknown category `{c}`")));
                }
            }
            if let Some(f) = &r.when.feedback_type {
                if !labels.has(Dimension::FeedbackType, f) {
                    return Err(bad(format!("unknown feedback_type `{f}`")));
                }
            }
            if let Some(tag) = &r.when.tag {
                if !labels.has_tag(tag) {
                    return Err(bad(format!("unknown tag `{tag}`")));
                }
            }
            if r.departments.is_empty() {
                return Err(bad("no departments".into()));
            }
            for d in &r.departments {
                if !known(d) {
                    return Err(bad(format!("unknown department `{d}`")));
                }
            }
            if let Some(l) = &r.lead {
                if !r.departments.contains(l) {
                    return Err(bad(format!("lead `{l}` is not one of its departments")));
                }
            }
        }
        Ok(RoutingTable {
            departments: Departments {
                default_department: t.default_department,
                departments: t.departments,
            },
            routing: Routing {
                routes: t.routes,
                first_response_hours: t.first_response_hours,
            },
        })
    }

    /// The business's departments and routes from its setup (checked when they were saved).
    pub fn from_setup(setup: &shared::setup::Setup) -> Self {
        RoutingTable {
            departments: setup.departments.clone(),
            routing: setup.routing.clone(),
        }
    }

    /// Route a classified ticket (the default department when no route matches).
    pub fn route(&self, category: &str, feedback_type: &str, tags: &[String]) -> RouteDecision {
        self.routing.route(
            &self.departments.default_department,
            category,
            feedback_type,
            tags,
        )
    }

    /// Nominal first-response target for a priority, in hours.
    pub fn first_response_hours(&self, priority: &str) -> i64 {
        self.routing.first_response_hours(priority)
    }

    /// A department's settings.
    pub fn department(&self, code: &str) -> Option<&Department> {
        self.departments.departments.iter().find(|d| d.code == code)
    }
}
