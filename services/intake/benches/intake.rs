//! `scripts/bench intake`: how many tickets one (and two) intake replicas commit per second, and the
//! latency from publish to `ticket.created`, against the machine's real Postgres and NATS.
//!
//! Phase 1 publishes N submissions (default 50,000) across channels as fast as the bus accepts them.
//! Phase 2 publishes at a fixed 1,000/s for 10 s. Figures are printed as `name=value` lines; the
//! two-replica run prefixes its names with `r2_`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hdrhistogram::Histogram;
use intake::settings::IntakeSettings;
use intake::startup::Application;
use serde_json::{json, Value};
use shared::messages::feedback::Channel;
use shared::messages::ticket::TicketCreated;
use shared::testkit::TestContext;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

fn examples() -> Vec<(Channel, Value)> {
    Channel::ALL
        .into_iter()
        .map(|c| {
            let path = format!(
                "{}/../../shared/examples/{}.json",
                env!("CARGO_MANIFEST_DIR"),
                c.as_str()
            );
            let text = std::fs::read_to_string(path).expect("example exists");
            (c, serde_json::from_str(&text).expect("example is JSON"))
        })
        .collect()
}

/// When each ticket.created arrived, by ticket id.
type Arrivals = Arc<Mutex<HashMap<Uuid, Instant>>>;

struct Run {
    ctx: TestContext,
    apps: Vec<Application>,
    arrivals: Arrivals,
    examples: Vec<(Channel, Value)>,
}

impl Run {
    async fn start(replicas: usize) -> Run {
        let mut ctx = TestContext::new().await;
        ctx.settings.nats.ack_wait_secs = 30;
        ctx.settings.nats.max_deliver = 5;
        ctx.settings.nats.batch_size = 500;
        let arrivals: Arrivals = Arc::default();
        let mut sub = ctx
            .nats
            .subscribe(ctx.subjects.ticket_created())
            .await
            .expect("subscribe");
        {
            let arrivals = arrivals.clone();
            tokio::spawn(async move {
                while let Some(m) = sub.next().await {
                    let now = Instant::now();
                    if let Ok(t) = serde_json::from_slice::<TicketCreated>(&m.payload) {
                        arrivals.lock().expect("lock").insert(t.ticket_id, now);
                    }
                }
            });
        }
        let mut apps = Vec::new();
        for _ in 0..replicas {
            apps.push(
                Application::build(
                    ctx.settings.clone(),
                    IntakeSettings::default(),
                    CancellationToken::new(),
                )
                .await
                .expect("intake starts"),
            );
        }
        Run {
            ctx,
            apps,
            arrivals,
            examples: examples(),
        }
    }

    fn body(&self, i: usize, tag: &str) -> (String, Vec<u8>) {
        let (channel, example) = &self.examples[i % self.examples.len()];
        let mut body = example.clone();
        body["external_id"] = json!(format!("{tag}-{i}"));
        body["submitted_at"] = json!(chrono::Utc::now().to_rfc3339());
        body["customer"]["id"] = json!(format!("C{}", i % 20_000));
        if body["customer"].get("phone").is_some() {
            body["customer"]["phone"] = json!(format!("139{:08}", i % 20_000));
        }
        (
            self.ctx.subjects.feedback_in(*channel),
            body.to_string().into_bytes(),
        )
    }

    async fn tickets(&self) -> i64 {
        sqlx::query_scalar("select count(*) from tickets")
            .fetch_one(&self.ctx.pool)
            .await
            .expect("count")
    }

