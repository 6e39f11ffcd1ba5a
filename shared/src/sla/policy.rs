//! SLA policy: which target applies to which clock of which ticket, and which calendar measures it.
//!
//! Targets are configuration (docs/domain.md "Deadlines"): a default per clock kind and priority, refined by
//! overrides that name a department, problem category, customer type and/or priority. The most
//! specific matching override that sets a clock wins; between equally specific ones the later in the
//! file wins, so a file reads top-down like a cascade. Built-in defaults come from docs/domain.md, so an
//! empty file is a working policy.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use serde::{Deserialize, Deserializer, Serialize};

use super::calendar::{Calendar, CalendarConfig, CalendarError, HolidaySetConfig};

/// Why a policy file was rejected (at start-up or reload; a running worker keeps its last good one).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy file is not valid TOML for the SLA schema: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("cannot read policy file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error("warning fractions must lie strictly between 0 and 1, got {value} (at `{path}`)")]
    BadFraction {
        value: f64,
        /// Where in the SLA document, e.g. `policy.clocks.resolution.warning_fractions`.
        path: String,
    },
    #[error("target for {what} must be longer than zero and at most 366 days (at `{path}`)")]
    BadTarget {
        /// The clock, e.g. `first_response`.
        what: String,
        /// Where in the SLA document, e.g. `policy.clocks.first_response.urgent`.
        path: String,
    },
    #[error("department `{department}` names unknown calendar `{calendar}`")]
    UnknownCalendar {
        department: String,
        calendar: String,
    },
}

/// Ticket priority as docs/domain.md names it (紧急/高, 一般/中, 建议/低).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Urgent,
    General,
    Suggestion,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::General => "general",
            Priority::Suggestion => "suggestion",
        }
    }

    /// Parses the stored code; unknown codes are `None` so callers decide (the worker treats them
    /// as `general`, the middle tier, and logs).
    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "urgent" => Some(Priority::Urgent),
            "general" => Some(Priority::General),
            "suggestion" => Some(Priority::Suggestion),
            _ => None,
        }
    }
}

/// The deadlines a ticket is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// Receipt → registered with a department (docs/domain.md: within 30 minutes of receipt).
    Registration,
    /// Receipt → first reply to the customer.
    FirstResponse,
    /// Last contact → next proactive contact while the ticket is being handled.
    ProactiveContact,
    /// Receipt (or reopening) → resolved.
    Resolution,
    /// Resolved → satisfaction survey / revisit done (docs/domain.md: within 24 h).
    Survey,
}

impl ClockKind {
    pub const ALL: [ClockKind; 5] = [
        ClockKind::Registration,
        ClockKind::FirstResponse,
        ClockKind::ProactiveContact,
        ClockKind::Resolution,
        ClockKind::Survey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::Registration => "registration",
            ClockKind::FirstResponse => "first_response",
            ClockKind::ProactiveContact => "proactive_contact",
            ClockKind::Resolution => "resolution",
            ClockKind::Survey => "survey",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        ClockKind::ALL.into_iter().find(|k| k.as_str() == code)
    }
}

/// How a target is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeBasis {
    /// Only the department calendar's opening hours count.
    Business,
    /// Every second counts (a customer-facing promise kept by an automated worker).
    Wall,
}

impl TimeBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeBasis::Business => "business",
            TimeBasis::Wall => "wall",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "business" => Some(TimeBasis::Business),
            "wall" => Some(TimeBasis::Wall),
            _ => None,
        }
    }
}

/// A duration written as people write it (`30m`, `2h`, `3days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let std = humantime::parse_duration(&s).map_err(serde::de::Error::custom)?;
        Duration::from_std(std)
            .map(ConfigDuration)
            .map_err(serde::de::Error::custom)
    }
}

/// One clock's defaults as written in config. Unset fields keep the built-in default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockPolicyConfig {
    pub basis: Option<TimeBasis>,
    /// Same target for every priority (overridden by a per-priority value).
    pub target: Option<ConfigDuration>,
    pub urgent: Option<ConfigDuration>,
    pub general: Option<ConfigDuration>,
    pub suggestion: Option<ConfigDuration>,
    /// Fractions of the target at which to warn, e.g. `[0.75, 0.9]`.
    pub warning_fractions: Option<Vec<f64>>,
}

