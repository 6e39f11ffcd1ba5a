//! Consuming ticket events: decode, then apply a whole batch to the tickets' clocks in one
//! transaction (idempotency record, clock rows, replanned timers, timeline), then ack.
//!
//! A creation that comes alone only records the ticket: its clocks start with the ticket's next event
//! (normally the classification), or after `start_within` (see [`TicketEventHandler::start_overdue`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use shared::consumer::{BatchError, BatchHandler, Delivery, Outcome};
use shared::messages::lifecycle::{LifecycleChange, TicketLifecycleEvent};
use shared::messages::router::TicketClassified;
use shared::messages::survey::{SurveyAnswered, SurveyExpired, SurveyRequest};
use shared::messages::ticket::TicketCreated;
use shared::messages::Versioned;
use shared::subjects::Subjects;
use shared::timeline::TimelineEntry;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::policy::{ClockKind, Priority, SlaRules, TicketAttrs};
use crate::store::{self, DeferredStart, NewTimer, PendingStart, TicketRecord};
use crate::ticket::{ClockChange, TicketEvent, TicketSla};

/// Idempotency-record consumer name and timeline actor.
pub const CONSUMER: &str = "sla";
pub const ACTOR: &str = "worker:sla";

/// A message turned into what the SLA worker needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Idempotency key: the event id, or `created:{ticket}` for ticket creation.
    pub key: String,
    pub ticket_id: Uuid,
    pub ticket_no: Option<String>,
    /// Department and priority the message reports, used to fill in what the worker does not know.
    pub hint: TicketAttrs,
    pub event: TicketEvent,
}

/// What to do with one delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Apply(Box<Decoded>),
    /// Not an event the SLA cares about (e.g. `ticket.assigned`): ack.
    Ignore,
    /// Unreadable or of an unknown schema version: dead-letter with this reason.
    Poison(String),
}

fn priority(p: Option<shared::messages::feedback::Priority>) -> Option<Priority> {
    p.and_then(|p| Priority::parse(p.as_str()))
}

/// Serde's name of an enum value (`"new"`), for codes kept as text.
fn code<T: serde::Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_owned))
}

/// Parses a payload and checks its schema version; a message that cannot be read is poison.
fn parse<T: serde::de::DeserializeOwned + Versioned>(payload: &[u8]) -> Result<T, Decision> {
    shared::messages::decode(payload).map_err(|e| Decision::Poison(e.to_string()))
}

/// Decodes one delivery by its subject: `{prefix}.ticket.{kind}` (intake, router, api) or
/// `{prefix}.survey.{kind}` (the survey worker: a sent request, an answer or an expiry ends the
/// survey clock).
pub fn decode(subjects: &Subjects, d: &Delivery) -> Decision {
    let result = if let Some(kind) = d.subject.strip_prefix(&subjects.subject("ticket.")) {
        decode_ticket(kind, &d.payload)
    } else if let Some(kind) = d.subject.strip_prefix(&subjects.subject("survey.")) {
        decode_survey(kind, &d.payload)
    } else {
        Ok(Decision::Ignore)
    };
    result.unwrap_or_else(|poison| poison)
}

fn decode_ticket(kind: &str, payload: &[u8]) -> Result<Decision, Decision> {
    Ok(match kind {
        "created" => {
            let m: TicketCreated = parse::<TicketCreated>(payload)?;
            let attrs = TicketAttrs {
                priority: priority(m.priority),
                department: None,
                category: None,
                customer_type: m.customer.customer_type.as_ref().and_then(code),
            };
            Decision::Apply(Box::new(Decoded {
                key: format!("created:{}", m.ticket_id),
                ticket_id: m.ticket_id,
                ticket_no: Some(m.ticket_no),
                hint: attrs.clone(),
                event: TicketEvent::Created {
                    at: m.submitted_at,
                    received_at: m.received_at,
                    attrs,
                },
            }))
        }
        "classified" => {
            let m: TicketClassified = parse::<TicketClassified>(payload)?;
            let attrs = TicketAttrs {
                priority: priority(Some(m.priority)),
                department: m.lead_department.clone(),
                category: Some(m.category.code.clone()),
                customer_type: None,
            };
            Decision::Apply(Box::new(Decoded {
                key: m.event_id.to_string(),
                ticket_id: m.ticket_id,
                ticket_no: Some(m.ticket_no),
                hint: TicketAttrs::default(),
                event: TicketEvent::Classified {
                    at: m.occurred_at,
                    attrs,
                    registered: !m.needs_review && m.lead_department.is_some(),
                },
            }))
        }
        "replied" | "contacted" | "waiting" | "resumed" | "priority_changed" | "assigned"
        | "resolved" | "reopened" | "archived" => {
            lifecycle(parse::<TicketLifecycleEvent>(payload)?)
        }
        // routed.{dept} / withdrawn.{dept} repeat what `classified` said; reclassify is a request.
        _ => Decision::Ignore,
    })
}

