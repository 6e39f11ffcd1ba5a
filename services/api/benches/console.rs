//! What the console asks of the api, at scale: N tickets (default 1,000,000, `CONSOLE_BENCH_TICKETS`)
//! over a year in a database of its own, a third of them open with running SLA clocks. Times, as the
//! api answers them over HTTP: the inbox's first page (newest first, and by nearest deadline) for an
//! agent, and a ticket page (detail + history) for random tickets; then, with 50 live-update streams
//! open (`CONSOLE_BENCH_STREAMS`), the delay from publishing a ticket change on the bus until every
//! stream has it. Prints name=value lines.

use std::time::{Duration, Instant};

use futures::StreamExt;
use hdrhistogram::Histogram;
use secrecy::SecretString;
use serde_json::{json, Value};
use shared::config::{DatabaseSettings, HttpSettings, NatsSettings, Settings};
use sqlx::{Connection, Executor, PgConnection};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "bench-admin-token-of-at-least-32-characters";

/// The seed both console benches use (`{tickets}` is replaced by the number).
const SEED: &str = include_str!("console-seed.sql");

fn millis(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = |k: &str, d: i64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let tickets = env("CONSOLE_BENCH_TICKETS", 1_000_000);
    let requests = env("CONSOLE_BENCH_REQUESTS", 200) as usize;
    let streams = env("CONSOLE_BENCH_STREAMS", 50) as usize;
    let changes = env("CONSOLE_BENCH_CHANGES", 100) as usize;
    let base = std::env::var("LOOPDESK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let nats =
        std::env::var("LOOPDESK_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let db = format!("loopdesk_bench_console_{}", uuid::Uuid::new_v4().simple());
    let admin: sqlx::postgres::PgConnectOptions = base.parse()?;
    let mut conn = PgConnection::connect_with(&admin).await?;
    conn.execute(format!(r#"create database "{db}""#).as_str())
        .await?;
    let url = format!("{}/{db}", &base[..base.rfind('/').unwrap_or(base.len())]);
    let settings = Settings {
        prefix: format!("cbench{}", &db[db.len() - 8..]),
        timezone: "Asia/Shanghai".into(),
        database: DatabaseSettings {
            upkeep: false,
            ..DatabaseSettings::new(SecretString::from(url), 16)
        },
        nats: NatsSettings {
            url: nats,
            stream_replicas: 1,
            max_deliver: 3,
            ack_wait_secs: 5,
            batch_size: 200,
            linger_ms: shared::config::DEFAULT_LINGER_MS,
            user: None,
            password: None,
            tls_ca_file: None,
        },
        http: HttpSettings::local("127.0.0.1:0"),
        retention: Default::default(),
    };
    let result = run(&settings, tickets, requests, streams, changes).await;
    conn.execute(format!(r#"drop database if exists "{db}" with (force)"#).as_str())
        .await?;
    if let Ok(client) = async_nats::connect(&settings.nats.url).await {
        let js = async_nats::jetstream::new(client);
        let subjects = shared::subjects::Subjects::new(settings.prefix.clone());
        for s in shared::subjects::Stream::ALL {
            let _ = js.delete_stream(subjects.stream_name(s)).await;
        }
    }
    result
}

async fn timed(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    h: &mut Histogram<u64>,
) -> anyhow::Result<Value> {
    let started = Instant::now();
    let resp = http.get(url).bearer_auth(token).send().await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    h.record(started.elapsed().as_micros() as u64)?;
    anyhow::ensure!(status.is_success(), "{url}: {status} {body}");
    Ok(body)
}

async fn run(
    settings: &Settings,
    tickets: i64,
    requests: usize,
    streams: usize,
    changes: usize,
) -> anyhow::Result<()> {
    let pool = shared::db::connect(&settings.database).await?;
    shared::db::migrate(&pool).await?;
    let started = Instant::now();
    // A million rows take longer than the statement bound the workers run under.
    let mut seed = pool.begin().await?;
    sqlx::query("set local statement_timeout = 0")
        .execute(&mut *seed)
        .await?;
    sqlx::raw_sql(&SEED.replace("{tickets}", &tickets.to_string()))
        .execute(&mut *seed)
        .await?;
    seed.commit().await?;
    sqlx::query("analyze").execute(&pool).await?;
    println!("tickets={tickets}");
    println!("seed_secs={:.1}", started.elapsed().as_secs_f64());

    let api = api::ApiSettings {
        admin_token: Some(SecretString::from(TOKEN)),
        ..api::ApiSettings::default()
    };
    let shutdown = CancellationToken::new();
    let running = api::Application::build(settings.clone(), api, shutdown.clone()).await?;
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };
    post(
        "/v1/users",
        json!({"name": "li", "role": "agent", "department": "customer_service"}),
    )
    .await?
    .error_for_status()?;
    let agent: Value = post("/v1/users/li/tokens", json!({})).await?.json().await?;
    let agent = agent["token"].as_str().unwrap_or_default().to_string();

    let mut first = Histogram::<u64>::new(3)?;
    let mut by_deadline = Histogram::<u64>::new(3)?;
    let mut page = Histogram::<u64>::new(3)?;
    let mut numbers = Vec::new();
    for i in 0..requests {
        let v = timed(
            &http,
            &format!("{base}/v1/tickets?limit=50"),
            &agent,
            &mut first,
        )
        .await?;
        if i == 0 {
            numbers = v["items"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t["ticket_no"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
        }
        timed(
            &http,
            &format!("{base}/v1/tickets?limit=50&sort=deadline&status=open"),
            &agent,
            &mut by_deadline,
        )
        .await?;
    }
    // Ticket pages across the year: numbers the agent's department holds, spread over the seed.
    let sample: Vec<String> = sqlx::query_scalar(
        "select ticket_no from tickets where lead_department = 'customer_service' order by random() limit $1",
    )
    .bind(requests as i64)
    .fetch_all(&pool)
    .await?;
    for no in sample.iter().chain(numbers.iter()).take(requests) {
        let started = Instant::now();
        let (d, h) = tokio::join!(
            http.get(format!("{base}/v1/tickets/{no}"))
                .bearer_auth(&agent)
                .send(),
            http.get(format!("{base}/v1/tickets/{no}/history"))
                .bearer_auth(&agent)
                .send(),
        );
        anyhow::ensure!(
            d?.status().is_success() && h?.status().is_success(),
            "ticket page {no}"
        );
        page.record(started.elapsed().as_micros() as u64)?;
    }
    println!("inbox_first_page_p50_ms={:.1}", millis(&first, 0.5));
    println!("inbox_first_page_p95_ms={:.1}", millis(&first, 0.95));
    println!(
        "inbox_deadline_page_p50_ms={:.1}",
        millis(&by_deadline, 0.5)
    );
    println!(
        "inbox_deadline_page_p95_ms={:.1}",
        millis(&by_deadline, 0.95)
    );
    println!("ticket_page_p50_ms={:.1}", millis(&page, 0.5));
    println!("ticket_page_p95_ms={:.1}", millis(&page, 0.95));

    // Live updates: streams open, then changes published one by one as the relay publishes them.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    for _ in 0..streams {
        let resp = http
            .get(format!("{base}/v1/events"))
            .bearer_auth(&agent)
            .send()
            .await?;
        let tx = tx.clone();
        let mut body = resp.bytes_stream();
        tokio::spawn(async move {
            let mut buffer = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    if let Some(no) = frame
                        .lines()
                        .find_map(|l| l.strip_prefix("data:"))
                        .and_then(|d| serde_json::from_str::<Value>(d.trim()).ok())
                        .and_then(|v| v["ticket_no"].as_str().map(str::to_string))
                    {
                        let _ = tx.send((no, Instant::now()));
                    }
                }
            }
        });
    }
    drop(tx);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (nats, js) = shared::bus::connect(&settings.nats).await?;
    drop(nats);
    let subjects = shared::subjects::Subjects::new(settings.prefix.clone());
    let changed: Vec<(uuid::Uuid, String)> = sqlx::query_as(
        "select id, ticket_no from tickets where lead_department = 'customer_service' and status = 'open' limit $1",
    )
    .bind(changes as i64)
    .fetch_all(&pool)
    .await?;
    let mut each = Histogram::<u64>::new(3)?;
    let mut all = Histogram::<u64>::new(3)?;
    for (id, no) in &changed {
        let published = Instant::now();
        js.publish(
            subjects.subject("ticket.assigned"),
            json!({"ticket_id": id, "ticket_no": no}).to_string().into(),
        )
        .await?
        .await?;
        let mut got = 0;
        let deadline = published + Duration::from_secs(10);
        while got < streams {
            match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
                Ok(Some((n, at))) if &n == no => {
                    got += 1;
                    each.record(at.duration_since(published).as_micros() as u64)?;
                    if got == streams {
                        all.record(at.duration_since(published).as_micros() as u64)?;
                    }
                }
                Ok(Some(_)) => {}
                _ => anyhow::bail!("{no}: {got} of {streams} streams had the change within 10 s"),
            }
        }
    }
    println!("live_streams={streams}");
    println!("live_changes={}", changed.len());
    println!("live_update_p50_ms={:.1}", millis(&each, 0.5));
    println!("live_update_p99_ms={:.1}", millis(&each, 0.99));
    println!("live_update_all_streams_p99_ms={:.1}", millis(&all, 0.99));
    shutdown.cancel();
    Ok(())
}
