//! `loopdesk-ops demo-seed`: a local demo a person can open and work in. Creates one user per role
//! (and a second agent in another department) with passwords generated for this run, feeds tickets
//! through every channel of the pipeline, then works them through the api into every status a desk
//! sees: open, waiting on the customer, resolved, reopened, archived, with a proposal awaiting
//! approval, assigned, and one submitted long enough ago that its first-response clock has breached.
//! Everything goes through the real workers and the api (nothing is written around them), so the
//! timeline, the SLA clocks and the live updates are what they would be in production.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use async_nats::jetstream;
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{json, Value};
use shared::subjects::Subjects;
use sqlx::PgPool;

use crate::OpsError;

/// A demo login: name, display name, role, department.
pub const USERS: [(&str, &str, &str, Option<&str>); 6] = [
    ("li.wei", "李伟", "agent", Some("customer_service")),
    ("zhou.min", "周敏", "agent", Some("logistics")),
    ("wang.fang", "王芳", "inspector", None),
    ("zhao.lei", "赵磊", "supervisor", Some("customer_service")),
    ("admin", "系统管理员", "admin", None),
    ("ops", "运维值班", "ops", None),
];

/// A user created (or whose password was reset) for this run.
#[derive(Debug, Clone)]
pub struct Login {
    pub name: String,
    pub role: String,
    pub department: Option<String>,
    pub password: String,
}

/// The api, called with the bootstrap admin token.
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Result<(u16, Value), OpsError> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| OpsError::Input(format!("api {path}: {e}")))?;
        let status = resp.status().as_u16();
        let value = resp.json().await.unwrap_or(Value::Null);
        Ok((status, value))
    }

    /// POSTs and insists on success.
    async fn act(&self, path: &str, body: Value) -> Result<Value, OpsError> {
        let (status, v) = self.post(path, body).await?;
        if !(200..300).contains(&status) {
            return Err(OpsError::Input(format!(
                "api {path} answered {status}: {v}"
            )));
        }
        Ok(v)
    }
}

/// Creates the demo users, or resets their passwords when they exist, each to a new random one.
pub async fn users(api: &Api) -> Result<Vec<Login>, OpsError> {
    let mut out = Vec::new();
    for (name, display_name, role, department) in USERS {
        let password = Alphanumeric.sample_string(&mut rand::rng(), 14);
        let (status, v) = api
            .post(
                "/v1/users",
                json!({"name": name, "display_name": display_name, "role": role,
                       "department": department, "password": password}),
            )
            .await?;
        match status {
            201 => {}
            409 => {
                api.act(
                    &format!("/v1/users/{name}/password"),
                    json!({"new_password": password}),
                )
                .await?;
            }
            _ => return Err(OpsError::Input(format!("creating {name}: {status} {v}"))),
        }
        out.push(Login {
            name: name.into(),
            role: role.into(),
            department: department.map(str::to_string),
            password,
        });
    }
    Ok(out)
}

/// What happens to a demo ticket once it is routed.
#[derive(Debug, Clone, Copy)]
enum Fate {
    Open,
    Waiting,
    Resolved,
    Reopened,
    Archived,
    Proposed,
    Assigned,
}

const FATES: [Fate; 7] = [
    Fate::Open,
    Fate::Waiting,
    Fate::Resolved,
    Fate::Reopened,
    Fate::Archived,
    Fate::Proposed,
    Fate::Assigned,
];

async fn work(api: &Api, no: &str, fate: Fate) -> Result<(), OpsError> {
    let p = |a: &str| format!("/v1/tickets/{no}/{a}");
    let reply = json!({"message": "您好，我们已收到您的反馈，正在处理。"});
    match fate {
        Fate::Open => {}
        Fate::Waiting => {
            api.act(&p("reply"), reply).await?;
            api.act(&p("wait"), json!({"reason": "请客户提供订单截图"}))
                .await?;
        }
        Fate::Resolved | Fate::Reopened | Fate::Archived => {
            api.act(&p("reply"), reply).await?;
            api.act(
                &p("steps"),
                json!({"step": 3, "result": "物流信息核实完毕", "remark": "仓库已确认"}),
            )
            .await?;
            api.act(
                &p("resolve"),
                json!({"resolution": "full", "first_contact": true,
                       "solution": "已为客户补发商品并致歉", "follow_up_plan": "三天后回访确认收货"}),
            )
            .await?;
            match fate {
                Fate::Reopened => {
                    api.act(&p("reopen"), json!({"reason": "客户反馈问题仍未解决"}))
                        .await?;
                }
                Fate::Archived => {
                    api.act(&p("archive"), json!({})).await?;
                }
                _ => {}
            }
        }
        Fate::Proposed => {
            api.act(&p("contact"), json!({"note": "电话联系客户确认情况"}))
                .await?;
            api.act(
                &p("steps"),
                json!({"step": 4, "solution": "为客户办理退款，预计三个工作日到账", "result": "待主管审批"}),
            )
            .await?;
        }
        Fate::Assigned => {
            api.act(&p("assign"), json!({"owner": "li.wei"})).await?;
        }
    }
    Ok(())
}

/// Publishes two submissions per channel (and one old enough to have breached its first-response
/// deadline), waits for the pipeline to register and route them, then works them into their fates.
/// Returns how many tickets ended in each status.
pub async fn tickets(
    js: &jetstream::Context,
    subjects: &Subjects,
    pool: &PgPool,
    api: &Api,
    examples: &Path,
    wait: Duration,
) -> Result<BTreeMap<String, i64>, OpsError> {
    let mut feed = Vec::new();
    for round in 0..2 {
        for (channel, mut body) in crate::demo::examples(examples)? {
            body["external_id"] = Value::String(format!(
                "{}-{round}",
                body["external_id"].as_str().unwrap_or_default()
            ));
            feed.push((channel, body));
        }
    }
    // A phone log entered for a call of yesterday: its first-response deadline has passed.
    if let Some((channel, body)) = feed.iter().find(|(c, _)| c.as_str() == "phone").cloned() {
        let mut late = body;
        late["external_id"] = Value::String(format!(
            "{}-late",
            late["external_id"].as_str().unwrap_or_default()
        ));
        late["submitted_at"] =
            Value::String((chrono::Utc::now() - chrono::Duration::hours(30)).to_rfc3339());
        late["description"] =
            Value::String("昨天来电反映的退款问题至今无人回复，客户非常不满。".into());
        feed.push((channel, late));
    }
    crate::demo::publish(js, subjects, &feed).await?;
    let ids: Vec<String> = feed
        .iter()
        .map(|(_, b)| b["external_id"].as_str().unwrap_or_default().to_string())
        .collect();
    let deadline = tokio::time::Instant::now() + wait;
    let routed = loop {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "select external_id, ticket_no from tickets
             where external_id = any($1) and status <> 'new' order by ticket_no",
        )
        .bind(&ids)
        .fetch_all(pool)
        .await?;
        if rows.len() >= ids.len() || tokio::time::Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    for (i, (external_id, no)) in routed.iter().enumerate() {
        if external_id.ends_with("-late") {
            continue;
        }
        work(api, no, FATES[i % FATES.len()]).await?;
    }
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "select status, count(*) from tickets where external_id = any($1) group by status order by status",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    Ok(counts.into_iter().collect())
}
