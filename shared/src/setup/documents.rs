//! The documents a business edits: their types, how the files in `config/` read into them (the first-start
//! defaults and the export/import format), and the checks that keep a setup working.
//!
//! Each kind is checked on its own (codes unique, lists not empty) and against the others (a route names
//! known departments and categories, every category is served by a route), because a change to one kind
//! can break another: removing a department a route still names is refused as surely as the route itself.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::policies::{ReportTargets, SurveyPolicy};
use super::Kind;
use super::Problem;
use crate::sla::calendar::{CalendarConfig, CalendarError, HolidaySetConfig};
use crate::sla::policy::{DepartmentConfig, PolicyConfig, PolicyError, SlaFileConfig, SlaRules};

/// The SLA kind's document: config/sla/sla.toml without its calendars.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlaPart {
    #[serde(default)]
    policy: PolicyConfig,
    default_calendar: Option<String>,
    #[serde(default)]
    departments: BTreeMap<String, DepartmentConfig>,
}

/// The calendars kind's document: the calendars and holiday sets of config/sla/sla.toml.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarsPart {
    #[serde(default)]
    calendars: BTreeMap<String, CalendarConfig>,
    #[serde(default)]
    holiday_sets: BTreeMap<String, HolidaySetConfig>,
}

/// One entry of a business list: a stable code (in events, routes, training files, imports) and its
/// names in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Named {
    pub code: String,
    /// 中文名 (the files' `name`).
    #[serde(alias = "name")]
    pub name_zh: String,
    /// English name; empty when nobody gave one (the console then shows the code).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub name_en: String,
}

/// The business's lists (问题类型, 反馈类型, 标签, 优先级): what the router decides and people pick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Taxonomy {
    /// 问题类型 problem categories.
    #[serde(alias = "category")]
    pub categories: Vec<Named>,
    /// 反馈类型 feedback types (a fixed list on the forms, never free text).
    #[serde(alias = "feedback_type")]
    pub feedback_types: Vec<Named>,
    /// 优先级: the SLA policy has targets per priority code.
    #[serde(alias = "priority")]
    pub priorities: Vec<Named>,
    /// 标签 tags (set by rules or picked by agents).
    #[serde(alias = "tag", default)]
    pub tags: Vec<Named>,
}

impl Taxonomy {
    /// The category a spreadsheet or a person names, by code or by either name (case and surrounding
    /// blanks ignored): a team writes `技术故障` where the code is `technical_fault`.
    pub fn find_category(&self, label: &str) -> Option<&Named> {
        find(&self.categories, label)
    }

    pub fn has_category(&self, code: &str) -> bool {
        self.categories.iter().any(|c| c.code == code)
    }
}

fn find<'a>(list: &'a [Named], label: &str) -> Option<&'a Named> {
    let wanted = label.trim().to_lowercase();
    if wanted.is_empty() {
        return None;
    }
    list.iter()
        .find(|n| n.code.to_lowercase() == wanted)
        .or_else(|| {
            list.iter().find(|n| {
                n.name_zh.trim().to_lowercase() == wanted
                    || n.name_en.trim().to_lowercase() == wanted
            })
        })
}

/// How a department gets an owner for a routed ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub code: String,
    #[serde(alias = "name")]
    pub name_zh: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub name_en: String,
    #[serde(default)]
    pub assignment: Assignment,
}

/// The departments and where a ticket goes when no route matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Departments {
    /// Lead when no route matches (every ticket lands somewhere).
    pub default_department: String,
    #[serde(alias = "department")]
    pub departments: Vec<Department>,
}

impl Departments {
    pub fn has(&self, code: &str) -> bool {
        self.departments.iter().any(|d| d.code == code)
    }
}

/// What a route matches on: exactly one of these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RouteWhen {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// One line of the routing table. Routes are read in order: every matching route adds its departments,
/// the first matching route names the lead; `stop` ends the search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub when: RouteWhen,
    pub departments: Vec<String>,
    /// Lead department; defaults to the first of `departments`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<String>,
    #[serde(default)]
    pub stop: bool,
}

/// The routing table: which category / feedback type / tag goes to which departments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Routing {
    #[serde(alias = "route")]
    pub routes: Vec<Route>,
    /// Nominal first-response target per priority code, in hours (wall clock), carried on routed
    /// tickets; the SLA worker holds the business-hours clocks.
    #[serde(default)]
    pub first_response_hours: BTreeMap<String, i64>,
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

