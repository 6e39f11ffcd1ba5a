//! Builds one SLA replica from settings: migrations, streams, the ticket-event and survey-event
//! consumers, the firing loop, the outbox relay and the ops HTTP side. Tests build it exactly as
//! `main` does, several times over to get several replicas.

use std::net::SocketAddr;
use std::sync::Arc;

use shared::config::Settings;
use shared::consumer::{self, ConsumerSpec};
use shared::outbox::OutboxRelay;
use shared::subjects::{Stream, Subjects};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::events::TicketEventHandler;
use crate::firing::{FireObserver, Firer};
use crate::policy::SlaRules;
use crate::SlaSettings;

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

/// What a replica runs; tests and the bench switch parts off to isolate what they measure.
#[derive(Clone, Default)]
pub struct Parts {
    /// Do not consume ticket/survey events.
    pub no_consumers: bool,
    /// Do not run the outbox relay (another process publishes).
    pub no_relay: bool,
    /// Observes every committed firing pass (the bench's lateness histogram).
    pub observer: Option<FireObserver>,
}

/// A running SLA replica.
pub struct Application {
    /// Where the ops HTTP side listens (port 0 in tests picks a free port).
    pub addr: SocketAddr,
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
}

impl Application {
    pub async fn build(
        settings: Settings,
        sla: SlaSettings,
        rules: Arc<SlaRules>,
        shutdown: CancellationToken,
    ) -> Result<Self, StartupError> {
        Self::build_with(settings, sla, rules, shutdown, Parts::default()).await
    }

    pub async fn build_with(
        settings: Settings,
        sla: SlaSettings,
        rules: Arc<SlaRules>,
        shutdown: CancellationToken,
        parts: Parts,
    ) -> Result<Self, StartupError> {
        settings.validate()?;
        let pool = shared::db::connect(&settings.database).await?;
        shared::db::migrate(&pool).await?;
        let (client, js) = shared::bus::connect(&settings.nats).await?;
        let subjects = Subjects::new(settings.prefix.clone());
        shared::bus::ensure_streams(&js, &subjects, settings.nats.stream_replicas).await?;
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
        if !parts.no_consumers {
            let handler = Arc::new(TicketEventHandler {
                pool: pool.clone(),
                rules: rules.clone(),
                subjects: subjects.clone(),
            });
            // One durable consumer per stream (NATS 2.9 filters on one subject per consumer).
            let specs = [
                ConsumerSpec::new(
                    &subjects,
                    &settings.nats,
                    Stream::Ticket,
                    "sla",
                    subjects.subject("ticket.>"),
                ),
                ConsumerSpec::new(
                    &subjects,
                    &settings.nats,
                    Stream::Survey,
                    "sla_survey",
                    subjects.subject("survey.>"),
                ),
            ];
            for spec in specs {
                let (js, subjects, shutdown, handler) = (
                    js.clone(),
                    subjects.clone(),
                    shutdown.clone(),
                    handler.clone(),
                );
                tasks.spawn(async move {
                    let durable = spec.durable.clone();
                    if let Err(e) = consumer::run(js, subjects, spec, handler, shutdown).await {
                        tracing::error!(error = %e, consumer = %durable, "sla consumer stopped");
                    }
                });
            }
        }
        let firer = Firer {
            pool: pool.clone(),
            rules,
            subjects: subjects.clone(),
            settings: sla.firing(),
            observer: parts.observer.clone(),
        };
        tasks.spawn(firer.run(shutdown.clone()));
        if !parts.no_relay {
            tasks.spawn(OutboxRelay::new(pool.clone(), js.clone()).run(shutdown.clone()));
        }
        let app = shared::ops_http::router(shared::ops_http::OpsState {
            service: "sla",
            pool,
            nats: client,
        });
        {
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(async move { shutdown.cancelled().await })
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "sla HTTP server failed");
                }
            });
        }
        tracing::info!(%addr, prefix = subjects.prefix(), "sla running");
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

    /// Stops pulling and firing, finishes in-flight work and waits for it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.run_until_stopped().await;
    }

    /// Ends every task at once without draining: what a SIGKILL does to a replica.
    pub fn kill(mut self) {
        self.tasks.abort_all();
    }
}
