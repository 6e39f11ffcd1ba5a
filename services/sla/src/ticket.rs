//! All clocks of one ticket and how ticket lifecycle events drive them.
//!
//! | event                | clocks                                                             |
//! |----------------------|--------------------------------------------------------------------|
//! | created              | start registration, first response, resolution (from receipt)      |
//! | classified / routed  | stop registration; re-target the rest for the new priority/department |
//! | replied              | stop first response; (re)start proactive contact                   |
//! | waiting on customer  | pause first response, proactive contact, resolution                |
//! | customer back        | resume them                                                        |
//! | priority changed     | re-target every clock that is not stopped                          |
//! | resolved             | stop everything; start the survey clock                            |
//! | reopened             | restart resolution and proactive contact (new cycle); drop survey  |
//! | survey done          | stop the survey clock                                              |
//! | archived             | stop every clock                                                   |
//!
//! Pure: the worker loads a `TicketSla`, applies an event, persists the clocks listed as changed and
//! replans their timers with [`TicketSla::plan`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::clock::{Clock, ClockStatus, Deadline, DeadlineEvent};
use crate::policy::{ClockKind, Priority, SlaRules, TicketAttrs};

/// A lifecycle fact about a ticket, already decoded from whatever message carried it.
#[derive(Debug, Clone, PartialEq)]
pub enum TicketEvent {
    /// `at` is the submit time (docs/domain.md "Metrics" counts first response and resolution from submit);
    /// registration counts from receipt, `received_at`.
    Created {
        at: DateTime<Utc>,
        received_at: DateTime<Utc>,
        attrs: TicketAttrs,
    },
    /// Classification or routing decided (or corrected) the ticket's attributes.
    Classified {
        at: DateTime<Utc>,
        attrs: TicketAttrs,
        /// Routed to a department (registration done); false while it waits for review.
        registered: bool,
    },
    /// An agent replied to / contacted the customer.
    Replied {
        at: DateTime<Utc>,
    },
    WaitingOnCustomer {
        at: DateTime<Utc>,
    },
    CustomerBack {
        at: DateTime<Utc>,
    },
    PriorityChanged {
        at: DateTime<Utc>,
        priority: Priority,
    },
    Resolved {
        at: DateTime<Utc>,
    },
    Reopened {
        at: DateTime<Utc>,
    },
    SurveyDone {
        at: DateTime<Utc>,
    },
    /// Archived (step 8): nothing is owed any more.
    Archived {
        at: DateTime<Utc>,
    },
}

impl TicketEvent {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            TicketEvent::Created { at, .. }
            | TicketEvent::Classified { at, .. }
            | TicketEvent::Replied { at }
            | TicketEvent::WaitingOnCustomer { at }
            | TicketEvent::CustomerBack { at }
            | TicketEvent::PriorityChanged { at, .. }
            | TicketEvent::Resolved { at }
            | TicketEvent::Reopened { at }
            | TicketEvent::SurveyDone { at }
            | TicketEvent::Archived { at } => *at,
        }
    }
}

/// What a clock did because of an event, for the ticket's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockChange {
    Started,
    Paused,
    Resumed,
    Retargeted,
    Stopped,
    Restarted,
}

impl ClockChange {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockChange::Started => "started",
            ClockChange::Paused => "paused",
            ClockChange::Resumed => "resumed",
            ClockChange::Retargeted => "retargeted",
            ClockChange::Stopped => "stopped",
            ClockChange::Restarted => "restarted",
        }
    }
}

/// A deadline after quiet-hours deferral: what the worker stores as a timer row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannedTimer {
    pub kind: ClockKind,
    pub version: i32,
    pub deadline: Deadline,
}

/// Where a deadline stands in its clock's plan: warnings by the fraction used, then the breach.
pub fn deadline_rank(event: &DeadlineEvent) -> f64 {
    match event {
        DeadlineEvent::Warning { fraction } => *fraction,
        DeadlineEvent::Breach => f64::INFINITY,
    }
}

/// The SLA view of one ticket.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TicketSla {
    pub attrs: TicketAttrs,
    pub clocks: BTreeMap<ClockKind, Clock>,
}

