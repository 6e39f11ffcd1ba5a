//! The transactional outbox (SPEC invariant 1).
//!
//! A worker writes its state change and the events announcing it in one transaction
//! ([`enqueue`]); the [`OutboxRelay`] publishes committed rows to JetStream with `Nats-Msg-Id` set to the
//! row's id, so an event goes out at least once and the stream drops a second copy. Every replica of
//! every worker may run a relay: rows are claimed with `FOR UPDATE SKIP LOCKED`. A relay is woken in
//! process when its worker commits events, and polls for the rest.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::HeaderMap;
use serde::Serialize;
use std::sync::Arc;

use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("event could not be serialised: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("publish to JetStream failed: {0}")]
    Publish(String),
}

/// One event to publish once the surrounding transaction commits.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub msg_id: Uuid,
    pub subject: String,
    pub payload: Vec<u8>,
}

impl OutboxMessage {
    pub fn json<T: Serialize>(subject: impl Into<String>, event: &T) -> Result<Self, OutboxError> {
        Ok(Self {
            msg_id: Uuid::now_v7(),
            subject: subject.into(),
            payload: serde_json::to_vec(event)?,
        })
    }
}

/// Events this process has written to the outbox (committed or not): a batch that moved it has events
/// for the relay (see [`crate::consumer::Waking`]).
static ENQUEUED: AtomicU64 = AtomicU64::new(0);

/// How many events this process has enqueued so far.
pub fn enqueued_so_far() -> u64 {
    ENQUEUED.load(Ordering::Acquire)
}

/// Adds events to the outbox inside the caller's transaction, in one statement however many there are.
pub async fn enqueue(
    conn: &mut PgConnection,
    messages: &[OutboxMessage],
) -> Result<(), OutboxError> {
    if messages.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = messages.iter().map(|m| m.msg_id).collect();
    let subjects: Vec<&str> = messages.iter().map(|m| m.subject.as_str()).collect();
    let payloads: Vec<&[u8]> = messages.iter().map(|m| m.payload.as_slice()).collect();
    sqlx::query(
        "insert into outbox (msg_id, subject, payload)
         select * from unnest($1::uuid[], $2::text[], $3::bytea[])",
    )
    .bind(&ids)
    .bind(&subjects)
    .bind(&payloads)
    .execute(conn)
    .await?;
    ENQUEUED.fetch_add(messages.len() as u64, Ordering::AcqRel);
    Ok(())
}

/// Publishes committed outbox rows.
pub struct OutboxRelay {
    pool: PgPool,
    js: jetstream::Context,
    /// Rows published per transaction: large enough to amortise the commit, small enough to keep latency low.
    batch: i64,
    /// Woken after this process commits events (see [`crate::consumer::Waking`]).
    wake: Arc<Notify>,
    /// Poll interval: finds rows other processes committed (an api replica, a script) and any wake
    /// that came while a pass was running.
    poll: Duration,
    /// Where the bus is authenticated, the subjects this process's user may publish, as regular
    /// expressions: the outbox is shared by every worker, and a row of another service's would be
    /// refused by the server. `None` claims every row.
    only: Option<Vec<String>>,
}

/// What one pass of the relay did, deciding whether it sleeps.
#[derive(Debug, PartialEq, Eq)]
pub enum RelayOutcome {
    Published(usize),
    Empty,
}

impl OutboxRelay {
    pub fn new(pool: PgPool, js: jetstream::Context, wake: Arc<Notify>) -> Self {
        Self {
            pool,
            js,
            batch: 1000,
            wake,
            poll: Duration::from_millis(100),
            only: None,
        }
    }

    /// Claims only rows whose subject matches one of `patterns` (NATS subject patterns): what this
    /// process's bus user may publish (see [`crate::bus_access`]).
    pub fn only_subjects(mut self, patterns: &[String]) -> Self {
        self.only = Some(
            patterns
                .iter()
                .map(|p| crate::bus_access::subject_regex(p))
                .collect(),
        );
        self
    }

