//! Database access: the ticket rows the router reads and writes, owner assignment, corrections.
//! Everything here runs inside the caller's transaction, so a batch's state changes, timeline entries
//! and outbox events commit together (docs/domain.md, invariants 1 and 9).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use shared::lifecycle::TicketStatus;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::routing::Assignment;
use crate::rules::TicketFacts;

/// What the router needs of a ticket.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketRow {
    pub id: Uuid,
    pub ticket_no: String,
    pub channel: String,
    pub submitted_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    pub customer_type: Option<String>,
    pub order_number: Option<String>,
    pub description: String,
    pub feedback_type: Option<String>,
    pub tags: Vec<String>,
    pub priority: Option<String>,
    pub ivr: Option<serde_json::Value>,
    pub status: TicketStatus,
    pub classification_revision: i32,
    pub category: Option<String>,
    pub lead_department: Option<String>,
    pub departments: Vec<String>,
    pub owner: Option<String>,
}

impl TicketRow {
    /// The facts rules look at.
    pub fn facts(&self) -> TicketFacts {
        let ivr_keys = self
            .ivr
            .as_ref()
            .and_then(|v| v.get("keypresses"))
            .and_then(|k| k.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<String>())
            .filter(|s| !s.is_empty());
        let mut fields_present = std::collections::BTreeSet::new();
        if self
            .order_number
            .as_deref()
            .is_some_and(|o| !o.trim().is_empty())
        {
            fields_present.insert("order_number".to_string());
        }
        if self.customer_id.is_some() {
            fields_present.insert("customer_id".to_string());
        }
        TicketFacts {
            text: self.description.clone(),
            channel: Some(self.channel.clone()),
            customer_type: self.customer_type.clone(),
            ivr_keys,
            fields_present,
        }
    }
}

