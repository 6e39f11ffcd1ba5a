-- api: browser sessions, account lifecycle (disable, password change, token expiry) and sign-in limits.

-- A disabled user can neither sign in nor use a session or token it already holds.
alter table api_users add column disabled_at timestamptz;
alter table api_users add column password_changed_at timestamptz;

-- Tokens expire; a listing shows when each was last used (updated at most once a minute).
alter table api_tokens add column expires_at timestamptz;
update api_tokens set expires_at = created_at + interval '90 days' where expires_at is null;
alter table api_tokens alter column expires_at set not null;
alter table api_tokens add column last_used_at timestamptz;
alter table api_tokens add column label text;

-- Browser sessions: the cookie holds a random secret, stored here as its SHA-256 digest. A session ends
-- when revoked, after `expires_at` (the absolute limit) or when unused for the idle limit
-- (`last_seen_at`, refreshed at most once a minute).
create table api_sessions (
    id           uuid primary key,
    user_id      uuid not null references api_users (id),
    token_hash   text not null unique,
    created_at   timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    expires_at   timestamptz not null,
    revoked_at   timestamptz,
    user_agent   text,
    client_ip    inet
);
create index api_sessions_user_live_idx on api_sessions (user_id) where revoked_at is null;

-- Failed sign-ins per key (`name:<name>` or `addr:<ip>`) in a fixed window; a key at its limit is
-- refused until the window ends. Shared by every api replica.
create table login_failures (
    key          text primary key,
    window_start timestamptz not null,
    failures     integer not null
);

-- The bootstrap admin token lives in the environment; once revoked it is refused even if still set.
create table revoked_bootstrap_tokens (
    token_hash text primary key,
    revoked_at timestamptz not null default now()
);
