-- People as colleagues know them: a display name (李伟 for the login li.wei), and when each person
-- last signed in, for the admin's list of who holds which role. Written by the api (auth.rs, users.rs,
-- session.rs).
alter table api_users add column display_name text not null default ''
    check (char_length(display_name) <= 100);
alter table api_users add column last_signed_in_at timestamptz;
