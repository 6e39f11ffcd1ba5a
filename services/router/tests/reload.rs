//! Hot reload of rules and routing: a change goes live without a restart; a broken file is refused
//! with a clear error and the previous rules stay live.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::config_copy;
use loopdesk_router::decision::GivenLabels;
use loopdesk_router::live::Live;
use loopdesk_router::rules::TicketFacts;
use tokio_util::sync::CancellationToken;

fn decide(live: &Live, text: &str) -> loopdesk_router::decision::Decision {
    live.current().decide(
        &TicketFacts {
            text: text.into(),
            ..Default::default()
        },
        &GivenLabels::default(),
    )
}

/// Replace a file atomically (write a temporary file, rename), as operators should: the watcher never
/// sees a half-written file.
fn replace(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write temp");
    std::fs::rename(&tmp, path).expect("rename");
}

async fn until(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_and_routing_reload_and_a_broken_file_is_refused() {
    let dir = config_copy();
    let live: Arc<Live> = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || Live::load(&dir)
    })
    .await
    .expect("task")
    .expect("config loads");
    let stop = CancellationToken::new();
    tokio::spawn(live.clone().watch(Duration::from_millis(50), stop.clone()));

    let text = "会员积分兑换的商品一直显示兑换中";
    // A new rule sends this text to after-sales; routing sends after-sales to logistics.
    let rules = std::fs::read_to_string(dir.join("rules.toml")).expect("rules");
    let added = format!(
        "{rules}\n[[rule]]\nid = \"test.points\"\nany = [\"兑换中\"]\nweight = 0.95\ncategory = \"after_sales\"\n"
    );
    replace(&dir.join("rules.toml"), &added);
    let routing = std::fs::read_to_string(dir.join("routing.toml")).expect("routing");
    let rerouted = routing.replace(
        "when = { category = \"after_sales\" }\ndepartments = [\"after_sales\"]",
        "when = { category = \"after_sales\" }\ndepartments = [\"logistics\"]",
    );
    assert_ne!(rerouted, routing, "routing.toml has the after_sales route");
    replace(&dir.join("routing.toml"), &rerouted);
    until("reload", || {
        let d = decide(&live, text);
        d.category.code == "after_sales" && d.route.lead == "logistics"
    })
    .await;
    let d = decide(&live, text);
    assert!(d.category.reasons.iter().any(|r| r.contains("test.points")));

    // A broken rule file (unknown category) is refused; the previous rules stay live.
    let reloads = live.reloads();
    let broken = format!(
        "{rules}\n[[rule]]\nid = \"test.bad\"\nany = [\"x\"]\nweight = 0.5\ncategory = \"no_such\"\n"
    );
    replace(&dir.join("rules.toml"), &broken);
    until("refusal", || live.last_error().is_some()).await;
    let err = live.last_error().unwrap_or_default();
    assert!(err.contains("test.bad") && err.contains("no_such"), "{err}");
    assert_eq!(live.reloads(), reloads);
    assert_eq!(decide(&live, text).category.code, "after_sales");
    assert_eq!(decide(&live, text).route.lead, "logistics");

    // Not even valid TOML: refused too.
    replace(&dir.join("rules.toml"), "[[rule]\nid = ");
    until("refusal", || {
        live.last_error()
            .is_some_and(|e| e.contains("not valid TOML"))
    })
    .await;
    assert_eq!(decide(&live, text).category.code, "after_sales");
    stop.cancel();
    let _ = std::fs::remove_dir_all(dir);
}
