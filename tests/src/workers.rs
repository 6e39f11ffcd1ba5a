//! Worker binaries as real processes, so a test can SIGKILL one exactly as an orchestrator would.
//! `scripts/test` builds every binary before the tests run.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use shared::config::Settings;

/// The path of a workspace binary next to this test's own executable.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workers first (`cargo build --workspace --bins`; scripts/test does)",
        path.display()
    );
    path
}

pub struct WorkerProcess {
    pub name: String,
    /// Where its public HTTP side listens (web form, survey page, api).
    pub http_addr: SocketAddr,
    /// Where its `/health`, `/ready` and `/metrics` answer (`http.ops_addr`).
    pub ops_addr: SocketAddr,
    child: Option<Child>,
}

/// The file a worker of the test with `prefix` writes its log to; none when it cannot be made.
fn worker_log(prefix: &str, name: &str) -> Option<std::fs::File> {
    let dir = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/system-test-logs"
    ))
    .join(prefix);
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))
        .ok()
}

impl WorkerProcess {
    /// Starts `name` configured for the test's database, NATS and prefix.
    pub fn spawn(name: &str, settings: &Settings, extra_env: &[(&str, String)]) -> Self {
        Self::spawn_with_args(name, &[], settings, extra_env)
    }

    /// As [`WorkerProcess::spawn`], with command-line arguments (`router run`). Workers run from the
    /// workspace root so their rule and calendar files (`config/router`, `config/sla`) are found; the
    /// base configuration file is not read, the test's settings come from the environment.
    pub fn spawn_with_args(
        name: &str,
        args: &[&str],
        settings: &Settings,
        extra_env: &[(&str, String)],
    ) -> Self {
        let http_addr = SocketAddr::from(([127, 0, 0, 1], crate::free_port()));
        let ops_addr = SocketAddr::from(([127, 0, 0, 1], crate::free_port()));
        let mut cmd = Command::new(binary(name));
        cmd.args(args)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .env("LOOPDESK_CONFIG_DIR", "/nonexistent-loopdesk-config")
            .env(
                "LOOPDESK__DATABASE__URL",
                settings.database.url.expose_secret(),
            )
            .env(
                "LOOPDESK__DATABASE__MAX_CONNECTIONS",
                settings.database.max_connections.to_string(),
            )
            .env(
                "LOOPDESK__DATABASE__STATEMENT_TIMEOUT_MS",
                settings.database.statement_timeout_ms.to_string(),
            )
            .env("LOOPDESK__NATS__URL", &settings.nats.url)
            .env("LOOPDESK__PREFIX", &settings.prefix)
            .env("LOOPDESK__HTTP__ADDR", http_addr.to_string())
            .env("LOOPDESK__HTTP__OPS_ADDR", ops_addr.to_string())
            .env(
                "LOOPDESK__NATS__ACK_WAIT_SECS",
                settings.nats.ack_wait_secs.to_string(),
            )
            .env(
                "LOOPDESK__NATS__MAX_DELIVER",
                settings.nats.max_deliver.to_string(),
            )
            .env(
                "LOOPDESK__NATS__BATCH_SIZE",
                settings.nats.batch_size.to_string(),
            )
            .env(
                "LOOPDESK__NATS__LINGER_MS",
                settings.nats.linger_ms.to_string(),
            )
            .env(
                "LOOPDESK__NATS__STREAM_REPLICAS",
                settings.nats.stream_replicas.to_string(),
            );
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        if std::env::var("TEST_LOG").is_err() {
            // Each worker's output goes to a file of its own (appended across restarts), so a failed
            // fault test can be read afterwards: target/system-test-logs/<prefix>/<worker>.log.
            match worker_log(&settings.prefix, name) {
                Some(log) => {
                    let err = log.try_clone().expect("log file handle");
                    cmd.stdout(log).stderr(err);
                }
                None => {
                    cmd.stdout(Stdio::null()).stderr(Stdio::null());
                }
            }
        }
        let child = cmd.spawn().expect("worker starts");
        Self {
            name: name.to_string(),
            http_addr,
            ops_addr,
            child: Some(child),
        }
    }

    /// The status `/ready` answers with, or `None` while nothing answers.
    pub async fn readiness(&self) -> Option<u16> {
        crate::http_status(self.ops_addr, "/ready").await
    }

    /// Waits until `/ready` answers `want` (or `timeout`); returns the last answer.
    pub async fn wait_ready(&self, want: u16, timeout: Duration) -> Option<u16> {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.readiness().await;
            if status == Some(want) || Instant::now() > deadline {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the process to exit by itself; its status, or `None` if it still runs after
    /// `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.as_mut()?.try_wait().ok().flatten() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// CPU seconds (user + system) used so far and peak resident memory in MiB, from /proc.
    pub fn usage(&self) -> Option<(f64, f64)> {
        let pid = self.pid()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: f64 = rest.get(11)?.parse::<f64>().ok()? + rest.get(12)?.parse::<f64>().ok()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let hwm_kb: f64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        // Linux reports CPU time in clock ticks of 1/100 s on every architecture Loopdesk targets.
        Some((ticks / 100.0, hwm_kb / 1024.0))
    }

    /// SIGKILL: no drain, no acks; whatever it held must be redelivered elsewhere.
    pub fn sigkill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits for a clean exit; returns whether it exited successfully within `timeout`.
    pub fn sigterm(&mut self, timeout: Duration) -> bool {
        let Some(mut c) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.sigkill();
    }
}
