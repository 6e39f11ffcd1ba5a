//! The routing table (`routing.toml`): departments, how each assigns owners, and which
//! category / feedback type / tag goes to which department(s) with which lead. Routes are
//! read in file order; every matching route adds its departments and the first matching
//! route names the lead, so specific routes (tags) are written before general ones. A route with
//! `stop = true` ends the search: its departments are the whole set.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::labels::{Dimension, LabelSets};
use crate::ConfigError;

/// How a department gets an owner for a routed ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// The supervisor assigns by hand.
    #[default]
    None,
    /// Available agents take turns.
    RoundRobin,
    /// The available agent with the fewest open tickets.
    LeastOpen,
}

/// A department that can receive tickets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub code: String,
    pub name: String,
    /// English name, for the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    #[serde(default)]
    pub assignment: Assignment,
}

/// What a route matches on: exactly one of these.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteWhen {
    pub category: Option<String>,
    pub feedback_type: Option<String>,
    pub tag: Option<String>,
}

/// One line of the routing table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub when: RouteWhen,
    pub departments: Vec<String>,
    /// Lead department; defaults to the first of `departments`.
    pub lead: Option<String>,
    /// When this route matches, later routes are not consulted (its departments are the whole set).
    #[serde(default)]
    pub stop: bool,
}

/// The whole `routing.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingTable {
    /// Lead when no route matches (every ticket lands somewhere).
    pub default_department: String,
    #[serde(rename = "department")]
    pub departments: Vec<Department>,
    #[serde(rename = "route", default)]
    pub routes: Vec<Route>,
    /// Nominal first-response target per priority code, in hours (wall clock), carried on routed
    /// tickets as their deadline; the SLA worker applies business hours. Missing priorities: 24.
    #[serde(default)]
    pub first_response_hours: std::collections::BTreeMap<String, i64>,
}

/// Where a ticket goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteDecision {
    /// Lead department (also `departments[0]`).
    pub lead: String,
    /// Every responsible department, lead first.
    pub departments: Vec<String>,
    /// Which routes matched, for the timeline.
    pub reasons: Vec<String>,
}

impl RoutingTable {
    /// Parse and check `routing.toml` against the label sets.
    pub fn from_toml(path: &Path, text: &str, labels: &LabelSets) -> Result<Self, ConfigError> {
        let t: RoutingTable = toml::from_str(text).map_err(|e| ConfigError::Parse {
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
        Ok(t)
    }

    /// Route a classified ticket.
    pub fn route(&self, category: &str, feedback_type: &str, tags: &[String]) -> RouteDecision {
        let mut lead: Option<String> = None;
        let mut departments: Vec<String> = Vec::new();
        let mut reasons = Vec::new();
        for r in &self.routes {
            let hit = if let Some(c) = &r.when.category {
                (c == category).then(|| format!("category {c}"))
            } else if let Some(f) = &r.when.feedback_type {
                (f == feedback_type).then(|| format!("feedback_type {f}"))
            } else if let Some(t) = &r.when.tag {
                tags.contains(t).then(|| format!("tag {t}"))
            } else {
                None
            };
            let Some(why) = hit else { continue };
            let route_lead = r.lead.clone().unwrap_or_else(|| r.departments[0].clone());
            reasons.push(format!(
                "{why} → {} (lead {route_lead})",
                r.departments.join("+")
            ));
            if lead.is_none() {
                lead = Some(route_lead);
            }
            for d in &r.departments {
                if !departments.contains(d) {
                    departments.push(d.clone());
                }
            }
            if r.stop {
                break;
            }
        }
        let lead = lead.unwrap_or_else(|| {
            reasons.push(format!("no route matched → {}", self.default_department));
            self.default_department.clone()
        });
        departments.retain(|d| d != &lead);
        departments.insert(0, lead.clone());
        RouteDecision {
            lead,
            departments,
            reasons,
        }
    }

    /// Nominal first-response target for a priority, in hours.
    pub fn first_response_hours(&self, priority: &str) -> i64 {
        self.first_response_hours
            .get(priority)
            .copied()
            .unwrap_or(24)
    }

    /// A department's settings.
    pub fn department(&self, code: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.code == code)
    }
}
