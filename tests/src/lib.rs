//! Helpers for cross-service tests: private server instances a test may stop and restart (own port, own
//! data directory under a temp dir, never the machine's shared servers), worker processes that can be
//! SIGKILLed, the whole pipeline of them, a feedback generator that keeps publishing through faults, poison
//! messages, and the end-of-run checks that every effect happened exactly once.

pub mod feed;
pub mod pipeline;
pub mod poison;
pub mod servers;
pub mod verify;
pub mod workers;

/// A free TCP port on loopback (bound and released; good enough for a private server).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The status line's code of `GET path` on `addr` over HTTP/1.0, or `None` when nothing answers in
/// time. Enough for ops endpoints; the tests need no HTTP client for it.
pub async fn http_status(addr: std::net::SocketAddr, path: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        // "HTTP/1.1 200"
        std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), exchange)
        .await
        .ok()
        .flatten()
}
