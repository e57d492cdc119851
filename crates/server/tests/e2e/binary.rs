//! The recoupd binary as an operator runs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_store::testkit::TestDb;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const RECOUPD: &str = env!("CARGO_BIN_EXE_recoupd");

/// A recoupd process; killed if a test fails before stopping it.
pub struct Daemon {
    child: Child,
    pub addr: String,
    pub stdout: Vec<String>,
}

impl Daemon {
    pub fn start(db: &TestDb, extra: &[&str]) -> Daemon {
        Self::start_logging(db, extra, None)
    }

    /// With `log`, the daemon logs at TRACE into that file; otherwise warnings go to the test's stderr.
    pub fn start_logging(db: &TestDb, extra: &[&str], log: Option<&std::path::Path>) -> Daemon {
        let mut command = Command::new(RECOUPD);
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                &db.url,
            ])
            .args(extra)
            .stdout(Stdio::piped());
        match log {
            Some(path) => command
                .env("RECOUP_LOG", "trace")
                .stderr(std::fs::File::create(path).expect("log file")),
            None => command.env("RECOUP_LOG", "warn").stderr(Stdio::inherit()),
        };
        let mut child = command.spawn().expect("spawn recoupd");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut stdout = Vec::new();
        let addr = loop {
            let line = lines
                .next()
                .expect("recoupd exited before listening")
                .unwrap();
            if let Some(addr) = line.strip_prefix("recoupd listening on ") {
                break addr.to_owned();
            }
            stdout.push(line);
        };
        Daemon {
            child,
            addr,
            stdout,
        }
    }

    /// The demo key printed for `role`.
    pub fn demo_key(&self, role: &str) -> String {
        self.stdout
            .iter()
            .find_map(|l| l.trim().strip_prefix(role)?.trim().strip_prefix("rk_"))
            .map(|k| format!("rk_{k}"))
            .unwrap_or_else(|| panic!("no demo key for {role} in {:?}", self.stdout))
    }

    /// AccountService with the demo integration key.
    pub async fn client(&self) -> crate::Client {
        let channel = tonic::transport::Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let authed = tonic::service::interceptor::InterceptedService::new(
            channel,
            crate::Bearer(self.demo_key("integration")),
        );
        AccountServiceClient::new(authed)
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(mut self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "recoupd exited with {status}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "recoupd did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn help_documents_every_flag_and_variable() {
    let out = Command::new(RECOUPD)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for word in [
        "--listen",
        "RECOUP_LISTEN",
        "--database-url",
        "RECOUP_DATABASE_URL",
        "--demo",
        "RECOUP_DEMO",
        "--db-max-connections",
        "RECOUP_DB_MAX_CONNECTIONS",
        "--db-timeout-secs",
        "RECOUP_DB_TIMEOUT_SECS",
        "--shutdown-grace-secs",
        "RECOUP_SHUTDOWN_GRACE_SECS",
        "--shutdown-drain-secs",
        "RECOUP_SHUTDOWN_DRAIN_SECS",
        "--log",
        "RECOUP_LOG",
        "--tls-cert",
        "RECOUP_TLS_CERT",
        "--tls-key",
        "RECOUP_TLS_KEY",
        "--tls-client-ca",
        "RECOUP_TLS_CLIENT_CA",
        "--insecure",
        "RECOUP_INSECURE",
        "--max-message-bytes",
        "RECOUP_MAX_MESSAGE_BYTES",
        "--max-concurrent-calls",
        "RECOUP_MAX_CONCURRENT_CALLS",
        "--call-timeout-secs",
        "RECOUP_CALL_TIMEOUT_SECS",
        "--max-page-size",
        "RECOUP_MAX_PAGE_SIZE",
        "--jwt-issuer",
        "RECOUP_JWT_ISSUER",
        "--jwt-audience",
        "RECOUP_JWT_AUDIENCE",
        "--jwt-key",
        "RECOUP_JWT_KEY",
        "--jwt-algorithm",
        "RECOUP_JWT_ALGORITHM",
        "--jwt-role-claim",
        "RECOUP_JWT_ROLE_CLAIM",
        "--jwt-subject-claim",
        "RECOUP_JWT_SUBJECT_CLAIM",
        "--config",
        "RECOUP_CONFIG",
        "--key-cache-secs",
        "RECOUP_KEY_CACHE_SECS",
        "--health-interval-secs",
        "RECOUP_HEALTH_INTERVAL_SECS",
        "--watch-heartbeat-secs",
        "RECOUP_WATCH_HEARTBEAT_SECS",
        "--templates-dir",
        "RECOUP_TEMPLATES_DIR",
        "--metrics-addr",
        "RECOUP_METRICS_ADDR",
        "--max-connection-age-secs",
        "RECOUP_MAX_CONNECTION_AGE_SECS",
        "--max-calls-per-caller",
        "RECOUP_MAX_CALLS_PER_CALLER",
        "--caller-rate",
        "RECOUP_CALLER_RATE",
        "--caller-burst",
        "RECOUP_CALLER_BURST",
        "--role-limit",
        "RECOUP_ROLE_LIMITS",
        "--max-connections",
        "RECOUP_MAX_CONNECTIONS",
        "--max-streams-per-connection",
        "RECOUP_MAX_STREAMS_PER_CONNECTION",
        "--handshake-timeout-secs",
        "RECOUP_HANDSHAKE_TIMEOUT_SECS",
        "--keepalive-secs",
        "RECOUP_KEEPALIVE_SECS",
        "--idle-connection-secs",
        "RECOUP_IDLE_CONNECTION_SECS",
        "--stream-idle-secs",
        "RECOUP_STREAM_IDLE_SECS",
        "--log-format",
        "RECOUP_LOG_FORMAT",
        "--otlp-endpoint",
        "RECOUP_OTLP_ENDPOINT",
        "22 accounts",
    ] {
        assert!(help.contains(word), "serve --help lacks {word}:\n{help}");
    }
}

// Multi-threaded: `terminate` blocks this thread while the client's connection must still close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_loads_once_and_stops_cleanly_on_sigterm() {
    for db in TestDb::all().await {
        let daemon = Daemon::start(&db, &["--demo"]);
        assert!(
            daemon
                .stdout
                .iter()
                .any(|l| l.starts_with("demo book loaded: 22 accounts")),
            "{:?}",
            daemon.stdout
        );
        let mut client = daemon.client().await;
        let all = list_all(&mut client).await;
        assert_eq!(all.accounts.len(), 22, "{}", db.backend);
        let currencies: std::collections::BTreeSet<_> = all
            .accounts
            .iter()
            .map(|a| a.currency_code.clone())
            .collect();
        let zones: std::collections::BTreeSet<_> =
            all.accounts.iter().map(|a| a.time_zone.clone()).collect();
        assert!(
            currencies.len() >= 6 && zones.len() >= 8,
            "variety: {currencies:?} {zones:?}"
        );
        let crossed = crate::get(&mut client, "DEMO-011").await;
        assert_eq!(
            crate::text(&crossed.balance.unwrap().outstanding),
            "GBP 0.00",
            "payment already made"
        );
        // The histories: a delayer's broken promises, an avoider's unanswered calls.
        let delayer = crate::get(&mut client, "DEMO-006").await;
        assert_eq!(delayer.broken_promise_count, 2, "{}", db.backend);
        let avoider = crate::get(&mut client, "DEMO-007").await;
        assert_eq!(avoider.recent_calls.len(), 6);
        assert!(
            avoider
                .recent_calls
                .iter()
                .all(|c| c.direction() == pb::CallDirection::Outbound && !c.right_party_contact)
        );
        // The broken plan: the first of three instalments paid, the next two missed.
        let broken = crate::get(&mut client, "DEMO-022").await;
        let agent = tonic::service::interceptor::InterceptedService::new(
            tonic::transport::Channel::from_shared(format!("http://{}", daemon.addr))
                .unwrap()
                .connect_lazy(),
            crate::Bearer(daemon.demo_key("agent")),
        );
        let plans = recoup_proto::v1::plan_service_client::PlanServiceClient::new(agent)
            .list_plans(pb::ListPlansRequest {
                parent: broken.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .plans;
        assert_eq!(plans.len(), 1, "{}", db.backend);
        assert_eq!(plans[0].state(), pb::PlanState::Broken);
        assert_eq!(plans[0].missed_count, 2);
        assert_eq!(crate::text(&plans[0].paid), "GBP 1,600.00");
        daemon.terminate();

        let again = Daemon::start(&db, &["--demo"]);
        assert!(
            again.stdout.iter().any(|l| l.contains("already loaded")),
            "{:?}",
            again.stdout
        );
        let all = list_all(&mut again.client().await).await;
        assert_eq!(
            all.accounts.len(),
            22,
            "{}: loading twice adds nothing",
            db.backend
        );
        again.terminate();
        db.cleanup().await;
    }
}

async fn list_all(client: &mut crate::Client) -> pb::ListAccountsResponse {
    let request = pb::ListAccountsRequest {
        page_size: 100,
        ..Default::default()
    };
    client.list_accounts(request).await.unwrap().into_inner()
}

/// Runs recoupd to completion: (success, stdout + stderr).
pub fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(RECOUPD)
        .args(args)
        .env("RECOUP_LOG", "info")
        .env_remove("RECOUP_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn keys_are_created_listed_and_revoked_from_the_command_line() {
    let db = TestDb::sqlite();
    assert!(run(&["migrate", "--database-url", &db.url]).0);
    // The database flags are accepted after the subcommand as well as before it.
    let keys = |args: &[&str]| {
        let out = Command::new(RECOUPD)
            .arg("keys")
            .args(args)
            .args(["--database-url", &db.url])
            .env("RECOUP_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, created) = keys(&[
        "create",
        "--role",
        "supervisor",
        "--subject",
        "Dana Lead",
        "--expires",
        "30d",
    ]);
    assert!(ok, "{created}");
    let secret = created
        .split_whitespace()
        .find(|w| w.starts_with("rk_"))
        .unwrap()
        .to_owned();
    let key_id = secret
        .trim_start_matches("rk_")
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    let (_, listed) = keys(&["list"]);
    assert!(
        listed.contains(&key_id) && listed.contains("supervisor") && listed.contains("active"),
        "{listed}"
    );
    assert!(
        !listed.contains(secret.split('.').nth(1).unwrap()),
        "list never shows secrets"
    );
    let (ok, _) = keys(&["revoke", &key_id]);
    assert!(ok);
    let (_, listed) = keys(&["list"]);
    assert!(listed.contains("revoked"), "{listed}");
    let (ok, again) = keys(&["revoke", &key_id]);
    assert!(!ok && again.contains("no active key"), "{again}");
    let (ok, bad) = keys(&["create", "--role", "root", "--subject", "x"]);
    assert!(!ok && bad.contains("invalid value"), "{bad}");
    for expires in ["0d", "0s"] {
        let (ok, bad) = keys(&[
            "create",
            "--role",
            "agent",
            "--subject",
            "x",
            "--expires",
            expires,
        ]);
        assert!(!ok && bad.contains("longer than zero"), "{expires}: {bad}");
    }
    let (ok, listed) = run(&["--database-url", &db.url, "keys", "list"]);
    assert!(ok && listed.contains(&key_id), "{listed}");
    // A key limited to queues says so when created and listed; a queue name must be one.
    let (ok, created) = keys(&[
        "create",
        "--role",
        "agent",
        "--subject",
        "Ana Ruiz",
        "--queue",
        "iberia",
        "--queue",
        "latam",
    ]);
    assert!(ok && created.contains("queues iberia, latam"), "{created}");
    let (_, listed) = keys(&["list"]);
    assert!(
        listed.contains("Ana Ruiz (queues iberia, latam)"),
        "{listed}"
    );
    let (ok, bad) = keys(&[
        "create",
        "--role",
        "agent",
        "--subject",
        "x",
        "--queue",
        "North Team",
    ]);
    assert!(!ok && bad.contains("lower-case letters"), "{bad}");
}

/// `keys` never creates a database or a schema: in the wrong directory, or pointed at a database
/// recoup never migrated, it says so and leaves nothing behind.
#[tokio::test]
async fn keys_refuse_a_database_that_is_not_there() {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(RECOUPD)
        .args(["keys", "list"])
        .current_dir(empty.path())
        .env_remove("RECOUP_DATABASE_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no database file"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(empty.path()).unwrap().count(),
        0,
        "nothing created"
    );
    for db in TestDb::all().await {
        if db.backend == "sqlite" {
            std::fs::write(db.url.strip_prefix("sqlite:").unwrap(), b"").unwrap();
        }
        let (ok, err) = run(&[
            "keys",
            "create",
            "--role",
            "agent",
            "--subject",
            "x",
            "--database-url",
            &db.url,
        ]);
        assert!(
            !ok && err.contains("no recoup schema"),
            "{}: {err}",
            db.backend
        );
        let (ok, err) = run(&["keys", "list", "--database-url", &db.url]);
        assert!(
            !ok && err.contains("no recoup schema"),
            "{}: {err}",
            db.backend
        );
        // Still no schema: `keys` did not migrate.
        let (_, again) = run(&["keys", "list", "--database-url", &db.url]);
        assert!(
            again.contains("no recoup schema"),
            "{}: {again}",
            db.backend
        );
        db.cleanup().await;
    }
}

#[test]
fn an_unreachable_postgres_is_named_with_its_cause() {
    let (ok, err) = run(&[
        "migrate",
        "--database-url",
        "postgres://postgres@127.0.0.1:1/recoup",
        "--db-timeout-secs",
        "1",
    ]);
    assert!(!ok, "{err}");
    assert!(
        err.contains("127.0.0.1:1")
            && err.to_lowercase().contains("refused")
            && !err.contains("pool timed out"),
        "{err}"
    );
}

#[test]
fn in_memory_sqlite_urls_are_refused() {
    for url in ["sqlite:", "sqlite::memory:"] {
        let (ok, err) = run(&["serve", "--listen", "127.0.0.1:0", "--database-url", url]);
        assert!(!ok && err.contains("which recoupd refuses"), "{url}: {err}");
    }
}

/// Limits that contradict each other, or are out of range, stop the start naming the flags.
#[test]
fn contradictory_connection_limits_are_refused_naming_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("x.db").display());
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--database-url", &url];
        args.extend_from_slice(extra);
        run(&args)
    };
    let (ok, err) = serve(&["--keepalive-secs", "60", "--idle-connection-secs", "30"]);
    assert!(
        !ok && err.contains("--idle-connection-secs (30)") && err.contains("--keepalive-secs (60)"),
        "{err}"
    );
    assert!(!dir.path().join("x.db").exists(), "nothing created");
    let (ok, err) = serve(&["--max-calls-per-caller", "0"]);
    assert!(!ok && err.contains("--max-calls-per-caller"), "{err}");
    for bad in ["agent=1/2", "boss=1/2/3", "agent=0/1/1"] {
        let (ok, err) = serve(&["--role-limit", bad]);
        assert!(!ok && err.contains("--role-limit"), "{bad}: {err}");
    }
}

