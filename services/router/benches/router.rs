//! `scripts/bench router`: classification cost per ticket (rules + three models + routing, no I/O)
//! and end-to-end throughput of one router replica against real Postgres and NATS JetStream
//! (ticket.created in → tickets updated, timeline appended, events through the outbox).
//! Prints `name=value` lines. `ROUTER_BENCH_TICKETS` sets the throughput run's size (default 5000).

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::future::join_all;
use hdrhistogram::Histogram;
use loopdesk_router::decision::{Engine, GivenLabels};
use loopdesk_router::rules::TicketFacts;
use loopdesk_router::settings::RouterSettings;
use loopdesk_router::startup::Application;
use shared::messages::feedback::Channel;
use shared::messages::ticket::{CustomerHistory, MaskedCustomer, TicketCreated};
use shared::messages::SCHEMA_VERSION;
use shared::testkit::TestContext;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn texts() -> Vec<String> {
    loopdesk_router::examples::load(&root().join("config/router/examples.tsv"), Some("category"))
        .expect("labelled set")
        .into_iter()
        .map(|(t, _)| t)
        .collect()
}

fn classification_cost(texts: &[String]) {
    let started = Instant::now();
    let engine = Engine::load(&root().join("config/router")).expect("config");
    println!("router_engine_load_ms={}", started.elapsed().as_millis());
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    let rounds = 5;
    let started = Instant::now();
    for _ in 0..rounds {
        for t in texts {
            let t0 = Instant::now();
            let d = engine.decide(
                &TicketFacts {
                    text: t.clone(),
                    channel: Some("app".into()),
                    ..Default::default()
                },
                &GivenLabels::default(),
            );
            std::hint::black_box(d);
            let _ = hist.record(t0.elapsed().as_nanos() as u64);
        }
    }
    let n = (rounds * texts.len()) as f64;
    let total = started.elapsed().as_secs_f64();
    println!("router_classify_tickets={}", n as u64);
    println!("router_classify_us_per_ticket={:.1}", total / n * 1e6);
    println!(
        "router_classify_p50_us={:.1}",
        hist.value_at_quantile(0.5) as f64 / 1e3
    );
    println!(
        "router_classify_p99_us={:.1}",
        hist.value_at_quantile(0.99) as f64 / 1e3
    );
    println!("router_classify_per_sec_one_core={:.0}", n / total);
}

async fn throughput(texts: &[String], n: usize) {
    let ctx = TestContext::new().await;
    // Tickets written the way intake writes them, in one statement.
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    let nos: Vec<String> = (0..n).map(|i| format!("20261123{i:06}")).collect();
    let descs: Vec<String> = (0..n).map(|i| texts[i % texts.len()].clone()).collect();
    sqlx::query(
        "insert into tickets (id, ticket_no, channel, external_id, submitted_at, received_at,
                              customer_name, customer_phone, description)
         select id, no, 'app', id::text, now(), now(), '张三', '13812345678', d
         from unnest($1::uuid[], $2::text[], $3::text[]) as u(id, no, d)",
    )
    .bind(&ids)
    .bind(&nos)
    .bind(&descs)
    .execute(&ctx.pool)
    .await
    .expect("tickets inserted");
    // Publish every ticket.created before the router starts, so the run measures the router alone.
    let subject = ctx.subjects.ticket_created();
    for chunk in ids.chunks(500).zip(nos.chunks(500)).zip(descs.chunks(500)) {
        let ((ids, nos), descs) = chunk;
        let acks = join_all(ids.iter().zip(nos).zip(descs).map(|((id, no), d)| {
            let m = TicketCreated {
                schema_version: SCHEMA_VERSION,
                ticket_id: *id,
                ticket_no: no.clone(),
                channel: Channel::App,
                submitted_at: Utc::now(),
                received_at: Utc::now(),
                customer: MaskedCustomer {
                    id: None,
                    name: Some("张先生/女士".into()),
                    phone: Some("*******5678".into()),
                    customer_type: None,
                },
                order_number: None,
                description: d.clone(),
                feedback_type: None,
                tags: vec![],
                priority: None,
                expected_resolution_at: None,
                attachments: vec![],
                info_source: None,
                ivr: None,
                history: CustomerHistory {
                    previous_tickets: 0,
                    likely_duplicate_of: None,
                    duplicate_similarity: None,
                },
            };
            let payload = serde_json::to_vec(&m).expect("serialisable");
            let js = ctx.js.clone();
            let subject = subject.clone();
            async move {
                js.publish(subject, payload.into())
                    .await
                    .expect("publish")
                    .await
            }
        }))
        .await;
        for a in acks {
            a.expect("stored");
        }
    }
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let app = Application::build(
        ctx.settings.clone(),
        RouterSettings {
            config_dir: root().join("config/router"),
            reload_ms: 2000,
            examples: root().join("config/router/examples.tsv"),
            ..RouterSettings::default()
        },
        shutdown.clone(),
    )
    .await
    .expect("router starts");
    let ready = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done: i64 =
            sqlx::query_scalar("select count(*) from tickets where classified_at is not null")
                .fetch_one(&ctx.pool)
                .await
                .expect("count");
        if done as usize >= n || Instant::now() > deadline {
            let secs = (started.elapsed() - ready).as_secs_f64();
            println!("router_throughput_tickets={done}");
            println!("router_startup_ms={}", ready.as_millis());
            println!("router_throughput_secs={secs:.2}");
            println!(
                "router_throughput_tickets_per_sec={:.0}",
                done as f64 / secs
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t0 = Instant::now();
    loop {
        let pending = shared::outbox::pending(&ctx.pool).await.expect("outbox");
        if pending == 0 || t0.elapsed() > Duration::from_secs(120) {
            println!(
                "router_outbox_drain_secs_after={:.2}",
                t0.elapsed().as_secs_f64()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.stop().await;
}

fn main() {
    let texts = texts();
    classification_cost(&texts);
    let n: usize = std::env::var("ROUTER_BENCH_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(throughput(&texts, n));
}
