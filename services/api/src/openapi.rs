//! The OpenAPI document, generated from the handlers' own annotations and types (utoipa), served at
//! `GET /openapi.json`.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{actions, auth, import, model, reports, tickets};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Loopdesk api", description = "Act on tickets, import spreadsheets, read the numbers."),
    modifiers(&BearerAuth),
    paths(
        auth::create_user, auth::issue_token, auth::login, auth::revoke_token, auth::me,
        tickets::list, tickets::detail,
        actions::reply, actions::note, actions::step, actions::contact, actions::wait, actions::resume,
        actions::priority, actions::assign, actions::reclassify, actions::merge, actions::resolve,
        actions::approve, actions::review, actions::reopen, actions::archive,
        import::import,
        reports::summary, reports::overdue, reports::unresolved_categories,
        crate::render::ticket_report,
    ),
    components(schemas(model::TicketSummary, model::TicketFull)),
    tags(
        (name = "auth", description = "Users, tokens, roles"),
        (name = "tickets", description = "Reading tickets"),
        (name = "actions", description = "Handling: each action is a timeline entry and an event"),
        (name = "import", description = "The team's tracking spreadsheet"),
        (name = "reports", description = "Metrics, overdue and unresolved lists, exports"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI 3.1 document.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The document as the console keeps it: pretty-printed JSON with a final newline.
pub fn pretty_document() -> Result<String, serde_json::Error> {
    let mut json = serde_json::to_string_pretty(&ApiDoc::openapi())?;
    json.push('\n');
    Ok(json)
}

/// Where the console's committed copy lives (`services/console/openapi.json`).
pub fn console_copy() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../console/openapi.json")
}
