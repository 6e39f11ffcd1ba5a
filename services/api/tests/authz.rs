//! Role and department checks on every endpoint, table-driven: each row names an endpoint and, per
//! caller, whether it must be refused (401/403) or let through (anything else: 200, 400, 409 ...).

mod common;

use common::{NewTicket, TestApp, ADMIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Callers, in the order of the expectation strings below ('A' let through, 'F' forbidden, 'N' not
/// found: another department's ticket answers exactly as a missing one).
const CALLERS: [(&str, &str, Option<&str>); 7] = [
    ("agent_cs", "agent", Some("customer_service")),
    ("agent_lg", "agent", Some("logistics")),
    ("inspector", "inspector", None),
    ("super_cs", "supervisor", Some("customer_service")),
    ("super_lg", "supervisor", Some("logistics")),
    ("admin2", "admin", None),
    ("ops", "ops", None),
];

#[tokio::test]
async fn every_endpoint_checks_role_and_department() {
    let app = TestApp::spawn().await;
    let mut tokens = Vec::new();
    for (name, role, dept) in CALLERS {
        tokens.push(app.user(name, role, dept).await);
    }
    // A customer-service ticket; every request works on a fresh copy so earlier actions change nothing.
    let mut n = 0;
    // (method, path template with {t} for a fresh ticket, body, expectation per caller:
    //  'A' let through, 'F' forbidden, 'N' not found)
    let table: Vec<(Method, &str, Value, &str)> = vec![
        (Method::GET, "/v1/tickets", json!(null), "AAAAAAF"),
        (Method::GET, "/v1/tickets/{t}", json!(null), "ANAANAF"),
        (
            Method::GET,
            "/v1/tickets/{t}/report",
            json!(null),
            "ANAANAF",
        ),
        (
            Method::GET,
            "/v1/tickets/{t}/report?format=pdf",
            json!(null),
            "ANAANAF",
        ),
        (
            Method::GET,
            "/v1/tickets/{t}/actions",
            json!(null),
            "ANAANAF",
        ),
        (
            Method::POST,
            "/v1/tickets/{t}/reply",
            json!({"message": "您好"}),
            "ANFANAF",
        ),
        (
            Method::POST,
            "/v1/tickets/{t}/notes",
            json!({"text": "note"}),
            "ANFANAF",
        ),
        (
            Method::POST,
            "/v1/tickets/{t}/steps",
            json!({"step": 2, "result": "ok"}),
            "ANFANAF",
        ),
        (
            Method::POST,
            "/v1/tickets/{t}/contact",
            json!({}),
            "ANFANAF",
        ),
        (
            Method::POST,
            "/v1/tickets/{t}/wait",
            json!({"reason": "photo"}),
            "ANFANAF",
        ),
        (
            Method::POST,
            "/v1/tickets/{t}/resume",
            json!(null),
            "ANFANAF",
        ),
        (
            Method::POST,
            "/v1/tickets/{t}/priority",
            json!({"priority": "urgent"}),
            "ANAANAF",
        ),
        (
            Method::POST,
            "/v1/tickets/{t}/assign",
            json!({"owner": "li"}),
            "FFFANAF",
        ),
        (
            Method::POST,
            "/v1/tickets/{t}/reclassify",
            json!({"category": "technical_fault"}),
            "FFAANAF",
        ),
        (
            Method::POST,
            "/v1/tickets/{t}/merge",
            json!({"into": "{u}"}),
            "ANFANAF",
        ),
        (
            Method::POST,
            "/v1/tickets/{t}/resolve",
            json!({"resolution": "full"}),
            "ANFANAF",
        ),
        (
            Method::POST,
            "/v1/tickets/{t}/approve",
            json!({}),
            "FFFANAF",
        ),
        (Method::POST, "/v1/tickets/{t}/review", json!({}), "FFFANAF"),
        (Method::POST, "/v1/tickets/{t}/reopen", json!({}), "ANFANAF"),
        (
            Method::POST,
            "/v1/tickets/{t}/archive",
            json!(null),
            "ANFANAF",
        ),
        (Method::POST, "/v1/import", json!(null), "FFFAAAF"),
        (
            Method::GET,
            "/v1/reports/summary?from=2025-01-01&to=2025-01-31",
            json!(null),
            "FFAAAAA",
        ),
        (
            Method::GET,
            "/v1/reports/summary?from=2025-01-01&to=2025-01-31&department=logistics",
            json!(null),
            "FFAFAAA",
        ),
        (Method::GET, "/v1/reports/overdue", json!(null), "FFAAAAF"),
        (
            Method::GET,
            "/v1/reports/unresolved-categories?from=2025-01-01&to=2025-01-31",
            json!(null),
            "FFAAAAA",
        ),
        (
            Method::POST,
            "/v1/users",
            json!({"name": "x{n}", "role": "agent", "department": "logistics"}),
            "FFFFFAF",
        ),
        (Method::POST, "/v1/users/ops/tokens", json!({}), "FFFFFAF"),
        (Method::GET, "/v1/me", json!(null), "AAAAAAA"),
    ];
    for (method, template, body, expect) in &table {
        assert_eq!(
            expect.len(),
            CALLERS.len(),
            "{template}: one expectation per caller"
        );
        for (i, (caller, _, _)) in CALLERS.iter().enumerate() {
            n += 1;
            let t = format!("2025010{}{:04}", 1, n);
            NewTicket::new(&t, "2025-01-01T02:00:00Z")
                .insert(&app.ctx.pool)
                .await;
            let u = format!("2025010{}{:04}", 2, n);
            NewTicket::new(&u, "2025-01-01T01:00:00Z")
                .insert(&app.ctx.pool)
                .await;
            let path = template.replace("{t}", &t);
            let body_text = body
                .to_string()
                .replace("{u}", &u)
                .replace("{n}", &n.to_string());
            let body: Value = serde_json::from_str(&body_text).expect("json");
            let body = if body.is_null() && *method == Method::POST {
                Some(json!({}))
            } else if body.is_null() {
                None
            } else {
                Some(body)
            };
            // The import endpoint takes a CSV body; an empty JSON body is fine for the authz check.
            let (status, answer) = app
                .call(method.clone(), &path, Some(&tokens[i]), body.clone())
                .await;
            let want = expect.as_bytes()[i];
            if want == b'N' {
                // Exactly the answer for a ticket that does not exist: no way to tell which numbers do.
                let missing = path.replace(&t, "20990101999");
                let (s, nothing) = app
                    .call(method.clone(), &missing, Some(&tokens[i]), body.clone())
                    .await;
                assert_eq!(
                    (status, &answer),
                    (StatusCode::NOT_FOUND, &nothing),
                    "{caller} {method} {path}: another department's ticket answers as a missing one"
                );
                assert_eq!(s, StatusCode::NOT_FOUND);
            } else if want == b'F' {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{caller} {method} {path} must be forbidden: {answer}"
                );
                assert_eq!(answer["error"]["code"], "forbidden");
            } else {
                assert!(
                    status != StatusCode::FORBIDDEN
                        && status != StatusCode::UNAUTHORIZED
                        && !status.is_server_error(),
                    "{caller} {method} {path} must be let through, got {status}: {answer}"
                );
            }
            if i == 0 {
                // No token, and a wrong token: 401 everywhere.
                let (s, _) = app.call(method.clone(), &path, None, body.clone()).await;
                assert_eq!(
                    s,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} without a token"
                );
                let (s, _) = app.call(method.clone(), &path, Some("nope"), body).await;
                assert_eq!(
                    s,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} with a wrong token"
                );
            }
        }
    }
}

