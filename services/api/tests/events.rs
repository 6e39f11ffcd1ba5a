//! `GET /v1/events`: new tickets and changes reach open streams from the bus, each viewer sees only
//! what its role and department allow, with its own unread mark; pings keep idle streams open.

mod common;

use std::time::Duration;

use api::ApiSettings;
use common::{NewTicket, TestApp};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// An open event stream, read frame by frame.
struct Events {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl Events {
    async fn open(app: &TestApp, token: &str) -> Events {
        let resp = app
            .http
            .get(format!("{}/v1/events", app.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        let mut e = Events {
            body: Box::pin(resp.bytes_stream()),
            buffer: String::new(),
        };
        let (name, _) = e.next(Duration::from_secs(5)).await.expect("ready");
        assert_eq!(name, "ready");
        e
    }

    /// The next frame (event name, data) within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if frame.lines().all(|l| l.starts_with(':') || l.is_empty()) {
                    continue;
                }
                return Some((name, serde_json::from_str(&data).unwrap_or(Value::Null)));
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }

    /// The next `event: ticket` within `wait`, skipping pings.
    async fn ticket(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let (name, data) = self.next(left).await?;
            if name == "ticket" {
                return Some(data);
            }
        }
    }
}

async fn announce(app: &TestApp, subject: &str, id: uuid::Uuid) {
    app.ctx
        .publish(
            app.ctx.subjects.subject(subject),
            json!({"ticket_id": id}).to_string(),
        )
        .await;
}

#[tokio::test]
async fn changes_reach_the_streams_of_those_who_may_see_them() {
    let app = TestApp::spawn().await;
    let li = app.user("li", "agent", Some("customer_service")).await;
    let zhou = app.user("zhou", "agent", Some("logistics")).await;
    let wang = app.user("wang", "inspector", None).await;
    let ops = app.user("ops", "ops", None).await;
    let mut li_events = Events::open(&app, &li).await;
    let mut zhou_events = Events::open(&app, &zhou).await;
    let mut wang_events = Events::open(&app, &wang).await;

    // A new ticket of customer service, announced on the bus as intake does.
    let id = NewTicket::new("20250101001", "2025-01-01T02:00:00Z")
        .insert(&app.ctx.pool)
        .await;
    announce(&app, "ticket.created", id).await;
    let e = li_events
        .ticket(Duration::from_secs(5))
        .await
        .expect("li sees the new ticket");
    assert_eq!(
        (e["kind"].as_str(), e["ticket_no"].as_str()),
        (Some("created"), Some("20250101001"))
    );
    assert_eq!(e["ticket"]["customer_name"], "张先生/女士");
    assert_eq!(e["ticket"]["unread"], true);
    assert!(e["ticket"]["clocks"].is_array());
    let e = wang_events
        .ticket(Duration::from_secs(5))
        .await
        .expect("the inspector sees every department");
    assert_eq!(e["ticket_no"], "20250101001");

    // A logistics ticket: zhou's first event is that one, never the customer-service ticket.
    let mut other = NewTicket::new("20250101002", "2025-01-01T03:00:00Z");
    other.department = Some("logistics");
    let other_id = other.insert(&app.ctx.pool).await;
    announce(&app, "ticket.routed.logistics", other_id).await;
    let e = zhou_events
        .ticket(Duration::from_secs(5))
        .await
        .expect("zhou sees his department's ticket");
    assert_eq!(
        (e["kind"].as_str(), e["ticket_no"].as_str()),
        (Some("routed"), Some("20250101002"))
    );
    let e = li_events.ticket(Duration::from_secs(1)).await;
    assert!(e.is_none(), "li does not see logistics: {e:?}");

    // An action through the api reaches the streams via the outbox; the actor has read it.
    let (s, _) = app
        .post(
            "/v1/tickets/20250101001/reply",
            &li,
            json!({"message": "您好"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let e = li_events
        .ticket(Duration::from_secs(5))
        .await
        .expect("the reply is announced");
    assert_eq!(
        (e["kind"].as_str(), e["ticket"]["unread"].as_bool()),
        (Some("replied"), Some(false))
    );
    let e = wang_events
        .ticket(Duration::from_secs(5))
        .await
        .expect("the logistics ticket");
    assert_eq!(e["ticket_no"], "20250101002");
    let e = wang_events
        .ticket(Duration::from_secs(5))
        .await
        .expect("the inspector hears the reply");
    assert_eq!(
        (e["kind"].as_str(), e["ticket"]["unread"].as_bool()),
        (Some("replied"), Some(true))
    );
    assert!(e["ticket"]["first_reply_at"].is_string());

    // Ops read aggregates only: no ticket stream.
    let (s, v) = app.get("/v1/events", &ops).await;
    assert_eq!(
        (s, v["error"]["details"]["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("role"))
    );
}

#[tokio::test]
async fn idle_streams_get_pings() {
    let settings = ApiSettings {
        events_keepalive_secs: 1,
        ..ApiSettings::default()
    };
    let app = TestApp::spawn_with(settings).await;
    let li = app.user("li", "agent", Some("customer_service")).await;
    let mut events = Events::open(&app, &li).await;
    let (name, _) = events.next(Duration::from_secs(5)).await.expect("a ping");
    assert_eq!(name, "ping");
}
