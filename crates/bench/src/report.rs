//! The run's results: a table for people and JSON lines for tools.

use std::fmt::Write as _;

use serde_json::json;

use crate::load::Measured;

/// One measured RPC at one load level.
#[derive(Debug, Clone)]
pub struct Row {
    pub rpc: String,
    pub measured: Measured,
    /// Throughput over the echo baseline's at the same level (None for the echo itself).
    pub ratio: Option<f64>,
}

/// What the whole run was.
#[derive(Debug, Clone)]
pub struct Context {
    pub backend: String,
    pub accounts: usize,
    pub connections: usize,
    pub cores: usize,
}

fn opt(v: Option<f64>, places: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.places$}"))
}

/// The table, one line per RPC and level.
pub fn table(ctx: &Context, rows: &[Row]) -> String {
    let mut out = format!(
        "{} book of {} accounts, {} HTTP/2 connections, {} cores; ratio = req/s over echo's at the same level\n",
        ctx.backend, ctx.accounts, ctx.connections, ctx.cores
    );
    let _ = writeln!(
        out,
        "{:<18} {:>9} {:>10} {:>8} {:>8} {:>8} {:>7} {:>10} {:>8} {:>7}",
        "rpc",
        "in-flight",
        "req/s",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "errors",
        "cpu µs/req",
        "rss MiB",
        "ratio"
    );
    for r in rows {
        let m = &r.measured;
        let _ = writeln!(
            out,
            "{:<18} {:>9} {:>10.0} {:>8} {:>8} {:>8} {:>7} {:>10} {:>8} {:>7}",
            r.rpc,
            m.in_flight,
            m.rps,
            m.p50_us,
            m.p99_us,
            m.p999_us,
            m.errors,
            opt(m.server_cpu_us, 1),
            opt(m.server_peak_rss_mib, 1),
            r.ratio
                .map_or_else(|| "1.000".into(), |v| format!("{v:.3}")),
        );
    }
    out
}

/// One JSON object per row.
pub fn json_lines(ctx: &Context, rows: &[Row]) -> String {
    let now = chrono::Utc::now().to_rfc3339();
    rows.iter()
        .map(|r| {
            let m = &r.measured;
            json!({
                "time": now,
                "backend": ctx.backend,
                "accounts": ctx.accounts,
                "connections": ctx.connections,
                "cores": ctx.cores,
                "rpc": r.rpc,
                "in_flight": m.in_flight,
                "rps": m.rps,
                "p50_us": m.p50_us,
                "p99_us": m.p99_us,
                "p999_us": m.p999_us,
                "errors": m.errors,
                "calls": m.calls,
                "server_cpu_us_per_call": m.server_cpu_us,
                "server_rss_mib": m.server_rss_mib,
                "server_peak_rss_mib": m.server_peak_rss_mib,
                "ratio_to_echo": r.ratio,
            })
            .to_string()
                + "\n"
        })
        .collect()
}
