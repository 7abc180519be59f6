//! `GET /metrics`: the process's counters in the Prometheus text format,
//! kept with `prometheus-client` (the Prometheus project's own Rust
//! client). docs/api.md lists every metric.
//!
//! The metrics are process-wide statics: recording one is an atomic add,
//! with no lock and no allocation on the hot paths (a send, a delivery, a
//! Redis round trip). Access to the route is a setting
//! (`metrics.access`): `off`, `loopback` (only clients on 127.0.0.0/8 or
//! ::1 whose request carries no forwarding header, so a reverse proxy on the
//! same host does not make it public; the default) or `token` (an `Authorization: Bearer` header equal to
//! `REDCHAT_METRICS_TOKEN`): the numbers say how busy the server is and
//! must not be public.

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::config::MetricsAccess;
use super::state::AppState;

/// `endpoint` and `status` of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    /// The route (`/api/send_message`, `/rooms/{id}`), or `other`.
    pub endpoint: String,
    pub status: u16,
}

/// The kind of a Redis error.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ErrorLabels {
    pub kind: String,
}

/// Every metric of the process.
pub(crate) struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub messages_sent: Counter,
    pub deliveries: Counter,
    pub streams_open: Gauge,
    pub streams_refused: Counter,
    pub resyncs: Counter,
    pub redis_round_trips: Counter,
    pub redis_errors: Family<ErrorLabels, Counter>,
    pub pubsub_reconnects: Counter,
    pub send_seconds: Histogram,
    pub redis_seconds: Histogram,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("redchat");
        let metrics = Self {
            requests: Family::default(),
            messages_sent: Counter::default(),
            deliveries: Counter::default(),
            streams_open: Gauge::default(),
            streams_refused: Counter::default(),
            resyncs: Counter::default(),
            redis_round_trips: Counter::default(),
            redis_errors: Family::default(),
            pubsub_reconnects: Counter::default(),
            // 0.1 ms to about 1.6 s.
            send_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 15)),
            redis_seconds: Histogram::new(exponential_buckets(0.00005, 2.0, 15)),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            metrics.requests.clone(),
        );
        registry.register(
            "messages_sent",
            "Messages stored and published (retries not counted)",
            metrics.messages_sent.clone(),
        );
        registry.register(
            "deliveries",
            "Room events written to event streams",
            metrics.deliveries.clone(),
        );
        registry.register(
            "event_streams_open",
            "Event streams open on this process",
            metrics.streams_open.clone(),
        );
        registry.register(
            "event_streams_refused",
            "Event streams refused by the per-session, per-user or per-address caps",
            metrics.streams_refused.clone(),
        );
        registry.register(
            "resyncs",
            "resync events sent (a stream fell behind, or Pub/Sub was lost)",
            metrics.resyncs.clone(),
        );
        registry.register(
            "redis_round_trips",
            "Commands and pipelines sent on the command connection",
            metrics.redis_round_trips.clone(),
        );
        registry.register(
            "redis_errors",
            "Errors from the command connection, by kind",
            metrics.redis_errors.clone(),
        );
        registry.register(
            "pubsub_reconnects",
            "Times the hub's Pub/Sub connection was lost and made again",
            metrics.pubsub_reconnects.clone(),
        );
        registry.register(
            "send_seconds",
            "send_message latency on the server, in seconds",
            metrics.send_seconds.clone(),
        );
        registry.register(
            "redis_seconds",
            "Redis round-trip latency on the command connection, in seconds",
            metrics.redis_seconds.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// Counts one Redis round trip that took since `started`, and its
    /// error, if any.
    pub(crate) fn redis_round_trip<T>(&self, started: Instant, result: &redis::RedisResult<T>) {
        self.redis_round_trips.inc();
        self.redis_seconds.observe(started.elapsed().as_secs_f64());
        if let Err(err) = result {
            let kind = if err.is_timeout() {
                "timeout".to_owned()
            } else if err.is_connection_dropped() || err.is_io_error() {
                "connection".to_owned()
            } else {
                format!("{:?}", err.kind()).to_lowercase()
            };
            self.redis_errors.get_or_create(&ErrorLabels { kind }).inc();
        }
    }

    fn encode(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// The process's metrics.
pub(crate) static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Counts every response by route and status.
pub(crate) async fn count_requests(request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    METRICS
        .requests
        .get_or_create(&RequestLabels {
            endpoint,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// `GET /metrics`, for whoever `metrics.access` lets in (404 for the
/// others, as if there were no such route).
pub(crate) async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let settings = &state.settings.metrics;
    let allowed = match settings.access {
        MetricsAccess::Off => false,
        // A request a reverse proxy forwarded comes from the proxy's
        // loopback address too: one that carries a forwarding header is
        // not a local client.
        MetricsAccess::Loopback => {
            let forwarded = ["forwarded", "x-forwarded-for", "x-real-ip"]
                .into_iter()
                .chain(
                    Some(state.settings.limits.trusted_proxy_header.as_str())
                        .filter(|name| !name.is_empty()),
                )
                .any(|name| headers.contains_key(name));
            is_loopback(peer.ip()) && !forwarded
        }
        MetricsAccess::Token => {
            let wanted = settings.token.as_deref().unwrap_or_default();
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "));
            !wanted.is_empty() && given.is_some_and(|given| constant_time_eq(given, wanted))
        }
    };
    if !allowed {
        return StatusCode::NOT_FOUND.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        METRICS.encode(),
    )
        .into_response()
}

/// Loopback, including an IPv4 loopback address mapped into IPv6.
fn is_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        v4 => v4.is_loopback(),
    }
}

/// Compares two secrets in time that depends on their lengths only.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_every_metric() {
        METRICS.messages_sent.inc();
        let text = METRICS.encode();
        for name in [
            "redchat_messages_sent_total",
            "redchat_deliveries_total",
            "redchat_event_streams_open",
            "redchat_resyncs_total",
            "redchat_redis_round_trips_total",
            "redchat_pubsub_reconnects_total",
            "redchat_send_seconds",
            "redchat_redis_seconds",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq("secret", "secret"));
        assert!(!constant_time_eq("secret", "secreT"));
        assert!(!constant_time_eq("secret", "secret2"));
    }
}
