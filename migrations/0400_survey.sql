-- survey: one satisfaction survey per resolution, its durable timer, and every answer (accepted or
-- refused) kept for the reports (CSAT, NPS, recovery rate). Both tables are written by the survey
-- worker only; the api reads them for reports.

create table surveys (
    id                 uuid primary key,
    ticket_id          uuid not null references tickets (id),
    ticket_no          text not null,
    -- 1 for the ticket's first resolution, 2 after an unsatisfied answer reopened it and it was resolved
    -- again, ...
    cycle              int not null,
    -- The ticket.resolved event this survey follows; a redelivered event finds it taken.
    resolved_event_id  uuid not null unique,
    resolved_at        timestamptz not null,
    resolution         text not null,
    department         text,
    priority           text,
    -- sms | app | ivr | link
    channel            text not null,
    recipient_customer_id text,
    recipient_phone    text,
    recipient_name     text,
    -- The phone's last 11 digits, so an SMS reply from `+86138...` finds the survey sent to `138...`.
    recipient_phone_key text,
    status             text not null check (status in
                           ('scheduled', 'sent', 'reminded', 'answered', 'expired', 'cancelled')),
    send_at            timestamptz not null,
    sent_at            timestamptz,
    reminded_at        timestamptz,
    -- The token's expiry (set when the survey is sent).
    expires_at         timestamptz,
    closed_at          timestamptz,
    -- The one pending timer of the survey (send, remind or expire, decided by status); null once closed.
    due_at             timestamptz,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    -- Where a `link` survey of an e-mail ticket is sent (the e-mail adapter delivers the link).
    recipient_email    text
);
-- Only pending rows are indexed, so claiming due timers stays fast however many surveys have closed.
create index surveys_due_idx on surveys (due_at) where due_at is not null;
-- At most one open survey per ticket.
create unique index surveys_one_open_per_ticket on surveys (ticket_id)
    where status in ('scheduled', 'sent', 'reminded');
create index surveys_ticket_idx on surveys (ticket_id, cycle);
-- SMS replies without a token are matched to the open survey sent to their number.
create index surveys_open_phone_idx on surveys (recipient_phone_key, sent_at)
    where status in ('sent', 'reminded') and recipient_phone_key is not null;
create trigger surveys_updated_at before update on surveys for each row execute function set_updated_at();

-- Every answer that reached the worker. Refused ones keep their reason code and raw input, so nothing a
-- customer sent is lost; accepted ones keep the parsed answer (comment redacted) for the reports.
create table survey_answers (
    id            uuid primary key,
    survey_id     uuid references surveys (id),
    ticket_id     uuid references tickets (id),
    -- app | sms | ivr | web
    via           text not null,
    -- The adapter's id for the answer (null for the page).
    response_id   text,
    accepted      boolean not null,
    reason        text,
    satisfaction  text check (satisfaction in ('satisfied', 'basically_satisfied', 'unsatisfied')),
    score         smallint check (score between 1 and 5),
    nps           smallint check (nps between 0 and 10),
    comment       text,
    follow_up     text,
    raw           bytea,
    received_at   timestamptz not null,
    check (accepted = (reason is null)),
    check (not accepted or satisfaction is not null)
);
-- One answer per survey, enforced by the database whatever the replicas do.
create unique index survey_answers_one_per_survey on survey_answers (survey_id) where accepted;
create index survey_answers_ticket_idx on survey_answers (ticket_id, received_at) where accepted;
create index survey_answers_received_idx on survey_answers (received_at);
