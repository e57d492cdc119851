//! Prometheus metrics on a listener of their own (`--metrics-addr`, off by default): per-RPC request
//! counts by status code and latency histograms from one tower layer (which also gives each call its
//! span and log line: method, status, duration, request_id, the caller's subject), calls in flight,
//! the database pool and the writer's queue, and business counters recorded where the business
//! happens. Labels
//! are bounded: the contract's method names (anything else is "unknown"), status codes, and the
//! domain's own enumerations — never an account, a person or a free-text value.

use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Instant;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use recoup_domain::interest::ReferenceRates;
use recoup_store::{Store, phases};
use tonic::body::Body;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::auth::permissions::MATRIX;
use crate::server::BoxError;

/// Seconds, from half a millisecond to ten seconds.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Seconds for the store's write phases and checkpoints (`recoup_store::phases`), from 50 µs: a
/// phase of a batch is often well under a millisecond.
const PHASE_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
];

/// Requests in one writer batch (it takes at most 256).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Installs the process's recorder and serves `/metrics` on `addr`; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    store: Store,
    rates: ReferenceRates,
) -> Result<SocketAddr, BoxError> {
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in [
        ("recoup_rpc_duration_seconds", BUCKETS),
        (phases::PHASE_SECONDS, PHASE_BUCKETS),
        (phases::QUEUED_SECONDS, PHASE_BUCKETS),
        (phases::CHECKPOINT_SECONDS, PHASE_BUCKETS),
        (phases::BATCH_REQUESTS, BATCH_BUCKETS),
    ] {
        builder = builder.set_buckets_for_metric(Matcher::Full(name.into()), buckets)?;
    }
    let handle = builder
        .install_recorder()
        .map_err(|e| format!("metrics: {e}"))?;
    describe();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen for metrics on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle: PrometheusHandle = handle.clone();
            // Gauges are read when scraped: always current, and nothing runs between scrapes.
            sample(&store, &rates);
            async move { handle.render() }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "metrics listener stopped");
        }
    });
    Ok(bound)
}

fn describe() {
    metrics::describe_counter!(
        "recoup_rpc_requests_total",
        "RPCs answered, by method and gRPC status code"
    );
    metrics::describe_histogram!(
        "recoup_rpc_duration_seconds",
        metrics::Unit::Seconds,
        "time to the response's headers, by method"
    );
    metrics::describe_gauge!("recoup_rpc_in_flight", "RPCs being served");
    metrics::describe_gauge!(
        "recoup_db_connections",
        "database pool connections, by state (idle, in_use)"
    );
    metrics::describe_gauge!(
        "recoup_write_queue_depth",
        "payments and calls waiting for the writer"
    );
    metrics::describe_histogram!(
        phases::QUEUED_SECONDS,
        metrics::Unit::Seconds,
        "a write request's wait for the writer task, by write (payment, call, claim)"
    );
    metrics::describe_histogram!(
        phases::BATCH_REQUESTS,
        "requests in one writer batch (one transaction, one commit), by write"
    );
    metrics::describe_histogram!(
        phases::PHASE_SECONDS,
        metrics::Unit::Seconds,
        "one write transaction's phases, by write and phase: begin (taking the write lock), work \
         (its own reads and statements), epilogue (set-based rows, views, events), commit"
    );
    metrics::describe_histogram!(
        phases::CHECKPOINT_SECONDS,
        metrics::Unit::Seconds,
        "SQLite WAL checkpoints, by mode (passive, truncate)"
    );
    metrics::describe_counter!("recoup_calls_recorded_total", "calls recorded, by outcome");
    metrics::describe_counter!(
        "recoup_promises_total",
        "promise states announced, by state"
    );
    metrics::describe_counter!("recoup_plans_created_total", "payment plans created");
    metrics::describe_counter!(
        "recoup_plans_ended_total",
        "payment plans ended, by state (broken, completed)"
    );
    metrics::describe_counter!("recoup_guidance_total", "call guidance drawn, by tone");
    metrics::describe_counter!("recoup_letters_total", "letters produced, by kind");
    metrics::describe_counter!("recoup_import_records_total", "imported records, by result");
    metrics::describe_gauge!(
        "recoup_reference_rates_stale",
        "1 while a reference-rate table is not known to the day the law takes today's rate from \
         (statutory interest on new debts is provisional; see `recoupd rates`)"
    );
}

