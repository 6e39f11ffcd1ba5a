//! Builds one SLA replica from settings on the shared [`Runtime`]: the ticket-event and survey-event
//! consumers, the firing loop, the outbox relay and the ops HTTP side. Tests build it exactly as `main`
//! does, several times over to get several replicas.

use std::net::SocketAddr;
use std::sync::Arc;

use shared::config::Settings;
use shared::runtime::{Runtime, TaskFailed, Tasks};
use shared::subjects::Stream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::events::{FiringWake, TicketEventHandler};
use crate::firing::{FireObserver, Firer};
use crate::policy::SlaRules;
use crate::SlaSettings;

/// The least the SLA's consumers wait to fill a batch (a longer `nats.linger_ms` wins). Its work
/// plans deadlines minutes to days away, so a fifth of a second costs nothing, while each batch is a
/// transaction of about ten statements and lock waits with the other lane. Measured in the pipeline bench: the SLA's CPU per ticket fell
/// by about a tenth, and the routed p99 at 1,000/s (the SLA shares the machine) from 152–185 to
/// 95–114 ms.
const LINGER: std::time::Duration = std::time::Duration::from_millis(200);

pub use shared::runtime::StartupError;

/// What a replica runs; tests and the bench switch parts off to isolate what they measure.
#[derive(Clone, Default)]
pub struct Parts {
    /// Do not consume ticket/survey events.
    pub no_consumers: bool,
    /// Do not run the outbox relay (another process publishes).
    pub no_relay: bool,
    /// Observes every committed firing pass (the bench's lateness histogram).
    pub observer: Option<FireObserver>,
}

/// Puts the setup's SLA rules in force and follows its changes (`{prefix}.config.changed`, and a poll).
/// A change the rules refuse is logged and the rules in force stay; the setup store refuses such a
/// change before it is stored, so that happens only with a hand-edited database.
async fn follow_setup(rt: &mut Runtime, rules: &crate::live::LiveRules) -> Result<(), StartupError> {
    let setup = shared::setup::load(&rt.pool)
        .await
        .map_err(|e| StartupError::service("setup", e))?;
    let first = setup
        .sla_rules()
        .map_err(|e| StartupError::service("SLA rules of the setup", e))?;
    rules.set(Arc::new(first));
    let live = rules.clone();
    let follow = shared::setup::follow(
        rt.pool.clone(),
        rt.nats.clone(),
        rt.subjects.clone(),
        std::time::Duration::from_secs(2),
        rt.shutdown(),
        setup.versions.clone(),
        move |setup| {
            let live = live.clone();
            async move {
                match setup.sla_rules() {
                    Ok(r) => {
                        live.set(Arc::new(r));
                        tracing::info!(versions = ?setup.versions, "SLA rules of the setup applied");
                    }
                    Err(e) => tracing::error!(error = %e, "the setup's SLA rules are invalid; the previous rules stay"),
                }
            }
        },
    );
    rt.spawn("setup follower", follow);
    Ok(())
}

/// A running SLA replica.
pub struct Application {
    /// Where the ops HTTP side (health, readiness, metrics) listens (`http.ops_addr`; port 0 in tests
    /// picks a free port). This worker has no public routes and binds no public listener.
    pub addr: SocketAddr,
    /// The rules in force (tests watch a setup change arrive).
    pub rules: crate::live::LiveRules,
    tasks: Tasks,
}

impl Application {
    pub async fn build(
        settings: Settings,
        sla: SlaSettings,
        rules: Arc<SlaRules>,
        shutdown: CancellationToken,
    ) -> Result<Self, StartupError> {
        Self::build_with(settings, sla, rules, shutdown, Parts::default()).await
    }

    pub async fn build_with(
        settings: Settings,
        sla: SlaSettings,
        rules: Arc<SlaRules>,
        shutdown: CancellationToken,
        parts: Parts,
    ) -> Result<Self, StartupError> {
        let mut rt = Runtime::connect("sla", &settings, shutdown).await?;
        let listener = rt.bind_ops().await?;
        let addr = listener.addr();

        let rules = crate::live::LiveRules::new(rules);
        if sla.from_setup {
            follow_setup(&mut rt, &rules).await?;
        }
        let planned = Arc::new(Notify::new());
        let firing = sla.firing();
        if !parts.no_consumers {
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
        }
        let firer = Firer {
            pool: rt.pool.clone(),
            rules: rules.clone(),
            subjects: rt.subjects.clone(),
            settings: firing,
            observer: parts.observer.clone(),
            planned,
        };
        rt.spawn("firing loop", firer.run(rt.shutdown()));
        if !parts.no_relay {
            rt.spawn_outbox_relay();
        }
        // Only the ops endpoints.
        rt.serve_ops(listener);
        Ok(Self {
            addr,
            rules,
            tasks: rt.start(),
        })
    }

    /// Waits until every task has finished after shutdown (in-flight batches committed and acked).
    /// A task that ended before shutdown stops the replica and is returned: exit non-zero on it.
    pub async fn run_until_stopped(self) -> Result<(), TaskFailed> {
        self.tasks.run_until_stopped().await
    }

    /// Stops pulling and firing, finishes in-flight work and waits for it.
    pub async fn stop(self) {
        // A task that failed while draining has been logged where it failed.
        let _ = self.tasks.stop().await;
    }

    /// Ends every task at once without draining: what a SIGKILL does to a replica.
    pub fn kill(self) {
        self.tasks.kill();
    }
}
