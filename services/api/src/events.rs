//! `GET /v1/events`: server-sent events that bring new tickets and changes to an open console.
//!
//! One feed per api replica listens on the bus with a plain NATS subscription (not a durable consumer:
//! a console that was not connected refetches its list, nothing needs replaying) to the ticket, SLA and
//! survey-answer subjects under the prefix. Messages arriving within [`GATHER`] are gathered, each
//! ticket's latest change kept, the tickets loaded in one query (with their row clocks) and the batch
//! broadcast to every open stream. Each stream passes on only what its viewer may see (role and
//! department, as the list does), with the viewer's own unread mark; `event: ping` keeps idle
//! connections open. A stream ends after [`MAX_STREAM`] so a revoked session stops receiving (the
//! browser's EventSource reconnects and is authenticated afresh).

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::auth::{Perm, Principal};
use crate::error::ApiResult;
use crate::model::{TicketRow, TicketSummary, COLUMNS};
use crate::AppState;

/// How long the feed waits after a message for more, so a burst costs one query.
pub const GATHER: Duration = Duration::from_millis(40);
/// Most messages gathered into one batch.
const MAX_BATCH: usize = 1000;
/// Batches a slow stream may fall behind before it is told to refetch (`event: resync`).
const BACKLOG: usize = 256;
/// A stream ends after this long; the EventSource reconnects.
pub const MAX_STREAM: Duration = Duration::from_secs(600);

/// What changed, as the console keys its handling on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Created,
    Routed,
    Classified,
    Replied,
    Contacted,
    Waiting,
    Resumed,
    PriorityChanged,
    Assigned,
    Resolved,
    Reopened,
    Archived,
    Merged,
    Sla,
    Updated,
}

/// The `data` of an `event: ticket`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TicketEvent {
    pub kind: ChangeKind,
    pub ticket_id: Uuid,
    pub ticket_no: String,
    /// The ticket as `GET /v1/tickets` lists it, with the viewer's unread mark.
    pub ticket: TicketSummary,
}

/// An empty `data` (`{}`) of the `ready`, `ping` and `resync` events.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Signal {}

/// The `data` of any event of the stream: a ticket change, or `{}` for the signals.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum EventData {
    Ticket(Box<TicketEvent>),
    Signal(Signal),
}

/// The kind of change a subject announces (`rest` is the subject after the prefix); `None` for
/// messages that change nothing yet (a reclassification request: its outcome follows).
pub fn kind_of(rest: &str) -> Option<ChangeKind> {
    let mut parts = rest.split('.');
    let (area, what) = (parts.next()?, parts.next().unwrap_or(""));
    Some(match (area, what) {
        ("ticket", "reclassify") => return None,
        ("ticket", "created") => ChangeKind::Created,
        ("ticket", "routed" | "withdrawn") => ChangeKind::Routed,
        ("ticket", "classified") => ChangeKind::Classified,
        ("ticket", "replied") => ChangeKind::Replied,
        ("ticket", "contacted") => ChangeKind::Contacted,
        ("ticket", "waiting") => ChangeKind::Waiting,
        ("ticket", "resumed") => ChangeKind::Resumed,
        ("ticket", "priority_changed") => ChangeKind::PriorityChanged,
        ("ticket", "assigned") => ChangeKind::Assigned,
        ("ticket", "resolved") => ChangeKind::Resolved,
        ("ticket", "reopened") => ChangeKind::Reopened,
        ("ticket", "archived") => ChangeKind::Archived,
        ("ticket", "merged") => ChangeKind::Merged,
        ("sla", _) => ChangeKind::Sla,
        _ => ChangeKind::Updated,
    })
}

/// One gathered batch: the changed tickets and which of them each connected user has read.
pub struct Batch {
    changes: Vec<(ChangeKind, TicketSummary, TicketRow)>,
    read: HashSet<(Uuid, Uuid)>,
}

/// The broadcast to open streams, and who is connected (so unread marks are computed for them only).
pub struct EventHub {
    tx: broadcast::Sender<Arc<Batch>>,
    viewers: Mutex<HashMap<Uuid, usize>>,
}

impl Default for EventHub {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(BACKLOG).0,
            viewers: Mutex::new(HashMap::new()),
        }
    }
}

/// Unregisters a viewer when its stream ends.
struct Viewer {
    hub: Arc<EventHub>,
    user: Option<Uuid>,
}

impl Drop for Viewer {
    fn drop(&mut self) {
        if let Some(u) = self.user {
            let mut v = self.hub.viewers.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = v.get_mut(&u) {
                *n -= 1;
                if *n == 0 {
                    v.remove(&u);
                }
            }
        }
    }
}

impl EventHub {
    fn connect(self: &Arc<Self>, user: Option<Uuid>) -> (Viewer, broadcast::Receiver<Arc<Batch>>) {
        if let Some(u) = user {
            *self
                .viewers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(u)
                .or_default() += 1;
        }
        (
            Viewer {
                hub: self.clone(),
                user,
            },
            self.tx.subscribe(),
        )
    }

    fn viewers(&self) -> Vec<Uuid> {
        self.viewers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect()
    }

