-- A ticket's clocks start with the first event about it after `ticket.created` (normally its
-- classification, a moment later), in the same transaction, instead of on their own: starting them
-- at creation and retargeting all of them at classification wrote every clock row and timer twice
-- and deleted the first timers again. Until then the ticket waits here, with what its creation said,
-- and the SLA worker starts the clocks of any ticket that waited longer than `sla.start_within_ms`
-- without another event (the router is down or slow). Deadlines count from the submission either way.
alter table sla_tickets
    add column start_pending_since timestamptz,
    add column submitted_at timestamptz,
    add column received_at timestamptz;
create index sla_tickets_start_pending_idx on sla_tickets (start_pending_since)
    where start_pending_since is not null;
