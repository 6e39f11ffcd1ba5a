-- api: what the agents' inbox keeps per person: which tickets each user has read, and saved views.

-- A ticket is unread for a user until opened, and again once it changes after that
-- (`tickets.updated_at > read_at`).
create table ticket_reads (
    user_id   uuid not null,
    ticket_id uuid not null,
    read_at   timestamptz not null,
    primary key (user_id, ticket_id)
);

-- A user's saved inbox filters (the query parameters of `GET /v1/tickets`).
create table inbox_views (
    id         uuid primary key,
    user_id    uuid not null references api_users (id),
    name       text not null,
    query      jsonb not null,
    created_at timestamptz not null default now(),
    unique (user_id, name)
);
