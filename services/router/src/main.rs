//! `router`: thin entry point. `router run` starts the worker ([`shared::runtime`] over
//! [`Router`]); the other subcommands are the offline tools in [`loopdesk_router::cli`].

use anyhow::Context;
use clap::Parser;
use loopdesk_router::cli::{run, Cli, Command};
use loopdesk_router::settings::RouterSettings;
use loopdesk_router::startup::{retrain, Router};
use shared::runtime::Worker;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run => tokio::runtime::Runtime::new()?.block_on(
            shared::runtime::run_with::<Router>(|router: &mut RouterSettings| {
                if let Some(dir) = &cli.config {
                    router.config_dir = dir.clone();
                }
                Ok(())
            }),
        ),
        Command::Retrain => tokio::runtime::Runtime::new()?.block_on(async move {
            shared::telemetry::init(Router::LOG_TARGET);
            let (settings, raw) = shared::config::load().context("loading configuration")?;
            let mut router = Router::configure(&settings, &raw)?;
            if let Some(dir) = &cli.config {
                router.config_dir = dir.clone();
            }
            retrain(&settings, &router, &mut std::io::stdout()).await?;
            Ok(())
        }),
        _ => {
            let mut stdout = std::io::stdout().lock();
            run(cli, &mut stdout)?;
            Ok(())
        }
    }
}