    /// Publishes one batch: claim (delete) rows, publish them all (pipelined), wait for every ack, commit.
    /// A failure rolls back, so the rows are published again later; the stream drops the duplicates.
    pub async fn publish_batch(&self) -> Result<RelayOutcome, OutboxError> {
        // A queue table's statistics are always wrong: it swings between empty and thousands of rows
        // within a second, and its pages are mostly rows deleted a moment ago. Planned from them, this
        // claim became a sequential scan and sort of every dead row, run by every relay on every pass
        // (measured: 15 % of the whole machine's CPU at 1,000 tickets/s). Walking the primary key in
        // order is always the right plan, so it is the only one allowed here. The setting travels with
        // the `begin`, in the same round trip.
        let mut tx = self
            .pool
            .begin_with("begin; set local enable_seqscan = off")
            .await?;
        // Claimed and deleted in one statement: the rows stay locked until the commit, so other
        // relays skip them, and a failed publish rolls the delete back. (`= any(array(…))` keeps
        // the delete on the primary key; `in (…)` was planned as a join over the whole table.)
        let mut rows: Vec<(i64, Uuid, String, Vec<u8>)> = sqlx::query_as(
            "delete from outbox where seq = any(array(
                 select seq from outbox where $2::text[] is null or subject ~ any($2)
                 order by seq limit $1 for update skip locked))
             returning seq, msg_id, subject, payload",
        )
        .bind(self.batch)
        .bind(&self.only)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(RelayOutcome::Empty);
        }
        // In the order they were written, as the claim read them.
        rows.sort_unstable_by_key(|r| r.0);
        let mut acks = Vec::with_capacity(rows.len());
        for (_, msg_id, subject, payload) in &rows {
            let mut headers = HeaderMap::new();
            headers.insert(
                async_nats::header::NATS_MESSAGE_ID,
                msg_id.to_string().as_str(),
            );
            let ack = self
                .js
                .publish_with_headers(subject.clone(), headers, payload.clone().into())
                .await
                .map_err(|e| OutboxError::Publish(e.to_string()))?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(|e| OutboxError::Publish(e.to_string()))?;
        }
        tx.commit().await?;
        metrics::counter!("loopdesk_outbox_published_total").increment(rows.len() as u64);
        Ok(RelayOutcome::Published(rows.len()))
    }

    /// Runs until `shutdown` is cancelled; whatever is committed by then is published first.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failures: u32 = 0;
        let mut last_lag_report = std::time::Instant::now() - LAG_REPORT_EVERY;
        loop {
            match self.publish_batch().await {
                Ok(RelayOutcome::Published(n)) => {
                    failures = 0;
                    // A full batch may have left rows behind: go again at once. A partial one took
                    // everything committed when it looked; what this process committed since has
                    // woken the relay (the permit is kept), so the wait below returns at once for
                    // it, and the empty pass that used to follow every wake is saved.
                    if n as i64 >= self.batch {
                        continue;
                    }
                }
                Ok(RelayOutcome::Empty) => failures = 0,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, failures, "outbox relay pass failed; will retry");
                    let backoff = Duration::from_millis(100 * 2u64.pow(failures.min(6)));
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    continue;
                }
            }
            if shutdown.is_cancelled() {
                return;
            }
            // Idle: the outbox is (nearly) drained; report what is left for ops, at most once a second.
            if last_lag_report.elapsed() >= LAG_REPORT_EVERY {
                last_lag_report = std::time::Instant::now();
                if let Ok(lag) = pending_span(&self.pool).await {
                    metrics::gauge!("loopdesk_outbox_lag").set(lag as f64);
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => {
                    // Drain what is already committed before exiting.
                    while let Ok(RelayOutcome::Published(_)) = self.publish_batch().await {}
                    return;
                }
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }
}

/// How often an idle relay refreshes the `loopdesk_outbox_lag` gauge.
const LAG_REPORT_EVERY: Duration = Duration::from_secs(1);

/// The span of sequence numbers still waiting: an upper bound of the rows not yet published (rows
/// claimed and deleted out of order leave holes), read from the two ends of the primary key. It is
/// what the relays report on every idle pass: an exact `count(*)` scans the whole table, dead rows
/// included, and with a relay in every replica of every worker those scans once took more of the
/// database's time than the work itself.
pub async fn pending_span(pool: &PgPool) -> Result<i64, OutboxError> {
    Ok(
        sqlx::query_scalar("select coalesce(max(seq) - min(seq) + 1, 0)::bigint from outbox")
            .fetch_one(pool)
            .await?,
    )
}

/// Rows not yet published, counted exactly (the ops command's figure).
pub async fn pending(pool: &PgPool) -> Result<i64, OutboxError> {
    Ok(sqlx::query_scalar("select count(*) from outbox")
        .fetch_one(pool)
        .await?)
}
