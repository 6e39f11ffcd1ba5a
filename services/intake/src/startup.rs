//! Builds the intake application from settings: the feedback consumer, the outbox relay and the HTTP
//! side (form + ops endpoints) on the shared [`Runtime`]. Tests build it exactly as `main` does.

use std::net::SocketAddr;
use std::sync::Arc;

use shared::config::Settings;
use shared::runtime::{Runtime, TaskFailed, Tasks};
use shared::subjects::Stream;
use tokio_util::sync::CancellationToken;

use crate::group_commit::GroupCommit;
use crate::handler::IntakeHandler;
use crate::http::{self, FormState};
use crate::settings::IntakeSettings;
use crate::store::TicketStore;

pub use shared::runtime::StartupError;

/// A running intake replica.
pub struct Application {
    /// Where the public HTTP side listens (port 0 in tests picks a free port).
    pub addr: SocketAddr,
    /// Where health, readiness and metrics are served (`http.ops_addr`).
    pub ops_addr: SocketAddr,
    tasks: Tasks,
}

impl Application {
    pub async fn build(
        settings: Settings,
        intake: IntakeSettings,
        shutdown: CancellationToken,
    ) -> Result<Self, StartupError> {
        let mut rt = Runtime::connect("intake", &settings, shutdown).await?;
        let tz = settings.time_zone()?;
        let store = TicketStore::new(rt.pool.clone(), rt.subjects.clone(), tz, intake.clone());
        let listener = rt.bind().await?;
        let addr = listener.addr();
        let ops_addr = listener.ops_addr();

        let spec = rt.consumer(Stream::Feedback, "intake", rt.subjects.feedback_in_all());
        let handler = Arc::new(IntakeHandler {
            store: store.clone(),
            subjects: rt.subjects.clone(),
            settings: intake.clone(),
        });
        rt.spawn_consumer(spec, handler);
        rt.spawn_outbox_relay();
        let (commits, collector) =
            GroupCommit::start(store, intake.group_commit(), rt.outbox_wake());
        rt.spawn("form group commit", collector);
        let app = http::router(FormState {
            commits,
            settings: intake,
            trusted_proxies: rt.http_settings().trusted_proxies()?,
        });
        rt.serve(listener, app);
        Ok(Self {
            addr,
            ops_addr,
            tasks: rt.start(),
        })
    }

    /// Waits until every task has finished after shutdown (in-flight batches committed and acked).
    /// A task that ended before shutdown stops the replica and is returned: exit non-zero on it.
    pub async fn run_until_stopped(self) -> Result<(), TaskFailed> {
        self.tasks.run_until_stopped().await
    }

    /// Stops pulling, finishes in-flight work and waits for it.
    pub async fn stop(self) {
        // A task that failed while draining has been logged where it failed.
        let _ = self.tasks.stop().await;
    }

    /// Ends every task at once without draining: what a SIGKILL does to a replica (for fault tests).
    pub fn kill(self) {
        self.tasks.kill();
    }
}
