//! Postgres persistence of tickets' clocks and timers (tables from `migrations/0300_sla.sql`).
//!
//! Every function runs inside the caller's transaction and writes a whole batch in one statement
//! (`unnest`), because commits and round trips, not rows, bound throughput (docs/domain.md, invariant 9).
//!
//! Concurrency: all work on a ticket (applying its events, firing its timers) first takes a
//! transaction-scoped advisory lock on the ticket, always in ascending key order, so two replicas never
//! interleave on one ticket and never deadlock. Timers are claimed with `FOR UPDATE SKIP LOCKED` and
//! superseded (deleted) with `SKIP LOCKED` too, so nobody ever waits on a timer row: a timer being
//! fired while its clock changes is recognised as stale by its version.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::clock::{Clock, ClockStatus, DeadlineEvent};
use crate::policy::{ClockKind, Priority, SlaRules, TicketAttrs, TimeBasis};
use crate::ticket::{PlannedTimer, TicketSla};

/// What the SLA worker knows about a ticket beyond its clocks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketRecord {
    pub ticket_no: Option<String>,
    pub sla: TicketSla,
    /// Set while the ticket's clocks wait to start: its creation was deferred (see [`defer_starts`]),
    /// or it was just read from the tickets table ([`seed_tickets`]). `sla.attrs` then holds what
    /// they start with.
    pub pending_start: Option<PendingStart>,
}

/// The instants a ticket's clocks start from when they start late.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PendingStart {
    pub submitted_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

