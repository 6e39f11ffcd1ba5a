//! One SLA clock (e.g. a ticket's first-response clock) as a state machine over business time.
//!
//! A clock banks the business time it has run (`elapsed`) whenever it stops running or its measure
//! may change, and otherwise remembers when its current running stretch began (`running_since`). Its
//! deadlines (warnings at fractions of the target, then the breach) follow from those two numbers
//! and the calendar, so pausing, re-prioritising or re-routing a ticket is "bank, change, recompute".
//!
//! Every change that moves a deadline bumps `version`; durable timers carry the version they were
//! planned for, so a timer left over from an older plan is recognised and dropped when it comes due
//! instead of firing a stale warning.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::policy::{ClockKind, ClockTarget, TimeBasis};

/// Where a clock is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockStatus {
    Running,
    /// Waiting on the customer: time does not count.
    Paused,
    /// The clock's goal was reached (or made moot, e.g. a survey clock on reopening).
    Stopped,
}

impl ClockStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockStatus::Running => "running",
            ClockStatus::Paused => "paused",
            ClockStatus::Stopped => "stopped",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "running" => Some(ClockStatus::Running),
            "paused" => Some(ClockStatus::Paused),
            "stopped" => Some(ClockStatus::Stopped),
            _ => None,
        }
    }
}

/// What happens when a deadline comes due.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum DeadlineEvent {
    /// The clock has used `fraction` of its target.
    Warning { fraction: f64 },
    /// The clock has used its whole target.
    Breach,
}

/// A planned firing: the event and the instant it is due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deadline {
    pub event: DeadlineEvent,
    pub due_at: DateTime<Utc>,
}

/// One clock's full state; persisted one row per (ticket, kind).
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    pub kind: ClockKind,
    /// Bumped by `restart` (a reopened ticket starts a new resolution cycle).
    pub cycle: i32,
    /// Bumped by every change that moves a deadline; timers carry it.
    pub version: i32,
    pub status: ClockStatus,
    pub target: Duration,
    pub basis: TimeBasis,
    /// Ascending, each in (0, 1).
    pub warning_fractions: Vec<f64>,
    /// When this cycle began.
    pub started_at: DateTime<Utc>,
    /// Business time banked before `running_since` (all of it when not running).
    pub elapsed: Duration,
    /// Start of the current running stretch; `Some` exactly when running.
    pub running_since: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// The deadline instant of a breach that fired in this cycle.
    pub breached_at: Option<DateTime<Utc>>,
    /// Highest warning fraction already announced in this cycle (0 = none).
    pub warned_fraction: f64,
}

/// A read-only picture of a clock at some instant, for people and the api.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClockView {
    pub kind: ClockKind,
    pub cycle: i32,
    pub status: ClockStatus,
    pub basis: TimeBasis,
    pub target_secs: i64,
    pub elapsed_secs: i64,
    /// Negative once overdue.
    pub remaining_secs: i64,
    /// The breach instant while running; `None` when paused or stopped.
    pub due_at: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub breached_at: Option<DateTime<Utc>>,
    /// For stopped clocks: whether the goal was reached within the target.
    pub met: Option<bool>,
}

impl Clock {
    /// A clock that starts running at `at`.
    pub fn start(kind: ClockKind, target: ClockTarget, at: DateTime<Utc>) -> Self {
        Clock {
            kind,
            cycle: 1,
            version: 1,
            status: ClockStatus::Running,
            target: target.target,
            basis: target.basis,
            warning_fractions: target.warning_fractions,
            started_at: at,
            elapsed: Duration::zero(),
            running_since: Some(at),
            stopped_at: None,
            breached_at: None,
            warned_fraction: 0.0,
        }
    }

    /// Business time used as of `at` (banked plus the current stretch).
    pub fn elapsed_at(&self, at: DateTime<Utc>, measure: &Calendar) -> Duration {
        match self.running_since {
            Some(since) => self.elapsed + measure.business_duration_between(since, at),
            None => self.elapsed,
        }
    }

    /// Moves the current stretch into `elapsed` so the measure or target may change from `at` on.
    fn bank(&mut self, at: DateTime<Utc>, measure: &Calendar) {
        if let Some(since) = self.running_since {
            let at = at.max(since);
            self.elapsed += measure.business_duration_between(since, at);
            self.running_since = Some(at);
        }
    }

