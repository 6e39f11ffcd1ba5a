//! The durable survey timers: each open survey has one `due_at` (send, remind or expire, decided by its
//! status). Due rows are claimed with `FOR UPDATE SKIP LOCKED`, so any number of replicas fire each timer
//! once; the state change, the timeline entries and the outgoing events commit in one transaction.
//! Only pending rows are indexed (`surveys_due_idx ... where due_at is not null`), so polling stays cheap
//! however many surveys have closed (docs/domain.md, invariant 9).

use std::time::Duration as StdDuration;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::json;
use shared::messages::survey::{
    RequestKind, SurveyChannel, SurveyExpired, SurveyRecipient, SurveyRequest,
};
use shared::messages::SCHEMA_VERSION;
use shared::outbox::{self, OutboxError, OutboxMessage};
use shared::timeline::{self, TimelineEntry};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{Ctx, ACTOR};

#[derive(Debug, thiserror::Error)]
pub enum TimerError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// A claimed survey whose timer is due.
#[derive(Debug, sqlx::FromRow)]
struct Due {
    id: Uuid,
    ticket_id: Uuid,
    ticket_no: String,
    cycle: i32,
    status: String,
    channel: String,
    recipient_customer_id: Option<String>,
    recipient_phone: Option<String>,
    recipient_email: Option<String>,
    recipient_name: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

/// The new state of one fired survey.
struct Change {
    id: Uuid,
    status: String,
    due_at: Option<DateTime<Utc>>,
    sent_at: Option<DateTime<Utc>>,
    reminded_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
}

/// Fires every timer due at the clock's now, up to `limit` in one transaction; returns how many fired.
pub async fn fire_due(ctx: &Ctx, limit: i64) -> Result<usize, TimerError> {
    let now = ctx.clock.now();
    let settings = ctx.settings();
    let mut tx = ctx.pool.begin().await?;
    // Claimed by the row lock alone: every claimed row is written once, below, with its new state
    // (a closed survey's stray timer cleared too). Clearing `due_at` here as well wrote a second
    // version of each row, and `due_at` is indexed, so each version went into every index.
    let due: Vec<Due> = sqlx::query_as(
        "select id, ticket_id, ticket_no, cycle, status, channel, recipient_customer_id,
                recipient_phone, recipient_email, recipient_name, expires_at
         from surveys where due_at is not null and due_at <= $1
         order by due_at limit $2 for update skip locked",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let mut changes = Vec::with_capacity(due.len());
    let mut events = Vec::new();
    let mut entries = Vec::new();
    for s in &due {
        let channel = SurveyChannel::parse(&s.channel).unwrap_or(SurveyChannel::Link);
        let quiet = settings.quiet().contains(now);
        let mut change = Change {
            id: s.id,
            status: s.status.clone(),
            due_at: None,
            sent_at: None,
            reminded_at: None,
            expires_at: None,
            closed_at: None,
        };
        let expired = s.expires_at.is_some_and(|e| now >= e);
        match s.status.as_str() {
            // Fired late into quiet hours (the worker was down): wait for the morning.
            "scheduled" if quiet => change.due_at = Some(settings.quiet().next_allowed(now)),
            "scheduled" => {
                // Whole seconds: the token carries the expiry as Unix seconds.
                let expires_at = (now + settings.policy.expire_after).trunc_subsecs(0);
                events.push(request(
                    ctx,
                    s,
                    channel,
                    RequestKind::Initial,
                    expires_at,
                    now,
                )?);
                entries.push(entry(s, "survey_sent", now, json!({
                    "survey_id": s.id, "channel": channel.as_str(), "cycle": s.cycle, "expires_at": expires_at,
                })));
                change.status = "sent".into();
                change.sent_at = Some(now);
                change.expires_at = Some(expires_at);
                change.due_at = Some(match settings.policy.reminder_after {
                    Some(r) => settings.quiet().next_allowed(now + r).min(expires_at),
                    None => expires_at,
                });
                metrics::counter!("loopdesk_survey_requests_total", "kind" => "initial")
                    .increment(1);
            }
            "sent" | "reminded" if expired => {
                events.push(OutboxMessage::json(
                    ctx.subjects.subject("survey.expired"),
                    &SurveyExpired {
                        schema_version: SCHEMA_VERSION,
                        survey_id: s.id,
                        ticket_id: s.ticket_id,
                        ticket_no: s.ticket_no.clone(),
                        cycle: s.cycle,
                        channel,
                        expired_at: now,
                    },
                )?);
                entries.push(entry(
                    s,
                    "survey_expired",
                    now,
                    json!({"survey_id": s.id, "cycle": s.cycle}),
                ));
                change.status = "expired".into();
                change.closed_at = Some(now);
                metrics::counter!("loopdesk_surveys_expired_total").increment(1);
            }
            "sent" => {
                let expires_at = s.expires_at.unwrap_or(now + settings.policy.expire_after);
                if settings.policy.reminder_after.is_none() {
                    change.due_at = Some(expires_at);
                } else if quiet {
                    change.due_at = Some(settings.quiet().next_allowed(now).min(expires_at));
                } else {
                    events.push(request(
                        ctx,
                        s,
                        channel,
                        RequestKind::Reminder,
                        expires_at,
                        now,
                    )?);
                    entries.push(entry(
                        s,
                        "survey_reminded",
                        now,
                        json!({
                            "survey_id": s.id, "channel": channel.as_str(), "cycle": s.cycle,
                        }),
                    ));
                    change.status = "reminded".into();
                    change.reminded_at = Some(now);
                    change.due_at = Some(expires_at);
                    metrics::counter!("loopdesk_survey_requests_total", "kind" => "reminder")
                        .increment(1);
                }
            }
            // Fired before its expiry (a clock step back): wait for the expiry.
            "reminded" => change.due_at = s.expires_at,
            // Closed surveys have no timer: a stray one is cleared (`due_at` stays None).
            _ => {}
        }
        changes.push(change);
    }
    apply(&mut tx, &changes).await?;
    timeline::append(&mut tx, &entries).await?;
    outbox::enqueue(&mut tx, &events).await?;
    tx.commit().await?;
    Ok(due.len())
}

fn entry(s: &Due, kind: &str, at: DateTime<Utc>, data: serde_json::Value) -> TimelineEntry {
    TimelineEntry {
        ticket_id: s.ticket_id,
        kind: kind.into(),
        actor: ACTOR.into(),
        at,
        data,
    }
}

fn request(
    ctx: &Ctx,
    s: &Due,
    channel: SurveyChannel,
    kind: RequestKind,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<OutboxMessage, OutboxError> {
    let token = ctx.signer.sign(s.id, expires_at);
    let link = ctx.link(&token);
    OutboxMessage::json(
        ctx.subjects
            .subject(&format!("survey.request.{}", channel.as_str())),
        &SurveyRequest {
            schema_version: SCHEMA_VERSION,
            request_id: Uuid::now_v7(),
            survey_id: s.id,
            ticket_id: s.ticket_id,
            ticket_no: s.ticket_no.clone(),
            cycle: s.cycle,
            kind,
            channel,
            recipient: SurveyRecipient {
                customer_id: s.recipient_customer_id.clone(),
                phone: s.recipient_phone.clone(),
                email: s.recipient_email.clone(),
                name_masked: s.recipient_name.clone(),
            },
            token,
            link,
            expires_at,
            sent_at: now,
        },
    )
}

/// Writes every change in one statement.
async fn apply(conn: &mut sqlx::PgConnection, changes: &[Change]) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = changes.iter().map(|c| c.id).collect();
    let statuses: Vec<&str> = changes.iter().map(|c| c.status.as_str()).collect();
    let col = |f: fn(&Change) -> Option<DateTime<Utc>>| changes.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "update surveys s set status = u.status, due_at = u.due_at,
             sent_at = coalesce(u.sent_at, s.sent_at), reminded_at = coalesce(u.reminded_at, s.reminded_at),
             expires_at = coalesce(u.expires_at, s.expires_at), closed_at = coalesce(u.closed_at, s.closed_at)
         from unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[],
                     $6::timestamptz[], $7::timestamptz[])
              as u(id, status, due_at, sent_at, reminded_at, expires_at, closed_at)
         where s.id = u.id",
    )
    .bind(&ids)
    .bind(&statuses)
    .bind(col(|c| c.due_at))
    .bind(col(|c| c.sent_at))
    .bind(col(|c| c.reminded_at))
    .bind(col(|c| c.expires_at))
    .bind(col(|c| c.closed_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// The earliest pending timer, to sleep exactly until it.
pub async fn next_due(ctx: &Ctx) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("select min(due_at) from surveys where due_at is not null")
        .fetch_one(&ctx.pool)
        .await
}

/// Fires timers until `shutdown`: wakes on the earlier of the next due time and the poll interval (a
/// survey scheduled by another replica is seen within one interval).
pub async fn run(ctx: Ctx, shutdown: CancellationToken) {
    let poll = ctx.settings().poll_interval;
    let limit = ctx.settings().timer_batch;
    let mut failures: u32 = 0;
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let wait = match fire_due(&ctx, limit).await {
            Ok(n) if n as i64 >= limit => {
                failures = 0;
                continue;
            }
            Ok(_) => {
                failures = 0;
                match next_due(&ctx).await {
                    // Never a busy loop: a due row locked by another replica is left to it for a moment.
                    Ok(Some(t)) => (t - ctx.clock.now())
                        .to_std()
                        .unwrap_or(StdDuration::ZERO)
                        .min(poll)
                        .max(StdDuration::from_millis(20)),
                    Ok(None) => poll,
                    Err(e) => {
                        tracing::warn!(error = %e, "survey timers: next due time unknown");
                        poll
                    }
                }
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(error = %e, failures, "survey timers: firing failed; will retry");
                StdDuration::from_millis(100 * 2u64.pow(failures.min(6)))
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
