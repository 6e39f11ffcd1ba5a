//! Table upkeep where autovacuum is off (`shared::upkeep`): a churned queue table is vacuumed and
//! analyzed at every pass that finds it churned, by one process at a time, and a large table just done
//! waits for the next naptime.

use shared::testkit::TestContext;
use shared::upkeep::{self, Upkept};
use sqlx::Connection;

/// The outbox as a queue: 5,000 events published and deleted, as the relays do all day; the session's
/// statistics are flushed at once (they would otherwise reach the views within seconds).
async fn churn_outbox(ctx: &TestContext) {
    run(
        ctx,
        &[
            "insert into outbox (msg_id, subject, payload)
             select gen_random_uuid(), 'upkeep.test', '\\x00' from generate_series(1, 5000)",
            "delete from outbox",
        ],
    )
    .await;
}

fn touches(done: &[Upkept], table: &str) -> bool {
    done.iter()
        .any(|u| matches!(u, Upkept::Vacuumed(t) | Upkept::Analyzed(t) if t == table))
}

fn touches_outbox(done: &[Upkept]) -> bool {
    touches(done, "outbox")
}

/// Runs statements on one session and flushes its statistics to the views at once (they would
/// otherwise reach them within seconds; the flush happens when the session next goes idle).
async fn run(ctx: &TestContext, statements: &[&str]) {
    let mut conn = ctx.pool.acquire().await.expect("connection");
    for statement in statements
        .iter()
        .chain(&["select pg_stat_force_next_flush()", "select 1"])
    {
        sqlx::query(statement)
            .execute(&mut *conn)
            .await
            .expect("statement");
    }
}

#[tokio::test]
async fn a_churned_queue_table_is_vacuumed_and_analyzed_at_every_pass() {
    let ctx = TestContext::new().await;
    churn_outbox(&ctx).await;
    let done = upkeep::pass(&ctx.pool).await.expect("pass");
    assert!(
        done.contains(&Upkept::Vacuumed("outbox".into())),
        "the churned outbox is vacuumed: {done:?}"
    );
    assert!(
        done.contains(&Upkept::Analyzed("outbox".into())),
        "and analyzed: {done:?}"
    );
    let (dead, vacuumed): (i64, bool) = sqlx::query_as(
        "select n_dead_tup, last_vacuum is not null from pg_stat_user_tables where relname = 'outbox'",
    )
    .fetch_one(&ctx.pool)
    .await
    .expect("stats");
    assert!(vacuumed);
    assert_eq!(dead, 0, "the dead rows are reclaimed");

    // A queue is small: new churn is reclaimed at the next pass, not a minute later.
    churn_outbox(&ctx).await;
    let again = upkeep::pass(&ctx.pool).await.expect("second pass");
    assert!(
        again.contains(&Upkept::Vacuumed("outbox".into())),
        "the queue is vacuumed again: {again:?}"
    );
    // Nothing new: nothing to do.
    let idle = upkeep::pass(&ctx.pool).await.expect("third pass");
    assert!(!touches_outbox(&idle), "no churn, no upkeep: {idle:?}");
}

#[tokio::test]
async fn a_large_table_just_done_waits_for_the_naptime() {
    let ctx = TestContext::new().await;
    run(
        &ctx,
        &[
            "create table big_churn (id int primary key)",
            "insert into big_churn select generate_series(1, 20000)",
            "delete from big_churn where id <= 5000",
        ],
    )
    .await;
    let done = upkeep::pass(&ctx.pool).await.expect("pass");
    assert!(
        done.contains(&Upkept::Vacuumed("big_churn".into())),
        "15,000 live rows and 5,000 dead: vacuumed: {done:?}"
    );
    run(&ctx, &["delete from big_churn where id <= 9000"]).await;
    let again = upkeep::pass(&ctx.pool).await.expect("second pass");
    assert!(
        !touches(&again, "big_churn"),
        "a large table done less than a minute ago waits: {again:?}"
    );
}

#[tokio::test]
async fn only_one_process_runs_a_pass_at_a_time() {
    let ctx = TestContext::new().await;
    let mut other = sqlx::PgConnection::connect_with(
        &ctx.settings.database.connect_options().expect("options"),
    )
    .await
    .expect("second session");
    let held: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
        // Held here to play another process.
        .bind(upkeep::LOCK_KEY)
        .fetch_one(&mut other)
        .await
        .expect("lock");
    assert!(held);
    churn_outbox(&ctx).await;
    assert_eq!(
        upkeep::pass(&ctx.pool).await.expect("pass"),
        Vec::new(),
        "another process holds the pass"
    );
    // Released explicitly: a closed session's locks go only when its backend has exited, which
    // can be after the next pass has looked.
    let released: bool = sqlx::query_scalar("select pg_advisory_unlock($1)")
        .bind(upkeep::LOCK_KEY)
        .fetch_one(&mut other)
        .await
        .expect("unlock");
    assert!(released);
    other.close().await.ok();
    assert!(touches_outbox(
        &upkeep::pass(&ctx.pool).await.expect("pass")
    ));
}
