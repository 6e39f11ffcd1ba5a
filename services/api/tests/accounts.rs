//! Issue 19 items 9 and 16: sign-in limits and equal cost, the bounded hashing pool; token expiry and
//! listing, revoke-all, disabling users, password change and reset, the bootstrap token's minimum
//! length and its revocation.

mod common;

use api::ApiSettings;
use common::{TestApp, ADMIN};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

async fn login(app: &TestApp, name: &str, password: &str) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"name": name, "password": password})),
    )
    .await
}

#[tokio::test]
async fn sign_in_is_limited_per_name_and_per_address() {
    let mut settings = ApiSettings::default();
    settings.login.max_failures_per_name = 3;
    settings.login.max_failures_per_address = 5;
    let app = TestApp::spawn_with(settings).await;
    app.user_with_password("li", "agent", Some("customer_service"), "li-password-1")
        .await;
    app.user_with_password("wu", "agent", Some("customer_service"), "wu-password-1")
        .await;
    for _ in 0..3 {
        assert_eq!(login(&app, "li", "guess").await.0, StatusCode::UNAUTHORIZED);
    }
    // At the limit even the right password is not heard until the window ends.
    let resp = app
        .http
        .post(format!("{}/v1/auth/session", app.base))
        .json(&json!({"name": "li", "password": "li-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900, "Retry-After {retry}");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(code(&v), "rate_limited");
    // Another name from the same address: two more failures reach the address limit of five.
    for _ in 0..2 {
        assert_eq!(login(&app, "wu", "guess").await.0, StatusCode::UNAUTHORIZED);
    }
    let (s, v) = login(&app, "wu", "wu-password-1").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    // The window over, the right password works and clears the name's count.
    sqlx::query("update login_failures set window_start = now() - interval '1 hour'")
        .execute(&app.ctx.pool)
        .await
        .unwrap();
    assert_eq!(
        login(&app, "li", "li-password-1").await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn unknown_and_disabled_names_cost_a_password_check_like_known_ones() {
    let app = TestApp::spawn().await;
    app.user_with_password("li", "agent", Some("customer_service"), "li-password-1")
        .await;
    app.user_with_password("gone", "agent", Some("customer_service"), "gone-password")
        .await;
    let (s, _) = app
        .call(
            Method::PATCH,
            "/v1/users/gone",
            Some(ADMIN),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // A user created without a password cannot sign in either, after the same work.
    app.user("svc", "agent", Some("customer_service")).await;
    let mut answers = Vec::new();
    for (name, password) in [
        ("li", "wrong-password"),
        ("nobody-by-this-name", "whatever-1"),
        ("gone", "gone-password"),
        ("svc", "whatever-1"),
    ] {
        let before = app.state.passwords.verifications();
        let (s, v) = login(&app, name, password).await;
        assert_eq!(
            app.state.passwords.verifications(),
            before + 1,
            "{name}: one argon2 check"
        );
        answers.push((s, v));
    }
    for (s, v) in &answers {
        assert_eq!(
            (*s, v),
            (answers[0].0, &answers[0].1),
            "every refusal reads the same"
        );
    }
    assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn password_hashes_run_on_a_bounded_pool() {
    let mut settings = ApiSettings::default();
    settings.login.hash_concurrency = 2;
    settings.login.max_failures_per_address = 1000;
    settings.login.max_failures_per_name = 1000;
    let app = TestApp::spawn_with(settings).await;
    app.user_with_password("li", "agent", Some("customer_service"), "li-password-1")
        .await;
    let attempts = (0..12).map(|i| {
        let password = if i % 2 == 0 { "li-password-1" } else { "wrong" };
        login(&app, "li", password)
    });
    let answers = futures::future::join_all(attempts).await;
    assert!(answers
        .iter()
        .all(|(s, _)| *s == StatusCode::CREATED || *s == StatusCode::UNAUTHORIZED));
    let (peak, limit) = app.state.passwords.peak();
    assert_eq!(limit, 2);
    assert!(
        (1..=2).contains(&peak),
        "at most two hashes at once, saw {peak}"
    );
}

#[tokio::test]
async fn tokens_expire_are_listed_and_revoked_all_at_once() {
    let app = TestApp::spawn().await;
    app.user_with_password("li", "agent", Some("customer_service"), "li-password-1")
        .await;
    let (s, v) = app
        .post(
            "/v1/users/li/tokens",
            ADMIN,
            json!({"expires_in_days": 7, "label": "crm-sync"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let short = v["token"].as_str().unwrap().to_string();
    let expires = chrono::DateTime::parse_from_rfc3339(v["expires_at"].as_str().unwrap()).unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((6 * 24..=7 * 24).contains(&days), "seven days: {days} h");
    let (s, v) = app
        .post(
            "/v1/users/li/tokens",
            ADMIN,
            json!({"expires_in_days": 4000}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("expires_in_days"))
    );
    // An array is not a token request, though serde would read one into the struct.
    let (s, v) = app
        .post("/v1/users/li/tokens", ADMIN, json!([null, null]))
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("body"))
    );
    // Default lifetime when the body is empty.
    let (s, v) = app.post("/v1/users/li/tokens", ADMIN, json!({})).await;
    assert_eq!(s, StatusCode::CREATED);
    let long = v["token"].as_str().unwrap().to_string();

    // Listed for the user and the admin (no secrets), not for another user.
    let (s, list) = app.get("/v1/users/li/tokens", &long).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list.to_string().find("ldk_").is_none(), "no secret listed");
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["label"] == "crm-sync"));
    let other = app.user("wu", "agent", Some("customer_service")).await;
    assert_eq!(
        app.get("/v1/users/li/tokens", &other).await.0,
        StatusCode::FORBIDDEN
    );

    // An expired token is refused.
    sqlx::query(
        "update api_tokens set expires_at = now() - interval '1 second' where label = 'crm-sync'",
    )
    .execute(&app.ctx.pool)
    .await
    .unwrap();
    assert_eq!(app.get("/v1/me", &short).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/v1/me", &long).await.0, StatusCode::OK);

    // Revoke-all by the admin ends every token and session of the user.
    let browser = app.sign_in("li", "li-password-1").await;
    let (s, _) = app.post("/v1/users/li/revoke-all", ADMIN, json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/v1/me", &long).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(browser.get("/v1/me").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_disabled_user_loses_every_way_in_until_enabled() {
    let app = TestApp::spawn().await;
    app.user_with_password("li", "agent", Some("customer_service"), "li-password-1")
        .await;
    let (_, v) = login(&app, "li", "li-password-1").await;
    let token = v["token"].as_str().unwrap().to_string();
    let browser = app.sign_in("li", "li-password-1").await;

    let (s, v) = app
        .call(
            Method::PATCH,
            "/v1/users/li",
            Some(ADMIN),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["disabled_at"].is_string());
    assert_eq!(v["live_tokens"], 0);
    assert_eq!(app.get("/v1/me", &token).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(browser.get("/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        login(&app, "li", "li-password-1").await.0,
        StatusCode::UNAUTHORIZED
    );

    // Roles and departments are checked; the admin list shows who holds which role.
    let (s, v) = app
        .call(
            Method::PATCH,
            "/v1/users/li",
            Some(ADMIN),
            Some(json!({"role": "supervisor", "department": ""})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("department"))
    );
    let (s, v) = app
        .call(
            Method::PATCH,
            "/v1/users/li",
            Some(ADMIN),
            Some(json!({"disabled": false, "role": "supervisor"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["role"], "supervisor");
    assert!(v["disabled_at"].is_null());
    assert_eq!(
        login(&app, "li", "li-password-1").await.0,
        StatusCode::CREATED
    );
    let (s, users) = app.get("/v1/users", ADMIN).await;
    assert_eq!(s, StatusCode::OK);
    let li = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "li")
        .unwrap();
    assert_eq!(
        (li["role"].as_str(), li["has_password"].as_bool()),
        (Some("supervisor"), Some(true))
    );
    assert_eq!(
        app.get("/v1/users", &token).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn passwords_are_changed_by_their_owner_and_reset_by_an_admin() {
    let app = TestApp::spawn().await;
    app.user_with_password("li", "agent", Some("customer_service"), "li-password-1")
        .await;
    let laptop = app.sign_in("li", "li-password-1").await;
    let phone = app.sign_in("li", "li-password-1").await;

    let (s, v) = laptop
        .post(
            "/v1/me/password",
            json!({"current_password": "nope", "new_password": "li-password-2"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "wrong_password"));
    let (s, v) = laptop
        .post(
            "/v1/me/password",
            json!({"current_password": "li-password-1", "new_password": "short"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("new_password"))
    );
    let (s, _) = laptop
        .post(
            "/v1/me/password",
            json!({"current_password": "li-password-1", "new_password": "li-password-2"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // The session that changed it stays; the others end; only the new password signs in.
    assert_eq!(laptop.get("/v1/me").await.0, StatusCode::OK);
    assert_eq!(phone.get("/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        login(&app, "li", "li-password-1").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, "li", "li-password-2").await.0,
        StatusCode::CREATED
    );

    // An admin's reset ends every session, the current one included.
    let (s, _) = app
        .post(
            "/v1/users/li/password",
            ADMIN,
            json!({"new_password": "li-password-3"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(laptop.get("/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        login(&app, "li", "li-password-3").await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn the_bootstrap_token_needs_32_characters_and_can_be_retired() {
    let ctx = shared::testkit::TestContext::new().await;
    let api = ApiSettings {
        admin_token: Some(SecretString::from("short-admin-token")),
        ..ApiSettings::default()
    };
    let refused =
        api::Application::build(ctx.settings.clone(), api, CancellationToken::new()).await;
    let error = refused
        .err()
        .expect("a short bootstrap token is refused")
        .to_string();
    assert!(error.contains("at least 32 characters"), "{error}");
    drop(ctx);

    let app = TestApp::spawn().await;
    let (s, me) = app.get("/v1/me", ADMIN).await;
    assert_eq!(s, StatusCode::OK);
    assert!(me["notice"]
        .as_str()
        .unwrap()
        .contains("remove LOOPDESK_ADMIN_TOKEN"));
    let (s, _) = app
        .call(
            Method::DELETE,
            "/v1/auth/bootstrap-token",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/v1/me", ADMIN).await.0, StatusCode::UNAUTHORIZED);
}

/// The admin's list says who each person is to colleagues and when they last signed in; a display name
/// is set at creation, changed and cleared, and refused with control characters.
#[tokio::test]
async fn people_have_a_display_name_and_a_last_sign_in() {
    let app = TestApp::spawn().await;
    let (s, v) = app
        .post(
            "/v1/users",
            ADMIN,
            json!({"name": "li.wei", "display_name": " 李伟 ", "role": "agent",
                   "department": "customer_service", "password": "secret-123"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["display_name"], "李伟");
    let person = |users: &Value| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == "li.wei")
            .cloned()
            .unwrap()
    };
    let (_, users) = app.get("/v1/users", ADMIN).await;
    assert!(
        person(&users)["last_signed_in_at"].is_null(),
        "never signed in"
    );

    app.sign_in("li.wei", "secret-123").await;
    let (_, users) = app.get("/v1/users", ADMIN).await;
    assert!(
        person(&users)["last_signed_in_at"].is_string(),
        "a browser sign-in is recorded: {users}"
    );

    let patch = |body: Value| {
        app.call(
            reqwest::Method::PATCH,
            "/v1/users/li.wei",
            Some(ADMIN),
            Some(body),
        )
    };
    let (s, v) = patch(json!({"display_name": "李 伟"})).await;
    assert_eq!(
        (s, v["display_name"].as_str()),
        (StatusCode::OK, Some("李 伟"))
    );
    let (s, v) = patch(json!({"role": "supervisor"})).await;
    assert_eq!(v["display_name"], "李 伟", "{s}: kept when not named");
    let (s, e) = patch(json!({"display_name": "李\u{7}伟"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["field"], "display_name");
    let (_, v) = patch(json!({"display_name": ""})).await;
    assert_eq!(v["display_name"], "", "an empty string clears it");
}