    /// Open streams on this replica.
    pub fn streams(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// Loads the changed tickets and the connected users' read marks.
async fn load(state: &AppState, changed: Vec<(Uuid, ChangeKind)>) -> ApiResult<Batch> {
    let ids: Vec<Uuid> = changed.iter().map(|(id, _)| *id).collect();
    let rows: Vec<TicketRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from tickets t where t.id = any($1)"
    ))
    .bind(&ids)
    .fetch_all(&state.pool)
    .await?;
    let viewers = state.events.viewers();
    let read: HashSet<(Uuid, Uuid)> = if viewers.is_empty() {
        HashSet::new()
    } else {
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
            "select r.user_id, t.id from tickets t join ticket_reads r on r.ticket_id = t.id where t.id = any(",
        );
        qb.push_bind(&ids)
            .push(") and r.user_id = any(")
            .push_bind(&viewers)
            .push(") and not ")
            .push(crate::tickets::UNREAD);
        qb.build_query_as::<(Uuid, Uuid)>()
            .fetch_all(&state.pool)
            .await?
            .into_iter()
            .collect()
    };
    let by_id: HashMap<Uuid, TicketRow> = rows.into_iter().map(|r| (r.id, r)).collect();
    let listed: Vec<(TicketRow, bool)> = changed
        .iter()
        .filter_map(|(id, _)| by_id.get(id).map(|r| (r.clone(), true)))
        .collect();
    let summaries = crate::tickets::summaries(state, listed).await?;
    let changes = changed
        .into_iter()
        .filter_map(|(id, kind)| by_id.get(&id).map(|r| (kind, r.clone())))
        .zip(summaries)
        .map(|((kind, row), summary)| (kind, summary, row))
        .collect();
    Ok(Batch { changes, read })
}

/// Subscribes to the bus (before returning, so no change is missed once the api serves) and returns
/// the feed task.
pub async fn feed(
    state: AppState,
    nats: async_nats::Client,
    shutdown: CancellationToken,
) -> Result<impl std::future::Future<Output = ()>, async_nats::SubscribeError> {
    let subjects = state.subjects.clone();
    let mut subs = Vec::new();
    for rest in ["ticket.>", "sla.>", "survey.answered", "survey.escalated"] {
        subs.push(nats.subscribe(subjects.subject(rest)).await?);
    }
    let _ = nats.flush().await;
    let prefix = format!("{}.", subjects.prefix());
    Ok(async move {
        let mut messages = futures::stream::select_all(subs);
        loop {
            let first = tokio::select! {
                _ = shutdown.cancelled() => return,
                m = messages.next() => match m { Some(m) => m, None => return },
            };
            let mut gathered = vec![first];
            let until = tokio::time::Instant::now() + GATHER;
            while gathered.len() < MAX_BATCH {
                match tokio::time::timeout_at(until, messages.next()).await {
                    Ok(Some(m)) => gathered.push(m),
                    _ => break,
                }
            }
            if state.events.streams() == 0 {
                continue;
            }
            // Each ticket once, with its latest change, in the order first seen.
            let mut changed: Vec<(Uuid, ChangeKind)> = Vec::new();
            for m in gathered {
                let Some(kind) = m.subject.strip_prefix(&prefix).and_then(kind_of) else {
                    continue;
                };
                let Some(id) = serde_json::from_slice::<serde_json::Value>(&m.payload)
                    .ok()
                    .and_then(|v| v.get("ticket_id")?.as_str()?.parse::<Uuid>().ok())
                else {
                    continue;
                };
                match changed.iter_mut().find(|(t, _)| *t == id) {
                    Some(entry) => entry.1 = kind,
                    None => changed.push((id, kind)),
                }
            }
            if changed.is_empty() {
                continue;
            }
            match load(&state, changed).await {
                Ok(batch) => {
                    let _ = state.events.tx.send(Arc::new(batch));
                }
                Err(e) => tracing::warn!(error = %e, "live update batch could not be loaded"),
            }
        }
    })
}

fn events_for(principal: &Principal, batch: &Batch) -> Vec<Event> {
    batch
        .changes
        .iter()
        .filter(|(_, _, row)| {
            principal
                .check_department(row.lead_department.as_deref(), &row.departments)
                .is_ok()
        })
        .filter_map(|(kind, summary, _)| {
            let mut ticket = summary.clone();
            ticket.unread = match principal.user_id {
                Some(me) => !batch.read.contains(&(me, ticket.id)),
                None => true,
            };
            let data = TicketEvent {
                kind: *kind,
                ticket_id: ticket.id,
                ticket_no: ticket.ticket_no.clone(),
                ticket,
            };
            Event::default().event("ticket").json_data(&data).ok()
        })
        .collect()
}

/// Live updates for the caller: `event: ticket` with a [`TicketEvent`] for every new or changed ticket
/// the caller may see, `event: ping` every `api.events_keepalive_secs` (15 s), `event: ready` once the
/// stream is listening, `event: resync` when the stream fell behind (refetch the list).
#[utoipa::path(get, path = "/v1/events", tag = "tickets",
    responses(
        (status = 200, content_type = "text/event-stream", body = EventData,
            description = "A stream of `event: ticket` (data: TicketEvent), `event: ping`, `event: ready`, `event: resync`"),
        (status = 401), (status = 403)),
    security(("bearer" = []), ("session" = [])))]
pub async fn stream(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    principal.require(Perm::ReadTickets)?;
    let (viewer, rx) = state.events.connect(principal.user_id);
    let ready = futures::stream::once(async { Event::default().event("ready").data("{}") });
    let updates = futures::stream::unfold(
        (rx, principal, viewer),
        |(mut rx, principal, viewer)| async move {
            let events = match rx.recv().await {
                Ok(batch) => events_for(&principal, &batch),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    vec![Event::default().event("resync").data("{}")]
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((futures::stream::iter(events), (rx, principal, viewer)))
        },
    )
    .flatten();
    let limited = ready
        .chain(updates)
        .take_until(tokio::time::sleep(MAX_STREAM))
        .map(Ok);
    let keepalive = Duration::from_secs(state.api.events_keepalive_secs.max(1));
    Ok(Sse::new(limited).keep_alive(
        KeepAlive::new()
            .interval(keepalive)
            .event(Event::default().event("ping").data("{}")),
    ))
}
