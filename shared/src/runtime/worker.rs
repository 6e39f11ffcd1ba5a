//! The one start-up shape of every worker: a [`Worker`] says what it adds to the shared [`Runtime`],
//! [`Application`] builds a replica of it (tests and benches build it exactly as `main` does) and
//! [`main`] is the whole of a worker binary's start: telemetry, configuration, signals, run.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use tokio_util::sync::CancellationToken;

use super::{Readiness, Runtime, StartupError, TaskFailed, Tasks};
use crate::config::Settings;

/// What a worker's [`Worker::assemble`] hands back: its public routes, and what tests may reach.
pub struct Assembled<H> {
    /// Served on `http.addr` (only for a worker with [`Worker::PUBLIC`] routes).
    pub routes: Option<Router>,
    pub handle: H,
}

/// One Loopdesk worker (intake, router, sla, survey, api).
pub trait Worker: Sized + 'static {
    /// Names the worker in logs, in `/ready` and as the database session's application name.
    const NAME: &'static str;
    /// The tracing target its logs are enabled for (the library crate's name).
    const LOG_TARGET: &'static str;
    /// Whether it binds `http.addr` for public routes; without, only the ops listener.
    const PUBLIC: bool;
    /// Everything the worker needs besides the common settings: its configuration section, validated,
    /// and whatever is loaded from it (rules files, signing secrets).
    type Config: Send;
    /// What a running replica exposes to tests (the router's live engine, the survey context, the api
    /// state); `()` when nothing.
    type Handle: Send;

    /// Reads [`Worker::Config`] from the loaded configuration (`raw`) and the environment, before
    /// anything connects: a broken configuration stops the start.
    fn configure(settings: &Settings, raw: &config::Config) -> Result<Self::Config, StartupError>;

    /// Adds the worker's consumers, loops and relay to `rt` (connected, migrated, listeners bound).
    fn assemble(
        rt: &mut Runtime,
        settings: &Settings,
        config: Self::Config,
    ) -> impl Future<Output = Result<Assembled<Self::Handle>, StartupError>> + Send;
}

/// A running replica of worker `W`.
pub struct Application<W: Worker> {
    /// Where the public routes listen; for a worker without any, the ops listener (all it serves).
    /// Port 0 in tests picks a free port.
    pub addr: SocketAddr,
    /// Where health, readiness and metrics are served (`http.ops_addr`).
    pub ops_addr: SocketAddr,
    /// See [`Worker::Handle`].
    pub handle: W::Handle,
    tasks: Tasks,
}

impl<W: Worker> Application<W> {
    /// Validates the settings, connects, migrates, binds the listeners (failing before any task
    /// starts), assembles the worker and starts it.
    pub async fn build(
        settings: Settings,
        config: W::Config,
        shutdown: CancellationToken,
    ) -> Result<Self, StartupError> {
        let mut rt = Runtime::connect(W::NAME, &settings, shutdown).await?;
        let (public, ops) = if W::PUBLIC {
            let listener = rt.bind().await?;
            (Some(listener), None)
        } else {
            (None, Some(rt.bind_ops().await?))
        };
        let Assembled { routes, handle } = W::assemble(&mut rt, &settings, config).await?;
        let (addr, ops_addr) = match (public, ops) {
            (Some(listener), _) => {
                let addrs = (listener.addr(), listener.ops_addr());
                rt.serve(listener, routes.unwrap_or_default());
                addrs
            }
            (None, Some(ops)) => {
                let addr = ops.addr();
                rt.serve_ops(ops);
                (addr, addr)
            }
            (None, None) => unreachable!("one of the listeners is bound"),
        };
        Ok(Self {
            addr,
            ops_addr,
            handle,
            tasks: rt.start(),
        })
    }

    /// What `/ready` reports for this replica.
    pub fn readiness(&self) -> Readiness {
        self.tasks.readiness()
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

    /// Ends every task at once without draining: what a SIGKILL does to a replica (fault tests).
    pub fn kill(self) {
        self.tasks.kill();
    }
}

/// A worker binary's `main`: telemetry, configuration, [`Worker::configure`], signals, run until
/// SIGTERM. Exits non-zero when a task of the replica failed.
pub async fn main<W: Worker>() -> anyhow::Result<()> {
    run_with::<W>(|_| Ok(())).await
}

/// As [`main`], with `adjust` changing the worker's configuration after it is read (command-line
/// options that override the file).
pub async fn run_with<W: Worker>(
    adjust: impl FnOnce(&mut W::Config) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    crate::telemetry::init(W::LOG_TARGET);
    let (settings, raw) = crate::config::load().context("loading configuration")?;
    let mut config = W::configure(&settings, &raw)
        .with_context(|| format!("reading the [{}] configuration", W::NAME))?;
    adjust(&mut config)?;
    let shutdown = crate::shutdown::on_signal();
    let app = Application::<W>::build(settings, config, shutdown)
        .await
        .with_context(|| format!("starting the {} worker", W::NAME))?;
    app.run_until_stopped().await?;
    Ok(())
}
