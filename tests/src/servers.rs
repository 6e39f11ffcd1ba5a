//! Private PostgreSQL and NATS servers for tests that stop, restart or cluster them. Each runs on its own
//! loopback port with its data in a temp dir, and is killed and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn nats_server_binary() -> String {
    [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .unwrap_or("nats-server")
    .to_string()
}

/// One nats-server with JetStream, optionally a member of a cluster.
pub struct PrivateNats {
    pub port: u16,
    pub cluster_port: u16,
    store: PathBuf,
    routes: Vec<u16>,
    name: String,
    /// A configuration file (users and permissions) and the environment it reads passwords from.
    config: Option<(PathBuf, Vec<(String, String)>)>,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl PrivateNats {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut n = Self {
            port: free_port(),
            cluster_port: 0,
            store: dir.path().join("js"),
            routes: Vec::new(),
            name: "solo".into(),
            config: None,
            child: None,
            _dir: Some(dir),
        };
        n.spawn();
        n
    }

    /// A server that refuses clients without a user: `authorization` is a nats-server
    /// `authorization { … }` block (Loopdesk's generated one), `passwords` the environment variables
    /// it reads the passwords from.
    pub fn start_with_authorization(authorization: &str, passwords: Vec<(String, String)>) -> Self {
        Self::start_with_config(authorization, passwords)
    }

    /// A server with a configuration file (`config`: users, permissions, a `tls { … }` block) and the
    /// environment it reads secrets from.
    pub fn start_with_config(config: &str, env: Vec<(String, String)>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("nats.conf");
        std::fs::write(&file, config).expect("config written");
        let passwords = env;
        let mut n = Self {
            port: free_port(),
            cluster_port: 0,
            store: dir.path().join("js"),
            routes: Vec::new(),
            name: "authed".into(),
            config: Some((file, passwords)),
            child: None,
            _dir: Some(dir),
        };
        n.spawn();
        n
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(nats_server_binary());
        cmd.args([
            "-a",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-js",
            "-sd",
        ])
        .arg(&self.store)
        .args(["-n", &self.name])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if let Some((file, env)) = &self.config {
            // Command-line flags override the file's listen address and store.
            cmd.arg("-c").arg(file);
            cmd.envs(env.iter().map(|(k, v)| (k, v)));
        }
        if self.cluster_port != 0 {
            let routes: Vec<String> = self
                .routes
                .iter()
                .map(|p| format!("nats-route://127.0.0.1:{p}"))
                .collect();
            cmd.args([
                "--cluster_name",
                "loopdesk-test",
                "--cluster",
                &format!("nats://127.0.0.1:{}", self.cluster_port),
            ])
            .args(["--routes", &routes.join(",")]);
        }
        self.child = Some(cmd.spawn().expect("nats-server starts"));
        wait_for_port(self.port, "nats-server");
    }

    /// Kills the server at once (no lame-duck), keeping its data directory.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Replaces the authorization of a server started with
    /// [`PrivateNats::start_with_authorization`] and restarts it (streams and messages are kept).
    pub fn reauthorize(&mut self, authorization: &str) {
        let (file, _) = self
            .config
            .as_ref()
            .expect("a server with a configuration file");
        std::fs::write(file, authorization).expect("config written");
        self.restart();
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three JetStream servers clustered on loopback.
pub struct NatsCluster {
    pub nodes: Vec<PrivateNats>,
    _dir: tempfile::TempDir,
}

impl NatsCluster {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let client_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let cluster_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut nodes: Vec<PrivateNats> = (0..3)
            .map(|i| PrivateNats {
                port: client_ports[i],
                cluster_port: cluster_ports[i],
                store: dir.path().join(format!("n{i}")),
                routes: cluster_ports
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, p)| *p)
                    .collect(),
                name: format!("n{i}"),
                config: None,
                child: None,
                _dir: None,
            })
            .collect();
        for n in nodes.iter_mut() {
            n.spawn();
        }
        Self { nodes, _dir: dir }
    }

    /// All client URLs, comma-separated, for clients that fail over.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(PrivateNats::url)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A PostgreSQL 15 cluster of its own (initdb in a temp dir, trust auth on loopback).
pub struct PrivatePostgres {
    pub port: u16,
    data: PathBuf,
    bin: PathBuf,
    dir: tempfile::TempDir,
}

impl PrivatePostgres {
    pub fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries in /usr/lib/postgresql")
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("an initdb");
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let pg = Self {
            port: free_port(),
            data,
            bin,
            dir,
        };
        pg.hand_to_postgres_user();
        let status = pg
            .command("initdb")
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&pg.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("initdb runs");
        assert!(status.success(), "initdb failed");
        pg.pg_ctl_start();
        pg
    }

    /// The server's maintenance database URL.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// PostgreSQL refuses to run as root: when the tests run as root, the server runs as `postgres`.
    fn running_as_root() -> bool {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .map(|l| l.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false)
    }

    fn hand_to_postgres_user(&self) {
        if Self::running_as_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(self.dir.path())
                .status()
                .expect("chown runs");
            assert!(status.success());
        }
    }

    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if Self::running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let status = self
            .command("pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(&self.data)
            .args(["-o", &options, "-l"])
            .arg(self.dir.path().join("log"))
            .arg("start")
            .stdout(Stdio::null())
            .status()
            .expect("pg_ctl runs");
        assert!(status.success(), "pg_ctl start failed");
        wait_for_port(self.port, "postgres");
    }

    /// Stops the server abruptly (`immediate`: no checkpoint, like a crash).
    pub fn crash(&self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D"])
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Stops the server cleanly (`fast`: clients are disconnected, a checkpoint is written), keeping
    /// its data for [`PrivatePostgres::start_again`]: a planned or lasting outage.
    pub fn stop(&self) {
        let status = self
            .command("pg_ctl")
            .args(["-D"])
            .arg(&self.data)
            .args(["-m", "fast", "-w", "-t", "60", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("pg_ctl runs");
        assert!(status.success(), "pg_ctl stop failed");
    }

    pub fn restart_after_crash(&self) {
        self.crash();
        self.pg_ctl_start();
    }

    /// Starts the server again after [`PrivatePostgres::crash`] (crash recovery included) or
    /// [`PrivatePostgres::stop`].
    pub fn start_again(&self) {
        self.pg_ctl_start();
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.crash();
    }
}
