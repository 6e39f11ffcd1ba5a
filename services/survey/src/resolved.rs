//! `{prefix}.ticket.resolved` → one scheduled survey; `{prefix}.ticket.reopened` by someone else → the
//! open survey is cancelled (the resolution it asked about no longer stands).
//!
//! A batch is applied in one transaction: the idempotency claims, the survey rows and their timeline
//! entries commit together, then the batch is acked.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use shared::consumer::{BatchError, BatchHandler, Delivery, Outcome};
use shared::messages::feedback::Channel;
use shared::messages::lifecycle::{LifecycleChange, TicketLifecycleEvent};
use shared::messages::SCHEMA_VERSION;
use shared::timeline::{self, TimelineEntry};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{phone_key, schedule, Ctx, ACTOR};

/// Idempotency-record name of this consumer (and the worker part of its durable names).
pub const CONSUMER: &str = "survey_lifecycle";

/// Survey statuses that still wait for something.
pub const OPEN_STATUSES: [&str; 3] = ["scheduled", "sent", "reminded"];

/// Applies lifecycle events; one instance is shared by every pull lane.
pub struct LifecycleHandler {
    pub ctx: Ctx,
}

/// The ticket fields a survey needs.
#[derive(Debug, sqlx::FromRow)]
struct TicketContact {
    id: Uuid,
    channel: String,
    customer_id: Option<String>,
    customer_phone: Option<String>,
    customer_email: Option<String>,
    customer_name: Option<String>,
}

