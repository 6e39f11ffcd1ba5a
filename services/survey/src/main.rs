use survey::settings::RawSurveySettings;
use survey::startup::Application;
use survey::{Clock, TokenSigner};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init("survey");
    let (settings, raw) = shared::config::load()?;
    let survey = RawSurveySettings::from_config(&raw)?.validate(settings.time_zone()?)?;
    let signer = match &survey.token_secret {
        Some(secret) => TokenSigner::new(secret.clone()),
        None => {
            // Fine for a laptop; replicas must share a secret or they refuse each other's links.
            tracing::warn!(
                "survey.token_secret is not set (LOOPDESK__SURVEY__TOKEN_SECRET): using an ephemeral secret; \
                 survey links stop working when this process exits"
            );
            TokenSigner::ephemeral()
        }
    };
    let shutdown = shared::shutdown::on_signal();
    let app = Application::build(settings, survey, signer, Clock::System, true, shutdown).await?;
    app.run_until_stopped().await?;
    Ok(())
}