/// A targeted refinement: all named fields must match the ticket.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideConfig {
    pub department: Option<String>,
    pub category: Option<String>,
    pub customer_type: Option<String>,
    pub priority: Option<Priority>,
    /// Targets per clock kind, e.g. `first_response = "1h"`.
    #[serde(default)]
    pub targets: BTreeMap<ClockKind, ConfigDuration>,
    pub warning_fractions: Option<Vec<f64>>,
}

/// The `[policy]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Default warning fractions for every clock (docs/domain.md: 75 % and 90 %).
    pub warning_fractions: Option<Vec<f64>>,
    #[serde(default)]
    pub clocks: BTreeMap<ClockKind, ClockPolicyConfig>,
    #[serde(default)]
    pub overrides: Vec<OverrideConfig>,
}

/// A department's calendars and escalation contact as written in config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentConfig {
    /// Calendar that measures business time for this department's tickets.
    pub calendar: String,
    /// Calendar of the hours people may be notified in (defaults to `calendar`); lets a 24×7 desk
    /// still keep reminders to a supervisor out of the night.
    pub notify_calendar: Option<String>,
    /// Who a breach escalates to (a user id or role handle the api resolves).
    pub supervisor: Option<String>,
}

/// The whole SLA configuration file (`config/sla/sla.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaFileConfig {
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Calendar for tickets not (yet) routed to a known department.
    pub default_calendar: Option<String>,
    #[serde(default)]
    pub departments: BTreeMap<String, DepartmentConfig>,
    #[serde(default)]
    pub calendars: BTreeMap<String, CalendarConfig>,
    #[serde(default)]
    pub holiday_sets: BTreeMap<String, HolidaySetConfig>,
}

/// What the policy says about one clock of one ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockTarget {
    pub target: Duration,
    pub basis: TimeBasis,
    /// Ascending, each in (0, 1).
    pub warning_fractions: Vec<f64>,
}

/// The ticket facts a policy looks at.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TicketAttrs {
    pub priority: Option<Priority>,
    pub department: Option<String>,
    pub category: Option<String>,
    pub customer_type: Option<String>,
}

impl TicketAttrs {
    /// Priority used for targets: an unclassified ticket is held to the `general` tier.
    pub fn effective_priority(&self) -> Priority {
        self.priority.unwrap_or(Priority::General)
    }
}

/// Validated defaults of one clock kind.
#[derive(Debug, Clone)]
struct ClockDefaults {
    basis: TimeBasis,
    targets: [Duration; 3],
    warning_fractions: Vec<f64>,
}

/// Validated override.
#[derive(Debug, Clone)]
struct Override {
    department: Option<String>,
    category: Option<String>,
    customer_type: Option<String>,
    priority: Option<Priority>,
    targets: BTreeMap<ClockKind, Duration>,
    warning_fractions: Option<Vec<f64>>,
}

impl Override {
    /// Number of named fields if all match the ticket, else `None`.
    fn specificity(&self, t: &TicketAttrs) -> Option<usize> {
        fn field(want: &Option<String>, got: &Option<String>) -> Option<usize> {
            match want {
                None => Some(0),
                Some(w) if got.as_deref() == Some(w.as_str()) => Some(1),
                Some(_) => None,
            }
        }
        let p = match self.priority {
            None => 0,
            Some(p) if p == t.effective_priority() => 1,
            Some(_) => return None,
        };
        Some(
            p + field(&self.department, &t.department)?
                + field(&self.category, &t.category)?
                + field(&self.customer_type, &t.customer_type)?,
        )
    }
}

/// Targets per clock, with overrides. Immutable; replaced whole on reload.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Indexed by `ClockKind as usize`.
    clocks: [ClockDefaults; 5],
    overrides: Vec<Override>,
}

fn hours(h: i64) -> Duration {
    Duration::hours(h)
}

/// Checks fractions and returns them sorted and de-duplicated.
fn fractions(v: &[f64], path: &str) -> Result<Vec<f64>, PolicyError> {
    let mut out = Vec::with_capacity(v.len());
    for &f in v {
        if !(f > 0.0 && f < 1.0) {
            return Err(PolicyError::BadFraction {
                value: f,
                path: path.to_owned(),
            });
        }
        out.push(f);
    }
    out.sort_by(f64::total_cmp);
    out.dedup();
    Ok(out)
}

fn check_target(
    what: &str,
    path: impl FnOnce() -> String,
    d: Duration,
) -> Result<Duration, PolicyError> {
    if d <= Duration::zero() || d > Duration::days(366) {
        return Err(PolicyError::BadTarget {
            what: what.to_owned(),
            path: path(),
        });
    }
    Ok(d)
}

