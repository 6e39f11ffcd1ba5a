//! Spawns the real api per test: its own database and subject prefix (shared::testkit), the app on port 0
//! with a bootstrap admin token passed through settings (never through the process environment).

#![allow(dead_code)]

use api::ApiSettings;
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};
use shared::testkit::TestContext;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const ADMIN: &str = "test-admin-token-of-at-least-32-characters";

pub struct TestApp {
    pub ctx: TestContext,
    pub base: String,
    /// The ops listener (health, readiness, metrics).
    pub ops: String,
    pub http: reqwest::Client,
    /// The running api's shared state (its counters, its settings).
    pub state: api::AppState,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(ApiSettings::default()).await
    }

    pub async fn spawn_with(mut api: ApiSettings) -> TestApp {
        let ctx = TestContext::new().await;
        api.admin_token = Some(SecretString::from(ADMIN));
        api.rollup_fold_ms = 100;
        let shutdown = CancellationToken::new();
        let running = api::Application::build(ctx.settings.clone(), api, shutdown.clone())
            .await
            .expect("api starts");
        let (base, ops) = (
            format!("http://{}", running.addr),
            format!("http://{}", running.ops_addr),
        );
        let state = running.handle.clone();
        // Serves until `shutdown` (the test's end).
        tokio::spawn(running.run_until_stopped());
        TestApp {
            ctx,
            base,
            ops,
            http: reqwest::Client::new(),
            state,
            shutdown,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request is sent");
        let status = resp.status();
        let bytes = resp.bytes().await.expect("body is read");
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn raw(&self, path: &str, token: &str) -> (StatusCode, String, Vec<u8>) {
        let resp = self
            .http
            .get(format!("{}{}", self.base, path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request is sent");
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (status, ct, resp.bytes().await.expect("body").to_vec())
    }

    /// Creates a user with a password (and no token).
    pub async fn user_with_password(
        &self,
        name: &str,
        role: &str,
        department: Option<&str>,
        password: &str,
    ) {
        let (s, v) = self
            .post(
                "/v1/users",
                ADMIN,
                json!({"name": name, "role": role, "department": department, "password": password}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "user {name} is created: {v}");
    }

    /// Signs in through the browser path and returns the session.
    pub async fn sign_in(&self, name: &str, password: &str) -> Browser {
        let resp = self
            .http
            .post(format!("{}/v1/auth/session", self.base))
            .json(&json!({"name": name, "password": password}))
            .send()
            .await
            .expect("request is sent");
        assert_eq!(resp.status(), StatusCode::OK, "{name} signs in");
        let set_cookie = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("a session cookie is set")
            .to_string();
        let cookie = set_cookie
            .split(';')
            .next()
            .expect("cookie pair")
            .to_string();
        let body: Value = resp.json().await.expect("session body");
        Browser {
            base: self.base.clone(),
            http: self.http.clone(),
            cookie,
            set_cookie,
            csrf: body["csrf_token"].as_str().expect("csrf token").to_string(),
            body,
        }
    }

    /// Creates a user and returns a token for it.
    pub async fn user(&self, name: &str, role: &str, department: Option<&str>) -> String {
        let (s, _) = self
            .post(
                "/v1/users",
                ADMIN,
                json!({"name": name, "role": role, "department": department}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "user {name} is created");
        let (s, v) = self
            .post(&format!("/v1/users/{name}/tokens"), ADMIN, json!({}))
            .await;
        assert_eq!(s, StatusCode::CREATED);
        v["token"].as_str().expect("token issued").to_string()
    }
}

/// A ticket written straight into the database, with exactly the fields a test needs.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub no: String,
    pub submitted: DateTime<Utc>,
    pub channel: &'static str,
    pub department: Option<&'static str>,
    pub category: Option<&'static str>,
    pub owner: Option<&'static str>,
    pub priority: Option<&'static str>,
    pub status: &'static str,
    pub first_reply: Option<DateTime<Utc>>,
    pub resolved: Option<DateTime<Utc>>,
    pub resolution: Option<&'static str>,
    pub first_contact: Option<bool>,
    pub satisfaction: Option<&'static str>,
    pub nps: Option<i16>,
    pub description: String,
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test timestamp")
        .with_timezone(&Utc)
}

impl NewTicket {
    pub fn new(no: &str, submitted: &str) -> Self {
        NewTicket {
            no: no.to_string(),
            submitted: at(submitted),
            channel: "form",
            department: Some("customer_service"),
            category: Some("other"),
            owner: None,
            priority: Some("general"),
            status: "open",
            first_reply: None,
            resolved: None,
            resolution: None,
            first_contact: None,
            satisfaction: None,
            nps: None,
            description: format!("ticket {no}"),
        }
    }

    pub async fn insert(&self, pool: &sqlx::PgPool) -> Uuid {
        let id = Uuid::now_v7();
        sqlx::query(
            "insert into tickets (id, ticket_no, channel, external_id, submitted_at, received_at, customer_name,
                customer_phone, description, priority, status, category, lead_department, departments, owner,
                first_reply_at, resolved_at, resolution, first_contact_resolved, survey_satisfaction, survey_nps)
             values ($1, $2, $3, $2, $4, $4, '张三', '13812345678', $5, $6, $7, $8, $9,
                case when $9::text is null then '{}'::text[] else array[$9::text] end, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(id)
        .bind(&self.no)
        .bind(self.channel)
        .bind(self.submitted)
        .bind(&self.description)
        .bind(self.priority)
        .bind(self.status)
        .bind(self.category)
        .bind(self.department)
        .bind(self.owner)
        .bind(self.first_reply)
        .bind(self.resolved)
        .bind(self.resolution)
        .bind(self.first_contact)
        .bind(self.satisfaction)
        .bind(self.nps)
        .execute(pool)
        .await
        .expect("test ticket is inserted");
        id
    }
}

/// A signed-in browser: the session cookie and the CSRF token it was given.
#[derive(Clone)]
pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
    /// `loopdesk_session=…`, as a browser would send it back.
    pub cookie: String,
    /// The whole `Set-Cookie` header of the sign-in.
    pub set_cookie: String,
    pub csrf: String,
    /// The sign-in answer.
    pub body: Value,
}

impl Browser {
    /// A request with the cookie; `csrf` adds the X-CSRF-Token header.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        csrf: bool,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("cookie", &self.cookie);
        if csrf {
            req = req.header("x-csrf-token", &self.csrf);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request is sent");
        let status = resp.status();
        let bytes = resp.bytes().await.expect("body is read");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None, false).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body), true).await
    }
}
