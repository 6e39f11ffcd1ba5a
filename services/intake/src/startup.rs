//! The intake worker on the shared runtime: the feedback consumer, the outbox relay, the web form's
//! group commit and its HTTP routes. Tests build it exactly as `main` does
//! (`Application::<Intake>::build`).

use std::sync::Arc;

use shared::config::Settings;
use shared::runtime::{Assembled, Runtime, Worker};
use shared::subjects::Stream;

use crate::group_commit::GroupCommit;
use crate::handler::IntakeHandler;
use crate::http::{self, FormState};
use crate::settings::IntakeSettings;
use crate::store::TicketStore;

pub use shared::runtime::StartupError;

/// The intake worker.
pub struct Intake;

/// A running intake replica.
pub type Application = shared::runtime::Application<Intake>;

impl Worker for Intake {
    const NAME: &'static str = "intake";
    const LOG_TARGET: &'static str = "intake";
    const PUBLIC: bool = true;
    type Config = IntakeSettings;
    type Handle = ();

    fn configure(_: &Settings, raw: &config::Config) -> Result<IntakeSettings, StartupError> {
        IntakeSettings::from_config(raw).map_err(|e| StartupError::service("[intake] section", e))
    }

    async fn assemble(
        rt: &mut Runtime,
        settings: &Settings,
        intake: IntakeSettings,
    ) -> Result<Assembled<()>, StartupError> {
        let tz = settings.time_zone()?;
        let store = TicketStore::new(rt.pool.clone(), rt.subjects.clone(), tz, intake.clone());
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
        let routes = http::router(FormState {
            commits,
            settings: intake,
            trusted_proxies: rt.http_settings().trusted_proxies()?,
        });
        Ok(Assembled {
            routes: Some(routes),
            handle: (),
        })
    }
}
