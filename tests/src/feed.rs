//! A feedback generator that keeps publishing through faults, and the end-of-run checks.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use shared::messages::feedback::Channel;
use shared::messages::ticket::TicketCreated;
use shared::subjects::Stream;
use shared::testkit::TestContext;

/// One example submission per channel (`shared/examples/`), the templates every generator varies.
pub fn examples() -> Vec<(Channel, Value)> {
    Channel::ALL
        .into_iter()
        .map(|c| {
            let path = format!(
                "{}/../shared/examples/{}.json",
                env!("CARGO_MANIFEST_DIR"),
                c.as_str()
            );
            let text = std::fs::read_to_string(path).expect("example exists");
            (c, serde_json::from_str(&text).expect("example is JSON"))
        })
        .collect()
}

/// Submission `i` of a run tagged `tag`: the channel's example with its own external id, customer and
/// phone (so no two are duplicates of each other), submitted now (deadlines count from submission).
pub fn submission(examples: &[(Channel, Value)], tag: &str, i: usize) -> (Channel, bytes::Bytes) {
    let (channel, example) = &examples[i % examples.len()];
    let mut body = example.clone();
    body["external_id"] = json!(format!("{tag}-{i}"));
    body["submitted_at"] = json!(chrono::Utc::now().to_rfc3339());
    body["customer"]["id"] = json!(format!("C{i}"));
    if body["customer"].get("phone").is_some() {
        body["customer"]["phone"] = json!(format!("139{i:08}"));
    }
    (*channel, body.to_string().into())
}

/// Publishes `n` submissions tagged `tag`, each retried until JetStream has stored it (an adapter's
/// at-least-once publishing), 128 at a time.
pub async fn publish(ctx: &TestContext, tag: &str, n: usize) {
    let examples = examples();
    futures::stream::iter(0..n)
        .for_each_concurrent(128, |i| {
            let (channel, payload) = submission(&examples, tag, i);
            let subject = ctx.subjects.feedback_in(channel);
            async move {
                let deadline = Instant::now() + Duration::from_secs(120);
                while !stored(ctx, &subject, &payload).await {
                    assert!(
                        Instant::now() < deadline,
                        "submission {i} could not be published in 120 s"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        })
        .await;
}

/// One attempt to publish to JetStream and have it stored within 5 s.
pub async fn stored(ctx: &TestContext, subject: &str, payload: &bytes::Bytes) -> bool {
    let attempt = async {
        ctx.js
            .publish(subject.to_string(), payload.clone())
            .await
            .ok()?
            .await
            .ok()
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .ok()
        .flatten()
        .is_some()
}

/// Counts tickets tagged `tag`, retrying through a database outage.
pub async fn tickets(ctx: &TestContext, tag: &str) -> i64 {
    sqlx::query_scalar("select count(*) from tickets where external_id like $1")
        .bind(format!("{tag}-%"))
        .fetch_one(&ctx.pool)
        .await
        .unwrap_or(-1)
}

/// Waits until `want` tickets tagged `tag` exist (or `timeout`).
pub async fn wait_for_tickets(ctx: &TestContext, tag: &str, want: i64, timeout: Duration) -> i64 {
    let deadline = Instant::now() + timeout;
    loop {
        let n = tickets(ctx, tag).await;
        if n >= want || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// After recovery: every accepted submission has exactly one ticket with a distinct number, exactly one
/// `ticket.created` event per ticket, and nothing in the dead-letter subject.
pub async fn assert_exactly_once(ctx: &TestContext, tag: &str, n: usize, timeout: Duration) {
    let got = wait_for_tickets(ctx, tag, n as i64, timeout).await;
    assert_eq!(got, n as i64, "one ticket per accepted submission");
    let distinct: i64 = sqlx::query_scalar(
        "select count(distinct ticket_no) from tickets where external_id like $1",
    )
    .bind(format!("{tag}-%"))
    .fetch_one(&ctx.pool)
    .await
    .expect("count");
    assert_eq!(distinct, n as i64, "distinct ticket numbers");
    let created = ctx
        .collect(Stream::Ticket, &ctx.subjects.ticket_created(), n, timeout)
        .await;
    let ids: std::collections::HashSet<uuid::Uuid> = created
        .iter()
        .map(|m| m.json::<TicketCreated>().ticket_id)
        .collect();
    assert_eq!(ids.len(), n, "every ticket announced");
    // Any extra copy would show up within a moment of the last one.
    let total = ctx
        .count(
            Stream::Ticket,
            &ctx.subjects.ticket_created(),
            Duration::from_millis(500),
        )
        .await;
    assert_eq!(total, n, "each ticket announced exactly once");
    let dead = ctx
        .count(
            Stream::DeadLetter,
            &ctx.subjects.dead_letters_all(),
            Duration::ZERO,
        )
        .await;
    assert_eq!(dead, 0, "nothing dead-lettered");
}
