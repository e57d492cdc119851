//! The reference-rate tables as an operator meets them: `recoupd rates` prints what is in force,
//! shipped and from the policy file, and `recoupd serve` warns (and a gauge says) when debts falling
//! overdue today take a rate the tables do not know yet; a decision added in the policy file (a held
//! rate restated) makes them current without a rebuild.

use std::io::{Read, Write};

use chrono::Utc;
use recoup_domain::interest::ReferenceRates;
use recoup_store::testkit::TestDb;

use crate::binary::Daemon;

const RECOUPD: &str = env!("CARGO_BIN_EXE_recoupd");

/// A policy file restating both rates as held today: both tables known to today.
fn held_today(dir: &std::path::Path) -> std::path::PathBuf {
    let today = Utc::now().date_naive();
    let path = dir.join("policy.toml");
    std::fs::write(
        &path,
        format!(
            "[policy.interest]\nuk_base_rate = [{{ from = {today}, percent = \"3.75\" }}]\n\
             ecb_main_refinancing_rate = [{{ from = {today}, percent = \"2.15\" }}]\n"
        ),
    )
    .unwrap();
    path
}

fn rates(args: &[&str]) -> String {
    let out = std::process::Command::new(RECOUPD)
        .arg("rates")
        .args(args)
        .env_remove("RECOUP_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn rates_prints_the_tables_in_force_and_what_the_policy_file_added() {
    let shipped = rates(&[]);
    for line in [
        "[uk_base_rate] Bank of England Bank Rate",
        "known to: 2026-02-05 (Monetary Policy Committee decision of 5 February 2026",
        "2025-12-18     3.75  shipped",
        "[ecb_main_refinancing_rate] ECB main refinancing operations rate",
        "known to: 2026-04-01",
        "2025-06-11     2.15  shipped",
    ] {
        assert!(shipped.contains(line), "{line:?} missing from:\n{shipped}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = held_today(dir.path());
    let amended = rates(&[file.to_str().unwrap()]);
    let today = Utc::now().date_naive();
    assert!(
        amended.contains(&format!("{today}     3.75  policy file")),
        "{amended}"
    );
    assert!(
        amended.contains(&format!("known to: {today} (the policy file")),
        "{amended}"
    );
    assert!(!amended.contains("STALE"), "{amended}");
}

/// GET http://addr/metrics, the body.
fn scrape(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n").unwrap().1.to_owned()
}

/// Starts recoupd with `extra`, its log in a file; (the log, the stale gauge's value).
fn serve_and_read(extra: &[&str]) -> (String, String) {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("recoupd.log");
    let mut args = vec!["--metrics-addr", "127.0.0.1:0"];
    args.extend(extra);
    let daemon = Daemon::start_logging(&db, &args, Some(&log));
    let metrics = daemon
        .stdout
        .iter()
        .find_map(|l| l.strip_prefix("metrics listening on "))
        .expect("the metrics address")
        .to_owned();
    let body = scrape(&metrics);
    let gauge = body
        .lines()
        .find_map(|l| l.strip_prefix("recoup_reference_rates_stale "))
        .unwrap_or_else(|| panic!("no stale gauge in:\n{body}"))
        .to_owned();
    daemon.terminate();
    (std::fs::read_to_string(&log).unwrap(), gauge)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_warns_and_the_gauge_says_when_the_tables_are_stale() {
    // Stale as the law and today's date say (the shipped tables end in 2026): checked the same way
    // the service does, so the test holds whichever side of a half-year it runs on.
    let stale = !ReferenceRates::shipped()
        .stale_on(Utc::now().date_naive())
        .is_empty();
    let (log, gauge) = serve_and_read(&[]);
    assert_eq!(gauge, if stale { "1" } else { "0" });
    assert_eq!(
        log.contains("reference rates are stale: the table is known to 2026-02-05"),
        stale,
        "{log}"
    );
    // The decisions restated in the policy file: current, no warning, gauge 0.
    let dir = tempfile::tempdir().unwrap();
    let file = held_today(dir.path());
    let (log, gauge) = serve_and_read(&["--config", file.to_str().unwrap()]);
    assert_eq!(gauge, "0");
    assert!(!log.contains("reference rates are stale"), "{log}");
}
