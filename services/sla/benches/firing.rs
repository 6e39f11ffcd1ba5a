//! SLA firing benchmark: one SLA replica (consumers, firing loop, outbox relay) over a database with
//! `BENCH_PENDING` pending timers (default 1,000,000) of which `BENCH_RATE` per second (default 1,000)
//! come due for `BENCH_SECONDS` (default 30). Each due timer is a real first-response breach: the
//! clock is checked, the breach and its escalation go to the outbox (and on to JetStream), the
//! timeline gets both entries. Prints `name=value` lines: lateness is commit time minus due time.
//!
//! Runs in its own database and subject prefix on the local Postgres and NATS
//! (`LOOPDESK_BENCH_DATABASE_URL`, `LOOPDESK_BENCH_NATS_URL`), removed afterwards.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use loopdesk_sla::firing::FireObserver;
use loopdesk_sla::policy::SlaRules;
use loopdesk_sla::startup::{Application, SlaConfig};
use loopdesk_sla::SlaSettings;
use secrecy::SecretString;
use shared::config::{DatabaseSettings, HttpSettings, NatsSettings, Settings};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection};
use tokio_util::sync::CancellationToken;

const RULES: &str = r#"
default_calendar = "always"
[departments.customer_service]
calendar = "always"
supervisor = "supervisor:customer_service"
[calendars.always]
always_open = true
"#;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident and peak resident memory of this process, in MiB.
fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let pending: i64 = env("BENCH_PENDING", 1_000_000);
    let rate: i64 = env("BENCH_RATE", 1_000);
    let seconds: i64 = env("BENCH_SECONDS", 30);
    let measured = (rate * seconds).min(pending);
    let base_url = std::env::var("LOOPDESK_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let nats_url =
        std::env::var("LOOPDESK_BENCH_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());

    let id = uuid::Uuid::new_v4().simple().to_string();
    let db_name = format!("loopdesk_bench_sla_{}", &id[..12]);
    let admin: PgConnectOptions = base_url.parse().context("bench database URL")?;
    let mut conn = PgConnection::connect_with(&admin).await?;
    conn.execute(format!(r#"create database "{db_name}""#).as_str())
        .await?;
    let cut = base_url.rfind('/').context("database URL has a path")?;
    let settings = Settings {
        prefix: format!("bench{}", &id[..8]),
        timezone: "Asia/Shanghai".into(),
        database: DatabaseSettings::new(
            SecretString::from(format!("{}{db_name}", &base_url[..=cut])),
            10,
        ),
        nats: NatsSettings {
            url: nats_url.clone(),
            stream_replicas: 1,
            max_deliver: 5,
            ack_wait_secs: 30,
            batch_size: 500,
            linger_ms: shared::config::DEFAULT_LINGER_MS,
            user: None,
            password: None,
            tls_ca_file: None,
        },
        http: HttpSettings::local("127.0.0.1:0"),
        retention: Default::default(),
    };
    let result = run(&settings, pending, rate, seconds, measured).await;

    // Clean up whatever happened.
    if let Ok(client) = async_nats::connect(&nats_url).await {
        let js = async_nats::jetstream::new(client);
        let subjects = shared::subjects::Subjects::new(settings.prefix.clone());
        for stream in shared::subjects::Stream::ALL {
            let _ = js.delete_stream(subjects.stream_name(stream)).await;
        }
    }
    conn.execute(format!(r#"drop database if exists "{db_name}" with (force)"#).as_str())
        .await?;
    result
}

async fn run(
    settings: &Settings,
    pending: i64,
    rate: i64,
    seconds: i64,
    measured: i64,
) -> anyhow::Result<()> {
    let pool = shared::db::connect(&settings.database).await?;
    shared::db::migrate(&pool).await?;

    // The pending load that never comes due during the run: 1 day to ~11 days ahead.
    let seeding = Instant::now();
    // In one transaction free of the statement bound the workers run under: a million rows may take
    // longer.
    let mut far = pool.begin().await?;
    sqlx::query("set local statement_timeout = 0")
        .execute(&mut *far)
        .await?;
    sqlx::query(
        "insert into sla_timers (ticket_id, clock, version, event, fraction, due_at)
         select gen_random_uuid(), 'resolution', 1, case when g % 3 = 0 then 'breach' else 'warning' end,
                case when g % 3 = 0 then null else 0.75 end,
                now() + interval '1 day' + g * interval '1 second'
         from generate_series(1, $1) as g",
    )
    .bind(pending - measured)
    .execute(&mut *far)
    .await?;
    far.commit().await?;
    sqlx::query("analyze sla_timers").execute(&pool).await?;
    let seed_far = seeding.elapsed();

    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1,
        600_000_000,
        3,
    )?));
    let fired = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let passes = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let observer: FireObserver = {
        let (histogram, fired, passes) = (histogram.clone(), fired.clone(), passes.clone());
        Arc::new(move |due: &[DateTime<Utc>], committed: DateTime<Utc>| {
            let mut h = histogram.lock().unwrap_or_else(|e| e.into_inner());
            for d in due {
                let late = (committed - *d).num_microseconds().unwrap_or(0).max(1) as u64;
                let _ = h.record(late.min(600_000_000));
            }
            fired.fetch_add(due.len() as i64, std::sync::atomic::Ordering::Relaxed);
            passes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
    };
    let rules = Arc::new(SlaRules::from_toml(RULES)?);
    let shutdown = CancellationToken::new();
    let app = Application::build(
        settings.clone(),
        SlaConfig {
            observer: Some(observer),
            // The bench's own rules, not the business's setup.
            ..SlaConfig::new(
                SlaSettings {
                    from_setup: false,
                    ..SlaSettings::default()
                },
                rules,
            )
        },
        shutdown.clone(),
    )
    .await?;

    // The timers that come due at `rate` per second, each with its ticket and running
    // first-response clock (planned at version 1).
    let seeding = Instant::now();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "create temp table bench_due on commit drop as
         select g, md5('bench' || g)::uuid as id,
                timestamptz '2100-01-01 00:00:00+00' + (g - 1) * ($2::float8 / $1) * interval '1 second' as due
         from generate_series(1, $3) as g",
    )
    .bind(rate as f64)
    .bind(1.0f64)
    .bind(measured)
    .execute(&mut *tx)
    .await?;
    for sql in [
        "insert into tickets (id, ticket_no, channel, external_id, submitted_at, received_at, description)
         select id, 'B' || g, 'form', 'bench-' || g, due - interval '1 hour', due - interval '1 hour', 'bench'
         from bench_due",
        "insert into sla_tickets (ticket_id, ticket_no, priority, department)
         select id, 'B' || g, 'general', 'customer_service' from bench_due",
        "insert into sla_clocks (ticket_id, kind, cycle, version, status, basis, target_us,
                                 warning_fractions, started_at, elapsed_us, running_since, due_at)
         select id, 'first_response', 1, 1, 'running', 'business', 3600000000, '[0.75, 0.9]',
                due - interval '1 hour', 0, due - interval '1 hour', due
         from bench_due",
        "insert into sla_timers (ticket_id, clock, version, event, due_at)
         select id, 'first_response', 1, 'breach', due from bench_due",
    ] {
        sqlx::query(sql).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    // Written far in the future, then moved into place in one statement, so however long the
    // writing took, the first timer comes due 5 s from now.
    sqlx::query(
        "update sla_timers
            set due_at = now() + interval '5 seconds'
                         + (due_at - timestamptz '2100-01-01 00:00:00+00')
          where fired_at is null and due_at >= timestamptz '2100-01-01 00:00:00+00'",
    )
    .execute(&pool)
    .await?;
    let seed_due = seeding.elapsed();
    let pending_now: i64 =
        sqlx::query_scalar("select count(*) from sla_timers where fired_at is null")
            .fetch_one(&pool)
            .await?;

    // Wait for every measured timer to fire (or give up well after the schedule ends).
    let started = Instant::now();
    let limit = Duration::from_secs((seconds + 60) as u64);
    while fired.load(std::sync::atomic::Ordering::Relaxed) < measured && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (rss, peak) = rss_mb();
    let relay_lag: i64 = sqlx::query_scalar("select count(*) from outbox")
        .fetch_one(&pool)
        .await?;
    shutdown.cancel();
    app.stop().await;

    let h = histogram.lock().unwrap_or_else(|e| e.into_inner());
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let n = fired.load(std::sync::atomic::Ordering::Relaxed);
    println!("pending_timers={pending_now}");
    println!("due_rate_per_s={rate}");
    println!("measured_timers={measured}");
    println!("fired={n}");
    println!(
        "firing_passes={}",
        passes.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!("p50_lateness_ms={:.1}", ms(0.50));
    println!("p99_lateness_ms={:.1}", ms(0.99));
    println!("max_lateness_ms={:.1}", h.max() as f64 / 1000.0);
    println!("rss_mb={rss:.1}");
    println!("rss_peak_mb={peak:.1}");
    println!("outbox_backlog_at_end={relay_lag}");
    println!("seed_far_secs={:.1}", seed_far.as_secs_f64());
    println!("seed_due_secs={:.1}", seed_due.as_secs_f64());
    if n < measured {
        anyhow::bail!("only {n} of {measured} timers fired in time");
    }
    Ok(())
}
