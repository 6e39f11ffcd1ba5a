//! Retention: the rows Loopdesk keeps only for a while, deleted by a job once their time is up.
//!
//! Some tables are bookkeeping that grows with every message and is useful only for a while: which
//! messages a consumer applied (needed only while JetStream could still redeliver them), fired SLA
//! timers, refused survey answers and rejected submissions (kept so nothing a customer sent is lost
//! while someone may look at it), api tokens and browser sessions that have expired or were revoked,
//! and sign-in failure counters. Without a limit they grow forever. Each class has a setting
//! (`[retention]`, in days) with a safe default, and every worker runs [`run`], which does a pass
//! every `retention.every_secs`; one process at a time does it (a session advisory lock).
//!
//! What the job never touches: tickets, their timeline (`ticket_events`), surveys and accepted
//! answers, and the report tables. They are the record a ticket's report and the period reports are
//! built from and are kept at least a year (in fact until someone deletes them): no setting here can
//! shorten that.

use std::time::Duration;

use serde::Deserialize;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// Advisory-lock key taken for a pass ("retain" in ASCII).
pub const LOCK_KEY: i64 = 0x7265_7461_696e;

/// Rows deleted per statement: a pass never holds many row locks or runs one long statement, so it
/// never stands in the workers' way even after a long time switched off.
const CHUNK: i64 = 5_000;

/// The least `processed_message_days`: JetStream keeps a message for 14 days
/// ([`crate::bus::max_age`]) and may deliver it again until then, so its processed key must outlive
/// it or a late redelivery would be applied twice.
pub const MIN_PROCESSED_MESSAGE_DAYS: u32 = 15;

/// How long each class of bookkeeping row is kept, in days after it stopped mattering.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RetentionSettings {
    /// Whether this worker takes part in the job (any one replica of any worker does a pass).
    pub enabled: bool,
    /// Seconds between passes.
    pub every_secs: u64,
    /// Consumers' processed-message keys, after they were applied (at least
    /// [`MIN_PROCESSED_MESSAGE_DAYS`]).
    pub processed_message_days: u32,
    /// SLA timers, after they fired (or were superseded or found stale).
    pub fired_timer_days: u32,
    /// Refused survey answers (forged or expired links, malformed replies), after they arrived.
    pub refused_answer_days: u32,
    /// Submissions intake refused, kept byte for byte, after they arrived.
    pub rejected_submission_days: u32,
    /// Api tokens, after they expired or were revoked.
    pub expired_token_days: u32,
    /// Browser sessions, after they expired or were revoked.
    pub expired_session_days: u32,
    /// Sign-in failure counters, after their window started.
    pub login_failure_days: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            every_secs: 3600,
            processed_message_days: 30,
            fired_timer_days: 90,
            refused_answer_days: 90,
            rejected_submission_days: 90,
            expired_token_days: 30,
            expired_session_days: 30,
            login_failure_days: 1,
        }
    }
}

/// A retention setting that would lose something still needed.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("retention.{0} must be at least {1} day(s)")]
    TooShort(&'static str, u32),
    #[error("retention.every_secs must be at least 1")]
    Every,
}

impl RetentionSettings {
    /// Refuses settings that would delete rows still needed: processed keys younger than the streams'
    /// retention, or any class kept less than a day (a typo for "keep").
    pub fn validate(&self) -> Result<(), RetentionError> {
        if self.every_secs == 0 {
            return Err(RetentionError::Every);
        }
        if self.processed_message_days < MIN_PROCESSED_MESSAGE_DAYS {
            return Err(RetentionError::TooShort(
                "processed_message_days",
                MIN_PROCESSED_MESSAGE_DAYS,
            ));
        }
        for (name, days) in self.classes().map(|c| (c.setting, c.days)) {
            if days < 1 {
                return Err(RetentionError::TooShort(name, 1));
            }
        }
        Ok(())
    }