impl Default for Policy {
    /// The built-in targets with no overrides.
    fn default() -> Self {
        Policy {
            clocks: ClockKind::ALL.map(|kind| {
                let (targets, basis) = Policy::builtin(kind);
                ClockDefaults {
                    basis,
                    targets,
                    warning_fractions: vec![0.75, 0.9],
                }
            }),
            overrides: Vec::new(),
        }
    }
}

impl Policy {
    /// Built-in targets, [urgent, general, suggestion], measured in business time unless noted.
    ///
    /// From docs/domain.md: registration 30 min; first response 2 h / 24 h / 72 h; survey within 24 h of
    /// resolution. It gives no figures for proactive contact and resolution; the defaults
    /// here (contact every 4 h / 24 h / 72 h, resolve in 24 h / 72 h / 168 h of business time)
    /// are this crate's choice and meant to be set per deployment.
    fn builtin(kind: ClockKind) -> ([Duration; 3], TimeBasis) {
        use ClockKind::*;
        match kind {
            Registration => ([Duration::minutes(30); 3], TimeBasis::Business),
            FirstResponse => ([hours(2), hours(24), hours(72)], TimeBasis::Business),
            ProactiveContact => ([hours(4), hours(24), hours(72)], TimeBasis::Business),
            Resolution => ([hours(24), hours(72), hours(168)], TimeBasis::Business),
            // The survey is sent by a worker, not a person, and the promise is to the customer:
            // 24 real hours.
            Survey => ([hours(24); 3], TimeBasis::Wall),
        }
    }

    /// Validates a `[policy]` table on top of the built-in defaults.
    pub fn from_config(cfg: &PolicyConfig) -> Result<Self, PolicyError> {
        let global_fractions = fractions(
            cfg.warning_fractions.as_deref().unwrap_or(&[0.75, 0.9]),
            "policy.warning_fractions",
        )?;
        let mut policy = Policy::default();
        for kind in ClockKind::ALL {
            let (mut targets, mut basis) = Self::builtin(kind);
            let mut warning_fractions = global_fractions.clone();
            let clock = format!("policy.clocks.{}", kind.as_str());
            // Which key of the document set each priority's target, to name it in a refusal.
            let mut keys = ["", "", ""];
            if let Some(c) = cfg.clocks.get(&kind) {
                if let Some(b) = c.basis {
                    basis = b;
                }
                if let Some(t) = c.target {
                    targets = [t.0; 3];
                    keys = ["target"; 3];
                }
                let named = ["urgent", "general", "suggestion"];
                for (i, v) in [c.urgent, c.general, c.suggestion].into_iter().enumerate() {
                    if let Some(v) = v {
                        targets[i] = v.0;
                        keys[i] = named[i];
                    }
                }
                if let Some(f) = &c.warning_fractions {
                    warning_fractions = fractions(f, &format!("{clock}.warning_fractions"))?;
                }
            }
            for (t, key) in targets.into_iter().zip(keys) {
                check_target(kind.as_str(), || format!("{clock}.{key}"), t)?;
            }
            policy.clocks[kind as usize] = ClockDefaults {
                basis,
                targets,
                warning_fractions,
            };
        }
        policy.overrides = cfg
            .overrides
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let mut targets = BTreeMap::new();
                for (k, d) in &o.targets {
                    let path = || format!("policy.overrides[{i}].targets.{}", k.as_str());
                    targets.insert(*k, check_target(k.as_str(), path, d.0)?);
                }
                Ok(Override {
                    department: o.department.clone(),
                    category: o.category.clone(),
                    customer_type: o.customer_type.clone(),
                    priority: o.priority,
                    targets,
                    warning_fractions: o
                        .warning_fractions
                        .as_deref()
                        .map(|f| fractions(f, &format!("policy.overrides[{i}].warning_fractions")))
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        Ok(policy)
    }

    /// The target of one clock for one ticket.
    pub fn target(&self, kind: ClockKind, ticket: &TicketAttrs) -> ClockTarget {
        let d = &self.clocks[kind as usize];
        let idx = match ticket.effective_priority() {
            Priority::Urgent => 0,
            Priority::General => 1,
            Priority::Suggestion => 2,
        };
        let mut target = d.targets[idx];
        let mut warning_fractions = d.warning_fractions.clone();
        // Most specific override that sets this clock; ties go to the later entry (`>=`).
        let mut best: Option<(usize, &Override)> = None;
        for o in &self.overrides {
            if !o.targets.contains_key(&kind) {
                continue;
            }
            if let Some(s) = o.specificity(ticket) {
                if best.is_none_or(|(b, _)| s >= b) {
                    best = Some((s, o));
                }
            }
        }
        if let Some((_, o)) = best {
            if let Some(t) = o.targets.get(&kind) {
                target = *t;
            }
            if let Some(f) = &o.warning_fractions {
                warning_fractions = f.clone();
            }
        }
        ClockTarget {
            target,
            basis: d.basis,
            warning_fractions,
        }
    }
}

/// A department's resolved calendars.
#[derive(Debug, Clone)]
pub struct Department {
    /// Measures business time.
    pub calendar: Arc<Calendar>,
    /// Hours in which people may be notified.
    pub notify_calendar: Arc<Calendar>,
    pub supervisor: Option<String>,
}

/// Everything the SLA worker reads from its config file, validated.
#[derive(Debug, Clone)]
pub struct SlaRules {
    pub policy: Policy,
    departments: BTreeMap<String, Department>,
    /// Used for tickets without a (known) department.
    default_department: Department,
    /// Measure for wall-clock targets.
    wall: Arc<Calendar>,
}

impl Default for SlaRules {
    fn default() -> Self {
        let cal = Arc::new(Calendar::always_open(chrono_tz::Asia::Shanghai));
        SlaRules {
            policy: Policy::default(),
            departments: BTreeMap::new(),
            default_department: Department {
                calendar: cal.clone(),
                notify_calendar: cal.clone(),
                supervisor: None,
            },
            wall: cal,
        }
    }
}

impl SlaRules {
    /// Parses and validates a TOML document.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let cfg: SlaFileConfig = toml::from_str(text)?;
        Self::from_config(&cfg)
    }

    /// Reads and validates a TOML file.
    pub fn load(path: &std::path::Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text)
    }

