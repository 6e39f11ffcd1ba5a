//! The OpenAPI document, generated from the handlers' own annotations and types (utoipa), served at
//! `GET /openapi.json`. [`Conventions`] adds what every operation shares, so no handler can forget it:
//! the JSON error body on every refusal, 400 for any operation that reads a body, path or query
//! (a malformed one is refused), 401 for any that needs credentials, and 403 for state changes a
//! session makes (CSRF).

use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;
use crate::extract::Json;
use crate::{
    actions, auth, classifier, events, history, import, inbox, model, reports, session, setup,
    supplement, tickets, users,
};

struct Conventions;

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "ErrorBody",
                    ))))
                    .build(),
            )
            .build(),
    )
}

fn describe(status: &str) -> &'static str {
    match status {
        "400" => "Bad input: malformed JSON, a wrong type, a bad path or query value",
        "401" => "No valid credentials (bearer token or session cookie)",
        "403" => "Not allowed: `details.reason` says why (role, department, csrf, ...)",
        "404" => "Not found (or not visible to the caller)",
        "409" => "The ticket's state refuses this",
        "413" => "Body too large",
        "429" => "Too many attempts",
        _ => "Refused",
    }
}

fn conventions(op: &mut Operation, mutating: bool) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let reads_input =
        op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut add = |status: &str| {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(describe(status)));
    };
    if reads_input {
        add("400");
    }
    if secured {
        add("401");
        if mutating {
            add("403");
        }
    }
    for (status, response) in op.responses.responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let (true, RefOr::T(r)) = (is_error, &mut *response) {
            if r.content.is_empty() {
                let description = if r.description.is_empty() {
                    describe(status).to_string()
                } else {
                    r.description.clone()
                };
                *response = error_response(&description);
            }
        }
    }
}

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                session::COOKIE,
                "The browser session (POST /v1/auth/session), HttpOnly",
            ))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The csrf_token of GET /v1/auth/session; required with the session cookie on every non-GET request",
            ))),
        );
        for item in openapi.paths.paths.values_mut() {
            for (op, mutating) in [
                (&mut item.get, false),
                (&mut item.post, true),
                (&mut item.put, true),
                (&mut item.patch, true),
                (&mut item.delete, true),
            ] {
                if let Some(op) = op {
                    conventions(op, mutating);
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Loopdesk api", description = "Act on tickets, import spreadsheets, read the numbers."),
    modifiers(&Conventions),
    paths(
        auth::create_user, auth::issue_token, auth::login, auth::revoke_token, auth::me,
        session::sign_in, session::current, session::sign_out, session::revoke_all,
        users::list, users::change, users::reset_password, users::change_password, users::tokens,
        users::revoke_all, users::revoke_bootstrap,
        tickets::list, tickets::detail, actions::allowed, events::stream, history::history,
        supplement::supplement, supplement::reveal,
        inbox::read, inbox::unread, inbox::views, inbox::save_view, inbox::delete_view,
        actions::reply, actions::note, actions::step, actions::contact, actions::wait, actions::resume,
        actions::priority, actions::assign, actions::reclassify, actions::merge, actions::resolve,
        actions::approve, actions::review, actions::reopen, actions::archive,
        import::import,
        import::preview,
        classifier::train, classifier::list, classifier::show, classifier::adopt,
        reports::summary, reports::overdue, reports::unresolved_categories,
        crate::render::ticket_report,
        setup::taxonomy, setup::current, setup::put, setup::put_together, setup::history, setup::rollback, setup::export,
    ),
    components(schemas(model::TicketSummary, model::TicketFull, ErrorBody, crate::period::TimeZoneName,
        crate::render::ReportFormat, crate::labels::Lang, reports::ExportFormat, events::EventData,
        shared::setup::Taxonomy, shared::setup::Departments, shared::setup::Routing, shared::setup::Problem)),
    tags(
        (name = "auth", description = "Sign-in, sessions, users, tokens, roles"),
        (name = "tickets", description = "Reading tickets"),
        (name = "actions", description = "Handling: each action is a timeline entry and an event"),
        (name = "import", description = "The team's tracking spreadsheet"),
        (name = "classifier", description = "Train the category model on the business's history, compare, adopt"),
        (name = "reports", description = "Metrics, overdue and unresolved lists, exports"),
        (name = "setup", description = "The business's own setup: taxonomy, departments, routes; versioned"),
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
