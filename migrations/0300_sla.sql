-- sla: each ticket's clocks and the durable timers that fire their warnings, breaches and escalations
-- exactly once across replicas. Every table here is written by the SLA worker only; the api reads the
-- `sla_ticket_clocks` view.

-- The ticket facts the SLA policy looks at, as last seen by the SLA worker. `updated_at` is set by the
-- worker's upserts (`store::save_tickets`), its only writer, not by a row trigger.
create table sla_tickets (
    ticket_id     uuid primary key,
    ticket_no     text,
    priority      text,
    department    text,
    category      text,
    customer_type text,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    -- A ticket's clocks start with the first event about it after `ticket.created` (normally its
    -- classification, a moment later), in the same transaction, so every clock row and timer is written
    -- once. Until then the ticket waits with what its creation said; the worker starts the clocks of
    -- any ticket that waited longer than `sla.start_within_ms` without another event. Deadlines count
    -- from the submission either way.
    start_pending_since timestamptz,
    submitted_at  timestamptz,
    received_at   timestamptz
);
create index sla_tickets_start_pending_idx on sla_tickets (start_pending_since)
    where start_pending_since is not null;

-- One row per clock of a ticket (first response, proactive contact, resolution, ...).
-- Durations are stored in microseconds of business time (or wall time for basis = 'wall').
-- No foreign key to `sla_tickets`: a clock is only written next to its ticket's row, and the key check
-- would cost a look-up and a lock per row on the SLA's hottest path. `updated_at` is set by the
-- worker's upsert (`store::save_clocks`).
create table sla_clocks (
    ticket_id         uuid not null,
    kind              text not null,
    -- Bumped by a restart (reopened ticket, next proactive contact).
    cycle             integer not null,
    -- Bumped by every change that moves a deadline; timers carry the version they were planned for.
    version           integer not null,
    status            text not null check (status in ('running', 'paused', 'stopped')),
    basis             text not null check (basis in ('business', 'wall')),
    target_us         bigint not null,
    -- Ascending fractions of the target at which to warn, e.g. [0.75, 0.9].
    warning_fractions jsonb not null,
    started_at        timestamptz not null,
    elapsed_us        bigint not null,
    running_since     timestamptz,
    stopped_at        timestamptz,
    breached_at       timestamptz,
    warned_fraction   double precision not null default 0,
    -- The breach instant while running (null when paused or stopped), so the api and reports can
    -- list overdue tickets without knowing calendars.
    due_at            timestamptz,
    updated_at        timestamptz not null default now(),
    primary key (ticket_id, kind)
);
create index sla_clocks_due_idx on sla_clocks (due_at) where status = 'running';

-- Durable timers. A row is pending while fired_at is null; firing sets fired_at in the same transaction
-- as the effect, so a timer fires once whichever replica claims it. Superseded timers are deleted. No
-- NOTIFY: the firing loop is woken in process by its own replica's event handler, and polls.
create table sla_timers (
    id         bigserial primary key,
    ticket_id  uuid not null,
    clock      text not null,
    -- The clock version this timer was planned for; a mismatch at firing time means "stale".
    version    integer not null,
    event      text not null check (event in ('warning', 'breach', 'escalation')),
    fraction   double precision,
    due_at     timestamptz not null,
    fired_at   timestamptz,
    -- fired | stale | superseded
    outcome    text,
    created_at timestamptz not null default now()
);
-- Only pending rows are indexed (docs/domain.md, invariant 9): polling stays fast however many fired
-- rows pile up.
create index sla_timers_pending_due_idx on sla_timers (due_at) where fired_at is null;
create index sla_timers_pending_clock_idx on sla_timers (ticket_id, clock) where fired_at is null;

-- Every clock of every ticket at once, for the api: elapsed and remaining are exact for paused and
-- stopped clocks; for running clocks `due_at` is the business-time deadline and `overdue` compares it
-- with the current time.
create view sla_ticket_clocks as
select c.ticket_id,
       t.ticket_no,
       t.department,
       t.priority,
       c.kind,
       c.cycle,
       c.status,
       c.basis,
       c.target_us / 1000000 as target_secs,
       c.elapsed_us / 1000000 as banked_secs,
       c.started_at,
       c.running_since,
       c.stopped_at,
       c.due_at,
       c.breached_at,
       c.warned_fraction,
       (c.breached_at is not null or (c.status = 'running' and c.due_at <= now())) as overdue,
       case when c.status = 'stopped' then c.breached_at is null and c.elapsed_us <= c.target_us end as met
from sla_clocks c
join sla_tickets t using (ticket_id);
