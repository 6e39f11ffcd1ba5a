//! Typed configuration shared by every service.
//!
//! Values come, in rising order of precedence, from built-in defaults, `config/base.toml`,
//! `config/{LOOPDESK_ENV}.toml` (default `local`), and environment variables `LOOPDESK__SECTION__KEY`
//! (e.g. `LOOPDESK__DATABASE__URL`, `LOOPDESK__NATS__URL`, `LOOPDESK__PREFIX`, `LOOPDESK__HTTP__ADDR`).
//! Secrets (the database URL may hold a password) are only ever set through files outside the repo or the
//! environment and are held in [`SecretString`] so they never reach a log line.

use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::postgres::PgConnectOptions;

/// Everything that can go wrong while loading configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Load(#[from] config::ConfigError),
    #[error("database.url is not a valid PostgreSQL URL: {0}")]
    DatabaseUrl(#[source] sqlx::Error),
    #[error("timezone `{0}` is not an IANA time zone name")]
    TimeZone(String),
    #[error("prefix `{0}` must be non-empty and contain only letters, digits, '-' and '_'")]
    Prefix(String),
    #[error(transparent)]
    TrustedProxy(#[from] crate::http::TrustedProxyError),
    #[error(transparent)]
    Retention(#[from] crate::retention::RetentionError),
    #[error("nats.user `{0}` has no row in the bus permission table (shared/src/bus_access.rs)")]
    NatsUser(String),
}

/// The settings every worker reads; a service reads its own section from the raw [`config::Config`].
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Root of every subject and stream name, so tenants and test runs never collide (invariant 7).
    pub prefix: String,
    /// Time zone for calendars, ticket-number days and reports (invariant 5).
    pub timezone: String,
    pub database: DatabaseSettings,
    pub nats: NatsSettings,
    pub http: HttpSettings,
    /// How long bookkeeping rows are kept (see [`crate::retention`]); safe defaults when absent.
    #[serde(default)]
    pub retention: crate::retention::RetentionSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: u32,
    /// Vacuum and analyze the tables where the server's autovacuum is off (`shared::upkeep`).
    #[serde(default = "default_upkeep")]
    pub upkeep: bool,
    /// Milliseconds one statement of a worker's session may run before Postgres cancels it
    /// (`statement_timeout`; 0 turns the bound off). A statement stuck behind a lock or a runaway
    /// query then fails its batch (retried later) instead of holding a pooled connection and its
    /// locks indefinitely. Worker statements take milliseconds; migrations and the table upkeep
    /// lift the bound for their own session.
    #[serde(default = "default_statement_timeout_ms")]
    pub statement_timeout_ms: u64,
    /// Milliseconds a session may sit idle inside an open transaction before Postgres ends it
    /// (`idle_in_transaction_session_timeout`; 0 turns it off): a replica that hangs mid-transaction
    /// gives its row locks (a day's ticket serial, say) back instead of blocking every other writer.
    #[serde(default = "default_idle_in_transaction_timeout_ms")]
    pub idle_in_transaction_timeout_ms: u64,
}

fn default_upkeep() -> bool {
    true
}

/// See [`DatabaseSettings::statement_timeout_ms`]: a hundred times the slowest statement a worker
/// runs in normal operation (a report over a year of a million tickets).
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 30_000;

/// See [`DatabaseSettings::idle_in_transaction_timeout_ms`].
pub const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS: u64 = 60_000;

fn default_statement_timeout_ms() -> u64 {
    DEFAULT_STATEMENT_TIMEOUT_MS
}

fn default_idle_in_transaction_timeout_ms() -> u64 {
    DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS
}

#[derive(Debug, Clone, Deserialize)]
pub struct NatsSettings {
    pub url: String,
    /// JetStream replicas for the streams this deployment creates (3 on a cluster).
    pub stream_replicas: usize,
    /// Deliveries a message gets before it is dead-lettered.
    pub max_deliver: i64,
    /// Seconds JetStream waits for an ack before redelivering to another replica.
    pub ack_wait_secs: u64,
    /// Upper bound of messages one worker takes and commits in one transaction.
    pub batch_size: usize,
    /// Milliseconds a consumer waits after a batch's first message for more, so a busy worker applies
    /// fewer, larger batches (each is a transaction with its fixed statements and commit). Under load
    /// the wait fills batches; at a trickle it adds at most this much to each message's latency. 0 takes
    /// only what is ready.
    pub linger_ms: u64,
    /// The NATS user this worker connects as (its service's row in [`crate::bus_access`]); none on a
    /// server without authorization (the tests' and the bare local run's).
    #[serde(default)]
    pub user: Option<String>,
    /// The user's password: from the environment only (`LOOPDESK__NATS__PASSWORD`).
    #[serde(default)]
    pub password: Option<SecretString>,
    /// A CA certificate (PEM) to verify the servers with; set, the connection must use TLS (for
    /// servers reached over a network, `tls://` URLs).
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
}

/// See [`NatsSettings::linger_ms`]. In the pipeline bench (README) 10 ms took the end-to-end rate from
/// about 2,400 to about 3,400 tickets/s with the latency at 1,000/s unchanged; 20 and 50 ms gained no
/// more and raised the latency.
pub const DEFAULT_LINGER_MS: u64 = 10;

/// The worker's two listeners and the bounds both serve with (see [`crate::http`]).
#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    /// Listen address of the service's public HTTP side (web form, survey page, api).
    pub addr: String,
    /// Listen address of `/health`, `/ready` and `/metrics`, kept off the public listener so they are
    /// reachable only where the deployment exposes this one (probes, Prometheus).
    pub ops_addr: String,
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or CIDR blocks); empty: none,
    /// the connection's peer is the client.
    /// In the environment, one comma-separated value (`LOOPDESK__HTTP__TRUSTED_PROXIES=10.0.0.0/8,192.0.2.7`).
    #[serde(default, deserialize_with = "list_or_commas")]
    pub trusted_proxies: Vec<String>,
    /// A request line and headers not complete within this time close the connection (slowloris); so
    /// does a keep-alive connection idle for this long.
    pub header_read_timeout_ms: u64,
    /// A request body that sends nothing for this long fails the request.
    pub body_read_timeout_ms: u64,
    /// A request not answered within this time gets 408 (bounds a body trickled slowly).
    pub request_timeout_ms: u64,
    /// Connections open at once per listener.
    pub max_connections: usize,
    /// Requests handled at once per listener; beyond it 503 with `Retry-After`.
    pub max_in_flight: usize,
}

