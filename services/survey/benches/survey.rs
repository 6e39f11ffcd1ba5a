//! `scripts/bench survey`: how fast the survey worker fires its durable timers and records answers, against
//! the machine's real Postgres (and NATS for the test context), printed as `name=value` lines.
//!
//! * `send_per_s`: N scheduled surveys due at once, fired in batches of `timer_batch` (each batch: claim
//!   with SKIP LOCKED, N requests into the outbox, timeline, one commit).
//! * `idle_poll_ms`: one timer pass when nothing is due, after the N surveys are closed and 5·N more closed
//!   rows sit in the table (the partial index keeps it flat).
//! * `answers_per_s`: N app answers through the response handler in batches of 500 (one transaction per
//!   batch: idempotency claims, answer rows, survey updates, timeline, `survey.answered`).
//!
//! N = `BENCH_SURVEYS` (default 20,000).

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use shared::consumer::{BatchHandler, Delivery};
use shared::testkit::TestContext;
use survey::respond::ResponseHandler;
use survey::settings::SurveySettings;
use survey::{Clock, Ctx, TokenSigner};

const SECRET: &str = "bench-only-secret-0123456789abcdef0123";

#[tokio::main]
async fn main() {
    let n: i64 = std::env::var("BENCH_SURVEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let tc = TestContext::new().await;
    let mut settings = SurveySettings::for_tests(SECRET, chrono_tz::UTC);
    // Quiet hours never block the bench, whatever the hour it runs at.
    settings.policy.quiet_end = settings.policy.quiet_start;
    settings.timer_batch = 500;
    let now = Utc::now();
    let ctx = Ctx::new(
        tc.pool.clone(),
        tc.subjects.clone(),
        Arc::new(settings),
        TokenSigner::new(SECRET.to_string().into()),
        Clock::manual(now),
    );

    // N resolved tickets, each with a survey due now.
    sqlx::query(
        "insert into tickets (id, ticket_no, channel, external_id, submitted_at, received_at, customer_id,
             description, status)
         select gen_random_uuid(), 'B' || i, 'app', 'b' || i, $1, $1, 'C' || i, 'bench', 'resolved'
         from generate_series(1, $2) as i",
    )
    .bind(now)
    .bind(n)
    .execute(&tc.pool)
    .await
    .expect("tickets");
    sqlx::query(
        "insert into surveys (id, ticket_id, ticket_no, cycle, resolved_event_id, resolved_at, resolution,
             department, channel, recipient_customer_id, status, send_at, due_at)
         select gen_random_uuid(), id, ticket_no, 1, gen_random_uuid(), $1, 'full', 'customer_service', 'app',
             customer_id, 'scheduled', $1, $1
         from tickets",
    )
    .bind(now)
    .execute(&tc.pool)
    .await
    .expect("surveys");

    let started = Instant::now();
    let mut fired = 0usize;
    loop {
        let k = survey::timers::fire_due(&ctx, ctx.settings().timer_batch)
            .await
            .expect("fire");
        if k == 0 {
            break;
        }
        fired += k;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("surveys={n}");
    println!("send_per_s={:.0}", fired as f64 / secs);

    // The outbox rows the requests became carry the tokens; answer every survey once.
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar(
        "select payload from outbox where subject like '%.survey.request.app' order by seq",
    )
    .fetch_all(&tc.pool)
    .await
    .expect("requests");
    let subject = tc.subjects.subject("survey.response.app");
    let deliveries: Vec<Delivery> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let req: serde_json::Value = serde_json::from_slice(p).expect("request JSON");
            let satisfaction = ["satisfied", "basically_satisfied", "unsatisfied"][i % 3];
            let body = serde_json::json!({"schema_version": 1, "response_id": format!("r{i}"),
                "token": req["token"], "received_at": now, "channel": "app",
                "satisfaction": satisfaction, "score": 1 + (i % 5), "nps": i % 11});
            Delivery {
                subject: subject.clone(),
                payload: serde_json::to_vec(&body).expect("encode").into(),
                headers: None,
                delivered: 1,
                stream_sequence: i as u64 + 1,
            }
        })
        .collect();
    let handler = ResponseHandler { ctx: ctx.clone() };
    let started = Instant::now();
    for chunk in deliveries.chunks(500) {
        handler.handle(chunk).await.expect("answers");
    }
    let secs = started.elapsed().as_secs_f64();
    println!("answers_per_s={:.0}", deliveries.len() as f64 / secs);

    // Pile up closed rows, then time an idle pass.
    sqlx::query(
        "insert into surveys (id, ticket_id, ticket_no, cycle, resolved_event_id, resolved_at, resolution,
             channel, status, send_at, closed_at)
         select gen_random_uuid(), t.id, t.ticket_no, 1 + g, gen_random_uuid(), $1, 'full', 'app', 'expired', $1, $1
         from tickets t cross join generate_series(1, 5) as g",
    )
    .bind(now)
    .execute(&tc.pool)
    .await
    .expect("closed rows");
    sqlx::query("analyze surveys")
        .execute(&tc.pool)
        .await
        .expect("analyze");
    let rows: i64 = sqlx::query_scalar("select count(*) from surveys")
        .fetch_one(&tc.pool)
        .await
        .expect("count");
    let passes = 50;
    let started = Instant::now();
    for _ in 0..passes {
        survey::timers::fire_due(&ctx, ctx.settings().timer_batch)
            .await
            .expect("idle pass");
    }
    println!("survey_rows={rows}");
    println!(
        "idle_poll_ms={:.3}",
        started.elapsed().as_secs_f64() * 1000.0 / passes as f64
    );
}
