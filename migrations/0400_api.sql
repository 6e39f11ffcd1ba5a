-- api: users and their tokens, the handling columns people change on a ticket, and the report rollups.
-- Columns owned by other workers (router's classification) are added `if not exists`, so the order in
-- which the router's and the api's migrations were written does not matter.

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

-- Classification (written by the router, corrected by people).
alter table tickets add column if not exists category text;
alter table tickets add column if not exists lead_department text;
alter table tickets add column if not exists departments text[] not null default '{}';
alter table tickets add column if not exists owner text;
-- Handling (written by the api).
alter table tickets add column if not exists first_reply_at timestamptz;
alter table tickets add column if not exists last_contact_at timestamptz;
alter table tickets add column if not exists contacts integer not null default 0;
alter table tickets add column if not exists resolved_at timestamptz;
alter table tickets add column if not exists resolution text;
alter table tickets add column if not exists unresolved_reason text;
alter table tickets add column if not exists first_contact_resolved boolean;
alter table tickets add column if not exists status_before_wait text;
alter table tickets add column if not exists solution text;
alter table tickets add column if not exists solution_approved_by text;
alter table tickets add column if not exists solution_approved_at timestamptz;
alter table tickets add column if not exists report_reviewed_by text;
alter table tickets add column if not exists report_reviewed_at timestamptz;
alter table tickets add column if not exists follow_up_plan text;
alter table tickets add column if not exists merged_into uuid references tickets (id);
alter table tickets add column if not exists archived_at timestamptz;
alter table tickets add column if not exists archived_by text;
alter table tickets add column if not exists imported boolean not null default false;
-- The survey answer as last reported (satisfied / basically_satisfied / unsatisfied, NPS 0-10).
alter table tickets add column if not exists survey_satisfaction text;
alter table tickets add column if not exists survey_nps smallint;
alter table tickets add column if not exists survey_comment text;

create index if not exists tickets_list_idx on tickets (submitted_at desc, id desc);
create index if not exists tickets_lead_department_idx on tickets (lead_department, submitted_at desc);
create index if not exists tickets_owner_idx on tickets (owner) where owner is not null;
-- Open work, for the overdue/unresolved list: only tickets not yet resolved or archived are indexed.
create index if not exists tickets_open_idx on tickets (submitted_at)
    where status not in ('resolved', 'archived');

-- Substring search in Chinese and English: trigram indexes serve `ilike '%…%'` for any script.
create extension if not exists pg_trgm;
create index if not exists tickets_description_trgm_idx on tickets using gin (description gin_trgm_ops);

-- Report rollups. Each ticket contributes to one UTC hour (of its submit time) in five dimensions
-- (all, department, category, channel, agent). Writers never lock a shared counter: a trigger appends
-- the difference a ticket change makes to `report_deltas`; the api folds deltas into `report_rollup`
-- every few seconds; reports read rollup + pending deltas, so they are exact at any moment.
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
-- Definitions (SPEC Metrics): resolved = resolution full or partial with a resolved time;
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

create function report_track() returns trigger language plpgsql as $$
begin
    if tg_op = 'UPDATE' and (old.submitted_at, old.lead_department, old.category, old.channel, old.owner,
            old.resolved_at, old.resolution, old.first_reply_at, old.first_contact_resolved,
            old.survey_satisfaction, old.survey_nps)
        is not distinct from (new.submitted_at, new.lead_department, new.category, new.channel, new.owner,
            new.resolved_at, new.resolution, new.first_reply_at, new.first_contact_resolved,
            new.survey_satisfaction, new.survey_nps) then
        return null;
    end if;
    if tg_op in ('UPDATE', 'DELETE') then
        insert into report_deltas (bucket, department, category, channel, agent, tickets, resolved, resolution_secs, first_responses, first_response_secs, fcr, survey_answers, satisfied, nps_answers, promoters, detractors)
            select * from report_delta_row(old, -1);
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        insert into report_deltas (bucket, department, category, channel, agent, tickets, resolved, resolution_secs, first_responses, first_response_secs, fcr, survey_answers, satisfied, nps_answers, promoters, detractors)
            select * from report_delta_row(new, 1);
    end if;
    return null;
end $$;
create trigger tickets_report_track after insert or update or delete on tickets
    for each row execute function report_track();

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