    /// Waiting on the customer. Returns whether anything changed.
    pub fn pause(&mut self, at: DateTime<Utc>, measure: &Calendar) -> bool {
        if self.status != ClockStatus::Running {
            return false;
        }
        self.bank(at, measure);
        self.running_since = None;
        self.status = ClockStatus::Paused;
        self.version += 1;
        true
    }

    /// The customer is back. Returns whether anything changed.
    pub fn resume(&mut self, at: DateTime<Utc>) -> bool {
        if self.status != ClockStatus::Paused {
            return false;
        }
        self.running_since = Some(at);
        self.status = ClockStatus::Running;
        self.version += 1;
        true
    }

    /// New target (priority change) and/or new measure (re-routing) from `at` on. Time already
    /// used is kept, measured by the calendar that was in force (`old_measure`).
    pub fn retarget(
        &mut self,
        target: ClockTarget,
        at: DateTime<Utc>,
        old_measure: &Calendar,
    ) -> bool {
        if self.status == ClockStatus::Stopped {
            return false;
        }
        self.bank(at, old_measure);
        self.target = target.target;
        self.basis = target.basis;
        self.warning_fractions = target.warning_fractions;
        self.version += 1;
        true
    }

    /// Goal reached. Returns whether anything changed.
    pub fn stop(&mut self, at: DateTime<Utc>, measure: &Calendar) -> bool {
        if self.status == ClockStatus::Stopped {
            return false;
        }
        self.bank(at, measure);
        self.running_since = None;
        self.status = ClockStatus::Stopped;
        self.stopped_at = Some(at);
        self.version += 1;
        true
    }

    /// A new cycle from zero at `at` (reopened ticket, next proactive contact).
    pub fn restart(&mut self, target: ClockTarget, at: DateTime<Utc>) {
        let (cycle, version) = (self.cycle + 1, self.version + 1);
        *self = Clock::start(self.kind, target, at);
        self.cycle = cycle;
        self.version = version;
    }

    /// Deadlines still to fire, measured by `measure`; empty unless running.
    ///
    /// Warnings whose threshold already passed (e.g. after a priority raise) collapse into one
    /// warning at the highest passed fraction, due now (`running_since`), unless the breach is due
    /// too; a breach fires once per cycle.
    pub fn deadlines(&self, measure: &Calendar) -> Vec<Deadline> {
        let Some(since) = self.running_since else {
            return Vec::new();
        };
        if self.status != ClockStatus::Running || self.breached_at.is_some() {
            return Vec::new();
        }
        let at_used = |used: Duration| measure.add_business_duration(since, used - self.elapsed);
        let mut out = Vec::new();
        let overdue = self.elapsed >= self.target;
        let mut passed: Option<f64> = None;
        for &f in &self.warning_fractions {
            if f <= self.warned_fraction {
                continue;
            }
            let threshold = scale(self.target, f);
            if threshold <= self.elapsed {
                passed = Some(f);
            } else if !overdue {
                out.push(Deadline {
                    event: DeadlineEvent::Warning { fraction: f },
                    due_at: at_used(threshold),
                });
            }
        }
        if let (Some(f), false) = (passed, overdue) {
            out.insert(
                0,
                Deadline {
                    event: DeadlineEvent::Warning { fraction: f },
                    due_at: since,
                },
            );
        }
        out.push(Deadline {
            event: DeadlineEvent::Breach,
            due_at: if overdue { since } else { at_used(self.target) },
        });
        out
    }

    /// Records that a deadline fired (`due_at` is when it was due, not when the worker got to it).
    pub fn fired(&mut self, deadline: &Deadline) {
        match deadline.event {
            DeadlineEvent::Warning { fraction } => {
                self.warned_fraction = self.warned_fraction.max(fraction);
            }
            DeadlineEvent::Breach => {
                self.breached_at.get_or_insert(deadline.due_at);
            }
        }
    }

