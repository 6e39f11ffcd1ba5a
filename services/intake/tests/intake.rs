//! Intake end to end against a real Postgres and a real NATS server, each test in its own database and
//! subject prefix.

use std::collections::HashSet;
use std::time::Duration;

use intake::settings::IntakeSettings;
use intake::startup::Application;
use serde_json::{json, Value};
use shared::messages::feedback::{Channel, FeedbackRejected};
use shared::messages::ticket::TicketCreated;
use shared::pii;
use shared::subjects::Stream;
use shared::testkit::TestContext;
use tokio_util::sync::CancellationToken;

/// The channel's example submission, submitted just now.
fn example(channel: Channel) -> Value {
    let path = format!(
        "{}/../../shared/examples/{}.json",
        env!("CARGO_MANIFEST_DIR"),
        channel.as_str()
    );
    let mut body: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("example exists"))
            .expect("example is JSON");
    body["submitted_at"] = json!(chrono::Utc::now().to_rfc3339());
    body
}

async fn start(ctx: &TestContext) -> Application {
    Application::build(
        ctx.settings.clone(),
        IntakeSettings::default(),
        CancellationToken::new(),
    )
    .await
    .expect("intake starts")
}

async fn count(ctx: &TestContext, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&ctx.pool)
        .await
        .expect("count query")
}

