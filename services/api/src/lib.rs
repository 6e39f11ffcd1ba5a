//! Loopdesk api: the HTTP side for people. Agents, inspectors and supervisors act on tickets, import
//! their tracking spreadsheets and read the numbers; ops read aggregates and health.
//!
//! Every change is a row update, a timeline entry and an outbox event in one transaction; the outbox
//! relay publishes the events. Reports read hourly rollups that a trigger keeps current (see
//! `migrations/0500_api.sql`), folded here every few seconds.

pub mod actions;
pub mod auth;
pub mod classifier;
pub mod error;
pub mod events;
pub mod extract;
pub mod history;
pub mod import;
pub mod import_taxonomy;
pub mod inbox;
pub mod labels;
pub mod model;
pub mod openapi;
pub mod passwords;
pub mod pdf;
pub mod period;
pub mod render;
pub mod reports;
pub mod session;
pub mod settings;
pub mod setup;
pub mod supplement;
pub mod tickets;
pub mod users;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::middleware;
use axum::routing::{delete, get, post};
use axum::Router;
use chrono_tz::Tz;
use secrecy::ExposeSecret;
use shared::config::Settings;
use shared::runtime::{Assembled, Runtime, Worker};
use shared::subjects::Subjects;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub use settings::ApiSettings;

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub subjects: Subjects,
    /// Default report and calendar time zone.
    pub tz: Tz,
    pub api: Arc<ApiSettings>,
    /// SHA-256 of the bootstrap admin token, if one is configured.
    pub admin_token_digest: Option<String>,
    /// Wakes this replica's outbox relay after an action committed its events.
    pub relay: Arc<tokio::sync::Notify>,
    /// Password hashing on a bounded blocking pool.
    pub passwords: Arc<passwords::Passwords>,
    /// The console's files and whether answers go out over https.
    pub web: Arc<web::Web>,
    /// Live updates to open `GET /v1/events` streams.
    pub events: Arc<events::EventHub>,
    /// The font of PDF reports, found at start-up.
    pub report_font: Option<Arc<pdf::ReportFont>>,
    /// Announces setup changes to the workers (`{prefix}.config.changed`).
    pub nats: async_nats::Client,
}

/// Why the api could not start (the start-up error every worker shares).
pub type StartError = shared::runtime::StartupError;

impl AppState {
    pub async fn new(
        pool: PgPool,
        settings: &Settings,
        api: ApiSettings,
        relay: Arc<tokio::sync::Notify>,
        nats: async_nats::Client,
    ) -> Result<Self, StartError> {
        let admin_token = api
            .admin_token
            .as_ref()
            .map(|t| t.expose_secret().trim().to_string())
            .filter(|t| !t.is_empty());
        if let Some(t) = &admin_token {
            if t.chars().count() < auth::MIN_BOOTSTRAP_TOKEN_CHARS {
                return Err(StartError::service(
                    "api.admin_token",
                    format!(
                        "the bootstrap admin token (LOOPDESK_ADMIN_TOKEN) must have at least {} characters",
                        auth::MIN_BOOTSTRAP_TOKEN_CHARS
                    ),
                ));
            }
        }
        let concurrency = api.login.hash_concurrency;
        let passwords = tokio::task::spawn_blocking(move || passwords::Passwords::new(concurrency))
            .await
            .map_err(|e| StartError::service("password hashing", e))?
            .map_err(|e| StartError::service("password hashing", e.to_string()))?;
        let configured = api.pdf_font.clone();
        let report_font =
            tokio::task::spawn_blocking(move || pdf::ReportFont::find(configured.as_deref()))
                .await
                .map_err(|e| StartError::service("report font", e))?;
        match &report_font {
            Some(f) if f.has_cjk() => tracing::info!(font = %f.path, face = f.index, "PDF report font"),
            Some(f) => tracing::warn!(font = %f.path, "the PDF report font has no Chinese glyphs: install fonts-noto-cjk or fonts-wqy-microhei"),
            None => tracing::warn!("no font for PDF reports: install fonts-noto-cjk or fonts-wqy-microhei, or set api.pdf_font"),
        }
        let web = web::Web {
            console_dir: api.console_dir.clone().into(),
            https: api.session.secure_cookie,
        };
        Ok(Self {
            pool,
            subjects: Subjects::new(settings.prefix.clone()),
            tz: settings.time_zone()?,
            admin_token_digest: admin_token.map(|t| auth::token_digest(&t)),
            api: Arc::new(api),
            relay,
            passwords: Arc::new(passwords),
            web: Arc::new(web),
            events: Arc::default(),
            report_font: report_font.map(Arc::new),
            nats,
        })
    }
}