fn survey_done(key: String, ticket_id: Uuid, ticket_no: String, at: DateTime<Utc>) -> Decision {
    Decision::Apply(Box::new(Decoded {
        key,
        ticket_id,
        ticket_no: Some(ticket_no),
        hint: TicketAttrs::default(),
        event: TicketEvent::SurveyDone { at },
    }))
}

fn decode_survey(kind: &str, payload: &[u8]) -> Result<Decision, Decision> {
    let kind = kind.split('.').next().unwrap_or_default();
    Ok(match kind {
        "request" => {
            let m: SurveyRequest = parse::<SurveyRequest>(payload)?;
            survey_done(
                format!("survey_request:{}", m.request_id),
                m.ticket_id,
                m.ticket_no,
                m.sent_at,
            )
        }
        "answered" => {
            let m: SurveyAnswered = parse::<SurveyAnswered>(payload)?;
            survey_done(
                format!("survey_answered:{}", m.answer_id),
                m.ticket_id,
                m.ticket_no,
                m.answered_at,
            )
        }
        "expired" => {
            let m: SurveyExpired = parse::<SurveyExpired>(payload)?;
            survey_done(
                format!("survey_expired:{}:{}", m.survey_id, m.cycle),
                m.ticket_id,
                m.ticket_no,
                m.expired_at,
            )
        }
        _ => Decision::Ignore,
    })
}

fn lifecycle(m: TicketLifecycleEvent) -> Decision {
    let at = m.occurred_at;
    let event = match &m.change {
        LifecycleChange::Replied { .. } | LifecycleChange::Contacted => TicketEvent::Replied { at },
        LifecycleChange::WaitingOnCustomer { .. } => TicketEvent::WaitingOnCustomer { at },
        LifecycleChange::Resumed => TicketEvent::CustomerBack { at },
        LifecycleChange::PriorityChanged { to, .. } => match priority(Some(*to)) {
            Some(priority) => TicketEvent::PriorityChanged { at, priority },
            None => return Decision::Poison(format!("unknown_priority: {}", to.as_str())),
        },
        LifecycleChange::Resolved { .. } => TicketEvent::Resolved { at },
        LifecycleChange::Reopened { .. } => TicketEvent::Reopened { at },
        LifecycleChange::Archived => TicketEvent::Archived { at },
        LifecycleChange::Assigned { .. } => return Decision::Ignore,
    };
    Decision::Apply(Box::new(Decoded {
        key: m.event_id.to_string(),
        ticket_id: m.ticket_id,
        ticket_no: Some(m.ticket_no),
        hint: TicketAttrs {
            priority: priority(m.priority),
            department: m.department,
            category: None,
            customer_type: None,
        },
        event,
    }))
}

/// Applies ticket events to clocks. Shared by every consumer lane of every replica.
pub struct TicketEventHandler {
    pub pool: PgPool,
    pub rules: crate::live::LiveRules,
    pub subjects: Subjects,
    /// This replica's firing loop, to wake when a batch plans a timer it would otherwise look for too
    /// late; `None` where no loop runs beside the handler (tests fire by hand).
    pub firing: Option<FiringWake>,
    /// How long a new ticket's clocks may wait to start together with its next event (normally the
    /// classification); after that [`Self::run_overdue_starts`] starts them. Zero starts them at
    /// creation. Deadlines count from the submission either way.
    pub start_within: std::time::Duration,
}

/// Wakes a firing loop for timers due before its next look of its own. Most planned timers are due
/// minutes or hours away; waking the loop after every batch cost a claim and a next-due query each.
pub struct FiringWake {
    pub notify: Arc<tokio::sync::Notify>,
    /// The loop's poll interval: it looks at least this often anyway.
    pub within: std::time::Duration,
}

/// One ticket's state while a batch is applied to it.
struct Working {
    record: TicketRecord,
    /// Clocks whose plan changed (their timers are replaced).
    replan: Vec<ClockKind>,
    touched: bool,
}

