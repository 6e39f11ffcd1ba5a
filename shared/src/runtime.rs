//! Start-up and shutdown every Loopdesk worker shares, written once (the `startup` module of
//! zero-to-production, with mini-redis's explicit shutdown token).
//!
//! [`Runtime::connect`] validates the settings, connects to Postgres and NATS, migrates and ensures the
//! streams. The worker then adds what is specific to it — consumer loops, the outbox relay, timers, its
//! HTTP routes — each as a named task watching the one shutdown token, and [`Runtime::start`] hands back
//! the [`Tasks`] to wait on, stop or kill. Cancelling the token makes every task stop pulling, finish
//! (commit and ack) the batch in hand and return; the relay drains committed outbox rows first, and the
//! HTTP side finishes open requests (SPEC invariant 6).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use async_nats::jetstream;
use axum::Router;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{HttpSettings, NatsSettings, Settings};
use crate::consumer::{self, BatchHandler, ConsumerSpec, Waking};
use crate::http::HttpLimits;
use crate::ops_http::{self, OpsState};
use crate::outbox::OutboxRelay;
use crate::subjects::{Stream, Subjects};

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
    tasks: JoinSet<()>,
    /// Wakes this replica's outbox relay when a batch has committed events.
    outbox_wake: Arc<Notify>,
    /// Whether to run the table upkeep (`database.upkeep`).
    upkeep: bool,
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
            pool,
            nats,
            js,
            subjects,
            nats_settings: settings.nats.clone(),
            http: settings.http.clone(),
            shutdown,
            tasks: JoinSet::new(),
            outbox_wake: Arc::default(),
            upkeep: settings.database.upkeep,
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

    /// Runs `task` until it returns; it must watch [`Runtime::shutdown`] and drain before returning.
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let service = self.service;
        self.tasks.spawn(async move {
            task.await;
            tracing::info!(service, task = name, "task finished");
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
        let service = self.service;
        self.spawn("consumer", async move {
            let durable = spec.durable.clone();
            if let Err(e) = consumer::run(js, subjects, spec, handler, shutdown).await {
                tracing::error!(service, error = %e, consumer = %durable, "consumer stopped");
            }
        });
    }

    /// Runs the outbox relay: publishes committed outbox rows, and drains them on shutdown.
    pub fn spawn_outbox_relay(&mut self) {
        let relay = OutboxRelay::new(self.pool.clone(), self.js.clone(), self.outbox_wake());
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
            pool: self.pool.clone(),
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

    /// The worker is assembled: start the table upkeep unless configured off (see [`crate::upkeep`])
    /// and the listener for messages given up without an outcome (see [`crate::missed`]), and hand
    /// back its tasks.
    pub fn start(mut self) -> Tasks {
        if self.upkeep {
            let (pool, shutdown) = (self.pool.clone(), self.shutdown());
            self.spawn("table upkeep", crate::upkeep::run(pool, shutdown));
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
        }
    }
}

/// The running tasks of one worker replica. Dropping this aborts them, like [`Tasks::kill`].
pub struct Tasks {
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
}

impl Tasks {
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
