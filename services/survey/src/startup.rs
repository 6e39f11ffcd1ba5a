//! Builds a survey replica from settings: migrations, streams, the two consumers (lifecycle events and
//! channel answers), the timer loop, the outbox relay and the HTTP side (response page + ops endpoints).
//! Tests build it exactly as `main` does, with a manual clock.

use std::net::SocketAddr;
use std::sync::Arc;

use shared::config::Settings;
use shared::consumer::{self, BatchHandler, ConsumerSpec};
use shared::outbox::OutboxRelay;
use shared::subjects::{Stream, Subjects};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::resolved::LifecycleHandler;
use crate::respond::ResponseHandler;
use crate::settings::SurveySettings;
use crate::{timers, web, Clock, Ctx, TokenSigner};

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

/// A running survey replica.
pub struct Application {
    /// Where the HTTP side listens (port 0 in tests picks a free port).
    pub addr: SocketAddr,
    /// The context the replica runs with (tests fire timers and read state through it).
    pub ctx: Ctx,
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
}

/// The worker part of the durable names: `{prefix}_survey_lifecycle_resolved` / `_reopened`,
/// `{prefix}_survey_responses`.
pub const LIFECYCLE_WORKER: &str = crate::resolved::CONSUMER;
pub const RESPONSES_WORKER: &str = crate::respond::CONSUMER;

impl Application {
    /// `signer` signs response tokens (from the configured secret); `clock` is the system clock in
    /// production. `timers` false leaves firing to the caller (tests drive time with `fire_due`).
    pub async fn build(
        settings: Settings,
        survey: SurveySettings,
        signer: TokenSigner,
        clock: Clock,
        run_timers: bool,
        shutdown: CancellationToken,
    ) -> Result<Self, StartupError> {
        settings.validate()?;
        let pool = shared::db::connect(&settings.database).await?;
        shared::db::migrate(&pool).await?;
        let (client, js) = shared::bus::connect(&settings.nats).await?;
        let subjects = Subjects::new(settings.prefix.clone());
        shared::bus::ensure_streams(&js, &subjects, settings.nats.stream_replicas).await?;
        let ctx = Ctx::new(
            pool.clone(),
            subjects.clone(),
            Arc::new(survey),
            signer,
            clock,
        );
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
        // JetStream 2.9 consumers take one filter subject: one durable consumer per lifecycle kind, so
        // the busy ticket.created / ticket.routed traffic never reaches this worker.
        for kind in ["resolved", "reopened"] {
            let spec = ConsumerSpec::new(
                &subjects,
                &settings.nats,
                Stream::Ticket,
                &format!("{LIFECYCLE_WORKER}_{kind}"),
                subjects.subject(&format!("ticket.{kind}")),
            );
            spawn_consumer(
                &mut tasks,
                &js,
                &subjects,
                spec,
                LifecycleHandler { ctx: ctx.clone() },
                &shutdown,
            );
        }
        let responses = ConsumerSpec::new(
            &subjects,
            &settings.nats,
            Stream::Survey,
            RESPONSES_WORKER,
            subjects.subject("survey.response.>"),
        );
        spawn_consumer(
            &mut tasks,
            &js,
            &subjects,
            responses,
            ResponseHandler { ctx: ctx.clone() },
            &shutdown,
        );
        if run_timers {
            tasks.spawn(timers::run(ctx.clone(), shutdown.clone()));
        }
        tasks.spawn(OutboxRelay::new(pool.clone(), js.clone()).run(shutdown.clone()));

        let app = web::router(ctx.clone(), client);
        {
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(async move { shutdown.cancelled().await })
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "survey HTTP server failed");
                }
            });
        }
        tracing::info!(%addr, prefix = subjects.prefix(), "survey worker running");
        Ok(Self {
            addr,
            ctx,
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
}

fn spawn_consumer<H: BatchHandler>(
    tasks: &mut JoinSet<()>,
    js: &async_nats::jetstream::Context,
    subjects: &Subjects,
    spec: ConsumerSpec,
    handler: H,
    shutdown: &CancellationToken,
) {
    let (js, subjects, shutdown) = (js.clone(), subjects.clone(), shutdown.clone());
    tasks.spawn(async move {
        let durable = spec.durable.clone();
        if let Err(e) = consumer::run(js, subjects, spec, Arc::new(handler), shutdown).await {
            tracing::error!(error = %e, consumer = %durable, "survey consumer stopped");
        }
    });
}
