//! The business's setup through the api: the taxonomy every signed-in person reads, an admin's change
//! stored as a new version and announced on the bus, a breaking change refused with its reasons, the
//! history with its differences, a rollback, and the categories an import adds.

mod common;

use std::time::Duration;

use common::{TestApp, ADMIN};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn codes(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|n| n["code"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_taxonomy_comes_from_the_setup_with_both_languages() {
    let app = TestApp::spawn().await;
    let agent = app.user("li.wei", "agent", Some("customer_service")).await;
    let (status, t) = app.get("/v1/taxonomy", &agent).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert!(codes(&t["categories"]).contains(&"technical_fault".to_string()));
    let fault = t["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "technical_fault")
        .unwrap();
    assert_eq!(fault["name_zh"], "技术故障");
    assert_eq!(fault["name_en"], "Technical fault");
    assert_eq!(
        codes(&t["priorities"]),
        vec!["urgent", "general", "suggestion"]
    );
    assert!(codes(&t["departments"]).contains(&"logistics".to_string()));
    assert!(codes(&t["tags"]).contains(&"app_crash".to_string()));
    assert!(codes(&t["feedback_types"]).contains(&"service_attitude".to_string()));
    assert_eq!(
        t["versions"]["taxonomy"], 1,
        "seeded from config/ on first read"
    );

    let (status, _) = app.call(Method::GET, "/v1/taxonomy", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Reading the taxonomy is for everyone; changing the setup is for admins only.
    let (status, e) = app.get("/v1/setup/taxonomy", &agent).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
    let (status, e) = app.get("/v1/setup/nonsense", ADMIN).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
}

#[tokio::test]
async fn a_change_is_versioned_announced_diffed_and_rolled_back() {
    let app = TestApp::spawn().await;
    let mut changes = app
        .ctx
        .nats
        .subscribe(app.ctx.subjects.subject("config.changed"))
        .await
        .unwrap();
    app.ctx.nats.flush().await.unwrap();

    let (status, doc) = app.get("/v1/setup/taxonomy", ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["author"], "seed");
    let mut body = doc["body"].clone();
    body["categories"][0]["name_en"] = json!("Before buying");
    body["categories"]
        .as_array_mut()
        .unwrap()
        .push(json!({"code": "billing", "name_zh": "账单问题", "name_en": "Billing"}));

    // A category no route serves is refused, with the category named, and nothing is stored.
    let (status, e) = app
        .call(
            Method::PUT,
            "/v1/setup/taxonomy",
            Some(ADMIN),
            Some(json!({"body": body, "note": "billing"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["code"], "setup_refused");
    let problems = e["error"]["details"]["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["code"] == "category_without_route" && p["subject"] == "billing"),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("billing"),
        "{e}"
    );

    // The route first, to a department that does not exist: refused too.
    let (_, routing) = app.get("/v1/setup/routing", ADMIN).await;
    let mut rbody = routing["body"].clone();
    rbody["routes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"when": {"category": "billing"}, "departments": ["finance"]}));
    let (status, e) = app
        .call(
            Method::PUT,
            "/v1/setup/routing",
            Some(ADMIN),
            Some(json!({"body": rbody})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let problems = e["error"]["details"]["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["code"] == "unknown_department" && p["subject"] == "finance"),
        "{e}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p["code"] == "unknown_category" && p["subject"] == "billing"),
        "{e}"
    );

    // A deadline of zero is refused.
    let mut zero = routing["body"].clone();
    zero["first_response_hours"]["urgent"] = json!(0);
    let (status, e) = app
        .call(
            Method::PUT,
            "/v1/setup/routing",
            Some(ADMIN),
            Some(json!({"body": zero})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(
        e["error"]["details"]["problems"][0]["code"], "zero_deadline",
        "{e}"
    );

    // Renaming a category is fine: version 2, announced on the bus.
    let mut renamed = doc["body"].clone();
    renamed["categories"][0]["name_en"] = json!("Before buying");
    let (status, saved) = app
        .call(
            Method::PUT,
            "/v1/setup/taxonomy",
            Some(ADMIN),
            Some(json!({"body": renamed, "note": "plainer English", "base_version": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["changed"], true);
    let msg = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("config.changed is announced")
        .unwrap();
    let announced: Value = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(
        announced,
        json!({"kind": "taxonomy", "version": 2, "author": "admin:bootstrap"})
    );
    let (_, t) = app.get("/v1/taxonomy", ADMIN).await;
    assert_eq!(t["categories"][0]["name_en"], "Before buying");

    // Saving the same document again adds no version; an editor working from version 1 is told.
    let (_, again) = app
        .call(
            Method::PUT,
            "/v1/setup/taxonomy",
            Some(ADMIN),
            Some(json!({"body": renamed})),
        )
        .await;
    assert_eq!(
        again,
        json!({"kind": "taxonomy", "version": 2, "changed": false})
    );
    let (status, e) = app
        .call(
            Method::PUT,
            "/v1/setup/taxonomy",
            Some(ADMIN),
            Some(json!({"body": doc["body"], "base_version": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["error"]["code"], "stale_version");

    // History: newest first, who and why, and what changed.
    let (status, h) = app.get("/v1/setup/taxonomy/history", ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{h}");
    assert_eq!(h[0]["version"], 2);
    assert_eq!(h[0]["note"], "plainer English");
    assert_eq!(h[0]["author"], "admin:bootstrap");
    assert_eq!(
        h[0]["changes"],
        json!([{"path": "categories[pre_sales].name_en", "op": "changed", "before": "Pre-sales consultation", "after": "Before buying"}])
    );
    assert_eq!(h[1]["version"], 1);

    // One step back.
    let (status, back) = app
        .call(
            Method::POST,
            "/v1/setup/taxonomy/rollback",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["version"], 3);
    let (_, t) = app.get("/v1/taxonomy", ADMIN).await;
    assert_eq!(t["categories"][0]["name_en"], "Pre-sales consultation");
    let (_, h) = app.get("/v1/setup/taxonomy/history?limit=1", ADMIN).await;
    assert_eq!(h.as_array().unwrap().len(), 1);
    assert_eq!(h[0]["note"], "rollback to version 1");

    let (status, routing_only) = app
        .call(
            Method::POST,
            "/v1/setup/routing/rollback",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "routing has one version only: {routing_only}"
    );

    let (status, all) = app.get("/v1/setup/export", ADMIN).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["taxonomy"]["version"], 3);
    assert!(all["routing"]["body"]["routes"].is_array());
}

#[tokio::test]
async fn an_import_adds_a_teams_labels_as_categories_with_routes() {
    let app = TestApp::spawn().await;
    let labels = vec![
        "技术咨询".to_string(),
        "售后投诉".into(),
        "技术故障".into(),
        " ".into(),
        "技术咨询".into(),
    ];
    let added = shared::setup::add_categories(
        &app.ctx.pool,
        &labels,
        Some("after_sales"),
        "supervisor:wang",
    )
    .await
    .unwrap();
    let added: Vec<(&str, &str)> = added
        .iter()
        .map(|a| (a.code.as_str(), a.department.as_str()))
        .collect();
    assert_eq!(
        added,
        vec![("技术咨询", "after_sales"), ("售后投诉", "after_sales")],
        "known and blank labels skipped"
    );
    let s = shared::setup::load(&app.ctx.pool).await.unwrap();
    assert_eq!(
        s.taxonomy.find_category("技术咨询").unwrap().name_zh,
        "技术咨询"
    );
    let d = s
        .routing
        .route(&s.departments.default_department, "技术咨询", "", &[]);
    assert_eq!(d.lead, "after_sales");
    let (_, t) = app.get("/v1/taxonomy", ADMIN).await;
    assert!(codes(&t["categories"]).contains(&"售后投诉".to_string()));
    let (_, h) = app.get("/v1/setup/routing/history", ADMIN).await;
    assert_eq!(h[0]["author"], "supervisor:wang");
    assert_eq!(h[0]["note"], "categories added: 技术咨询, 售后投诉");
}

/// A new category and the route that serves it are one change: each alone breaks the setup, saved
/// together they make one version of each kind; a category goes again with its routes.
#[tokio::test]
async fn kinds_that_depend_on_each_other_are_saved_together() {
    let app = TestApp::spawn().await;
    let (_, taxonomy) = app.get("/v1/setup/taxonomy", ADMIN).await;
    let (_, routing) = app.get("/v1/setup/routing", ADMIN).await;
    let mut t = taxonomy["body"].clone();
    t["categories"]
        .as_array_mut()
        .unwrap()
        .push(json!({"code": "billing", "name_zh": "账单问题", "name_en": "Billing"}));
    let mut r = routing["body"].clone();
    r["routes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"when": {"category": "billing"}, "departments": ["sales"]}));
    let put = |documents: Value| {
        app.call(
            Method::PUT,
            "/v1/setup",
            Some(ADMIN),
            Some(json!({"documents": documents, "note": "billing"})),
        )
    };

    // Each document alone is refused, with the reason.
    let (s, e) = put(json!([{"kind": "taxonomy", "body": t}])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (s, e) = put(json!([{"kind": "routing", "body": r}])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["code"], "setup_refused");
    // A kind named twice, or none, is a bad request.
    let (s, e) = put(json!([{"kind": "routing", "body": r}, {"kind": "routing", "body": r}])).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("documents"))
    );
    let (s, _) = put(json!([])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // A stale base version of either is refused.
    let (s, e) = put(
        json!([{"kind": "taxonomy", "body": t, "base_version": 0}, {"kind": "routing", "body": r}]),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("stale_version")),
        "{e}"
    );

    // Together: one new version of each, and the category is routed.
    let (s, saved) = put(json!([
        {"kind": "taxonomy", "body": t, "base_version": taxonomy["version"]},
        {"kind": "routing", "body": r, "base_version": routing["version"]}
    ]))
    .await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    assert_eq!(saved[0]["kind"], "taxonomy");
    assert_eq!(
        saved[0]["version"],
        taxonomy["version"].as_i64().unwrap() + 1
    );
    assert_eq!(
        saved[1]["version"],
        routing["version"].as_i64().unwrap() + 1
    );
    assert_eq!(
        (saved[0]["changed"].as_bool(), saved[1]["changed"].as_bool()),
        (Some(true), Some(true))
    );
    let (_, view) = app.get("/v1/taxonomy", ADMIN).await;
    assert!(view.to_string().contains("账单问题"), "{view}");

    // And removed together with its route.
    let (s, saved) = put(json!([
        {"kind": "taxonomy", "body": taxonomy["body"]},
        {"kind": "routing", "body": routing["body"]}
    ]))
    .await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    let (_, now) = app.get("/v1/setup/taxonomy", ADMIN).await;
    assert_eq!(now["body"], taxonomy["body"]);
}

/// A department people still work in cannot be removed: they would be left in a department that no
/// longer exists. Once nobody active works there, it can.
#[tokio::test]
async fn a_department_people_work_in_is_not_removed() {
    let app = TestApp::spawn().await;
    let (_, doc) = app.get("/v1/setup/departments", ADMIN).await;
    let before = doc["body"].clone();
    let mut with = before.clone();
    with["departments"]
        .as_array_mut()
        .unwrap()
        .push(json!({"code": "warehouse", "name_zh": "仓储部", "name_en": "Warehouse"}));
    let put = |body: Value| {
        app.call(
            Method::PUT,
            "/v1/setup/departments",
            Some(ADMIN),
            Some(json!({"body": body, "note": "warehouse"})),
        )
    };
    let (s, e) = put(with.clone()).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (s, e) = app
        .post(
            "/v1/users",
            ADMIN,
            json!({"name": "wang.cang", "role": "agent", "department": "warehouse", "password": "secret-123"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");

    let (s, e) = put(before.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let problem = &e["error"]["details"]["problems"][0];
    assert_eq!(problem["code"], "department_has_people", "{e}");
    assert_eq!(problem["subject"], "warehouse");

    let (s, e) = app
        .call(
            Method::PATCH,
            "/v1/users/wang.cang",
            Some(ADMIN),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (s, e) = put(before).await;
    assert_eq!(s, StatusCode::OK, "nobody active works there now: {e}");
}

#[tokio::test]
async fn a_department_a_route_serves_is_not_removed() {
    let app = TestApp::spawn().await;
    let (_, doc) = app.get("/v1/setup/departments", ADMIN).await;
    let (_, routing) = app.get("/v1/setup/routing", ADMIN).await;
    let routes = routing["body"]["routes"].as_array().unwrap();
    let (index, route) = routes
        .iter()
        .enumerate()
        .find(|(_, r)| {
            r["departments"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d == "logistics")
        })
        .expect("the default routes send something to logistics");
    assert!(route["departments"]
        .as_array()
        .unwrap()
        .contains(&json!("logistics")));
    let mut without = doc["body"].clone();
    without["departments"]
        .as_array_mut()
        .unwrap()
        .retain(|d| d["code"] != "logistics");

    let (s, e) = app
        .call(
            Method::PUT,
            "/v1/setup/departments",
            Some(ADMIN),
            Some(json!({"body": without, "note": "no logistics"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let problems = e["error"]["details"]["problems"].as_array().unwrap();
    let in_route = problems
        .iter()
        .find(|p| p["code"] == "department_in_route")
        .unwrap_or_else(|| panic!("the removal is named: {e}"));
    assert_eq!(in_route["kind"], "departments", "{e}");
    assert_eq!(in_route["subject"], "logistics", "{e}");
    assert_eq!(in_route["path"], format!("routes[{index}]"), "{e}");
    assert!(
        !problems
            .iter()
            .any(|p| p["kind"] == "routing" && p["code"] == "unknown_department"),
        "the route is not blamed for a department the change removes: {e}"
    );
    let (_, now) = app.get("/v1/setup/departments", ADMIN).await;
    assert_eq!(now["version"], doc["version"], "nothing was stored");
}
