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
