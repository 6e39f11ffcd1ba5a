//! Wiring: database, bus, the engine with its hot-reload watcher, the two consumers, the outbox relay
//! and the ops HTTP side (health, readiness, metrics).

use std::sync::Arc;
use std::time::Duration;

use shared::config::Settings;
use shared::runtime::{Assembled, Runtime, Worker};
use shared::subjects::Stream;

use crate::live::Live;
use crate::settings::RouterSettings;
use crate::worker::{CreatedHandler, ReclassifyHandler, CREATED_CONSUMER, RECLASSIFY_CONSUMER};

pub use shared::runtime::StartupError;

/// The router worker. Its handle is the live engine, so tests can watch reloads.
pub struct Router;

/// A running router replica (ops routes only: `addr` is the ops listener).
pub type Application = shared::runtime::Application<Router>;

impl Worker for Router {
    const NAME: &'static str = "router";
    const LOG_TARGET: &'static str = "loopdesk_router";
    const PUBLIC: bool = false;
    type Config = RouterSettings;
    type Handle = Arc<Live>;

    fn configure(_: &Settings, raw: &config::Config) -> Result<RouterSettings, StartupError> {
        RouterSettings::from_config(raw).map_err(|e| StartupError::service("[router] section", e))
    }

    /// Loads the config (refusing to start on a broken one), then starts its watcher and the consumers.
    async fn assemble(
        rt: &mut Runtime,
        _: &Settings,
        router: RouterSettings,
    ) -> Result<Assembled<Arc<Live>>, StartupError> {
        let dir = router.config_dir.clone();
        let live = tokio::task::spawn_blocking(move || Live::load(&dir))
            .await
            .map_err(|e| crate::ConfigError::Model(format!("loading task failed: {e}")))
            .and_then(|loaded| loaded)
            .map_err(|e| StartupError::service("router config", e))?;

        // The business's lists and routes come from its setup in the database (seeded from the files on
        // first start), and follow every change announced on the bus.
        {
            let live = live.clone();
            rt.follow_setup(
                "the setup's lists and routes",
                Duration::from_millis(router.reload_ms.max(50)).max(Duration::from_secs(2)),
                move |setup| {
                    live.apply_setup(setup);
                    Ok(())
                },
            )
            .await?;
        }
        let watch = live.clone().watch(
            Duration::from_millis(router.reload_ms.max(50)),
            rt.shutdown(),
        );
        rt.spawn("config watcher", watch);
        let created = rt.consumer(
            Stream::Ticket,
            CREATED_CONSUMER,
            rt.subjects.ticket_created(),
        );
        let handler = Arc::new(CreatedHandler {
            pool: rt.pool.clone(),
            live: live.clone(),
            subjects: rt.subjects.clone(),
        });
        rt.spawn_consumer(created, handler);
        let reclassify = rt.consumer(
            Stream::Ticket,
            RECLASSIFY_CONSUMER,
            rt.subjects.subject("ticket.reclassify"),
        );
        let handler = Arc::new(ReclassifyHandler {
            pool: rt.pool.clone(),
            live: live.clone(),
            subjects: rt.subjects.clone(),
        });
        rt.spawn_consumer(reclassify, handler);
        // The adopted category model, before anything is classified, then kept current.
        if let Err(e) = crate::training::sync_adopted(&rt.pool, &live).await {
            tracing::warn!(error = %e, "could not read the adopted model; starting on the shipped one");
        }
        let announcements = rt
            .nats
            .subscribe(rt.subjects.subject(crate::training::ADOPTED_SUBJECT))
            .await
            .map_err(|e| StartupError::service("adopted-model subscription", e))?;
        let watch = crate::training::watch_adopted(
            rt.pool.clone(),
            live.clone(),
            announcements,
            Duration::from_secs(router.adopted_poll_secs.max(1)),
            rt.shutdown(),
        );
        rt.spawn("adopted-model watcher", watch);
        let training = rt.consumer(
            Stream::Ticket,
            crate::training::TRAIN_CONSUMER,
            rt.subjects.subject(crate::training::TRAIN_SUBJECT),
        );
        let handler = Arc::new(crate::training::TrainHandler {
            pool: rt.pool.clone(),
            live: live.clone(),
        });
        rt.spawn_consumer(training, handler);
        rt.spawn_outbox_relay();
        Ok(Assembled {
            routes: None,
            handle: live,
        })
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
