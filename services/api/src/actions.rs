//! What people do to a ticket. Every handler is a thin declaration over one path, [`act`]: lock the
//! ticket, check the action against the lifecycle table (`shared::lifecycle`: role, department, status),
//! apply what the handler declares ([`Effect`]) and the status change the table names, append the
//! timeline entry, enqueue the lifecycle event in the outbox, commit (docs/architecture.md: a state
//! change and its event commit together). Refused transitions answer 409 `invalid_transition` with
//! `details: {action, status}`.
//!
//! Everything a person types here (replies, notes, step results, solutions, reasons, plans, remarks)
//! passes through the shared redaction of national-ID and bank-card numbers before it is stored or
//! published ([`prose`]).

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::lifecycle::{self, Action, HandlingStep, Refusal, TicketStatus};
use shared::messages::feedback::{FeedbackType, Priority};
use shared::messages::lifecycle::{LifecycleChange, Resolution, TicketLifecycleEvent};
use shared::messages::router::TicketReclassify;
use shared::messages::SCHEMA_VERSION;
use shared::outbox::OutboxMessage;
use shared::timeline::TimelineEntry;
use sqlx::{Postgres, QueryBuilder, Transaction};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::model::{self, TicketFull, TicketRow};
use crate::AppState;

/// A required short text: trimmed, not empty, at most `max` characters.
fn text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::field(
            "missing_field",
            field,
            format!("{field} must not be empty"),
        ));
    }
    if v.chars().count() > max {
        return Err(ApiError::field(
            "field_too_long",
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    Ok(v.to_string())
}

/// Text a person typed that is stored and published: checked like [`text`], then national-ID and
/// bank-card numbers are redacted, so they never reach the timeline, events or reports.
pub fn prose(field: &str, value: &str, max: usize) -> ApiResult<String> {
    text(field, value, max).map(|v| shared::pii::redact_text(&v).0)
}

/// [`prose`] for an optional field; blank counts as absent.
pub fn opt_prose(field: &str, value: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => prose(field, v, max).map(Some),
    }
}

/// A value written into a ticket column.
#[derive(Debug, Clone)]
pub enum Value {
    Text(Option<String>),
    Time(DateTime<Utc>),
    Bool(bool),
    Id(Uuid),
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_string()))
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(v: DateTime<Utc>) -> Self {
        Value::Time(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<Uuid> for Value {
    fn from(v: Uuid) -> Self {
        Value::Id(v)
    }
}

/// How one column changes.
#[derive(Debug, Clone)]
enum Set {
    To(&'static str, Value),
    /// Only when the column is still empty.
    IfEmpty(&'static str, Value),
    Null(&'static str),
    Increment(&'static str),
}

/// What an action changes besides the status, declared by its handler and applied by [`Acting::commit`]:
/// column changes, the timeline entry's data, the lifecycle event and any further messages or entries.
#[derive(Debug)]
pub struct Effect {
    sets: Vec<Set>,
    /// The data of the action's timeline entry (its kind comes from the lifecycle table).
    entry: serde_json::Value,
    change: Option<LifecycleChange>,
    messages: Vec<OutboxMessage>,
    /// Entries on other tickets (a merge notes the duplicate on the ticket it repeats).
    other_entries: Vec<(Uuid, &'static str, serde_json::Value)>,
}

impl Effect {
    /// An action that leaves this timeline entry.
    pub fn entry(data: serde_json::Value) -> Self {
        Effect {
            sets: Vec::new(),
            entry: data,
            change: None,
            messages: Vec::new(),
            other_entries: Vec::new(),
        }
    }

    pub fn set(mut self, column: &'static str, value: impl Into<Value>) -> Self {
        self.sets.push(Set::To(column, value.into()));
        self
    }

    pub fn clear(mut self, column: &'static str) -> Self {
        self.sets.push(Set::Null(column));
        self
    }

    pub fn set_if_empty(mut self, column: &'static str, value: impl Into<Value>) -> Self {
        self.sets.push(Set::IfEmpty(column, value.into()));
        self
    }

    /// A contact with the customer at `at`: counted, and the last contact time kept.
    pub fn contact(mut self, at: DateTime<Utc>) -> Self {
        self.sets.push(Set::To("last_contact_at", at.into()));
        self.sets.push(Set::Increment("contacts"));
        self
    }

    /// The lifecycle event to publish; its kind must be the one the table names for the action.
    pub fn event(mut self, change: LifecycleChange) -> Self {
        self.change = Some(change);
        self
    }

    pub fn publish(mut self, message: OutboxMessage) -> Self {
        self.messages.push(message);
        self
    }

    pub fn note_on(mut self, ticket: Uuid, kind: &'static str, data: serde_json::Value) -> Self {
        self.other_entries.push((ticket, kind, data));
        self
    }
}

/// The ticket after an action, with what the caller may do next.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActedTicket {
    #[serde(flatten)]
    pub ticket: TicketFull,
    /// The actions the caller may take now (see `GET /v1/tickets/{id}/actions`).
    pub allowed_actions: Vec<Action>,
}

/// The actions `principal` may take on `t` now.
pub fn allowed_for(principal: &Principal, t: &TicketRow) -> Vec<Action> {
    let relation = principal.relation(t.lead_department.as_deref(), &t.departments);
    lifecycle::allowed_actions(principal.role, relation, &t.facts())
}

/// A ticket locked in an open transaction, its action checked against the lifecycle table.
pub struct Acting {
    pub tx: Transaction<'static, Postgres>,
    pub ticket: TicketRow,
    action: Action,
}

impl Acting {
    /// Checks the caller's role (before reading anything about the ticket), locks the ticket, then
    /// checks department and status. Another department's ticket answers as a missing one.
    pub async fn begin(
        state: &AppState,
        principal: &Principal,
        key: &str,
        action: Action,
    ) -> ApiResult<Acting> {
        if !lifecycle::allowed(principal.role, action.rule().perm) {
            return Err(Refusal::Role {
                role: principal.role,
                action,
            }
            .into());
        }
        let mut tx = state.pool.begin().await?;
        let ticket = model::load(&mut tx, key, true).await?;
        let relation = principal.relation(ticket.lead_department.as_deref(), &ticket.departments);
        lifecycle::check(action, principal.role, relation, &ticket.facts())?;
        Ok(Acting { tx, ticket, action })
    }

    /// Applies the table's status change and `effect`, appends the timeline, enqueues the events,
    /// commits and wakes the outbox relay.
    pub async fn commit(
        mut self,
        state: &AppState,
        principal: &Principal,
        effect: Effect,
    ) -> ApiResult<Json<ActedTicket>> {
        let rule = self.action.rule();
        let t = &self.ticket;
        let next = self.action.next_status(t.status, t.status_before_wait);
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new("update tickets set updated_at = now()");
        let mut changed = false;
        if next != t.status {
            changed = true;
            qb.push(", status = ").push_bind(next);
            if next == TicketStatus::WaitingOnCustomer {
                qb.push(", status_before_wait = ").push_bind(t.status);
            } else {
                qb.push(", status_before_wait = null");
            }
        }
        for column in rule.clears {
            changed = true;
            qb.push(format_args!(", {column} = null"));
        }
        for set in effect.sets {
            changed = true;
            let (prefix, value, suffix) = match set {
                Set::Increment(column) => {
                    qb.push(format_args!(", {column} = {column} + 1"));
                    continue;
                }
                Set::Null(column) => {
                    qb.push(format_args!(", {column} = null"));
                    continue;
                }
                Set::To(column, value) => (format!(", {column} = "), value, ""),
                Set::IfEmpty(column, value) => {
                    (format!(", {column} = coalesce({column}, "), value, ")")
                }
            };
            qb.push(prefix);
            match value {
                Value::Text(v) => qb.push_bind(v),
                Value::Time(v) => qb.push_bind(v),
                Value::Bool(v) => qb.push_bind(v),
                Value::Id(v) => qb.push_bind(v),
            };
            qb.push(suffix);
        }
        if changed {
            qb.push(" where id = ").push_bind(t.id);
            qb.build().execute(&mut *self.tx).await?;
        }
        let (actor, now) = (principal.actor(), Utc::now());
        let mut entries = vec![TimelineEntry {
            ticket_id: t.id,
            kind: rule.timeline.to_string(),
            actor: actor.clone(),
            at: now,
            data: effect.entry,
        }];
        entries.extend(
            effect
                .other_entries
                .into_iter()
                .map(|(ticket_id, kind, data)| TimelineEntry {
                    ticket_id,
                    kind: kind.to_string(),
                    actor: actor.clone(),
                    at: now,
                    data,
                }),
        );
        shared::timeline::append(&mut self.tx, &entries).await?;
        // What the caller did is no news to the caller.
        if let Some(me) = principal.user_id {
            crate::inbox::mark_read(&mut *self.tx, me, t.id).await?;
        }
        let after = model::load(&mut self.tx, &t.id.to_string(), false).await?;
        let mut messages = Vec::with_capacity(effect.messages.len() + 1);
        if let Some(change) = effect.change {
            debug_assert_eq!(
                Some(change.kind()),
                rule.event,
                "{}: event kind",
                self.action
            );
            let event = TicketLifecycleEvent {
                schema_version: SCHEMA_VERSION,
                event_id: Uuid::now_v7(),
                ticket_id: after.id,
                ticket_no: after.ticket_no.clone(),
                occurred_at: now,
                actor,
                department: after.lead_department.clone(),
                priority: after.priority.as_deref().and_then(Priority::parse),
                change,
            };
            messages.push(OutboxMessage::json(
                state.subjects.subject(&event.subject_suffix()),
                &event,
            )?);
        }
        messages.extend(effect.messages);
        shared::outbox::enqueue(&mut self.tx, &messages).await?;
        self.tx.commit().await?;
        state.relay.notify_one();
        Ok(Json(ActedTicket {
            allowed_actions: allowed_for(principal, &after),
            ticket: (&after).into(),
        }))
    }
}

/// The one path of every action whose effect follows from the locked ticket alone.
async fn act(
    state: &AppState,
    principal: &Principal,
    key: &str,
    action: Action,
    decide: impl FnOnce(&TicketRow) -> ApiResult<Effect>,
) -> ApiResult<Json<ActedTicket>> {
    let acting = Acting::begin(state, principal, key, action).await?;
    let effect = decide(&acting.ticket)?;
    acting.commit(state, principal, effect).await
}

/// `GET /v1/tickets/{id}/actions`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AllowedActions {
    pub ticket_no: String,
    pub status: TicketStatus,
    /// What the caller may do to the ticket now, given role, department and status: the console shows
    /// exactly these buttons.
    pub allowed_actions: Vec<Action>,
}

/// The actions the caller may take on a ticket now.
#[utoipa::path(get, path = "/v1/tickets/{id}/actions", tag = "actions",
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = AllowedActions), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [])))]
pub async fn allowed(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<Json<AllowedActions>> {
    let t = crate::tickets::readable(&state, &principal, &key).await?;
    Ok(Json(AllowedActions {
        allowed_actions: allowed_for(&principal, &t),
        ticket_no: t.ticket_no,
        status: t.status,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReplyBody {
    /// What was said to the customer.
    #[schema(pattern = r"\S", max_length = 10000)]
    pub message: String,
}

/// Replies to the customer; the first reply ends the first-response clock.
#[utoipa::path(post, path = "/v1/tickets/{id}/reply", tag = "actions", request_body = ReplyBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = ActedTicket), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn reply(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<ReplyBody>,
) -> ApiResult<Json<ActedTicket>> {
    let message = prose("message", &body.message, 10_000)?;
    act(&state, &principal, &key, Action::Reply, |t| {
        let first = t.first_reply_at.is_none();
        let now = Utc::now();
        let effect = Effect::entry(json!({"message": message, "first": first}))
            .contact(now)
            .event(LifecycleChange::Replied { first });
        Ok(if first {
            effect.set("first_reply_at", now)
        } else {
            effect
        })
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NoteBody {
    #[schema(pattern = r"\S", max_length = 10000)]
    pub text: String,
}

/// An internal note: on the timeline only, never sent to the customer.
#[utoipa::path(post, path = "/v1/tickets/{id}/notes", tag = "actions", request_body = NoteBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = ActedTicket), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn note(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<NoteBody>,
) -> ApiResult<Json<ActedTicket>> {
    let note = prose("text", &body.text, 10_000)?;
    act(&state, &principal, &key, Action::Note, |_| {
        Ok(Effect::entry(json!({ "text": note })))
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StepBody {
    /// Handling step 1-8: 1 intake, 2 confirm information, 3 analyse, 4 propose a solution, 5 implement,
    /// 6 confirm resolution (use `/resolve`), 7 revisit, 8 archive (use `/archive`).
    #[schema(minimum = 1, maximum = 8)]
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

/// Records one of the 8 handling steps with owner, start, end, result and remark.
#[utoipa::path(post, path = "/v1/tickets/{id}/steps", tag = "actions", request_body = StepBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = ActedTicket), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn step(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<StepBody>,
) -> ApiResult<Json<ActedTicket>> {
    let step = HandlingStep::from_number(body.step)
        .ok_or_else(|| ApiError::field("invalid_value", "step", "step must be between 1 and 8"))?;
    match step.recorded_by() {
        Action::Step => {}
        Action::Resolve => {
            return Err(ApiError::bad(
                "use_resolve",
                "step 6 (confirm resolution) is recorded by POST /v1/tickets/{id}/resolve",
            ))
        }
        _ => {
            return Err(ApiError::bad(
                "use_archive",
                "step 8 (archive) is recorded by POST /v1/tickets/{id}/archive",
            ))
        }
    }
    if let (Some(s), Some(e)) = (body.started_at, body.ended_at) {
        if e < s {
            return Err(ApiError::field(
                "invalid_value",
                "ended_at",
                "ended_at is before started_at",
            ));
        }
    }
    let result = opt_prose("result", body.result.as_deref(), 2_000)?;
    let remark = opt_prose("remark", body.remark.as_deref(), 2_000)?;
    let solution = opt_prose("solution", body.solution.as_deref(), 10_000)?;
    if step == HandlingStep::ProposeSolution && solution.is_none() {
        return Err(ApiError::field(
            "missing_field",
            "solution",
            "step 4 needs the proposed solution",
        ));
    }
    let owner =
        opt_prose("owner", body.owner.as_deref(), 100)?.unwrap_or_else(|| principal.name.clone());
    act(&state, &principal, &key, Action::Step, |t| {
        if !step.allowed_from().contains(&t.status) {
            return Err(ApiError::transition(Action::Step, t.status));
        }
        let data = json!({
            "step": step.number(), "name": step.code(), "owner": owner, "started_at": body.started_at,
            "ended_at": body.ended_at, "result": result, "remark": remark, "solution": solution,
        });
        let effect = Effect::entry(data);
        Ok(match solution.clone() {
            // A new proposal needs a new approval.
            Some(s) => effect
                .set("solution", s)
                .clear("solution_approved_by")
                .clear("solution_approved_at"),
            None => effect,
        })
    })
    .await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ContactBody {
    pub note: Option<String>,
}

/// A proactive contact with the customer while handling.
#[utoipa::path(post, path = "/v1/tickets/{id}/contact", tag = "actions", request_body = ContactBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = ActedTicket), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn contact(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<ContactBody>,
) -> ApiResult<Json<ActedTicket>> {
    let note = opt_prose("note", body.note.as_deref(), 2_000)?;
    act(&state, &principal, &key, Action::Contact, |_| {
        Ok(Effect::entry(json!({ "note": note }))
            .contact(Utc::now())
            .event(LifecycleChange::Contacted))
    })
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
    responses((status = 200, body = ActedTicket), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn wait(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<WaitBody>,
) -> ApiResult<Json<ActedTicket>> {
    let reason = opt_prose("reason", body.reason.as_deref(), 2_000)?;
    act(&state, &principal, &key, Action::Wait, |_| {
        Ok(Effect::entry(json!({ "reason": reason }))
            .event(LifecycleChange::WaitingOnCustomer { reason }))
    })
    .await
}

/// The customer answered: back to the status before waiting, clocks resume.
#[utoipa::path(post, path = "/v1/tickets/{id}/resume", tag = "actions",
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = ActedTicket), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn resume(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<Json<ActedTicket>> {
    act(&state, &principal, &key, Action::Resume, |t| {
        let back = Action::Resume.next_status(t.status, t.status_before_wait);
        Ok(Effect::entry(json!({ "status": back })).event(LifecycleChange::Resumed))
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PriorityBody {
    #[schema(value_type = String, example = "urgent", pattern = "^(urgent|general|suggestion)$")]
    pub priority: Priority,
    pub reason: Option<String>,
}

/// Changes the priority; SLA deadlines are recomputed by the SLA worker.
#[utoipa::path(post, path = "/v1/tickets/{id}/priority", tag = "actions", request_body = PriorityBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = ActedTicket), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn priority(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<PriorityBody>,
) -> ApiResult<Json<ActedTicket>> {
    let reason = opt_prose("reason", body.reason.as_deref(), 2_000)?;
    let to = body.priority;
    act(&state, &principal, &key, Action::Priority, |t| {
        let from = t.priority.as_deref().and_then(Priority::parse);
        if from == Some(to) {
            return Err(ApiError::conflict(
                "unchanged",
                format!("priority is already {}", to.as_str()),
            ));
        }
        let effect = Effect::entry(
            json!({"from": from.map(|p| p.as_str()), "to": to.as_str(), "reason": reason}),
        )
        .set("priority", to.as_str());
        // Without a previous priority there is nothing to recompute from; the event needs both ends.
        Ok(match from {
            Some(from) => effect.event(LifecycleChange::PriorityChanged { from, to }),
            None => effect,
        })
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AssignBody {
    /// The owner's user name.
    #[schema(pattern = r"\S", max_length = 100)]
    pub owner: String,
}

/// Assigns an owner (supervisors).
#[utoipa::path(post, path = "/v1/tickets/{id}/assign", tag = "actions", request_body = AssignBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = ActedTicket), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn assign(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<AssignBody>,
) -> ApiResult<Json<ActedTicket>> {
    let owner = text("owner", &body.owner, 100)?;
    act(&state, &principal, &key, Action::Assign, |t| {
        if t.owner.as_deref() == Some(owner.as_str()) {
            return Err(ApiError::conflict(
                "unchanged",
                format!("{owner} already owns this ticket"),
            ));
        }
        Ok(Effect::entry(json!({"owner": owner, "previous": t.owner}))
            .set("owner", owner.clone())
            .event(LifecycleChange::Assigned { owner }))
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReclassifyBody {
    /// Corrected problem category code, e.g. `technical_fault`.
    pub category: Option<String>,
    #[schema(
        value_type = Option<String>,
        pattern = "^(service_attitude|response_speed|product_quality|process_experience|suggestion_other)$"
    )]
    pub feedback_type: Option<FeedbackType>,
    #[schema(value_type = Option<String>, pattern = "^(urgent|general|suggestion)$")]
    pub priority: Option<Priority>,
    pub tags: Option<Vec<String>>,
    pub reason: Option<String>,
}

/// A quality inspector's correction: sent to the router, which re-routes the ticket and keeps the
/// correction as labelled data.
#[utoipa::path(post, path = "/v1/tickets/{id}/reclassify", tag = "actions", request_body = ReclassifyBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = ActedTicket), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn reclassify(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<ReclassifyBody>,
) -> ApiResult<Json<ActedTicket>> {
    let category = match body
        .category
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        None => None,
        Some(c) => Some(text("category", c, 100)?),
    };
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
    // A team's own categories have codes in its own language (an import adds `售后投诉`), so the
    // category is checked against the business's taxonomy, by code or either name, not by spelling.
    let category = match category {
        None => None,
        Some(c) => {
            let setup = shared::setup::load(&state.pool)
                .await
                .map_err(|e| ApiError::Internal(format!("setup: {e}")))?;
            match setup.taxonomy.find_category(&c) {
                Some(known) => Some(known.code.clone()),
                None => {
                    return Err(ApiError::field(
                        "invalid_value",
                        "category",
                        "no such category in the business's taxonomy (see GET /v1/taxonomy)",
                    ))
                }
            }
        }
    };
    let reason = opt_prose("reason", body.reason.as_deref(), 2_000)?;
    act(&state, &principal, &key, Action::Reclassify, |t| {
        // The router's correction always names the category: the current one when only others change.
        let category = category.or_else(|| t.category.clone()).ok_or_else(|| {
            ApiError::field(
                "missing_field",
                "category",
                "the ticket has no category yet: name the correct one",
            )
        })?;
        let request = TicketReclassify {
            schema_version: SCHEMA_VERSION,
            event_id: Uuid::now_v7(),
            ticket_id: t.id,
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
            "previous": {"category": t.category, "feedback_type": t.feedback_type,
                "priority": t.priority, "tags": t.tags},
        });
        Ok(Effect::entry(data).publish(message))
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MergeBody {
    /// The ticket (id or number) this one duplicates; it stays, this one is archived into it.
    #[schema(pattern = r"\S", max_length = 100)]
    pub into: String,
}

/// Merges a duplicate into the ticket it repeats.
#[utoipa::path(post, path = "/v1/tickets/{id}/merge", tag = "actions", request_body = MergeBody,
    params(("id" = String, Path, description = "the duplicate: ticket id or number")),
    responses((status = 200, body = ActedTicket), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn merge(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<MergeBody>,
) -> ApiResult<Json<ActedTicket>> {
    let into_key = text("into", &body.into, 100)?;
    let mut acting = Acting::begin(&state, &principal, &key, Action::Merge).await?;
    let target = model::load(&mut acting.tx, &into_key, true).await?;
    principal.check_department(target.lead_department.as_deref(), &target.departments)?;
    let t = &acting.ticket;
    if target.id == t.id {
        return Err(ApiError::field(
            "invalid_value",
            "into",
            "a ticket cannot be merged into itself",
        ));
    }
    if target.status == TicketStatus::Archived || target.merged_into.is_some() {
        return Err(ApiError::conflict(
            "invalid_transition",
            format!("ticket {} is archived or merged", target.ticket_no),
        ));
    }
    let effect = Effect::entry(json!({"into": target.ticket_no, "into_id": target.id}))
        .set("merged_into", target.id)
        .set("archived_at", Utc::now())
        .set("archived_by", principal.actor())
        .note_on(
            target.id,
            "duplicate_merged",
            json!({"duplicate": t.ticket_no, "duplicate_id": t.id}),
        )
        .event(LifecycleChange::Archived);
    acting.commit(&state, &principal, effect).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResolveBody {
    /// full 完全解决 / partial 部分解决 / unresolved 未解决.
    #[schema(value_type = String, example = "full", pattern = "^(full|partial|unresolved)$")]
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
    responses((status = 200, body = ActedTicket), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn resolve(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<ResolveBody>,
) -> ApiResult<Json<ActedTicket>> {
    let reason = opt_prose("reason", body.reason.as_deref(), 2_000)?;
    if body.resolution != Resolution::Full && reason.is_none() {
        return Err(ApiError::field(
            "missing_field",
            "reason",
            "a partial or unresolved outcome needs a reason",
        ));
    }
    if body.resolution == Resolution::Unresolved && body.first_contact {
        return Err(ApiError::field(
            "invalid_value",
            "first_contact",
            "an unresolved ticket was not resolved at first contact",
        ));
    }
    let solution = opt_prose("solution", body.solution.as_deref(), 10_000)?;
    let plan = opt_prose("follow_up_plan", body.follow_up_plan.as_deref(), 2_000)?;
    let step = HandlingStep::ConfirmResolution;
    act(&state, &principal, &key, Action::Resolve, |_| {
        let data = json!({"step": step.number(), "name": step.code(),
            "resolution": body.resolution.as_str(), "reason": reason,
            "first_contact": body.first_contact, "solution": solution, "follow_up_plan": plan});
        let mut effect = Effect::entry(data)
            .set("resolved_at", Utc::now())
            .set("resolution", body.resolution.as_str())
            .set("unresolved_reason", reason.clone())
            .set("first_contact_resolved", body.first_contact)
            .event(LifecycleChange::Resolved {
                resolution: body.resolution,
                reason,
                first_contact: body.first_contact,
            });
        if let Some(s) = solution {
            effect = effect.set_if_empty("solution", s);
        }
        if let Some(p) = plan {
            effect = effect.set("follow_up_plan", p);
        }
        Ok(effect)
    })
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
    responses((status = 200, body = ActedTicket), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<RemarkBody>,
) -> ApiResult<Json<ActedTicket>> {
    let remark = opt_prose("remark", body.remark.as_deref(), 2_000)?;
    act(&state, &principal, &key, Action::Approve, |_| {
        Ok(Effect::entry(json!({ "remark": remark }))
            .set("solution_approved_by", principal.name.clone())
            .set("solution_approved_at", Utc::now()))
    })
    .await
}

/// A supervisor reviews the per-ticket report of a resolved ticket.
#[utoipa::path(post, path = "/v1/tickets/{id}/review", tag = "actions", request_body = RemarkBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = ActedTicket), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn review(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<RemarkBody>,
) -> ApiResult<Json<ActedTicket>> {
    let remark = opt_prose("remark", body.remark.as_deref(), 2_000)?;
    let plan = opt_prose("follow_up_plan", body.follow_up_plan.as_deref(), 2_000)?;
    act(&state, &principal, &key, Action::Review, |_| {
        let effect = Effect::entry(json!({"remark": remark, "follow_up_plan": plan}))
            .set("report_reviewed_by", principal.name.clone())
            .set("report_reviewed_at", Utc::now());
        Ok(match plan.clone() {
            Some(p) => effect.set("follow_up_plan", p),
            None => effect,
        })
    })
    .await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ReopenBody {
    pub reason: Option<String>,
}

/// Reopens a resolved ticket (a second follow-up); its resolution is cleared, the timeline keeps it.
#[utoipa::path(post, path = "/v1/tickets/{id}/reopen", tag = "actions", request_body = ReopenBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = ActedTicket), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn reopen(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<ReopenBody>,
) -> ApiResult<Json<ActedTicket>> {
    let reason = opt_prose("reason", body.reason.as_deref(), 2_000)?;
    act(&state, &principal, &key, Action::Reopen, |_| {
        Ok(Effect::entry(json!({ "reason": reason })).event(LifecycleChange::Reopened { reason }))
    })
    .await
}

/// Step 8: archives a resolved ticket (archive time, archiver).
#[utoipa::path(post, path = "/v1/tickets/{id}/archive", tag = "actions",
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = ActedTicket), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn archive(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<Json<ActedTicket>> {
    let step = HandlingStep::Archive;
    act(&state, &principal, &key, Action::Archive, |_| {
        let who = principal.name.clone();
        Ok(
            Effect::entry(json!({"step": step.number(), "name": step.code(), "archiver": who}))
                .set("archived_at", Utc::now())
                .set("archived_by", who)
                .event(LifecycleChange::Archived),
        )
    })
    .await
}
