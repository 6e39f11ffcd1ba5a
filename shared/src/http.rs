//! Serving HTTP with bounds on every listener, written once: the public ones (web form, survey page,
//! api) face whoever is on the network, and the ops one answers probes and scrapers.
//!
//! What each bound stops (settings in `[http]`, see [`crate::config::HttpSettings`]):
//! - `header_read_timeout_ms`: a client that opens a connection and sends its request line and
//!   headers a byte at a time (slowloris), or sends nothing at all, is disconnected; the same clock
//!   ends an idle keep-alive connection waiting for its next request.
//! - `body_read_timeout_ms`: a body that stops arriving for this long fails the request.
//! - `request_timeout_ms`: a request not answered within this time gets 408 `request_timeout`, so a
//!   body trickled a byte at a time (each within the body timeout) cannot hold a request forever. It
//!   bounds the time to the response head: a stream (server-sent events) is not cut by it.
//! - `max_connections`: connections accepted at once; beyond it new ones wait in the kernel's backlog.
//! - `max_in_flight`: requests being handled at once; beyond it 503 `overloaded` with `Retry-After`.
//!
//! HTTP/1.1 only (a reverse proxy or load balancer speaks it to the workers), so the header timeout
//! covers every connection.
//!
//! The client's address: [`client_ip`] takes the peer's address, or behind the configured trusted
//! proxies the right-most address in `X-Forwarded-For` that is not one of them (every hop appends the
//! address it saw, so entries left of the first untrusted one are whatever the client wrote).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{BoxError, Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use ipnetwork::IpNetwork;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower::ServiceExt;

use crate::config::HttpSettings;

/// The bounds one listener serves with, read from `[http]`.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub max_in_flight: usize,
}

impl From<&HttpSettings> for HttpLimits {
    fn from(s: &HttpSettings) -> Self {
        Self {
            header_read_timeout: Duration::from_millis(s.header_read_timeout_ms.max(1)),
            body_read_timeout: Duration::from_millis(s.body_read_timeout_ms.max(1)),
            request_timeout: Duration::from_millis(s.request_timeout_ms.max(1)),
            max_connections: s.max_connections.max(1),
            max_in_flight: s.max_in_flight.max(1),
        }
    }
}

/// The JSON error every listener answers with when a bound is hit (the api's error shape).
fn bound_error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut response = (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

async fn on_bound(error: BoxError) -> Response {
    if error.is::<tower::timeout::error::Elapsed>() {
        bound_error(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request was not completed in time",
        )
    } else if error.is::<tower::load_shed::error::Overloaded>() {
        metrics::counter!("loopdesk_http_shed_total").increment(1);
        bound_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many requests at once; retry shortly",
        )
    } else {
        tracing::error!(error = %error, "request failed in the HTTP layers");
        bound_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the request could not be handled",
        )
    }
}

/// `app` with the per-request bounds applied (the connection bounds are the accept loop's).
pub fn bounded(app: Router, limits: &HttpLimits) -> Router {
    app.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(on_bound))
            .load_shed()
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                limits.max_in_flight,
            ))
            .timeout(limits.request_timeout)
            .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
                limits.body_read_timeout,
            )),
    )
}

/// Serves `app` (with [`bounded`]'s layers) on `listener` until `shutdown`, then finishes the open
/// requests. Handlers see the peer as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
) {
    let app = bounded(app, &limits);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            slot = connections.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait for connections to close.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(request.map(axum::body::Body::new))
            },
        );
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The trusted proxies, parsed from `http.trusted_proxies` (addresses or CIDR blocks).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNetwork>);

#[derive(Debug, thiserror::Error)]
#[error("http.trusted_proxies: `{0}` is neither an IP address nor a CIDR block")]
pub struct TrustedProxyError(String);

impl TrustedProxies {
    pub fn parse(entries: &[String]) -> Result<Self, TrustedProxyError> {
        entries
            .iter()
            .map(|e| {
                e.trim()
                    .parse::<IpNetwork>()
                    .map_err(|_| TrustedProxyError(e.clone()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// IPv4 addresses seen through an IPv6 socket (`::ffff:10.0.0.1`) compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`, `[::1]:80`).
fn forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

/// The client's address: the peer's, or when the peer is a trusted proxy, the right-most address in
/// `X-Forwarded-For` (all such headers, in order) that is not a trusted proxy. An entry that is not an
/// address ends the walk at the last hop known good: what lies left of it was not written by a proxy
/// that is trusted to write well.
pub fn client_ip(headers: &HeaderMap, peer: IpAddr, trusted: &TrustedProxies) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut nearest = peer;
    for entry in entries.iter().rev() {
        match forwarded_entry(entry) {
            Some(ip) if trusted.contains(ip) => nearest = ip,
            Some(ip) => return ip,
            None => return nearest,
        }
    }
    nearest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::default();
        assert_eq!(
            client_ip(&headers(&["6.6.6.6"]), ip("203.0.113.9"), &none),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8".into(), "192.0.2.7".into()]).unwrap();
        // The client wrote a fake left-most entry; the edge proxy appended what it saw, the inner
        // proxy appended the edge proxy.
        let h = headers(&["6.6.6.6, 198.51.100.23", "192.0.2.7"]);
        assert_eq!(client_ip(&h, ip("10.1.2.3"), &trusted), ip("198.51.100.23"));
        // A peer that is not a trusted proxy cannot speak for anyone.
        assert_eq!(
            client_ip(&h, ip("203.0.113.9"), &trusted),
            ip("203.0.113.9")
        );
        // Garbage ends the walk at the last good hop.
        let h = headers(&["198.51.100.23, nonsense, 10.9.9.9"]);
        assert_eq!(client_ip(&h, ip("10.1.2.3"), &trusted), ip("10.9.9.9"));
        // Every entry trusted: the left-most one is the nearest known.
        let h = headers(&["10.0.0.5, 10.0.0.6"]);
        assert_eq!(client_ip(&h, ip("10.1.2.3"), &trusted), ip("10.0.0.5"));
        // Ports and IPv4-mapped addresses.
        let h = headers(&["198.51.100.23:5555"]);
        assert_eq!(
            client_ip(&h, ip("::ffff:10.1.2.3"), &trusted),
            ip("198.51.100.23")
        );
    }

    #[test]
    fn bad_proxy_entries_are_named() {
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local".into()]).is_err());
    }
}
