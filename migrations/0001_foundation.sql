-- Foundation: what every worker writes. The ticket (one row, its columns grouped by the worker that
-- writes them), its append-only timeline, the transactional outbox, the idempotency record and the
-- daily ticket-number serials. Each worker's own tables are in its baseline after this one:
-- 0100 intake, 0200 router, 0300 sla, 0400 survey, 0500 api.

create or replace function set_updated_at() returns trigger language plpgsql as $$
begin
    new.updated_at = now();
    return new;
end $$;

create table tickets (
    id                     uuid primary key,
    -- Written by intake (and the api's import) when the ticket is registered.
    -- 工单号: YYYYMMDD + daily serial in the configured time zone (`shared::serials`).
    ticket_no              text not null unique,
    channel                text not null,
    external_id            text not null,
    submitted_at           timestamptz not null,
    received_at            timestamptz not null,
    client_ip              inet,
    customer_id            text,
    customer_name          text,
    customer_phone         text,
    customer_email         text,
    customer_type          text,
    order_number           text,
    -- The customer's words, with national ID and bank-card numbers redacted before storage.
    description            text not null,
    feedback_type          text,
    tags                   text[] not null default '{}',
    priority               text,
    expected_resolution_at timestamptz,
    attachments            jsonb not null default '[]',
    info_source            text,
    ivr                    jsonb,
    agent_id               text,
    -- The lifecycle's status (`shared::lifecycle::TicketStatus`), moved by the router, the api and
    -- the survey worker through the one lifecycle.
    status                 text not null default 'new',
    previous_tickets       bigint not null default 0,
    likely_duplicate_of    uuid references tickets (id),
    duplicate_similarity   real,
    created_at             timestamptz not null default now(),
    updated_at             timestamptz not null default now(),
    -- Written by the router (classification and routing), corrected by people through the api.
    category               text,
    lead_department        text,
    departments            text[] not null default '{}',
    owner                  text,
    -- The full decision (labels, confidences, reasons, routes) as last made, for the timeline and reviews.
    classification         jsonb,
    classified_at          timestamptz,
    -- 0 for the router's decision, +1 for every inspector correction.
    classification_revision integer not null default 0,
    -- Written by the api: handling by people.
    first_reply_at         timestamptz,
    last_contact_at        timestamptz,
    contacts               integer not null default 0,
    -- Filled in by resolving; reopening clears them (`shared::lifecycle::RESOLUTION_COLUMNS`).
    resolved_at            timestamptz,
    resolution             text,
    unresolved_reason      text,
    first_contact_resolved boolean,
    status_before_wait     text,
    solution               text,
    solution_approved_by   text,
    solution_approved_at   timestamptz,
    report_reviewed_by     text,
    report_reviewed_at     timestamptz,
    follow_up_plan         text,
    merged_into            uuid references tickets (id),
    archived_at            timestamptz,
    archived_by            text,
    -- Tickets of the api's spreadsheet import: history, never work for the other workers.
    imported               boolean not null default false,
    -- The survey answer as last reported (satisfied / basically_satisfied / unsatisfied, NPS 0-10).
    survey_satisfaction    text,
    survey_nps             smallint,
    survey_comment         text,
    unique (channel, external_id)
);
-- Intake's history and duplicate look-ups.
create index tickets_customer_id_idx on tickets (customer_id, submitted_at) where customer_id is not null;
create index tickets_customer_phone_idx on tickets (customer_phone, submitted_at) where customer_phone is not null;
create index tickets_status_idx on tickets (status);
create trigger tickets_updated_at before update on tickets for each row execute function set_updated_at();

-- The timeline: every step, decision and action on a ticket, in order. Append-only; written by every
-- worker through `shared::timeline::append`, in the transaction of the change it records.
-- No foreign key to `tickets`: the key check would take a look-up and a share lock for every entry on
-- the hottest append path, and an entry is only ever written next to its (never deleted) ticket.
create table ticket_events (
    id         bigserial primary key,
    ticket_id  uuid not null,
    kind       text not null,
    actor      text not null,
    at         timestamptz not null default now(),
    data       jsonb not null default '{}'
);
create index ticket_events_ticket_idx on ticket_events (ticket_id, id);

create function forbid_timeline_rewrite() returns trigger language plpgsql as $$
begin
    raise exception 'the ticket timeline is append-only';
end $$;
create trigger ticket_events_append_only before update or delete on ticket_events
    for each row execute function forbid_timeline_rewrite();

-- Events waiting to be published, written by every worker (`shared::outbox`). The relay publishes each
-- with Nats-Msg-Id = msg_id and deletes it. No NOTIFY: a worker wakes its own relay in process after a
-- commit (a NOTIFY would serialise every committing transaction on the notification-queue lock).
create table outbox (
    seq        bigserial primary key,
    msg_id     uuid not null unique,
    subject    text not null,
    payload    bytea not null,
    created_at timestamptz not null default now()
);

-- Which messages a consumer has already applied (its idempotency record, `shared::idempotency`).
create table processed_messages (
    consumer     text not null,
    key          text not null,
    processed_at timestamptz not null default now(),
    primary key (consumer, key)
);

-- The last serial handed out per day (`shared::serials`, used by intake and the api's import);
-- row locks make the numbers unique across replicas.
create table ticket_serials (
    day         date primary key,
    last_serial bigint not null
);
