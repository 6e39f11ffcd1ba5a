//! `scripts/bench pipeline`: the whole pipeline as separate processes (intake, router, sla, survey) on
//! this machine's Postgres and NATS, with 1 and then 2 replicas of each worker.
//!
//! For each run: N submissions (BENCH_TICKETS, default 20,000) across channels as fast as the bus accepts
//! → sustained end-to-end rate to `ticket.routed.*`; once the SLA worker has caught up with the flood,
//! 1,000/s for 10 s → latency submit → routed
//! (p50/p99/p99.9); then every ticket resolved (state change + `ticket.resolved` through the outbox, as the
//! api does) → survey requests counted. CPU seconds and peak memory of every worker, per 10,000 tickets.
//! Measured in the same run: the raw ceilings (JetStream persisted publishes/s, Postgres single-row
//! autocommit inserts/s) and Loopdesk's rate as a ratio of each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hdrhistogram::Histogram;
use serde_json::Value;
use shared::testkit::TestContext;
use system::pipeline::{self, Pipeline, SlaRules};
use system::{feed, verify};
use uuid::Uuid;

type Arrivals = Arc<Mutex<HashMap<Uuid, Instant>>>;

/// Records the first arrival of each ticket id seen on `subject` (JSON with a `ticket_id` field).
async fn record(ctx: &TestContext, subject: String) -> Arrivals {
    let arrivals: Arrivals = Arc::default();
    let mut sub = ctx.nats.subscribe(subject).await.expect("subscribe");
    let a = arrivals.clone();
    tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            let now = Instant::now();
            if let Ok(v) = serde_json::from_slice::<Value>(&m.payload) {
                if let Some(id) = v["ticket_id"].as_str().and_then(|s| s.parse::<Uuid>().ok()) {
                    a.lock().expect("lock").entry(id).or_insert(now);
                }
            }
        }
    });
    arrivals
}

