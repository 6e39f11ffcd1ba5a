-- Full-text (substring) search moves to its own table. On `tickets` the trigram index was re-written for
-- every non-HOT update of a ticket, and every step of the pipeline updates its ticket (classification,
-- routing, assignment, resolution), each time inserting some hundred trigram entries for a description
-- that had not changed. Here it is written once, when the ticket is, in the same transaction.
create table ticket_search (
    ticket_id   uuid primary key,
    description text not null
);
insert into ticket_search (ticket_id, description) select id, description from tickets;
create index ticket_search_description_trgm_idx on ticket_search using gin (description gin_trgm_ops);
drop index if exists tickets_description_trgm_idx;

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
