//! Report latency at scale: seeds N tickets (default 1,000,000, `API_BENCH_TICKETS`) over one year into a
//! database of its own with `generate_series`, builds the rollups, starts the api in-process and times
//! `GET /v1/reports/summary` for a month grouped by day (and a few other shapes). Prints name=value lines.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use secrecy::SecretString;
use shared::config::{DatabaseSettings, HttpSettings, NatsSettings, Settings};
use sqlx::{Connection, Executor, PgConnection};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "bench-admin-token-of-at-least-32-characters";

const SEED: &str = "
insert into tickets (id, ticket_no, channel, external_id, submitted_at, received_at, description, priority, status,
    category, lead_department, departments, owner, first_reply_at, resolved_at, resolution, first_contact_resolved,
    survey_satisfaction, survey_nps)
select gen_random_uuid(), 'B' || g, c.channel, 'bench-' || g, s.at, s.at, 'bench ticket ' || g,
    (array['urgent','general','suggestion'])[1 + g % 3], case when g % 10 < 8 then 'resolved' else 'open' end,
    (array['pre_sales','order','after_sales','technical_fault','service_complaint','logistics_delay','other'])[1 + g % 7],
    d.dept, array[d.dept], 'agent' || (g % 50),
    s.at + (5 + g % 60) * interval '1 minute',
    case when g % 10 < 8 then s.at + (30 + g % 240) * interval '1 minute' end,
    case when g % 10 < 7 then 'full' when g % 10 = 7 then 'partial' end,
    case when g % 10 < 8 then g % 3 = 0 end,
    case when g % 4 = 0 then (array['satisfied','basically_satisfied','unsatisfied'])[1 + g % 3] end,
    case when g % 4 = 0 then (g % 11)::smallint end
from generate_series(1, $1::bigint) g
cross join lateral (select timestamptz '2025-01-01 00:00:00+08' + (g::double precision / $1) * interval '365 days' as at) s
cross join lateral (select (array['form','app','ivr','chat','email','phone','social'])[1 + (g / 7) % 7] as channel) c
cross join lateral (select (array['customer_service','product','logistics','tech','sales'])[1 + (g / 3) % 5] as dept) d
";

fn ms(d: Duration) -> u64 {
    d.as_micros() as u64
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let tickets: i64 = std::env::var("API_BENCH_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let requests: usize = std::env::var("API_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let base = std::env::var("LOOPDESK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let nats =
        std::env::var("LOOPDESK_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let db = format!("loopdesk_bench_api_{}", uuid::Uuid::new_v4().simple());
    let admin: sqlx::postgres::PgConnectOptions = base.parse()?;
    let mut conn = PgConnection::connect_with(&admin).await?;
    conn.execute(format!(r#"create database "{db}""#).as_str())
        .await?;
    let url = format!("{}/{db}", &base[..base.rfind('/').unwrap_or(base.len())]);
    let settings = Settings {
        prefix: format!("bench{}", &db[db.len() - 8..]),
        timezone: "Asia/Shanghai".into(),
        database: DatabaseSettings::new(SecretString::from(url), 8),
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
    let result = run(&settings, tickets, requests).await;
    // Always remove the bench database and streams.
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

/// The trigger that records report deltas of inserted tickets (migrations: the api's baseline).
const REPORT_INSERT_TRIGGER: &str = "tickets_report_insert";

async fn run(settings: &Settings, tickets: i64, requests: usize) -> anyhow::Result<()> {
    let pool = shared::db::connect(&settings.database).await?;
    shared::db::migrate(&pool).await?;
    let started = Instant::now();
    // Bulk load, in one transaction free of the statement bound the workers run under (a million rows
    // take longer): the rollup trigger is off, one rebuild afterwards does the same work in bulk.
    let mut bulk = pool.begin().await?;
    sqlx::query("set local statement_timeout = 0")
        .execute(&mut *bulk)
        .await?;
    sqlx::query(&format!(
        "alter table tickets disable trigger {REPORT_INSERT_TRIGGER}"
    ))
    .execute(&mut *bulk)
    .await?;
    sqlx::query(SEED).bind(tickets).execute(&mut *bulk).await?;
    sqlx::query(&format!(
        "alter table tickets enable trigger {REPORT_INSERT_TRIGGER}"
    ))
    .execute(&mut *bulk)
    .await?;
    let seeded = started.elapsed();
    let started = Instant::now();
    sqlx::query("select report_rebuild()")
        .execute(&mut *bulk)
        .await?;
    bulk.commit().await?;
    sqlx::query("analyze").execute(&pool).await?;
    let rebuilt = started.elapsed();
    let rollup_rows: i64 = sqlx::query_scalar("select count(*) from report_rollup")
        .fetch_one(&pool)
        .await?;
    println!("tickets={tickets}");
    println!("seed_secs={:.1}", seeded.as_secs_f64());
    println!("rollup_rebuild_secs={:.1}", rebuilt.as_secs_f64());
    println!("rollup_rows={rollup_rows}");

    let api = api::ApiSettings {
        admin_token: Some(SecretString::from(TOKEN)),
        ..Default::default()
    };
    let shutdown = CancellationToken::new();
    let running = api::Application::build(settings.clone(), api, shutdown.clone()).await?;
    let http = reqwest::Client::new();
    let base = format!("http://{}", running.addr);

    // A trickle of live changes while reading: deltas not yet folded are part of every answer.
    let shapes: [(&str, &str); 4] = [
        ("month_by_day", "group_by=day"),
        ("month_by_agent", "group_by=agent"),
        ("quarter_by_week", "group_by=week"),
        (
            "month_department_by_agent_scan",
            "group_by=agent&department=logistics",
        ),
    ];
    for (name, query) in shapes {
        let mut hist = Histogram::<u64>::new(3)?;
        let n = if name.ends_with("scan") {
            requests.min(30)
        } else {
            requests
        };
        for i in 0..n {
            let month = 1 + (i % 11) as u32;
            let (from, to) = if name.starts_with("quarter") {
                (
                    format!("2025-{month:02}-01"),
                    format!("2025-{:02}-28", (month + 2).min(12)),
                )
            } else {
                (format!("2025-{month:02}-01"), format!("2025-{month:02}-28"))
            };
            let url = format!("{base}/v1/reports/summary?from={from}&to={to}&{query}");
            let t = Instant::now();
            let resp = http.get(&url).bearer_auth(TOKEN).send().await?;
            let status = resp.status();
            let body: serde_json::Value = resp.json().await?;
            hist.record(ms(t.elapsed()))?;
            anyhow::ensure!(status.is_success(), "{url}: {status} {body}");
            anyhow::ensure!(
                body["total"]["tickets"].as_i64().unwrap_or(0) > 0,
                "{url}: no tickets"
            );
        }
        let p = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        if name == "month_by_day" {
            println!("p50_ms={:.2}", p(0.5));
            println!("p99_ms={:.2}", p(0.99));
        }
        println!("{name}_p50_ms={:.2}", p(0.5));
        println!("{name}_p99_ms={:.2}", p(0.99));
    }
    shutdown.cancel();
    let _ = running.run_until_stopped().await;
    Ok(())
}