/// Waits until `sql` (a count) reaches `want` or the time is up; returns the last value.
async fn wait_count(ctx: &TestContext, sql: &str, want: i64, timeout: Duration) -> i64 {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let n = count(ctx, sql).await;
        if n >= want || tokio::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_channel_becomes_a_ticket_with_timeline_and_event() {
    let ctx = TestContext::new().await;
    let app = start(&ctx).await;
    for channel in Channel::ALL {
        ctx.publish(
            ctx.subjects.feedback_in(channel),
            example(channel).to_string(),
        )
        .await;
    }
    let created = ctx
        .collect(
            Stream::Ticket,
            &ctx.subjects.ticket_created(),
            7,
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(created.len(), 7);
    let channels: HashSet<Channel> = created
        .iter()
        .map(|m| m.json::<TicketCreated>().channel)
        .collect();
    assert_eq!(channels.len(), 7, "one ticket per channel");
    for m in &created {
        let msg_id = m
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Msg-Id"))
            .map(|v| v.to_string());
        assert!(msg_id.is_some(), "relay sets Nats-Msg-Id to the outbox id");
        let event: TicketCreated = m.json();
        let (status, registered): (String, i64) = sqlx::query_as(
            "select t.status, (select count(*) from ticket_events e where e.ticket_id = t.id and e.kind = 'registered')
             from tickets t where t.id = $1",
        )
        .bind(event.ticket_id)
        .fetch_one(&ctx.pool)
        .await
        .unwrap();
        assert_eq!(status, "new");
        assert_eq!(registered, 1);
        assert!(event.ticket_no.len() >= 11 && event.ticket_no.chars().all(|c| c.is_ascii_digit()));
    }
    let ivr: TicketCreated = created
        .iter()
        .map(|m| m.json::<TicketCreated>())
        .find(|t| t.channel == Channel::Ivr)
        .unwrap();
    let summary = ivr.ivr.expect("IVR summary");
    assert_eq!(summary.keypresses, vec!["8", "3"]);
    assert_eq!(summary.caller_number, "*******8899");
    // The phone call supplements the form ticket of the same customer: history is found.
    let phone: TicketCreated = created
        .iter()
        .map(|m| m.json::<TicketCreated>())
        .find(|t| t.channel == Channel::Phone)
        .unwrap();
    let form: TicketCreated = created
        .iter()
        .map(|m| m.json::<TicketCreated>())
        .find(|t| t.channel == Channel::Form)
        .unwrap();
    assert!(phone.history.previous_tickets + form.history.previous_tickets >= 1);
    app.stop().await;
}

#[tokio::test]
async fn ticket_numbers_are_day_plus_serial_in_the_configured_zone() {
    let ctx = TestContext::new().await;
    let app = start(&ctx).await;
    let mut body = example(Channel::Form);
    for i in 0..3 {
        body["external_id"] = json!(format!("serial-{i}"));
        ctx.publish(ctx.subjects.feedback_in(Channel::Form), body.to_string())
            .await;
    }
    wait_count(
        &ctx,
        "select count(*) from tickets",
        3,
        Duration::from_secs(20),
    )
    .await;
    let numbers: Vec<String> =
        sqlx::query_scalar("select ticket_no from tickets order by ticket_no")
            .fetch_all(&ctx.pool)
            .await
            .unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y%m%d")
        .to_string();
    assert_eq!(
        numbers,
        vec![
            format!("{today}001"),
            format!("{today}002"),
            format!("{today}003")
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn the_same_submission_three_times_is_one_ticket() {
    let ctx = TestContext::new().await;
    let app = start(&ctx).await;
    let body = example(Channel::App).to_string();
    for _ in 0..3 {
        ctx.publish(ctx.subjects.feedback_in(Channel::App), body.clone())
            .await;
    }
    // And once more through the web form's twin: the HTTP answer names the same ticket.
    let client = reqwest::Client::new();
    let mut form = example(Channel::Form);
    form["external_id"] = json!("http-retry-1");
    let url = format!("http://{}/v1/feedback", app.addr);
    let first: Value = client
        .post(&url)
        .json(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = client.post(&url).json(&form).send().await.unwrap();
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["ticket_no"], second["ticket_no"]);
    assert_eq!(second["already_registered"], true);

    wait_count(
        &ctx,
        "select count(*) from tickets",
        2,
        Duration::from_secs(20),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count(&ctx, "select count(*) from tickets where channel = 'app'").await,
        1
    );
    assert_eq!(
        count(&ctx, "select count(*) from tickets where channel = 'form'").await,
        1
    );
    let created = ctx
        .count(
            Stream::Ticket,
            &ctx.subjects.ticket_created(),
            Duration::from_millis(300),
        )
        .await;
    assert_eq!(created, 2, "one ticket.created per ticket");
    app.stop().await;
}

/// Each bad input, the reason code it must produce (on the bus and over HTTP), and the field it names.
fn bad_inputs() -> Vec<(&'static str, String, Vec<u8>, &'static str)> {
    let good = example(Channel::Form);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        v.to_string().into_bytes()
    };
    let future = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    vec![
        (
            "malformed json",
            "form".into(),
            b"{\"schema_version\": 1, \"channel\": ".to_vec(),
            "malformed_json",
        ),
        (
            "not an object",
            "form".into(),
            b"[1,2,3]".to_vec(),
            "malformed_json",
        ),
        (
            "invalid utf-8",
            "form".into(),
            vec![0x7b, 0xff, 0xfe, 0x7d],
            "invalid_utf8",
        ),
        (
            "wrong schema version",
            "form".into(),
            with(&|v| v["schema_version"] = json!(7)),
            "unsupported_schema_version",
        ),
        (
            "missing schema version",
            "form".into(),
            with(&|v| {
                v.as_object_mut().unwrap().remove("schema_version");
            }),
            "missing_field",
        ),
        (
            "missing description",
            "form".into(),
            with(&|v| {
                v.as_object_mut().unwrap().remove("description");
            }),
            "missing_field",
        ),
        (
            "missing external id",
            "form".into(),
            with(&|v| {
                v.as_object_mut().unwrap().remove("external_id");
            }),
            "missing_field",
        ),
        (
            "oversized body",
            "form".into(),
            with(&|v| v["description"] = json!("很".repeat(30_000))),
            "payload_too_large",
        ),
        (
            "description too long",
            "form".into(),
            with(&|v| v["description"] = json!("x".repeat(5000))),
            "field_too_long",
        ),
        (
            "invalid phone",
            "form".into(),
            with(&|v| v["customer"]["phone"] = json!("12345")),
            "invalid_phone",
        ),
        (
            "invalid email",
            "form".into(),
            with(&|v| v["customer"]["email"] = json!("not-an-email")),
            "invalid_email",
        ),
        (
            "future timestamp",
            "form".into(),
            with(&|v| v["submitted_at"] = json!(future)),
            "future_timestamp",
        ),
        (
            "unparseable timestamp",
            "form".into(),
            with(&|v| v["submitted_at"] = json!("yesterday")),
            "invalid_timestamp",
        ),
        (
            "submitted long before its receipt",
            "form".into(),
            with(&|v| v["submitted_at"] = json!("2000-01-01T00:00:00Z")),
            "stale_timestamp",
        ),
        (
            "unknown channel in body",
            "form".into(),
            with(&|v| v["channel"] = json!("fax")),
            "unknown_channel",
        ),
        (
            "feedback type not in the list",
            "form".into(),
            with(&|v| v["feedback_type"] = json!("angry")),
            "invalid_value",
        ),
        (
            "too many attachments",
            "form".into(),
            with(&|v| {
                v["attachments"] = json!(vec![json!({"url": "https://x.example/a.png"}); 11])
            }),
            "too_many_items",
        ),
        (
            "attachment not a URL",
            "form".into(),
            with(&|v| v["attachments"] = json!([{"url": "C:\\shot.png"}])),
            "invalid_attachment",
        ),
        (
            "NUL in text",
            "form".into(),
            with(&|v| v["description"] = json!("bad\u{0}text")),
            "invalid_value",
        ),
        (
            "NUL in the e-mail address",
            "form".into(),
            with(&|v| v["customer"]["email"] = json!("li\u{0}@example.com")),
            "invalid_value",
        ),
        (
            "NUL in an attachment's name",
            "form".into(),
            with(&|v| v["attachments"][0]["name"] = json!("shot\u{0}.png")),
            "invalid_value",
        ),
        (
            "control character in an attachment's URL",
            "form".into(),
            with(&|v| v["attachments"][0]["url"] = json!("https://x.example/\u{7}a.png")),
            "invalid_value",
        ),
        (
            "bidirectional override in the name",
            "form".into(),
            with(&|v| v["customer"]["name"] = json!("张\u{202E}伟")),
            "invalid_value",
        ),
        (
            "line break in the order number",
            "form".into(),
            with(&|v| v["order_number"] = json!("SO1\nSO2")),
            "invalid_value",
        ),
        (
            "unknown field",
            "form".into(),
            with(&|v| v["favourite_colour"] = json!("blue")),
            "invalid_value",
        ),
    ]
}

#[tokio::test]
async fn bad_input_on_the_bus_is_rejected_stored_and_announced_and_the_worker_keeps_serving() {
    let ctx = TestContext::new().await;
    let app = start(&ctx).await;
    let cases = bad_inputs();
    for (i, (_, channel, body, _)) in cases.iter().enumerate() {
        let _ = i;
        ctx.publish(
            ctx.subjects.subject(&format!("feedback.in.{channel}")),
            body.clone(),
        )
        .await;
    }
    // A subject naming no channel, and a body/subject mismatch.
    ctx.publish(
        ctx.subjects.subject("feedback.in.fax"),
        example(Channel::Form).to_string(),
    )
    .await;
    ctx.publish(
        ctx.subjects.feedback_in(Channel::App),
        example(Channel::Form).to_string(),
    )
    .await;
    let total = cases.len() + 2;
    let rejected = ctx
        .collect(
            Stream::Feedback,
            &ctx.subjects.subject("feedback.rejected.>"),
            total,
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(rejected.len(), total);
    let events: Vec<FeedbackRejected> = rejected.iter().map(|m| m.json()).collect();
    for (name, _, _, code) in &cases {
        assert!(
            events.iter().any(|e| e.reason.as_str() == *code),
            "{name}: expected a rejection with code {code}"
        );
    }
    let codes: Vec<&str> = events.iter().map(|e| e.reason.as_str()).collect();
    assert!(codes.contains(&"unknown_channel"));
    assert!(codes.contains(&"channel_mismatch"));
    assert!(rejected
        .iter()
        .any(|m| m.subject.ends_with("feedback.rejected.unknown")));
    // Every rejected input is stored byte for byte (the oversized one truncated to the limit).
    assert_eq!(
        count(&ctx, "select count(*) from rejected_submissions").await,
        total as i64
    );
    let raw: Vec<u8> =
        sqlx::query_scalar("select raw from rejected_submissions where reason = 'invalid_utf8'")
            .fetch_one(&ctx.pool)
            .await
            .unwrap();
    assert_eq!(raw, vec![0x7b, 0xff, 0xfe, 0x7d]);
    assert_eq!(count(&ctx, "select count(*) from tickets").await, 0);

    // Still serving.
    ctx.publish(
        ctx.subjects.feedback_in(Channel::Form),
        example(Channel::Form).to_string(),
    )
    .await;
    assert_eq!(
        wait_count(
            &ctx,
            "select count(*) from tickets",
            1,
            Duration::from_secs(20)
        )
        .await,
        1
    );
    assert_eq!(
        ctx.count(
            Stream::DeadLetter,
            &ctx.subjects.dead_letters_all(),
            Duration::ZERO
        )
        .await,
        0
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_input_over_http_gets_a_json_error_and_is_stored() {
    let ctx = TestContext::new().await;
    let app = start(&ctx).await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/feedback", app.addr);
    // The public form takes no submit time from its body (the server's receive time is used).
    let cases: Vec<_> = bad_inputs()
        .into_iter()
        .filter(|(_, _, _, code)| !code.ends_with("_timestamp"))
        .collect();
    for (name, _, body, code) in &cases {
        let response = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!((400..500).contains(&status), "{name}: status {status}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], *code, "{name}: {error}");
        assert!(error["rejection_id"].is_string(), "{name}");
    }
    assert_eq!(
        count(&ctx, "select count(*) from rejected_submissions").await,
        cases.len() as i64
    );
    // The form records the client IP the server saw.
    let ok = client
        .post(&url)
        .json(&example(Channel::Form))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    let ip: String = sqlx::query_scalar("select host(client_ip) from tickets")
        .fetch_one(&ctx.pool)
        .await
        .unwrap();
    assert_eq!(ip, "127.0.0.1");
    // Readiness is answered on the ops listener only.
    let ready = client
        .get(format!("http://{}/ready", app.ops_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    for path in ["/ready", "/metrics", "/health"] {
        let public = client
            .get(format!("http://{}{path}", app.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(public.status(), 404, "{path} on the public listener");
    }
    app.stop().await;
}

#[tokio::test]
async fn id_and_card_numbers_are_redacted_and_phones_masked() {
    let ctx = TestContext::new().await;
    let app = start(&ctx).await;
    let mut body = example(Channel::Form);
    body["description"] =
        json!("退款请打到卡 6222 0212 3456 7890 128，我的身份证11010519491231002X");
    ctx.publish(ctx.subjects.feedback_in(Channel::Form), body.to_string())
        .await;
    let created = ctx
        .collect(
            Stream::Ticket,
            &ctx.subjects.ticket_created(),
            1,
            Duration::from_secs(20),
        )
        .await;
    let event: TicketCreated = created[0].json();
    let expected = format!(
        "退款请打到卡 {}，我的身份证{}",
        pii::BANK_CARD_MARK,
        pii::NATIONAL_ID_MARK
    );
    assert_eq!(event.description, expected);
    assert_eq!(event.customer.phone.as_deref(), Some("*******5678"));
    assert_eq!(event.customer.name.as_deref(), Some("张先生/女士"));
    let raw_event = String::from_utf8(created[0].payload.to_vec()).unwrap();
    assert!(!raw_event.contains("13812345678") && !raw_event.contains("张伟"));
    let stored: String = sqlx::query_scalar("select description from tickets")
        .fetch_one(&ctx.pool)
        .await
        .unwrap();
    assert_eq!(stored, expected, "redacted before it is stored");
    let phone: String = sqlx::query_scalar("select customer_phone from tickets")
        .fetch_one(&ctx.pool)
        .await
        .unwrap();
    assert_eq!(
        phone, "13812345678",
        "the ticket itself keeps the full number"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_repeat_of_recent_feedback_is_flagged_as_likely_duplicate() {
    let ctx = TestContext::new().await;
    let app = start(&ctx).await;
    let mut first = example(Channel::Form);
    first["submitted_at"] = json!(chrono::Utc::now().to_rfc3339());
    ctx.publish(ctx.subjects.feedback_in(Channel::Form), first.to_string())
        .await;
    wait_count(
        &ctx,
        "select count(*) from tickets",
        1,
        Duration::from_secs(20),
    )
    .await;
    let mut again = first.clone();
    again["external_id"] = json!("web-again");
    again["description"] = json!("APP 一直闪退，登录不了！重装了两次还是不行");
    let mut other = first.clone();
    other["external_id"] = json!("web-other");
    other["description"] = json!("发票抬头开错了，需要重新开具");
    ctx.publish(ctx.subjects.feedback_in(Channel::Form), again.to_string())
        .await;
    ctx.publish(ctx.subjects.feedback_in(Channel::Form), other.to_string())
        .await;
    let created = ctx
        .collect(
            Stream::Ticket,
            &ctx.subjects.ticket_created(),
            3,
            Duration::from_secs(20),
        )
        .await;
    let events: Vec<TicketCreated> = created.iter().map(|m| m.json()).collect();
    let original = &events[0];
    let again = events
        .iter()
        .find(|e| e.description.contains("还是不行"))
        .unwrap();
    let other = events
        .iter()
        .find(|e| e.description.contains("发票"))
        .unwrap();
    assert_eq!(
        again.history.likely_duplicate_of.as_deref(),
        Some(original.ticket_no.as_str())
    );
    assert!(again.history.previous_tickets >= 1);
    assert_eq!(other.history.likely_duplicate_of, None);
    assert!(other.history.previous_tickets >= 1);
    app.stop().await;
}

#[tokio::test]
async fn two_replicas_turn_2000_submissions_into_2000_distinct_tickets() {
    let ctx = TestContext::new().await;
    let a = start(&ctx).await;
    let b = start(&ctx).await;
    let channels = [
        Channel::Form,
        Channel::App,
        Channel::Chat,
        Channel::Email,
        Channel::Phone,
        Channel::Social,
    ];
    let mut acks = Vec::with_capacity(2000);
    for i in 0..2000 {
        let channel = channels[i % channels.len()];
        let mut body = example(channel);
        body["external_id"] = json!(format!("load-{i}"));
        body["customer"]["id"] = json!(format!("C{i}"));
        acks.push(
            ctx.js
                .publish(ctx.subjects.feedback_in(channel), body.to_string().into())
                .await
                .unwrap(),
        );
    }
    for ack in acks {
        ack.await.unwrap();
    }
    let n = wait_count(
        &ctx,
        "select count(*) from tickets",
        2000,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(n, 2000);
    assert_eq!(
        count(&ctx, "select count(distinct ticket_no) from tickets").await,
        2000
    );
    let created = ctx
        .collect(
            Stream::Ticket,
            &ctx.subjects.ticket_created(),
            2000,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(created.len(), 2000);
    // Every message acknowledged: nothing pending or waiting for redelivery on the shared consumer.
    let mut stream = ctx
        .js
        .get_stream(ctx.subjects.stream_name(Stream::Feedback))
        .await
        .unwrap();
    let _ = stream.info().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mut consumer: async_nats::jetstream::consumer::PullConsumer = stream
            .get_consumer(&ctx.subjects.durable("intake"))
            .await
            .unwrap();
        let info = consumer.info().await.unwrap();
        if (info.num_ack_pending == 0 && info.num_pending == 0)
            || tokio::time::Instant::now() > deadline
        {
            assert_eq!(info.num_ack_pending, 0, "unacked messages");
            assert_eq!(info.num_pending, 0, "undelivered messages");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        ctx.count(
            Stream::DeadLetter,
            &ctx.subjects.dead_letters_all(),
            Duration::ZERO
        )
        .await,
        0
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_message_taken_by_a_replica_that_dies_is_processed_once_by_another() {
    let ctx = TestContext::new().await;
    // Replica A binds the shared durable consumer, takes the messages and dies before acking.
    let a = start(&ctx).await;
    let stream_name = ctx.subjects.stream_name(Stream::Feedback);
    let durable = ctx.subjects.durable("intake");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while ctx
        .js
        .get_stream(&stream_name)
        .await
        .unwrap()
        .consumer_info(&durable)
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "replica A bound its consumer"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill();
    let stream = ctx
        .js
        .get_stream(ctx.subjects.stream_name(Stream::Feedback))
        .await
        .unwrap();
    let consumer: async_nats::jetstream::consumer::PullConsumer = stream
        .get_consumer(&ctx.subjects.durable("intake"))
        .await
        .unwrap();
    for channel in [Channel::Form, Channel::Email, Channel::Ivr] {
        ctx.publish(
            ctx.subjects.feedback_in(channel),
            example(channel).to_string(),
        )
        .await;
    }
    {
        use futures::StreamExt;
        let mut taken = consumer
            .fetch()
            .max_messages(3)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .unwrap();
        let mut n = 0;
        while let Some(Ok(_unacked)) = taken.next().await {
            n += 1;
        }
        assert_eq!(n, 3, "the dying replica took all three");
    } // dropped without ack: the replica is gone
    let b = start(&ctx).await;
    // Redelivered after ack_wait (5 s in tests) to replica B.
    assert_eq!(
        wait_count(
            &ctx,
            "select count(*) from tickets",
            3,
            Duration::from_secs(30)
        )
        .await,
        3
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(count(&ctx, "select count(*) from tickets").await, 3);
    let created = ctx
        .count(
            Stream::Ticket,
            &ctx.subjects.ticket_created(),
            Duration::from_millis(300),
        )
        .await;
    assert_eq!(created, 3);
    b.stop().await;
}

/// Many customers submitting the web form at once, on a pool with far fewer connections than
/// requests: every one gets its ticket (no request may hold one pooled connection while it waits for
/// another, or the pool deadlocks until its acquire timeout), and the submissions are committed
/// together in a few transactions rather than one each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_form_submissions_all_succeed_and_are_committed_in_groups() {
    let mut ctx = TestContext::new().await;
    ctx.settings.database.max_connections = 4;
    let app = start(&ctx).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = format!("http://{}/v1/feedback", app.addr);
    let customers = 64;
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..customers {
        let mut body = example(Channel::Form);
        body["external_id"] = json!(format!("crowd-{i}"));
        body["customer"]["id"] = json!(format!("crowd-customer-{i}"));
        let (client, url) = (client.clone(), url.clone());
        requests.spawn(async move {
            let response = client.post(&url).json(&body).send().await;
            response
                .map(|r| r.status().as_u16())
                .map_err(|e| e.to_string())
        });
    }
    let mut statuses = Vec::new();
    while let Some(done) = requests.join_next().await {
        statuses.push(done.unwrap());
    }
    assert!(
        statuses.iter().all(|s| *s == Ok(201)),
        "every submission answered 201: {statuses:?}"
    );
    assert_eq!(
        count(&ctx, "select count(distinct ticket_no) from tickets").await,
        customers
    );
    // Rows written by one transaction share its id (xmin).
    let transactions = count(&ctx, "select count(distinct xmin::text) from tickets").await;
    assert!(
        transactions < customers,
        "{customers} submissions took {transactions} transactions"
    );
    app.stop().await;
}

/// One customer writing from many tabs at once, to two replicas: batches of the same customer take
/// turns, so each ticket counts every earlier one exactly once (the counts are 0, 1, 2, … with no
/// number twice) and a repeat of the same text is flagged against a ticket that exists.
#[tokio::test]
async fn one_customers_concurrent_submissions_each_see_the_ones_before() {
    let ctx = TestContext::new().await;
    let replicas = [start(&ctx).await, start(&ctx).await];
    let client = reqwest::Client::new();
    let submissions = 40;
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..submissions {
        let mut body = example(Channel::Form);
        body["external_id"] = json!(format!("tabs-{i}"));
        body["customer"]["id"] = json!("one-busy-customer");
        body["description"] = json!(format!("第 {i} 次反馈：APP 一直闪退，登录不了"));
        let url = format!("http://{}/v1/feedback", replicas[i % 2].addr);
        let client = client.clone();
        requests.spawn(async move {
            let response = client.post(&url).json(&body).send().await.unwrap();
            response.status().as_u16()
        });
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), 201);
    }
    let counts: Vec<i64> =
        sqlx::query_scalar("select previous_tickets from tickets order by previous_tickets")
            .fetch_all(&ctx.pool)
            .await
            .unwrap();
    assert_eq!(counts, (0..submissions as i64).collect::<Vec<_>>());
    let unflagged = count(
        &ctx,
        "select count(*) from tickets t where t.likely_duplicate_of is null
            or not exists (select 1 from tickets d where d.id = t.likely_duplicate_of)",
    )
    .await;
    assert_eq!(
        unflagged, 1,
        "only the first ticket has no earlier duplicate"
    );
    for replica in replicas {
        replica.stop().await;
    }
}

async fn post_form(app: &Application, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/feedback", app.addr))
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The public form cannot date its tickets or make itself urgent: the submit time is the server's
/// receive time and the priority is left to the router. A bus adapter keeps its own time (within the
/// configured bound) and its priority hint.
#[tokio::test]
async fn the_public_form_gets_the_receive_time_and_no_priority_of_its_own() {
    let ctx = TestContext::new().await;
    let app = start(&ctx).await;
    let mut body = example(Channel::Form);
    body["submitted_at"] = json!("2000-01-01T00:00:00Z");
    body["priority"] = json!("urgent");
    let before = chrono::Utc::now();
    let (status, answer) = post_form(&app, &body).await;
    assert_eq!(status, 201, "{answer}");
    let (submitted, priority): (chrono::DateTime<chrono::Utc>, Option<String>) =
        sqlx::query_as("select submitted_at, priority from tickets where ticket_no = $1")
            .bind(answer["ticket_no"].as_str().unwrap())
            .fetch_one(&ctx.pool)
            .await
            .unwrap();
    assert!(
        submitted >= before - chrono::Duration::seconds(1),
        "{submitted}"
    );
    assert_eq!(priority, None, "the router decides the form's priority");

    let two_days_ago = chrono::Utc::now() - chrono::Duration::days(2);
    let mut email = example(Channel::Email);
    email["submitted_at"] = json!(two_days_ago.to_rfc3339());
    email["priority"] = json!("urgent");
    ctx.publish(ctx.subjects.feedback_in(Channel::Email), email.to_string())
        .await;
    wait_count(
        &ctx,
        "select count(*) from tickets where channel = 'email'",
        1,
        Duration::from_secs(20),
    )
    .await;
    let (submitted, priority): (chrono::DateTime<chrono::Utc>, Option<String>) =
        sqlx::query_as("select submitted_at, priority from tickets where channel = 'email'")
            .fetch_one(&ctx.pool)
            .await
            .unwrap();
    assert_eq!(submitted.timestamp(), two_days_ago.timestamp());
    assert_eq!(priority.as_deref(), Some("urgent"));
    app.stop().await;
}

/// The form's answer never names another ticket, and an `external_id` finds an earlier ticket only when
/// the whole submission is repeated (a double-click), never for a guessed id with other content.
#[tokio::test]
async fn the_public_form_reveals_no_other_ticket() {
    let ctx = TestContext::new().await;
    let app = start(&ctx).await;
    let first = example(Channel::Form);
    let (status, original) = post_form(&app, &first).await;
    assert_eq!(status, 201);
    // The same customer again, nearly the same words: flagged inside, not told outside.
    let mut again = first.clone();
    again["external_id"] = json!("web-again");
    again["description"] = json!("APP 一直闪退，登录不了！重装了两次还是不行");
    let (status, answer) = post_form(&app, &again).await;
    assert_eq!(status, 201);
    assert!(answer.get("likely_duplicate_of").is_none(), "{answer}");
    let flagged: Option<String> = sqlx::query_scalar(
        "select d.ticket_no from tickets t join tickets d on d.id = t.likely_duplicate_of where t.ticket_no = $1",
    )
    .bind(answer["ticket_no"].as_str().unwrap())
    .fetch_optional(&ctx.pool)
    .await
    .unwrap();
    assert_eq!(flagged.as_deref(), original["ticket_no"].as_str());
    // Someone else guessing the first submission's id gets a ticket of their own.
    let mut guess = example(Channel::Form);
    guess["customer"] = json!({"phone": "13900000000"});
    guess["description"] = json!("我想看看别人的工单");
    let (status, answer) = post_form(&app, &guess).await;
    assert_eq!(status, 201);
    assert_ne!(answer["ticket_no"], original["ticket_no"]);
    // The real retry finds its ticket.
    let (status, retry) = post_form(&app, &first).await;
    assert_eq!(status, 200);
    assert_eq!(retry["ticket_no"], original["ticket_no"]);
    assert_eq!(retry["already_registered"], true);
    app.stop().await;
}

/// Behind trusted proxies the client is the right-most untrusted `X-Forwarded-For` hop; without them
/// the header is ignored.
#[tokio::test]
async fn the_client_address_is_the_right_most_untrusted_forwarded_hop() {
    let mut ctx = TestContext::new().await;
    let client = reqwest::Client::new();
    let forwarded = "6.6.6.6, 198.51.100.23";
    for (trusted, expected) in [
        (vec![], "127.0.0.1"),
        (vec!["127.0.0.0/8".to_string()], "198.51.100.23"),
    ] {
        ctx.settings.http.trusted_proxies = trusted;
        let app = start(&ctx).await;
        let mut body = example(Channel::Form);
        body["external_id"] = json!(format!("xff-{expected}"));
        let answer: Value = client
            .post(format!("http://{}/v1/feedback", app.addr))
            .header("x-forwarded-for", forwarded)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ip: String =
            sqlx::query_scalar("select host(client_ip) from tickets where ticket_no = $1")
                .bind(answer["ticket_no"].as_str().unwrap())
                .fetch_one(&ctx.pool)
                .await
                .unwrap();
        assert_eq!(ip, expected);
        app.stop().await;
    }
}

/// National-ID and bank-card numbers are redacted from every field a person types, in either digit
/// width, before the ticket is stored or announced.
#[tokio::test]
async fn numbers_typed_in_any_field_or_width_are_redacted() {
    let ctx = TestContext::new().await;
    let app = start(&ctx).await;
    let id_full_width = "１１０１０５１９４９１２３１００２Ｘ";
    let card = "6222 0212 3456 7890 128";
    let mut body = example(Channel::Form);
    body["description"] = json!(format!("身份证{id_full_width}"));
    body["customer"]["name"] = json!(format!("张伟{card}"));
    body["order_number"] = json!(format!("卡{card}"));
    body["tags"] = json!([format!("证{id_full_width}")]);
    body["attachments"][0]["name"] = json!(format!("{card}.png"));
    body["info_source"] = json!(format!("电话补充 {id_full_width}"));
    let (status, answer) = post_form(&app, &body).await;
    assert_eq!(status, 201, "{answer}");
    let stored: Value =
        sqlx::query_scalar("select to_jsonb(t) from tickets t where ticket_no = $1")
            .bind(answer["ticket_no"].as_str().unwrap())
            .fetch_one(&ctx.pool)
            .await
            .unwrap();
    let created = ctx
        .collect(
            Stream::Ticket,
            &ctx.subjects.ticket_created(),
            1,
            Duration::from_secs(20),
        )
        .await;
    let event = String::from_utf8(created[0].payload.to_vec()).unwrap();
    for text in [stored.to_string(), event] {
        assert!(
            !text.contains(id_full_width) && !text.contains(card),
            "{text}"
        );
        assert!(
            !text.contains("１１０１０５") && !text.contains("62220212"),
            "{text}"
        );
        assert!(text.contains(pii::NATIONAL_ID_MARK) && text.contains(pii::BANK_CARD_MARK));
    }
    assert_eq!(
        stored["order_number"],
        json!(format!("卡{}", pii::BANK_CARD_MARK))
    );
    app.stop().await;
}

/// Reads what the server sends until it closes the connection (or `within` passes: then `None`).
async fn read_until_closed(stream: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut seen)).await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&seen).into_owned())
}

/// A slow client cannot hold the public port: headers sent a byte at a time (or not at all) close the
/// connection after the header-read timeout, a body that stops arriving ends the request, and the
/// connection limit bounds how many connections it can hold at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_bounded() {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let mut ctx = TestContext::new().await;
    ctx.settings.http.header_read_timeout_ms = 500;
    ctx.settings.http.body_read_timeout_ms = 500;
    ctx.settings.http.max_connections = 4;
    let app = start(&ctx).await;

    // Slowloris: a request line and part of the headers, then silence.
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"POST /v1/feedback HTTP/1.1\r\nHost: intake\r\nContent-")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    assert!(
        read_until_closed(&mut slow, Duration::from_secs(5))
            .await
            .is_some(),
        "the server closed the half-sent request"
    );
    assert!(started.elapsed() < Duration::from_secs(3));

    // A body that stops arriving.
    let mut stalled = TcpStream::connect(app.addr).await.unwrap();
    stalled
        .write_all(
            b"POST /v1/feedback HTTP/1.1\r\nHost: intake\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"schema_version\": 1,",
        )
        .await
        .unwrap();
    let answer = read_until_closed(&mut stalled, Duration::from_secs(5))
        .await
        .expect("the server answered the stalled body");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");

    // Connections that send nothing hold at most the limit; a real customer gets in once the header
    // timeout has closed them.
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(app.addr).await.unwrap());
    }
    let started = std::time::Instant::now();
    let (status, _) = post_form(&app, &example(Channel::Form)).await;
    assert_eq!(status, 201);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the customer waited for a connection slot held by the idle connections"
    );
    for mut conn in idle.into_iter().take(4) {
        assert!(read_until_closed(&mut conn, Duration::from_secs(5))
            .await
            .is_some());
    }
    app.stop().await;
}