impl BatchHandler for LifecycleHandler {
    async fn handle(&self, batch: &[Delivery]) -> Result<Vec<Outcome>, BatchError> {
        let mut outcomes = vec![Outcome::Done; batch.len()];
        let mut events: Vec<(usize, TicketLifecycleEvent)> = Vec::new();
        for (i, d) in batch.iter().enumerate() {
            // Only these two kinds concern surveys (the consumers filter on them; this guards a wider filter).
            if !(d.subject.ends_with(".resolved") || d.subject.ends_with(".reopened")) {
                continue;
            }
            match serde_json::from_slice::<TicketLifecycleEvent>(&d.payload) {
                Ok(e) if e.schema_version != SCHEMA_VERSION => {
                    outcomes[i] = Outcome::Poison(format!(
                        "unsupported_schema_version: {} (this build reads {SCHEMA_VERSION})",
                        e.schema_version
                    ));
                }
                Ok(e)
                    if matches!(
                        e.change,
                        LifecycleChange::Resolved { .. } | LifecycleChange::Reopened { .. }
                    ) =>
                {
                    events.push((i, e))
                }
                // Other lifecycle changes do not concern surveys.
                Ok(_) => {}
                Err(e) => outcomes[i] = Outcome::Poison(format!("malformed_message: {e}")),
            }
        }
        if events.is_empty() {
            return Ok(outcomes);
        }

        let mut tx = self.ctx.pool.begin().await?;
        let ids: Vec<Uuid> = events.iter().map(|(_, e)| e.ticket_id).collect();
        let tickets: HashMap<Uuid, TicketContact> = sqlx::query_as::<_, TicketContact>(
            "select id, channel, customer_id, customer_phone, customer_email, customer_name from tickets where id = any($1)",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
        // An event about a ticket that does not exist can never apply: dead-letter it (kept, with why).
        events.retain(|(i, e)| {
            let known = tickets.contains_key(&e.ticket_id);
            if !known {
                outcomes[*i] = Outcome::Poison(format!("unknown_ticket: {}", e.ticket_id));
            }
            known
        });
        let keys: Vec<String> = events.iter().map(|(_, e)| e.event_id.to_string()).collect();
        let fresh = shared::idempotency::claim(&mut tx, CONSUMER, &keys).await?;
        let now = self.ctx.clock.now();
        let mut entries = Vec::new();
        let mut applied = std::collections::HashSet::new();
        // Claimed now, and only once even when the batch holds the same event twice.
        for (_, event) in events
            .iter()
            .filter(|(_, e)| fresh.contains(&e.event_id.to_string()) && applied.insert(e.event_id))
        {
            let Some(ticket) = tickets.get(&event.ticket_id) else {
                continue;
            };
            match &event.change {
                LifecycleChange::Resolved { resolution, .. } => {
                    cancel_open(
                        &mut tx,
                        event.ticket_id,
                        "resolved_again",
                        now,
                        &mut entries,
                    )
                    .await?;
                    self.schedule(
                        &mut tx,
                        event,
                        ticket,
                        resolution.as_str(),
                        now,
                        &mut entries,
                    )
                    .await?;
                }
                LifecycleChange::Reopened { .. } if event.actor != ACTOR => {
                    cancel_open(
                        &mut tx,
                        event.ticket_id,
                        "ticket_reopened",
                        now,
                        &mut entries,
                    )
                    .await?;
                }
                _ => {}
            }
        }
        timeline::append(&mut tx, &entries).await?;
        tx.commit().await?;
        Ok(outcomes)
    }
}

impl LifecycleHandler {
    async fn schedule(
        &self,
        conn: &mut PgConnection,
        event: &TicketLifecycleEvent,
        ticket: &TicketContact,
        resolution: &str,
        now: DateTime<Utc>,
        entries: &mut Vec<TimelineEntry>,
    ) -> Result<(), BatchError> {
        let settings = &self.ctx.settings;
        if now - event.occurred_at > settings.skip_older_than {
            entries.push(TimelineEntry {
                ticket_id: event.ticket_id,
                kind: "survey_skipped".into(),
                actor: ACTOR.into(),
                at: now,
                data: json!({"reason": "resolved_too_long_ago", "resolved_at": event.occurred_at}),
            });
            return Ok(());
        }
        let phone = ticket.customer_phone.as_deref().and_then(phone_key);
        let channel = match Channel::parse(&ticket.channel) {
            Some(c) => settings.channel_for(c, phone.is_some(), ticket.customer_id.is_some()),
            None if phone.is_some() => shared::messages::survey::SurveyChannel::Sms,
            None => shared::messages::survey::SurveyChannel::Link,
        };
        let send_at = schedule::send_time(&settings.quiet, settings.delay, event.occurred_at, now);
        let cycle: i32 = sqlx::query_scalar(
            "select coalesce(max(cycle), 0) + 1 from surveys where ticket_id = $1",
        )
        .bind(event.ticket_id)
        .fetch_one(&mut *conn)
        .await?;
        // The lead department handles a reopened ticket; the api names it in the event, the router's
        // column (when present) fills in when it does not.
        let department = match &event.department {
            Some(d) => Some(d.clone()),
            None if self.ctx.ticket_columns(&mut *conn).await?.lead_department => {
                sqlx::query_scalar::<_, Option<String>>(
                    "select lead_department from tickets where id = $1",
                )
                .bind(event.ticket_id)
                .fetch_one(&mut *conn)
                .await?
            }
            None => None,
        };
        let id = Uuid::now_v7();
        let inserted = sqlx::query(
            "insert into surveys (id, ticket_id, ticket_no, cycle, resolved_event_id, resolved_at, resolution,
                 department, priority, channel, recipient_customer_id, recipient_phone, recipient_phone_key,
                 recipient_name, recipient_email, status, send_at, due_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $16, 'scheduled', $15, $15)
             on conflict (resolved_event_id) do nothing",
        )
        .bind(id)
        .bind(event.ticket_id)
        .bind(&event.ticket_no)
        .bind(cycle)
        .bind(event.event_id)
        .bind(event.occurred_at)
        .bind(resolution)
        .bind(&department)
        .bind(event.priority.map(|p| p.as_str()))
        .bind(channel.as_str())
        .bind(&ticket.customer_id)
        .bind(&ticket.customer_phone)
        .bind(&phone)
        .bind(ticket.customer_name.as_deref().map(shared::pii::mask_name))
        .bind(send_at)
        .bind(&ticket.customer_email)
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 1 {
            entries.push(TimelineEntry {
                ticket_id: event.ticket_id,
                kind: "survey_scheduled".into(),
                actor: ACTOR.into(),
                at: now,
                data: json!({
                    "survey_id": id,
                    "cycle": cycle,
                    "channel": channel.as_str(),
                    "send_at": send_at,
                }),
            });
            metrics::counter!("loopdesk_surveys_scheduled_total", "channel" => channel.as_str())
                .increment(1);
        }
        Ok(())
    }
}

/// Cancels the ticket's open survey, if any, with a timeline entry saying why.
async fn cancel_open(
    conn: &mut PgConnection,
    ticket_id: Uuid,
    why: &str,
    now: DateTime<Utc>,
    entries: &mut Vec<TimelineEntry>,
) -> Result<(), sqlx::Error> {
    let cancelled: Vec<Uuid> = sqlx::query_scalar(
        "update surveys set status = 'cancelled', due_at = null, closed_at = $2
         where ticket_id = $1 and status = any($3) returning id",
    )
    .bind(ticket_id)
    .bind(now)
    .bind(&OPEN_STATUSES[..])
    .fetch_all(&mut *conn)
    .await?;
    for id in cancelled {
        entries.push(TimelineEntry {
            ticket_id,
            kind: "survey_cancelled".into(),
            actor: ACTOR.into(),
            at: now,
            data: json!({"survey_id": id, "reason": why}),
        });
    }
    Ok(())
}
