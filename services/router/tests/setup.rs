//! The router follows the business's setup in Postgres: a route changed (and announced on
//! `{prefix}.config.changed`, as the api does) is applied by every running replica without a restart,
//! a refused change leaves the routes as they were, and a rollback brings the old route back.

mod common;

use std::time::Duration;

use common::{classified, config_copy, routing_of, start, submit};
use serde_json::json;
use shared::setup::{self, Changed, Kind};
use shared::testkit::TestContext;

const DAMAGED_SHOES: &str = "鞋子尺码偏小，想退货换大一码";

async fn until(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_apply_a_route_change_without_a_restart_and_a_rollback() {
    let ctx = TestContext::new().await;
    let cfg = config_copy();
    let (a, _) = start(&ctx, &cfg).await;
    let (b, _) = start(&ctx, &cfg).await;

    let id = submit(&ctx, DAMAGED_SHOES).await;
    classified(&ctx, id).await;
    assert_eq!(routing_of(&ctx, id).await.0.as_deref(), Some("after_sales"));

    // An admin sends after-sales tickets to logistics.
    let current = setup::version(&ctx.pool, Kind::Routing, None)
        .await
        .unwrap()
        .unwrap();
    let mut body = current.body.clone();
    let routes = body["routes"].as_array_mut().unwrap();
    let r = routes
        .iter_mut()
        .find(|r| r["when"] == json!({"category": "after_sales"}))
        .unwrap();
    r["departments"] = json!(["logistics"]);
    let saved = setup::save(
        &ctx.pool,
        Kind::Routing,
        &body,
        "admin:test",
        "after-sales to logistics",
    )
    .await
    .unwrap();
    assert_eq!(saved.version, 2);
    setup::announce(
        &ctx.nats,
        &ctx.subjects,
        &Changed {
            kind: Kind::Routing,
            version: 2,
            author: "admin:test".into(),
        },
    )
    .await
    .unwrap();
    for app in [&a, &b] {
        until("both replicas apply version 2", || {
            app.handle
                .setup_versions()
                .and_then(|v| v.get(&Kind::Routing).copied())
                == Some(2)
        })
        .await;
    }
    let id = submit(&ctx, DAMAGED_SHOES).await;
    classified(&ctx, id).await;
    assert_eq!(routing_of(&ctx, id).await.0.as_deref(), Some("logistics"));

    // A route to a department that does not exist is refused; the replicas keep version 2.
    r_to(&mut body, "after_sales", "warehouse");
    let err = setup::save(&ctx.pool, Kind::Routing, &body, "admin:test", "")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("warehouse"), "{err}");

    // Rolled back without an announcement: the replicas' poll finds it.
    let back = setup::rollback(&ctx.pool, Kind::Routing, "admin:test")
        .await
        .unwrap();
    assert_eq!(back.version, 3);
    for app in [&a, &b] {
        until("both replicas apply the rollback", || {
            app.handle
                .setup_versions()
                .and_then(|v| v.get(&Kind::Routing).copied())
                == Some(3)
        })
        .await;
    }
    let id = submit(&ctx, DAMAGED_SHOES).await;
    classified(&ctx, id).await;
    assert_eq!(routing_of(&ctx, id).await.0.as_deref(), Some("after_sales"));
    a.stop().await;
    b.stop().await;
    let _ = std::fs::remove_dir_all(cfg);
}

fn r_to(body: &mut serde_json::Value, category: &str, department: &str) {
    for r in body["routes"].as_array_mut().unwrap() {
        if r["when"] == json!({ "category": category }) {
            r["departments"] = json!([department]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_category_the_team_added_routes_where_its_route_says() {
    let ctx = TestContext::new().await;
    let cfg = config_copy();
    let (app, _) = start(&ctx, &cfg).await;
    setup::add_categories(
        &ctx.pool,
        &["售后投诉".to_string()],
        Some("after_sales"),
        "supervisor:test",
    )
    .await
    .unwrap();
    until("the new category is applied", || {
        app.handle
            .current()
            .labels
            .has(loopdesk_router::labels::Dimension::Category, "售后投诉")
    })
    .await;
    let d = app.handle.current().routing.route("售后投诉", "", &[]);
    assert_eq!(d.lead, "after_sales");
    app.stop().await;
    let _ = std::fs::remove_dir_all(cfg);
}
