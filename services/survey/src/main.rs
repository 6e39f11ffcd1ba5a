use survey::settings::RawSurveySettings;
use survey::startup::Application;
use survey::Clock;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init("survey");
    let (settings, raw) = shared::config::load()?;
    let survey = RawSurveySettings::from_config(&raw)?.validate(settings.time_zone()?)?;
    // Refuses to start without a shared secret (outside a local demo that allows a made-up one).
    let signer = survey.signer()?;
    let shutdown = shared::shutdown::on_signal();
    let app = Application::build(settings, survey, signer, Clock::System, true, shutdown).await?;
    app.run_until_stopped().await?;
    Ok(())
}
