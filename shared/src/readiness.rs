//! Whether a replica can do its work, for its own loops and for `/ready`.
//!
//! Two things make a replica unready. The database being unreachable: then its consumers stop pulling
//! and keep what they hold (see [`crate::consumer`]), so an outage costs time and never dead-letters a
//! message, and `/ready` answers 503 so nobody sends it work; when the database answers again it
//! resumes by itself. And one of its tasks having ended before shutdown (see [`crate::runtime`]): that
//! never heals, so the replica also stops and exits non-zero for its orchestrator to replace it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How long a probe may take before the database counts as unreachable. A healthy server answers
/// `select 1` in well under a millisecond; a few seconds rides out a busy moment.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How often [`DatabaseWatch::run`] probes while the database answers: `/ready` turns red within this
/// long of an outage even on an idle replica (a busy one notices at its next failed batch).
const PROBE_EVERY_UP: Duration = Duration::from_secs(2);

/// How often it probes while the database does not answer: how soon work resumes after an outage.
const PROBE_EVERY_DOWN: Duration = Duration::from_millis(500);

/// The database's reachability as this replica last saw it, shared by its consumer lanes and `/ready`.
#[derive(Clone)]
pub struct DatabaseWatch {
    pool: PgPool,
    up: Arc<watch::Sender<bool>>,
}

impl DatabaseWatch {
    /// A watch on `pool`'s server, assumed up (the replica has just connected to it).
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            up: Arc::new(watch::Sender::new(true)),
        }
    }

    /// Whether the last probe (or failure report) found the database reachable.
    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    /// Asks the database now, records the answer and returns it. A consumer calls this when a batch
    /// failed, to tell an outage (hold the batch) from a fault of the batch itself (retry it).
    pub async fn probe(&self) -> bool {
        let answer = tokio::time::timeout(
            PROBE_TIMEOUT,
            sqlx::query_scalar::<_, i32>("select 1").fetch_one(&self.pool),
        )
        .await;
        let error = match answer {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {PROBE_TIMEOUT:?}")),
        };
        self.record(error.as_deref());
        error.is_none()
    }

    /// Records a probe's result: `None` when the database answered, else why not.
    fn record(&self, error: Option<&str>) {
        let up = error.is_none();
        let was = self.up.send_replace(up);
        metrics::gauge!("loopdesk_database_up").set(if up { 1.0 } else { 0.0 });
        match (was, up) {
            (true, false) => tracing::error!(
                error = error.unwrap_or_default(),
                "database unreachable: consumers stop pulling and hold what they have"
            ),
            (false, true) => tracing::info!("database reachable again: consumers resume"),
            _ => {}
        }
    }

    /// Returns once the database is up (at once if it is), or `false` on shutdown.
    pub async fn until_up(&self, shutdown: &CancellationToken) -> bool {
        let mut rx = self.up.subscribe();
        tokio::select! {
            up = rx.wait_for(|up| *up) => up.is_ok(),
            _ = shutdown.cancelled() => false,
        }
    }

    /// Returns when the database is found down (never returns while it stays up).
    pub async fn until_down(&self) {
        let mut rx = self.up.subscribe();
        if rx.wait_for(|up| !*up).await.is_err() {
            // The sender lives as long as any clone of this watch: only reachable at teardown.
            std::future::pending::<()>().await;
        }
    }

    /// Probes until `shutdown`: every few seconds while the database answers, twice a second while it
    /// does not, so work resumes soon after it returns.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let every = if self.probe().await {
                PROBE_EVERY_UP
            } else {
                PROBE_EVERY_DOWN
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// Everything `/ready` looks at besides the NATS connection.
#[derive(Clone)]
pub struct Readiness {
    pub database: DatabaseWatch,
    /// The first task that ended before shutdown (or panicked), with why.
    failed: Arc<Mutex<Option<String>>>,
}

impl Readiness {
    pub fn new(database: DatabaseWatch) -> Self {
        Self {
            database,
            failed: Arc::default(),
        }
    }

    /// Records that a task ended when it should not have; the replica is unready from now on.
    pub fn task_failed(&self, what: String) {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed.get_or_insert(what);
    }

    /// Why the replica is stopping, if one of its tasks failed.
    pub fn failed_task(&self) -> Option<String> {
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
