//! Wiring: database, bus, the engine with its hot-reload watcher, the two consumers and the outbox relay.

use std::sync::Arc;
use std::time::Duration;

use shared::config::Settings;
use shared::consumer::{self, ConsumerSpec};
use shared::outbox::OutboxRelay;
use shared::subjects::{Stream, Subjects};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::live::Live;
use crate::settings::RouterSettings;
use crate::worker::{CreatedHandler, ReclassifyHandler, CREATED_CONSUMER, RECLASSIFY_CONSUMER};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] shared::config::ConfigError),
    #[error(transparent)]
    Db(#[from] shared::db::DbError),
    #[error(transparent)]
    Bus(#[from] shared::bus::BusError),
    #[error("router config: {0}")]
    Router(#[from] crate::ConfigError),
}

/// A running router replica.
pub struct Application {
    /// The live engine, exposed so tests can watch reloads.
    pub live: Arc<Live>,
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
}

impl Application {
    /// Connect, migrate, load the config (refusing to start on a broken one) and start the consumers.
    pub async fn build(
        settings: Settings,
        router: RouterSettings,
        shutdown: CancellationToken,
    ) -> Result<Self, StartupError> {
        settings.validate()?;
        let pool = shared::db::connect(&settings.database).await?;
        shared::db::migrate(&pool).await?;
        let (_client, js) = shared::bus::connect(&settings.nats).await?;
        let subjects = Subjects::new(settings.prefix.clone());
        shared::bus::ensure_streams(&js, &subjects, settings.nats.stream_replicas).await?;
        let dir = router.config_dir.clone();
        let live = tokio::task::spawn_blocking(move || Live::load(&dir))
            .await
            .map_err(|e| crate::ConfigError::Model(format!("loading task failed: {e}")))??;

        let mut tasks = JoinSet::new();
        tasks.spawn(live.clone().watch(
            Duration::from_millis(router.reload_ms.max(50)),
            shutdown.clone(),
        ));
        let created = ConsumerSpec::new(
            &subjects,
            &settings.nats,
            Stream::Ticket,
            CREATED_CONSUMER,
            subjects.ticket_created(),
        );
        let handler = Arc::new(CreatedHandler {
            pool: pool.clone(),
            live: live.clone(),
            subjects: subjects.clone(),
        });
        {
            let (js, subjects, shutdown) = (js.clone(), subjects.clone(), shutdown.clone());
            tasks.spawn(async move {
                if let Err(e) = consumer::run(js, subjects, created, handler, shutdown).await {
                    tracing::error!(error = %e, "router ticket.created consumer stopped");
                }
            });
        }
        let reclassify = ConsumerSpec::new(
            &subjects,
            &settings.nats,
            Stream::Ticket,
            RECLASSIFY_CONSUMER,
            subjects.subject("ticket.reclassify"),
        );
        let handler = Arc::new(ReclassifyHandler {
            pool: pool.clone(),
            live: live.clone(),
            subjects: subjects.clone(),
        });
        {
            let (js, subjects, shutdown) = (js.clone(), subjects.clone(), shutdown.clone());
            tasks.spawn(async move {
                if let Err(e) = consumer::run(js, subjects, reclassify, handler, shutdown).await {
                    tracing::error!(error = %e, "router ticket.reclassify consumer stopped");
                }
            });
        }
        tasks.spawn(OutboxRelay::new(pool, js).run(shutdown.clone()));
        tracing::info!(prefix = subjects.prefix(), "router running");
        Ok(Self {
            live,
            tasks,
            shutdown,
        })
    }

    pub async fn run_until_stopped(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    /// Graceful stop: finish and ack in-flight batches.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.run_until_stopped().await;
    }
}

/// `router retrain`: learn the three models from the base examples plus every stored correction
/// (a corrected ticket's latest labels), and write them where labels.toml says. A running router
/// picks the new models up through its reload watcher.
pub async fn retrain(
    settings: &Settings,
    router: &RouterSettings,
    out: &mut (dyn std::io::Write + Send),
) -> Result<(), crate::cli::CliError> {
    let pool = shared::db::connect(&settings.database)
        .await
        .map_err(|e| crate::cli::CliError::Usage(e.to_string()))?;
    shared::db::migrate(&pool)
        .await
        .map_err(|e| crate::cli::CliError::Usage(e.to_string()))?;
    let rows = crate::store::corrections(&pool)
        .await
        .map_err(|e| crate::cli::CliError::Usage(format!("database: {e}")))?;
    let dir = router.config_dir.clone();
    let examples = router.examples.clone();
    let report = tokio::task::spawn_blocking(move || {
        crate::cli::train_all_with(&dir, &examples, &rows, &Default::default())
    })
    .await
    .map_err(|e| crate::cli::CliError::Usage(e.to_string()))??;
    let _ = out.write_all(report.as_bytes());
    Ok(())
}
