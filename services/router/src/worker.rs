//! The two consumers: `ticket.created` (classify and route) and `ticket.reclassify` (an inspector's
//! correction). Each batch: decode, classify off the async runtime, then one transaction that claims
//! the idempotency keys, updates the tickets, assigns owners in SLA-deadline order, appends the
//! timeline and enqueues the events; ack after commit (shared consumer loop).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use shared::consumer::{BatchError, BatchHandler, Delivery, Outcome};
use shared::messages::feedback::{Channel, CustomerType, Priority};
use shared::messages::lifecycle::{LifecycleChange, TicketLifecycleEvent};
use shared::messages::router::{
    Deadlines, DecidedLabel, TicketClassified, TicketReclassify, TicketRouted, TicketWithdrawn,
};
use shared::messages::ticket::{MaskedCustomer, TicketCreated};
use shared::messages::SCHEMA_VERSION;
use shared::outbox::OutboxMessage;
use shared::subjects::Subjects;
use shared::timeline::TimelineEntry;
use sqlx::PgPool;
use uuid::Uuid;

use crate::decision::{Decision, Engine, GivenLabels, LabelDecision, Source};
use crate::labels::Dimension;
use crate::live::Live;
use crate::routing::RouteDecision;
use crate::store::{self, Assigner, Correction, TicketRow, TicketUpdate};

/// The actor name the router writes on the timeline and in events.
pub const ACTOR: &str = "worker:router";

/// Consumer names (idempotency record and durable names).
pub const CREATED_CONSUMER: &str = "router";
pub const RECLASSIFY_CONSUMER: &str = "router_reclassify";

fn label(l: &LabelDecision) -> DecidedLabel {
    DecidedLabel {
        code: l.code.clone(),
        name: l.name.clone(),
        confidence: l.confidence,
        source: match l.source {
            Source::Ticket => "ticket",
            Source::Rules => "rules",
            Source::Model => "model",
        }
        .to_string(),
        reasons: l.reasons.clone(),
    }
}

fn masked_customer(row: &TicketRow) -> MaskedCustomer {
    MaskedCustomer {
        id: row.customer_id.clone(),
        name: row.customer_name.as_deref().map(shared::pii::mask_name),
        phone: row.customer_phone.as_deref().map(shared::pii::mask_phone),
        customer_type: row
            .customer_type
            .as_deref()
            .and_then(|t| serde_json::from_value::<CustomerType>(json!(t)).ok()),
    }
}

/// What one ticket's new classification is, before it is written.
struct Plan {
    row: TicketRow,
    category: DecidedLabel,
    priority: DecidedLabel,
    feedback_type: DecidedLabel,
    tags: Vec<String>,
    /// `None` while the ticket waits for review.
    route: Option<RouteDecision>,
    needs_review: bool,
    review_reasons: Vec<String>,
    revision: i32,
    actor: String,
    timeline_kind: &'static str,
    /// Full decision for the timeline and the `classification` column.
    detail: serde_json::Value,
    routing_reasons: Vec<String>,
}

impl Plan {
    fn priority(&self) -> Priority {
        Priority::parse(&self.priority.code).unwrap_or(Priority::General)
    }

    fn deadlines(&self, engine: &Engine) -> Deadlines {
        let hours = engine.routing.first_response_hours(&self.priority.code);
        Deadlines {
            registration_due: self.row.received_at + chrono::Duration::minutes(30),
            first_response_due: self.row.submitted_at + chrono::Duration::hours(hours),
        }
    }
}

