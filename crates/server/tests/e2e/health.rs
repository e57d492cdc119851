//! Health reflects a usable database: reachable, with this build's schema, and (SQLite) still the
//! file that was opened. A database that lost its schema or was replaced is NOT_SERVING.

use std::time::{Duration, Instant};

use recoup_server::server::ServeOptions;
use recoup_store::testkit::TestDb;
use recoup_store::{Store, StoreOptions};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::TestServer;

async fn status(server: &TestServer) -> i32 {
    HealthClient::new(server.channel.clone())
        .check(HealthCheckRequest {
            service: "recoup.v1.AccountService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

/// Waits (at most 10 s) for health to report `want`.
async fn until(server: &TestServer, want: ServingStatus) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = status(server).await;
        if got == want as i32 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "health stayed {got}, wanted {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The database loses its schema (PostgreSQL: recreated empty) or its file (SQLite: replaced by an
/// empty one) under a running server: health turns NOT_SERVING.
#[tokio::test]
async fn a_database_without_the_schema_is_not_serving() {
    for db in TestDb::all().await {
        let options = ServeOptions {
            health_interval: Duration::from_millis(100),
            ..ServeOptions::default()
        };
        let server = TestServer::start_with(db, &options).await;
        until(&server, ServingStatus::Serving).await;
        server.db.recreate_empty().await;
        until(&server, ServingStatus::NotServing).await;
        server.stop().await;
    }
}

#[tokio::test]
async fn in_memory_sqlite_is_refused_with_the_reason() {
    for url in ["sqlite:", "sqlite::memory:", "sqlite:file:x?mode=memory"] {
        let opened = Store::connect(&StoreOptions {
            url: url.into(),
            ..StoreOptions::default()
        })
        .await;
        let err = opened
            .err()
            .unwrap_or_else(|| panic!("{url} was accepted"))
            .to_string();
        assert!(
            err.contains("which recoupd refuses") && err.contains("sqlite:recoup.db"),
            "{url}: {err}"
        );
    }
}

/// Runs `recoupd health` with `args` off the runtime's threads: (exit success, stdout + stderr).
pub async fn health_command(args: Vec<String>) -> (bool, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_recoupd"))
            .arg("health")
            .args(&args)
            .env("RECOUP_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_health_command_exits_zero_only_while_the_server_serves() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let addr = server.running_addr();
    let (ok, out) = health_command(vec!["--addr".into(), addr.clone()]).await;
    assert!(ok && out.contains("SERVING"), "{out}");
    let (ok, out) = health_command(vec![
        "--addr".into(),
        addr.clone(),
        "--service".into(),
        "recoup.v1.GuidanceService".into(),
    ])
    .await;
    assert!(ok, "{out}");
    let (ok, out) = health_command(vec![
        "--addr".into(),
        addr.clone(),
        "--service".into(),
        "recoup.v1.NoSuchService".into(),
    ])
    .await;
    assert!(!ok && out.contains("did not answer"), "{out}");
    server.stop().await;
    let (ok, out) = health_command(vec![
        "--addr".into(),
        addr,
        "--timeout-secs".into(),
        "2".into(),
    ])
    .await;
    assert!(!ok && out.contains("is not reachable"), "{out}");
}
