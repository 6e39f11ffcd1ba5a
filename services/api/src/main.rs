//! The api binary: configuration, telemetry, run until SIGTERM.

use anyhow::Context;
use secrecy::SecretString;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init("api");
    let (settings, raw) = shared::config::load().context("loading configuration")?;
    let mut api = api::ApiSettings::from_config(&raw).context("reading the [api] section")?;
    if api.admin_token.is_none() {
        // The bootstrap admin token for first start (and tests against a running binary).
        api.admin_token = std::env::var("LOOPDESK_ADMIN_TOKEN")
            .ok()
            .map(SecretString::from);
    }
    let shutdown = shared::shutdown::on_signal();
    let running = api::start(settings, api, shutdown)
        .await
        .context("starting the api")?;
    running.done.await.context("api task")??;
    Ok(())
}
