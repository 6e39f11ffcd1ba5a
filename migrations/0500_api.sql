-- api: its users and their tokens, the ticket indexes its lists and reports read, substring search,
-- and the report rollups. The handling columns people change on a ticket are in 0001_foundation.

-- People who use the api. Agents and supervisors belong to one department; inspectors, admins and ops
-- may have none (they see every department).
create table api_users (
    id            uuid primary key,
    name          text not null unique,
    role          text not null check (role in ('agent', 'inspector', 'supervisor', 'admin', 'ops')),
    department    text,
    -- argon2id PHC string; null for users who only ever get tokens issued by an admin.
    password_hash text,
    created_at    timestamptz not null default now(),
    check (role not in ('agent', 'supervisor') or department is not null)
);

-- Bearer tokens, stored as SHA-256 digests of the random secret: a leaked table reveals no token.
create table api_tokens (
    id          uuid primary key,
    user_id     uuid not null references api_users (id),
    token_hash  text not null unique,
    created_at  timestamptz not null default now(),
    -- Revocation is immediate: every request looks the token up.
    revoked_at  timestamptz
);
create index api_tokens_user_idx on api_tokens (user_id);

-- The ticket list: newest first, by department, by owner; open work for the overdue/unresolved list
-- (only tickets not yet resolved or archived are indexed).
create index tickets_list_idx on tickets (submitted_at desc, id desc);
create index tickets_lead_department_idx on tickets (lead_department, submitted_at desc);
create index tickets_owner_idx on tickets (owner) where owner is not null;
create index tickets_open_idx on tickets (submitted_at)
    where status not in ('resolved', 'archived');

-- Substring search in Chinese and English: trigram indexes serve `ilike '%…%'` for any script. The
-- descriptions live in a table of their own, written once with the ticket by statement triggers (every
-- writer of tickets is covered): on `tickets` the index would be rewritten by every update of a
-- ticket, and every step of the pipeline updates it.
create extension if not exists pg_trgm;
create table ticket_search (
    ticket_id   uuid primary key,
    description text not null
);
create index ticket_search_description_trgm_idx on ticket_search using gin (description gin_trgm_ops);

-- Every writer of tickets (intake, import, scripts) is covered by the triggers, once per statement.
create function ticket_search_add() returns trigger language plpgsql as $$
begin
    insert into ticket_search (ticket_id, description) select id, description from new_rows;
    return null;
end $$;
create trigger tickets_search_insert after insert on tickets
    referencing new table as new_rows
    for each statement execute function ticket_search_add();

-- Descriptions are redacted at intake and not edited afterwards; should one be, search follows it.
create function ticket_search_edit() returns trigger language plpgsql as $$
begin
    update ticket_search set description = new.description where ticket_id = new.id;
    return null;
end $$;
create trigger tickets_search_edit after update of description on tickets
    for each row when (old.description is distinct from new.description)
    execute function ticket_search_edit();

-- Report rollups. Each ticket contributes to one UTC hour (of its submit time) in five dimensions
-- (all, department, category, channel, agent). Writers never lock a shared counter: statement triggers
-- on `tickets` append the difference a statement's changes make to `report_deltas` (whoever writes the
-- tickets); the api folds deltas into `report_rollup` every few seconds; reports read rollup + pending
-- deltas, so they are exact at any moment.
create table report_rollup (
    dim                 text not null,
    bucket              timestamptz not null,
    key                 text not null,
    tickets             bigint not null default 0,
    resolved            bigint not null default 0,
    resolution_secs     double precision not null default 0,
    first_responses     bigint not null default 0,
    first_response_secs double precision not null default 0,
    fcr                 bigint not null default 0,
    survey_answers      bigint not null default 0,
    satisfied           bigint not null default 0,
    nps_answers         bigint not null default 0,
    promoters           bigint not null default 0,
    detractors          bigint not null default 0,
    primary key (dim, bucket, key)
);

create table report_deltas (
    id                  bigserial primary key,
    bucket              timestamptz not null,
    department          text not null,
    category            text not null,
    channel             text not null,
    agent               text not null,
    tickets             bigint not null,
    resolved            bigint not null,
    resolution_secs     double precision not null,
    first_responses     bigint not null,
    first_response_secs double precision not null,
    fcr                 bigint not null,
    survey_answers      bigint not null,
    satisfied           bigint not null,
    nps_answers         bigint not null,
    promoters           bigint not null,
    detractors          bigint not null
);
create index report_deltas_bucket_idx on report_deltas (bucket);

