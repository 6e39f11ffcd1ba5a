//! The console's built files and the headers every answer carries.
//!
//! `api.console_dir` (default `services/console/dist`, what `npm run build` writes) is served at `/`:
//! a path that is not a file gets `index.html`, so the console's own routes (`/desk/tickets/…`) load
//! on a reload; files under `/assets/` carry a content hash in their names and are cached for a year,
//! `index.html` is revalidated every time so a new build is picked up at once. Paths under `/v1/`
//! never fall back to the console: an unknown api route is a JSON 404.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::error::ApiError;

/// Where the console's files are, and whether answers go out over https.
#[derive(Clone)]
pub struct Web {
    pub console_dir: PathBuf,
    pub https: bool,
}

/// The content security policy of the console: scripts and connections only from this origin; inline
/// style attributes are allowed because the component library positions popovers with them; the
/// console may frame its own pages (the report preview) and nobody else may frame it.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
    base-uri 'self'; form-action 'self'; frame-ancestors 'self'";

/// Serves a console file, or `index.html` for a console route.
pub async fn console(State(web): State<Arc<Web>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    if path == "/v1" || path.starts_with("/v1/") {
        return ApiError::NotFound(format!("route {path}")).into_response();
    }
    let index = web.console_dir.join("index.html");
    if !index.is_file() {
        return ApiError::Detailed {
            status: StatusCode::NOT_FOUND,
            code: "console_not_built",
            message: format!(
                "the console is not built: run `npm ci && npm run build` in services/console (looked in {})",
                web.console_dir.display()
            ),
            field: None,
            details: None,
        }
        .into_response();
    }
    let is_asset = path.starts_with("/assets/");
    let served = if is_asset {
        ServeDir::new(&web.console_dir).oneshot(req).await
    } else {
        ServeDir::new(&web.console_dir)
            .fallback(ServeFile::new(&index))
            .oneshot(req)
            .await
    };
    let mut resp = match served {
        Ok(r) => r.map(Body::new),
        Err(never) => match never {},
    };
    let cache = if is_asset && resp.status().is_success() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}

/// Middleware: security headers on every answer; api answers are never stored by caches.
pub async fn security_headers(State(web): State<Arc<Web>>, req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/v1/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "SAMEORIGIN");
    set(header::REFERRER_POLICY, "same-origin");
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=()",
    );
    if web.https {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    if is_api {
        set(header::CACHE_CONTROL, "no-store");
    }
    resp
}
