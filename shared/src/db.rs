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

/// A connection back in the pool for longer than this is pinged before it is handed out again.
const PING_AFTER_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

async fn pool(
    settings: &DatabaseSettings,
    options: sqlx::postgres::PgConnectOptions,
) -> Result<PgPool, DbError> {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        // sqlx pings every connection it hands out by default: a round trip before each query or
        // transaction (three of the fifteen a web form batch made). A connection used
        // within the last second is handed out as is (a break in that second fails the next
        // statement, which every caller treats as a transient error); one idle for longer, as after
        // an outage, is pinged and replaced when it does not answer.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
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
