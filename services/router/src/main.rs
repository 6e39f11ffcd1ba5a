//! `router`: thin entry point. `router run` starts the worker; the other subcommands are the
//! offline tools in [`loopdesk_router::cli`].

use clap::Parser;
use loopdesk_router::cli::{run, Cli, Command};
use loopdesk_router::settings::RouterSettings;
use loopdesk_router::startup::{retrain, Application};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run | Command::Retrain => {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async move {
                shared::telemetry::init("router");
                let (settings, raw) = shared::config::load()?;
                let mut router = RouterSettings::from_config(&raw)?;
                if std::env::var_os("LOOPDESK_ROUTER_CONFIG").is_some() {
                    router.config_dir = cli.config.clone();
                }
                if matches!(cli.command, Command::Retrain) {
                    let mut stdout = std::io::stdout();
                    retrain(&settings, &router, &mut stdout).await?;
                    return Ok(());
                }
                let shutdown = shared::shutdown::on_signal();
                let app = Application::build(settings, router, shutdown).await?;
                app.run_until_stopped().await?;
                Ok::<_, anyhow::Error>(())
            })
        }
        _ => {
            let mut stdout = std::io::stdout().lock();
            run(cli, &mut stdout)?;
            Ok(())
        }
    }
}
