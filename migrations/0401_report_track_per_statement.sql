-- Report deltas per statement instead of per row. The row trigger of 0400 ran PL/pgSQL and inserted one
-- delta row for every ticket a worker wrote: a 500-ticket intake batch paid 500 trigger calls and 500
-- delta inserts inside its transaction. These statement triggers read the statement's transition tables
-- and insert one delta row per (hour, department, category, channel, agent) group, summed, so a batch
-- costs one insert of a few rows. The rollups stay exact: deltas are additive either way.
drop trigger if exists tickets_report_track on tickets;
drop function if exists report_track();

-- Sums a statement's per-ticket contributions by group and records the groups that changed anything.
create function report_add(deltas report_deltas[]) returns void language sql as $$
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
        or sum(d.promoters) <> 0 or sum(d.detractors) <> 0
$$;

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