/// Lock and read tickets (missing ids are simply absent from the map).
pub async fn lock_tickets(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, TicketRow>, sqlx::Error> {
    let rows: Vec<TicketRow> = sqlx::query_as(
        "select id, ticket_no, channel, submitted_at, received_at, customer_id, customer_name,
                customer_phone, customer_type, order_number, description, feedback_type, tags, priority,
                ivr, status, classification_revision, category, lead_department, departments, owner
         from tickets where id = any($1) order by id for update",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r)).collect())
}

/// The new classification state of one ticket.
#[derive(Debug, Clone)]
pub struct TicketUpdate<'a> {
    pub id: Uuid,
    pub category: String,
    pub priority: String,
    pub feedback_type: String,
    pub tags: Vec<String>,
    pub lead_department: Option<String>,
    pub departments: Vec<String>,
    pub owner: Option<String>,
    pub status: TicketStatus,
    /// Borrowed from the plan: the decision's JSON is large, and only bound here.
    pub classification: &'a serde_json::Value,
    pub revision: i32,
}

/// Write a batch of classification updates in one statement.
pub async fn update_tickets(
    conn: &mut PgConnection,
    updates: &[TicketUpdate<'_>],
) -> Result<(), sqlx::Error> {
    if updates.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = updates.iter().map(|u| u.id).collect();
    let cats: Vec<&str> = updates.iter().map(|u| u.category.as_str()).collect();
    let pris: Vec<&str> = updates.iter().map(|u| u.priority.as_str()).collect();
    let fts: Vec<&str> = updates.iter().map(|u| u.feedback_type.as_str()).collect();
    let tags: Vec<serde_json::Value> = updates.iter().map(|u| serde_json::json!(u.tags)).collect();
    let leads: Vec<Option<&str>> = updates
        .iter()
        .map(|u| u.lead_department.as_deref())
        .collect();
    let depts: Vec<serde_json::Value> = updates
        .iter()
        .map(|u| serde_json::json!(u.departments))
        .collect();
    let owners: Vec<Option<&str>> = updates.iter().map(|u| u.owner.as_deref()).collect();
    let statuses: Vec<&str> = updates.iter().map(|u| u.status.as_str()).collect();
    let cls: Vec<&serde_json::Value> = updates.iter().map(|u| u.classification).collect();
    let revs: Vec<i32> = updates.iter().map(|u| u.revision).collect();
    sqlx::query(
        "update tickets t set
            category = u.category, priority = u.priority, feedback_type = u.feedback_type,
            tags = array(select jsonb_array_elements_text(u.tags)),
            lead_department = u.lead,
            departments = array(select jsonb_array_elements_text(u.departments)),
            owner = u.owner, status = u.status, classification = u.classification,
            classified_at = now(), classification_revision = u.revision
         from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[],
                     $7::jsonb[], $8::text[], $9::text[], $10::jsonb[], $11::int[])
              as u(id, category, priority, feedback_type, tags, lead, departments, owner, status,
                   classification, revision)
         where t.id = u.id",
    )
    .bind(&ids)
    .bind(&cats)
    .bind(&pris)
    .bind(&fts)
    .bind(&tags)
    .bind(&leads)
    .bind(&depts)
    .bind(&owners)
    .bind(&statuses)
    .bind(&cls)
    .bind(&revs)
    .execute(conn)
    .await?;
    Ok(())
}

/// One available agent of a department as assignment sees it.
#[derive(Debug, Clone)]
struct Agent {
    name: String,
    open: i64,
    last: Option<DateTime<Utc>>,
    used: bool,
}

/// Owner assignment for one batch. A department's agent rows are locked on first use, so replicas
/// assigning in the same department take turns and never double-count; picks inside the batch are
/// tallied in memory and written back once.
#[derive(Default)]
pub struct Assigner {
    pools: HashMap<String, Vec<Agent>>,
    /// Strictly increasing timestamps so round robin order is total even within one batch.
    tick: i64,
}

impl Assigner {
    /// Pick an owner in `department` by `policy`; `None` when the policy is `none` or nobody is
    /// available (the supervisor assigns).
    pub async fn pick(
        &mut self,
        conn: &mut PgConnection,
        department: &str,
        policy: Assignment,
    ) -> Result<Option<String>, sqlx::Error> {
        if policy == Assignment::None {
            return Ok(None);
        }
        if !self.pools.contains_key(department) {
            let rows: Vec<(String, i64, Option<DateTime<Utc>>)> = sqlx::query_as(
                "select a.agent,
                        (select count(*) from tickets t
                          where t.owner = a.agent and t.lead_department = a.department
                            and t.status not in ('resolved', 'archived')),
                        a.last_assigned_at
                 from router_agents a
                 where a.department = $1 and a.available
                 order by a.agent
                 for update of a",
            )
            .bind(department)
            .fetch_all(&mut *conn)
            .await?;
            let agents = rows
                .into_iter()
                .map(|(name, open, last)| Agent {
                    name,
                    open,
                    last,
                    used: false,
                })
                .collect();
            self.pools.insert(department.to_string(), agents);
        }
        let Some(agents) = self.pools.get_mut(department) else {
            return Ok(None);
        };
        let key = |a: &Agent| {
            (
                a.last.map_or(i64::MIN, |t| t.timestamp_micros()),
                a.name.clone(),
            )
        };
        let chosen = match policy {
            Assignment::RoundRobin => agents.iter_mut().min_by_key(|a| key(a)),
            Assignment::LeastOpen => agents.iter_mut().min_by_key(|a| (a.open, key(a))),
            Assignment::None => None,
        };
        let Some(agent) = chosen else { return Ok(None) };
        self.tick += 1;
        agent.open += 1;
        agent.last = Some(Utc::now() + chrono::Duration::microseconds(self.tick));
        agent.used = true;
        Ok(Some(agent.name.clone()))
    }

    /// Write back `last_assigned_at` of the agents picked in this batch.
    pub async fn flush(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        let mut depts = Vec::new();
        let mut names = Vec::new();
        let mut lasts = Vec::new();
        for (d, agents) in &self.pools {
            for a in agents.iter().filter(|a| a.used) {
                depts.push(d.clone());
                names.push(a.name.clone());
                lasts.push(a.last);
            }
        }
        if names.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "update router_agents r set last_assigned_at = u.last
             from unnest($1::text[], $2::text[], $3::timestamptz[]) as u(department, agent, last)
             where r.department = u.department and r.agent = u.agent",
        )
        .bind(&depts)
        .bind(&names)
        .bind(&lasts)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// Mark an agent available (or not) in a department; used by ops tooling and tests.
pub async fn set_agent(
    conn: &mut PgConnection,
    department: &str,
    agent: &str,
    available: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into router_agents (department, agent, available) values ($1, $2, $3)
         on conflict (department, agent) do update set available = excluded.available",
    )
    .bind(department)
    .bind(agent)
    .bind(available)
    .execute(conn)
    .await?;
    Ok(())
}

/// An inspector's correction, kept as labelled training data.
#[derive(Debug, Clone)]
pub struct Correction {
    pub event_id: Uuid,
    pub ticket_id: Uuid,
    pub text: String,
    pub category: String,
    pub priority: String,
    pub feedback_type: String,
    pub tags: Vec<String>,
    pub inspector: String,
    pub previous: serde_json::Value,
}

/// Store a correction (a redelivered event stores nothing new).
pub async fn insert_correction(conn: &mut PgConnection, c: &Correction) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into router_corrections
            (event_id, ticket_id, text, category, priority, feedback_type, tags, inspector, previous)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (event_id) do nothing",
    )
    .bind(c.event_id)
    .bind(c.ticket_id)
    .bind(&c.text)
    .bind(&c.category)
    .bind(&c.priority)
    .bind(&c.feedback_type)
    .bind(&c.tags)
    .bind(&c.inspector)
    .bind(&c.previous)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every stored correction as (text, category, priority, feedback_type), the latest per ticket.
pub async fn corrections(
    pool: &sqlx::PgPool,
) -> Result<Vec<(String, String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "select distinct on (ticket_id) text, category, priority, feedback_type
         from router_corrections order by ticket_id, id desc",
    )
    .fetch_all(pool)
    .await
}
