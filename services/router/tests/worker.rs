//! The router worker against real Postgres and NATS JetStream: routing per category, cross-department
//! tickets, needs-review, redelivery, reclassification, owner assignment, two replicas and the ops
//! HTTP side.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use shared::messages::feedback::Priority;
use shared::messages::router::{TicketClassified, TicketReclassify, TicketRouted, TicketWithdrawn};
use shared::messages::SCHEMA_VERSION;
use shared::subjects::Stream;
use shared::testkit::TestContext;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_category_goes_to_its_department_and_lead() {
    let ctx = TestContext::new().await;
    let cfg = config_copy();
    let (app, _) = start(&ctx, &cfg).await;
    // (text, expected category, expected lead) — leads from config/router/routing.toml.
    let cases = [
        ("请问这款手机有没有256G的版本？有货吗", "pre_sales", "sales"),
        ("同一个订单扣了两次钱，请马上处理", "order", "order_ops"),
        ("鞋子尺码偏小，想退货换大一码", "after_sales", "after_sales"),
        ("APP一直闪退，登录不了", "technical_fault", "product"),
        (
            "客服态度太差了，还挂我电话",
            "service_complaint",
            "customer_service",
        ),
        (
            "快递五天了还没到，物流一直不更新",
            "logistics_delay",
            "logistics",
        ),
        ("建议APP增加夜间模式", "other", "customer_service"),
    ];
    let mut ids = Vec::new();
    for (text, _, _) in &cases {
        ids.push(submit(&ctx, text).await);
    }
    for (id, (text, category, lead)) in ids.iter().zip(&cases) {
        classified(&ctx, *id).await;
        let (l, depts, status, _) = routing_of(&ctx, *id).await;
        let cat: Option<String> = sqlx::query_scalar("select category from tickets where id = $1")
            .bind(id)
            .fetch_one(&ctx.pool)
            .await
            .expect("category");
        assert_eq!(cat.as_deref(), Some(*category), "category of {text}");
        assert_eq!(l.as_deref(), Some(*lead), "lead of {text}");
        assert_eq!(depts.first().map(String::as_str), Some(*lead));
        assert_eq!(status, "open");
    }
    // One classified event per ticket and a routed event addressed to each lead.
    let classified = ctx
        .collect(
            Stream::Ticket,
            &ctx.subjects.subject("ticket.classified"),
            7,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(classified.len(), 7);
    let routed = ctx
        .collect(
            Stream::Ticket,
            &ctx.subjects.subject("ticket.routed.>"),
            7,
            Duration::from_secs(10),
        )
        .await;
    for (id, (_, _, lead)) in ids.iter().zip(&cases) {
        let m = routed
            .iter()
            .map(|s| (s.subject.clone(), s.json::<TicketRouted>()))
            .find(|(_, r)| r.ticket_id == *id && r.is_lead)
            .expect("routed event for the lead");
        assert_eq!(m.0, ctx.subjects.subject(&format!("ticket.routed.{lead}")));
        // Personal data is masked in what departments receive.
        assert_eq!(m.1.customer.name.as_deref(), Some("张先生/女士"));
        assert_eq!(m.1.customer.phone.as_deref(), Some("*******5678"));
    }
    // The decision and its reasons are on the timeline.
    let entries = shared::timeline::for_ticket(&ctx.pool, ids[3])
        .await
        .expect("timeline");
    let e = entries
        .iter()
        .find(|e| e.kind == "classified")
        .expect("classified entry");
    assert_eq!(e.actor, "worker:router");
    let reasons = e.data["decision"]["category"]["reasons"].to_string();
    assert!(
        reasons.contains("tech."),
        "reasons name the rules: {reasons}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_parcel_goes_to_customer_service_and_logistics_with_customer_service_leading() {
    let ctx = TestContext::new().await;
    let cfg = config_copy();
    let (app, _) = start(&ctx, &cfg).await;
    let id = submit(&ctx, "快递到了，外包装破损，里面的杯子碎了两个").await;
    classified(&ctx, id).await;
    let (lead, depts, _, _) = routing_of(&ctx, id).await;
    assert_eq!(lead.as_deref(), Some("customer_service"));
    assert_eq!(
        depts,
        vec!["customer_service".to_string(), "logistics".to_string()]
    );
    let routed = ctx
        .collect(
            Stream::Ticket,
            &ctx.subjects.subject("ticket.routed.>"),
            2,
            Duration::from_secs(10),
        )
        .await;
    let mut seen: Vec<(String, bool)> = routed
        .iter()
        .map(|s| {
            let r: TicketRouted = s.json();
            (r.department, r.is_lead)
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("customer_service".into(), true),
            ("logistics".into(), false)
        ]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_confidence_waits_for_review_instead_of_routing() {
    let ctx = TestContext::new().await;
    let cfg = config_copy();
    let (app, _) = start(&ctx, &cfg).await;
    let id = submit(&ctx, "嗯").await;
    classified(&ctx, id).await;
    let (lead, depts, status, _) = routing_of(&ctx, id).await;
    assert_eq!(status, "needs_review");
    assert_eq!(lead, None);
    assert!(depts.is_empty());
    let c = ctx
        .collect(
            Stream::Ticket,
            &ctx.subjects.subject("ticket.classified"),
            1,
            Duration::from_secs(10),
        )
        .await;
    let m: TicketClassified = c[0].json();
    assert!(m.needs_review);
    assert!(!m.review_reasons.is_empty());
    let routed = ctx
        .count(
            Stream::Ticket,
            &ctx.subjects.subject("ticket.routed.>"),
            Duration::from_millis(300),
        )
        .await;
    assert_eq!(routed, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_ticket_created_routes_once() {
    let ctx = TestContext::new().await;
    let cfg = config_copy();
    let (app, _) = start(&ctx, &cfg).await;
    let text = "APP一直闪退，登录不了";
    let (id, no) = insert_ticket(&ctx, text, "app").await;
    // Two copies with different message ids, so JetStream's dedupe does not hide the second.
    ctx.publish(ctx.subjects.ticket_created(), created(id, &no, text))
        .await;
    ctx.publish(ctx.subjects.ticket_created(), created(id, &no, text))
        .await;
    classified(&ctx, id).await;
    let n = ctx
        .count(
            Stream::Ticket,
            &ctx.subjects.subject("ticket.classified"),
            Duration::from_secs(1),
        )
        .await;
    assert_eq!(n, 1);
    let entries = shared::timeline::for_ticket(&ctx.pool, id)
        .await
        .expect("timeline");
    assert_eq!(entries.iter().filter(|e| e.kind == "classified").count(), 1);
    app.stop().await;
}

/// Like every worker, the router answers health, readiness and Prometheus metrics on its HTTP side, so
/// an orchestrator can probe it and `scripts/run` can wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_answers_health_readiness_and_metrics() {
    let ctx = TestContext::new().await;
    let cfg = config_copy();
    let (app, _) = start(&ctx, &cfg).await;
    let text = "快递五天了还没到，物流一直不更新";
    let (id, no) = insert_ticket(&ctx, text, "web").await;
    ctx.publish(ctx.subjects.ticket_created(), created(id, &no, text))
        .await;
    classified(&ctx, id).await;
    let client = reqwest::Client::new();
    for path in ["health", "ready"] {
        let answer = client
            .get(format!("http://{}/{path}", app.addr))
            .send()
            .await
            .expect("router answers");
        assert_eq!(answer.status(), 200, "/{path}");
    }
    let metrics = client
        .get(format!("http://{}/metrics", app.addr))
        .send()
        .await
        .expect("router answers")
        .text()
        .await
        .expect("metrics text");
    assert!(
        metrics.contains("loopdesk_messages_total") && metrics.contains("loopdesk_batch_seconds"),
        "{metrics}"
    );
    app.stop().await;
}

fn reclassify(id: Uuid, event_id: Uuid, category: &str) -> Vec<u8> {
    serde_json::to_vec(&TicketReclassify {
        schema_version: SCHEMA_VERSION,
        event_id,
        ticket_id: id,
        occurred_at: Utc::now(),
        inspector: "zhang.min".into(),
        category: category.into(),
        priority: Some(Priority::General),
        feedback_type: Some("product_quality".into()),
        tags: None,
        comment: Some("闪退是产品问题".into()),
    })
    .expect("serialisable")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reclassification_reroutes_withdraws_stores_training_data_and_is_idempotent() {
    let ctx = TestContext::new().await;
    let cfg = config_copy();
    let (app, _) = start(&ctx, &cfg).await;
    let id = submit(&ctx, "客服态度太差了，还挂我电话").await;
    classified(&ctx, id).await;
    assert_eq!(
        routing_of(&ctx, id).await.0.as_deref(),
        Some("customer_service")
    );

    let event = Uuid::new_v4();
    let subject = ctx.subjects.subject("ticket.reclassify");
    ctx.publish(subject.clone(), reclassify(id, event, "technical_fault"))
        .await;
    wait_for(
        &ctx,
        "select classification_revision = 1 from tickets where id = $1",
        id,
    )
    .await;
    // Redelivery of the same correction changes nothing.
    ctx.publish(subject.clone(), reclassify(id, event, "technical_fault"))
        .await;

    let withdrawn = ctx
        .collect(
            Stream::Ticket,
            &ctx.subjects.subject("ticket.withdrawn.>"),
            1,
            Duration::from_secs(10),
        )
        .await;
    let w: TicketWithdrawn = withdrawn[0].json();
    assert_eq!(w.department, "customer_service");
    assert_eq!(w.new_lead_department.as_deref(), Some("product"));

    tokio::time::sleep(Duration::from_millis(800)).await;
    let (lead, depts, status, _) = routing_of(&ctx, id).await;
    assert_eq!(lead.as_deref(), Some("product"));
    assert_eq!(depts, vec!["product".to_string()]);
    assert_eq!(status, "open");
    let (rev, n): (i32, i64) = sqlx::query_as(
        "select t.classification_revision, (select count(*) from router_corrections c where c.ticket_id = t.id)
         from tickets t where t.id = $1",
    )
    .bind(id)
    .fetch_one(&ctx.pool)
    .await
    .expect("row");
    assert_eq!((rev, n), (1, 1));
    let stored = loopdesk_router::store::corrections(&ctx.pool)
        .await
        .expect("corrections");
    assert_eq!(
        stored,
        vec![(
            "客服态度太差了，还挂我电话".to_string(),
            "technical_fault".to_string(),
            "general".to_string(),
            "product_quality".to_string()
        )]
    );
    let n_withdrawn = ctx
        .count(
            Stream::Ticket,
            &ctx.subjects.subject("ticket.withdrawn.>"),
            Duration::from_millis(200),
        )
        .await;
    assert_eq!(n_withdrawn, 1);
    let entries = shared::timeline::for_ticket(&ctx.pool, id)
        .await
        .expect("timeline");
    let r: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == "reclassified")
        .collect();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].actor, "inspector:zhang.min");

    // A correction naming a category that does not exist is dead-lettered with a reason.
    ctx.publish(subject, reclassify(id, Uuid::new_v4(), "no_such_category"))
        .await;
    let dlq = ctx
        .collect(
            Stream::DeadLetter,
            &ctx.subjects.dead_letters_all(),
            1,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(dlq.len(), 1);
    let err = dlq[0]
        .headers
        .as_ref()
        .and_then(|h| h.get(shared::consumer::dlq_headers::ERROR))
        .map(|v| v.to_string())
        .unwrap_or_default();
    assert!(err.starts_with("unknown_label"), "{err}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_are_assigned_round_robin_in_deadline_order() {
    let ctx = TestContext::new().await;
    let cfg = config_copy();
    {
        let mut conn = ctx.pool.acquire().await.expect("conn");
        // Migrations ran in TestContext::new, so the agents table exists.
        for a in ["amy", "bob"] {
            loopdesk_router::store::set_agent(&mut conn, "sales", a, true)
                .await
                .expect("agent");
        }
        loopdesk_router::store::set_agent(&mut conn, "sales", "carl", false)
            .await
            .expect("agent");
    }
    let (app, _) = start(&ctx, &cfg).await;
    let mut ids = Vec::new();
    for t in [
        "请问这款有没有现货？",
        "这个冰箱和那个型号的区别是什么",
        "支持分期付款吗，有优惠吗",
        "这款耳机防水吗，适合游泳吗",
    ] {
        ids.push(submit(&ctx, t).await);
    }
    for id in &ids {
        classified(&ctx, *id).await;
    }
    let owners: Vec<Option<String>> =
        sqlx::query_scalar("select owner from tickets where id = any($1)")
            .bind(&ids)
            .fetch_all(&ctx.pool)
            .await
            .expect("owners");
    let amy = owners
        .iter()
        .filter(|o| o.as_deref() == Some("amy"))
        .count();
    let bob = owners
        .iter()
        .filter(|o| o.as_deref() == Some("bob"))
        .count();
    assert_eq!((amy, bob), (2, 2), "owners: {owners:?}");
    // The product department's policy is `none`: the supervisor assigns.
    let id = submit(&ctx, "APP一直闪退，登录不了").await;
    classified(&ctx, id).await;
    assert_eq!(routing_of(&ctx, id).await.3, None);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_the_work_and_route_each_ticket_once() {
    let ctx = TestContext::new().await;
    let cfg = config_copy();
    let (a, _) = start(&ctx, &cfg).await;
    let (b, _) = start(&ctx, &cfg).await;
    let texts = [
        "快递五天了还没到",
        "APP闪退",
        "想退货",
        "客服态度差",
        "有优惠吗",
    ];
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(submit(&ctx, texts[i % texts.len()]).await);
    }
    for id in &ids {
        classified(&ctx, *id).await;
    }
    let n = ctx
        .count(
            Stream::Ticket,
            &ctx.subjects.subject("ticket.classified"),
            Duration::from_secs(1),
        )
        .await;
    assert_eq!(n, 30);
    let entries: i64 = sqlx::query_scalar(
        "select count(*) from ticket_events where kind like 'classified%' and ticket_id = any($1)",
    )
    .bind(&ids)
    .fetch_one(&ctx.pool)
    .await
    .expect("count");
    assert_eq!(entries, 30);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrain_learns_from_stored_corrections() {
    let ctx = TestContext::new().await;
    let cfg = config_copy();
    let (id, _) = insert_ticket(&ctx, "会员积分兑换的商品一直显示兑换中", "app").await;
    {
        let mut conn = ctx.pool.acquire().await.expect("conn");
        loopdesk_router::store::insert_correction(
            &mut conn,
            &loopdesk_router::store::Correction {
                event_id: Uuid::new_v4(),
                ticket_id: id,
                text: "会员积分兑换的商品一直显示兑换中".into(),
                category: "order".into(),
                priority: "general".into(),
                feedback_type: "process_experience".into(),
                tags: vec![],
                inspector: "zhang.min".into(),
                previous: serde_json::json!({}),
            },
        )
        .await
        .expect("correction stored");
    }
    let before = std::fs::metadata(cfg.join("models/category.json"))
        .and_then(|m| m.modified())
        .expect("model file");
    // A small base set keeps the test fast; the real one is tests/data/router/labelled.tsv.
    let base = cfg.join("base.tsv");
    std::fs::write(
        &base,
        "text\tcategory\tpriority\tfeedback_type\n\
         APP一直闪退\ttechnical_fault\turgent\tproduct_quality\n\
         登录不了\ttechnical_fault\turgent\tproduct_quality\n\
         快递还没到\tlogistics_delay\tgeneral\tresponse_speed\n\
         物流不更新\tlogistics_delay\tgeneral\tresponse_speed\n\
         建议增加夜间模式\tother\tsuggestion\tsuggestion_other\n",
    )
    .expect("base set");
    let mut out: Vec<u8> = Vec::new();
    loopdesk_router::startup::retrain(
        &ctx.settings,
        &loopdesk_router::settings::RouterSettings {
            config_dir: cfg.clone(),
            reload_ms: 100,
            examples: base,
            ..Default::default()
        },
        &mut out,
    )
    .await
    .expect("retrain");
    let report = String::from_utf8_lossy(&out);
    assert!(
        report.contains("trained category") && report.contains("corrections=1"),
        "{report}"
    );
    let after = std::fs::metadata(cfg.join("models/category.json"))
        .and_then(|m| m.modified())
        .expect("model file");
    assert!(after > before);
    // The retrained models load and classify.
    let engine = loopdesk_router::decision::Engine::load(&cfg).expect("retrained config loads");
    let m = engine.model(loopdesk_router::labels::Dimension::Category);
    assert!(m.classes.contains(&"order".to_string()));
    let _ = std::fs::remove_dir_all(cfg);
}