    /// The clock as people see it at `now`.
    pub fn view(&self, now: DateTime<Utc>, measure: &Calendar) -> ClockView {
        let elapsed = self.elapsed_at(now, measure);
        let due_at = match (self.status, self.running_since) {
            (ClockStatus::Running, Some(since)) => {
                Some(measure.add_business_duration(since, self.target - self.elapsed))
            }
            _ => None,
        };
        ClockView {
            kind: self.kind,
            cycle: self.cycle,
            status: self.status,
            basis: self.basis,
            target_secs: self.target.num_seconds(),
            elapsed_secs: elapsed.num_seconds(),
            remaining_secs: (self.target - elapsed).num_seconds(),
            due_at,
            started_at: self.started_at,
            stopped_at: self.stopped_at,
            breached_at: self.breached_at,
            met: (self.status == ClockStatus::Stopped)
                .then(|| self.breached_at.is_none() && self.elapsed <= self.target),
        }
    }
}

/// `d * f`, to the millisecond (fractions come from config, durations are whole seconds).
fn scale(d: Duration, f: f64) -> Duration {
    Duration::milliseconds((d.num_milliseconds() as f64 * f).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{CalendarConfig, WeeklyHoursConfig};
    use chrono::{NaiveDateTime, TimeZone};
    use std::collections::BTreeMap;

    fn office() -> Calendar {
        let h = vec!["09:00-18:00".to_string()];
        let cfg = CalendarConfig {
            time_zone: "Asia/Shanghai".into(),
            always_open: false,
            weekly: WeeklyHoursConfig {
                mon: h.clone(),
                tue: h.clone(),
                wed: h.clone(),
                thu: h.clone(),
                fri: h,
                ..Default::default()
            },
            workday_hours: None,
            holiday_sets: vec![],
            holidays: vec!["2026-10-01..2026-10-07".into()],
            makeup_workdays: vec!["2026-10-10".into()],
        };
        Calendar::from_config("office", &cfg, &BTreeMap::new()).expect("valid")
    }

    fn sh(s: &str) -> DateTime<Utc> {
        let ndt = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("literal");
        chrono_tz::Asia::Shanghai
            .from_local_datetime(&ndt)
            .single()
            .expect("exists")
            .with_timezone(&Utc)
    }

    fn target(h: i64) -> ClockTarget {
        ClockTarget {
            target: Duration::hours(h),
            basis: TimeBasis::Business,
            warning_fractions: vec![0.75, 0.9],
        }
    }

    fn due(c: &Clock, cal: &Calendar) -> Vec<(String, DateTime<Utc>)> {
        c.deadlines(cal)
            .into_iter()
            .map(|d| {
                let name = match d.event {
                    DeadlineEvent::Warning { fraction } => format!("warn{fraction}"),
                    DeadlineEvent::Breach => "breach".to_string(),
                };
                (name, d.due_at)
            })
            .collect()
    }

    #[test]
    fn fresh_clock_warns_at_75_and_90_percent() {
        let cal = office();
        let c = Clock::start(ClockKind::FirstResponse, target(2), sh("2026-11-23 10:00"));
        assert_eq!(
            due(&c, &cal),
            vec![
                ("warn0.75".into(), sh("2026-11-23 11:30")),
                ("warn0.9".into(), sh("2026-11-23 11:48")),
                ("breach".into(), sh("2026-11-23 12:00")),
            ]
        );
    }

    #[test]
    fn pause_and_resume_shift_the_deadline_by_the_business_time_paused() {
        let cal = office();
        let mut c = Clock::start(ClockKind::Resolution, target(4), sh("2026-11-23 10:00"));
        assert!(c.pause(sh("2026-11-23 11:00"), &cal));
        assert!(
            !c.pause(sh("2026-11-23 11:30"), &cal),
            "pausing twice changes nothing"
        );
        assert_eq!(c.elapsed, Duration::hours(1));
        assert!(
            c.deadlines(&cal).is_empty(),
            "a paused clock has no deadlines"
        );
        let v = c.view(sh("2026-11-24 15:00"), &cal);
        assert_eq!(
            (v.elapsed_secs, v.remaining_secs, v.due_at),
            (3600, 3 * 3600, None)
        );
        // Back next day 16:00: 3 h left = 2 h today + 1 h Wednesday.
        assert!(c.resume(sh("2026-11-24 16:00")));
        assert_eq!(
            due(&c, &cal).last().map(|d| d.1),
            Some(sh("2026-11-25 10:00"))
        );
        let v = c.view(sh("2026-11-24 17:00"), &cal);
        assert_eq!(v.elapsed_secs, 2 * 3600);
        assert_eq!(v.due_at, Some(sh("2026-11-25 10:00")));
    }

    #[test]
    fn priority_change_keeps_time_used() {
        let cal = office();
        let mut c = Clock::start(ClockKind::FirstResponse, target(24), sh("2026-11-23 09:00"));
        let v0 = c.version;
        // After 1.5 h the ticket is raised to urgent (2 h): 0.5 h left, 75 % already passed.
        assert!(c.retarget(target(2), sh("2026-11-23 10:30"), &cal));
        assert!(c.version > v0);
        assert_eq!(
            due(&c, &cal),
            vec![
                ("warn0.75".into(), sh("2026-11-23 10:30")),
                ("warn0.9".into(), sh("2026-11-23 10:48")),
                ("breach".into(), sh("2026-11-23 11:00")),
            ]
        );
        // Lowered back after 3 h used: no warning is repeated once announced.
        c.fired(&Deadline {
            event: DeadlineEvent::Warning { fraction: 0.9 },
            due_at: sh("2026-11-23 10:48"),
        });
        assert!(c.retarget(target(24), sh("2026-11-23 10:50"), &cal));
        let d = due(&c, &cal);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, "breach");
    }

    #[test]
    fn raised_past_the_target_breaches_at_once_without_warnings() {
        let cal = office();
        let mut c = Clock::start(ClockKind::FirstResponse, target(24), sh("2026-11-23 09:00"));
        c.retarget(target(2), sh("2026-11-23 14:00"), &cal);
        assert_eq!(
            due(&c, &cal),
            vec![("breach".into(), sh("2026-11-23 14:00"))]
        );
    }

    #[test]
    fn breach_fires_once_per_cycle_and_restart_begins_a_new_one() {
        let cal = office();
        let mut c = Clock::start(ClockKind::Resolution, target(2), sh("2026-11-23 09:00"));
        c.fired(&Deadline {
            event: DeadlineEvent::Breach,
            due_at: sh("2026-11-23 11:00"),
        });
        assert!(c.deadlines(&cal).is_empty());
        assert!(c.stop(sh("2026-11-23 15:00"), &cal));
        let v = c.view(sh("2026-11-23 16:00"), &cal);
        assert_eq!(v.met, Some(false));
        assert_eq!(v.elapsed_secs, 6 * 3600);
        // Reopened on a make-up Saturday.
        c.restart(target(2), sh("2026-10-10 10:00"));
        assert_eq!(c.cycle, 2);
        assert_eq!(c.breached_at, None);
        assert_eq!(
            due(&c, &cal).last().map(|d| d.1),
            Some(sh("2026-10-10 12:00"))
        );
    }

    #[test]
    fn stop_within_target_is_met_and_has_no_deadlines() {
        let cal = office();
        let mut c = Clock::start(ClockKind::FirstResponse, target(2), sh("2026-11-23 17:30"));
        assert!(c.stop(sh("2026-11-24 09:30"), &cal));
        assert!(!c.stop(sh("2026-11-24 10:30"), &cal));
        assert!(c.deadlines(&cal).is_empty());
        let v = c.view(sh("2026-11-25 09:00"), &cal);
        assert_eq!((v.met, v.elapsed_secs), (Some(true), 3600));
    }

    #[test]
    fn holiday_week_is_not_counted() {
        let cal = office();
        let c = Clock::start(ClockKind::FirstResponse, target(2), sh("2026-09-30 17:00"));
        assert_eq!(
            due(&c, &cal).last().map(|d| d.1),
            Some(sh("2026-10-08 10:00"))
        );
    }

    #[test]
    fn rerouting_measures_the_rest_in_the_new_calendar() {
        let office = office();
        let always = Calendar::always_open(chrono_tz::Asia::Shanghai);
        // Started Friday 17:00 on the office calendar, moved to a 24x7 desk at 20:00: 1 h used.
        let mut c = Clock::start(ClockKind::FirstResponse, target(2), sh("2026-11-27 17:00"));
        c.retarget(target(2), sh("2026-11-27 20:00"), &office);
        assert_eq!(c.elapsed, Duration::hours(1));
        assert_eq!(
            due(&c, &always).last().map(|d| d.1),
            Some(sh("2026-11-27 21:00"))
        );
    }
}