-- What one ticket row contributes to the rollups (`sign` = 1 to add, -1 to take away).
-- Definitions (docs/domain.md "Metrics"): resolved = resolution full or partial with a resolved time;
-- first response = first reply - submit; resolution time = resolved - submit;
-- first-contact resolution = resolved and resolved at the first contact.
create function report_delta_row(t tickets, sign integer) returns table (
    bucket timestamptz, department text, category text, channel text, agent text, tickets bigint,
    resolved bigint, resolution_secs double precision, first_responses bigint,
    first_response_secs double precision, fcr bigint, survey_answers bigint, satisfied bigint,
    nps_answers bigint, promoters bigint, detractors bigint
) language sql immutable as $$
    select date_trunc('hour', t.submitted_at),
           coalesce(t.lead_department, ''),
           coalesce(t.category, ''),
           coalesce(t.channel, ''),
           coalesce(t.owner, ''),
           sign::bigint,
           (sign * (t.resolved_at is not null and t.resolution in ('full', 'partial'))::int)::bigint,
           case when t.resolved_at is not null and t.resolution in ('full', 'partial')
                then sign * extract(epoch from t.resolved_at - t.submitted_at) else 0 end,
           (sign * (t.first_reply_at is not null)::int)::bigint,
           case when t.first_reply_at is not null
                then sign * extract(epoch from t.first_reply_at - t.submitted_at) else 0 end,
           (sign * (t.resolved_at is not null and t.resolution in ('full', 'partial')
                    and coalesce(t.first_contact_resolved, false))::int)::bigint,
           (sign * (t.survey_satisfaction is not null)::int)::bigint,
           (sign * coalesce(t.survey_satisfaction = 'satisfied', false)::int)::bigint,
           (sign * (t.survey_nps is not null)::int)::bigint,
           (sign * coalesce(t.survey_nps >= 9, false)::int)::bigint,
           (sign * coalesce(t.survey_nps <= 6, false)::int)::bigint
$$;

-- Sums a statement's per-ticket contributions by group and records the groups that changed anything.
-- PL/pgSQL so its insert is planned once per session, not at every call.
create function report_add(deltas report_deltas[]) returns void language plpgsql as $$
begin
    insert into report_deltas (bucket, department, category, channel, agent, tickets, resolved, resolution_secs, first_responses, first_response_secs, fcr, survey_answers, satisfied, nps_answers, promoters, detractors)
    select d.bucket, d.department, d.category, d.channel, d.agent, sum(d.tickets), sum(d.resolved),
           sum(d.resolution_secs), sum(d.first_responses), sum(d.first_response_secs), sum(d.fcr),
           sum(d.survey_answers), sum(d.satisfied), sum(d.nps_answers), sum(d.promoters), sum(d.detractors)
    from unnest(deltas) d
    group by 1, 2, 3, 4, 5
    -- A change that moves nothing between groups leaves no delta.
    having sum(d.tickets) <> 0 or sum(d.resolved) <> 0 or sum(d.resolution_secs) <> 0
        or sum(d.first_responses) <> 0 or sum(d.first_response_secs) <> 0 or sum(d.fcr) <> 0
        or sum(d.survey_answers) <> 0 or sum(d.satisfied) <> 0 or sum(d.nps_answers) <> 0
        or sum(d.promoters) <> 0 or sum(d.detractors) <> 0;
end $$;

-- Statement triggers: one delta insert of a few summed rows per statement that writes tickets, however
-- many tickets it writes.
create function report_track_insert() returns trigger language plpgsql as $$
begin
    perform report_add(array(
        select row(null, d.*)::report_deltas from new_rows n, lateral report_delta_row(n, 1) d));
    return null;
end $$;

create function report_track_delete() returns trigger language plpgsql as $$
begin
    perform report_add(array(
        select row(null, d.*)::report_deltas from old_rows o, lateral report_delta_row(o, -1) d));
    return null;
end $$;