    /// Waits until `n` tickets are committed and announced. It watches the `ticket.created` events
    /// rather than polling `count(*)`, which over a growing table would take a good share of the
    /// database's time from the worker being measured; the count is checked once at the end.
    async fn wait_for(&self, n: i64) {
        let deadline = Instant::now() + Duration::from_secs(600);
        while (self.arrivals.lock().expect("lock").len() as i64) < n {
            assert!(
                Instant::now() < deadline,
                "tickets were not all announced in 10 minutes"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(self.tickets().await, n, "one ticket per submission");
    }

    /// Latency publish → ticket.created for the submissions tagged `tag`.
    async fn latencies(&self, tag: &str, sent: &HashMap<usize, Instant>) -> Histogram<u64> {
        // Wait for the events of every committed ticket to arrive.
        let expected = sent.len();
        let deadline = Instant::now() + Duration::from_secs(60);
        let rows: Vec<(Uuid, String)> = loop {
            let rows: Vec<(Uuid, String)> =
                sqlx::query_as("select id, external_id from tickets where external_id like $1")
                    .bind(format!("{tag}-%"))
                    .fetch_all(&self.ctx.pool)
                    .await
                    .expect("ids");
            let arrived = {
                let a = self.arrivals.lock().expect("lock");
                rows.iter().filter(|(id, _)| a.contains_key(id)).count()
            };
            if arrived >= expected || Instant::now() > deadline {
                break rows;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let arrivals = self.arrivals.lock().expect("lock");
        let mut h = Histogram::<u64>::new(3).expect("histogram");
        for (id, external) in rows {
            let i: usize = external
                .rsplit('-')
                .next()
                .and_then(|s| s.parse().ok())
                .expect("tagged id");
            if let (Some(arrived), Some(sent)) = (arrivals.get(&id), sent.get(&i)) {
                h.record(arrived.duration_since(*sent).as_micros() as u64)
                    .expect("record");
            }
        }
        h
    }

    /// Publishes `n` submissions as fast as the bus accepts them (bounded window of unacked publishes).
    async fn flood(&self, n: usize) -> (f64, Histogram<u64>) {
        let mut sent = HashMap::with_capacity(n);
        let mut pending = futures::stream::FuturesUnordered::new();
        let started = Instant::now();
        for i in 0..n {
            let (subject, body) = self.body(i, "flood");
            let ack = self
                .ctx
                .js
                .publish(subject, body.into())
                .await
                .expect("publish");
            sent.insert(i, Instant::now());
            pending.push(std::future::IntoFuture::into_future(ack));
            while pending.len() >= 4096 {
                pending.next().await.expect("ack").expect("stored");
            }
        }
        while let Some(ack) = pending.next().await {
            ack.expect("stored");
        }
        self.wait_for(n as i64).await;
        let elapsed = started.elapsed().as_secs_f64();
        (n as f64 / elapsed, self.latencies("flood", &sent).await)
    }

    /// Publishes at a fixed `rate` per second for `seconds`.
    async fn steady(&self, rate: usize, seconds: usize) -> Histogram<u64> {
        let before = self.tickets().await;
        let mut sent = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let per_tick = rate / 100;
        let mut i = 0;
        for _ in 0..(seconds * 100) {
            tick.tick().await;
            for _ in 0..per_tick {
                let (subject, body) = self.body(i, "steady");
                // Fire and forget: the stream acks arrive in the background.
                let _ack = self
                    .ctx
                    .js
                    .publish(subject, body.into())
                    .await
                    .expect("publish");
                sent.insert(i, Instant::now());
                i += 1;
            }
        }
        self.wait_for(before + i as i64).await;
        self.latencies("steady", &sent).await
    }

    async fn stop(self) {
        for app in self.apps {
            app.stop().await;
        }
    }
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn main() {
    let n: usize = std::env::var("BENCH_SUBMISSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        for replicas in [1usize, 2] {
            let prefix = if replicas == 1 {
                String::new()
            } else {
                format!("r{replicas}_")
            };
            let run = Run::start(replicas).await;
            let (rate, flood) = run.flood(n).await;
            println!("{prefix}replicas={replicas}");
            println!("{prefix}submissions={n}");
            println!("{prefix}tickets_per_s={rate:.0}");
            println!("{prefix}p50_ms={:.1}", ms(&flood, 0.5));
            println!("{prefix}p99_ms={:.1}", ms(&flood, 0.99));
            let steady = run.steady(1000, 10).await;
            println!("{prefix}at_1000_per_s_p50_ms={:.1}", ms(&steady, 0.5));
            println!("{prefix}at_1000_per_s_p99_ms={:.1}", ms(&steady, 0.99));
            println!("{prefix}at_1000_per_s_max_ms={:.1}", ms(&steady, 1.0));
            run.stop().await;
        }
    });
}
