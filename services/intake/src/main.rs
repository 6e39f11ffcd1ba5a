use intake::settings::IntakeSettings;
use intake::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init("intake");
    let (settings, raw) = shared::config::load()?;
    let intake = IntakeSettings::from_config(&raw)?;
    let shutdown = shared::shutdown::on_signal();
    let app = Application::build(settings, intake, shutdown).await?;
    app.run_until_stopped().await?;
    Ok(())
}