    pub fn from_config(cfg: &SlaFileConfig) -> Result<Self, PolicyError> {
        let policy = Policy::from_config(&cfg.policy)?;
        let mut calendars = BTreeMap::new();
        for (name, c) in &cfg.calendars {
            calendars.insert(
                name.clone(),
                Arc::new(Calendar::from_config(name, c, &cfg.holiday_sets)?),
            );
        }
        let lookup = |department: &str, name: &str| {
            calendars
                .get(name)
                .cloned()
                .ok_or_else(|| PolicyError::UnknownCalendar {
                    department: department.to_owned(),
                    calendar: name.to_owned(),
                })
        };
        let default_calendar = match &cfg.default_calendar {
            Some(name) => lookup("(default)", name)?,
            None => Arc::new(Calendar::always_open(chrono_tz::Asia::Shanghai)),
        };
        let mut departments = BTreeMap::new();
        for (name, d) in &cfg.departments {
            let calendar = lookup(name, &d.calendar)?;
            let notify_calendar = match &d.notify_calendar {
                Some(n) => lookup(name, n)?,
                None => calendar.clone(),
            };
            departments.insert(
                name.clone(),
                Department {
                    calendar,
                    notify_calendar,
                    supervisor: d.supervisor.clone(),
                },
            );
        }
        let wall = Arc::new(Calendar::always_open(default_calendar.time_zone()));
        Ok(SlaRules {
            policy,
            departments,
            default_department: Department {
                calendar: default_calendar.clone(),
                notify_calendar: default_calendar,
                supervisor: None,
            },
            wall,
        })
    }

    /// The department's calendars; unknown or missing departments get the default calendar.
    pub fn department(&self, name: Option<&str>) -> &Department {
        name.and_then(|n| self.departments.get(n))
            .unwrap_or(&self.default_department)
    }