/// Clocks a wait on the customer suspends; registration is internal work and the survey clock only
/// exists after resolution.
const PAUSABLE: [ClockKind; 3] = [
    ClockKind::FirstResponse,
    ClockKind::ProactiveContact,
    ClockKind::Resolution,
];

impl TicketSla {
    /// Applies one event; returns the clocks that changed, in order.
    pub fn apply(
        &mut self,
        event: &TicketEvent,
        rules: &SlaRules,
    ) -> Vec<(ClockKind, ClockChange)> {
        let mut changes = Vec::new();
        match event {
            TicketEvent::Created {
                at,
                received_at,
                attrs,
            } => {
                if !self.clocks.is_empty() {
                    // Already known: a redelivery, or the ticket was bootstrapped first.
                    return changes;
                }
                self.attrs = attrs.clone();
                for kind in [
                    ClockKind::Registration,
                    ClockKind::FirstResponse,
                    ClockKind::Resolution,
                ] {
                    let from = if kind == ClockKind::Registration {
                        *received_at
                    } else {
                        *at
                    };
                    self.start(kind, from, rules);
                    changes.push((kind, ClockChange::Started));
                }
            }
            TicketEvent::Classified {
                at,
                attrs,
                registered,
            } => {
                if *registered {
                    self.stop(ClockKind::Registration, *at, rules, &mut changes);
                }
                // The customer type is known from the submission only; a classification does not
                // carry it, and an override for it must keep applying after the ticket is routed.
                let mut next = attrs.clone();
                if next.customer_type.is_none() {
                    next.customer_type = self.attrs.customer_type.clone();
                }
                let old = std::mem::replace(&mut self.attrs, next);
                self.retarget_all(&old, *at, rules, &mut changes);
            }
            TicketEvent::Replied { at } => {
                self.stop(ClockKind::FirstResponse, *at, rules, &mut changes);
                let handling = self
                    .clocks
                    .get(&ClockKind::Resolution)
                    .is_some_and(|c| c.status != ClockStatus::Stopped);
                if handling {
                    self.start_or_restart(ClockKind::ProactiveContact, *at, rules, &mut changes);
                    // A reply while waiting on the customer keeps the wait: the new contact clock
                    // only counts once the customer is back.
                    if self.clocks.get(&ClockKind::Resolution).map(|c| c.status)
                        == Some(ClockStatus::Paused)
                    {
                        self.pause(ClockKind::ProactiveContact, *at, rules, &mut changes);
                    }
                }
            }
            TicketEvent::WaitingOnCustomer { at } => {
                for kind in PAUSABLE {
                    self.pause(kind, *at, rules, &mut changes);
                }
            }
            TicketEvent::CustomerBack { at } => {
                for kind in PAUSABLE {
                    if let Some(c) = self.clocks.get_mut(&kind) {
                        if c.resume(*at) {
                            changes.push((kind, ClockChange::Resumed));
                        }
                    }
                }
            }
            TicketEvent::PriorityChanged { at, priority } => {
                let old = self.attrs.clone();
                self.attrs.priority = Some(*priority);
                self.retarget_all(&old, *at, rules, &mut changes);
            }
            TicketEvent::Resolved { at } => {
                for kind in [
                    ClockKind::Registration,
                    ClockKind::FirstResponse,
                    ClockKind::ProactiveContact,
                    ClockKind::Resolution,
                ] {
                    self.stop(kind, *at, rules, &mut changes);
                }
                self.start_survey(*at, rules, &mut changes);
            }
            TicketEvent::Reopened { at } => {
                self.stop(ClockKind::Survey, *at, rules, &mut changes);
                self.start_or_restart(ClockKind::Resolution, *at, rules, &mut changes);
                self.start_or_restart(ClockKind::ProactiveContact, *at, rules, &mut changes);
            }
            TicketEvent::SurveyDone { at } => {
                if !self.clocks.contains_key(&ClockKind::Survey) {
                    // The survey worker's event overtook the resolution it follows (they come
                    // through different consumers): keep the fact as a survey clock that is already
                    // stopped, which the resolution then finds (see `start_survey`).
                    self.start(ClockKind::Survey, *at, rules);
                }
                self.stop(ClockKind::Survey, *at, rules, &mut changes);
            }
            TicketEvent::Archived { at } => {
                for kind in ClockKind::ALL {
                    self.stop(kind, *at, rules, &mut changes);
                }
            }
        }
        changes
    }