impl Routing {
    /// Route a classified ticket (`default_department` when nothing matches).
    pub fn route(
        &self,
        default_department: &str,
        category: &str,
        feedback_type: &str,
        tags: &[String],
    ) -> RouteDecision {
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
            let Some(first) = r.departments.first() else {
                continue;
            };
            let route_lead = r.lead.clone().unwrap_or_else(|| first.clone());
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
            reasons.push(format!("no route matched → {default_department}"));
            default_department.to_string()
        });
        departments.retain(|d| d != &lead);
        departments.insert(0, lead.clone());
        RouteDecision {
            lead,
            departments,
            reasons,
        }
    }

    /// Nominal first-response target for a priority, in hours (24 when the table names none).
    pub fn first_response_hours(&self, priority: &str) -> i64 {
        self.first_response_hours
            .get(priority)
            .copied()
            .unwrap_or(24)
    }
}

/// The current document of every kind, read together so that checks across kinds see one state.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    pub taxonomy: Taxonomy,
    pub departments: Departments,
    pub routing: Routing,
    /// SLA policy: targets per clock and priority, overrides, each department's calendar and
    /// supervisor (the `[policy]`, `default_calendar` and `[departments]` of config/sla/sla.toml), kept
    /// as written (durations such as `"2h"`) and read by [`crate::sla::policy`].
    pub sla: serde_json::Value,
    /// Business calendars: opening hours, holiday sets, make-up working days (the `[calendars]` and
    /// `[holiday_sets]` of config/sla/sla.toml).
    pub calendars: serde_json::Value,
    /// When and how customers are asked about a resolved ticket (the survey worker).
    pub survey: SurveyPolicy,
    /// What the weekly report holds each group to (the api's reports).
    pub targets: ReportTargets,
    /// The version of each kind this setup was read at.
    pub versions: BTreeMap<Kind, i32>,
}

impl Setup {
    /// The whole setup as the files in `config/` give it (the first-start defaults).
    pub fn defaults() -> Setup {
        // Parsed once per process: every load starts from them.
        static DEFAULTS: std::sync::OnceLock<Setup> = std::sync::OnceLock::new();
        DEFAULTS.get_or_init(Self::read_defaults).clone()
    }

    fn read_defaults() -> Setup {
        Setup {
            taxonomy: super::defaults::taxonomy(),
            departments: super::defaults::departments(),
            routing: super::defaults::routing(),
            sla: super::defaults::sla(),
            calendars: super::defaults::calendars(),
            survey: super::defaults::survey(),
            targets: super::defaults::targets(),
            versions: BTreeMap::new(),
        }
    }

    /// One kind's document as JSON.
    pub fn body(&self, kind: Kind) -> serde_json::Value {
        let v = match kind {
            Kind::Taxonomy => serde_json::to_value(&self.taxonomy),
            Kind::Departments => serde_json::to_value(&self.departments),
            Kind::Routing => serde_json::to_value(&self.routing),
            Kind::Sla => Ok(self.sla.clone()),
            Kind::Calendars => Ok(self.calendars.clone()),
            Kind::Survey => serde_json::to_value(&self.survey),
            Kind::Targets => serde_json::to_value(&self.targets),
        };
        v.unwrap_or(serde_json::Value::Null)
    }

    /// Replace one kind's document with `body`, read as that kind's type.
    pub fn replace(&mut self, kind: Kind, body: &serde_json::Value) -> Result<(), Problem> {
        fn read<T: serde::de::DeserializeOwned>(
            kind: Kind,
            body: &serde_json::Value,
        ) -> Result<T, Problem> {
            serde_path_to_error::deserialize(body).map_err(|e| {
                let path = e.path().to_string();
                Problem::new(
                    kind,
                    "unreadable",
                    path.clone(),
                    None,
                    format!("{} at `{path}`", e.inner()),
                )
            })
        }
        match kind {
            Kind::Taxonomy => self.taxonomy = read(kind, body)?,
            Kind::Departments => self.departments = read(kind, body)?,
            Kind::Routing => self.routing = read(kind, body)?,
            Kind::Sla => {
                read::<SlaPart>(kind, body)?;
                self.sla = body.clone();
            }
            Kind::Calendars => {
                read::<CalendarsPart>(kind, body)?;
                self.calendars = body.clone();
            }
            Kind::Survey => self.survey = read(kind, body)?,
            Kind::Targets => self.targets = read(kind, body)?,
        }
        Ok(())
    }

