//! `sla` binary: configuration, telemetry and signals around [`loopdesk_sla::startup::Application`].
//!
//! `sla check [RULES_FILE]` only validates an SLA rules file (policy, calendars, holidays), so ops can
//! test a changed file before deploying it.

use std::sync::Arc;

use anyhow::Context;
use loopdesk_sla::policy::SlaRules;
use loopdesk_sla::startup::Application;
use loopdesk_sla::SlaSettings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("check") {
        let path = args
            .get(1)
            .cloned()
            .unwrap_or_else(|| SlaSettings::default().rules_file.display().to_string());
        SlaRules::load(std::path::Path::new(&path))
            .with_context(|| format!("SLA rules in {path} are invalid"))?;
        println!("{path}: ok");
        return Ok(());
    }

    shared::telemetry::init("loopdesk_sla");
    let (settings, raw) = shared::config::load().context("loading configuration")?;
    let sla: SlaSettings = match raw.get("sla") {
        Ok(s) => s,
        Err(config::ConfigError::NotFound(_)) => SlaSettings::default(),
        Err(e) => return Err(e).context("reading the [sla] configuration section"),
    };
    let rules = SlaRules::load(&sla.rules_file)
        .with_context(|| format!("loading SLA rules from {}", sla.rules_file.display()))?;
    let shutdown = shared::shutdown::on_signal();
    let app = Application::build(settings, sla, Arc::new(rules), shutdown)
        .await
        .context("starting the sla worker")?;
    app.run_until_stopped().await?;
    Ok(())
}
