//! The retention job (`shared::retention`): each class of bookkeeping row is deleted once its
//! configured time is up and not before, one process at a time; tickets, their timeline and the report
//! tables are never touched, however old.

use shared::retention::{self, Purged, RetentionSettings};
use shared::testkit::TestContext;
use sqlx::Connection;

/// One old row (past its retention) and one recent row of every class, and a ticket two years old with
/// its timeline and a report row.
async fn seed(ctx: &TestContext) {
    let statements = [
        "insert into processed_messages (consumer, key, processed_at) values
           ('c', 'old', now() - interval '31 days'), ('c', 'recent', now() - interval '29 days')",
        "insert into sla_timers (ticket_id, clock, version, event, due_at, fired_at, outcome) values
           (gen_random_uuid(), 'first_response', 1, 'breach', now() - interval '100 days', now() - interval '91 days', 'fired'),
           (gen_random_uuid(), 'first_response', 1, 'breach', now() - interval '100 days', now() - interval '89 days', 'fired'),
           (gen_random_uuid(), 'first_response', 1, 'breach', now() - interval '100 days', null, null)",
        "insert into survey_answers (id, via, accepted, reason, raw, received_at) values
           (gen_random_uuid(), 'web', false, 'invalid_token', 'old', now() - interval '91 days'),
           (gen_random_uuid(), 'web', false, 'invalid_token', 'recent', now() - interval '89 days')",
        "insert into survey_answers (id, via, accepted, satisfaction, received_at) values
           (gen_random_uuid(), 'web', true, 'satisfied', now() - interval '800 days')",
        "insert into rejected_submissions (id, channel, reason, message, raw, source, received_at) values
           (gen_random_uuid(), 'web', 'invalid_json', 'm', 'old', 'http', now() - interval '91 days'),
           (gen_random_uuid(), 'web', 'invalid_json', 'm', 'recent', 'http', now() - interval '89 days')",
        "insert into api_users (id, name, role) values ('00000000-0000-0000-0000-000000000001', 'retention-test', 'admin')",
        "insert into api_tokens (id, user_id, token_hash, expires_at, revoked_at, label) values
           (gen_random_uuid(), '00000000-0000-0000-0000-000000000001', 'expired-old', now() - interval '31 days', null, 'old'),
           (gen_random_uuid(), '00000000-0000-0000-0000-000000000001', 'revoked-old', now() + interval '60 days', now() - interval '31 days', 'old'),
           (gen_random_uuid(), '00000000-0000-0000-0000-000000000001', 'expired-recent', now() - interval '29 days', null, 'recent'),
           (gen_random_uuid(), '00000000-0000-0000-0000-000000000001', 'live', now() + interval '60 days', null, 'live')",
        "insert into api_sessions (id, user_id, token_hash, expires_at, revoked_at, user_agent) values
           (gen_random_uuid(), '00000000-0000-0000-0000-000000000001', 's-expired-old', now() - interval '31 days', null, 'old'),
           (gen_random_uuid(), '00000000-0000-0000-0000-000000000001', 's-revoked-old', now() + interval '1 day', now() - interval '31 days', 'old'),
           (gen_random_uuid(), '00000000-0000-0000-0000-000000000001', 's-revoked-recent', now() + interval '1 day', now() - interval '29 days', 'recent'),
           (gen_random_uuid(), '00000000-0000-0000-0000-000000000001', 's-live', now() + interval '1 day', null, 'live')",
        "insert into login_failures (key, window_start, failures) values
           ('name:old', now() - interval '25 hours', 3), ('name:recent', now() - interval '23 hours', 3)",
        "insert into tickets (id, ticket_no, channel, external_id, submitted_at, received_at, description) values
           ('00000000-0000-0000-0000-0000000000aa', '20240101000001', 'web', 'old-ticket',
            now() - interval '2 years', now() - interval '2 years', 'two years old')",
        "insert into ticket_events (ticket_id, kind, actor, at) values
           ('00000000-0000-0000-0000-0000000000aa', 'created', 'intake', now() - interval '2 years')",
        "insert into report_rollup (dim, bucket, key, tickets) values ('all', now() - interval '2 years', '', 1)",
    ];
    for statement in statements {
        sqlx::query(statement)
            .execute(&ctx.pool)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

async fn count(ctx: &TestContext, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&ctx.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn each_class_is_deleted_once_its_time_is_up_and_the_record_never() {
    let ctx = TestContext::new().await;
    seed(&ctx).await;
    let settings = RetentionSettings::default();
    let mut purged = retention::pass(&ctx.pool, &settings).await.expect("pass");
    purged.sort_by_key(|p| p.table);
    let p = |table, rows| Purged { table, rows };
    assert_eq!(
        purged,
        vec![
            p("api_sessions", 2),
            p("api_tokens", 2),
            p("login_failures", 1),
            p("processed_messages", 1),
            p("rejected_submissions", 1),
            p("sla_timers", 1),
            p("survey_answers", 1),
        ],
        "exactly the rows past their retention"
    );
    for (sql, want, what) in [
        (
            "select count(*) from processed_messages where key = 'recent'",
            1,
            "recent processed key",
        ),
        (
            "select count(*) from sla_timers",
            2,
            "the recent fired timer and the pending one",
        ),
        (
            "select count(*) from sla_timers where fired_at is null",
            1,
            "a pending timer, however old",
        ),
        (
            "select count(*) from survey_answers where not accepted and raw = 'recent'",
            1,
            "recent refusal",
        ),
        (
            "select count(*) from survey_answers where accepted",
            1,
            "an accepted answer, however old",
        ),
        (
            "select count(*) from rejected_submissions where raw = 'recent'",
            1,
            "recent rejection",
        ),
        (
            "select count(*) from api_tokens where label <> 'old'",
            2,
            "recently expired and live tokens",
        ),
        (
            "select count(*) from api_sessions where user_agent <> 'old'",
            2,
            "recently revoked and live sessions",
        ),
        (
            "select count(*) from login_failures where key = 'name:recent'",
            1,
            "a current sign-in window",
        ),
        ("select count(*) from tickets", 1, "a two-year-old ticket"),
        ("select count(*) from ticket_events", 1, "its timeline"),
        ("select count(*) from report_rollup", 1, "its report row"),
        ("select count(*) from api_users", 1, "the user"),
    ] {
        assert_eq!(count(&ctx, sql).await, want, "kept: {what}");
    }
    assert_eq!(
        retention::pass(&ctx.pool, &settings)
            .await
            .expect("second pass"),
        Vec::new(),
        "nothing left to delete"
    );

    // Settings that would lose what is still needed are refused before a worker starts.
    let mut short = ctx.settings.clone();
    short.retention.processed_message_days = 7;
    assert!(
        short.validate().is_err(),
        "keys must outlive the streams' 14 days"
    );
}

#[tokio::test]
async fn only_one_process_runs_a_pass_at_a_time() {
    let ctx = TestContext::new().await;
    seed(&ctx).await;
    let mut other = sqlx::PgConnection::connect_with(
        &ctx.settings.database.connect_options().expect("options"),
    )
    .await
    .expect("second session");
    let held: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
        .bind(retention::LOCK_KEY)
        .fetch_one(&mut other)
        .await
        .expect("lock");
    assert!(held);
    let settings = RetentionSettings::default();
    assert_eq!(
        retention::pass(&ctx.pool, &settings).await.expect("pass"),
        Vec::new(),
        "another process holds the pass"
    );
    // Unlocked explicitly: a closed session's locks go only when its backend has exited, which
    // may be after the next pass looks.
    let _: bool = sqlx::query_scalar("select pg_advisory_unlock($1)")
        .bind(retention::LOCK_KEY)
        .fetch_one(&mut other)
        .await
        .expect("unlock");
    other.close().await.ok();
    assert!(!retention::pass(&ctx.pool, &settings)
        .await
        .expect("pass")
        .is_empty());
}
