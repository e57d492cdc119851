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
    /// recoupd's write histograms over the measurement (warm-up included): where writes spent
    /// their time. Empty when nothing was written or the server's metrics are not known.
    pub writes: Vec<crate::phases::Delta>,
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
        out.push_str(&crate::phases::lines(&r.writes));
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
                "writes": crate::phases::json(&r.writes),
            })
            .to_string()
                + "\n"
        })
        .collect()
}

/// The `fresh` table: one line per backend, then how PostgreSQL's RecordPayment latency compares
/// with SQLite's.
pub fn fresh_table(levels: &[usize], echo: &[f64], rows: &[crate::fresh::FreshMeasured]) -> String {
    let mut out = String::from(
        "a fresh book through ImportAccounts, then left alone; idle CPU in % of one core; \
         RecordPayment ratio = req/s over echo's at the same level\n",
    );
    let baseline: Vec<String> = levels
        .iter()
        .zip(echo)
        .map(|(level, rps)| format!("{rps:.0} req/s at {level}"))
        .collect();
    let _ = writeln!(out, "echo: {}", baseline.join(", "));
    let _ = writeln!(
        out,
        "{:<9} {:>9} {:>9} {:>12} {:>10} {:>10} {:>11} {:>9} {:>9} {:>7}",
        "backend",
        "accounts",
        "import s",
        "usable +s",
        "idle srv %",
        "idle db %",
        "slow stmts",
        "in-flight",
        "p50 µs",
        "ratio"
    );
    for r in rows {
        for (k, (m, ratio)) in r.payments.iter().enumerate() {
            if k == 0 {
                let _ = write!(
                    out,
                    "{:<9} {:>9} {:>9.1} {:>12.1} {:>10.2} {:>10} {:>11} ",
                    r.backend,
                    r.accounts,
                    r.import_seconds,
                    r.usable_after_seconds,
                    100.0 * r.idle_server_cores,
                    opt(r.idle_database_cores.map(|c| 100.0 * c), 2),
                    r.idle_slow_statements
                );
            } else {
                let _ = write!(
                    out,
                    "{:<9} {:>9} {:>9} {:>12} {:>10} {:>10} {:>11} ",
                    "", "", "", "", "", "", ""
                );
            }
            let _ = writeln!(out, "{:>9} {:>9} {:>7.3}", m.in_flight, m.p50_us, ratio);
        }
    }
    let p50 = |backend: &str| {
        rows.iter()
            .find(|r| r.backend == backend)
            .and_then(|r| r.payments.first())
            .map(|(m, _)| (m.in_flight, m.p50_us as f64))
    };
    if let (Some((level, sqlite)), Some((_, pg))) = (p50("sqlite"), p50("postgres")) {
        let _ = writeln!(
            out,
            "RecordPayment p50 at {level} in flight: PostgreSQL {:.2}x SQLite's",
            pg / sqlite
        );
    }
    out
}

/// One JSON object per backend of a `fresh` run.
pub fn fresh_json_lines(rows: &[crate::fresh::FreshMeasured]) -> String {
    let now = chrono::Utc::now().to_rfc3339();
    rows.iter()
        .map(|r| {
            json!({
                "time": now,
                "kind": "fresh",
                "backend": r.backend,
                "accounts": r.accounts,
                "import_seconds": r.import_seconds,
                "usable_after_seconds": r.usable_after_seconds,
                "idle_seconds": r.idle_seconds,
                "idle_server_cores": r.idle_server_cores,
                "idle_database_cores": r.idle_database_cores,
                "idle_slow_statements": r.idle_slow_statements,
                "record_payment": r.payments.iter().map(|(m, ratio)| json!({
                    "in_flight": m.in_flight,
                    "rps": m.rps,
                    "p50_us": m.p50_us,
                    "p99_us": m.p99_us,
                    "errors": m.errors,
                    "ratio": ratio,
                })).collect::<Vec<_>>(),
            })
            .to_string()
                + "\n"
        })
        .collect()
}
