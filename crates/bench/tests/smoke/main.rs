//! A quick run of the harness as a user runs it: every RPC at two levels on a tiny book, and an
//! import beside the engine's rate. It checks that the harness works and reports what it should;
//! it asserts no speed.

use std::process::Command;

const BENCH: &str = env!("CARGO_BIN_EXE_recoup-bench");

#[test]
fn the_harness_measures_every_rpc_against_the_echo() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("results.jsonl");
    let url = format!("sqlite:{}", dir.path().join("book.db").display());
    let out = Command::new(BENCH)
        .args([
            "--max-time",
            "3m",
            "run",
            "--accounts",
            "300",
            "--levels",
            "1,4",
        ])
        .args(["--warmup", "100ms", "--round", "300ms", "--rounds", "2"])
        .args(["--database-url", &url, "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut rpcs = vec!["echo"];
    rpcs.extend(recoup_bench::rpcs::ALL);
    assert_eq!(rows.len(), rpcs.len() * 2, "{table}");
    for rpc in rpcs {
        for level in [1, 4] {
            let row = rows
                .iter()
                .find(|r| r["rpc"] == rpc && r["in_flight"] == level)
                .unwrap_or_else(|| panic!("no row for {rpc} at {level}:\n{table}"));
            assert_eq!(row["errors"], 0, "{rpc} at {level}: {row}");
            assert!(
                row["calls"].as_u64().unwrap() > 0,
                "{rpc} at {level}: {row}"
            );
            assert!(row["server_cpu_us_per_call"].is_number(), "{row}");
            if rpc != "echo" {
                assert!(row["ratio_to_echo"].as_f64().unwrap() > 0.0, "{row}");
            }
            assert!(table.contains(rpc), "{table}");
            // A write RPC's row says where its time went inside recoupd: its batches and each
            // phase of their transactions.
            let written = match rpc {
                "record_payment" => Some("payment"),
                "record_call_outcome" => Some("call"),
                _ => None,
            };
            if let Some(write) = written {
                let series: Vec<&str> = row["writes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|w| w["series"].as_str().unwrap())
                    .collect();
                for phase in ["begin", "work", "epilogue", "commit"] {
                    let name = format!(
                        "recoup_write_phase_seconds{{write=\"{write}\",phase=\"{phase}\"}}"
                    );
                    assert!(series.contains(&name.as_str()), "{name} in {series:?}");
                }
            }
        }
    }
    assert!(table.contains("payment writes:"), "{table}");
}

#[test]
fn the_harness_compares_an_import_with_the_engine() {
    let out = Command::new(BENCH)
        .args([
            "--max-time",
            "3m",
            "import",
            "--accounts",
            "200",
            "--backend",
            "sqlite",
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = table
        .lines()
        .find(|l| l.starts_with("sqlite"))
        .expect("a sqlite line");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[1], "200", "{table}");
    let ratio: f64 = fields[5].parse().unwrap();
    assert!(ratio > 0.0, "{table}");
}

#[test]
fn the_harness_measures_a_fresh_book_idle_and_writing() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("results.jsonl");
    // CI requires PostgreSQL: there both backends are measured, as `scripts/bench` does.
    let backend = if recoup_store::testkit::postgres_required() {
        "both"
    } else {
        "sqlite"
    };
    let out = Command::new(BENCH)
        .args(["--max-time", "3m", "fresh", "--accounts", "300"])
        .args(["--backend", backend, "--idle", "2s", "--levels", "1,4"])
        .args([
            "--warmup", "100ms", "--round", "300ms", "--rounds", "2", "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), if backend == "both" { 2 } else { 1 }, "{table}");
    for row in rows {
        assert_eq!(row["accounts"], 300, "{row}");
        assert_eq!(row["idle_slow_statements"], 0, "{row}");
        let idle = row["idle_server_cores"].as_f64().unwrap();
        assert!((0.0..1.0).contains(&idle), "{row}");
        if row["backend"] == "postgres" {
            assert!(row["idle_database_cores"].is_number(), "{row}");
        }
        let payments = row["record_payment"].as_array().unwrap();
        assert_eq!(payments.len(), 2, "{row}");
        for p in payments {
            assert_eq!(p["errors"], 0, "{row}");
            assert!(p["ratio"].as_f64().unwrap() > 0.0, "{row}");
        }
    }
    assert!(table.contains("RecordPayment ratio"), "{table}");
}
