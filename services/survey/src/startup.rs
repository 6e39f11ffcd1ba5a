//! Builds a survey replica from settings on the shared [`Runtime`]: the two consumers (lifecycle events
//! and channel answers), the timer loop, the outbox relay and the HTTP side (response page + ops
//! endpoints). Tests build it exactly as `main` does, with a manual clock.

use std::net::SocketAddr;
use std::sync::Arc;

use shared::config::Settings;
use shared::runtime::{Runtime, TaskFailed, Tasks};
use shared::subjects::Stream;
use tokio_util::sync::CancellationToken;

use crate::resolved::LifecycleHandler;
use crate::respond::ResponseHandler;
use crate::settings::SurveySettings;
use crate::{timers, web, Clock, Ctx, TokenSigner};

pub use shared::runtime::StartupError;

/// A running survey replica.
pub struct Application {
    /// Where the public HTTP side listens (port 0 in tests picks a free port).
    pub addr: SocketAddr,
    /// Where health, readiness and metrics are served (`http.ops_addr`).
    pub ops_addr: SocketAddr,
    /// The context the replica runs with (tests fire timers and read state through it).
    pub ctx: Ctx,
    tasks: Tasks,
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
        let mut rt = Runtime::connect("survey", &settings, shutdown).await?;
        let ctx = Ctx::new(
            rt.pool.clone(),
            rt.subjects.clone(),
            Arc::new(survey),
            signer,
            clock,
        );
        let listener = rt.bind().await?;
        let addr = listener.addr();
        let ops_addr = listener.ops_addr();

        // JetStream 2.9 consumers take one filter subject: one durable consumer per lifecycle kind, so
        // the busy ticket.created / ticket.routed traffic never reaches this worker.
        let lifecycle = Arc::new(LifecycleHandler { ctx: ctx.clone() });
        for kind in ["resolved", "reopened"] {
            let spec = rt.consumer(
                Stream::Ticket,
                &format!("{LIFECYCLE_WORKER}_{kind}"),
                rt.subjects.subject(&format!("ticket.{kind}")),
            );
            rt.spawn_consumer(spec, lifecycle.clone());
        }
        let responses = rt.consumer(
            Stream::Survey,
            RESPONSES_WORKER,
            rt.subjects.subject("survey.response.>"),
        );
        rt.spawn_consumer(responses, Arc::new(ResponseHandler { ctx: ctx.clone() }));
        if run_timers {
            rt.spawn("timer loop", timers::run(ctx.clone(), rt.shutdown()));
        }
        rt.spawn_outbox_relay();
        let trusted = rt.http_settings().trusted_proxies()?;
        rt.serve(listener, web::page_router(ctx.clone(), trusted));
        Ok(Self {
            addr,
            ops_addr,
            ctx,
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
}
