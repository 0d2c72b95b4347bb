//! Limen's own Prometheus metrics (SPEC §12), counted where things happen: HTTP requests by
//! route and status with their durations, open event streams and consoles, operations by kind
//! and outcome with their durations, libvirt reconnections, failed logins, the statistics
//! collector's rounds.
//!
//! One set per process (every layer counts into it without carrying it around). `GET /metrics`
//! registers these families, with the VM and host series of the latest statistics round, into
//! a registry per scrape, and `prometheus-client` writes the text format.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route's pattern (`/api/v1/vms/{uuid}`), never the path a client sent.
    route: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    kind: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostLabels {
    host: String,
}

fn seconds_buckets() -> Histogram {
    // 1 ms … ~65 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 17,
    ))
}

fn operation_buckets() -> Histogram {
    // 10 ms … ~1.5 h: an image copy can take long.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.01, 3.0, 14,
    ))
}

struct Metrics {
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    event_streams: Gauge,
    consoles: Family<KindLabels, Gauge>,
    operations: Family<OperationLabels, Counter>,
    operation_seconds: Family<OperationLabels, Histogram, fn() -> Histogram>,
    libvirt_reconnects: Family<HostLabels, Counter>,
    login_failures: Counter,
    stats_round_seconds: Histogram,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let metrics = Metrics {
        requests: Family::default(),
        request_seconds: Family::new_with_constructor(seconds_buckets),
        event_streams: Gauge::default(),
        consoles: Family::default(),
        operations: Family::default(),
        operation_seconds: Family::new_with_constructor(operation_buckets),
        libvirt_reconnects: Family::default(),
        login_failures: Counter::default(),
        stats_round_seconds: seconds_buckets(),
    };
    // Series that are known up front start at zero (a family with no series is not written).
    for kind in ["vnc", "serial"] {
        drop(metrics.consoles.get_or_create(&KindLabels {
            kind: kind.to_string(),
        }));
    }
    metrics
});

/// One HTTP request answered.
pub fn http_request(method: &str, route: &str, status: u16, took: Duration) {
    let m = &*METRICS;
    m.requests
        .get_or_create(&RequestLabels {
            method: method.to_string(),
            route: route.to_string(),
            status: status.to_string(),
        })
        .inc();
    m.request_seconds
        .get_or_create(&RouteLabels {
            method: method.to_string(),
            route: route.to_string(),
        })
        .observe(took.as_secs_f64());
}

/// Counts something open (an event stream, a console) while it is held.
pub struct Open(Gauge);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn open(gauge: Gauge) -> Open {
    gauge.inc();
    Open(gauge)
}

/// An event stream is open while the returned guard lives.
pub fn event_stream_opened() -> Open {
    open(METRICS.event_streams.clone())
}

/// A console (`screen` or `serial`) is open while the returned guard lives.
pub fn console_opened(kind: &str) -> Open {
    open(
        METRICS
            .consoles
            .get_or_create(&KindLabels {
                kind: kind.to_string(),
            })
            .clone(),
    )
}

/// An operation (a saga or a VM verb) ended: `outcome` is `succeeded` or `failed`.
pub fn operation_finished(kind: &str, outcome: &str, took: Duration) {
    let labels = OperationLabels {
        kind: kind.to_string(),
        outcome: outcome.to_string(),
    };
    METRICS.operations.get_or_create(&labels).inc();
    METRICS
        .operation_seconds
        .get_or_create(&labels)
        .observe(took.as_secs_f64());
}

/// A host's libvirt is watched: its reconnection count starts at zero.
pub fn libvirt_watched(host: &str) {
    drop(METRICS.libvirt_reconnects.get_or_create(&HostLabels {
        host: host.to_string(),
    }));
}

/// The connection to a host's libvirt was made again after it was lost.
pub fn libvirt_reconnected(host: &str) {
    METRICS
        .libvirt_reconnects
        .get_or_create(&HostLabels {
            host: host.to_string(),
        })
        .inc();
}

/// A login was refused (wrong password, unknown user, disabled account).
pub fn login_failed() {
    METRICS.login_failures.inc();
}

/// One statistics round took `took`.
pub fn stats_round(took: Duration) {
    METRICS.stats_round_seconds.observe(took.as_secs_f64());
}

/// Registers every family (they share their values with the process's) into `registry`, under
/// the `limen_` prefix the caller gave it.
pub fn register(registry: &mut Registry) {
    let m = &*METRICS;
    registry.register(
        "http_requests",
        "HTTP requests answered, by route pattern and status",
        m.requests.clone(),
    );
    registry.register(
        "http_request_duration_seconds",
        "Time to answer an HTTP request (to the first byte of a stream)",
        m.request_seconds.clone(),
    );
    registry.register(
        "event_streams_open",
        "Event streams (/api/v1/events and the statistics streams) open now",
        m.event_streams.clone(),
    );
    registry.register(
        "consoles_open",
        "Console sessions relayed now, by kind",
        m.consoles.clone(),
    );
    registry.register(
        "operations",
        "Operations finished, by kind and outcome",
        m.operations.clone(),
    );
    registry.register(
        "operation_duration_seconds",
        "Time an operation took, by kind and outcome",
        m.operation_seconds.clone(),
    );
    registry.register(
        "libvirt_reconnects",
        "Connections to a host's libvirt made again after one was lost",
        m.libvirt_reconnects.clone(),
    );
    registry.register(
        "login_failures",
        "Logins refused (wrong password, unknown or disabled user)",
        m.login_failures.clone(),
    );
    registry.register(
        "stats_round_duration_seconds",
        "Time one statistics round took (all VMs of a host)",
        m.stats_round_seconds.clone(),
    );
}
