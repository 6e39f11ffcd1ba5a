//! `sla` binary: [`shared::runtime::main`] over [`Sla`].
//!
//! `sla check [RULES_FILE]` only validates an SLA rules file (policy, calendars, holidays), so ops can
//! test a changed file before deploying it.

use anyhow::Context;
use loopdesk_sla::policy::SlaRules;
use loopdesk_sla::startup::Sla;
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
    shared::runtime::main::<Sla>().await
}
