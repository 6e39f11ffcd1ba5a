//! Connecting to NATS and declaring Loopdesk's JetStream streams.
//!
//! Streams are created or updated idempotently at every start, so any replica of any worker can come up
//! first, and a changed replica count is applied without manual steps.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use secrecy::ExposeSecret;

use crate::config::NatsSettings;
use crate::subjects::{Stream, Subjects};

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error("cannot declare stream {name}: {message}")]
    Stream { name: String, message: String },
}

/// How long JetStream keeps events; consumers that fall further behind than this lose nothing in Postgres,
/// which stays the system of record.
const RETENTION: Duration = Duration::from_secs(14 * 24 * 3600);

/// How long `stream` keeps its messages; zero keeps them until someone removes them. Dead letters are
/// the one copy of a message no consumer could apply: they stay until a person replays or deletes
/// them (`loopdesk-ops replay` / `delete-dead-letter`), however long the fix takes.
pub fn max_age(stream: Stream) -> Duration {
    match stream {
        Stream::DeadLetter => Duration::ZERO,
        _ => RETENTION,
    }
}
/// The window in which a re-published outbox row (same `Nats-Msg-Id`) is dropped as a duplicate.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Connects to the server(s) in `nats.url`; a comma-separated list names the members of a cluster, and the
/// client fails over between them.
pub async fn connect(
    settings: &NatsSettings,
) -> Result<(async_nats::Client, jetstream::Context), BusError> {
    let invalid = |e: std::io::Error| BusError::Connect {
        url: settings.url.clone(),
        source: async_nats::ConnectError::with_source(async_nats::ConnectErrorKind::ServerParse, e),
    };
    let servers = settings
        .url
        .split(',')
        .map(|u| u.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    let mut options = async_nats::ConnectOptions::new()
        .name(settings.user.as_deref().unwrap_or("loopdesk"))
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5));
    // As its service's user (see `crate::bus_access`): the server then lets it publish and subscribe
    // only to its own subjects, and its replies come to an inbox no other user may read.
    if let Some(user) = &settings.user {
        let password = settings
            .password
            .as_ref()
            .map(|p| p.expose_secret().to_string())
            .unwrap_or_default();
        options = options
            .user_and_password(user.clone(), password)
            .custom_inbox_prefix(crate::bus_access::inbox_prefix(user));
    }
    if let Some(ca) = &settings.tls_ca_file {
        options = options.require_tls(true).add_root_certificates(ca.clone());
    }
    let client = options
        .connect(servers.as_slice())
        .await
        .map_err(|source| BusError::Connect {
            url: settings.url.clone(),
            source,
        })?;
    let js = jetstream::new(client.clone());
    Ok((client, js))
}

pub async fn ensure_streams(
    js: &jetstream::Context,
    subjects: &Subjects,
    replicas: usize,
) -> Result<(), BusError> {
    for stream in Stream::ALL {
        let name = subjects.stream_name(stream);
        let config = stream::Config {
            name: name.clone(),
            subjects: subjects.stream_subjects(stream),
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            max_age: max_age(stream),
            duplicate_window: DUPLICATE_WINDOW,
            num_replicas: replicas.max(1),
            ..Default::default()
        };
        let result = match js.get_stream(&name).await {
            Ok(_) => js.update_stream(config).await.map(|_| ()),
            Err(_) => js.create_stream(config).await.map(|_| ()).or_else(|e| {
                // Another replica created it between our look-up and our create.
                if e.to_string().contains("already in use") {
                    Ok(())
                } else {
                    Err(e)
                }
            }),
        };
        result.map_err(|e| BusError::Stream {
            name,
            message: e.to_string(),
        })?;
    }
    Ok(())
}
