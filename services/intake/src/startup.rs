//! Builds the intake application from settings: migrations, streams, the consumer loop, the outbox relay
//! and the HTTP side (form + ops endpoints). Tests build it exactly as `main` does.

use std::net::SocketAddr;
use std::sync::Arc;

use shared::config::Settings;
use shared::consumer::{self, ConsumerSpec};
use shared::outbox::OutboxRelay;
use shared::subjects::{Stream, Subjects};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::handler::IntakeHandler;
use crate::http::{self, FormState};
use crate::settings::IntakeSettings;
use crate::store::TicketStore;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] shared::config::ConfigError),
    #[error(transparent)]
    Db(#[from] shared::db::DbError),
    #[error(transparent)]
    Bus(#[from] shared::bus::BusError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// A running intake replica.
pub struct Application {
    /// Where the HTTP side listens (port 0 in tests picks a free port).
    pub addr: SocketAddr,
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
}

impl Application {
    pub async fn build(
        settings: Settings,
        intake: IntakeSettings,
        shutdown: CancellationToken,
    ) -> Result<Self, StartupError> {
        settings.validate()?;
        let tz = settings.time_zone()?;
        let pool = shared::db::connect(&settings.database).await?;
        shared::db::migrate(&pool).await?;
        let (client, js) = shared::bus::connect(&settings.nats).await?;
        let subjects = Subjects::new(settings.prefix.clone());
        shared::bus::ensure_streams(&js, &subjects, settings.nats.stream_replicas).await?;

        let store = TicketStore::new(pool.clone(), subjects.clone(), tz, intake.clone());
        let listener = TcpListener::bind(&settings.http.addr)
            .await
            .map_err(|source| StartupError::Listen {
                addr: settings.http.addr.clone(),
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartupError::Listen {
                addr: settings.http.addr.clone(),
                source,
            })?;

        let mut tasks = JoinSet::new();
        let spec = ConsumerSpec::new(
            &subjects,
            &settings.nats,
            Stream::Feedback,
            "intake",
            subjects.feedback_in_all(),
        );
        let handler = Arc::new(IntakeHandler {
            store: store.clone(),
            subjects: subjects.clone(),
            settings: intake.clone(),
        });
        {
            let (js, subjects, shutdown) = (js.clone(), subjects.clone(), shutdown.clone());
            tasks.spawn(async move {
                if let Err(e) = consumer::run(js, subjects, spec, handler, shutdown).await {
                    tracing::error!(error = %e, "intake consumer stopped");
                }
                tracing::info!("intake consumer finished");
            });
        }
        {
            let relay = OutboxRelay::new(pool.clone(), js.clone());
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                relay.run(shutdown).await;
                tracing::info!("outbox relay finished");
            });
        }

        let app = http::router(FormState {
            store,
            settings: intake,
        })
        .merge(shared::ops_http::router(shared::ops_http::OpsState {
            service: "intake",
            pool,
            nats: client,
        }));
        {
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                let served = axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "intake HTTP server failed");
                }
                tracing::info!("intake HTTP server finished");
            });
        }
        tracing::info!(%addr, prefix = subjects.prefix(), "intake running");
        Ok(Self {
            addr,
            tasks,
            shutdown,
        })
    }

    /// Waits until every task has finished after shutdown (in-flight batches committed and acked).
    pub async fn run_until_stopped(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    /// Stops pulling, finishes in-flight work and waits for it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.run_until_stopped().await;
    }

    /// Ends every task at once without draining: what a SIGKILL does to a replica (for fault tests).
    pub fn kill(mut self) {
        self.tasks.abort_all();
    }
}
