//! Start-up and shutdown every Loopdesk worker shares, written once (the `startup` module of
//! zero-to-production, with mini-redis's explicit shutdown token).
//!
//! [`Runtime::connect`] validates the settings, connects to Postgres and NATS, migrates and ensures the
//! streams. The worker then adds what is specific to it — consumer loops, the outbox relay, timers, its
//! HTTP routes — each as a named task watching the one shutdown token, and [`Runtime::start`] hands back
//! the [`Tasks`] to wait on, stop or kill. Cancelling the token makes every task stop pulling, finish
//! (commit and ack) the batch in hand and return; the relay drains committed outbox rows first, and the
//! HTTP side finishes open requests (docs/domain.md, invariant 6).
//!
//! Every task is meant to run until shutdown. One that ends before it, or panics, is a replica that
//! silently stopped doing part of its job: [`Tasks::run_until_stopped`] then marks the replica unready,
//! stops the rest (draining as on SIGTERM) and returns the failure, so `main` exits non-zero and the
//! orchestrator starts a fresh replica.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use async_nats::jetstream;
use axum::Router;
use futures::FutureExt;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{HttpSettings, NatsSettings, Settings};

mod worker;
use crate::consumer::{self, BatchHandler, ConsumerSpec, Waking};
use crate::http::HttpLimits;
use crate::ops_http::{self, OpsState};
use crate::outbox::OutboxRelay;
use crate::readiness::{DatabaseWatch, Readiness};
use crate::subjects::{Stream, Subjects};
pub use worker::{main, run_with, Application, Assembled, Worker};