impl HttpSettings {
    /// Both listeners on `addr`'s host with free ports, the default bounds: tests and benches.
    pub fn local(addr: &str) -> Self {
        let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or("127.0.0.1");
        Self {
            addr: addr.to_string(),
            ops_addr: format!("{host}:0"),
            trusted_proxies: Vec::new(),
            header_read_timeout_ms: DEFAULT_HEADER_READ_TIMEOUT_MS,
            body_read_timeout_ms: DEFAULT_BODY_READ_TIMEOUT_MS,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }

    /// The trusted proxies as address blocks.
    pub fn trusted_proxies(&self) -> Result<crate::http::TrustedProxies, ConfigError> {
        crate::http::TrustedProxies::parse(&self.trusted_proxies).map_err(ConfigError::from)
    }
}

/// A list written as a list (config files) or as one comma-separated string (environment variables).
fn list_or_commas<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        List(Vec<String>),
        Commas(String),
    }
    Ok(match Written::deserialize(d)? {
        Written::List(items) => items,
        Written::Commas(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_BODY_READ_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_MAX_CONNECTIONS: usize = 2048;
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

impl Settings {
    pub fn time_zone(&self) -> Result<Tz, ConfigError> {
        self.timezone
            .parse::<Tz>()
            .map_err(|_| ConfigError::TimeZone(self.timezone.clone()))
    }

    /// Checks what serde cannot: the prefix shape, the time zone and the database URL.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let prefix_ok = !self.prefix.is_empty()
            && self
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !prefix_ok {
            return Err(ConfigError::Prefix(self.prefix.clone()));
        }
        self.time_zone()?;
        self.database.connect_options()?;
        self.http.trusted_proxies()?;
        self.retention.validate()?;
        if let Some(user) = &self.nats.user {
            if crate::bus_access::user(user).is_none() {
                return Err(ConfigError::NatsUser(user.clone()));
            }
        }
        Ok(())
    }
}

impl DatabaseSettings {
    /// Settings for `url` with every other field at its default (tests and benches build them so).
    pub fn new(url: SecretString, max_connections: u32) -> Self {
        Self {
            url,
            max_connections,
            upkeep: default_upkeep(),
            statement_timeout_ms: DEFAULT_STATEMENT_TIMEOUT_MS,
            idle_in_transaction_timeout_ms: DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS,
        }
    }

    /// Options for the configured database, with the session settings every worker relies on.
    ///
    /// Plans: the default `plan_cache_mode` (`auto`). Sessions once forced a fresh plan for every
    /// statement, because cached generic plans were frozen at whatever the tables looked like on the
    /// sixth execution (often empty, just after start-up) and an ANALYZE, which replaces them, never
    /// came on a server with autovacuum off. The workers now analyze such tables themselves
    /// ([`crate::upkeep`]), and planning every small batch statement afresh had become the largest
    /// single cost in the database (measured: 11 % of the machine's CPU at 1,000 tickets/s).
    ///
    /// `jit=off`: these are short OLTP statements; a misestimated cost (unanalysed tables) can make
    /// Postgres spend tens of milliseconds compiling one, which shows up as latency spikes.
    ///
    /// `statement_timeout` and `idle_in_transaction_session_timeout` bound what one session can
    /// hold (see the fields); they travel in the start-up packet, so every session has them from its
    /// first statement.
    pub fn connect_options(&self) -> Result<PgConnectOptions, ConfigError> {
        Ok(self
            .url
            .expose_secret()
            .parse::<PgConnectOptions>()
            .map_err(ConfigError::DatabaseUrl)?
            .options([
                ("jit", "off".to_string()),
                ("statement_timeout", self.statement_timeout_ms.to_string()),
                (
                    "idle_in_transaction_session_timeout",
                    self.idle_in_transaction_timeout_ms.to_string(),
                ),
            ]))
    }

    /// Options for another database on the same server (tests create one per test).
    pub fn with_db(&self, name: &str) -> Result<PgConnectOptions, ConfigError> {
        Ok(self.connect_options()?.database(name))
    }
}

impl NatsSettings {
    pub fn ack_wait(&self) -> Duration {
        Duration::from_secs(self.ack_wait_secs)
    }

    pub fn linger(&self) -> Duration {
        Duration::from_millis(self.linger_ms)
    }
}

/// Loads the common settings and returns the raw configuration for the service's own section
/// (`raw.get::<RouterSettings>("router")`).
pub fn load() -> Result<(Settings, config::Config), ConfigError> {
    let dir = std::env::var("LOOPDESK_CONFIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("config"));
    let env = std::env::var("LOOPDESK_ENV").unwrap_or_else(|_| "local".into());
    let raw = with_defaults(config::Config::builder())?
        .add_source(config::File::from(dir.join("base.toml")).required(false))
        .add_source(config::File::from(dir.join(format!("{env}.toml"))).required(false))
        .add_source(
            config::Environment::with_prefix("LOOPDESK")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        )
        .build()?;
    let settings: Settings = raw.clone().try_deserialize()?;
    settings.validate()?;
    Ok((settings, raw))
}

/// Defaults that make a bare checkout run against the local services.
pub fn with_defaults(
    builder: config::ConfigBuilder<config::builder::DefaultState>,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, ConfigError> {
    Ok(builder
        .set_default("prefix", "loopdesk")?
        .set_default("timezone", "Asia/Shanghai")?
        .set_default(
            "database.url",
            "postgres://postgres@127.0.0.1:5432/loopdesk",
        )?
        .set_default("database.max_connections", 10)?
        .set_default(
            "database.statement_timeout_ms",
            DEFAULT_STATEMENT_TIMEOUT_MS,
        )?
        .set_default(
            "database.idle_in_transaction_timeout_ms",
            DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS,
        )?
        .set_default("nats.url", "nats://127.0.0.1:4222")?
        .set_default("nats.stream_replicas", 1)?
        .set_default("nats.max_deliver", 5)?
        .set_default("nats.ack_wait_secs", 30)?
        .set_default("nats.batch_size", 500)?
        .set_default("nats.linger_ms", DEFAULT_LINGER_MS)?
        .set_default("http.addr", "127.0.0.1:0")?
        .set_default("http.ops_addr", "127.0.0.1:0")?
        .set_default(
            "http.header_read_timeout_ms",
            DEFAULT_HEADER_READ_TIMEOUT_MS,
        )?
        .set_default("http.body_read_timeout_ms", DEFAULT_BODY_READ_TIMEOUT_MS)?
        .set_default("http.request_timeout_ms", DEFAULT_REQUEST_TIMEOUT_MS)?
        .set_default("http.max_connections", DEFAULT_MAX_CONNECTIONS as u64)?
        .set_default("http.max_in_flight", DEFAULT_MAX_IN_FLIGHT as u64)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let raw = with_defaults(config::Config::builder())
            .unwrap()
            .build()
            .unwrap();
        let s: Settings = raw.try_deserialize().unwrap();
        s.validate().unwrap();
        assert_eq!(s.prefix, "loopdesk");
        assert_eq!(s.time_zone().unwrap(), chrono_tz::Asia::Shanghai);
        assert_eq!(s.nats.linger(), Duration::from_millis(DEFAULT_LINGER_MS));
    }

    #[test]
    fn lingering_can_be_turned_off() {
        let raw = with_defaults(config::Config::builder())
            .unwrap()
            .set_override("nats.linger_ms", 0)
            .unwrap()
            .build()
            .unwrap();
        let s: Settings = raw.try_deserialize().unwrap();
        assert!(s.nats.linger().is_zero());
    }

    #[test]
    fn bad_prefix_is_refused() {
        let raw = with_defaults(config::Config::builder())
            .unwrap()
            .set_override("prefix", "a.b")
            .unwrap()
            .build()
            .unwrap();
        let s: Settings = raw.try_deserialize().unwrap();
        assert!(matches!(s.validate(), Err(ConfigError::Prefix(_))));
    }
}
