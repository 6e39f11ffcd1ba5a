//! Builds one SLA replica from settings on the shared [`Runtime`]: the ticket-event and survey-event
//! consumers, the firing loop, the outbox relay and the ops HTTP side. Tests build it exactly as `main`
//! does, several times over to get several replicas.

use std::sync::Arc;

use shared::config::Settings;
use shared::runtime::{Assembled, Runtime, Worker};
use shared::subjects::Stream;
use tokio::sync::Notify;

use crate::events::{FiringWake, TicketEventHandler};
use crate::firing::{FireObserver, Firer};
use crate::policy::SlaRules;
use crate::SlaSettings;

/// The least the SLA's consumers wait to fill a batch (a longer `nats.linger_ms` wins). Its work
/// plans deadlines minutes to days away, so a fifth of a second costs nothing, while each batch is a
/// transaction of about ten statements and lock waits with the other lane: fuller batches cost the
/// SLA less CPU per ticket and lower the latency of the workers sharing its machine (the pipeline
/// bench, docs/benchmarks.md).
const LINGER: std::time::Duration = std::time::Duration::from_millis(200);

pub use shared::runtime::StartupError;

/// What an SLA replica runs with besides the common settings.
pub struct SlaConfig {
    pub settings: SlaSettings,
    /// The policy, calendars and holidays, loaded from `settings.rules_file` by `main`.
    pub rules: Arc<SlaRules>,
    /// Observes every committed firing pass (the bench's lateness histogram).
    pub observer: Option<FireObserver>,
}

impl SlaConfig {
    pub fn new(settings: SlaSettings, rules: Arc<SlaRules>) -> Self {
        Self {
            settings,
            rules,
            observer: None,
        }
    }
}

/// Puts the setup's SLA rules in force and follows its changes (`{prefix}.config.changed`, and a poll).
/// A change the rules refuse is logged and the rules in force stay; the setup store refuses such a
/// change before it is stored, so that happens only with a hand-edited database.
async fn follow_setup(
    rt: &mut Runtime,
    rules: &crate::live::LiveRules,
) -> Result<(), StartupError> {
    let live = rules.clone();
    rt.follow_setup(
        "SLA rules of the setup",
        std::time::Duration::from_secs(2),
        move |setup| {
            live.set(Arc::new(setup.sla_rules()?));
            Ok(())
        },
    )
    .await
}

/// The SLA worker.
pub struct Sla;

/// A running SLA replica (ops routes only: `addr` is the ops listener).
pub type Application = shared::runtime::Application<Sla>;

impl Worker for Sla {
    const NAME: &'static str = "sla";
    const LOG_TARGET: &'static str = "loopdesk_sla";
    const PUBLIC: bool = false;
    type Config = SlaConfig;
    /// The rules in force (tests watch a setup change arrive).
    type Handle = crate::live::LiveRules;

    /// Reads `[sla]` and loads its rules file: a broken file stops the start.
    fn configure(_: &Settings, raw: &config::Config) -> Result<SlaConfig, StartupError> {
        let sla: SlaSettings = shared::config::section(raw, "sla")
            .map_err(|e| StartupError::service("[sla] section", e))?;
        let rules =
            SlaRules::load(&sla.rules_file).map_err(|e| StartupError::service("SLA rules", e))?;
        Ok(SlaConfig::new(sla, Arc::new(rules)))
    }

    async fn assemble(
        rt: &mut Runtime,
        _: &Settings,
        config: SlaConfig,
    ) -> Result<Assembled<crate::live::LiveRules>, StartupError> {
        let SlaConfig {
            settings: sla,
            rules,
            observer,
        } = config;
        let rules = crate::live::LiveRules::new(rules);
        if sla.from_setup {
            follow_setup(rt, &rules).await?;
        }
        let planned = Arc::new(Notify::new());
        let firing = sla.firing();
        let handler = Arc::new(TicketEventHandler {
            pool: rt.pool.clone(),
            rules: rules.clone(),
            subjects: rt.subjects.clone(),
            firing: Some(FiringWake {
                notify: planned.clone(),
                // Timers due later are found by the loop's own look, at least once per poll.
                within: firing.poll,
            }),
            start_within: sla.start_within(),
        });
        // One durable consumer per stream (NATS 2.9 filters on one subject per consumer). `ticket.*`
        // leaves out `ticket.routed.{dept}` and `ticket.withdrawn.{dept}`: they repeat what
        // `ticket.classified` said, and were a third of what reached this worker.
        let specs = [
            rt.consumer(Stream::Ticket, "sla", rt.subjects.subject("ticket.*")),
            rt.consumer(
                Stream::Survey,
                "sla_survey",
                rt.subjects.subject("survey.>"),
            ),
        ];
        for mut spec in specs {
            spec.linger = spec.linger.max(LINGER);
            rt.spawn_consumer(spec, handler.clone());
        }
        rt.spawn(
            "overdue clock starts",
            handler
                .clone()
                .run_overdue_starts(firing.poll, rt.shutdown()),
        );
        let firer = Firer {
            pool: rt.pool.clone(),
            rules: rules.clone(),
            subjects: rt.subjects.clone(),
            settings: firing,
            observer,
            planned,
        };
        rt.spawn("firing loop", firer.run(rt.shutdown()));
        rt.spawn_outbox_relay();
        Ok(Assembled {
            routes: None,
            handle: rules,
        })
    }
}