    /// The SLA rules file as one document (policy, departments' calendars, calendars, holidays).
    pub fn sla_config(&self) -> Result<SlaFileConfig, String> {
        let sla: SlaPart = serde_json::from_value(self.sla.clone()).map_err(|e| e.to_string())?;
        let cal: CalendarsPart =
            serde_json::from_value(self.calendars.clone()).map_err(|e| e.to_string())?;
        Ok(SlaFileConfig {
            policy: sla.policy,
            default_calendar: sla.default_calendar,
            departments: sla.departments,
            calendars: cal.calendars,
            holiday_sets: cal.holiday_sets,
        })
    }

    /// The validated SLA rules the SLA worker measures deadlines with.
    pub fn sla_rules(&self) -> Result<SlaRules, String> {
        SlaRules::from_config(&self.sla_config()?).map_err(|e| e.to_string())
    }

    /// Every reason this setup would leave the system broken; empty when it is sound.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        check_taxonomy(&self.taxonomy, &mut out);
        check_departments(&self.departments, &mut out);
        check_routing(self, &mut out);
        check_sla(self, &mut out);
        check_policies(self, &mut out);
        out
    }
}

/// A code people and files can carry: not empty, no blanks or control characters, bounded.
fn code_problem(code: &str) -> Option<&'static str> {
    if code.trim().is_empty() {
        Some("a code may not be empty")
    } else if code.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("a code may not contain blanks")
    } else if code.chars().count() > 64 {
        Some("a code has at most 64 characters")
    } else {
        None
    }
}

