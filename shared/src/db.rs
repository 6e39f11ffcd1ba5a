//! The Postgres pool and the one migration folder, applied at start-up and in tests.

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::config::{ConfigError, DatabaseSettings};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Every table of every service, in version order. Ranges: 0001–0099 foundation and intake,
/// 0100 router, 0200 SLA, 0300 survey, 0400 api.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

pub async fn connect(settings: &DatabaseSettings) -> Result<PgPool, DbError> {
    pool(settings, settings.connect_options()?).await
}

/// A pool whose sessions carry `loopdesk-{service}` as their `application_name`, so `pg_stat_activity`
/// (and whoever is looking at a busy database) sees which worker each connection belongs to.
pub async fn connect_as(settings: &DatabaseSettings, service: &str) -> Result<PgPool, DbError> {
    let options = settings
        .connect_options()?
        .application_name(&format!("loopdesk-{service}"));
    pool(settings, options).await
}

async fn pool(
    settings: &DatabaseSettings,
    options: sqlx::postgres::PgConnectOptions,
) -> Result<PgPool, DbError> {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        // sqlx pings every connection it hands out (`test_before_acquire`, on by default): a round
        // trip per query or transaction, kept on purpose. Without it a connection broken by a
        // database restart is handed out once more and its caller gets an error instead of a new
        // connection (docs/benchmarks.md, "HTTP intake", weighs the trade).
        .connect_with(options)
        .await
        .map_err(DbError::Connect)
}

/// Applies pending migrations on a session of its own without the statement bound (an index built over
/// a large table may rightly take longer than any worker statement), closed afterwards.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    let unbounded = (*pool.connect_options())
        .clone()
        .options([("statement_timeout", "0")]);
    let session = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(unbounded)
        .await
        .map_err(DbError::Connect)?;
    let migrated = MIGRATOR.run(&session).await;
    session.close().await;
    migrated?;
    Ok(())
}
