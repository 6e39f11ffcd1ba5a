//! Browser sessions (cookie + CSRF), the console's files with their headers, and every refusal in the
//! api's JSON error shape.

mod common;

use api::ApiSettings;
use common::{NewTicket, TestApp, ADMIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_browser_signs_in_with_an_httponly_strict_cookie_and_a_csrf_token() {
    let app = TestApp::spawn().await;
    app.user_with_password("li", "agent", Some("customer_service"), "li-password-1")
        .await;
    let b = app.sign_in("li", "li-password-1").await;
    let attrs = b.set_cookie.to_ascii_lowercase();
    assert!(
        b.cookie.starts_with("loopdesk_session="),
        "{}",
        b.set_cookie
    );
    for attr in ["httponly", "samesite=strict", "path=/", "max-age="] {
        assert!(attrs.contains(attr), "cookie has {attr}: {}", b.set_cookie);
    }
    assert!(!attrs.contains("secure"), "plain http: no Secure flag");
    assert_eq!(b.body["user"]["name"], "li");
    assert_eq!(b.body["user"]["role"], "agent");
    assert_eq!(b.body["user"]["department"], "customer_service");

    // The session is live: it reads tickets and gets a fresh CSRF token for another tab.
    let (s, v) = b.get("/v1/auth/session").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_ne!(v["csrf_token"], b.body["csrf_token"], "a fresh token");
    let (s, _) = b.get("/v1/tickets").await;
    assert_eq!(s, StatusCode::OK);
    let (s, me) = b.get("/v1/me").await;
    assert_eq!((s, me["name"].as_str()), (StatusCode::OK, Some("li")));

    // Wrong password and unknown name answer alike.
    for (name, password) in [("li", "wrong-password"), ("nobody", "li-password-1")] {
        let (s, v) = app
            .call(
                Method::POST,
                "/v1/auth/session",
                None,
                Some(json!({"name": name, "password": password})),
            )
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::UNAUTHORIZED, "invalid_credentials")
        );
    }
    // Without a cookie there is no session.
    let (s, _) = app.call(Method::GET, "/v1/auth/session", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn state_changes_with_the_cookie_need_the_csrf_token() {
    let app = TestApp::spawn().await;
    app.user_with_password("li", "agent", Some("customer_service"), "li-password-1")
        .await;
    let token = app.user("bot", "agent", Some("customer_service")).await;
    NewTicket::new("20250101001", "2025-01-01T02:00:00Z")
        .insert(&app.ctx.pool)
        .await;
    let b = app.sign_in("li", "li-password-1").await;
    let note = || Some(json!({"text": "called the customer"}));
    let path = "/v1/tickets/20250101001/notes";

    let (s, v) = b.call(Method::POST, path, note(), false).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(code(&v), "forbidden");
    assert_eq!(v["error"]["details"]["reason"], "csrf");

    // A token of another session does not count either.
    app.user_with_password("wu", "agent", Some("customer_service"), "wu-password-1")
        .await;
    let other = app.sign_in("wu", "wu-password-1").await;
    let forged = common::Browser {
        csrf: other.csrf.clone(),
        ..b.clone()
    };
    let (s, v) = forged.call(Method::POST, path, note(), true).await;
    assert_eq!(
        (s, v["error"]["details"]["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("csrf"))
    );

    let (s, v) = b.call(Method::POST, path, note(), true).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // A bearer token (an integration) needs no CSRF header.
    let (s, _) = app
        .post(path, &token, json!({"text": "from the CRM"}))
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn sign_out_and_sign_out_everywhere() {
    let app = TestApp::spawn().await;
    app.user_with_password("li", "agent", Some("customer_service"), "li-password-1")
        .await;
    let laptop = app.sign_in("li", "li-password-1").await;
    let phone = app.sign_in("li", "li-password-1").await;
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"name": "li", "password": "li-password-1"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let token = v["token"].as_str().unwrap().to_string();

    // Signing out needs the CSRF token, clears the cookie and ends only this session.
    let (s, _) = laptop
        .call(Method::DELETE, "/v1/auth/session", None, false)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let resp = app
        .http
        .delete(format!("{}/v1/auth/session", app.base))
        .header("cookie", &laptop.cookie)
        .header("x-csrf-token", &laptop.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let cleared = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(laptop.get("/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(phone.get("/v1/me").await.0, StatusCode::OK);
    assert_eq!(app.get("/v1/me", &token).await.0, StatusCode::OK);

    // Everywhere: the other session and the token end too.
    let (s, _) = phone
        .call(Method::POST, "/v1/auth/session/revoke-all", None, true)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(phone.get("/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/v1/me", &token).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sessions_end_when_idle_and_at_the_absolute_limit() {
    let mut settings = ApiSettings::default();
    settings.session.idle_minutes = 30;
    let app = TestApp::spawn_with(settings).await;
    app.user_with_password("li", "agent", Some("customer_service"), "li-password-1")
        .await;
    let idle = app.sign_in("li", "li-password-1").await;
    let old = app.sign_in("li", "li-password-1").await;
    let fresh = app.sign_in("li", "li-password-1").await;
    let secret = |b: &common::Browser| b.cookie.split_once('=').unwrap().1.to_string();

    // Used 20 minutes ago: still live, and the use refreshes it.
    sqlx::query("update api_sessions set last_seen_at = now() - interval '20 minutes' where token_hash = $1")
        .bind(api::auth::token_digest(&secret(&fresh)))
        .execute(&app.ctx.pool)
        .await
        .unwrap();
    assert_eq!(fresh.get("/v1/me").await.0, StatusCode::OK);
    // Unused for 31 minutes: ended.
    sqlx::query("update api_sessions set last_seen_at = now() - interval '31 minutes' where token_hash = $1")
        .bind(api::auth::token_digest(&secret(&idle)))
        .execute(&app.ctx.pool)
        .await
        .unwrap();
    assert_eq!(idle.get("/v1/me").await.0, StatusCode::UNAUTHORIZED);
    // Past the absolute limit, however busy: ended.
    sqlx::query(
        "update api_sessions set expires_at = now() - interval '1 second' where token_hash = $1",
    )
    .bind(api::auth::token_digest(&secret(&old)))
    .execute(&app.ctx.pool)
    .await
    .unwrap();
    assert_eq!(old.get("/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(fresh.get("/v1/me").await.0, StatusCode::OK);
}

#[tokio::test]
async fn over_https_the_cookie_is_secure_and_hsts_is_sent() {
    let mut settings = ApiSettings::default();
    settings.session.secure_cookie = true;
    let app = TestApp::spawn_with(settings).await;
    app.user_with_password("li", "agent", Some("customer_service"), "li-password-1")
        .await;
    let b = app.sign_in("li", "li-password-1").await;
    assert!(b.set_cookie.contains("; Secure"), "{}", b.set_cookie);
    let resp = app
        .http
        .get(format!("{}/v1/me", app.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("strict-transport-security"));
}

#[tokio::test]
async fn the_console_is_served_with_its_cache_and_security_headers() {
    let dir = std::env::temp_dir().join(format!("loopdesk-console-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>Loopdesk</title>",
    )
    .unwrap();
    std::fs::write(dir.join("assets/index-3f9a1c.js"), "console.log(1)").unwrap();
    let settings = ApiSettings {
        console_dir: dir.to_string_lossy().into_owned(),
        ..ApiSettings::default()
    };
    let app = TestApp::spawn_with(settings).await;
    let get = |path: &str| app.http.get(format!("{}{path}", app.base)).send();

    for path in ["/", "/desk/tickets/20250101001"] {
        let resp = get(path).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let h = resp.headers().clone();
        assert_eq!(h["cache-control"], "no-cache", "{path}");
        assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'self'"),
            "{csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "SAMEORIGIN");
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains("<title>Loopdesk</title>"),
            "{path}"
        );
    }
    let resp = get("/assets/index-3f9a1c.js").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    // A missing asset is a 404, not the page; an unknown api route is a JSON 404.
    let resp = get("/assets/gone-000000.js").await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = get("/v1/no-such-thing").await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(code(&v), "not_found");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn every_refusal_answers_in_the_json_error_shape() {
    let app = TestApp::spawn().await;
    let token = app.user("li", "agent", Some("customer_service")).await;
    NewTicket::new("20250101001", "2025-01-01T02:00:00Z")
        .insert(&app.ctx.pool)
        .await;
    let send = |method: Method, path: &str, body: &'static str| {
        app.http
            .request(method, format!("{}{path}", app.base))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let json_of = |resp: reqwest::Response| async move {
        let status = resp.status();
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("application/json"), "{status}: {ct}");
        (status, resp.json::<Value>().await.unwrap())
    };

    let (s, v) = json_of(
        send(
            Method::POST,
            "/v1/tickets/20250101001/reply",
            "{\"message\": ",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_json"),
        "{v}"
    );
    let (s, v) = json_of(
        send(
            Method::POST,
            "/v1/tickets/20250101001/reply",
            "{\"message\": 42}",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_value"),
        "{v}"
    );
    assert_eq!(v["error"]["field"], "message");
    let (s, v) = json_of(
        send(Method::POST, "/v1/tickets/20250101001/reply", "{}")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "missing_field"),
        "{v}"
    );
    assert_eq!(v["error"]["field"], "message");
    let (s, v) = json_of(
        send(
            Method::POST,
            "/v1/tickets/20250101001/steps",
            "{\"step\": \"two\"}",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("step")),
        "{v}"
    );
    let (s, v) = json_of(
        send(Method::DELETE, "/v1/tokens/not-a-uuid", "")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_path"),
        "{v}"
    );
    let (s, v) = json_of(
        send(Method::GET, "/v1/tickets?limit=many", "")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_query"),
        "{v}"
    );
    let resp = send(Method::PUT, "/v1/tickets", "").await.unwrap();
    assert!(
        resp.headers().contains_key("allow"),
        "405 keeps its Allow header"
    );
    let (s, v) = json_of(resp).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        "{v}"
    );
    let (s, v) = json_of(
        send(Method::GET, "/v1/tickets/20250101001/nothing-here", "")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
}