impl TicketEventHandler {
    /// The whole batch in one transaction; see the module doc.
    pub async fn apply(&self, batch: &[Delivery]) -> Result<Vec<Outcome>, BatchError> {
        let decisions: Vec<Decision> = batch.iter().map(|d| decode(&self.subjects, d)).collect();
        let mut outcomes: Vec<Outcome> = decisions
            .iter()
            .map(|d| match d {
                Decision::Poison(reason) => Outcome::Poison(reason.clone()),
                _ => Outcome::Done,
            })
            .collect();
        let applies: Vec<(usize, &Decoded)> = decisions
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match d {
                Decision::Apply(x) => Some((i, x.as_ref())),
                _ => None,
            })
            .collect();
        if applies.is_empty() {
            return Ok(outcomes);
        }
        let ids: Vec<Uuid> = applies
            .iter()
            .map(|(_, d)| d.ticket_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();

        let mut tx = self.pool.begin().await?;
        store::lock_tickets(&mut tx, &ids).await?;
        let mut known = store::load(&mut tx, &ids)
            .await
            .map_err(|e| BatchError::transient(e.to_string()))?;

        // Tickets seen first through a lifecycle event (ticket.created not consumed yet, or consumed
        // before this worker existed): start them from the system of record.
        let first_is_created: HashSet<Uuid> = {
            let mut seen = HashSet::new();
            let mut created = HashSet::new();
            for (_, d) in &applies {
                if seen.insert(d.ticket_id) && matches!(d.event, TicketEvent::Created { .. }) {
                    created.insert(d.ticket_id);
                }
            }
            created
        };
        let missing: Vec<Uuid> = ids
            .iter()
            .filter(|id| !known.contains_key(id) && !first_is_created.contains(id))
            .copied()
            .collect();
        if !missing.is_empty() {
            for s in store::seed_tickets(&mut tx, &missing).await? {
                known.insert(
                    s.ticket_id,
                    TicketRecord {
                        ticket_no: s.ticket_no,
                        sla: TicketSla {
                            attrs: s.attrs,
                            ..TicketSla::default()
                        },
                        pending_start: Some(PendingStart {
                            submitted_at: s.submitted_at,
                            received_at: s.received_at,
                        }),
                    },
                );
            }
        }
        let mut timeline: Vec<TimelineEntry> = Vec::new();
        let mut working = self.working(known, &mut timeline);

        // Messages about tickets nobody knows yet wait (nak with backoff) and are not claimed.
        let mut ready: Vec<(usize, &Decoded)> = Vec::new();
        let mut started: HashSet<Uuid> = HashSet::new();
        for (i, d) in applies {
            if matches!(d.event, TicketEvent::Created { .. }) {
                started.insert(d.ticket_id);
            }
            if working.contains_key(&d.ticket_id) || started.contains(&d.ticket_id) {
                ready.push((i, d));
            } else {
                outcomes[i] = Outcome::Retry(format!("ticket_unknown: {}", d.ticket_id));
            }
        }
        let keys: Vec<String> = ready.iter().map(|(_, d)| d.key.clone()).collect();
        let mut fresh = shared::idempotency::claim(&mut tx, CONSUMER, &keys).await?;
        let deferrable = self.deferrable(&ready, &fresh, &working);

        let mut deferred: Vec<DeferredStart> = Vec::new();
        for (_, d) in &ready {
            if !fresh.remove(&d.key) {
                continue; // already applied (redelivery, or twice in this batch)
            }
            if let TicketEvent::Created {
                at,
                received_at,
                attrs,
            } = &d.event
            {
                if deferrable.contains(&d.ticket_id) {
                    deferred.push(DeferredStart {
                        ticket_id: d.ticket_id,
                        ticket_no: d.ticket_no.as_deref(),
                        attrs,
                        start: PendingStart {
                            submitted_at: *at,
                            received_at: *received_at,
                        },
                    });
                    continue;
                }
            }
            self.apply_event(
                &mut working,
                &mut timeline,
                d.ticket_id,
                d.ticket_no.as_ref(),
                Some(&d.hint),
                &d.event,
            );
        }

        let earliest = self.persist(&mut tx, &working).await?;
        store::defer_starts(&mut tx, &deferred).await?;
        shared::timeline::append(&mut tx, &timeline).await?;
        tx.commit().await?;
        self.wake_firing(earliest);
        Ok(outcomes)
    }

