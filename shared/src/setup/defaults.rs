//! The first-start defaults: the files in `config/`, built into every binary so a worker started anywhere
//! (another directory, a container without the config tree) seeds the same setup. The same files are
//! the import/export format: a document exported as TOML reads back through [`from_toml`].

use serde::Deserialize;

use super::documents::{Departments, Route, Routing, Taxonomy};
use super::policies::{ReportTargets, SurveyPolicy};

const LABELS: &str = include_str!("../../../config/router/labels.toml");
const ROUTING: &str = include_str!("../../../config/router/routing.toml");
const SLA: &str = include_str!("../../../config/sla/sla.toml");
const SURVEY: &str = include_str!("../../../config/survey/survey.toml");
const TARGETS: &str = include_str!("../../../config/reports/targets.toml");

/// The keys of sla.toml that make the calendars kind; the rest is the SLA kind.
const CALENDAR_KEYS: [&str; 2] = ["calendars", "holiday_sets"];

/// One part of a TOML document as JSON: the keys listed (`keep`) or all but them.
fn part(text: &str, keys: &[&str], keep: bool) -> Result<serde_json::Value, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let part: toml::Table = table
        .into_iter()
        .filter(|(k, _)| keys.contains(&k.as_str()) == keep)
        .collect();
    serde_json::to_value(part).map_err(|e| e.to_string())
}

/// Reads a TOML document of the given type after dropping the keys that belong to another reader
/// (labels.toml also holds the classifier's model paths and review threshold).
fn read<T: for<'de> Deserialize<'de>>(text: &str, drop: &[&str]) -> Result<T, String> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    for k in drop {
        table.remove(*k);
    }
    T::deserialize(toml::Value::Table(table)).map_err(|e| e.to_string())
}

/// A document from its TOML text (an export, or one of the files in `config/`).
pub fn from_toml(kind: super::Kind, text: &str) -> Result<serde_json::Value, String> {
    use super::Kind;
    let v = match kind {
        Kind::Taxonomy => serde_json::to_value(read::<Taxonomy>(text, &["review", "models"])?),
        Kind::Departments => serde_json::to_value(departments_from(text)?),
        Kind::Routing => serde_json::to_value(routing_from(text)?),
        Kind::Sla => return part(text, &CALENDAR_KEYS, false),
        Kind::Calendars => return part(text, &CALENDAR_KEYS, true),
        Kind::Survey => serde_json::to_value(read::<SurveyPolicy>(text, &[])?),
        Kind::Targets => serde_json::to_value(read::<ReportTargets>(text, &[])?),
    };
    v.map_err(|e| e.to_string())
}

/// routing.toml holds departments and routes together; each kind takes its part.
#[derive(Deserialize)]
struct RoutingFile {
    default_department: String,
    #[serde(rename = "department")]
    departments: Vec<super::documents::Department>,
    #[serde(rename = "route", default)]
    routes: Vec<Route>,
    #[serde(default)]
    first_response_hours: std::collections::BTreeMap<String, i64>,
}

fn departments_from(text: &str) -> Result<Departments, String> {
    match read::<RoutingFile>(text, &[]) {
        Ok(f) => Ok(Departments {
            default_department: f.default_department,
            departments: f.departments,
        }),
        Err(_) => read::<Departments>(text, &[]),
    }
}

fn routing_from(text: &str) -> Result<Routing, String> {
    match read::<RoutingFile>(text, &[]) {
        Ok(f) => Ok(Routing {
            routes: f.routes,
            first_response_hours: f.first_response_hours,
        }),
        Err(_) => read::<Routing>(text, &[]),
    }
}

// The files are part of the source tree and checked by the unit tests: a broken default is a build
// defect, not a runtime condition.
#[allow(clippy::expect_used)]
pub fn taxonomy() -> Taxonomy {
    read(LABELS, &["review", "models"]).expect("config/router/labels.toml reads as a taxonomy")
}

#[allow(clippy::expect_used)]
pub fn departments() -> Departments {
    departments_from(ROUTING).expect("config/router/routing.toml reads as departments")
}

#[allow(clippy::expect_used)]
pub fn routing() -> Routing {
    routing_from(ROUTING).expect("config/router/routing.toml reads as a routing table")
}

#[allow(clippy::expect_used)]
pub fn sla() -> serde_json::Value {
    part(SLA, &CALENDAR_KEYS, false).expect("config/sla/sla.toml reads as TOML")
}

#[allow(clippy::expect_used)]
pub fn calendars() -> serde_json::Value {
    part(SLA, &CALENDAR_KEYS, true).expect("config/sla/sla.toml reads as TOML")
}

#[allow(clippy::expect_used)]
pub fn survey() -> SurveyPolicy {
    read(SURVEY, &[]).expect("config/survey/survey.toml reads as a survey policy")
}

#[allow(clippy::expect_used)]
pub fn targets() -> ReportTargets {
    read(TARGETS, &[]).expect("config/reports/targets.toml reads as report targets")
}