/// Write a batch of plans: assignment in deadline order, ticket rows, timeline, outbox.
async fn write_plans(
    conn: &mut sqlx::PgConnection,
    subjects: &Subjects,
    engine: &Engine,
    mut plans: Vec<Plan>,
    now: DateTime<Utc>,
) -> Result<(), BatchError> {
    // Earliest deadline first: when agents are scarce, the most urgent tickets get them first.
    plans.sort_by_key(|p| (p.deadlines(engine).first_response_due, p.row.id));
    let mut assigner = Assigner::default();
    let mut updates = Vec::with_capacity(plans.len());
    let mut outbox = Vec::with_capacity(plans.len() * 2);
    for p in &plans {
        let owner = match &p.route {
            Some(r) if p.row.lead_department.as_deref() == Some(r.lead.as_str()) => {
                p.row.owner.clone()
            }
            Some(r) => {
                let policy = engine
                    .routing
                    .department(&r.lead)
                    .map(|d| d.assignment)
                    .unwrap_or_default();
                assigner.pick(conn, &r.lead, policy).await?
            }
            None => None,
        };
        let status = p.row.status.after_classification(p.needs_review);
        let departments = p
            .route
            .as_ref()
            .map(|r| r.departments.clone())
            .unwrap_or_default();
        let lead = p.route.as_ref().map(|r| r.lead.clone());
        updates.push(TicketUpdate {
            id: p.row.id,
            category: p.category.code.clone(),
            priority: p.priority.code.clone(),
            feedback_type: p.feedback_type.code.clone(),
            tags: p.tags.clone(),
            lead_department: lead.clone(),
            departments: departments.clone(),
            owner: owner.clone(),
            status,
            classification: &p.detail,
            revision: p.revision,
        });
        let classified = TicketClassified {
            schema_version: SCHEMA_VERSION,
            event_id: Uuid::now_v7(),
            ticket_id: p.row.id,
            ticket_no: p.row.ticket_no.clone(),
            occurred_at: now,
            revision: p.revision,
            actor: p.actor.clone(),
            category: p.category.clone(),
            priority: p.priority(),
            priority_decision: p.priority.clone(),
            feedback_type: p.feedback_type.clone(),
            tags: p.tags.clone(),
            lead_department: lead.clone(),
            departments: departments.clone(),
            needs_review: p.needs_review,
            review_reasons: p.review_reasons.clone(),
            routing_reasons: p.routing_reasons.clone(),
        };
        outbox.push(OutboxMessage::json(
            subjects.subject("ticket.classified"),
            &classified,
        )?);
        if let (Some(r), Some(lead)) = (&p.route, &lead) {
            let channel = Channel::parse(&p.row.channel).unwrap_or(Channel::Form);
            for d in &r.departments {
                let routed = TicketRouted {
                    schema_version: SCHEMA_VERSION,
                    event_id: Uuid::now_v7(),
                    ticket_id: p.row.id,
                    ticket_no: p.row.ticket_no.clone(),
                    occurred_at: now,
                    revision: p.revision,
                    department: d.clone(),
                    lead_department: lead.clone(),
                    is_lead: d == lead,
                    departments: departments.clone(),
                    channel,
                    submitted_at: p.row.submitted_at,
                    customer: masked_customer(&p.row),
                    description: p.row.description.clone(),
                    category: p.category.code.clone(),
                    feedback_type: p.feedback_type.code.clone(),
                    tags: p.tags.clone(),
                    priority: p.priority(),
                    deadlines: p.deadlines(engine),
                    owner: owner.clone(),
                };
                outbox.push(OutboxMessage::json(
                    subjects.subject(&format!("ticket.routed.{d}")),
                    &routed,
                )?);
            }
        }
        // Departments that had the ticket and no longer do hear that it was withdrawn.
        for old in &p.row.departments {
            if !departments.contains(old) {
                let withdrawn = TicketWithdrawn {
                    schema_version: SCHEMA_VERSION,
                    event_id: Uuid::now_v7(),
                    ticket_id: p.row.id,
                    ticket_no: p.row.ticket_no.clone(),
                    occurred_at: now,
                    revision: p.revision,
                    department: old.clone(),
                    new_lead_department: lead.clone(),
                    reason: format!("reclassified by {}", p.actor),
                };
                outbox.push(OutboxMessage::json(
                    subjects.subject(&format!("ticket.withdrawn.{old}")),
                    &withdrawn,
                )?);
            }
        }
        let lifecycle = |change: LifecycleChange| TicketLifecycleEvent {
            schema_version: SCHEMA_VERSION,
            event_id: Uuid::now_v7(),
            ticket_id: p.row.id,
            ticket_no: p.row.ticket_no.clone(),
            occurred_at: now,
            actor: p.actor.clone(),
            department: lead.clone(),
            priority: Some(p.priority()),
            change,
        };
        if let Some(o) = &owner {
            if p.row.owner.as_ref() != Some(o) {
                let e = lifecycle(LifecycleChange::Assigned { owner: o.clone() });
                outbox.push(OutboxMessage::json(
                    subjects.subject(&e.subject_suffix()),
                    &e,
                )?);
            }
        }
        if p.revision > 0 {
            let old = p.row.priority.as_deref().and_then(Priority::parse);
            if let Some(from) = old.filter(|o| *o != p.priority()) {
                let e = lifecycle(LifecycleChange::PriorityChanged {
                    from,
                    to: p.priority(),
                });
                outbox.push(OutboxMessage::json(
                    subjects.subject(&e.subject_suffix()),
                    &e,
                )?);
            }
        }
    }
    assigner.flush(conn).await?;
    store::update_tickets(conn, &updates).await?;
    drop(updates);
    // The decision's JSON moves into the timeline: it is a deep tree, and copying it per ticket
    // (for the row, the timeline and their binds) was a tenth of the router's CPU.
    let timeline: Vec<TimelineEntry> = plans
        .into_iter()
        .map(|p| TimelineEntry {
            ticket_id: p.row.id,
            kind: p.timeline_kind.to_string(),
            actor: p.actor,
            at: now,
            data: p.detail,
        })
        .collect();
    shared::timeline::append(conn, &timeline).await?;
    shared::outbox::enqueue(conn, &outbox).await?;
    Ok(())
}

