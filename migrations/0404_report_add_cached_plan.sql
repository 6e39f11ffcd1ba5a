-- `report_add` (0401) was a SQL-language function. Postgres plans the body of a SQL function that it
-- cannot inline (this one inserts) at every call, and the report statement triggers call it once per
-- statement that writes tickets: every intake batch and every router batch paid for planning an
-- aggregate insert (measured: 2 % of the machine's CPU at 1,000 tickets/s, most of the report
-- triggers' cost). As PL/pgSQL, the statement is planned once per session and reused. Same body.
create or replace function report_add(deltas report_deltas[]) returns void language plpgsql as $$
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