/// Every api route (without the ops routes).
pub fn router(state: AppState) -> Router {
    use actions as a;
    let web = state.web.clone();
    Router::new()
        .route("/v1/users", post(auth::create_user).get(users::list))
        .route("/v1/users/{name}", axum::routing::patch(users::change))
        .route(
            "/v1/users/{name}/tokens",
            post(auth::issue_token).get(users::tokens),
        )
        .route("/v1/users/{name}/password", post(users::reset_password))
        .route("/v1/users/{name}/revoke-all", post(users::revoke_all))
        .route("/v1/auth/login", post(auth::login))
        .route(
            "/v1/auth/session",
            post(session::sign_in)
                .get(session::current)
                .delete(session::sign_out),
        )
        .route("/v1/auth/session/revoke-all", post(session::revoke_all))
        .route("/v1/auth/bootstrap-token", delete(users::revoke_bootstrap))
        .route("/v1/tokens/{id}", delete(auth::revoke_token))
        .route("/v1/me", get(auth::me))
        .route("/v1/me/password", post(users::change_password))
        .route("/v1/tickets", get(tickets::list))
        .route("/v1/tickets/{id}", get(tickets::detail))
        .route("/v1/tickets/{id}/history", get(history::history))
        .route("/v1/tickets/{id}/supplement", post(supplement::supplement))
        .route("/v1/tickets/{id}/reveal", post(supplement::reveal))
        .route(
            "/v1/tickets/{id}/read",
            post(inbox::read).delete(inbox::unread),
        )
        .route("/v1/views", get(inbox::views).post(inbox::save_view))
        .route("/v1/views/{id}", delete(inbox::delete_view))
        .route("/v1/events", get(events::stream))
        .route("/v1/tickets/{id}/report", get(render::ticket_report))
        .route("/v1/tickets/{id}/actions", get(a::allowed))
        .route("/v1/tickets/{id}/reply", post(a::reply))
        .route("/v1/tickets/{id}/notes", post(a::note))
        .route("/v1/tickets/{id}/steps", post(a::step))
        .route("/v1/tickets/{id}/contact", post(a::contact))
        .route("/v1/tickets/{id}/wait", post(a::wait))
        .route("/v1/tickets/{id}/resume", post(a::resume))
        .route("/v1/tickets/{id}/priority", post(a::priority))
        .route("/v1/tickets/{id}/assign", post(a::assign))
        .route("/v1/tickets/{id}/reclassify", post(a::reclassify))
        .route("/v1/tickets/{id}/merge", post(a::merge))
        .route("/v1/tickets/{id}/resolve", post(a::resolve))
        .route("/v1/tickets/{id}/approve", post(a::approve))
        .route("/v1/tickets/{id}/review", post(a::review))
        .route("/v1/tickets/{id}/reopen", post(a::reopen))
        .route("/v1/tickets/{id}/archive", post(a::archive))
        .route(
            "/v1/import",
            post(import::import).layer(axum::extract::DefaultBodyLimit::max(
                state.api.max_import_bytes,
            )),
        )
        .route(
            "/v1/import/preview",
            post(import::preview).layer(axum::extract::DefaultBodyLimit::max(
                state.api.max_import_bytes,
            )),
        )
        .route("/v1/classifier/trainings", post(classifier::train))
        .route("/v1/classifier/models", get(classifier::list))
        .route("/v1/classifier/models/{version}", get(classifier::show))
        .route(
            "/v1/classifier/models/{version}/adopt",
            post(classifier::adopt),
        )
        .route("/v1/reports/summary", get(reports::summary))
        .route("/v1/reports/overdue", get(reports::overdue))
        .route(
            "/v1/reports/unresolved-categories",
            get(reports::unresolved_categories),
        )
        .route("/v1/taxonomy", get(setup::taxonomy))
        .route("/v1/setup/export", get(setup::export))
        .route("/v1/setup", axum::routing::put(setup::put_together))
        .route("/v1/setup/{kind}", get(setup::current).put(setup::put))
        .route("/v1/setup/{kind}/history", get(setup::history))
        .route("/v1/setup/{kind}/rollback", post(setup::rollback))
        .route("/openapi.json", get(openapi::document))
        .with_state(state)
        .fallback_service(Router::new().fallback(web::console).with_state(web.clone()))
        .layer(middleware::from_fn(error::json_errors))
        .layer(middleware::from_fn_with_state(web, web::security_headers))
}

/// Folds report deltas into the rollups until `shutdown`.
pub async fn run_rollup_folder(pool: PgPool, every: Duration, shutdown: CancellationToken) {
    loop {
        match reports::fold(&pool).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "folding report deltas failed; will retry"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// The api worker. Its handle is the state every handler shares (tests read the pool and subjects
/// through it).
pub struct Api;

/// A running api replica.
pub type Application = shared::runtime::Application<Api>;

impl Worker for Api {
    const NAME: &'static str = "api";
    const LOG_TARGET: &'static str = "api";
    const PUBLIC: bool = true;
    type Config = ApiSettings;
    type Handle = AppState;

    /// Reads `[api]`; without a configured bootstrap admin token, `LOOPDESK_ADMIN_TOKEN` (first start,
    /// and tests against a running binary).
    fn configure(_: &Settings, raw: &config::Config) -> Result<ApiSettings, StartError> {
        let mut api =
            ApiSettings::from_config(raw).map_err(|e| StartError::service("[api] section", e))?;
        if api.admin_token.is_none() {
            api.admin_token = std::env::var("LOOPDESK_ADMIN_TOKEN")
                .ok()
                .map(secrecy::SecretString::from);
        }
        Ok(api)
    }

    /// The routes, the outbox relay, the rollup folder and the live-update feed.
    async fn assemble(
        rt: &mut Runtime,
        settings: &Settings,
        api: ApiSettings,
    ) -> Result<Assembled<AppState>, StartError> {
        let fold_every = Duration::from_millis(api.rollup_fold_ms.max(50));
        let state = AppState::new(
            rt.pool.clone(),
            settings,
            api,
            rt.outbox_wake(),
            rt.nats.clone(),
        )
        .await?;
        if let Err(e) = users::bootstrap_advice(&state).await {
            tracing::warn!(error = %e, "could not check the bootstrap admin token");
        }
        rt.spawn_outbox_relay();
        let folder = run_rollup_folder(rt.pool.clone(), fold_every, rt.shutdown());
        rt.spawn("rollup folder", folder);
        let feed = events::feed(state.clone(), rt.nats.clone(), rt.shutdown())
            .await
            .map_err(|e| StartError::service("live updates", e))?;
        rt.spawn("live updates", feed);
        Ok(Assembled {
            routes: Some(router(state.clone())),
            handle: state,
        })
    }
}
