//! The firing loop: claims due timers and fires each exactly once, whichever replica gets it.
//!
//! One pass is one transaction: claim up to `batch` due timers (`FOR UPDATE SKIP LOCKED`, so replicas
//! split the work and never wait on each other), lock their tickets, check each timer still matches
//! its clock's plan (version), write the notices to the outbox, the timeline entries and the clocks'
//! new state, mark the timers fired, commit. A replica killed before the commit leaves its timers
//! pending for the next pass of any replica; a timer that came due while every replica was down is
//! simply due, and fires on the first pass after recovery.
//!
//! Between passes the loop sleeps until the earliest of: the next due time, a wake from this
//! replica's event handler when it planned a timer due before the loop's next look (a hint), and the
//! poll interval. It never sleeps less than `coalesce`, so a steady stream of due timers is fired in
//! batches (one commit each) instead of one commit per timer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use shared::messages::sla::{SlaAlert, SlaClock, SlaNotice};
use shared::messages::SCHEMA_VERSION;
use shared::outbox::OutboxMessage;
use shared::subjects::Subjects;
use shared::timeline::TimelineEntry;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::clock::{Clock, ClockStatus, Deadline, DeadlineEvent};
use crate::events::ACTOR;
use crate::policy::ClockKind;
use crate::store::{self, NewTimer, TicketRecord, TimerEvent};
use crate::ticket::deadline_rank;

#[derive(Debug, thiserror::Error)]
pub enum FireError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Outbox(#[from] shared::outbox::OutboxError),
}

/// Called after each committed pass with the due instants of the timers it fired and the commit
/// instant; the bench measures lateness with it.
pub type FireObserver = Arc<dyn Fn(&[DateTime<Utc>], DateTime<Utc>) + Send + Sync>;

/// Tuning of the firing loop.
#[derive(Debug, Clone)]
pub struct FiringSettings {
    /// Timers claimed per transaction.
    pub batch: i64,
    /// Longest sleep without looking (notifications may be lost).
    pub poll: StdDuration,
    /// Shortest sleep between passes that found nothing more due.
    pub coalesce: StdDuration,
}