/// Sets the gauges: the database pool, the writer's queue, and whether the reference rates are
/// stale (a table the law would take today's rate from is not known that far).
fn sample(store: &Store, rates: &ReferenceRates) {
    let (idle, in_use, queued) = store.load();
    metrics::gauge!("recoup_db_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("recoup_db_connections", "state" => "in_use").set(in_use as f64);
    metrics::gauge!("recoup_write_queue_depth").set(queued as f64);
    let stale = !rates.stale_on(chrono::Utc::now().date_naive()).is_empty();
    metrics::gauge!("recoup_reference_rates_stale").set(f64::from(u8::from(stale)));
}

/// The method label of a request path: one of the contract's methods, the health and reflection
/// services, or "unknown" (so a caller cannot mint label values).
fn method_label(path: &str) -> &'static str {
    if let Some((p, _)) = MATRIX.iter().find(|(p, _)| *p == path) {
        return p.rsplit('/').next().unwrap_or("unknown");
    }
    if path.starts_with("/grpc.health.") {
        "Health"
    } else if path.starts_with("/grpc.reflection.") {
        "Reflection"
    } else {
        "unknown"
    }
}

/// The tower layer that measures every call.
#[derive(Clone, Default)]
pub struct MetricsLayer;

impl<S> Layer<S> for MetricsLayer {
    type Service = Measured<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Measured { inner }
    }
}

#[derive(Clone)]
pub struct Measured<S> {
    inner: S,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S> Service<http::Request<Body>> for Measured<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let method = method_label(req.uri().path());
        let started = Instant::now();
        let in_flight = metrics::gauge!("recoup_rpc_in_flight");
        in_flight.increment(1.0);
        // The gate records the subject and the services the request_id on this span.
        let span = tracing::info_span!(
            "rpc",
            method,
            request_id = tracing::field::Empty,
            subject = tracing::field::Empty,
            code = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        crate::telemetry::join_caller(&span, req.headers());
        let call = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        let traced = span.clone();
        Box::pin(
            async move {
                let answer = call.await;
                in_flight.decrement(1.0);
                // Errors travel in the headers (trailers-only responses); a success's status comes in
                // the trailers, after the body, so a response without one in its headers is OK.
                let code = match &answer {
                    Ok(response) => response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i32>().ok())
                        .map_or("OK", |c| tonic::Code::from_i32(c).description_name()),
                    Err(_) => "TRANSPORT_ERROR",
                };
                let elapsed = started.elapsed();
                metrics::counter!("recoup_rpc_requests_total", "method" => method, "code" => code)
                    .increment(1);
                metrics::histogram!("recoup_rpc_duration_seconds", "method" => method)
                    .record(elapsed.as_secs_f64());
                traced.record("code", code);
                traced.record("duration_ms", elapsed.as_secs_f64() * 1000.0);
                tracing::info!("rpc");
                answer
            }
            .instrument(span),
        )
    }
}

trait CodeName {
    fn description_name(self) -> &'static str;
}

impl CodeName for tonic::Code {
    /// The code as gRPC names it (`NOT_FOUND`).
    fn description_name(self) -> &'static str {
        match self {
            tonic::Code::Ok => "OK",
            tonic::Code::Cancelled => "CANCELLED",
            tonic::Code::Unknown => "UNKNOWN",
            tonic::Code::InvalidArgument => "INVALID_ARGUMENT",
            tonic::Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            tonic::Code::NotFound => "NOT_FOUND",
            tonic::Code::AlreadyExists => "ALREADY_EXISTS",
            tonic::Code::PermissionDenied => "PERMISSION_DENIED",
            tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            tonic::Code::FailedPrecondition => "FAILED_PRECONDITION",
            tonic::Code::Aborted => "ABORTED",
            tonic::Code::OutOfRange => "OUT_OF_RANGE",
            tonic::Code::Unimplemented => "UNIMPLEMENTED",
            tonic::Code::Internal => "INTERNAL",
            tonic::Code::Unavailable => "UNAVAILABLE",
            tonic::Code::DataLoss => "DATA_LOSS",
            tonic::Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_are_the_contracts_methods_or_unknown() {
        assert_eq!(
            method_label("/recoup.v1.AccountService/GetAccount"),
            "GetAccount"
        );
        assert_eq!(method_label("/grpc.health.v1.Health/Check"), "Health");
        assert_eq!(
            method_label("/recoup.v1.AccountService/Anything123"),
            "unknown"
        );
        assert_eq!(tonic::Code::NotFound.description_name(), "NOT_FOUND");
    }
}