async fn wait_until(arrivals: &Arrivals, n: usize, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while arrivals.lock().expect("lock").len() < n {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// The submission instant of every ticket of `tag`, by ticket id (mapped through the database).
async fn sent_by_ticket(
    ctx: &TestContext,
    tag: &str,
    sent: &HashMap<usize, Instant>,
) -> HashMap<Uuid, Instant> {
    let rows: Vec<(Uuid, String)> =
        sqlx::query_as("select id, external_id from tickets where external_id like $1")
            .bind(format!("{tag}-%"))
            .fetch_all(&ctx.pool)
            .await
            .expect("ids");
    rows.into_iter()
        .filter_map(|(id, external)| {
            let i: usize = external.rsplit('-').next().and_then(|s| s.parse().ok())?;
            sent.get(&i).map(|s| (id, *s))
        })
        .collect()
}

/// Latencies from `from` to `to` for every ticket seen at both.
fn between(from: &HashMap<Uuid, Instant>, to: &Arrivals) -> Histogram<u64> {
    let to = to.lock().expect("lock");
    let mut h = Histogram::<u64>::new(3).expect("histogram");
    for (id, start) in from {
        if let Some(a) = to.get(id) {
            h.record(a.saturating_duration_since(*start).as_micros() as u64)
                .expect("record");
        }
    }
    h
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// JetStream persisted publishes per second (pipelined, 512-byte messages).
async fn jetstream_ceiling(ctx: &TestContext, n: usize) -> f64 {
    let payload = bytes::Bytes::from(vec![b'x'; 512]);
    let started = Instant::now();
    let mut pending = futures::stream::FuturesUnordered::new();
    for _ in 0..n {
        let ack = ctx
            .js
            .publish(ctx.subjects.subject("ticket.ceiling"), payload.clone())
            .await
            .expect("publish");
        pending.push(std::future::IntoFuture::into_future(ack));
        while pending.len() >= 4096 {
            pending.next().await.expect("ack").expect("stored");
        }
    }
    while let Some(a) = pending.next().await {
        a.expect("stored");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

async fn run(replicas: usize, n: usize, prefix: &str) {
    let mut ctx = TestContext::new().await;
    ctx.settings.nats.ack_wait_secs = 30;
    ctx.settings.nats.max_deliver = 5;
    ctx.settings.nats.batch_size = 500;
    let pipeline = Pipeline::start(&ctx.settings, replicas, SlaRules::Production);
    let routed = record(&ctx, ctx.subjects.subject("ticket.routed.>")).await;
    let created = record(&ctx, ctx.subjects.subject("ticket.created")).await;
    let surveyed = record(&ctx, ctx.subjects.subject("survey.request.>")).await;
    // Let every worker bind its consumer before the clock starts.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let examples = feed::examples();

    // Phase 1: as fast as accepted.
    let mut sent = HashMap::with_capacity(n);
    let started = Instant::now();
    let mut pending = futures::stream::FuturesUnordered::new();
    for i in 0..n {
        let (channel, b) = feed::submission(&examples, "flood", i);
        let ack = ctx
            .js
            .publish(ctx.subjects.feedback_in(channel), b)
            .await
            .expect("publish");
        sent.insert(i, Instant::now());
        pending.push(std::future::IntoFuture::into_future(ack));
        while pending.len() >= 4096 {
            pending.next().await.expect("ack").expect("stored");
        }
    }
    while let Some(a) = pending.next().await {
        a.expect("stored");
    }
    let complete = wait_until(&routed, n, Duration::from_secs(900)).await;
    let last = routed
        .lock()
        .expect("lock")
        .values()
        .max()
        .copied()
        .unwrap_or_else(Instant::now);
    let rate =
        routed.lock().expect("lock").len() as f64 / last.duration_since(started).as_secs_f64();
    let flood = between(&sent_by_ticket(&ctx, "flood", &sent).await, &routed);
    println!("{prefix}replicas_per_worker={replicas}");
    println!("{prefix}tickets={n}");
    println!("{prefix}all_routed={complete}");
    println!("{prefix}e2e_tickets_per_s={rate:.0}");
    println!(
        "{prefix}flood_p50_submit_to_routed_ms={:.1}",
        ms(&flood, 0.5)
    );
    println!(
        "{prefix}flood_p99_submit_to_routed_ms={:.1}",
        ms(&flood, 0.99)
    );

    // Phase 2 measures the steady state at 1,000/s, not the recovery from the flood: first the SLA
    // worker finishes the flood's backlog (it applies every ticket's classification after routing).
    let backlog = Instant::now();
    let caught_up = verify::wait_for(
        &ctx,
        "select count(*) from sla_tickets where category is not null",
        n as i64,
        Duration::from_secs(300),
    )
    .await;
    println!(
        "{prefix}sla_backlog_after_flood_s={:.1}",
        backlog.elapsed().as_secs_f64()
    );
    println!("{prefix}sla_caught_up={}", caught_up >= n as i64);

    // Phase 2: 1,000/s for 10 s.
    let mut sent = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut i = 0;
    for _ in 0..1000 {
        tick.tick().await;
        for _ in 0..10 {
            let (channel, b) = feed::submission(&examples, "steady", i);
            let _ack = ctx
                .js
                .publish(ctx.subjects.feedback_in(channel), b)
                .await
                .expect("publish");
            sent.insert(i, Instant::now());
            i += 1;
        }
    }
    wait_until(&routed, n + i, Duration::from_secs(300)).await;
    let steady_sent = sent_by_ticket(&ctx, "steady", &sent).await;
    let steady = between(&steady_sent, &routed);
    println!("{prefix}p50_submit_to_routed_ms={:.1}", ms(&steady, 0.5));
    println!("{prefix}p99_submit_to_routed_ms={:.1}", ms(&steady, 0.99));
    println!("{prefix}p999_submit_to_routed_ms={:.1}", ms(&steady, 0.999));
    // Per stage: submit → ticket.created (intake and its relay), ticket.created → routed (the router
    // and its relay).
    let intake_stage = between(&steady_sent, &created);
    let created_at: HashMap<Uuid, Instant> = {
        let created = created.lock().expect("lock");
        steady_sent
            .keys()
            .filter_map(|id| created.get(id).map(|a| (*id, *a)))
            .collect()
    };
    let router_stage = between(&created_at, &routed);
    for (stage, h) in [("intake", &intake_stage), ("router", &router_stage)] {
        println!("{prefix}{stage}_stage_p50_ms={:.1}", ms(h, 0.5));
        println!("{prefix}{stage}_stage_p99_ms={:.1}", ms(h, 0.99));
    }

    // Phase 3: simulated resolution → survey requests.
    let resolved_at = Instant::now();
    let total = pipeline::resolve_all(&ctx.pool, &ctx.subjects, "agent:bench").await;
    let all_surveyed = wait_until(&surveyed, total, Duration::from_secs(300)).await;
    let surveys = surveyed.lock().expect("lock").len();
    println!("{prefix}resolved={total}");
    println!("{prefix}survey_requests={surveys}");
    println!("{prefix}all_surveyed={all_surveyed}");
    println!(
        "{prefix}resolve_to_survey_s={:.1}",
        resolved_at.elapsed().as_secs_f64()
    );

    let tickets = (n + i) as f64;
    let per_worker = pipeline.usage();
    for (name, (cpu, mem)) in per_worker {
        println!(
            "{prefix}{name}_cpu_s_per_10k={:.2}",
            cpu / tickets * 10_000.0
        );
        println!("{prefix}{name}_peak_rss_mb={mem:.0}");
    }
    if replicas == 1 {
        let js = jetstream_ceiling(&ctx, 50_000).await;
        let pg = shared::testkit::postgres_single_insert_rate(&ctx, 5).await;
        println!("jetstream_publish_per_s={js:.0}");
        println!("postgres_single_insert_per_s={pg:.0}");
        println!("e2e_vs_jetstream_ratio={:.3}", rate / js);
        println!("e2e_vs_postgres_single_insert_ratio={:.2}", rate / pg);
    }
    drop(pipeline);
}

fn main() {
    let n: usize = std::env::var("BENCH_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // BENCH_REPLICAS=1 runs only the one-replica pass (quicker while tuning).
    let replicas: Vec<usize> = std::env::var("BENCH_REPLICAS")
        .ok()
        .map(|v| v.split(',').filter_map(|r| r.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2]);
    rt.block_on(async {
        for r in replicas {
            let prefix = if r == 1 {
                String::new()
            } else {
                format!("r{r}_")
            };
            run(r, n, &prefix).await;
        }
    });
}
