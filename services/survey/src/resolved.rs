//! `{prefix}.ticket.resolved` → one scheduled survey; `{prefix}.ticket.reopened` by someone else → the
//! open survey is cancelled (the resolution it asked about no longer stands).
//!
//! A batch is applied in one transaction: the idempotency claims, the survey rows and their timeline
//! entries commit together, then the batch is acked.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use shared::consumer::{BatchError, BatchHandler, Delivery, Outcome};
use shared::messages::decode;
use shared::messages::feedback::Channel;
use shared::messages::lifecycle::{LifecycleChange, TicketLifecycleEvent};
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
            match decode::<TicketLifecycleEvent>(&d.payload) {
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
                Err(e) => outcomes[i] = Outcome::Poison(e.to_string()),
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
        let todo: Vec<&TicketLifecycleEvent> = events
            .iter()
            .map(|(_, e)| e)
            .filter(|e| fresh.contains(&e.event_id.to_string()) && applied.insert(e.event_id))
            .collect();
        for round in rounds(todo) {
            self.apply_round(&mut tx, &round, &tickets, now, &mut entries)
                .await?;
        }
        timeline::append(&mut tx, &entries).await?;
        tx.commit().await?;
        Ok(outcomes)
    }
}

/// Splits events into rounds in which every ticket appears at most once, keeping each ticket's events
/// in order: round k holds each ticket's k-th event. A round is applied with one statement per step
/// for all its tickets; almost every batch is a single round.
fn rounds(events: Vec<&TicketLifecycleEvent>) -> Vec<Vec<&TicketLifecycleEvent>> {
    let mut seen: HashMap<Uuid, usize> = HashMap::new();
    let mut rounds: Vec<Vec<&TicketLifecycleEvent>> = Vec::new();
    for e in events {
        let k = seen.entry(e.ticket_id).or_insert(0);
        if rounds.len() <= *k {
            rounds.push(Vec::new());
        }
        rounds[*k].push(e);
        *k += 1;
    }
    rounds
}

/// A survey about to be scheduled, as one row of the batch insert.
struct NewSurvey<'a> {
    id: Uuid,
    event: &'a TicketLifecycleEvent,
    ticket: &'a TicketContact,
    resolution: &'a str,
    channel: shared::messages::survey::SurveyChannel,
    phone_key: Option<String>,
    send_at: DateTime<Utc>,
}

impl LifecycleHandler {
    /// One round (each ticket at most once): a resolution cancels the ticket's open survey and
    /// schedules a new one; someone else's reopening cancels the open survey.
    async fn apply_round(
        &self,
        conn: &mut PgConnection,
        round: &[&TicketLifecycleEvent],
        tickets: &HashMap<Uuid, TicketContact>,
        now: DateTime<Utc>,
        entries: &mut Vec<TimelineEntry>,
    ) -> Result<(), BatchError> {
        let mut cancels: Vec<(Uuid, &str)> = Vec::new();
        let mut resolved: Vec<(&TicketLifecycleEvent, &TicketContact, &str)> = Vec::new();
        for event in round {
            let Some(ticket) = tickets.get(&event.ticket_id) else {
                continue;
            };
            match &event.change {
                LifecycleChange::Resolved { resolution, .. } => {
                    cancels.push((event.ticket_id, "resolved_again"));
                    resolved.push((event, ticket, resolution.as_str()));
                }
                LifecycleChange::Reopened { .. } if event.actor != ACTOR => {
                    cancels.push((event.ticket_id, "ticket_reopened"));
                }
                _ => {}
            }
        }
        cancel_open(conn, &cancels, now, entries).await?;
        self.schedule(conn, &resolved, now, entries).await
    }