impl Default for FiringSettings {
    fn default() -> Self {
        FiringSettings {
            batch: 500,
            poll: StdDuration::from_secs(1),
            coalesce: StdDuration::from_millis(20),
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Timers claimed (fired or found stale).
    pub claimed: usize,
    /// Notices written to the outbox.
    pub notices: usize,
}

/// Fires due timers. Cheap to clone; every replica runs one.
#[derive(Clone)]
pub struct Firer {
    pub pool: PgPool,
    pub rules: crate::live::LiveRules,
    pub subjects: Subjects,
    pub settings: FiringSettings,
    pub observer: Option<FireObserver>,
    /// Woken when this replica's event handler planned a timer due within the poll interval (sooner
    /// than the loop may mean to sleep); other replicas' timers are found by polling.
    pub planned: Arc<Notify>,
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: i64,
    ticket_id: Uuid,
    clock: String,
    version: i32,
    event: String,
    fraction: Option<f64>,
    due_at: DateTime<Utc>,
}

impl Firer {
    /// One pass: claim, fire, commit. See the module doc.
    pub async fn fire_once(&self) -> Result<Pass, FireError> {
        let mut tx = self.pool.begin().await?;
        let claimed: Vec<Claimed> = sqlx::query_as(
            "update sla_timers set fired_at = clock_timestamp(), outcome = 'fired'
             where id in (
                 select id from sla_timers
                 where fired_at is null and due_at <= now()
                 order by due_at
                 limit $1
                 for update skip locked)
             returning id, ticket_id, clock, version, event, fraction, due_at",
        )
        // `now()` (the transaction's start, stable) rather than `clock_timestamp()` (volatile), so
        // the due bound is an index condition and the scan stops at the first timer not yet due
        // instead of filtering every pending row. Planned afresh with the actual limit every time:
        // a cached generic plan does not know the limit is small and scans the whole table.
        .persistent(false)
        .bind(self.settings.batch)
        .fetch_all(&mut *tx)
        .await?;
        if claimed.is_empty() {
            return Ok(Pass {
                claimed: 0,
                notices: 0,
            });
        }
        let mut claimed = claimed;
        claimed.sort_by_key(|c| (c.due_at, c.id));
        let ids: Vec<Uuid> = claimed.iter().map(|c| c.ticket_id).collect();
        store::lock_tickets(&mut tx, &ids).await?;
        let mut tickets = store::load(&mut tx, &ids).await?;

        let now = Utc::now();
        let mut notices = Vec::new();
        let mut timeline = Vec::new();
        let mut stale = Vec::new();
        // Escalations of breaches fired outside notify hours, and each fired clock's next deadline.
        let mut planned = Vec::new();
        let mut changed: HashMap<(Uuid, ClockKind), ()> = HashMap::new();
        for c in &claimed {
            let kind = ClockKind::parse(&c.clock);
            let event = TimerEvent::parse(&c.event, c.fraction);
            let (Some(kind), Some(event), Some(ticket)) =
                (kind, event, tickets.get_mut(&c.ticket_id))
            else {
                stale.push(c.id);
                continue;
            };
            match self.fire(c, kind, event, ticket, now, &mut planned) {
                Some((fired, entries)) => {
                    notices.extend(fired);
                    timeline.extend(entries);
                    if event != TimerEvent::Escalation {
                        changed.insert((c.ticket_id, kind), ());
                    }
                }
                None => stale.push(c.id),
            }
            // The clock's next deadline (see `TicketSla::next_timer`), fired or not: a warning found
            // overtaken still leads on to the breach. A timer of an older plan leads nowhere; the
            // re-plan that outdated it stored the new plan's first timer.
            let Some(deadline) = event.deadline() else {
                continue;
            };
            if ticket.sla.clocks.get(&kind).map(|k| k.version) == Some(c.version) {
                planned.extend(
                    ticket
                        .sla
                        .next_timer(kind, &self.rules.current(), Some(deadline_rank(&deadline)))
                        .map(|p| NewTimer::planned(c.ticket_id, &p)),
                );
            }
        }

        let mut outbox = Vec::with_capacity(notices.len());
        for n in &notices {
            outbox.push(OutboxMessage::json(
                self.subjects.subject(&n.subject_suffix()),
                n,
            )?);
        }
        let clocks: Vec<_> = changed
            .keys()
            .filter_map(|(id, kind)| {
                let t = tickets.get(id)?;
                let c = t.sla.clocks.get(kind)?;
                Some((
                    *id,
                    c,
                    store::projected_due(&t.sla, c, &self.rules.current()),
                ))
            })
            .collect();
        store::save_clocks(&mut tx, &clocks).await?;
        store::insert_timers(&mut tx, &planned).await?;
        if !stale.is_empty() {
            sqlx::query("update sla_timers set outcome = 'stale' where id = any($1)")
                .bind(&stale)
                .execute(&mut *tx)
                .await?;
        }
        shared::outbox::enqueue(&mut tx, &outbox).await?;
        shared::timeline::append(&mut tx, &timeline).await?;
        tx.commit().await?;

        let committed = Utc::now();
        let due: Vec<DateTime<Utc>> = claimed.iter().map(|c| c.due_at).collect();
        for d in &due {
            let late = (committed - *d).num_microseconds().unwrap_or(0) as f64 / 1e6;
            metrics::histogram!("loopdesk_sla_firing_lateness_seconds").record(late.max(0.0));
        }
        metrics::counter!("loopdesk_sla_timers_fired_total").increment(notices.len() as u64);
        metrics::counter!("loopdesk_sla_timers_stale_total").increment(stale.len() as u64);
        if let Some(observe) = &self.observer {
            observe(&due, committed);
        }
        Ok(Pass {
            claimed: claimed.len(),
            notices: notices.len(),
        })
    }

    /// Fires one claimed timer against its ticket; `None` when it is stale. A breach fired inside
    /// the department's notify hours carries its escalation at once; outside them the escalation
    /// becomes a timer at the start of the next notify hours.
    fn fire(
        &self,
        c: &Claimed,
        kind: ClockKind,
        event: TimerEvent,
        ticket: &mut TicketRecord,
        now: DateTime<Utc>,
        escalations: &mut Vec<NewTimer>,
    ) -> Option<(Vec<SlaNotice>, Vec<TimelineEntry>)> {
        let department = ticket.sla.attrs.department.clone();
        let rules = self.rules.current();
        let dept = rules.department(department.as_deref());
        let ticket_no = ticket.ticket_no.clone();
        let priority = ticket
            .sla
            .attrs
            .priority
            .and_then(|p| shared::messages::feedback::Priority::parse(p.as_str()));
        let notice = |alert: SlaAlert, deadline_at: DateTime<Utc>, clock: &Clock| SlaNotice {
            schema_version: SCHEMA_VERSION,
            event_id: Uuid::now_v7(),
            ticket_id: c.ticket_id,
            ticket_no: ticket_no.clone(),
            department: department
                .clone()
                .unwrap_or_else(|| "unassigned".to_owned()),
            priority,
            clock: sla_clock(kind),
            cycle: clock.cycle,
            target_secs: clock.target.num_seconds(),
            deadline_at,
            occurred_at: now,
            alert,
        };
        let entry = |n: &SlaNotice| TimelineEntry {
            ticket_id: c.ticket_id,
            kind: format!("sla_{}", n.alert.kind()),
            actor: ACTOR.to_owned(),
            at: now,
            data: serde_json::json!({
                "clock": kind.as_str(),
                "cycle": n.cycle,
                "deadline_at": n.deadline_at,
                "due_at": c.due_at,
                "alert": &n.alert,
                "event_id": n.event_id,
                "supervisor": dept.supervisor,
            }),
        };
        let projected = {
            let clock = ticket.sla.clocks.get(&kind)?;
            store::projected_due(&ticket.sla, clock, &self.rules.current())
        };
        let escalate_at = ticket.sla.escalation_at(now, &self.rules.current());
        let clock = ticket.sla.clocks.get_mut(&kind)?;
        if event == TimerEvent::Escalation {
            // Not version-checked: the breach it reports happened whatever the clock did since.
            let breached_at = clock.breached_at.unwrap_or(c.due_at);
            let n = notice(
                SlaAlert::Escalated {
                    supervisor: dept.supervisor.clone(),
                    breached_at,
                },
                breached_at,
                clock,
            );
            let e = entry(&n);
            return Some((vec![n], vec![e]));
        }
        if clock.version != c.version || clock.status != ClockStatus::Running {
            return None;
        }
        let rules = self.rules.current();
        let measure = rules.measure(clock.basis, department.as_deref());
        let deadline_at = projected.unwrap_or(c.due_at);
        let alert = match event {
            TimerEvent::Warning(fraction) => {
                // Already announced, or overtaken: the breach is due too (a catch-up after
                // downtime, or a clock planned late), so the warning would only be noise.
                let overtaken = projected.is_some_and(|due| due <= now);
                if clock.warned_fraction >= fraction || clock.breached_at.is_some() || overtaken {
                    return None;
                }
                clock.fired(&Deadline {
                    event: DeadlineEvent::Warning { fraction },
                    due_at: c.due_at,
                });
                SlaAlert::Warning {
                    fraction,
                    elapsed_secs: clock.elapsed_at(c.due_at.min(now), measure).num_seconds(),
                }
            }
            TimerEvent::Breach => {
                if clock.breached_at.is_some() {
                    return None;
                }
                clock.fired(&Deadline {
                    event: DeadlineEvent::Breach,
                    due_at: c.due_at,
                });
                SlaAlert::Breached
            }
            TimerEvent::Escalation => return None,
        };
        let n = notice(alert, deadline_at, clock);
        let mut entries = vec![entry(&n)];
        let mut out = vec![n];
        if event == TimerEvent::Breach {
            if escalate_at <= now {
                let n = notice(
                    SlaAlert::Escalated {
                        supervisor: dept.supervisor.clone(),
                        breached_at: c.due_at,
                    },
                    c.due_at,
                    clock,
                );
                entries.push(entry(&n));
                out.push(n);
            } else {
                escalations.push(NewTimer {
                    ticket_id: c.ticket_id,
                    clock: kind,
                    version: clock.version,
                    event: TimerEvent::Escalation,
                    due_at: escalate_at,
                });
            }
        }
        Some((out, entries))
    }

    /// Seconds until the earliest pending timer (negative when one is overdue), `None` when none.
    pub async fn next_due_in(&self) -> Result<Option<f64>, sqlx::Error> {
        sqlx::query_scalar(
            "select extract(epoch from (min(due_at) - clock_timestamp()))::float8
             from sla_timers where fired_at is null",
        )
        .fetch_one(&self.pool)
        .await
    }

    /// Runs passes until `shutdown`; a pass in progress is finished (committed) first.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failures: u32 = 0;
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let wait = match self.fire_once().await {
                Ok(pass) if pass.claimed as i64 >= self.settings.batch => {
                    failures = 0;
                    continue; // more may be due right now
                }
                Ok(_) => {
                    failures = 0;
                    match self.next_due_in().await {
                        Ok(Some(secs)) => StdDuration::from_secs_f64(secs.max(0.0)),
                        Ok(None) => self.settings.poll,
                        Err(e) => {
                            tracing::warn!(error = %e, "sla next-due query failed");
                            self.settings.poll
                        }
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, failures, "sla firing pass failed; will retry");
                    StdDuration::from_millis(100 * 2u64.pow(failures.min(6)))
                }
            };
            let wait = wait.clamp(self.settings.coalesce, self.settings.poll);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
                _ = self.planned.notified() => {
                    // New timers were planned; they may be due sooner than we meant to sleep.
                    tokio::time::sleep(self.settings.coalesce).await;
                }
            }
        }
    }
}

/// The message-schema name of a clock kind.
pub fn sla_clock(kind: ClockKind) -> SlaClock {
    match kind {
        ClockKind::Registration => SlaClock::Registration,
        ClockKind::FirstResponse => SlaClock::FirstResponse,
        ClockKind::ProactiveContact => SlaClock::ProactiveContact,
        ClockKind::Resolution => SlaClock::Resolution,
        ClockKind::Survey => SlaClock::Survey,
    }
}