    fn start(&mut self, kind: ClockKind, at: DateTime<Utc>, rules: &SlaRules) {
        let target = rules.policy.target(kind, &self.attrs);
        self.clocks.insert(kind, Clock::start(kind, target, at));
    }

    /// Starts the survey clock of a resolution at `at`, unless its survey was already done: a
    /// survey clock stopped at or after `at` can only be the one `SurveyDone` left when it overtook
    /// this resolution. Then the clock is recorded as it ran, from `at` to the survey, and stays
    /// stopped.
    fn start_survey(
        &mut self,
        at: DateTime<Utc>,
        rules: &SlaRules,
        changes: &mut Vec<(ClockKind, ClockChange)>,
    ) {
        let done = self.clocks.get(&ClockKind::Survey).and_then(|c| {
            let done = c
                .stopped_at
                .filter(|d| c.status == ClockStatus::Stopped && *d >= at)?;
            Some((done, c.cycle, c.version))
        });
        let Some((done, cycle, version)) = done else {
            self.start_or_restart(ClockKind::Survey, at, rules, changes);
            return;
        };
        let mut clock = Clock::start(
            ClockKind::Survey,
            rules.policy.target(ClockKind::Survey, &self.attrs),
            at,
        );
        clock.cycle = cycle;
        clock.version = version;
        clock.stop(
            done,
            rules.measure(clock.basis, self.attrs.department.as_deref()),
        );
        self.clocks.insert(ClockKind::Survey, clock);
        changes.push((ClockKind::Survey, ClockChange::Stopped));
    }

    fn start_or_restart(
        &mut self,
        kind: ClockKind,
        at: DateTime<Utc>,
        rules: &SlaRules,
        changes: &mut Vec<(ClockKind, ClockChange)>,
    ) {
        let target = rules.policy.target(kind, &self.attrs);
        match self.clocks.get_mut(&kind) {
            Some(c) => {
                c.restart(target, at);
                changes.push((kind, ClockChange::Restarted));
            }
            None => {
                self.clocks.insert(kind, Clock::start(kind, target, at));
                changes.push((kind, ClockChange::Started));
            }
        }
    }

    fn stop(
        &mut self,
        kind: ClockKind,
        at: DateTime<Utc>,
        rules: &SlaRules,
        changes: &mut Vec<(ClockKind, ClockChange)>,
    ) {
        let dept = self.attrs.department.clone();
        if let Some(c) = self.clocks.get_mut(&kind) {
            if c.stop(at, rules.measure(c.basis, dept.as_deref())) {
                changes.push((kind, ClockChange::Stopped));
            }
        }
    }

    fn pause(
        &mut self,
        kind: ClockKind,
        at: DateTime<Utc>,
        rules: &SlaRules,
        changes: &mut Vec<(ClockKind, ClockChange)>,
    ) {
        let dept = self.attrs.department.clone();
        if let Some(c) = self.clocks.get_mut(&kind) {
            if c.pause(at, rules.measure(c.basis, dept.as_deref())) {
                changes.push((kind, ClockChange::Paused));
            }
        }
    }

    /// Re-targets every live clock after the attributes changed from `old` to `self.attrs`.
    /// Time used so far is measured with the old department's calendar. Clocks whose target and
    /// calendar did not change are left alone (no replanning, no timeline noise).
    fn retarget_all(
        &mut self,
        old: &TicketAttrs,
        at: DateTime<Utc>,
        rules: &SlaRules,
        changes: &mut Vec<(ClockKind, ClockChange)>,
    ) {
        let dept_changed = old.department != self.attrs.department;
        for (kind, c) in self.clocks.iter_mut() {
            if c.status == ClockStatus::Stopped {
                continue;
            }
            let target = rules.policy.target(*kind, &self.attrs);
            let same = target.target == c.target
                && target.basis == c.basis
                && target.warning_fractions == c.warning_fractions;
            if same && !dept_changed {
                continue;
            }
            let old_measure = rules.measure(c.basis, old.department.as_deref());
            if c.retarget(target, at, old_measure) {
                changes.push((*kind, ClockChange::Retargeted));
            }
        }
    }

