//! Per-phase write timing: recoupd's write histograms (`recoup_write_*`, `recoup_wal_checkpoint_*`
//! on its `--metrics-addr`) read before and after a measurement, so a write RPC's row says where
//! its time went: the wait for the writer, the batch size, and each transaction phase.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use recoup_store::phases::{
    BATCH_REQUESTS, CHECKPOINT_SECONDS, PHASE_SECONDS, PHASES, QUEUED_SECONDS,
};

use crate::harness::BoxError;

/// One histogram series: its count, sum and cumulative buckets (upper bound, count).
#[derive(Debug, Clone, Default)]
struct Hist {
    count: f64,
    sum: f64,
    buckets: Vec<(f64, f64)>,
}

/// The histograms of one scrape, by name and labels (without `le`).
#[derive(Debug, Clone, Default)]
pub struct Scrape(BTreeMap<(String, String), Hist>);

/// The families read.
const FAMILIES: [&str; 4] = [
    QUEUED_SECONDS,
    BATCH_REQUESTS,
    PHASE_SECONDS,
    CHECKPOINT_SECONDS,
];

/// Reads recoupd's metrics at `addr` (host:port).
pub async fn scrape(addr: &str) -> Result<Scrape, BoxError> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client
        .get(format!("http://{addr}/metrics").parse()?)
        .await?;
    let body = response.into_body().collect().await?.to_bytes();
    Ok(parse(&String::from_utf8_lossy(&body)))
}

/// The histograms of Prometheus text `text` in `FAMILIES`.
fn parse(text: &str) -> Scrape {
    let mut out: BTreeMap<(String, String), Hist> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        let Some((family, part)) = FAMILIES.iter().find_map(|f| {
            name.strip_prefix(f)
                .and_then(|rest| rest.strip_prefix('_'))
                .map(|part| (*f, part))
        }) else {
            continue;
        };
        let mut le = None;
        let kept: Vec<&str> = labels
            .split(',')
            .filter(|l| match l.strip_prefix("le=") {
                Some(v) => {
                    le = v.trim_matches('"').parse::<f64>().ok();
                    false
                }
                None => !l.is_empty(),
            })
            .collect();
        let h = out.entry((family.to_owned(), kept.join(","))).or_default();
        match (part, le) {
            ("count", _) => h.count = value,
            ("sum", _) => h.sum = value,
            ("bucket", Some(le)) => h.buckets.push((le, value)),
            _ => {}
        }
    }
    Scrape(out)
}

/// One series' change between two scrapes.
#[derive(Debug, Clone)]
pub struct Delta {
    /// e.g. `recoup_write_phase_seconds`.
    pub family: String,
    /// e.g. `write="payment",phase="commit"`.
    pub labels: String,
    pub count: u64,
    pub mean: f64,
    /// The upper bound of the bucket holding the 99th percentile (None past the last bucket).
    pub p99_at_most: Option<f64>,
}

/// What changed between `before` and `after`: every series that counted something meanwhile.
pub fn between(before: &Scrape, after: &Scrape) -> Vec<Delta> {
    let empty = Hist::default();
    after
        .0
        .iter()
        .filter_map(|((family, labels), a)| {
            let b = before
                .0
                .get(&(family.clone(), labels.clone()))
                .unwrap_or(&empty);
            let count = a.count - b.count;
            if count < 1.0 {
                return None;
            }
            let p99_at_most = a
                .buckets
                .iter()
                .find_map(|&(le, cum)| {
                    let earlier = b
                        .buckets
                        .iter()
                        .find(|(l, _)| *l == le)
                        .map_or(0.0, |(_, c)| *c);
                    (cum - earlier >= 0.99 * count).then_some(le)
                })
                .filter(|le| le.is_finite());
            Some(Delta {
                family: family.clone(),
                labels: labels.clone(),
                count: count as u64,
                mean: (a.sum - b.sum) / count,
                p99_at_most,
            })
        })
        .collect()
}

/// A label's value in `labels` (`write="payment",phase="commit"`).
fn label<'a>(labels: &'a str, key: &str) -> &'a str {
    labels
        .split(',')
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map_or("", |v| v.trim_matches('"'))
}