/// Turn an engine decision into a plan.
fn plan_from_decision(row: TicketRow, d: Decision) -> Plan {
    let mut tags: Vec<String> = row.tags.clone();
    for t in &d.tags {
        if !tags.contains(&t.code) {
            tags.push(t.code.clone());
        }
    }
    // The model version sits at the top too, so "which model made this decision" is one key away.
    let detail = json!({
        "decision": &d,
        "model_version": &d.model_version,
        "revision": 0,
    });
    Plan {
        category: label(&d.category),
        priority: label(&d.priority),
        feedback_type: label(&d.feedback_type),
        tags,
        route: (!d.needs_review).then(|| d.route.clone()),
        needs_review: d.needs_review,
        review_reasons: d.review_reasons.clone(),
        revision: 0,
        actor: ACTOR.to_string(),
        timeline_kind: if d.needs_review {
            "classified_needs_review"
        } else {
            "classified"
        },
        detail,
        routing_reasons: d.route.reasons.clone(),
        row,
    }
}

/// Consumer of `{prefix}.ticket.created`.
pub struct CreatedHandler {
    pub pool: PgPool,
    pub live: Arc<Live>,
    pub subjects: Subjects,
}

impl BatchHandler for CreatedHandler {
    async fn handle(&self, batch: &[Delivery]) -> Result<Vec<Outcome>, BatchError> {
        let mut outcomes = vec![Outcome::Done; batch.len()];
        let mut ids: Vec<(usize, Uuid)> = Vec::new();
        for (i, d) in batch.iter().enumerate() {
            match serde_json::from_slice::<TicketCreated>(&d.payload) {
                Err(e) => {
                    outcomes[i] = Outcome::Poison(format!("bad_payload: ticket.created: {e}"))
                }
                Ok(m) if m.schema_version != SCHEMA_VERSION => {
                    outcomes[i] =
                        Outcome::Poison(format!("unknown_schema_version: {}", m.schema_version))
                }
                Ok(m) => ids.push((i, m.ticket_id)),
            }
        }
        if ids.is_empty() {
            return Ok(outcomes);
        }
        let mut tx = self.pool.begin().await?;
        let all: Vec<Uuid> = ids.iter().map(|(_, id)| *id).collect();
        let mut rows = store::lock_tickets(&mut tx, &all).await?;
        // A ticket.created whose ticket is not (yet) visible is retried, then dead-lettered.
        let mut present = Vec::new();
        for (i, id) in &ids {
            if rows.contains_key(id) {
                present.push((*i, *id));
            } else {
                outcomes[*i] = Outcome::Retry(format!("unknown_ticket: {id}"));
            }
        }
        let keys: Vec<String> = present
            .iter()
            .map(|(_, id)| format!("created:{id}"))
            .collect();
        let claimed = shared::idempotency::claim(&mut tx, CREATED_CONSUMER, &keys).await?;
        let mut todo: Vec<TicketRow> = Vec::new();
        for (_, id) in &present {
            if !claimed.contains(&format!("created:{id}")) {
                continue; // redelivered: already applied
            }
            if let Some(row) = rows.remove(id) {
                // An inspector's correction that overtook the first decision wins.
                if row.classification_revision == 0 {
                    todo.push(row);
                }
            }
        }
        let engine = self.live.current();
        let decided = {
            let engine = engine.clone();
            tokio::task::spawn_blocking(move || {
                todo.into_iter()
                    .map(|row| {
                        let given = GivenLabels {
                            feedback_type: row.feedback_type.clone(),
                            ..Default::default()
                        };
                        let d = engine.decide(&row.facts(), &given);
                        (row, d)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|e| BatchError::transient(format!("classification task failed: {e}")))?
        };
        let plans: Vec<Plan> = decided
            .into_iter()
            .map(|(row, d)| plan_from_decision(row, d))
            .collect();
        write_plans(&mut tx, &self.subjects, &engine, plans, Utc::now()).await?;
        tx.commit().await?;
        metrics::counter!("loopdesk_router_classified_total").increment(keys.len() as u64);
        Ok(outcomes)
    }
}

/// Consumer of `{prefix}.ticket.reclassify`.
pub struct ReclassifyHandler {
    pub pool: PgPool,
    pub live: Arc<Live>,
    pub subjects: Subjects,
}

/// Check a correction against the label sets; the error is the dead-letter reason.
fn validate(engine: &Engine, m: &TicketReclassify) -> Result<(), String> {
    let l = &engine.labels;
    // The business's own categories an adopted model was trained on count as known too.
    let adopted_class = engine
        .model(Dimension::Category)
        .classes
        .iter()
        .any(|c| c == &m.category);
    if !l.has(Dimension::Category, &m.category) && !adopted_class {
        return Err(format!("unknown_label: category `{}`", m.category));
    }
    if let Some(p) = m.priority {
        if !l.has(Dimension::Priority, p.as_str()) {
            return Err(format!("unknown_label: priority `{}`", p.as_str()));
        }
    }
    if let Some(f) = &m.feedback_type {
        if !l.has(Dimension::FeedbackType, f) {
            return Err(format!("unknown_label: feedback_type `{f}`"));
        }
    }
    if m.inspector.trim().is_empty() {
        return Err("missing_field: inspector".into());
    }
    Ok(())
}

impl BatchHandler for ReclassifyHandler {
    async fn handle(&self, batch: &[Delivery]) -> Result<Vec<Outcome>, BatchError> {
        let engine = self.live.current();
        let mut outcomes = vec![Outcome::Done; batch.len()];
        let mut msgs: Vec<(usize, TicketReclassify)> = Vec::new();
        for (i, d) in batch.iter().enumerate() {
            match serde_json::from_slice::<TicketReclassify>(&d.payload) {
                Err(e) => {
                    outcomes[i] = Outcome::Poison(format!("bad_payload: ticket.reclassify: {e}"))
                }
                Ok(m) if m.schema_version != SCHEMA_VERSION => {
                    outcomes[i] =
                        Outcome::Poison(format!("unknown_schema_version: {}", m.schema_version))
                }
                Ok(m) => match validate(&engine, &m) {
                    Err(reason) => outcomes[i] = Outcome::Poison(reason),
                    Ok(()) => msgs.push((i, m)),
                },
            }
        }
        if msgs.is_empty() {
            return Ok(outcomes);
        }
        let mut tx = self.pool.begin().await?;
        let ids: Vec<Uuid> = msgs.iter().map(|(_, m)| m.ticket_id).collect();
        let mut rows = store::lock_tickets(&mut tx, &ids).await?;
        let mut present = Vec::new();
        for (i, m) in msgs {
            if rows.contains_key(&m.ticket_id) {
                present.push(m);
            } else {
                outcomes[i] = Outcome::Retry(format!("unknown_ticket: {}", m.ticket_id));
            }
        }
        let keys: Vec<String> = present.iter().map(|m| m.event_id.to_string()).collect();
        let claimed = shared::idempotency::claim(&mut tx, RECLASSIFY_CONSUMER, &keys).await?;
        let now = Utc::now();
        let mut plans: Vec<Plan> = Vec::new();
        let mut corrections = Vec::new();
        // Several corrections of one ticket in a batch apply in order: each sees the previous one.
        let mut latest: HashMap<Uuid, TicketRow> = HashMap::new();
        for m in present {
            if !claimed.contains(&m.event_id.to_string()) {
                continue;
            }
            let row = match latest.remove(&m.ticket_id) {
                Some(r) => r,
                None => match rows.remove(&m.ticket_id) {
                    Some(r) => r,
                    None => continue,
                },
            };
            let priority = m
                .priority
                .map(|p| p.as_str().to_string())
                .or_else(|| row.priority.clone())
                .unwrap_or_else(|| "general".into());
            let feedback_type = m
                .feedback_type
                .clone()
                .or_else(|| row.feedback_type.clone())
                .unwrap_or_else(|| "suggestion_other".into());
            let tags = m.tags.clone().unwrap_or_else(|| row.tags.clone());
            let route = engine.routing.route(&m.category, &feedback_type, &tags);
            let inspector_label = |d: Dimension, code: &str| DecidedLabel {
                code: code.to_string(),
                name: engine.labels.name(d, code),
                confidence: 1.0,
                source: "inspector".into(),
                reasons: vec![format!(
                    "corrected by inspector {}{}",
                    m.inspector,
                    m.comment
                        .as_deref()
                        .map(|c| format!(": {c}"))
                        .unwrap_or_default()
                )],
            };
            let previous = json!({
                "category": row.category, "priority": row.priority,
                "feedback_type": row.feedback_type, "tags": row.tags,
                "lead_department": row.lead_department, "departments": row.departments,
            });
            corrections.push(Correction {
                event_id: m.event_id,
                ticket_id: row.id,
                text: row.description.clone(),
                category: m.category.clone(),
                priority: priority.clone(),
                feedback_type: feedback_type.clone(),
                tags: tags.clone(),
                inspector: m.inspector.clone(),
                previous: previous.clone(),
            });
            let revision = row.classification_revision + 1;
            let actor = format!("inspector:{}", m.inspector);
            let detail = json!({
                "revision": revision,
                "correction": {
                    "event_id": m.event_id, "inspector": m.inspector, "comment": m.comment,
                    "category": m.category, "priority": priority, "feedback_type": feedback_type,
                    "tags": tags,
                },
                "previous": previous,
                "route": route,
            });
            let plan = Plan {
                category: inspector_label(Dimension::Category, &m.category),
                priority: inspector_label(Dimension::Priority, &priority),
                feedback_type: inspector_label(Dimension::FeedbackType, &feedback_type),
                tags,
                routing_reasons: route.reasons.clone(),
                route: Some(route),
                needs_review: false,
                review_reasons: Vec::new(),
                revision,
                actor,
                timeline_kind: "reclassified",
                detail,
                row,
            };
            // The next correction of the same ticket in this batch starts from this one.
            let mut next = plan.row.clone();
            next.category = Some(plan.category.code.clone());
            next.priority = Some(plan.priority.code.clone());
            next.feedback_type = Some(plan.feedback_type.code.clone());
            next.tags = plan.tags.clone();
            next.classification_revision = revision;
            if let Some(r) = &plan.route {
                next.lead_department = Some(r.lead.clone());
                next.departments = r.departments.clone();
            }
            latest.insert(next.id, next);
            plans.push(plan);
        }
        // Apply corrections of the same ticket one after another (each is its own plan).
        let mut by_round: Vec<Vec<Plan>> = Vec::new();
        let mut seen: HashMap<Uuid, usize> = HashMap::new();
        for p in plans {
            let round = seen.entry(p.row.id).or_insert(0);
            if by_round.len() <= *round {
                by_round.push(Vec::new());
            }
            by_round[*round].push(p);
            *round += 1;
        }
        for round in by_round {
            write_plans(&mut tx, &self.subjects, &engine, round, now).await?;
        }
        for c in &corrections {
            store::insert_correction(&mut tx, c).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}