    /// Schedules one survey per resolution (each of a different ticket), in one insert.
    async fn schedule(
        &self,
        conn: &mut PgConnection,
        resolved: &[(&TicketLifecycleEvent, &TicketContact, &str)],
        now: DateTime<Utc>,
        entries: &mut Vec<TimelineEntry>,
    ) -> Result<(), BatchError> {
        let settings = self.ctx.settings();
        let mut surveys: Vec<NewSurvey> = Vec::with_capacity(resolved.len());
        for &(event, ticket, resolution) in resolved {
            if now - event.occurred_at > settings.policy.skip_older_than {
                entries.push(TimelineEntry {
                    ticket_id: event.ticket_id,
                    kind: "survey_skipped".into(),
                    actor: ACTOR.into(),
                    at: now,
                    data: json!({"reason": "resolved_too_long_ago", "resolved_at": event.occurred_at}),
                });
                continue;
            }
            let phone = ticket.customer_phone.as_deref().and_then(phone_key);
            let channel = match Channel::parse(&ticket.channel) {
                Some(c) => settings.channel_for(c, phone.is_some(), ticket.customer_id.is_some()),
                None if phone.is_some() => shared::messages::survey::SurveyChannel::Sms,
                None => shared::messages::survey::SurveyChannel::Link,
            };
            surveys.push(NewSurvey {
                id: Uuid::now_v7(),
                event,
                ticket,
                resolution,
                channel,
                phone_key: phone,
                send_at: schedule::send_time(
                    &settings.quiet(),
                    settings.policy.delay,
                    event.occurred_at,
                    now,
                ),
            });
        }
        if surveys.is_empty() {
            return Ok(());
        }
        let ticket_ids: Vec<Uuid> = surveys.iter().map(|s| s.event.ticket_id).collect();
        let cycles: HashMap<Uuid, i32> = sqlx::query_as::<_, (Uuid, i32)>(
            "select t.id, coalesce(max(s.cycle), 0) + 1
             from unnest($1::uuid[]) as t(id) left join surveys s on s.ticket_id = t.id
             group by t.id",
        )
        .bind(&ticket_ids)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
        // The lead department handles a reopened ticket; the api names it in the event, the router's
        // column fills in when it does not.
        let unnamed: Vec<Uuid> = surveys
            .iter()
            .filter(|s| s.event.department.is_none())
            .map(|s| s.event.ticket_id)
            .collect();
        let leads: HashMap<Uuid, Option<String>> = if !unnamed.is_empty() {
            sqlx::query_as::<_, (Uuid, Option<String>)>(
                "select id, lead_department from tickets where id = any($1)",
            )
            .bind(&unnamed)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect()
        } else {
            HashMap::new()
        };
        let department = |s: &NewSurvey| {
            s.event
                .department
                .clone()
                .or_else(|| leads.get(&s.event.ticket_id).cloned().flatten())
        };
        // Optional columns; the required ones are borrowed as they are.
        let col = |f: &dyn Fn(&NewSurvey) -> Option<String>| -> Vec<Option<String>> {
            surveys.iter().map(f).collect()
        };
        let ids: Vec<Uuid> = surveys.iter().map(|s| s.id).collect();
        let ticket_nos: Vec<&str> = surveys.iter().map(|s| s.event.ticket_no.as_str()).collect();
        let cycle: Vec<i32> = surveys
            .iter()
            .map(|s| cycles.get(&s.event.ticket_id).copied().unwrap_or(1))
            .collect();
        let event_ids: Vec<Uuid> = surveys.iter().map(|s| s.event.event_id).collect();
        let resolved_at: Vec<DateTime<Utc>> = surveys.iter().map(|s| s.event.occurred_at).collect();
        let resolutions: Vec<&str> = surveys.iter().map(|s| s.resolution).collect();
        let departments = col(&department);
        let priorities = col(&|s| s.event.priority.map(|p| p.as_str().to_owned()));
        let channels: Vec<&str> = surveys.iter().map(|s| s.channel.as_str()).collect();
        let customer_ids = col(&|s| s.ticket.customer_id.clone());
        let phones = col(&|s| s.ticket.customer_phone.clone());
        let phone_keys = col(&|s| s.phone_key.clone());
        let names = col(&|s| {
            s.ticket
                .customer_name
                .as_deref()
                .map(shared::pii::mask_name)
        });
        let emails = col(&|s| s.ticket.customer_email.clone());
        let send_at: Vec<DateTime<Utc>> = surveys.iter().map(|s| s.send_at).collect();
        let inserted: std::collections::HashSet<Uuid> = sqlx::query_scalar(
            "insert into surveys (id, ticket_id, ticket_no, cycle, resolved_event_id, resolved_at, resolution,
                 department, priority, channel, recipient_customer_id, recipient_phone, recipient_phone_key,
                 recipient_name, recipient_email, status, send_at, due_at)
             select id, ticket_id, ticket_no, cycle, resolved_event_id, resolved_at, resolution,
                 department, priority, channel, customer_id, phone, phone_key, name, email, 'scheduled',
                 send_at, send_at
             from unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::uuid[], $6::timestamptz[],
                         $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                         $13::text[], $14::text[], $15::text[], $16::timestamptz[])
                  as n(id, ticket_id, ticket_no, cycle, resolved_event_id, resolved_at, resolution,
                       department, priority, channel, customer_id, phone, phone_key, name, email, send_at)
             on conflict (resolved_event_id) do nothing
             returning id",
        )
        .bind(&ids)
        .bind(&ticket_ids)
        .bind(&ticket_nos)
        .bind(&cycle)
        .bind(&event_ids)
        .bind(&resolved_at)
        .bind(&resolutions)
        .bind(&departments)
        .bind(&priorities)
        .bind(&channels)
        .bind(&customer_ids)
        .bind(&phones)
        .bind(&phone_keys)
        .bind(&names)
        .bind(&emails)
        .bind(&send_at)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
        for (s, cycle) in surveys.iter().zip(&cycle) {
            if !inserted.contains(&s.id) {
                continue;
            }
            entries.push(TimelineEntry {
                ticket_id: s.event.ticket_id,
                kind: "survey_scheduled".into(),
                actor: ACTOR.into(),
                at: now,
                data: json!({
                    "survey_id": s.id,
                    "cycle": cycle,
                    "channel": s.channel.as_str(),
                    "send_at": s.send_at,
                }),
            });
            metrics::counter!("loopdesk_surveys_scheduled_total", "channel" => s.channel.as_str())
                .increment(1);
        }
        Ok(())
    }
}

/// Cancels the open survey of each ticket (each at most once in `cancels`), with a timeline entry
/// saying why.
async fn cancel_open(
    conn: &mut PgConnection,
    cancels: &[(Uuid, &str)],
    now: DateTime<Utc>,
    entries: &mut Vec<TimelineEntry>,
) -> Result<(), sqlx::Error> {
    if cancels.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = cancels.iter().map(|c| c.0).collect();
    let reasons: Vec<&str> = cancels.iter().map(|c| c.1).collect();
    let cancelled: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
        "update surveys s set status = 'cancelled', due_at = null, closed_at = $3
         from unnest($1::uuid[], $2::text[]) as c(ticket_id, reason)
         where s.ticket_id = c.ticket_id and s.status = any($4)
         returning s.id, s.ticket_id, c.reason",
    )
    .bind(&ids)
    .bind(&reasons)
    .bind(now)
    .bind(&OPEN_STATUSES[..])
    .fetch_all(&mut *conn)
    .await?;
    for (id, ticket_id, why) in cancelled {
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