fn check_list(kind: Kind, field: &str, what: &str, list: &[Named], out: &mut Vec<Problem>) {
    if list.is_empty() {
        out.push(Problem::new(
            kind,
            "empty_list",
            field,
            None,
            format!("the list of {what} may not be empty"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, n) in list.iter().enumerate() {
        let path = format!("{field}[{i}]");
        if let Some(why) = code_problem(&n.code) {
            out.push(Problem::new(
                kind,
                "bad_code",
                format!("{path}.code"),
                Some(&n.code),
                format!("{what}: {why}"),
            ));
        }
        if n.name_zh.trim().is_empty() {
            out.push(Problem::new(
                kind,
                "missing_name",
                format!("{path}.name_zh"),
                Some(&n.code),
                format!("{what} `{}` needs a Chinese name", n.code),
            ));
        }
        if !seen.insert(n.code.as_str()) {
            out.push(Problem::new(
                kind,
                "duplicate_code",
                format!("{path}.code"),
                Some(&n.code),
                format!("{what}: the code `{}` appears twice", n.code),
            ));
        }
    }
}

fn check_taxonomy(t: &Taxonomy, out: &mut Vec<Problem>) {
    let k = Kind::Taxonomy;
    check_list(k, "categories", "categories", &t.categories, out);
    check_list(
        k,
        "feedback_types",
        "feedback types",
        &t.feedback_types,
        out,
    );
    check_list(k, "priorities", "priorities", &t.priorities, out);
    if !t.tags.is_empty() {
        check_list(k, "tags", "tags", &t.tags, out);
    }
}

fn check_departments(d: &Departments, out: &mut Vec<Problem>) {
    let k = Kind::Departments;
    if d.departments.is_empty() {
        out.push(Problem::new(
            k,
            "empty_list",
            "departments",
            None,
            "there must be at least one department",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, dep) in d.departments.iter().enumerate() {
        let path = format!("departments[{i}]");
        if let Some(why) = code_problem(&dep.code) {
            out.push(Problem::new(
                k,
                "bad_code",
                format!("{path}.code"),
                Some(&dep.code),
                format!("department: {why}"),
            ));
        }
        if dep.name_zh.trim().is_empty() {
            out.push(Problem::new(
                k,
                "missing_name",
                format!("{path}.name_zh"),
                Some(&dep.code),
                format!("department `{}` needs a Chinese name", dep.code),
            ));
        }
        if !seen.insert(dep.code.as_str()) {
            out.push(Problem::new(
                k,
                "duplicate_code",
                format!("{path}.code"),
                Some(&dep.code),
                format!("the department code `{}` appears twice", dep.code),
            ));
        }
    }
    if !d.has(&d.default_department) {
        out.push(Problem::new(
            k,
            "unknown_department",
            "default_department",
            Some(&d.default_department),
            format!(
                "the default department `{}` is not a department",
                d.default_department
            ),
        ));
    }
}

fn check_routing(s: &Setup, out: &mut Vec<Problem>) {
    let k = Kind::Routing;
    let t = &s.taxonomy;
    for (i, r) in s.routing.routes.iter().enumerate() {
        let path = format!("routes[{i}]");
        let n = i + 1;
        let keys = [&r.when.category, &r.when.feedback_type, &r.when.tag]
            .iter()
            .filter(|k| k.is_some())
            .count();
        if keys != 1 {
            out.push(Problem::new(
                k,
                "bad_condition",
                format!("{path}.when"),
                None,
                format!("route #{n} must match exactly one of: a category, a feedback type, a tag"),
            ));
        }
        if let Some(c) = &r.when.category {
            if !t.has_category(c) {
                out.push(Problem::new(
                    k,
                    "unknown_category",
                    format!("{path}.when.category"),
                    Some(c),
                    format!("route #{n} names the category `{c}`, which is not in the taxonomy"),
                ));
            }
        }
        if let Some(f) = &r.when.feedback_type {
            if !t.feedback_types.iter().any(|x| &x.code == f) {
                out.push(Problem::new(
                    k,
                    "unknown_feedback_type",
                    format!("{path}.when.feedback_type"),
                    Some(f),
                    format!(
                        "route #{n} names the feedback type `{f}`, which is not in the taxonomy"
                    ),
                ));
            }
        }
        if let Some(tag) = &r.when.tag {
            if !t.tags.iter().any(|x| &x.code == tag) {
                out.push(Problem::new(
                    k,
                    "unknown_tag",
                    format!("{path}.when.tag"),
                    Some(tag),
                    format!("route #{n} names the tag `{tag}`, which is not in the taxonomy"),
                ));
            }
        }
        if r.departments.is_empty() {
            out.push(Problem::new(
                k,
                "no_department",
                format!("{path}.departments"),
                None,
                format!("route #{n} sends tickets to no department"),
            ));
        }
        for (j, d) in r.departments.iter().enumerate() {
            if !s.departments.has(d) {
                out.push(Problem::new(
                    k,
                    "unknown_department",
                    format!("{path}.departments[{j}]"),
                    Some(d),
                    format!("route #{n} sends tickets to `{d}`, which is not a department"),
                ));
            }
        }
        if let Some(l) = &r.lead {
            if !r.departments.contains(l) {
                out.push(Problem::new(
                    k,
                    "lead_not_in_route",
                    format!("{path}.lead"),
                    Some(l),
                    format!("route #{n}: its lead `{l}` is not one of its departments"),
                ));
            }
        }
    }
    // A category no route names would silently land in the default department: the business asked
    // for every problem type to have an owner, so that is refused with the category named.
    for c in &t.categories {
        let served = s
            .routing
            .routes
            .iter()
            .any(|r| r.when.category.as_deref() == Some(c.code.as_str()));
        if !served {
            out.push(Problem::new(
                k,
                "category_without_route",
                "routes",
                Some(&c.code),
                format!("no route serves the category `{}` ({}): add a route for it or remove the category", c.code, c.name_zh),
            ));
        }
    }
    for (p, h) in &s.routing.first_response_hours {
        if *h <= 0 {
            out.push(Problem::new(
                k,
                "zero_deadline",
                format!("first_response_hours.{p}"),
                Some(p),
                format!("the first-response target of priority `{p}` must be more than zero hours"),
            ));
        }
        if !t.priorities.iter().any(|x| &x.code == p) {
            out.push(Problem::new(
                k,
                "unknown_priority",
                format!("first_response_hours.{p}"),
                Some(p),
                format!("`{p}` is not a priority in the taxonomy"),
            ));
        }
    }
}

fn check_sla(s: &Setup, out: &mut Vec<Problem>) {
    let cfg = match s.sla_config() {
        Ok(c) => c,
        Err(e) => {
            out.push(Problem::new(Kind::Sla, "unreadable", "", None, e));
            return;
        }
    };
    for name in cfg.departments.keys() {
        if !s.departments.has(name) {
            out.push(Problem::new(
                Kind::Sla,
                "unknown_department",
                format!("departments.{name}"),
                Some(name),
                format!("the SLA policy sets a calendar for `{name}`, which is not a department"),
            ));
        }
    }
    if let Err(e) = SlaRules::from_config(&cfg) {
        // Where the fault is, so the console can mark the field: the clock's priority, the
        // department's calendar, the calendar itself.
        let (kind, code, path, subject) = match &e {
            PolicyError::Calendar(CalendarError::NeverOpen { calendar }) => (
                Kind::Calendars,
                "no_working_hours",
                format!("calendars.{calendar}.weekly"),
                Some(calendar.clone()),
            ),
            PolicyError::Calendar(c) => {
                let name = calendar_name(c);
                let path = name
                    .as_deref()
                    .map(|n| format!("calendars.{n}"))
                    .unwrap_or_default();
                (Kind::Calendars, "bad_calendar", path, name)
            }
            PolicyError::BadTarget { what, path } => {
                (Kind::Sla, "zero_deadline", path.clone(), Some(what.clone()))
            }
            PolicyError::BadFraction { path, .. } => {
                (Kind::Sla, "bad_fraction", path.clone(), None)
            }
            PolicyError::UnknownCalendar {
                department,
                calendar,
            } => (
                Kind::Sla,
                "unknown_calendar",
                format!("departments.{department}.calendar"),
                Some(calendar.clone()),
            ),
            _ => (Kind::Sla, "unreadable", String::new(), None),
        };
        out.push(Problem::new(
            kind,
            code,
            path,
            subject.as_ref(),
            e.to_string(),
        ));
    }
}

fn check_policies(s: &Setup, out: &mut Vec<Problem>) {
    if let Err(f) = s.survey.check() {
        out.push(Problem::new(
            Kind::Survey,
            f.code,
            f.key,
            None,
            f.to_string(),
        ));
    }
    for (key, code, message) in s.targets.faults() {
        out.push(Problem::new(Kind::Targets, code, key, None, message));
    }
}

fn calendar_name(e: &CalendarError) -> Option<String> {
    match e {
        CalendarError::BadSpan { calendar, .. }
        | CalendarError::BadDate { calendar, .. }
        | CalendarError::HolidayAndWorkday { calendar, .. }
        | CalendarError::NeverOpen { calendar }
        | CalendarError::UnknownHolidaySet { calendar, .. }
        | CalendarError::BadTimeZone { calendar, .. } => Some(calendar.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_defaults_are_sound() {
        let s = Setup::defaults();
        assert_eq!(s.problems(), vec![], "config/ reads into a sound setup");
        assert!(s.taxonomy.categories.iter().all(|c| !c.name_en.is_empty()));
        assert_eq!(
            s.taxonomy
                .find_category("技术故障")
                .map(|c| c.code.as_str()),
            Some("technical_fault")
        );
        assert_eq!(
            s.taxonomy
                .find_category(" Technical fault ")
                .map(|c| c.code.as_str()),
            Some("technical_fault")
        );
        assert!(s.taxonomy.find_category("技术咨询").is_none());
    }

    #[test]
    fn breaking_changes_are_named() {
        let mut s = Setup::defaults();
        s.routing.routes[2].departments = vec!["nowhere".into()];
        s.routing.first_response_hours.insert("urgent".into(), 0);
        s.taxonomy.categories.push(Named {
            code: "new_one".into(),
            name_zh: "新的".into(),
            name_en: String::new(),
        });
        let problems = s.problems();
        let codes: Vec<&str> = problems.iter().map(|p| p.code.as_str()).collect();
        assert!(codes.contains(&"unknown_department"), "{codes:?}");
        assert!(codes.contains(&"zero_deadline"), "{codes:?}");
        assert!(codes.contains(&"category_without_route"), "{codes:?}");
    }

    #[test]
    fn sla_and_calendar_changes_are_checked_with_the_sla_rules() {
        let s = Setup::defaults();
        assert!(s.sla_rules().is_ok());
        let mut zero = s.clone();
        zero.sla["policy"]["clocks"]["first_response"]["urgent"] = serde_json::json!("0m");
        let problems = zero.problems();
        assert_eq!(problems[0].code, "zero_deadline", "{problems:?}");
        assert_eq!(problems[0].path, "policy.clocks.first_response.urgent");
        assert_eq!(problems[0].subject.as_deref(), Some("first_response"));
        let mut closed = s.clone();
        closed.calendars["calendars"]["cn-office"]["weekly"] = serde_json::json!({});
        let problems = closed.problems();
        assert_eq!(problems[0].code, "no_working_hours", "{problems:?}");
        assert_eq!(problems[0].path, "calendars.cn-office.weekly");
        assert_eq!(problems[0].subject.as_deref(), Some("cn-office"));
        let mut unknown = s.clone();
        unknown.sla["departments"]["warehouse"] = serde_json::json!({"calendar": "cn-office"});
        assert_eq!(unknown.problems()[0].code, "unknown_department");
    }

    #[test]
    fn routes_read_in_order() {
        let s = Setup::defaults();
        let d = s.routing.route(
            &s.departments.default_department,
            "order",
            "product_quality",
            &["logistics_damage".into()],
        );
        assert_eq!(d.lead, "customer_service");
        assert_eq!(
            d.departments,
            vec!["customer_service", "logistics"],
            "the damage route stops the search"
        );
        let d = s
            .routing
            .route(&s.departments.default_department, "nothing", "nothing", &[]);
        assert_eq!(d.lead, "customer_service");
    }
}