/// A template override that would fail on a call stops the start instead, naming the file and line;
/// so does a file that is not one of recoup's templates (a misspelt name would be silently unused).
#[test]
fn a_broken_template_stops_the_start_naming_its_file_and_line() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan_agreement.hbs");
    std::fs::write(&file, "Agreement {{reference}}\nDear {{debtor.nickname}}").unwrap();
    let templates = dir.path().to_str().unwrap();
    let serve = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &db.url,
        "--templates-dir",
        templates,
    ];
    let (ok, err) = run(&serve);
    assert!(
        !ok && err.contains("plan_agreement.hbs") && err.contains("line 2"),
        "{err}"
    );
    // A locale's guidance file with an unknown variable, rendered against the sample in every tone.
    std::fs::write(&file, "Agreement {{reference}}").unwrap();
    let welsh = dir.path().join("cy-GB").join("guidance").join("opening");
    std::fs::create_dir_all(&welsh).unwrap();
    std::fs::write(
        welsh.join("firm.hbs"),
        "Gofynnwch am\n{{debtor.contact}} {{debtor.title}}",
    )
    .unwrap();
    let (ok, err) = run(&serve);
    assert!(
        !ok && err.contains("cy-GB/guidance/opening/firm.hbs") && err.contains("line 2"),
        "{err}"
    );
    std::fs::write(welsh.join("firm.hbs"), "Gofynnwch am {{debtor.contact}}").unwrap();
    std::fs::write(dir.path().join("letter.hbs"), "hello").unwrap();
    let (ok, err) = run(&serve);
    assert!(
        !ok && err.contains("letter.hbs: not a template recoup uses"),
        "{err}"
    );
}

