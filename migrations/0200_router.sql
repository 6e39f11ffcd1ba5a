-- router: the corrections quality inspectors make (kept as labelled training data) and the agents each
-- department can assign tickets to. The ticket's classification columns are in 0001_foundation.

-- The "needs review" queue: low-confidence decisions wait here for a quality inspector.
create index tickets_needs_review_idx on tickets (submitted_at) where status = 'needs_review';
-- Open tickets per owner, for least-open assignment.
create index tickets_owner_open_idx on tickets (owner)
    where owner is not null and status not in ('resolved', 'archived');

-- Inspectors' corrections (written by the router from `ticket.reclassify`): the (text, correct labels)
-- pairs `router retrain` learns from.
create table router_corrections (
    id            bigserial primary key,
    -- The reclassify event's id: one correction per event, however often it is delivered.
    event_id      uuid not null unique,
    ticket_id     uuid not null references tickets (id),
    text          text not null,
    category      text not null,
    priority      text not null,
    feedback_type text not null,
    tags          text[] not null default '{}',
    inspector     text not null,
    previous      jsonb not null,
    created_at    timestamptz not null default now()
);
create index router_corrections_ticket_idx on router_corrections (ticket_id);

-- Agents a department can hand tickets to. `available` is set by supervisors (or the api);
-- `last_assigned_at` (written by the router) drives round robin.
create table router_agents (
    department       text not null,
    agent            text not null,
    available        boolean not null default true,
    last_assigned_at timestamptz,
    primary key (department, agent)
);