    /// Every class of row the job deletes, with the condition that makes a row due.
    fn classes(&self) -> [Class; 7] {
        [
            Class {
                table: "processed_messages",
                setting: "processed_message_days",
                days: self.processed_message_days,
                due: "processed_at < $1",
            },
            Class {
                table: "sla_timers",
                setting: "fired_timer_days",
                days: self.fired_timer_days,
                due: "fired_at < $1",
            },
            Class {
                table: "survey_answers",
                setting: "refused_answer_days",
                days: self.refused_answer_days,
                due: "not accepted and received_at < $1",
            },
            Class {
                table: "rejected_submissions",
                setting: "rejected_submission_days",
                days: self.rejected_submission_days,
                due: "received_at < $1",
            },
            Class {
                table: "api_tokens",
                setting: "expired_token_days",
                days: self.expired_token_days,
                due: "least(expires_at, revoked_at) < $1",
            },
            Class {
                table: "api_sessions",
                setting: "expired_session_days",
                days: self.expired_session_days,
                due: "least(expires_at, revoked_at) < $1",
            },
            Class {
                table: "login_failures",
                setting: "login_failure_days",
                days: self.login_failure_days,
                due: "window_start < $1",
            },
        ]
    }
}

/// One class of row: its table, the setting that bounds it, and when a row is due (`$1` is the
/// cut-off time). `least` ignores nulls, so a token that is neither revoked nor expired is never due.
struct Class {
    table: &'static str,
    setting: &'static str,
    days: u32,
    due: &'static str,
}

/// How many rows one pass deleted from one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purged {
    pub table: &'static str,
    pub rows: u64,
}

/// Deletes every row whose retention is over, `CHUNK` rows per statement. Returns what it deleted
/// per table (tables with nothing due left out); nothing when another process holds the pass.
pub async fn pass(pool: &PgPool, settings: &RetentionSettings) -> Result<Vec<Purged>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mine: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(&mut *conn)
        .await?;
    if !mine {
        return Ok(Vec::new());
    }
    let result = async {
        let mut purged = Vec::new();
        for class in settings.classes() {
            let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(class.days));
            // By physical row id: one statement shape for every table, whatever its key.
            let statement = format!(
                "delete from {t} where ctid = any(array(select ctid from {t} where {due} limit {CHUNK}))",
                t = class.table,
                due = class.due,
            );
            let mut rows = 0;
            loop {
                let done = sqlx::query(&statement)
                    .bind(cutoff)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                rows += done;
                if done < CHUNK as u64 {
                    break;
                }
            }
            if rows > 0 {
                metrics::counter!("loopdesk_retention_deleted_total", "table" => class.table)
                    .increment(rows);
                purged.push(Purged {
                    table: class.table,
                    rows,
                });
            }
        }
        Ok(purged)
    }
    .await;
    // Unlock on the same session whatever happened (a failed unlock dies with the connection).
    if sqlx::query("select pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await
        .is_err()
    {
        conn.close_on_drop();
    }
    result
}

/// Runs a pass every `settings.every_secs` until shutdown (the first soon after start, so a worker
/// that restarts often still does them). A failed pass (the database away) is tried at the next.
pub async fn run(pool: PgPool, settings: RetentionSettings, shutdown: CancellationToken) {
    let every = Duration::from_secs(settings.every_secs.max(1));
    let mut wait = Duration::from_secs(60).min(every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = every;
        match pass(&pool, &settings).await {
            Ok(purged) if !purged.is_empty() => tracing::info!(?purged, "retention pass"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention pass failed; will retry"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_keys_cannot_outlive_less_than_the_streams() {
        RetentionSettings::default().validate().expect("defaults");
        let short = RetentionSettings {
            processed_message_days: 14,
            ..Default::default()
        };
        assert!(matches!(
            short.validate(),
            Err(RetentionError::TooShort("processed_message_days", 15))
        ));
        let zero = RetentionSettings {
            expired_session_days: 0,
            ..Default::default()
        };
        assert!(matches!(
            zero.validate(),
            Err(RetentionError::TooShort("expired_session_days", 1))
        ));
    }
}
