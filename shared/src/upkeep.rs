//! Table upkeep on servers where autovacuum is off.
//!
//! Loopdesk's hot tables churn: the outbox is a queue (every row inserted is deleted a moment later),
//! timers are superseded and fired, tickets are updated at every step. Postgres needs two things from
//! that churn that autovacuum normally provides: dead rows reclaimed (or every scan of a queue table
//! wades through them) and planner statistics (or a statement such as `ticket_id = any($1)` over 300
//! ids is estimated to match most of the table and run as a sequential scan). A server run with `autovacuum = off` provides neither, so each
//! worker does the same job itself, with autovacuum's own default thresholds, and only there: where
//! autovacuum is on, this task only checks the setting.
//!
//! One process at a time does a pass (a session advisory lock), so replicas do not repeat each other.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How often the statistics views are checked.
const EVERY: Duration = Duration::from_secs(5);

/// The least time between two upkeeps of one table (autovacuum's default naptime).
const NAPTIME: Duration = Duration::from_secs(60);

/// Tables with fewer live rows than this are done at every pass that finds them over a threshold,
/// naptime or not: their upkeep is cheap, and a queue table (the outbox) piles up tens of thousands of
/// dead rows within a minute at full load, which every reader then wades through.
const SMALL_TABLE_ROWS: i64 = 10_000;

/// Advisory-lock key taken for a pass ("upkeep" in ASCII).
pub const LOCK_KEY: i64 = 0x7570_6b65_6570;

/// What one pass did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upkept {
    Vacuumed(String),
    Analyzed(String),
}

/// A table's churn since its last upkeep, from `pg_stat_user_tables`.
#[derive(Debug, sqlx::FromRow)]
struct Churn {
    relname: String,
    n_live_tup: i64,
    n_dead_tup: i64,
    n_mod_since_analyze: i64,
    n_ins_since_vacuum: i64,
}

impl Churn {
    /// autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor × live rows (defaults 50, 0.2), or
    /// the insert thresholds (1000, 0.2): an insert-only table needs vacuum too, to merge its GIN
    /// index's pending list in the background instead of in some writer's transaction.
    fn needs_vacuum(&self) -> bool {
        self.n_dead_tup as f64 > 50.0 + 0.2 * self.n_live_tup as f64
            || self.n_ins_since_vacuum as f64 > 1000.0 + 0.2 * self.n_live_tup as f64
    }

    /// autovacuum_analyze_threshold + autovacuum_analyze_scale_factor × live rows (defaults 50, 0.1).
    fn needs_analyze(&self) -> bool {
        self.n_mod_since_analyze as f64 > 50.0 + 0.1 * self.n_live_tup as f64
    }
}

/// Whether the server's autovacuum launcher runs.
pub async fn autovacuum_on(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let setting: String = sqlx::query_scalar("select current_setting('autovacuum')")
        .fetch_one(pool)
        .await?;
    Ok(setting == "on")
}

/// Vacuums and analyzes the tables of the current schemas whose churn passed autovacuum's thresholds.
/// Returns what it did; nothing when another process holds the pass.
pub async fn pass(pool: &PgPool) -> Result<Vec<Upkept>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mine: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(&mut *conn)
        .await?;
    if !mine {
        return Ok(Vec::new());
    }
    // A vacuum of a large table may rightly outlast the workers' statement bound; this session lifts
    // it and puts it back before the connection returns to the pool.
    sqlx::query("set statement_timeout = 0")
        .execute(&mut *conn)
        .await
        .ok();
    let result = async {
        // Autovacuum's naptime, per table: a large table that was just done waits, so a fast-growing
        // table is not analyzed at every pass (each ANALYZE samples 30,000 rows).
        let tables: Vec<Churn> = sqlx::query_as(
            "select relname::text, n_live_tup, n_dead_tup, n_mod_since_analyze, n_ins_since_vacuum
             from pg_stat_user_tables
             where schemaname = any(current_schemas(false))
               and (greatest(last_vacuum, last_analyze, '-infinity') < now() - $1::interval
                    or n_live_tup < $2)
             order by relname",
        )
        .bind(format!("{} seconds", NAPTIME.as_secs()))
        .bind(SMALL_TABLE_ROWS)
        .fetch_all(&mut *conn)
        .await?;
        let mut done = Vec::new();
        for t in tables {
            let name = format!("\"{}\"", t.relname.replace('"', "\"\""));
            // VACUUM cannot run in a transaction block: each is its own autocommitted statement.
            // SKIP_LOCKED: a table someone is altering is left for the next pass.
            // TRUNCATE FALSE: giving the empty pages at a table's end back to the file system takes an
            // ACCESS EXCLUSIVE lock, and every writer queues behind it. On the outbox, emptied and
            // refilled all the time, that stalled every batch's insert (`VacuumTruncate` and
            // `Lock:relation` waits) to give back pages needed a moment later.
            if t.needs_vacuum() {
                let analyze = if t.needs_analyze() { "analyze, " } else { "" };
                sqlx::query(&format!(
                    "vacuum ({analyze}skip_locked, truncate false) {name}"
                ))
                .execute(&mut *conn)
                .await?;
                done.push(Upkept::Vacuumed(t.relname.clone()));
                if !analyze.is_empty() {
                    done.push(Upkept::Analyzed(t.relname));
                }
            } else if t.needs_analyze() {
                sqlx::query(&format!("analyze (skip_locked) {name}"))
                    .execute(&mut *conn)
                    .await?;
                done.push(Upkept::Analyzed(t.relname));
            }
        }
        Ok(done)
    }
    .await;
    // Unlock on the same session whatever happened (a failed unlock dies with the connection).
    sqlx::query("select pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await
        .ok();
    if sqlx::query("reset statement_timeout")
        .execute(&mut *conn)
        .await
        .is_err()
    {
        conn.close_on_drop();
    }
    result
}

/// Runs passes until shutdown where autovacuum is off; where it is on, only waits for shutdown (a
/// task of the runtime runs until shutdown, see [`crate::runtime::Tasks::run_until_stopped`]).
pub async fn run(pool: PgPool, shutdown: CancellationToken) {
    match autovacuum_on(&pool).await {
        Ok(true) => return shutdown.cancelled().await,
        Ok(false) => tracing::info!("autovacuum is off on this server: workers keep the tables"),
        // Unknown (database down at start): try the passes anyway; they fail harmlessly.
        Err(e) => tracing::warn!(error = %e, "cannot read the autovacuum setting"),
    }
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
        match pass(&pool).await {
            Ok(done) if !done.is_empty() => tracing::debug!(?done, "table upkeep"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "table upkeep pass failed; will retry"),
        }
    }
}
