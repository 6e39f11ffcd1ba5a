-- The business's own setup (taxonomy, departments, routes, SLA policy, calendars, survey settings,
-- report targets) as versioned documents: one row per saved version of a kind, never updated, so who
-- changed what and when, the difference between versions and a one-step rollback all read this table.
-- The current document of a kind is its highest version. Every write goes through shared::setup, which
-- validates the whole setup (a route must name a known department, ...) before a version is added.
create table setup_documents (
    kind       text not null,
    version    integer not null check (version > 0),
    body       jsonb not null,
    -- `admin:li.wei`, or `seed` for the first-start defaults from config/.
    author     text not null,
    created_at timestamptz not null default now(),
    note       text not null default '',
    primary key (kind, version)
);