    /// Timers to store for one clock: its deadlines, with warnings (addressed to people) held
    /// until the department's notify hours. A warning that would only go out at or after the
    /// breach is dropped: the breach escalation says more.
    pub fn plan(&self, kind: ClockKind, rules: &SlaRules) -> Vec<PlannedTimer> {
        let Some(c) = self.clocks.get(&kind) else {
            return Vec::new();
        };
        let dept = rules.department(self.attrs.department.as_deref());
        let deadlines = c.deadlines(rules.measure(c.basis, self.attrs.department.as_deref()));
        let breach_at = deadlines
            .iter()
            .find(|d| d.event == DeadlineEvent::Breach)
            .map(|d| d.due_at);
        deadlines
            .into_iter()
            .filter_map(|mut d| {
                if let DeadlineEvent::Warning { .. } = d.event {
                    d.due_at = dept.notify_calendar.next_business_instant(d.due_at);
                    if breach_at.is_some_and(|b| d.due_at >= b) {
                        return None;
                    }
                }
                Some(PlannedTimer {
                    kind,
                    version: c.version,
                    deadline: d,
                })
            })
            .collect()
    }

    /// The one timer stored for a clock: the first deadline of its plan that comes after `after` (the
    /// [`deadline_rank`] of the timer that just fired or was found overtaken; `None` for a new plan).
    ///
    /// A clock keeps one pending timer, not its whole plan (two warnings and the breach): every plan
    /// and every re-plan (each classification, priority change, pause) then writes and supersedes a
    /// third of the rows, and the firing loop plans the next deadline in the transaction that fires
    /// the current one. Ranks only grow along a clock's plan, so a chain always ends at the breach.
    pub fn next_timer(
        &self,
        kind: ClockKind,
        rules: &SlaRules,
        after: Option<f64>,
    ) -> Option<PlannedTimer> {
        self.plan(kind, rules)
            .into_iter()
            .filter(|p| after.is_none_or(|a| deadline_rank(&p.deadline.event) > a))
            .min_by(|a, b| {
                deadline_rank(&a.deadline.event).total_cmp(&deadline_rank(&b.deadline.event))
            })
    }

