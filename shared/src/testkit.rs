//! Spawns the real thing per test: a fresh, migrated database named by a UUID and a unique subject prefix
//! with its own streams, on the machine's Postgres and NATS. Tests therefore run in parallel without
//! seeing each other. Everything is removed when the context is dropped.
//!
//! `LOOPDESK_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and
//! `LOOPDESK_TEST_NATS_URL` (default `nats://127.0.0.1:4222`) point it elsewhere; `TEST_LOG` shows logs.

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures::StreamExt;
use secrecy::SecretString;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection, PgPool};

use crate::config::{DatabaseSettings, HttpSettings, NatsSettings, Settings};
use crate::subjects::{Stream, Subjects};

pub struct TestContext {
    pub settings: Settings,
    pub pool: PgPool,
    pub nats: async_nats::Client,
    pub js: jetstream::Context,
    pub subjects: Subjects,
    db_name: String,
    admin: PgConnectOptions,
}

/// A message seen on the bus by [`TestContext::collect`].
#[derive(Debug, Clone)]
pub struct Seen {
    pub subject: String,
    pub payload: bytes::Bytes,
    pub headers: Option<async_nats::HeaderMap>,
}

impl Seen {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.payload).expect("message is valid JSON of the expected type")
    }
}

impl TestContext {
    /// A context on the machine's Postgres and NATS (or those the environment names).
    pub async fn new() -> Self {
        let base_url = std::env::var("LOOPDESK_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let nats_url = std::env::var("LOOPDESK_TEST_NATS_URL")
            .unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
        Self::on_servers(&base_url, &nats_url, 1).await
    }

    /// A context on given servers (a test's private Postgres or NATS cluster); `base_url` names the
    /// server's maintenance database, `nats_url` may list several servers separated by commas.
    pub async fn on_servers(base_url: &str, nats_url: &str, stream_replicas: usize) -> Self {
        Self::on_servers_as(base_url, nats_url, stream_replicas, None).await
    }

    /// As [`TestContext::on_servers`], connecting to NATS as `user` (name, password): a server with
    /// Loopdesk's users and permissions (see [`crate::bus_access`]); the test itself uses `ops`.
    pub async fn on_servers_as(
        base_url: &str,
        nats_url: &str,
        stream_replicas: usize,
        user: Option<(&str, &str)>,
    ) -> Self {
        crate::telemetry::init_for_tests();
        let base_url = base_url.to_string();
        let nats_url = nats_url.to_string();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let db_name = format!("loopdesk_test_{id}");
        let prefix = format!("t{}", &id[..12]);

        let admin: PgConnectOptions = base_url
            .parse()
            .expect("LOOPDESK_TEST_DATABASE_URL is valid");
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .expect("test Postgres is reachable");
        conn.execute(format!(r#"create database "{db_name}""#).as_str())
            .await
            .expect("test database can be created");
        conn.close().await.ok();

        let db_url = {
            let mut url = base_url.clone();
            let cut = url.rfind('/').expect("database URL has a path");
            url.truncate(cut + 1);
            url.push_str(&db_name);
            url
        };
        let settings = Settings {
            prefix: prefix.clone(),
            timezone: "Asia/Shanghai".into(),
            database: DatabaseSettings::new(SecretString::from(db_url), 10),
            nats: NatsSettings {
                url: nats_url,
                stream_replicas,
                max_deliver: 3,
                ack_wait_secs: 5,
                batch_size: 200,
                linger_ms: crate::config::DEFAULT_LINGER_MS,
                user: user.map(|(name, _)| name.to_string()),
                password: user.map(|(_, password)| SecretString::from(password.to_string())),
                tls_ca_file: None,
            },
            http: HttpSettings::local("127.0.0.1:0"),
            retention: Default::default(),
        };
        let pool = crate::db::connect(&settings.database)
            .await
            .expect("test database is reachable");
        crate::db::migrate(&pool).await.expect("migrations apply");
        let (nats, js) = crate::bus::connect(&settings.nats)
            .await
            .expect("test NATS is reachable");
        let subjects = Subjects::new(prefix);
        crate::bus::ensure_streams(&js, &subjects, stream_replicas)
            .await
            .expect("test streams can be created");
        Self {
            settings,
            pool,
            nats,
            js,
            subjects,
            db_name,
            admin,
        }
    }

    /// Publishes `payload` to JetStream and waits until the stream has stored it.
    pub async fn publish(&self, subject: impl Into<String>, payload: impl Into<bytes::Bytes>) {
        self.js
            .publish(subject.into(), payload.into())
            .await
            .expect("publish is accepted")
            .await
            .expect("publish is stored");
    }

    /// Collects messages on `filter` (a subject, wildcards allowed) from the start of its stream until
    /// `count` have arrived or `timeout` passes; returns what arrived either way.
    pub async fn collect(
        &self,
        stream: Stream,
        filter: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<Seen> {
        let consumer = self.ordered_consumer(stream, filter).await;
        let mut messages = consumer.messages().await.expect("ordered consumer pulls");
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while seen.len() < count {
            match tokio::time::timeout_at(deadline, messages.next()).await {
                Ok(Some(Ok(m))) => seen.push(Seen {
                    subject: m.subject.to_string(),
                    payload: m.payload.clone(),
                    headers: m.headers.clone(),
                }),
                Ok(Some(Err(_))) => continue,
                Ok(None) | Err(_) => break,
            }
        }
        seen
    }

    /// An ordered consumer over `filter` from the start of `stream`. In a cluster that has just lost a
    /// node the stream may still be electing a leader, so creation is retried for up to 60 s.
    async fn ordered_consumer(
        &self,
        stream: Stream,
        filter: &str,
    ) -> consumer::Consumer<consumer::pull::OrderedConfig> {
        let name = self.subjects.stream_name(stream);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let attempt = async {
                let stream = self.js.get_stream(&name).await.map_err(|e| e.to_string())?;
                stream
                    .create_consumer(consumer::pull::OrderedConfig {
                        filter_subject: filter.to_string(),
                        deliver_policy: consumer::DeliverPolicy::All,
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| e.to_string())
            };
            match attempt.await {
                Ok(consumer) => return consumer,
                Err(error) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(%error, stream = %name, "ordered consumer not ready, retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(error) => panic!("ordered consumer on {name} can be created: {error}"),
            }
        }
    }

    /// How many messages sit on `filter` right now (waits `settle` for stragglers first).
    pub async fn count(&self, stream: Stream, filter: &str, settle: Duration) -> usize {
        tokio::time::sleep(settle).await;
        self.collect(stream, filter, usize::MAX, Duration::from_millis(500))
            .await
            .len()
    }
}

/// The database's own commit ceiling, for benches to print beside their figures: single-row inserts
/// per second over `seconds`, each its own transaction (one commit, one WAL flush each), on one
/// connection of `ctx`'s database.
pub async fn postgres_single_insert_rate(ctx: &TestContext, seconds: u64) -> f64 {
    sqlx::query(
        "create table if not exists ceiling (id bigserial primary key, payload text not null)",
    )
    .execute(&ctx.pool)
    .await
    .expect("ceiling table");
    let mut conn = ctx.pool.acquire().await.expect("connection");
    let started = std::time::Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        sqlx::query("insert into ceiling (payload) values ($1)")
            .bind("a ticket-sized row of text")
            .execute(&mut *conn)
            .await
            .expect("insert");
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

impl Drop for TestContext {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let db_name = self.db_name.clone();
        let nats_url = self.settings.nats.url.clone();
        let subjects = self.subjects.clone();
        // Drop cannot await, and the test's runtime may be the one blocked here: clean up on a thread of
        // its own, with its own runtime and its own connections.
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let _ = tokio::time::timeout(Duration::from_secs(10), async {
                    let first = nats_url.split(',').next().unwrap_or_default().to_string();
                    if let Ok(client) = async_nats::connect(first).await {
                        let js = jetstream::new(client);
                        for stream in Stream::ALL {
                            let _ = js.delete_stream(subjects.stream_name(stream)).await;
                        }
                    }
                    if let Ok(mut conn) = PgConnection::connect_with(&admin).await {
                        let _ = conn
                            .execute(
                                format!(r#"drop database if exists "{db_name}" with (force)"#)
                                    .as_str(),
                            )
                            .await;
                    }
                })
                .await;
            });
        });
        let _ = cleanup.join();
    }
}
