//! Builds a survey replica from settings on the shared [`Runtime`]: the two consumers (lifecycle events
//! and channel answers), the timer loop, the outbox relay and the HTTP side (response page + ops
//! endpoints). Tests build it exactly as `main` does, with a manual clock.

use std::sync::Arc;

use shared::config::Settings;
use shared::runtime::{Assembled, Runtime, Worker};
use shared::subjects::Stream;

use crate::resolved::LifecycleHandler;
use crate::respond::ResponseHandler;
use crate::settings::{RawSurveySettings, SurveySettings};
use crate::{timers, web, Clock, Ctx, TokenSigner};

pub use shared::runtime::StartupError;

/// The worker part of the durable names: `{prefix}_survey_lifecycle_resolved` / `_reopened`,
/// `{prefix}_survey_responses`.
pub const LIFECYCLE_WORKER: &str = crate::resolved::CONSUMER;
pub const RESPONSES_WORKER: &str = crate::respond::CONSUMER;

/// What a survey replica runs with besides the common settings.
pub struct SurveyConfig {
    pub settings: SurveySettings,
    /// Signs response tokens (from the configured secret).
    pub signer: TokenSigner,
    /// The system clock in production. A manual clock (tests) leaves the timers to the caller, who
    /// moves time and fires them with `timers::fire_due`; the system clock runs the timer loop.
    pub clock: Clock,
}

/// The survey worker. Its handle is the context the replica runs with (tests fire timers and read
/// state through it).
pub struct Survey;

/// A running survey replica.
pub type Application = shared::runtime::Application<Survey>;

impl Worker for Survey {
    const NAME: &'static str = "survey";
    const LOG_TARGET: &'static str = "survey";
    const PUBLIC: bool = true;
    type Config = SurveyConfig;
    type Handle = Ctx;

    /// Reads and checks `[survey]`; refuses to start without a shared secret (outside a local demo
    /// that allows a made-up one).
    fn configure(settings: &Settings, raw: &config::Config) -> Result<SurveyConfig, StartupError> {
        let tz = settings.time_zone()?;
        let survey = RawSurveySettings::from_config(raw)
            .and_then(|s| s.validate(tz))
            .map_err(|e| StartupError::service("[survey] section", e))?;
        let signer = survey
            .signer()
            .map_err(|e| StartupError::service("survey token secret", e))?;
        Ok(SurveyConfig {
            settings: survey,
            signer,
            clock: Clock::System,
        })
    }

    async fn assemble(
        rt: &mut Runtime,
        _: &Settings,
        config: SurveyConfig,
    ) -> Result<Assembled<Ctx>, StartupError> {
        let run_timers = matches!(config.clock, Clock::System);
        let ctx = Ctx::new(
            rt.pool.clone(),
            rt.subjects.clone(),
            Arc::new(config.settings),
            config.signer,
            config.clock,
        );
        if ctx.settings().from_setup {
            let live = ctx.live_settings.clone();
            rt.follow_setup(
                "the setup's survey policy",
                std::time::Duration::from_secs(2),
                move |setup| {
                    let mut next = (*live.current()).clone();
                    next.policy = setup.survey.check().map_err(|e| e.to_string())?;
                    live.set(Arc::new(next));
                    Ok(())
                },
            )
            .await?;
        }
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
        Ok(Assembled {
            routes: Some(web::page_router(ctx.clone(), trusted)),
            handle: ctx,
        })
    }
}