/// Logs carry no colour codes when they do not go to a terminal (files, collectors, pipes).
#[test]
fn logs_have_no_colour_codes_off_a_terminal() {
    let db = TestDb::sqlite();
    let (ok, out) = run(&["migrate", "--database-url", &db.url]);
    assert!(ok && out.contains("database migrated"), "{out}");
    assert!(!out.contains('\u{1b}'), "{out:?}");
}

#[test]
fn migrate_runs_alone_and_twice() {
    let db = TestDb::sqlite();
    for _ in 0..2 {
        let status = Command::new(RECOUPD)
            .args(["migrate", "--database-url", &db.url])
            .env("RECOUP_LOG", "warn")
            .status()
            .unwrap();
        assert!(status.success());
    }
    let bad = Command::new(RECOUPD)
        .args(["migrate", "--database-url", "mysql://nope"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("sqlite: or postgres://"));
}

/// On shutdown health says NOT_SERVING while calls are still served, and a call in flight when the
/// listener closes still completes.
#[tokio::test]
async fn shutdown_lets_in_flight_calls_finish() {
    let server = crate::TestServer::start(TestDb::sqlite()).await;
    let mut client = server.accounts();
    let mut health = HealthClient::new(server.channel.clone());
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let call = tokio::spawn(async move {
        client
            .import_accounts(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    let record = |r: &str| pb::ImportAccountsRequest {
        request_id: String::new(),
        account: Some(crate::account(r, vec![])),
    };
    tx.send(record("FLIGHT-1")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopping = tokio::spawn(server.stop_after(Duration::from_millis(500)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::NotServing as i32
    );
    tx.send(record("FLIGHT-2")).await.unwrap();
    drop(tx);
    let summary = call
        .await
        .unwrap()
        .expect("in-flight import completes")
        .into_inner();
    assert_eq!(summary.created, 2);
    stopping.await.unwrap();
}
