-- Foundation: the ticket, its append-only timeline, the transactional outbox, the idempotency record,
-- stored rejections and the daily ticket-number serials.

create or replace function set_updated_at() returns trigger language plpgsql as $$
begin
    new.updated_at = now();
    return new;
end $$;

create table tickets (
    id                     uuid primary key,
    -- 工单号: YYYYMMDD + daily serial in the configured time zone.
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
    status                 text not null default 'new',
    previous_tickets       bigint not null default 0,
    likely_duplicate_of    uuid references tickets (id),
    duplicate_similarity   real,
    created_at             timestamptz not null default now(),
    updated_at             timestamptz not null default now(),
    unique (channel, external_id)
);
create index tickets_customer_id_idx on tickets (customer_id, submitted_at) where customer_id is not null;
create index tickets_customer_phone_idx on tickets (customer_phone, submitted_at) where customer_phone is not null;
create index tickets_submitted_at_idx on tickets (submitted_at);
create index tickets_status_idx on tickets (status);
create trigger tickets_updated_at before update on tickets for each row execute function set_updated_at();

-- The timeline: every step, decision and action on a ticket, in order. Append-only.
create table ticket_events (
    id         bigserial primary key,
    ticket_id  uuid not null references tickets (id),
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

-- Events waiting to be published. The relay publishes each with Nats-Msg-Id = msg_id and deletes it.
create table outbox (
    seq        bigserial primary key,
    msg_id     uuid not null unique,
    subject    text not null,
    payload    bytea not null,
    created_at timestamptz not null default now()
);

create function notify_outbox() returns trigger language plpgsql as $$
begin
    perform pg_notify('loopdesk_outbox', '');
    return null;
end $$;
-- One notification per statement, not per row: a batch insert wakes the relay once.
create trigger outbox_notify after insert on outbox
    for each statement execute function notify_outbox();

-- Which messages a consumer has already applied (its idempotency record).
create table processed_messages (
    consumer     text not null,
    key          text not null,
    processed_at timestamptz not null default now(),
    primary key (consumer, key)
);

-- Submissions intake refused, kept byte for byte with the reason.
create table rejected_submissions (
    id          uuid primary key,
    channel     text not null,
    external_id text,
    reason      text not null,
    field       text,
    message     text not null,
    raw         bytea not null,
    source      text not null,
    received_at timestamptz not null default now()
);
create index rejected_submissions_received_idx on rejected_submissions (received_at);

-- The last serial handed out per day; row locks make the numbers unique across intake replicas.
create table ticket_serials (
    day         date primary key,
    last_serial bigint not null
);