    /// When a breach escalation to the supervisor may go out: at once in notify hours, else at the
    /// start of the next.
    pub fn escalation_at(&self, breach_fired_at: DateTime<Utc>, rules: &SlaRules) -> DateTime<Utc> {
        rules
            .department(self.attrs.department.as_deref())
            .notify_calendar
            .next_business_instant(breach_fired_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDateTime, TimeZone};

    const RULES: &str = r#"
        default_calendar = "office"
        [departments.cs]
        calendar = "desk"
        notify_calendar = "office"
        supervisor = "boss"
        [departments.product]
        calendar = "office"
        [calendars.office]
        time_zone = "Asia/Shanghai"
        [calendars.office.weekly]
        mon = ["09:00-18:00"]
        tue = ["09:00-18:00"]
        wed = ["09:00-18:00"]
        thu = ["09:00-18:00"]
        fri = ["09:00-18:00"]
        [calendars.desk]
        always_open = true
    "#;

    fn rules() -> SlaRules {
        SlaRules::from_toml(RULES).expect("valid")
    }

    fn sh(s: &str) -> DateTime<Utc> {
        let ndt = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("literal");
        chrono_tz::Asia::Shanghai
            .from_local_datetime(&ndt)
            .single()
            .expect("exists")
            .with_timezone(&Utc)
    }

    fn attrs(p: Priority, dept: Option<&str>) -> TicketAttrs {
        TicketAttrs {
            priority: Some(p),
            department: dept.map(str::to_owned),
            ..Default::default()
        }
    }

    /// A ticket created at `local` (Shanghai time), received at once.
    fn created_at(local: &str, attrs: TicketAttrs, r: &SlaRules) -> TicketSla {
        let mut t = TicketSla::default();
        t.apply(
            &TicketEvent::Created {
                at: sh(local),
                received_at: sh(local),
                attrs,
            },
            r,
        );
        t
    }

    fn breach(t: &TicketSla, kind: ClockKind, r: &SlaRules) -> Option<DateTime<Utc>> {
        t.plan(kind, r)
            .into_iter()
            .find(|p| p.deadline.event == DeadlineEvent::Breach)
            .map(|p| p.deadline.due_at)
    }

    #[test]
    fn a_customer_type_override_still_applies_once_the_ticket_is_classified() {
        let r = SlaRules::from_toml(&format!(
            "{RULES}
            [[policy.overrides]]
            customer_type = \"returning\"
            priority = \"urgent\"
            targets = {{ resolution = \"7h\" }}"
        ))
        .expect("valid");
        let mut created = attrs(Priority::Urgent, None);
        created.customer_type = Some("returning".into());
        let mut t = created_at("2026-11-23 10:00", created, &r);
        assert_eq!(t.clocks[&ClockKind::Resolution].target, Duration::hours(7));
        // What the router's classification says: priority, department, category; no customer type.
        t.apply(
            &TicketEvent::Classified {
                at: sh("2026-11-23 10:01"),
                attrs: TicketAttrs {
                    category: Some("technical_fault".into()),
                    ..attrs(Priority::Urgent, Some("product"))
                },
                registered: true,
            },
            &r,
        );
        assert_eq!(t.attrs.customer_type.as_deref(), Some("returning"));
        assert_eq!(t.clocks[&ClockKind::Resolution].target, Duration::hours(7));
    }

    #[test]
    fn a_survey_done_before_its_resolution_is_seen_leaves_no_survey_clock_running() {
        // The sla worker reads ticket events and survey events through different consumers: a
        // survey request sent at once can be applied before the resolution it follows.
        let r = rules();
        let mut t = TicketSla::default();
        t.apply(
            &TicketEvent::Created {
                at: sh("2026-11-23 10:00"),
                received_at: sh("2026-11-23 10:00"),
                attrs: TicketAttrs::default(),
            },
            &r,
        );
        let ch = t.apply(
            &TicketEvent::SurveyDone {
                at: sh("2026-11-23 11:05"),
            },
            &r,
        );
        assert_eq!(ch, vec![(ClockKind::Survey, ClockChange::Stopped)]);
        let ch = t.apply(
            &TicketEvent::Resolved {
                at: sh("2026-11-23 11:00"),
            },
            &r,
        );
        assert!(ch.contains(&(ClockKind::Survey, ClockChange::Stopped)));
        let survey = &t.clocks[&ClockKind::Survey];
        assert_eq!(survey.status, ClockStatus::Stopped);
        assert_eq!(survey.cycle, 1);
        assert_eq!(survey.started_at, sh("2026-11-23 11:00"));
        assert_eq!(survey.stopped_at, Some(sh("2026-11-23 11:05")));
        assert_eq!(survey.elapsed, Duration::minutes(5));
        assert!(t.plan(ClockKind::Survey, &r).is_empty(), "no survey timer");

        // The next resolution (after a reopening) starts a new survey cycle as usual.
        t.apply(
            &TicketEvent::Reopened {
                at: sh("2026-11-23 12:00"),
            },
            &r,
        );
        t.apply(
            &TicketEvent::Resolved {
                at: sh("2026-11-23 13:00"),
            },
            &r,
        );
        let survey = &t.clocks[&ClockKind::Survey];
        assert_eq!(survey.status, ClockStatus::Running);
        assert_eq!(survey.cycle, 2);
        assert!(!t.plan(ClockKind::Survey, &r).is_empty());
    }

    #[test]
    fn full_lifecycle() {
        let r = rules();
        let mut t = TicketSla::default();
        let ch = t.apply(
            &TicketEvent::Created {
                at: sh("2026-11-23 10:00"),
                received_at: sh("2026-11-23 10:00"),
                attrs: TicketAttrs::default(),
            },
            &r,
        );
        assert_eq!(ch.len(), 3);
        assert_eq!(
            breach(&t, ClockKind::Registration, &r),
            Some(sh("2026-11-23 10:30"))
        );
        // Unclassified: general tier, 24 business hours on the default (office) calendar.
        assert_eq!(
            breach(&t, ClockKind::FirstResponse, &r),
            Some(sh("2026-11-25 16:00"))
        );

        // Classified urgent for product after 10 minutes.
        t.apply(
            &TicketEvent::Classified {
                at: sh("2026-11-23 10:10"),
                attrs: attrs(Priority::Urgent, Some("product")),
                registered: true,
            },
            &r,
        );
        assert_eq!(
            t.clocks[&ClockKind::Registration].status,
            ClockStatus::Stopped
        );
        assert_eq!(
            breach(&t, ClockKind::FirstResponse, &r),
            Some(sh("2026-11-23 12:00"))
        );

        t.apply(
            &TicketEvent::Replied {
                at: sh("2026-11-23 11:00"),
            },
            &r,
        );
        assert_eq!(
            t.clocks[&ClockKind::FirstResponse].status,
            ClockStatus::Stopped
        );
        // Proactive contact: urgent 4 h from the reply.
        assert_eq!(
            breach(&t, ClockKind::ProactiveContact, &r),
            Some(sh("2026-11-23 15:00"))
        );

        // Waiting on the customer from 12:00 to next day 12:00 pauses resolution (24 h urgent).
        t.apply(
            &TicketEvent::WaitingOnCustomer {
                at: sh("2026-11-23 12:00"),
            },
            &r,
        );
        assert!(t.plan(ClockKind::Resolution, &r).is_empty());
        assert!(t.plan(ClockKind::ProactiveContact, &r).is_empty());
        t.apply(
            &TicketEvent::CustomerBack {
                at: sh("2026-11-24 12:00"),
            },
            &r,
        );
        // Used 2 h; 22 h left from Tue 12:00: Tue 6 h, Wed 9 h, Thu 7 h → Thu 16:00.
        assert_eq!(
            breach(&t, ClockKind::Resolution, &r),
            Some(sh("2026-11-26 16:00"))
        );

        // Priority lowered to general: resolution 72 h.
        t.apply(
            &TicketEvent::PriorityChanged {
                at: sh("2026-11-24 13:00"),
                priority: Priority::General,
            },
            &r,
        );
        let res = &t.clocks[&ClockKind::Resolution];
        assert_eq!(res.target, Duration::hours(72));
        assert_eq!(res.elapsed, Duration::hours(3));

        t.apply(
            &TicketEvent::Resolved {
                at: sh("2026-11-24 14:00"),
            },
            &r,
        );
        assert!(t
            .clocks
            .values()
            .filter(|c| c.kind != ClockKind::Survey)
            .all(|c| c.status == ClockStatus::Stopped));
        // Survey: 24 wall hours.
        assert_eq!(
            breach(&t, ClockKind::Survey, &r),
            Some(sh("2026-11-25 14:00"))
        );

        t.apply(
            &TicketEvent::Reopened {
                at: sh("2026-11-25 10:00"),
            },
            &r,
        );
        assert_eq!(t.clocks[&ClockKind::Survey].status, ClockStatus::Stopped);
        let res = &t.clocks[&ClockKind::Resolution];
        assert_eq!(
            (res.cycle, res.status, res.elapsed),
            (2, ClockStatus::Running, Duration::zero())
        );
        assert_eq!(
            t.clocks[&ClockKind::ProactiveContact].status,
            ClockStatus::Running
        );
    }

    #[test]
    fn one_timer_per_clock_chains_through_the_plan_to_the_breach() {
        let r = rules();
        let t = created_at("2026-11-23 10:00", attrs(Priority::General, Some("cs")), &r);
        let plan = t.plan(ClockKind::Resolution, &r);
        assert!(plan.len() >= 2, "warnings and the breach: {plan:?}");
        // A new plan stores its first deadline; each fired (or overtaken) one leads to the next.
        let mut after = None;
        let mut chain = Vec::new();
        while let Some(next) = t.next_timer(ClockKind::Resolution, &r, after) {
            after = Some(deadline_rank(&next.deadline.event));
            chain.push(next);
        }
        assert_eq!(chain, plan, "the chain walks the whole plan in order, once");
        assert_eq!(
            chain.last().map(|p| p.deadline.event),
            Some(DeadlineEvent::Breach)
        );
    }

    #[test]
    fn warnings_wait_for_notify_hours_but_breach_does_not() {
        let r = rules();
        // A 24x7 desk (cs) whose people are notified in office hours only.
        let t = created_at("2026-11-23 21:00", attrs(Priority::Urgent, Some("cs")), &r);
        let plan = t.plan(ClockKind::FirstResponse, &r);
        // 75 % at 22:30 and 90 % at 22:48 would wake people; deferred to 09:00 they would come
        // after the 23:00 breach, so they are dropped. The breach fires on time.
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].deadline.event, DeadlineEvent::Breach);
        assert_eq!(plan[0].deadline.due_at, sh("2026-11-23 23:00"));
        assert_eq!(
            t.escalation_at(sh("2026-11-23 23:00"), &r),
            sh("2026-11-24 09:00")
        );
        assert_eq!(
            t.escalation_at(sh("2026-11-24 10:00"), &r),
            sh("2026-11-24 10:00")
        );

        // Resolution (24 h) warnings land in the night and move to the morning.
        let plan = t.plan(ClockKind::Resolution, &r);
        let warn: Vec<_> = plan
            .iter()
            .filter(|p| matches!(p.deadline.event, DeadlineEvent::Warning { .. }))
            .map(|p| p.deadline.due_at)
            .collect();
        // Breach Tue 21:00. 75 % = 18 h → Tue 15:00, in hours; 90 % = 21.6 h → Tue 18:36, after
        // hours, would wait until Wed 09:00, past the breach, so it is dropped.
        assert_eq!(warn, vec![sh("2026-11-24 15:00")]);
    }

    #[test]
    fn rerouting_keeps_used_time_and_redoes_the_plan() {
        let r = rules();
        let mut t = TicketSla::default();
        t.apply(
            &TicketEvent::Created {
                at: sh("2026-11-27 17:00"), // Friday
                received_at: sh("2026-11-27 17:00"),
                attrs: attrs(Priority::Urgent, Some("product")),
            },
            &r,
        );
        let v1 = t.clocks[&ClockKind::FirstResponse].version;
        // Corrected to customer service (24x7) at 20:00: 1 h used on office hours, 1 h left.
        let ch = t.apply(
            &TicketEvent::Classified {
                at: sh("2026-11-27 20:00"),
                attrs: attrs(Priority::Urgent, Some("cs")),
                registered: true,
            },
            &r,
        );
        assert!(ch.contains(&(ClockKind::FirstResponse, ClockChange::Retargeted)));
        assert!(t.clocks[&ClockKind::FirstResponse].version > v1);
        assert_eq!(
            breach(&t, ClockKind::FirstResponse, &r),
            Some(sh("2026-11-27 21:00"))
        );
    }

    #[test]
    fn redelivered_events_change_nothing_twice() {
        let r = rules();
        let mut t = TicketSla::default();
        let created = TicketEvent::Created {
            at: sh("2026-11-23 10:00"),
            received_at: sh("2026-11-23 10:01"),
            attrs: attrs(Priority::General, None),
        };
        t.apply(&created, &r);
        let snapshot = t.clone();
        assert!(t.apply(&created, &r).is_empty());
        assert_eq!(t, snapshot);
        let wait = TicketEvent::WaitingOnCustomer {
            at: sh("2026-11-23 11:00"),
        };
        t.apply(&wait, &r);
        let snapshot = t.clone();
        assert!(t.apply(&wait, &r).is_empty());
        assert_eq!(t, snapshot);
        let class = TicketEvent::Classified {
            at: sh("2026-11-23 11:00"),
            attrs: attrs(Priority::General, None),
            registered: false,
        };
        t.apply(&class, &r);
        let snapshot = t.clone();
        assert!(t.apply(&class, &r).is_empty());
        assert_eq!(t, snapshot);
    }
}
