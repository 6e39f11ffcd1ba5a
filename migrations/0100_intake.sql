-- intake: submissions it refused, kept byte for byte with the reason (written by intake only).

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