/// Why a worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error(transparent)]
    Bus(#[from] crate::bus::BusError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// A start-up step of one worker (its own configuration, a query it needs before serving).
    #[error("{what}: {source}")]
    Service {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StartupError {
    /// A worker-specific start-up failure, described by `what` ("router config", "database").
    pub fn service(
        what: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Service {
            what,
            source: source.into(),
        }
    }
}

/// A worker being assembled: its connections, and the tasks started so far.
pub struct Runtime {
    /// Names the worker in logs and in `/ready`.
    service: &'static str,
    pub pool: PgPool,
    /// The core connection, for readiness (`/ready` reports whether it is connected).
    pub nats: async_nats::Client,
    pub js: jetstream::Context,
    pub subjects: Subjects,
    /// Consumer defaults (batch size, ack wait, redeliveries) for [`Runtime::consumer`].
    nats_settings: NatsSettings,
    /// Where [`Runtime::bind`] listens and how both listeners are bounded (port 0 picks a free port).
    http: HttpSettings,
    /// Cancelled on SIGTERM (or by `stop`); every task watches it.
    shutdown: CancellationToken,
    tasks: JoinSet<TaskEnd>,
    /// Wakes this replica's outbox relay when a batch has committed events.
    outbox_wake: Arc<Notify>,
    /// Whether to run the table upkeep (`database.upkeep`).
    upkeep: bool,
    /// The retention job's settings (`[retention]`, see [`crate::retention`]).
    retention: crate::retention::RetentionSettings,
    /// What `/ready` reports besides NATS: the database as last probed, and any task that failed.
    readiness: Readiness,
}

/// The bound HTTP listeners, not yet serving: binding early lets a worker fail before starting any
/// task.
pub struct Listener {
    /// The public side (`http.addr`): the worker's own routes only.
    listener: TcpListener,
    addr: SocketAddr,
    ops: OpsListener,
}

impl Listener {
    /// The public address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The ops address actually bound.
    pub fn ops_addr(&self) -> SocketAddr {
        self.ops.addr
    }
}

/// The bound ops listener (`http.ops_addr`): `/health`, `/ready`, `/metrics`, never a public route.
pub struct OpsListener {
    listener: TcpListener,
    addr: SocketAddr,
}

impl OpsListener {
    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

async fn bind_one(addr: &str) -> Result<(TcpListener, SocketAddr), StartupError> {
    let listen = |source| StartupError::Listen {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(listen)?;
    let bound = listener.local_addr().map_err(listen)?;
    Ok((listener, bound))
}

impl Runtime {
    /// Validates the settings, connects, migrates and ensures the streams.
    pub async fn connect(
        service: &'static str,
        settings: &Settings,
        shutdown: CancellationToken,
    ) -> Result<Self, StartupError> {
        settings.validate()?;
        let pool = crate::db::connect_as(&settings.database, service).await?;
        crate::db::migrate(&pool).await?;
        let (nats, js) = crate::bus::connect(&settings.nats).await?;
        let subjects = Subjects::new(settings.prefix.clone());
        crate::bus::ensure_streams(&js, &subjects, settings.nats.stream_replicas).await?;
        Ok(Self {
            service,
            nats,
            js,
            subjects,
            nats_settings: settings.nats.clone(),
            http: settings.http.clone(),
            shutdown,
            tasks: JoinSet::new(),
            outbox_wake: Arc::default(),
            upkeep: settings.database.upkeep,
            retention: settings.retention.clone(),
            readiness: Readiness::new(DatabaseWatch::new(pool.clone())),
            pool,
        })
    }

    /// The token every task of this worker watches.
    pub fn shutdown(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// A durable consumer of this worker with the configured delivery settings.
    pub fn consumer(&self, stream: Stream, worker: &str, filter_subject: String) -> ConsumerSpec {
        ConsumerSpec::new(
            &self.subjects,
            &self.nats_settings,
            stream,
            worker,
            filter_subject,
        )
    }

    /// Binds `http.addr` and `http.ops_addr`, for a worker with public routes.
    pub async fn bind(&self) -> Result<Listener, StartupError> {
        let (listener, addr) = bind_one(&self.http.addr).await?;
        let ops = self.bind_ops().await?;
        Ok(Listener {
            listener,
            addr,
            ops,
        })
    }

    /// Binds `http.ops_addr` only, for a worker without public routes (router, SLA).
    pub async fn bind_ops(&self) -> Result<OpsListener, StartupError> {
        let (listener, addr) = bind_one(&self.http.ops_addr).await?;
        Ok(OpsListener { listener, addr })
    }

    /// The deployment's HTTP settings (trusted proxies, bounds).
    pub fn http_settings(&self) -> &HttpSettings {
        &self.http
    }

    /// What `/ready` reports: the database as last probed and whether every task still runs.
    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// Keeps a part of this worker in step with the business's setup: applies the current setup now
    /// (an error stops the start: the worker would run on rules nobody chose), then every later
    /// version within `poll` of its save ([`crate::setup::follow`]). A later version `apply` refuses
    /// is logged and the previous one stays in force. `apply` runs on the blocking pool (the router
    /// loads models in it).
    pub async fn follow_setup<F>(
        &mut self,
        what: &'static str,
        poll: std::time::Duration,
        apply: F,
    ) -> Result<(), StartupError>
    where
        F: Fn(crate::setup::Setup) -> Result<(), String> + Send + Sync + 'static,
    {
        let apply = Arc::new(apply);
        let setup = crate::setup::load(&self.pool)
            .await
            .map_err(|e| StartupError::service("setup", e))?;
        let seen = setup.versions.clone();
        let first = apply.clone();
        tokio::task::spawn_blocking(move || first(setup))
            .await
            .map_err(|e| StartupError::service(what, e.to_string()))?
            .map_err(|e| StartupError::service(what, e))?;
        let follow = crate::setup::follow(
            self.pool.clone(),
            self.nats.clone(),
            self.subjects.clone(),
            poll,
            self.shutdown(),
            seen,
            move |setup| {
                let apply = apply.clone();
                async move {
                    let versions = setup.versions.clone();
                    match tokio::task::spawn_blocking(move || apply(setup)).await {
                        Ok(Ok(())) => tracing::info!(?versions, what, "setup applied"),
                        Ok(Err(e)) => tracing::error!(
                            error = %e, what,
                            "the changed setup cannot be applied; the previous one stays"
                        ),
                        Err(e) => tracing::error!(error = %e, what, "applying the setup failed"),
                    }
                }
            },
        );
        self.spawn("setup follower", follow);
        Ok(())
    }

    /// Runs `task` until it returns; it must watch [`Runtime::shutdown`] and drain before returning.
    /// Returning before shutdown, or panicking, stops the replica (see [`Tasks::run_until_stopped`]).
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.spawn_fallible(name, async move {
            task.await;
            Ok::<(), std::convert::Infallible>(())
        });
    }

    /// As [`Runtime::spawn`], for a task that may end with an error; an error stops the replica even
    /// when it comes during shutdown.
    pub fn spawn_fallible<F, E>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let service = self.service;
        self.tasks.spawn(async move {
            let ended = std::panic::AssertUnwindSafe(task).catch_unwind().await;
            let error = match ended {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(panic) => Some(format!("panicked: {}", panic_message(&*panic))),
            };
            if error.is_none() {
                tracing::info!(service, task = name, "task finished");
            }
            TaskEnd { name, error }
        });
    }

    /// Wakes this replica's outbox relay; call it after committing events outside a consumer (an HTTP
    /// handler). Without it the relay still finds them within its poll interval.
    pub fn outbox_wake(&self) -> Arc<Notify> {
        self.outbox_wake.clone()
    }

    /// Runs the consumer loop for `spec`: ack after the handler's transaction commits, finish the batch
    /// in hand on shutdown. Each committed batch that enqueued events wakes the outbox relay.
    pub fn spawn_consumer<H: BatchHandler>(&mut self, spec: ConsumerSpec, handler: Arc<H>) {
        let handler = Arc::new(Waking {
            inner: handler,
            wake: self.outbox_wake(),
        });
        let (js, subjects, shutdown) = (self.js.clone(), self.subjects.clone(), self.shutdown());
        let database = self.readiness.database.clone();
        self.spawn_fallible(
            "consumer",
            consumer::run(js, subjects, spec, handler, database, shutdown),
        );
    }

    /// Runs the outbox relay: publishes committed outbox rows, and drains them on shutdown.
    pub fn spawn_outbox_relay(&mut self) {
        let mut relay = OutboxRelay::new(self.pool.clone(), self.js.clone(), self.outbox_wake());
        // An authenticated worker leaves other services' rows to their relays (its user may not
        // publish them); `Settings::validate` has checked the user has a row.
        if let Some(row) = self
            .nats_settings
            .user
            .as_deref()
            .and_then(crate::bus_access::user)
        {
            relay = relay.only_subjects(&row.event_subjects(&self.subjects));
        }
        let shutdown = self.shutdown();
        self.spawn("outbox relay", relay.run(shutdown));
    }

    /// Serves `app` on the public listener and the ops routes on the ops listener until shutdown,
    /// both with the configured bounds ([`crate::http`]), finishing open requests.
    pub fn serve(&mut self, listener: Listener, app: Router) {
        let limits = HttpLimits::from(&self.http);
        tracing::info!(service = self.service, addr = %listener.addr, "serving HTTP");
        let shutdown = self.shutdown();
        self.spawn(
            "HTTP server",
            crate::http::serve(listener.listener, app, limits, shutdown),
        );
        self.serve_ops(listener.ops);
    }

    /// Serves `/health`, `/ready` and `/metrics` on the ops listener until shutdown.
    pub fn serve_ops(&mut self, ops: OpsListener) {
        let routes = ops_http::router(OpsState {
            service: self.service,
            readiness: self.readiness(),
            nats: self.nats.clone(),
        });
        let limits = HttpLimits::from(&self.http);
        tracing::info!(service = self.service, addr = %ops.addr, "serving ops HTTP");
        let shutdown = self.shutdown();
        self.spawn(
            "ops HTTP server",
            crate::http::serve(ops.listener, routes, limits, shutdown),
        );
    }

    /// The worker is assembled: start the table upkeep unless configured off (see [`crate::upkeep`]),
    /// the retention job unless configured off (see [`crate::retention`]),
    /// and the listener for messages given up without an outcome (see [`crate::missed`]), and hand
    /// back its tasks.
    pub fn start(mut self) -> Tasks {
        let (database, shutdown) = (self.readiness.database.clone(), self.shutdown());
        self.spawn("database watch", database.run(shutdown));
        if self.upkeep {
            let (pool, shutdown) = (self.pool.clone(), self.shutdown());
            self.spawn("table upkeep", crate::upkeep::run(pool, shutdown));
        }
        if self.retention.enabled {
            let (pool, shutdown) = (self.pool.clone(), self.shutdown());
            let settings = self.retention.clone();
            self.spawn("retention", crate::retention::run(pool, settings, shutdown));
        }
        let mut missed = self.consumer(
            Stream::MissedDeliveries,
            crate::missed::WORKER,
            String::new(),
        );
        missed.concurrency = 1;
        let handler = Arc::new(crate::missed::MissedDeliveryHandler {
            js: self.js.clone(),
            subjects: self.subjects.clone(),
        });
        self.spawn_consumer(missed, handler);
        tracing::info!(
            service = self.service,
            prefix = self.subjects.prefix(),
            "running"
        );
        Tasks {
            tasks: self.tasks,
            shutdown: self.shutdown,
            readiness: self.readiness,
            service: self.service,
        }
    }
}

/// How a task of [`Tasks`] ended.
struct TaskEnd {
    name: &'static str,
    /// Why it failed, if it returned an error or panicked.
    error: Option<String>,
}

/// A task of a replica ended when it should not have: the replica stopped, and should be replaced.
#[derive(Debug, thiserror::Error)]
#[error("{service}: task `{task}` {reason}; the replica stopped")]
pub struct TaskFailed {
    pub service: &'static str,
    pub task: &'static str,
    pub reason: String,
}

/// The running tasks of one worker replica. Dropping this aborts them, like [`Tasks::kill`].
pub struct Tasks {
    tasks: JoinSet<TaskEnd>,
    shutdown: CancellationToken,
    readiness: Readiness,
    service: &'static str,
}

impl Tasks {
    /// What `/ready` reports for this replica.
    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// Waits until every task has finished after shutdown (in-flight batches committed and acked).
    ///
    /// A task that ends before shutdown, or fails, makes the replica unready and cancels shutdown, so
    /// the others drain and finish as on SIGTERM; the first such failure is returned once they have.
    pub async fn run_until_stopped(mut self) -> Result<(), TaskFailed> {
        let mut failure = None;
        while let Some(ended) = self.tasks.join_next().await {
            let TaskEnd { name, error } = match ended {
                Ok(end) => end,
                // Only `kill` aborts tasks, and it never waits here.
                Err(e) => TaskEnd {
                    name: "unknown",
                    error: Some(format!("was aborted: {e}")),
                },
            };
            let reason = match error {
                Some(error) => format!("failed: {error}"),
                None if self.shutdown.is_cancelled() => continue,
                None => "ended before shutdown".to_string(),
            };
            if failure.is_none() {
                tracing::error!(service = self.service, task = name, %reason,
                    "stopping this replica: it would otherwise run on without this task");
                self.readiness.task_failed(format!("{name} {reason}"));
                self.shutdown.cancel();
                failure = Some(TaskFailed {
                    service: self.service,
                    task: name,
                    reason,
                });
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Stops pulling, finishes in-flight work and waits for it.
    pub async fn stop(self) -> Result<(), TaskFailed> {
        self.shutdown.cancel();
        self.run_until_stopped().await
    }

    /// Ends every task at once without draining: what a SIGKILL does to a replica (for fault tests).
    pub fn kill(mut self) {
        self.tasks.abort_all();
    }
}

/// The text a panic was raised with, for logs and dead letters.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}