#[tokio::test]
async fn revoked_tokens_and_passwords() {
    let app = TestApp::spawn().await;
    let (s, _) = app
        .post(
            "/v1/users",
            ADMIN,
            json!({"name": "wang", "role": "inspector", "password": "s3cret-pass"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .post(
            "/v1/users",
            ADMIN,
            json!({"name": "wang", "role": "agent", "department": "logistics"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = app
        .post(
            "/v1/users",
            ADMIN,
            json!({"name": "nodept", "role": "agent"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "missing_field");
    // A department is one the business's setup knows, named by code or by name.
    let (s, v) = app
        .post(
            "/v1/users",
            ADMIN,
            json!({"name": "lost", "role": "agent", "department": "nowhere"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        (v["error"]["code"].as_str(), v["error"]["field"].as_str()),
        (Some("unknown_department"), Some("department"))
    );
    let (s, v) = app
        .post(
            "/v1/users",
            ADMIN,
            json!({"name": "zhao", "role": "agent", "department": "物流部"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["department"], "logistics");
    let stored: String =
        sqlx::query_scalar("select password_hash from api_users where name = 'wang'")
            .fetch_one(&app.ctx.pool)
            .await
            .unwrap();
    assert!(
        stored.starts_with("$argon2id$"),
        "passwords are argon2id hashes"
    );

    let (s, _) = app
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"name": "wang", "password": "wrong-pass"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"name": "wang", "password": "s3cret-pass"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let token = v["token"].as_str().unwrap().to_string();
    let token_id = v["token_id"].as_str().unwrap().to_string();
    let (s, me) = app.get("/v1/me", &token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["role"], "inspector");
    // Another user cannot revoke it; its owner can, and it stops working at once.
    let other = app.user("li", "agent", Some("customer_service")).await;
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/tokens/{token_id}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/tokens/{token_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get("/v1/me", &token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Ops endpoints are served on the ops listener only; the OpenAPI document on the public one.
    for path in ["/health", "/ready", "/metrics"] {
        let s = app
            .http
            .get(format!("{}{path}", app.ops))
            .send()
            .await
            .expect("ops listener answers")
            .status();
        assert_eq!(s, StatusCode::OK, "{path} on the ops listener");
        let (s, _, _) = app.raw(path, "x").await;
        assert_ne!(s, StatusCode::OK, "{path} on the public listener");
    }
    let (s, _, doc) = app.raw("/openapi.json", "x").await;
    assert_eq!(s, StatusCode::OK);
    let doc: Value = serde_json::from_slice(&doc).unwrap();
    assert!(doc["paths"]["/v1/reports/summary"]["get"].is_object());
    assert!(doc["paths"]["/v1/tickets/{id}/resolve"]["post"].is_object());
}