/// The advisory-lock key of a ticket: its first 8 bytes. A collision only serialises two tickets.
pub fn lock_key(ticket_id: Uuid) -> i64 {
    let b = ticket_id.as_bytes();
    i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Takes the tickets' advisory locks in ascending order (held until commit or rollback).
pub async fn lock_tickets(conn: &mut PgConnection, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    let keys: Vec<i64> = ids
        .iter()
        .map(|id| lock_key(*id))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    // The sorted subquery fixes the order in which the locks are taken.
    sqlx::query(
        "select pg_advisory_xact_lock(k)
         from (select k from unnest($1::bigint[]) as k order by k) as sorted",
    )
    .bind(&keys)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct TicketRow {
    ticket_id: Uuid,
    ticket_no: Option<String>,
    priority: Option<String>,
    department: Option<String>,
    category: Option<String>,
    customer_type: Option<String>,
    start_pending_since: Option<DateTime<Utc>>,
    submitted_at: Option<DateTime<Utc>>,
    received_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct ClockRow {
    ticket_id: Uuid,
    kind: String,
    cycle: i32,
    version: i32,
    status: String,
    basis: String,
    target_us: i64,
    warning_fractions: sqlx::types::Json<Vec<f64>>,
    started_at: DateTime<Utc>,
    elapsed_us: i64,
    running_since: Option<DateTime<Utc>>,
    stopped_at: Option<DateTime<Utc>>,
    breached_at: Option<DateTime<Utc>>,
    warned_fraction: f64,
}

/// Errors reading stored state: a row the code cannot understand is a bug or a bad manual edit, and
/// the batch is retried (and logged) rather than guessed at.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored clock {ticket_id}/{kind} is unreadable: {what}")]
    Corrupt {
        ticket_id: Uuid,
        kind: String,
        what: &'static str,
    },
}

fn us(d: Duration) -> i64 {
    d.num_microseconds().unwrap_or(i64::MAX)
}

impl ClockRow {
    fn into_clock(self) -> Result<(Uuid, Clock), StoreError> {
        let corrupt = |what| StoreError::Corrupt {
            ticket_id: self.ticket_id,
            kind: self.kind.clone(),
            what,
        };
        let kind = ClockKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?;
        let status = ClockStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?;
        let basis = TimeBasis::parse(&self.basis).ok_or_else(|| corrupt("basis"))?;
        Ok((
            self.ticket_id,
            Clock {
                kind,
                cycle: self.cycle,
                version: self.version,
                status,
                target: Duration::microseconds(self.target_us),
                basis,
                warning_fractions: self.warning_fractions.0,
                started_at: self.started_at,
                elapsed: Duration::microseconds(self.elapsed_us),
                running_since: self.running_since,
                stopped_at: self.stopped_at,
                breached_at: self.breached_at,
                warned_fraction: self.warned_fraction,
            },
        ))
    }
}

/// Loads the tickets the SLA worker knows among `ids`, with all their clocks.
pub async fn load(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, TicketRecord>, StoreError> {
    let tickets: Vec<TicketRow> = sqlx::query_as(
        "select ticket_id, ticket_no, priority, department, category, customer_type,
                start_pending_since, submitted_at, received_at
         from sla_tickets where ticket_id = any($1)",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: HashMap<Uuid, TicketRecord> = tickets
        .into_iter()
        .map(|t| {
            (
                t.ticket_id,
                TicketRecord {
                    ticket_no: t.ticket_no,
                    sla: TicketSla {
                        attrs: TicketAttrs {
                            priority: t.priority.as_deref().and_then(Priority::parse),
                            department: t.department,
                            category: t.category,
                            customer_type: t.customer_type,
                        },
                        clocks: Default::default(),
                    },
                    pending_start: match (t.start_pending_since, t.submitted_at, t.received_at) {
                        (Some(_), Some(submitted_at), Some(received_at)) => Some(PendingStart {
                            submitted_at,
                            received_at,
                        }),
                        _ => None,
                    },
                },
            )
        })
        .collect();
    let clocks: Vec<ClockRow> = sqlx::query_as(
        "select ticket_id, kind, cycle, version, status, basis, target_us, warning_fractions,
                started_at, elapsed_us, running_since, stopped_at, breached_at, warned_fraction
         from sla_clocks where ticket_id = any($1)",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    for row in clocks {
        let (ticket_id, clock) = row.into_clock()?;
        if let Some(t) = out.get_mut(&ticket_id) {
            t.sla.clocks.insert(clock.kind, clock);
        }
    }
    Ok(out)
}

/// A ticket as the system of record (`tickets`, written by intake and the router) has it; used to
/// start clocks when a lifecycle event arrives before (or without) `ticket.created`.
#[derive(Debug, Clone)]
pub struct SeedTicket {
    pub ticket_id: Uuid,
    pub ticket_no: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub attrs: TicketAttrs,
}

/// Reads tickets from the `tickets` table. Columns other services add later (`department`,
/// `category`) are read through `to_jsonb` so this keeps working whatever they are named today.
pub async fn seed_tickets(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<SeedTicket>, sqlx::Error> {
    let rows: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>, serde_json::Value)> = sqlx::query_as(
        "select id, submitted_at, received_at, to_jsonb(t) from tickets t where id = any($1)",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    let text = |v: &serde_json::Value, keys: &[&str]| {
        keys.iter()
            .find_map(|k| v.get(*k).and_then(|x| x.as_str()).map(str::to_owned))
    };
    Ok(rows
        .into_iter()
        .map(|(ticket_id, submitted_at, received_at, row)| SeedTicket {
            ticket_id,
            ticket_no: text(&row, &["ticket_no"]),
            submitted_at,
            received_at,
            attrs: TicketAttrs {
                priority: text(&row, &["priority"])
                    .as_deref()
                    .and_then(Priority::parse),
                department: text(&row, &["department", "lead_department"]),
                category: text(&row, &["category", "problem_category"]),
                customer_type: text(&row, &["customer_type"]),
            },
        })
        .collect())
}

/// A creation whose clocks start later: with the ticket's next event, or by [`overdue_starts`].
#[derive(Debug, Clone)]
pub struct DeferredStart<'a> {
    pub ticket_id: Uuid,
    pub ticket_no: Option<&'a str>,
    pub attrs: &'a TicketAttrs,
    pub start: PendingStart,
}

/// Records creations whose clocks start later. One row each, where starting the clocks at once
/// would write three clock rows and three timers that the classification, a moment later, rewrites.
pub async fn defer_starts(
    conn: &mut PgConnection,
    starts: &[DeferredStart<'_>],
) -> Result<(), sqlx::Error> {
    if starts.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = starts.iter().map(|s| s.ticket_id).collect();
    let nos: Vec<Option<&str>> = starts.iter().map(|s| s.ticket_no).collect();
    let priority: Vec<Option<&str>> = starts
        .iter()
        .map(|s| s.attrs.priority.map(Priority::as_str))
        .collect();
    let customer_type: Vec<Option<&str>> = starts
        .iter()
        .map(|s| s.attrs.customer_type.as_deref())
        .collect();
    let submitted: Vec<DateTime<Utc>> = starts.iter().map(|s| s.start.submitted_at).collect();
    let received: Vec<DateTime<Utc>> = starts.iter().map(|s| s.start.received_at).collect();
    // A creation says nothing of department or category: the classification brings those.
    sqlx::query(
        "insert into sla_tickets (ticket_id, ticket_no, priority, customer_type, submitted_at,
                                  received_at, start_pending_since)
         select u.*, now() from unnest($1::uuid[], $2::text[], $3::text[], $4::text[],
                                       $5::timestamptz[], $6::timestamptz[]) as u
         on conflict (ticket_id) do nothing",
    )
    .bind(&ids)
    .bind(&nos)
    .bind(&priority)
    .bind(&customer_type)
    .bind(&submitted)
    .bind(&received)
    .execute(conn)
    .await?;
    Ok(())
}

/// Tickets whose deferred start has waited `waited` or longer, oldest first. The caller locks them
/// and loads them again: another transaction may have started them meanwhile.
pub async fn overdue_starts(
    conn: &mut PgConnection,
    waited: std::time::Duration,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select ticket_id from sla_tickets
         where start_pending_since is not null and start_pending_since <= now() - $1::interval
         order by start_pending_since
         limit $2",
    )
    .bind(waited)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Inserts or updates the tickets' attributes. Every ticket saved here has had its clocks started,
/// so a deferred start is over.
pub async fn save_tickets(
    conn: &mut PgConnection,
    tickets: &[(Uuid, &TicketRecord)],
) -> Result<(), sqlx::Error> {
    if tickets.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = tickets.iter().map(|t| t.0).collect();
    let nos: Vec<Option<&str>> = tickets.iter().map(|t| t.1.ticket_no.as_deref()).collect();
    let attrs = |f: fn(&TicketAttrs) -> Option<&str>| -> Vec<Option<String>> {
        tickets
            .iter()
            .map(|t| f(&t.1.sla.attrs).map(str::to_owned))
            .collect()
    };
    let priority = attrs(|a| a.priority.map(Priority::as_str));
    let department = attrs(|a| a.department.as_deref());
    let category = attrs(|a| a.category.as_deref());
    let customer_type = attrs(|a| a.customer_type.as_deref());
    sqlx::query(
        "insert into sla_tickets (ticket_id, ticket_no, priority, department, category, customer_type)
         select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
         on conflict (ticket_id) do update set
             ticket_no = coalesce(excluded.ticket_no, sla_tickets.ticket_no),
             priority = excluded.priority,
             department = excluded.department,
             category = excluded.category,
             customer_type = excluded.customer_type,
             start_pending_since = null,
             updated_at = now()",
    )
    .bind(&ids)
    .bind(&nos)
    .bind(&priority)
    .bind(&department)
    .bind(&category)
    .bind(&customer_type)
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts or updates clocks. `due_at` is the projected breach instant of running clocks, for readers
/// that do not know calendars.
pub async fn save_clocks(
    conn: &mut PgConnection,
    clocks: &[(Uuid, &Clock, Option<DateTime<Utc>>)],
) -> Result<(), sqlx::Error> {
    if clocks.is_empty() {
        return Ok(());
    }
    let col = |f: &dyn Fn(&Clock) -> i64| -> Vec<i64> { clocks.iter().map(|c| f(c.1)).collect() };
    let ids: Vec<Uuid> = clocks.iter().map(|c| c.0).collect();
    let kinds: Vec<&str> = clocks.iter().map(|c| c.1.kind.as_str()).collect();
    let cycles: Vec<i32> = clocks.iter().map(|c| c.1.cycle).collect();
    let versions: Vec<i32> = clocks.iter().map(|c| c.1.version).collect();
    let statuses: Vec<&str> = clocks.iter().map(|c| c.1.status.as_str()).collect();
    let bases: Vec<&str> = clocks.iter().map(|c| c.1.basis.as_str()).collect();
    let targets = col(&|c| us(c.target));
    let fractions: Vec<serde_json::Value> = clocks
        .iter()
        .map(|c| serde_json::json!(c.1.warning_fractions))
        .collect();
    let started: Vec<DateTime<Utc>> = clocks.iter().map(|c| c.1.started_at).collect();
    let elapsed = col(&|c| us(c.elapsed));
    let running: Vec<Option<DateTime<Utc>>> = clocks.iter().map(|c| c.1.running_since).collect();
    let stopped: Vec<Option<DateTime<Utc>>> = clocks.iter().map(|c| c.1.stopped_at).collect();
    let breached: Vec<Option<DateTime<Utc>>> = clocks.iter().map(|c| c.1.breached_at).collect();
    let warned: Vec<f64> = clocks.iter().map(|c| c.1.warned_fraction).collect();
    let due: Vec<Option<DateTime<Utc>>> = clocks.iter().map(|c| c.2).collect();
    sqlx::query(
        "insert into sla_clocks (ticket_id, kind, cycle, version, status, basis, target_us,
                                 warning_fractions, started_at, elapsed_us, running_since, stopped_at,
                                 breached_at, warned_fraction, due_at)
         select * from unnest($1::uuid[], $2::text[], $3::int[], $4::int[], $5::text[], $6::text[],
                              $7::bigint[], $8::jsonb[], $9::timestamptz[], $10::bigint[],
                              $11::timestamptz[], $12::timestamptz[], $13::timestamptz[],
                              $14::float8[], $15::timestamptz[])
         on conflict (ticket_id, kind) do update set
             cycle = excluded.cycle, version = excluded.version, status = excluded.status,
             basis = excluded.basis, target_us = excluded.target_us,
             warning_fractions = excluded.warning_fractions, started_at = excluded.started_at,
             elapsed_us = excluded.elapsed_us, running_since = excluded.running_since,
             stopped_at = excluded.stopped_at, breached_at = excluded.breached_at,
             warned_fraction = excluded.warned_fraction, due_at = excluded.due_at,
             updated_at = now()",
    )
    .bind(&ids)
    .bind(&kinds)
    .bind(&cycles)
    .bind(&versions)
    .bind(&statuses)
    .bind(&bases)
    .bind(&targets)
    .bind(&fractions)
    .bind(&started)
    .bind(&elapsed)
    .bind(&running)
    .bind(&stopped)
    .bind(&breached)
    .bind(&warned)
    .bind(&due)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the pending warning/breach timers of the given clocks (their plan changed). Rows a firing
/// replica holds are skipped: that replica will find them stale by version.
///
/// Deleted rather than marked: a superseded timer never did anything, the clock's change is on the
/// timeline, and marking wrote a second version of every planned row (most timers are superseded by
/// the ticket's classification a moment after they are planned).
pub async fn supersede_timers(
    conn: &mut PgConnection,
    clocks: &[(Uuid, ClockKind)],
) -> Result<u64, sqlx::Error> {
    if clocks.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = clocks.iter().map(|c| c.0).collect();
    let kinds: Vec<&str> = clocks.iter().map(|c| c.1.as_str()).collect();
    let done = sqlx::query(
        "delete from sla_timers
         where id in (
             select t.id from sla_timers t
             join unnest($1::uuid[], $2::text[]) as c(ticket_id, clock)
               on t.ticket_id = c.ticket_id and t.clock = c.clock
             where t.fired_at is null and t.event <> 'escalation'
             for update of t skip locked)",
    )
    .bind(&ids)
    .bind(&kinds)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// A timer to insert.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewTimer {
    pub ticket_id: Uuid,
    pub clock: ClockKind,
    pub version: i32,
    pub event: TimerEvent,
    pub due_at: DateTime<Utc>,
}

/// What a timer does when due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimerEvent {
    Warning(f64),
    Breach,
    /// Tell the supervisor about a breach (planned when a breach fires outside notify hours).
    Escalation,
}

impl TimerEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerEvent::Warning(_) => "warning",
            TimerEvent::Breach => "breach",
            TimerEvent::Escalation => "escalation",
        }
    }

    /// The clock deadline this timer stands for; `None` for an escalation, which follows a breach
    /// and belongs to no plan.
    pub fn deadline(self) -> Option<DeadlineEvent> {
        match self {
            TimerEvent::Warning(fraction) => Some(DeadlineEvent::Warning { fraction }),
            TimerEvent::Breach => Some(DeadlineEvent::Breach),
            TimerEvent::Escalation => None,
        }
    }

    fn fraction(self) -> Option<f64> {
        match self {
            TimerEvent::Warning(f) => Some(f),
            _ => None,
        }
    }

    /// From the stored columns.
    pub fn parse(event: &str, fraction: Option<f64>) -> Option<Self> {
        match (event, fraction) {
            ("warning", Some(f)) => Some(TimerEvent::Warning(f)),
            ("breach", _) => Some(TimerEvent::Breach),
            ("escalation", _) => Some(TimerEvent::Escalation),
            _ => None,
        }
    }
}

impl NewTimer {
    pub fn planned(ticket_id: Uuid, p: &PlannedTimer) -> Self {
        NewTimer {
            ticket_id,
            clock: p.kind,
            version: p.version,
            event: match p.deadline.event {
                DeadlineEvent::Warning { fraction } => TimerEvent::Warning(fraction),
                DeadlineEvent::Breach => TimerEvent::Breach,
            },
            due_at: p.deadline.due_at,
        }
    }
}

/// Inserts timers in one statement.
pub async fn insert_timers(
    conn: &mut PgConnection,
    timers: &[NewTimer],
) -> Result<(), sqlx::Error> {
    if timers.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = timers.iter().map(|t| t.ticket_id).collect();
    let clocks: Vec<&str> = timers.iter().map(|t| t.clock.as_str()).collect();
    let versions: Vec<i32> = timers.iter().map(|t| t.version).collect();
    let events: Vec<&str> = timers.iter().map(|t| t.event.as_str()).collect();
    let fractions: Vec<Option<f64>> = timers.iter().map(|t| t.event.fraction()).collect();
    let due: Vec<DateTime<Utc>> = timers.iter().map(|t| t.due_at).collect();
    sqlx::query(
        "insert into sla_timers (ticket_id, clock, version, event, fraction, due_at)
         select * from unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::float8[],
                              $6::timestamptz[])",
    )
    .bind(&ids)
    .bind(&clocks)
    .bind(&versions)
    .bind(&events)
    .bind(&fractions)
    .bind(&due)
    .execute(conn)
    .await?;
    Ok(())
}

/// The projected breach instant of a running clock (what `sla_clocks.due_at` shows).
pub fn projected_due(ticket: &TicketSla, clock: &Clock, rules: &SlaRules) -> Option<DateTime<Utc>> {
    match (clock.status, clock.running_since) {
        (ClockStatus::Running, Some(since)) => {
            let measure = rules.measure(clock.basis, ticket.attrs.department.as_deref());
            Some(measure.add_business_duration(since, clock.target - clock.elapsed))
        }
        _ => None,
    }
}