    /// Tickets as loaded, ready to take events. A ticket whose clocks have not started (its creation
    /// deferred, or about to be seeded from the tickets table) starts them first, from its
    /// submission.
    fn working(
        &self,
        known: HashMap<Uuid, TicketRecord>,
        timeline: &mut Vec<TimelineEntry>,
    ) -> HashMap<Uuid, Working> {
        known
            .into_iter()
            .map(|(id, mut record)| {
                let pending = record.pending_start.take();
                let mut w = Working {
                    record,
                    replan: Vec::new(),
                    touched: false,
                };
                if let Some(p) = pending {
                    let creation = TicketEvent::Created {
                        at: p.submitted_at,
                        received_at: p.received_at,
                        attrs: w.record.sla.attrs.clone(),
                    };
                    record_changes(&mut w, &creation, &self.rules.current(), id, timeline);
                }
                (id, w)
            })
            .collect()
    }

    /// New tickets whose only event in this batch is their creation: their clocks wait for the
    /// ticket's next event (normally the classification, a moment later) so that both are written
    /// once. `start_within` of zero starts every ticket at once.
    fn deferrable(
        &self,
        ready: &[(usize, &Decoded)],
        fresh: &HashSet<String>,
        working: &HashMap<Uuid, Working>,
    ) -> HashSet<Uuid> {
        if self.start_within.is_zero() {
            return HashSet::new();
        }
        let mut events: HashMap<Uuid, HashSet<&str>> = HashMap::new();
        for (_, d) in ready {
            if fresh.contains(&d.key) {
                events.entry(d.ticket_id).or_default().insert(&d.key);
            }
        }
        ready
            .iter()
            .filter(|(_, d)| {
                matches!(d.event, TicketEvent::Created { .. })
                    && !working.contains_key(&d.ticket_id)
                    && events.get(&d.ticket_id).map(HashSet::len) == Some(1)
            })
            .map(|(_, d)| d.ticket_id)
            .collect()
    }

    /// Applies one event to its ticket, noting the clocks to replan and the timeline entry.
    fn apply_event(
        &self,
        working: &mut HashMap<Uuid, Working>,
        timeline: &mut Vec<TimelineEntry>,
        id: Uuid,
        ticket_no: Option<&String>,
        hint: Option<&TicketAttrs>,
        event: &TicketEvent,
    ) {
        let w = working.entry(id).or_insert_with(|| Working {
            record: TicketRecord::default(),
            replan: Vec::new(),
            touched: false,
        });
        if w.record.ticket_no.is_none() {
            w.record.ticket_no = ticket_no.cloned();
        }
        if let Some(h) = hint {
            // Fill gaps only; changes of department or priority come as their own events.
            let a = &mut w.record.sla.attrs;
            if a.department.is_none() && h.department.is_some() && !w.record.sla.clocks.is_empty() {
                // A department learnt late still moves the clocks onto its calendar.
                let mut attrs = a.clone();
                attrs.department = h.department.clone();
                let ev = TicketEvent::Classified {
                    at: event.at(),
                    attrs,
                    registered: true,
                };
                record_changes(w, &ev, &self.rules.current(), id, timeline);
            }
            let a = &mut w.record.sla.attrs;
            if a.priority.is_none() {
                a.priority = h.priority;
            }
        }
        record_changes(w, event, &self.rules.current(), id, timeline);
    }

    /// Starts the clocks of tickets whose creation waited `start_within` without another event (the
    /// router is down or far behind); returns how many tickets it looked at.
    pub async fn start_overdue(&self, limit: i64) -> Result<usize, BatchError> {
        let mut tx = self.pool.begin().await?;
        let ids = store::overdue_starts(&mut tx, self.start_within, limit).await?;
        if ids.is_empty() {
            return Ok(0);
        }
        store::lock_tickets(&mut tx, &ids).await?;
        let known = store::load(&mut tx, &ids)
            .await
            .map_err(|e| BatchError::transient(e.to_string()))?;
        let mut timeline = Vec::new();
        let working = self.working(known, &mut timeline);
        let started = working.values().filter(|w| w.touched).count();
        let earliest = self.persist(&mut tx, &working).await?;
        shared::timeline::append(&mut tx, &timeline).await?;
        tx.commit().await?;
        metrics::counter!("loopdesk_sla_overdue_starts_total").increment(started as u64);
        self.wake_firing(earliest);
        Ok(ids.len())
    }

