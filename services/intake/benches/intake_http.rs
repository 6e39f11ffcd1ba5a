//! `scripts/bench intake-http`: the public web form under concurrent customers. One intake replica
//! (in process, against the machine's Postgres and NATS); at each concurrency C, C clients each hold one
//! keep-alive HTTP/1.1 connection and post unique submissions back to back for `BENCH_SECONDS`
//! (default 10). Figures per C: tickets/s answered 201, p50/p99/max latency of a request, and every
//! answer that was not 201 (`c{C}_errors`, with its statuses). The machine's own ceiling, single-row
//! inserts per second each in its own transaction, is measured in the same run.
//!
//! `BENCH_CONCURRENCY` (default `1,4,16,64,256`) and `BENCH_SECONDS` change the run; `scripts/test`
//! runs a smoke size. The process exits non-zero if any request failed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use intake::settings::IntakeSettings;
use intake::startup::Application;
use serde_json::{json, Value};
use shared::testkit::TestContext;
use tokio_util::sync::CancellationToken;

fn example() -> Value {
    let path = format!(
        "{}/../../shared/examples/form.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("example exists"))
        .expect("example is JSON")
}

/// What one client saw.
struct ClientRun {
    latencies: Histogram<u64>,
    created: u64,
    failures: BTreeMap<String, u64>,
}

/// One customer after another on one keep-alive connection until `until`.
async fn client(
    addr: std::net::SocketAddr,
    template: Value,
    next: Arc<AtomicUsize>,
    run_tag: String,
    until: Instant,
) -> ClientRun {
    let mut out = ClientRun {
        latencies: Histogram::new(3).expect("histogram"),
        created: 0,
        failures: BTreeMap::new(),
    };
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(connection);
    while Instant::now() < until {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let mut body = template.clone();
        body["external_id"] = json!(format!("{run_tag}-{i}"));
        body["customer"]["id"] = json!(format!("C{}", i % 20_000));
        body["customer"]["phone"] = json!(format!("139{:08}", i % 20_000));
        let request = hyper::Request::post("/v1/feedback")
            .header("host", "intake")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("request");
        let started = Instant::now();
        if sender.ready().await.is_err() {
            *out.failures.entry("connection closed".into()).or_default() += 1;
            break;
        }
        match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status().as_u16();
                let _ = response.into_body().collect().await;
                out.latencies
                    .record(started.elapsed().as_micros() as u64)
                    .expect("record");
                if status == 201 {
                    out.created += 1;
                } else {
                    *out.failures.entry(status.to_string()).or_default() += 1;
                }
            }
            Err(e) => {
                *out.failures.entry(format!("error: {e}")).or_default() += 1;
                break;
            }
        }
    }
    out
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let levels: Vec<usize> = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 4, 16, 64, 256]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let failed = rt.block_on(async move {
        let mut ctx = TestContext::new().await;
        ctx.settings.nats.batch_size = 500;
        // The group commit's knobs, to compare settings with the same binary.
        let mut intake = IntakeSettings::default();
        if let Some(ms) = std::env::var("BENCH_FORM_LINGER_MS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            intake.form_linger_ms = ms;
        }
        if let Some(n) = std::env::var("BENCH_FORM_LANES")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            intake.form_commit_lanes = n;
        }
        println!("form_linger_ms={}", intake.form_linger_ms);
        println!("form_commit_lanes={}", intake.form_commit_lanes);
        let app = Application::build(ctx.settings.clone(), intake, CancellationToken::new())
            .await
            .expect("intake starts");
        let template = example();
        let next = Arc::new(AtomicUsize::new(0));
        let mut failed = false;
        for c in &levels {
            let c = *c;
            let until = Instant::now() + Duration::from_secs(seconds);
            let started = Instant::now();
            let clients: Vec<_> = (0..c)
                .map(|_| {
                    tokio::spawn(client(
                        app.addr,
                        template.clone(),
                        next.clone(),
                        format!("c{c}"),
                        until,
                    ))
                })
                .collect();
            let mut latencies = Histogram::<u64>::new(3).expect("histogram");
            let mut created = 0;
            let mut failures: BTreeMap<String, u64> = BTreeMap::new();
            for handle in clients {
                let run = handle.await.expect("client task");
                latencies.add(&run.latencies).expect("merge");
                created += run.created;
                for (k, v) in run.failures {
                    *failures.entry(k).or_default() += v;
                }
            }
            let elapsed = started.elapsed().as_secs_f64();
            let errors: u64 = failures.values().sum();
            println!("c{c}_tickets_per_s={:.0}", created as f64 / elapsed);
            println!("c{c}_p50_ms={:.1}", ms(&latencies, 0.5));
            println!("c{c}_p99_ms={:.1}", ms(&latencies, 0.99));
            println!("c{c}_max_ms={:.1}", ms(&latencies, 1.0));
            println!("c{c}_errors={errors}");
            if errors > 0 {
                failed = true;
                println!("c{c}_error_kinds={failures:?}");
            }
            // Let the relay publish the level's events before the next one starts.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let pg = shared::testkit::postgres_single_insert_rate(&ctx, seconds.clamp(1, 5)).await;
        println!("postgres_single_insert_per_s={pg:.0}");
        app.stop().await;
        failed
    });
    if failed {
        std::process::exit(1);
    }
}
