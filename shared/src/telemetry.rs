//! Tracing set-up: one call at the top of every `main`.
//!
//! `LOOPDESK_LOG_FORMAT=json` switches to JSON lines for log shippers; `RUST_LOG` filters as usual.

use tracing_subscriber::{fmt, EnvFilter};

pub fn init(service: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{service}=info,sqlx=warn")));
    let json = std::env::var("LOOPDESK_LOG_FORMAT").is_ok_and(|v| v == "json");
    let result = if json {
        fmt().with_env_filter(filter).json().try_init()
    } else {
        fmt().with_env_filter(filter).try_init()
    };
    // A second init (tests start several workers in one process) keeps the first subscriber.
    let _ = result;
}

/// For tests: logs go to the test harness only when `TEST_LOG` is set, so a green run stays quiet.
pub fn init_for_tests() {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = fmt()
            .with_env_filter(EnvFilter::new(
                std::env::var("TEST_LOG").unwrap_or_else(|_| "debug".into()),
            ))
            .with_test_writer()
            .try_init();
    }
}
