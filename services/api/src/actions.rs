//! What people do to a ticket. Each action locks the ticket, checks role, department and the status
//! transition, changes the row, appends to the timeline and enqueues its event in the outbox — all in one
//! transaction (SPEC invariant 1). Refused transitions answer 409 `invalid_transition`.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use shared::messages::feedback::{FeedbackType, Priority};
use shared::messages::lifecycle::{LifecycleChange, Resolution, TicketLifecycleEvent};
use shared::messages::router::TicketReclassify;
use shared::messages::SCHEMA_VERSION;
use shared::outbox::OutboxMessage;
use shared::timeline::TimelineEntry;
use sqlx::{PgConnection, Postgres, QueryBuilder, Transaction};
use uuid::Uuid;

use crate::auth::{Perm, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::model::{self, TicketFull, TicketRow};
use crate::AppState;

/// Statuses in which a ticket is being handled.
const ACTIVE: [&str; 4] = ["new", "needs_review", "open", "reopened"];
const WAITING: &str = "waiting_on_customer";

fn active(t: &TicketRow) -> bool {
    ACTIVE.contains(&t.status.as_str())
}

fn active_or_waiting(t: &TicketRow) -> bool {
    active(t) || t.status == WAITING
}

fn ensure(ok: bool, action: &str, t: &TicketRow) -> ApiResult<()> {
    if ok {
        Ok(())
    } else {
        Err(ApiError::transition(action, &t.status))
    }
}

fn text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::bad(
            "missing_field",
            format!("{field} must not be empty"),
        ));
    }
    if v.chars().count() > max {
        return Err(ApiError::bad(
            "field_too_long",
            format!("{field} is longer than {max} characters"),
        ));
    }
    Ok(v.to_string())
}

fn opt_text(field: &str, value: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => text(field, v, max).map(Some),
    }
}

/// A locked ticket inside an open transaction, checked against the caller's role and department.
struct Locked {
    tx: Transaction<'static, Postgres>,
    t: TicketRow,
}

async fn lock(state: &AppState, principal: &Principal, key: &str, perm: Perm) -> ApiResult<Locked> {
    principal.require(perm)?;
    let mut tx = state.pool.begin().await?;
    let t = model::load(&mut tx, key, true).await?;
    principal.check_department(t.lead_department.as_deref(), &t.departments)?;
    Ok(Locked { tx, t })
}

fn lifecycle(
    state: &AppState,
    t: &TicketRow,
    actor: &str,
    change: LifecycleChange,
) -> ApiResult<OutboxMessage> {
    let event = TicketLifecycleEvent {
        schema_version: SCHEMA_VERSION,
        event_id: Uuid::now_v7(),
        ticket_id: t.id,
        ticket_no: t.ticket_no.clone(),
        occurred_at: Utc::now(),
        actor: actor.to_string(),
        department: t.lead_department.clone(),
        priority: t.priority.as_deref().and_then(Priority::parse),
        change,
    };
    Ok(OutboxMessage::json(
        state.subjects.subject(&event.subject_suffix()),
        &event,
    )?)
}

/// Runs `update tickets set updated_at = now(){sets} where id = …`.
async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    build: impl FnOnce(&mut QueryBuilder<'_, Postgres>),
) -> ApiResult<()> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new("update tickets set updated_at = now()");
    build(&mut qb);
    qb.push(" where id = ").push_bind(id);
    qb.build().execute(conn).await?;
    Ok(())
}