/// Lines for people: per write, its batches, the wait for the writer and each phase's mean (p99
/// bound) in µs; then the checkpoints.
pub fn lines(deltas: &[Delta]) -> String {
    let us = |s: f64| format!("{:.0}", s * 1e6);
    let p99 = |d: &Delta| {
        d.p99_at_most
            .map_or_else(|| "> 10 s".into(), |s| format!("≤ {}", us(s)))
    };
    let mut out = String::new();
    let mut writes: Vec<&str> = deltas.iter().map(|d| label(&d.labels, "write")).collect();
    writes.retain(|w| !w.is_empty());
    writes.sort_unstable();
    writes.dedup();
    for w in writes {
        let of = |family: &'static str| {
            deltas
                .iter()
                .filter(move |d| d.family == family && label(&d.labels, "write") == w)
        };
        let _ = write!(out, "    {w} writes:");
        for d in of(BATCH_REQUESTS) {
            let _ = write!(out, " {} batches of {:.1} requests;", d.count, d.mean);
        }
        for d in of(QUEUED_SECONDS) {
            let _ = write!(out, " queued {} µs (p99 {});", us(d.mean), p99(d));
        }
        let phases: Vec<String> = PHASES
            .iter()
            .filter_map(|p| {
                of(PHASE_SECONDS)
                    .find(|d| label(&d.labels, "phase") == *p)
                    .map(|d| format!("{p} {} (p99 {})", us(d.mean), p99(d)))
            })
            .collect();
        let _ = writeln!(out, " per transaction µs: {}", phases.join(", "));
    }
    for d in deltas.iter().filter(|d| d.family == CHECKPOINT_SECONDS) {
        let _ = writeln!(
            out,
            "    {} checkpoints: {} of {} µs (p99 {})",
            label(&d.labels, "mode"),
            d.count,
            us(d.mean),
            p99(d)
        );
    }
    out
}

/// The deltas as JSON, for the results file.
pub fn json(deltas: &[Delta]) -> Value {
    Value::Array(
        deltas
            .iter()
            .map(|d| {
                json!({
                    "series": format!("{}{{{}}}", d.family, d.labels),
                    "count": d.count,
                    "mean": d.mean,
                    "p99_at_most": d.p99_at_most,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"# TYPE recoup_write_phase_seconds histogram
recoup_write_phase_seconds_bucket{write="payment",phase="commit",le="0.001"} 1
recoup_write_phase_seconds_bucket{write="payment",phase="commit",le="0.01"} 2
recoup_write_phase_seconds_bucket{write="payment",phase="commit",le="+Inf"} 2
recoup_write_phase_seconds_sum{write="payment",phase="commit"} 0.006
recoup_write_phase_seconds_count{write="payment",phase="commit"} 2
recoup_rpc_in_flight 3
"#;
    const AFTER: &str = r#"recoup_write_phase_seconds_bucket{write="payment",phase="commit",le="0.001"} 51
recoup_write_phase_seconds_bucket{write="payment",phase="commit",le="0.01"} 101
recoup_write_phase_seconds_bucket{write="payment",phase="commit",le="+Inf"} 102
recoup_write_phase_seconds_sum{write="payment",phase="commit"} 0.306
recoup_write_phase_seconds_count{write="payment",phase="commit"} 102
recoup_write_batch_requests_sum{write="payment"} 400
recoup_write_batch_requests_count{write="payment"} 100
"#;

    #[test]
    fn a_measurement_sees_only_what_happened_during_it() {
        let deltas = between(&parse(BEFORE), &parse(AFTER));
        let commit = deltas
            .iter()
            .find(|d| d.family == "recoup_write_phase_seconds")
            .expect("the commit phase");
        assert_eq!(commit.count, 100);
        assert!((commit.mean - 0.003).abs() < 1e-12);
        // 50 of the 100 within 1 ms, 99 within 10 ms: the 99th is in the 10 ms bucket.
        assert_eq!(commit.p99_at_most, Some(0.01));
        let batches = deltas
            .iter()
            .find(|d| d.family == "recoup_write_batch_requests")
            .expect("the batches");
        assert_eq!((batches.count, batches.mean), (100, 4.0));
        let text = lines(&deltas);
        assert!(
            text.contains("payment writes: 100 batches of 4.0 requests;"),
            "{text}"
        );
        assert!(text.contains("commit 3000 (p99 ≤ 10000)"), "{text}");
    }
}
