//! A closed-loop load generator: a fixed number of calls in flight over a few HTTP/2 connections;
//! each task sends its next call as soon as the previous one answers. Every phase is bounded in
//! time: a warm-up whose figures are dropped, then rounds of fixed length; a round's throughput is
//! its completed calls over its length, and the reported figure is the median round.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tonic::transport::Channel;

use crate::process::ServerStats;

/// How to load a server.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Calls in flight at once.
    pub in_flight: usize,
    /// HTTP/2 connections they share.
    pub connections: usize,
    pub warmup: Duration,
    pub round: Duration,
    pub rounds: usize,
}

/// What one load level measured.
#[derive(Debug, Clone)]
pub struct Measured {
    pub in_flight: usize,
    /// Completed calls per second (median round).
    pub rps: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    /// Calls that failed (all rounds).
    pub errors: u64,
    /// Calls completed in the measured rounds.
    pub calls: u64,
    /// Server CPU time per completed call, when the server's process is known.
    pub server_cpu_us: Option<f64>,
    /// Server resident memory at the end, and its peak, in MiB.
    pub server_rss_mib: Option<f64>,
    pub server_peak_rss_mib: Option<f64>,
}

/// One call: given the task number and a running sequence number, on a connection.
pub trait Call: Clone + Send + Sync + 'static {
    fn call(
        &self,
        channel: Channel,
        task: usize,
        seq: u64,
    ) -> impl Future<Output = Result<(), tonic::Status>> + Send;
}

impl<F, Fut> Call for F
where
    F: Fn(Channel, usize, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send,
{
    fn call(
        &self,
        channel: Channel,
        task: usize,
        seq: u64,
    ) -> impl Future<Output = Result<(), tonic::Status>> + Send {
        self(channel, task, seq)
    }
}

/// Longest any single call may take before it counts as an error (keeps every run bounded).
const CALL_LIMIT: Duration = Duration::from_secs(10);

struct TaskResult {
    latencies: Histogram<u64>,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
}

/// Runs one phase of `length` with every task looping on `call`.
async fn phase(
    spec: &LoadSpec,
    channels: &[Channel],
    call: &impl Call,
    length: Duration,
    seq_base: u64,
) -> Vec<TaskResult> {
    let until = Instant::now() + length;
    let mut tasks = Vec::with_capacity(spec.in_flight);
    for task in 0..spec.in_flight {
        let channel = channels[task % channels.len()].clone();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut r = TaskResult {
                latencies: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
                ok: 0,
                errors: 0,
                first_error: None,
            };
            let mut seq = seq_base + (task as u64) * 1_000_000_000;
            while Instant::now() < until {
                let started = Instant::now();
                let outcome =
                    tokio::time::timeout(CALL_LIMIT, call.call(channel.clone(), task, seq)).await;
                seq += 1;
                match outcome {
                    Ok(Ok(())) => {
                        r.ok += 1;
                        let us = started.elapsed().as_micros().max(1) as u64;
                        r.latencies.saturating_record(us);
                    }
                    Ok(Err(status)) => {
                        r.errors += 1;
                        r.first_error.get_or_insert_with(|| status.to_string());
                    }
                    Err(_) => {
                        r.errors += 1;
                        r.first_error
                            .get_or_insert_with(|| format!("no answer within {CALL_LIMIT:?}"));
                    }
                }
            }
            r
        }));
    }
    let mut results = Vec::with_capacity(tasks.len());
    for t in tasks {
        results.push(t.await.expect("load task"));
    }
    results
}

/// Loads with `call` per `spec`; `server` (when known) is read before and after each round.
pub async fn measure(
    spec: &LoadSpec,
    channels: &[Channel],
    call: impl Call,
    server: Option<&ServerStats>,
) -> Measured {
    let call = Arc::new(call);
    let call = move |ch: Channel, task: usize, seq: u64| {
        let call = call.clone();
        async move { call.call(ch, task, seq).await }
    };
    let mut seq_base = 0u64;
    phase(spec, channels, &call, spec.warmup, seq_base).await;
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    let (mut rates, mut calls, mut errors, mut cpu_s) = (Vec::new(), 0u64, 0u64, 0f64);
    let mut first_error = None;
    for _ in 0..spec.rounds {
        seq_base += 1;
        let cpu_before = server.and_then(ServerStats::cpu_seconds);
        let started = Instant::now();
        let results = phase(spec, channels, &call, spec.round, seq_base * 1_000_000).await;
        let elapsed = started.elapsed().as_secs_f64();
        if let (Some(before), Some(after)) = (cpu_before, server.and_then(ServerStats::cpu_seconds))
        {
            cpu_s += after - before;
        }
        let ok: u64 = results.iter().map(|r| r.ok).sum();
        rates.push(ok as f64 / elapsed);
        calls += ok;
        for r in results {
            errors += r.errors;
            if first_error.is_none() {
                first_error = r.first_error;
            }
            all.add(&r.latencies).expect("same histogram bounds");
        }
    }
    if let Some(e) = first_error {
        eprintln!("  first error at {} in flight: {e}", spec.in_flight);
    }
    rates.sort_by(f64::total_cmp);
    let memory = server.and_then(ServerStats::memory_mib);
    Measured {
        in_flight: spec.in_flight,
        rps: rates[rates.len() / 2],
        p50_us: all.value_at_quantile(0.50),
        p99_us: all.value_at_quantile(0.99),
        p999_us: all.value_at_quantile(0.999),
        errors,
        calls,
        server_cpu_us: (server.is_some() && calls > 0).then(|| cpu_s * 1e6 / calls as f64),
        server_rss_mib: memory.map(|m| m.0),
        server_peak_rss_mib: memory.map(|m| m.1),
    }
}