-- An update contributes only when a reported column changed: minus the old row, plus the new one.
create function report_track_update() returns trigger language plpgsql as $$
begin
    perform report_add(array(
        select row(null, d.*)::report_deltas
        from old_rows o
        join new_rows n on n.id = o.id
        cross join lateral (
            select * from report_delta_row(o, -1) union all select * from report_delta_row(n, 1)
        ) d
        where (o.submitted_at, o.lead_department, o.category, o.channel, o.owner, o.resolved_at, o.resolution,
               o.first_reply_at, o.first_contact_resolved, o.survey_satisfaction, o.survey_nps)
            is distinct from
              (n.submitted_at, n.lead_department, n.category, n.channel, n.owner, n.resolved_at, n.resolution,
               n.first_reply_at, n.first_contact_resolved, n.survey_satisfaction, n.survey_nps)));
    return null;
end $$;

create trigger tickets_report_insert after insert on tickets
    referencing new table as new_rows
    for each statement execute function report_track_insert();
create trigger tickets_report_update after update on tickets
    referencing old table as old_rows new table as new_rows
    for each statement execute function report_track_update();
create trigger tickets_report_delete after delete on tickets
    referencing old table as old_rows
    for each statement execute function report_track_delete();

-- Folds pending deltas into the rollup; safe to run from several replicas at once (rows are claimed
-- with skip locked). Returns how many deltas were folded.
create function report_fold(max_rows integer) returns bigint language plpgsql as $$
declare
    folded bigint;
begin
    with claimed as (
        delete from report_deltas
        where id in (select id from report_deltas order by id limit max_rows for update skip locked)
        returning *
    ), expanded as (
        select 'all' as dim, '' as key, c.* from claimed c
        union all select 'department', c.department, c.* from claimed c
        union all select 'category', c.category, c.* from claimed c
        union all select 'channel', c.channel, c.* from claimed c
        union all select 'agent', c.agent, c.* from claimed c
    ), summed as (
        select dim, e.bucket, key, sum(e.tickets) tickets, sum(e.resolved) resolved,
               sum(e.resolution_secs) resolution_secs, sum(e.first_responses) first_responses,
               sum(e.first_response_secs) first_response_secs, sum(e.fcr) fcr,
               sum(e.survey_answers) survey_answers, sum(e.satisfied) satisfied,
               sum(e.nps_answers) nps_answers, sum(e.promoters) promoters, sum(e.detractors) detractors,
               count(*) n
        from expanded e group by dim, e.bucket, key
    ), upserted as (
        insert into report_rollup as r (dim, bucket, key, tickets, resolved, resolution_secs, first_responses,
            first_response_secs, fcr, survey_answers, satisfied, nps_answers, promoters, detractors)
        select dim, bucket, key, tickets, resolved, resolution_secs, first_responses, first_response_secs,
               fcr, survey_answers, satisfied, nps_answers, promoters, detractors from summed
        on conflict (dim, bucket, key) do update set
            tickets = r.tickets + excluded.tickets,
            resolved = r.resolved + excluded.resolved,
            resolution_secs = r.resolution_secs + excluded.resolution_secs,
            first_responses = r.first_responses + excluded.first_responses,
            first_response_secs = r.first_response_secs + excluded.first_response_secs,
            fcr = r.fcr + excluded.fcr,
            survey_answers = r.survey_answers + excluded.survey_answers,
            satisfied = r.satisfied + excluded.satisfied,
            nps_answers = r.nps_answers + excluded.nps_answers,
            promoters = r.promoters + excluded.promoters,
            detractors = r.detractors + excluded.detractors
        returning 1
    )
    select coalesce(sum(n), 0) into folded from summed where dim = 'all';
    return folded;
end $$;

-- Rebuilds the rollups from the tickets themselves (after a bulk load with the trigger disabled, or to
-- check them): one scan, one transaction.
create function report_rebuild() returns void language plpgsql as $$
begin
    lock table report_deltas in exclusive mode;
    delete from report_deltas;
    delete from report_rollup;
    insert into report_deltas (bucket, department, category, channel, agent, tickets, resolved, resolution_secs, first_responses, first_response_secs, fcr, survey_answers, satisfied, nps_answers, promoters, detractors)
        select d.* from tickets t, lateral report_delta_row(t, 1) d;
    perform report_fold(2147483647);
end $$;
