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

/// A small disk of its own (tmpfs), unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// None (after a notice) where this process may not mount one, unless the run requires every
    /// test (CI runs as root).
    fn mount(mib: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            assert!(
                !recoup_store::testkit::postgres_required(),
                "cannot mount a small tmpfs disk (the disk-full test needs root)"
            );
            eprintln!("NOTICE: cannot mount a tmpfs (not root); skipping the disk-full test");
            return None;
        }
        Some(SmallDisk { dir })
    }

    /// Fills what is left with a file; returns its path.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.dir.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// With the disk full, a payment is refused UNAVAILABLE (retryable; nothing written), reads are
/// served, and health is NOT_SERVING; once space is freed the writer recovers by itself: health
/// SERVING again, the same request then succeeds, and new ones too — no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writes_recover_by_themselves_after_the_disk_was_full() {
    use recoup_proto::v1 as pb;
    use tonic_types::StatusExt;
    let Some(disk) = SmallDisk::mount(24) else {
        return;
    };
    let options = ServeOptions {
        health_interval: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    let server = TestServer::start_with(TestDb::sqlite_in(disk.dir.path()), &options).await;
    let mut client = server.accounts();
    let today = crate::london_today();
    crate::import(
        &mut client,
        "full-import",
        vec![crate::account(
            "FULL-1",
            vec![crate::invoice(
                "FULL-INV",
                today - chrono::Days::new(30),
                crate::money("GBP", 1_000_000, 0),
            )],
        )],
    )
    .await
    .unwrap();
    let parent = crate::get(&mut client, "FULL-1").await.name;
    let pay = |n: usize| pb::RecordPaymentRequest {
        request_id: format!("full-pay-{n}"),
        parent: parent.clone(),
        payment: Some(pb::Payment {
            amount: Some(crate::money("GBP", 1, 0)),
            payment_date: Some(crate::date(today)),
            reference: format!("{n:0>140}"),
            ..Default::default()
        }),
    };
    until(&server, ServingStatus::Serving).await;

    let filler = disk.fill();
    // The WAL may still have room for a few: write until the disk refuses.
    let mut refused = None;
    for n in 0..2_000 {
        match client.record_payment(pay(n)).await {
            Ok(_) => {}
            Err(status) => {
                refused = Some((n, status));
                break;
            }
        }
    }
    let (n, status) = refused.expect("a full disk refused no write");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert_eq!(
        status.get_error_details().error_info().unwrap().reason,
        "UNAVAILABLE"
    );
    until(&server, ServingStatus::NotServing).await;
    // Reads are served while the disk is full.
    let read = crate::get(&mut client, "FULL-1").await;
    let paid_before = read.balance.unwrap().outstanding.unwrap().units;

    std::fs::remove_file(filler).unwrap();
    until(&server, ServingStatus::Serving).await;
    client
        .record_payment(pay(n))
        .await
        .expect("the refused payment, sent again once space is freed");
    for m in n + 1..n + 5 {
        client.record_payment(pay(m)).await.expect("a new payment");
    }
    let after = crate::get(&mut client, "FULL-1").await;
    assert_eq!(
        after.balance.unwrap().outstanding.unwrap().units,
        paid_before - 5,
        "the refused payment wrote nothing; the five after it each once"
    );
    server.stop().await;
}