    /// Starts overdue tickets (see [`Self::start_overdue`]) every `every` until `shutdown`.
    pub async fn run_overdue_starts(
        self: Arc<Self>,
        every: std::time::Duration,
        shutdown: CancellationToken,
    ) {
        const BATCH: i64 = 500;
        while !shutdown.is_cancelled() {
            match self.start_overdue(BATCH).await {
                Ok(n) if n as i64 >= BATCH => continue, // more may be waiting
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "starting overdue sla clocks failed; will retry")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    /// Wakes this replica's firing loop when a timer just planned is due before its next look.
    fn wake_firing(&self, earliest: Option<DateTime<Utc>>) {
        if let (Some(w), Some(due)) = (&self.firing, earliest) {
            let soon = chrono::Duration::from_std(w.within).unwrap_or(chrono::Duration::MAX);
            if due <= Utc::now() + soon {
                w.notify.notify_one();
            }
        }
    }

    /// Writes touched tickets, their changed clocks and the clocks' new timers; returns when the
    /// earliest of those timers is due.
    async fn persist(
        &self,
        tx: &mut sqlx::PgConnection,
        working: &HashMap<Uuid, Working>,
    ) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        let touched: Vec<(Uuid, &TicketRecord)> = working
            .iter()
            .filter(|(_, w)| w.touched)
            .map(|(id, w)| (*id, &w.record))
            .collect();
        store::save_tickets(tx, &touched).await?;
        let mut clocks = Vec::new();
        let mut replan = Vec::new();
        let mut timers = Vec::new();
        for (id, w) in working {
            for kind in &w.replan {
                let Some(c) = w.record.sla.clocks.get(kind) else {
                    continue;
                };
                clocks.push((
                    *id,
                    c,
                    store::projected_due(&w.record.sla, c, &self.rules.current()),
                ));
                replan.push((*id, *kind));
                timers.extend(
                    w.record
                        .sla
                        .next_timer(*kind, &self.rules.current(), None)
                        .map(|p| NewTimer::planned(*id, &p)),
                );
            }
        }
        store::save_clocks(tx, &clocks).await?;
        store::supersede_timers(tx, &replan).await?;
        store::insert_timers(tx, &timers).await?;
        Ok(timers.iter().map(|t| t.due_at).min())
    }
}

/// Applies `event` and notes which clocks to replan and what to put on the timeline.
fn record_changes(
    w: &mut Working,
    event: &TicketEvent,
    rules: &SlaRules,
    ticket_id: Uuid,
    timeline: &mut Vec<TimelineEntry>,
) {
    w.touched = true;
    let changes = w.record.sla.apply(event, rules);
    let mut clocks = Vec::with_capacity(changes.len());
    for (kind, change) in changes {
        if !w.replan.contains(&kind) {
            w.replan.push(kind);
        }
        if let Some(c) = w.record.sla.clocks.get(&kind) {
            clocks.push(clock_change(
                event.at(),
                kind,
                change,
                c,
                &w.record.sla,
                rules,
            ));
        }
    }
    if !clocks.is_empty() {
        timeline.push(TimelineEntry {
            ticket_id,
            kind: TIMELINE_KIND.to_owned(),
            actor: ACTOR.to_owned(),
            at: event.at(),
            data: serde_json::json!({ "clocks": clocks }),
        });
    }
}

/// The timeline kind of an event's effect on the ticket's clocks. One entry per event, listing every
/// clock it changed: an event moves up to five clocks at once (classification retargets four), and an
/// entry per clock made the SLA write 14 of a ticket's 17 timeline rows.
pub const TIMELINE_KIND: &str = "sla_clocks";

/// One clock's change as the timeline shows it: what it did and where it stands now.
fn clock_change(
    at: DateTime<Utc>,
    kind: ClockKind,
    change: ClockChange,
    c: &crate::clock::Clock,
    t: &TicketSla,
    rules: &SlaRules,
) -> serde_json::Value {
    let measure = rules.measure(c.basis, t.attrs.department.as_deref());
    let view = c.view(at, measure);
    serde_json::json!({
        "clock": kind.as_str(),
        "change": change.as_str(),
        "cycle": c.cycle,
        "status": c.status.as_str(),
        "basis": c.basis.as_str(),
        "target_secs": view.target_secs,
        "elapsed_secs": view.elapsed_secs,
        "due_at": view.due_at,
        "met": view.met,
    })
}

impl BatchHandler for TicketEventHandler {
    fn handle(
        &self,
        batch: &[Delivery],
    ) -> impl std::future::Future<Output = Result<Vec<Outcome>, BatchError>> + Send {
        self.apply(batch)
    }
}