/// Appends the timeline entries, builds the events from the changed ticket, enqueues them and commits.
async fn finish(
    state: &AppState,
    mut locked: Locked,
    principal: &Principal,
    entries: Vec<(&str, serde_json::Value)>,
    changes: Vec<LifecycleChange>,
    extra: Vec<OutboxMessage>,
) -> ApiResult<Json<TicketFull>> {
    let actor = principal.actor();
    let now = Utc::now();
    let rows: Vec<TimelineEntry> = entries
        .into_iter()
        .map(|(kind, data)| TimelineEntry {
            ticket_id: locked.t.id,
            kind: kind.to_string(),
            actor: actor.clone(),
            at: now,
            data,
        })
        .collect();
    shared::timeline::append(&mut locked.tx, &rows).await?;
    let after = model::load(&mut locked.tx, &locked.t.id.to_string(), false).await?;
    let mut messages = changes
        .into_iter()
        .map(|c| lifecycle(state, &after, &actor, c))
        .collect::<ApiResult<Vec<_>>>()?;
    messages.extend(extra);
    shared::outbox::enqueue(&mut locked.tx, &messages).await?;
    locked.tx.commit().await?;
    state.relay.notify_one();
    Ok(Json((&after).into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReplyBody {
    /// What was said to the customer.
    pub message: String,
}

/// Replies to the customer; the first reply ends the first-response clock.
#[utoipa::path(post, path = "/v1/tickets/{id}/reply", tag = "actions", request_body = ReplyBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketFull), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn reply(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<ReplyBody>,
) -> ApiResult<Json<TicketFull>> {
    let message = text("message", &body.message, 10_000)?;
    let mut l = lock(&state, &principal, &key, Perm::Handle).await?;
    ensure(active_or_waiting(&l.t), "reply to", &l.t)?;
    let first = l.t.first_reply_at.is_none();
    let now = Utc::now();
    update(&mut l.tx, l.t.id, |qb| {
        qb.push(", last_contact_at = ")
            .push_bind(now)
            .push(", contacts = contacts + 1");
        if first {
            qb.push(", first_reply_at = ").push_bind(now);
        }
    })
    .await?;
    finish(
        &state,
        l,
        &principal,
        vec![("replied", json!({"message": message, "first": first}))],
        vec![LifecycleChange::Replied { first }],
        vec![],
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NoteBody {
    pub text: String,
}

/// An internal note: on the timeline only, never sent to the customer.
#[utoipa::path(post, path = "/v1/tickets/{id}/notes", tag = "actions", request_body = NoteBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketFull), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn note(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<NoteBody>,
) -> ApiResult<Json<TicketFull>> {
    let note = text("text", &body.text, 10_000)?;
    let l = lock(&state, &principal, &key, Perm::Handle).await?;
    ensure(l.t.status != "archived", "add a note to", &l.t)?;
    finish(
        &state,
        l,
        &principal,
        vec![("note", json!({"text": note}))],
        vec![],
        vec![],
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StepBody {
    /// Handling step 1-8: 1 intake, 2 confirm information, 3 analyse, 4 propose a solution, 5 implement,
    /// 6 confirm resolution (use `/resolve`), 7 revisit, 8 archive (use `/archive`).
    pub step: u8,
    /// Who did the step (defaults to the caller).
    pub owner: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub result: Option<String>,
    pub remark: Option<String>,
    /// Step 4: the proposed solution (and its expected effect).
    pub solution: Option<String>,
}

pub const STEP_NAMES: [&str; 8] = [
    "intake",
    "confirm_information",
    "analyse",
    "propose_solution",
    "implement",
    "confirm_resolution",
    "revisit",
    "archive",
];

/// Records one of the 8 handling steps with owner, start, end, result and remark.
#[utoipa::path(post, path = "/v1/tickets/{id}/steps", tag = "actions", request_body = StepBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketFull), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn step(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<StepBody>,
) -> ApiResult<Json<TicketFull>> {
    let name = match body.step {
        6 => {
            return Err(ApiError::bad(
                "use_resolve",
                "step 6 (confirm resolution) is recorded by POST /v1/tickets/{id}/resolve",
            ))
        }
        8 => {
            return Err(ApiError::bad(
                "use_archive",
                "step 8 (archive) is recorded by POST /v1/tickets/{id}/archive",
            ))
        }
        n @ 1..=7 => STEP_NAMES[usize::from(n) - 1],
        _ => {
            return Err(ApiError::bad(
                "invalid_value",
                "step must be between 1 and 8",
            ))
        }
    };
    if let (Some(s), Some(e)) = (body.started_at, body.ended_at) {
        if e < s {
            return Err(ApiError::bad(
                "invalid_value",
                "ended_at is before started_at",
            ));
        }
    }
    let result = opt_text("result", body.result.as_deref(), 2_000)?;
    let remark = opt_text("remark", body.remark.as_deref(), 2_000)?;
    let solution = opt_text("solution", body.solution.as_deref(), 10_000)?;
    if body.step == 4 && solution.is_none() {
        return Err(ApiError::bad(
            "missing_field",
            "step 4 needs the proposed solution",
        ));
    }
    let owner =
        opt_text("owner", body.owner.as_deref(), 100)?.unwrap_or_else(|| principal.name.clone());
    let mut l = lock(&state, &principal, &key, Perm::Handle).await?;
    if body.step == 7 {
        ensure(l.t.status == "resolved", "revisit", &l.t)?;
    } else {
        ensure(
            active_or_waiting(&l.t),
            &format!("record step {} ({name}) on", body.step),
            &l.t,
        )?;
    }
    if let Some(s) = &solution {
        let s = s.clone();
        update(&mut l.tx, l.t.id, |qb| {
            // A new proposal needs a new approval.
            qb.push(", solution = ")
                .push_bind(s)
                .push(", solution_approved_by = null, solution_approved_at = null");
        })
        .await?;
    }
    let data = json!({
        "step": body.step, "name": name, "owner": owner, "started_at": body.started_at,
        "ended_at": body.ended_at, "result": result, "remark": remark, "solution": solution,
    });
    finish(&state, l, &principal, vec![("step", data)], vec![], vec![]).await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ContactBody {
    pub note: Option<String>,
}

/// A proactive contact with the customer while handling.
#[utoipa::path(post, path = "/v1/tickets/{id}/contact", tag = "actions", request_body = ContactBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketFull), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn contact(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<ContactBody>,
) -> ApiResult<Json<TicketFull>> {
    let note = opt_text("note", body.note.as_deref(), 2_000)?;
    let mut l = lock(&state, &principal, &key, Perm::Handle).await?;
    ensure(active_or_waiting(&l.t), "contact the customer of", &l.t)?;
    let now = Utc::now();
    update(&mut l.tx, l.t.id, |qb| {
        qb.push(", last_contact_at = ")
            .push_bind(now)
            .push(", contacts = contacts + 1");
    })
    .await?;
    finish(
        &state,
        l,
        &principal,
        vec![("contacted", json!({"note": note}))],
        vec![LifecycleChange::Contacted],
        vec![],
    )
    .await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct WaitBody {
    /// What the customer is to supply.
    pub reason: Option<String>,
}

/// Waiting on the customer: SLA clocks pause.
#[utoipa::path(post, path = "/v1/tickets/{id}/wait", tag = "actions", request_body = WaitBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketFull), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn wait(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<WaitBody>,
) -> ApiResult<Json<TicketFull>> {
    let reason = opt_text("reason", body.reason.as_deref(), 2_000)?;
    let mut l = lock(&state, &principal, &key, Perm::Handle).await?;
    ensure(active(&l.t), "wait on the customer for", &l.t)?;
    let before = l.t.status.clone();
    update(&mut l.tx, l.t.id, |qb| {
        qb.push(", status = 'waiting_on_customer', status_before_wait = ")
            .push_bind(before);
    })
    .await?;
    finish(
        &state,
        l,
        &principal,
        vec![("waiting_on_customer", json!({"reason": reason}))],
        vec![LifecycleChange::WaitingOnCustomer { reason }],
        vec![],
    )
    .await
}

/// The customer answered: back to the status before waiting, clocks resume.
#[utoipa::path(post, path = "/v1/tickets/{id}/resume", tag = "actions",
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketFull), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn resume(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<Json<TicketFull>> {
    let mut l = lock(&state, &principal, &key, Perm::Handle).await?;
    ensure(l.t.status == WAITING, "resume", &l.t)?;
    let back =
        l.t.status_before_wait
            .clone()
            .filter(|s| ACTIVE.contains(&s.as_str()))
            .unwrap_or_else(|| "open".into());
    update(&mut l.tx, l.t.id, |qb| {
        qb.push(", status = ")
            .push_bind(back.clone())
            .push(", status_before_wait = null");
    })
    .await?;
    finish(
        &state,
        l,
        &principal,
        vec![("resumed", json!({"status": back}))],
        vec![LifecycleChange::Resumed],
        vec![],
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PriorityBody {
    #[schema(value_type = String, example = "urgent")]
    pub priority: Priority,
    pub reason: Option<String>,
}

/// Changes the priority; SLA deadlines are recomputed by the SLA worker.
#[utoipa::path(post, path = "/v1/tickets/{id}/priority", tag = "actions", request_body = PriorityBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketFull), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn priority(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<PriorityBody>,
) -> ApiResult<Json<TicketFull>> {
    let reason = opt_text("reason", body.reason.as_deref(), 2_000)?;
    let mut l = lock(&state, &principal, &key, Perm::ChangePriority).await?;
    ensure(active_or_waiting(&l.t), "change the priority of", &l.t)?;
    let from = l.t.priority.as_deref().and_then(Priority::parse);
    if from == Some(body.priority) {
        return Err(ApiError::conflict(
            "unchanged",
            format!("priority is already {}", body.priority.as_str()),
        ));
    }
    update(&mut l.tx, l.t.id, |qb| {
        qb.push(", priority = ").push_bind(body.priority.as_str());
    })
    .await?;
    let mut changes = Vec::new();
    // Without a previous priority there is nothing to recompute from; the event needs both ends.
    if let Some(from) = from {
        changes.push(LifecycleChange::PriorityChanged {
            from,
            to: body.priority,
        });
    }
    finish(&state, l, &principal,
        vec![("priority_changed", json!({"from": from.map(|p| p.as_str()), "to": body.priority.as_str(), "reason": reason}))],
        changes, vec![]).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AssignBody {
    /// The owner's user name.
    pub owner: String,
}

/// Assigns an owner (supervisors).
#[utoipa::path(post, path = "/v1/tickets/{id}/assign", tag = "actions", request_body = AssignBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketFull), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn assign(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<AssignBody>,
) -> ApiResult<Json<TicketFull>> {
    let owner = text("owner", &body.owner, 100)?;
    let mut l = lock(&state, &principal, &key, Perm::Assign).await?;
    ensure(l.t.status != "archived", "assign", &l.t)?;
    if l.t.owner.as_deref() == Some(owner.as_str()) {
        return Err(ApiError::conflict(
            "unchanged",
            format!("{owner} already owns this ticket"),
        ));
    }
    let previous = l.t.owner.clone();
    update(&mut l.tx, l.t.id, |qb| {
        qb.push(", owner = ").push_bind(owner.clone());
    })
    .await?;
    finish(
        &state,
        l,
        &principal,
        vec![("assigned", json!({"owner": owner, "previous": previous}))],
        vec![LifecycleChange::Assigned {
            owner: owner.clone(),
        }],
        vec![],
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReclassifyBody {
    /// Corrected problem category code, e.g. `technical_fault`.
    pub category: Option<String>,
    #[schema(value_type = Option<String>)]
    pub feedback_type: Option<FeedbackType>,
    #[schema(value_type = Option<String>)]
    pub priority: Option<Priority>,
    pub tags: Option<Vec<String>>,
    pub reason: Option<String>,
}

/// A quality inspector's correction: sent to the router, which re-routes the ticket and keeps the
/// correction as labelled data.
#[utoipa::path(post, path = "/v1/tickets/{id}/reclassify", tag = "actions", request_body = ReclassifyBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketFull), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn reclassify(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<ReclassifyBody>,
) -> ApiResult<Json<TicketFull>> {
    let category = opt_text("category", body.category.as_deref(), 100)?;
    if category.is_none()
        && body.feedback_type.is_none()
        && body.priority.is_none()
        && body.tags.is_none()
    {
        return Err(ApiError::bad(
            "missing_field",
            "name at least one of category, feedback_type, priority, tags",
        ));
    }
    if let Some(c) = &category {
        if !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
            return Err(ApiError::bad(
                "invalid_value",
                "category is a code such as technical_fault",
            ));
        }
    }
    let reason = opt_text("reason", body.reason.as_deref(), 2_000)?;
    let l = lock(&state, &principal, &key, Perm::Reclassify).await?;
    ensure(l.t.status != "archived", "reclassify", &l.t)?;
    // The router's correction always names the category: the current one when only others change.
    let category = category.or_else(|| l.t.category.clone()).ok_or_else(|| {
        ApiError::bad(
            "missing_field",
            "the ticket has no category yet: name the correct one",
        )
    })?;
    let request = TicketReclassify {
        schema_version: SCHEMA_VERSION,
        event_id: Uuid::now_v7(),
        ticket_id: l.t.id,
        occurred_at: Utc::now(),
        inspector: principal.name.clone(),
        category,
        priority: body.priority,
        feedback_type: body.feedback_type.map(|f| f.as_str().to_string()),
        tags: body.tags,
        comment: reason,
    };
    let message = OutboxMessage::json(state.subjects.subject("ticket.reclassify"), &request)?;
    // The timeline keeps the correction with what it corrected (labelled data for later review).
    let data = json!({
        "correction": request,
        "previous": {"category": l.t.category, "feedback_type": l.t.feedback_type,
            "priority": l.t.priority, "tags": l.t.tags},
    });
    finish(
        &state,
        l,
        &principal,
        vec![("reclassify_requested", data)],
        vec![],
        vec![message],
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MergeBody {
    /// The ticket (id or number) this one duplicates; it stays, this one is archived into it.
    pub into: String,
}

/// Merges a duplicate into the ticket it repeats.
#[utoipa::path(post, path = "/v1/tickets/{id}/merge", tag = "actions", request_body = MergeBody,
    params(("id" = String, Path, description = "the duplicate: ticket id or number")),
    responses((status = 200, body = TicketFull), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn merge(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<MergeBody>,
) -> ApiResult<Json<TicketFull>> {
    let into_key = text("into", &body.into, 100)?;
    let mut l = lock(&state, &principal, &key, Perm::Merge).await?;
    let target = model::load(&mut l.tx, &into_key, true).await?;
    principal.check_department(target.lead_department.as_deref(), &target.departments)?;
    if target.id == l.t.id {
        return Err(ApiError::bad(
            "invalid_value",
            "a ticket cannot be merged into itself",
        ));
    }
    ensure(active_or_waiting(&l.t), "merge", &l.t)?;
    if target.status == "archived" || target.merged_into.is_some() {
        return Err(ApiError::conflict(
            "invalid_transition",
            format!("ticket {} is archived or merged", target.ticket_no),
        ));
    }
    let now = Utc::now();
    let actor = principal.actor();
    update(&mut l.tx, l.t.id, |qb| {
        qb.push(", status = 'archived', merged_into = ")
            .push_bind(target.id)
            .push(", archived_at = ")
            .push_bind(now)
            .push(", archived_by = ")
            .push_bind(actor.clone());
    })
    .await?;
    shared::timeline::append(
        &mut l.tx,
        &[TimelineEntry {
            ticket_id: target.id,
            kind: "duplicate_merged".into(),
            actor,
            at: now,
            data: json!({"duplicate": l.t.ticket_no, "duplicate_id": l.t.id}),
        }],
    )
    .await?;
    let data = json!({"into": target.ticket_no, "into_id": target.id});
    finish(
        &state,
        l,
        &principal,
        vec![("merged", data)],
        vec![LifecycleChange::Archived],
        vec![],
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResolveBody {
    /// full 完全解决 / partial 部分解决 / unresolved 未解决.
    #[schema(value_type = String, example = "full")]
    pub resolution: Resolution,
    /// Required unless fully resolved, e.g. "waiting for the tech dept".
    pub reason: Option<String>,
    /// Resolved in the first contact with the customer.
    #[serde(default)]
    pub first_contact: bool,
    pub solution: Option<String>,
    pub follow_up_plan: Option<String>,
}

/// Step 6, confirm resolution.
#[utoipa::path(post, path = "/v1/tickets/{id}/resolve", tag = "actions", request_body = ResolveBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketFull), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn resolve(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<ResolveBody>,
) -> ApiResult<Json<TicketFull>> {
    let reason = opt_text("reason", body.reason.as_deref(), 2_000)?;
    if body.resolution != Resolution::Full && reason.is_none() {
        return Err(ApiError::bad(
            "missing_field",
            "a partial or unresolved outcome needs a reason",
        ));
    }
    if body.resolution == Resolution::Unresolved && body.first_contact {
        return Err(ApiError::bad(
            "invalid_value",
            "an unresolved ticket was not resolved at first contact",
        ));
    }
    let solution = opt_text("solution", body.solution.as_deref(), 10_000)?;
    let plan = opt_text("follow_up_plan", body.follow_up_plan.as_deref(), 2_000)?;
    let mut l = lock(&state, &principal, &key, Perm::Handle).await?;
    ensure(active_or_waiting(&l.t), "resolve", &l.t)?;
    let now = Utc::now();
    update(&mut l.tx, l.t.id, |qb| {
        qb.push(", status = 'resolved', status_before_wait = null, resolved_at = ")
            .push_bind(now)
            .push(", resolution = ")
            .push_bind(body.resolution.as_str())
            .push(", unresolved_reason = ")
            .push_bind(reason.clone())
            .push(", first_contact_resolved = ")
            .push_bind(body.first_contact);
        if let Some(s) = solution.clone() {
            qb.push(", solution = coalesce(solution, ")
                .push_bind(s)
                .push(")");
        }
        if let Some(p) = plan.clone() {
            qb.push(", follow_up_plan = ").push_bind(p);
        }
    })
    .await?;
    let data = json!({"step": 6, "name": STEP_NAMES[5], "resolution": body.resolution.as_str(), "reason": reason,
        "first_contact": body.first_contact, "solution": solution, "follow_up_plan": plan});
    finish(
        &state,
        l,
        &principal,
        vec![("resolved", data)],
        vec![LifecycleChange::Resolved {
            resolution: body.resolution,
            reason,
            first_contact: body.first_contact,
        }],
        vec![],
    )
    .await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct RemarkBody {
    pub remark: Option<String>,
    /// Review only: the follow-up plan written into the per-ticket report.
    pub follow_up_plan: Option<String>,
}

/// A supervisor approves the proposed solution (step 4).
#[utoipa::path(post, path = "/v1/tickets/{id}/approve", tag = "actions", request_body = RemarkBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketFull), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<RemarkBody>,
) -> ApiResult<Json<TicketFull>> {
    let remark = opt_text("remark", body.remark.as_deref(), 2_000)?;
    let mut l = lock(&state, &principal, &key, Perm::Approve).await?;
    ensure(l.t.status != "archived", "approve a solution of", &l.t)?;
    if l.t.solution.is_none() {
        return Err(ApiError::conflict(
            "no_solution",
            "no solution has been proposed (step 4)",
        ));
    }
    if l.t.solution_approved_at.is_some() {
        return Err(ApiError::conflict(
            "already_approved",
            "the solution is already approved",
        ));
    }
    let (who, now) = (principal.name.clone(), Utc::now());
    update(&mut l.tx, l.t.id, |qb| {
        qb.push(", solution_approved_by = ")
            .push_bind(who)
            .push(", solution_approved_at = ")
            .push_bind(now);
    })
    .await?;
    finish(
        &state,
        l,
        &principal,
        vec![("solution_approved", json!({"remark": remark}))],
        vec![],
        vec![],
    )
    .await
}

/// A supervisor reviews the per-ticket report of a resolved ticket.
#[utoipa::path(post, path = "/v1/tickets/{id}/review", tag = "actions", request_body = RemarkBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketFull), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn review(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<RemarkBody>,
) -> ApiResult<Json<TicketFull>> {
    let remark = opt_text("remark", body.remark.as_deref(), 2_000)?;
    let plan = opt_text("follow_up_plan", body.follow_up_plan.as_deref(), 2_000)?;
    let mut l = lock(&state, &principal, &key, Perm::ReviewReport).await?;
    ensure(
        matches!(l.t.status.as_str(), "resolved" | "archived"),
        "review the report of",
        &l.t,
    )?;
    if l.t.report_reviewed_at.is_some() {
        return Err(ApiError::conflict(
            "already_reviewed",
            "the report is already reviewed",
        ));
    }
    let (who, now) = (principal.name.clone(), Utc::now());
    update(&mut l.tx, l.t.id, |qb| {
        qb.push(", report_reviewed_by = ")
            .push_bind(who)
            .push(", report_reviewed_at = ")
            .push_bind(now);
        if let Some(p) = plan.clone() {
            qb.push(", follow_up_plan = ").push_bind(p);
        }
    })
    .await?;
    finish(
        &state,
        l,
        &principal,
        vec![(
            "report_reviewed",
            json!({"remark": remark, "follow_up_plan": plan}),
        )],
        vec![],
        vec![],
    )
    .await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ReopenBody {
    pub reason: Option<String>,
}

/// Reopens a resolved ticket (a second follow-up); its resolution is cleared, the timeline keeps it.
#[utoipa::path(post, path = "/v1/tickets/{id}/reopen", tag = "actions", request_body = ReopenBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketFull), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn reopen(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<ReopenBody>,
) -> ApiResult<Json<TicketFull>> {
    let reason = opt_text("reason", body.reason.as_deref(), 2_000)?;
    let mut l = lock(&state, &principal, &key, Perm::Handle).await?;
    ensure(l.t.status == "resolved", "reopen", &l.t)?;
    update(&mut l.tx, l.t.id, |qb| {
        qb.push(", status = 'reopened', resolved_at = null, resolution = null, unresolved_reason = null, first_contact_resolved = null, report_reviewed_by = null, report_reviewed_at = null");
    })
    .await?;
    finish(
        &state,
        l,
        &principal,
        vec![("reopened", json!({"reason": reason}))],
        vec![LifecycleChange::Reopened { reason }],
        vec![],
    )
    .await
}

/// Step 8: archives a resolved ticket (archive time, archiver).
#[utoipa::path(post, path = "/v1/tickets/{id}/archive", tag = "actions",
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketFull), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn archive(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<Json<TicketFull>> {
    let mut l = lock(&state, &principal, &key, Perm::Archive).await?;
    ensure(l.t.status == "resolved", "archive", &l.t)?;
    let (who, now) = (principal.name.clone(), Utc::now());
    update(&mut l.tx, l.t.id, |qb| {
        qb.push(", status = 'archived', archived_at = ")
            .push_bind(now)
            .push(", archived_by = ")
            .push_bind(who.clone());
    })
    .await?;
    finish(
        &state,
        l,
        &principal,
        vec![(
            "archived",
            json!({"step": 8, "name": STEP_NAMES[7], "archiver": who}),
        )],
        vec![LifecycleChange::Archived],
        vec![],
    )
    .await
}
