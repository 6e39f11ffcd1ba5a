//! Poison messages: messages no worker can ever process, mixed into a flow. Each must end in the
//! dead-letter subject of every consumer that reads it, with the error that consumer gave, and nothing
//! else may end there.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;
use shared::messages::SCHEMA_VERSION;
use shared::subjects::Subjects;
use shared::testkit::TestContext;
use uuid::Uuid;

/// One poison message and what must become of it.
#[derive(Debug, Clone)]
pub struct Poison {
    pub subject: String,
    pub payload: Bytes,
    /// Each consumer (durable name) that must dead-letter it, with the start of the error it must carry.
    pub expected: Vec<(String, &'static str)>,
}

/// A correction naming a category no label set has, for a ticket nobody knows.
fn reclassify(category: &str) -> Bytes {
    json!({
        "schema_version": SCHEMA_VERSION,
        "event_id": Uuid::new_v4(),
        "ticket_id": Uuid::new_v4(),
        "occurred_at": chrono::Utc::now(),
        "inspector": "poison.test",
        "category": category,
    })
    .to_string()
    .into()
}

/// `ticket.resolved` as the api writes it, about a ticket that does not exist.
fn resolved_unknown_ticket(tag: &str, i: usize) -> Bytes {
    let e = crate::pipeline::resolved_event(
        Uuid::new_v4(),
        &format!("{tag}-{i}"),
        None,
        "agent:poison",
    );
    serde_json::to_vec(&e).expect("event serialises").into()
}

/// Messages every reader refuses on first sight (`Outcome::Poison`), `per_kind` of each kind:
/// - a correction with an unknown category: the router's reclassify consumer (`unknown_label`);
/// - a `ticket.resolved` that is not JSON: the sla worker and the survey worker (both
///   `malformed_message`, the one decode vocabulary of `shared::messages::decode`);
/// - a `survey.answered` that is not JSON: the sla worker's survey consumer (`malformed_message`).
pub fn refused_at_once(subjects: &Subjects, tag: &str, per_kind: usize) -> Vec<Poison> {
    let d = |worker: &str| subjects.durable(worker);
    let mut out = Vec::new();
    for i in 0..per_kind {
        out.push(Poison {
            subject: subjects.subject("ticket.reclassify"),
            payload: reclassify(&format!("no_such_category_{tag}_{i}")),
            expected: vec![(d("router_reclassify"), "unknown_label")],
        });
        out.push(Poison {
            subject: subjects.subject("ticket.resolved"),
            payload: format!("{{\"poison\": \"{tag}-resolved-{i}\", ").into(),
            expected: vec![
                (d("sla"), "malformed_message"),
                (d("survey_lifecycle_resolved"), "malformed_message"),
            ],
        });
        out.push(Poison {
            subject: subjects.subject("survey.answered"),
            payload: format!("{{\"poison\": \"{tag}-answered-{i}\"").into(),
            expected: vec![(d("sla_survey"), "malformed_message")],
        });
    }
    out
}

/// Messages that fail on every delivery (`Outcome::Retry`) until `max_deliver` is used up, `per_kind` of
/// each kind:
/// - a valid correction of a ticket that does not exist: the router (`unknown_ticket`);
/// - a valid `ticket.resolved` of a ticket that does not exist: the sla worker waits for the ticket
///   (`ticket_unknown`), the survey worker refuses it at once (`unknown_ticket`).
pub fn failing_every_time(subjects: &Subjects, tag: &str, per_kind: usize) -> Vec<Poison> {
    let d = |worker: &str| subjects.durable(worker);
    let mut out = Vec::new();
    for i in 0..per_kind {
        out.push(Poison {
            subject: subjects.subject("ticket.reclassify"),
            payload: reclassify("order"),
            expected: vec![(d("router_reclassify"), "unknown_ticket")],
        });
        out.push(Poison {
            subject: subjects.subject("ticket.resolved"),
            payload: resolved_unknown_ticket(tag, i),
            expected: vec![
                (d("sla"), "ticket_unknown"),
                (d("survey_lifecycle_resolved"), "unknown_ticket"),
            ],
        });
    }
    out
}

/// Publishes every poison message, each retried until stored. Each carries its own `Nats-Msg-Id`, so a
/// retry after a lost acknowledgement is dropped by the stream instead of adding a second copy.
pub async fn publish(ctx: &TestContext, poison: &[Poison]) {
    for p in poison {
        let msg_id = Uuid::new_v4().to_string();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, msg_id.as_str());
            let attempt = async {
                ctx.js
                    .publish_with_headers(p.subject.clone(), headers, p.payload.clone())
                    .await
                    .ok()?
                    .await
                    .ok()
            };
            if tokio::time::timeout(Duration::from_secs(5), attempt)
                .await
                .ok()
                .flatten()
                .is_some()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "poison message could not be published in 120 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
