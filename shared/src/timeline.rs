//! The ticket timeline: every step, decision and action, append-only (the table refuses updates and
//! deletes), so the whole handling of a ticket stays traceable.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// One line of a ticket's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub ticket_id: Uuid,
    /// What happened, e.g. `registered`, `classified`, `replied`, `sla_breached`.
    pub kind: String,
    /// Who did it: `worker:intake`, `agent:li.wei`, `customer`.
    pub actor: String,
    pub at: DateTime<Utc>,
    /// The details: decision reasons, the step's result and remark, ...
    pub data: serde_json::Value,
}

/// Appends entries inside the caller's transaction, in one statement.
pub async fn append(conn: &mut PgConnection, entries: &[TimelineEntry]) -> Result<(), sqlx::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = entries.iter().map(|e| e.ticket_id).collect();
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    let actors: Vec<&str> = entries.iter().map(|e| e.actor.as_str()).collect();
    let ats: Vec<DateTime<Utc>> = entries.iter().map(|e| e.at).collect();
    let data: Vec<&serde_json::Value> = entries.iter().map(|e| &e.data).collect();
    sqlx::query(
        "insert into ticket_events (ticket_id, kind, actor, at, data)
         select * from unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[])",
    )
    .bind(&ids)
    .bind(&kinds)
    .bind(&actors)
    .bind(&ats)
    .bind(&data)
    .execute(conn)
    .await?;
    Ok(())
}

/// A ticket's whole timeline in order.
pub async fn for_ticket(pool: &PgPool, ticket_id: Uuid) -> Result<Vec<TimelineEntry>, sqlx::Error> {
    let rows: Vec<(Uuid, String, String, DateTime<Utc>, serde_json::Value)> = sqlx::query_as(
        "select ticket_id, kind, actor, at, data from ticket_events where ticket_id = $1 order by id",
    )
    .bind(ticket_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(ticket_id, kind, actor, at, data)| TimelineEntry {
            ticket_id,
            kind,
            actor,
            at,
            data,
        })
        .collect())
}
