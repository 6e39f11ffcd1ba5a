-- `updated_at` of the SLA's tables is set by the SLA worker's two upserts (`store::save_tickets`,
-- `store::save_clocks`), its only writers, instead of by a row trigger. The trigger was a PL/pgSQL
-- call for every updated row, and a ticket's clock rows are updated about ten times over its life
-- (classification, resolution, the survey, fired warnings).
drop trigger if exists sla_tickets_updated_at on sla_tickets;
drop trigger if exists sla_clocks_updated_at on sla_clocks;