    /// The calendar that measures a clock with the given basis for the given department.
    pub fn measure(&self, basis: TimeBasis, department: Option<&str>) -> &Calendar {
        match basis {
            TimeBasis::Business => &self.department(department).calendar,
            TimeBasis::Wall => &self.wall,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(p: Priority) -> TicketAttrs {
        TicketAttrs {
            priority: Some(p),
            ..Default::default()
        }
    }

    #[test]
    fn spec_defaults() {
        let p = Policy::default();
        let fr = |pr| p.target(ClockKind::FirstResponse, &attrs(pr)).target;
        assert_eq!(fr(Priority::Urgent), Duration::hours(2));
        assert_eq!(fr(Priority::General), Duration::hours(24));
        assert_eq!(fr(Priority::Suggestion), Duration::hours(72));
        let reg = p.target(ClockKind::Registration, &attrs(Priority::Suggestion));
        assert_eq!(reg.target, Duration::minutes(30));
        let survey = p.target(ClockKind::Survey, &attrs(Priority::Urgent));
        assert_eq!(survey.target, Duration::hours(24));
        assert_eq!(survey.basis, TimeBasis::Wall);
        assert_eq!(reg.warning_fractions, vec![0.75, 0.9]);
        // No priority yet: held to the general tier.
        assert_eq!(
            p.target(ClockKind::FirstResponse, &TicketAttrs::default())
                .target,
            Duration::hours(24)
        );
    }

    #[test]
    fn overrides_most_specific_wins_then_later() {
        let text = r#"
            [policy]
            warning_fractions = [0.9, 0.5]
            [policy.clocks.first_response]
            general = "12h"
            [[policy.overrides]]
            department = "logistics"
            targets = { first_response = "8h" }
            [[policy.overrides]]
            department = "logistics"
            customer_type = "new"
            targets = { first_response = "4h" }
            warning_fractions = [0.8]
            [[policy.overrides]]
            category = "logistics_delay"
            targets = { first_response = "6h", resolution = "2days" }
        "#;
        let rules = SlaRules::from_toml(text).expect("valid");
        let p = &rules.policy;
        let mut t = attrs(Priority::General);
        assert_eq!(
            p.target(ClockKind::FirstResponse, &t).target,
            Duration::hours(12)
        );
        assert_eq!(
            p.target(ClockKind::FirstResponse, &t).warning_fractions,
            vec![0.5, 0.9]
        );
        t.department = Some("logistics".into());
        assert_eq!(
            p.target(ClockKind::FirstResponse, &t).target,
            Duration::hours(8)
        );
        t.customer_type = Some("new".into());
        let ft = p.target(ClockKind::FirstResponse, &t);
        assert_eq!(ft.target, Duration::hours(4));
        assert_eq!(ft.warning_fractions, vec![0.8]);
        // Equal specificity (1): the later entry (category) wins over department alone.
        t.customer_type = None;
        t.category = Some("logistics_delay".into());
        assert_eq!(
            p.target(ClockKind::FirstResponse, &t).target,
            Duration::hours(6)
        );
        assert_eq!(
            p.target(ClockKind::Resolution, &t).target,
            Duration::hours(48)
        );
        // An override that does not set a clock leaves it at the default.
        assert_eq!(
            p.target(ClockKind::Registration, &t).target,
            Duration::minutes(30)
        );
    }

    #[test]
    fn priority_scoped_override() {
        let text = r#"
            [[policy.overrides]]
            priority = "urgent"
            department = "product"
            targets = { resolution = "8h" }
        "#;
        let rules = SlaRules::from_toml(text).expect("valid");
        let mut t = attrs(Priority::Urgent);
        t.department = Some("product".into());
        assert_eq!(
            rules.policy.target(ClockKind::Resolution, &t).target,
            Duration::hours(8)
        );
        t.priority = Some(Priority::General);
        assert_eq!(
            rules.policy.target(ClockKind::Resolution, &t).target,
            Duration::hours(72)
        );
    }

    #[test]
    fn rejects_bad_values() {
        assert!(matches!(
            SlaRules::from_toml("[policy]\nwarning_fractions = [1.5]"),
            Err(PolicyError::BadFraction { .. })
        ));
        assert!(matches!(
            SlaRules::from_toml("[policy.clocks.survey]\ntarget = \"0s\""),
            Err(PolicyError::BadTarget { .. })
        ));
        assert!(matches!(
            SlaRules::from_toml("[policy.clocks.survey]\ntarget = \"soon\""),
            Err(PolicyError::Parse(_))
        ));
        assert!(matches!(
            SlaRules::from_toml("[policy.clocks.surveys]\ntarget = \"1h\""),
            Err(PolicyError::Parse(_))
        ));
        assert!(matches!(
            SlaRules::from_toml("[departments.cs]\ncalendar = \"nope\""),
            Err(PolicyError::UnknownCalendar { .. })
        ));
    }

    #[test]
    fn shipped_config_is_valid() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/sla/sla.toml");
        let rules = SlaRules::load(&path).expect("config/sla/sla.toml is valid");
        let cs = rules.department(Some("customer_service"));
        assert!(!cs.calendar.is_always_open());
        assert!(cs.supervisor.is_some());
        // Unknown department falls back to the default calendar.
        let unknown = rules.department(Some("no_such_department"));
        assert!(!unknown.calendar.is_always_open());
    }
}
