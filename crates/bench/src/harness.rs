//! What the subcommands do: seed a book, measure RPCs against the echo baseline, measure imports
//! beside the engine's own bulk rate.

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_server::auth::{Role, keys};
use recoup_store::testkit::TestDb;
use recoup_store::{Store, StoreOptions, bulk};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::load::{LoadSpec, Measured, measure};
use crate::process::{Server, ServerStats};
use crate::report::Row;
use crate::rpcs::{self, Bearer, Rpc, Target};
use crate::{book, echo, phases};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What recoupd prints once it listens; the address follows.
const RECOUPD_ANNOUNCE: &str = "recoupd listening on";
/// The subject of the harness's API keys.
const SUBJECT: &str = "recoup-bench";

/// Opens and migrates `url`, and issues an agent and an integration key.
pub(crate) async fn issue_keys(url: &str) -> Result<(Store, String, String), BoxError> {
    let store = Store::connect(&StoreOptions {
        url: url.into(),
        ..StoreOptions::default()
    })
    .await?;
    store.migrate().await?;
    let now = Utc::now();
    let agent = keys::issue(&store, Role::Agent, SUBJECT, None, now).await?;
    let integration = keys::issue(&store, Role::Integration, SUBJECT, None, now).await?;
    Ok((store, agent.secret, integration.secret))
}

/// A policy file with calling hours all day, every day (the rest as built in).
fn floor_hours() -> String {
    use recoup_domain::policy::{ContactPolicy, DayHours, Policy};
    let hours = Some(DayHours {
        start: chrono::NaiveTime::MIN,
        end: chrono::NaiveTime::from_hms_opt(23, 59, 0).expect("a time"),
    });
    recoup_server::policy_file::render(&Policy {
        contact: ContactPolicy {
            hours: [hours; 7],
            non_working_dates: Default::default(),
            ..ContactPolicy::default()
        },
        ..Policy::default()
    })
}

/// Agent keys for the floor: one per task of the highest level measured.
pub(crate) const FLOOR_AGENTS: usize = 256;

/// Issues `FLOOR_AGENTS` agent keys on `url` (subjects `recoup-bench-agent-{n}`).
async fn issue_floor_agents(url: &str) -> Result<Vec<String>, BoxError> {
    let store = Store::connect(&StoreOptions {
        url: url.into(),
        ..StoreOptions::default()
    })
    .await?;
    let mut keys_out = Vec::with_capacity(FLOOR_AGENTS);
    for n in 0..FLOOR_AGENTS {
        let subject = format!("{SUBJECT}-agent-{n}");
        keys_out.push(
            keys::issue(&store, Role::Agent, &subject, None, Utc::now())
                .await?
                .secret,
        );
    }
    store.close().await;
    Ok(keys_out)
}

/// Starts recoupd (this executable's `recoupd` subcommand: recoupd's own command line) on `url`.
pub fn start_recoupd(url: &str, extra: &[String]) -> Result<Server, BoxError> {
    let mut args: Vec<String> = [
        "recoupd",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        url,
        // One harness key stands for a whole floor of callers: measure the service, not the
        // per-caller limits.
        "--max-calls-per-caller",
        "100000",
        // Nor the server's cap: at 256 in flight (its default) a client's next call can arrive
        // before the server has released the last one's place, and be refused.
        "--max-concurrent-calls",
        "100000",
        "--caller-rate",
        "1000000",
        "--caller-burst",
        "1000000",
    ]
    .map(String::from)
    .into();
    args.extend(extra.iter().cloned());
    // Its write histograms say where each write RPC's time went (`phases`).
    if !extra.iter().any(|a| a == "--metrics-addr") {
        args.extend(["--metrics-addr".into(), "127.0.0.1:0".into()]);
    }
    Ok(Server::spawn(&args, RECOUPD_ANNOUNCE)?)
}

/// `connections` separate HTTP/2 connections to `addr`.
pub async fn connect(addr: &str, connections: usize) -> Result<Vec<Channel>, BoxError> {
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        let channel = Channel::from_shared(format!("http://{addr}"))?
            .tcp_nodelay(true)
            .connect()
            .await?;
        channels.push(channel);
    }
    Ok(channels)
}

fn accounts_client(
    channel: Channel,
    key: &str,
) -> Result<AccountServiceClient<InterceptedService<Channel, Bearer>>, BoxError> {
    let bearer = Bearer(format!("Bearer {key}").parse()?);
    Ok(AccountServiceClient::new(InterceptedService::new(
        channel, bearer,
    )))
}

/// Accounts `0..accounts` of the book as ImportAccounts messages, generated before any clock
/// starts: on a small machine the generating client would otherwise take the CPU the server needs.
pub(crate) fn book_messages(accounts: usize) -> Vec<pb::ImportAccountsRequest> {
    let today = Utc::now().date_naive();
    (0..accounts)
        .map(|i| pb::ImportAccountsRequest {
            request_id: String::new(),
            account: Some(book::account(i, today)),
        })
        .collect()
}

/// Streams the messages into the server; returns the summary and the seconds it took.
pub(crate) async fn import_book(
    channel: Channel,
    key: &str,
    messages: Vec<pb::ImportAccountsRequest>,
) -> Result<(pb::ImportAccountsResponse, f64), BoxError> {
    let mut client = accounts_client(channel, key)?;
    let started = Instant::now();
    let summary = client
        .import_accounts(tokio_stream::iter(messages))
        .await?
        .into_inner();
    Ok((summary, started.elapsed().as_secs_f64()))
}

/// The marker a seeded book leaves in its database.
fn marker(accounts: usize) -> String {
    format!("bench_book_{accounts}_{:x}", book::SEED)
}

/// Seeds a book of `accounts` into the database at `url` unless it holds one already: the accounts
/// through ImportAccounts, then about a third of them pay something through RecordPayment.
pub async fn seed(url: &str, accounts: usize, extra: &[String]) -> Result<(), BoxError> {
    let (store, _, integration) = issue_keys(url).await?;
    let name = marker(accounts);
    if store.has_marker(&name).await? {
        eprintln!("book of {accounts} accounts already seeded in {url}");
        store.close().await;
        return Ok(());
    }
    let server = start_recoupd(url, extra)?;
    let channels = connect(&server.addr, 4).await?;
    eprintln!("seeding {accounts} accounts into {url} through ImportAccounts …");
    let messages = book_messages(accounts);
    let (summary, secs) = import_book(channels[0].clone(), &integration, messages).await?;
    if summary.rejected > 0 {
        return Err(format!(
            "the book was rejected in part: {:?}",
            summary.rejections.first()
        )
        .into());
    }
    let rows = book::rows(accounts, Utc::now().date_naive()).total();
    eprintln!(
        "  imported in {secs:.1} s: {:.0} accounts/s, {:.0} rows/s ({} created, {} unchanged)",
        accounts as f64 / secs,
        rows as f64 / secs,
        summary.created,
        summary.unchanged
    );
    let started = Instant::now();
    let paid = pay_book(&channels, &integration, accounts).await?;
    eprintln!(
        "  {paid} payments recorded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    server.stop();
    store.set_marker_once(&name, Utc::now()).await?;
    store.close().await;
    Ok(())
}

/// Records the book's payments, 64 at a time; idempotent (fixed request ids).
async fn pay_book(channels: &[Channel], key: &str, accounts: usize) -> Result<usize, BoxError> {
    const WORKERS: usize = 64;
    let today = Utc::now().date_naive();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WORKERS {
        let mut client = accounts_client(channels[w % channels.len()].clone(), key)?;
        tasks.spawn(async move {
            let mut paid = 0usize;
            for i in (w..accounts).step_by(WORKERS) {
                let account = book::account(i, today);
                // Dated from yesterday in UTC back: never in the future of a debtor west of UTC.
                let Some(payment) = book::payment(i, &account, today - Days::new(1)) else {
                    continue;
                };
                client
                    .record_payment(pb::RecordPaymentRequest {
                        request_id: format!("seed-{i}"),
                        parent: format!("accounts/{}", i + 1),
                        payment: Some(payment),
                    })
                    .await?;
                paid += 1;
            }
            Ok::<_, tonic::Status>(paid)
        });
    }
    let mut paid = 0;
    while let Some(done) = tasks.join_next().await {
        paid += done??;
    }
    Ok(paid)
}

/// How a run loads the server.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub levels: Vec<usize>,
    pub connections: usize,
    pub warmup: Duration,
    pub round: Duration,
    pub rounds: usize,
    pub rpcs: Vec<String>,
}

impl RunSpec {
    pub fn at(&self, in_flight: usize) -> LoadSpec {
        LoadSpec {
            in_flight,
            connections: self.connections,
            warmup: self.warmup,
            round: self.round,
            rounds: self.rounds,
        }
    }
}

/// Where the measured recoupd is.
pub enum Subject {
    /// Started by the harness on this database (seeded first if needed).
    Start { url: String, extra: Vec<String> },
    /// Already running at this address, with these keys (and its process id, if known).
    Running {
        addr: String,
        agent_key: String,
        integration_key: String,
        pid: Option<u32>,
    },
}

/// The echo baseline at each of the spec's levels.
pub async fn echo_baseline(spec: &RunSpec) -> Result<Vec<Measured>, BoxError> {
    let echo_server = Server::spawn(
        &["echo".into(), "--listen".into(), "127.0.0.1:0".into()],
        echo::ANNOUNCE,
    )?;
    let channels = connect(&echo_server.addr, spec.connections).await?;
    let mut baseline = Vec::new();
    for &level in &spec.levels {
        eprintln!("echo at {level} in flight …");
        baseline.push(
            measure(
                &spec.at(level),
                &channels,
                rpcs::echo(),
                Some(&echo_server.stats()),
            )
            .await,
        );
    }
    drop(channels);
    echo_server.stop();
    Ok(baseline)
}

/// The echo baseline at each level, then each RPC at each level, as rows with their ratios.
pub async fn run(subject: Subject, accounts: usize, spec: &RunSpec) -> Result<Vec<Row>, BoxError> {
    let mut rows = Vec::new();
    let mut baseline = Vec::new();
    for m in echo_baseline(spec).await? {
        baseline.push((m.in_flight, m.rps));
        rows.push(Row {
            rpc: "echo".into(),
            measured: m,
            ratio: None,
            writes: Vec::new(),
        });
    }

    let url = match &subject {
        Subject::Start { url, .. } => Some(url.clone()),
        Subject::Running { .. } => None,
    };
    // The floor claims only accounts the contact rules let us call now: with calling hours all
    // day every day (unless the run brings its own policy), it is measured the same whenever it
    // runs, on the whole book.
    let floor_policy =
        std::env::temp_dir().join(format!("recoup-bench-floor-{}.toml", std::process::id()));
    let (server, addr, agent, integration, stats, metrics) = match subject {
        Subject::Start { url, mut extra } => {
            if spec.rpcs.iter().any(|r| r == "claim_next_and_record")
                && !extra.iter().any(|a| a == "--config")
            {
                std::fs::write(&floor_policy, floor_hours())?;
                extra.extend(["--config".into(), floor_policy.display().to_string()]);
            }
            seed(&url, accounts, &extra).await?;
            let (store, agent, integration) = issue_keys(&url).await?;
            store.close().await;
            let server = start_recoupd(&url, &extra)?;
            // Read once at start: not needed any longer.
            let _ = std::fs::remove_file(&floor_policy);
            let addr = server.addr.clone();
            let stats = Some(server.stats());
            let metrics = server.metrics.clone();
            (Some(server), addr, agent, integration, stats, metrics)
        }
        Subject::Running {
            addr,
            agent_key,
            integration_key,
            pid,
        } => (
            None,
            addr,
            agent_key,
            integration_key,
            pid.map(ServerStats::of),
            None,
        ),
    };
    let mut target = Target::new(&agent, &integration, accounts)?;
    if let Some(url) = &url
        && spec.rpcs.iter().any(|r| r == "claim_next_and_record")
    {
        target = target.with_floor_agents(&issue_floor_agents(url).await?)?;
    }
    if let Some(url) = &url
        && spec.rpcs.iter().any(|r| r == "get_kpis")
    {
        target = target.with_supervisor(&issue_supervisor(url).await?)?;
    }
    let channels = connect(&addr, spec.connections).await?;
    for name in &spec.rpcs {
        let rpc = Rpc::named(name, &target).ok_or_else(|| format!("unknown rpc {name}"))?;
        if let ("get_worklist" | "claim_next_and_record", Some(url)) = (name.as_str(), &url) {
            settle_worklist(url).await?;
        }
        if let ("get_kpis", Some(url)) = (name.as_str(), &url) {
            settle_report(url).await?;
        }
        for (&level, &(_, echo_rps)) in spec.levels.iter().zip(&baseline) {
            eprintln!("{name} at {level} in flight …");
            let before = match &metrics {
                Some(at) => Some(phases::scrape(at).await?),
                None => None,
            };
            let m: Measured =
                measure(&spec.at(level), &channels, rpc.clone(), stats.as_ref()).await;
            let writes = match (&metrics, before) {
                (Some(at), Some(before)) => phases::between(&before, &phases::scrape(at).await?),
                _ => Vec::new(),
            };
            let ratio = Some(m.rps / echo_rps);
            rows.push(Row {
                rpc: name.clone(),
                measured: m,
                ratio,
                writes,
            });
        }
    }
    drop(channels);
    if let Some(server) = server {
        server.stop();
    }
    Ok(rows)
}

/// Waits until the server has computed every worklist entry (the first start on a book computes them
/// all), so GetWorklist is measured on a current list; says how long that took.
/// Issues a supervisor key on `url` (subject `recoup-bench-supervisor`), for reports.
async fn issue_supervisor(url: &str) -> Result<String, BoxError> {
    let store = Store::connect(&StoreOptions {
        url: url.into(),
        ..StoreOptions::default()
    })
    .await?;
    let subject = format!("{SUBJECT}-supervisor");
    let key = keys::issue(&store, Role::Supervisor, &subject, None, Utc::now()).await?;
    store.close().await;
    Ok(key.secret)
}

/// Waits until recoupd's reporting keeper has folded the book's history into the rollup (a book
/// recoupd has not reported on before starts from its first event), so get_kpis measures reports,
/// not the catching up.
async fn settle_report(url: &str) -> Result<(), BoxError> {
    let store = Store::connect(&StoreOptions {
        url: url.into(),
        ..StoreOptions::default()
    })
    .await?;
    let started = std::time::Instant::now();
    let first = store
        .report_lag(&recoup_domain::policy::ReportingPolicy::default())
        .await?;
    let mut lag = first;
    while lag > 0 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        lag = store
            .report_lag(&recoup_domain::policy::ReportingPolicy::default())
            .await?;
    }
    eprintln!(
        "report: {first} events were still to fold; all folded after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    store.close().await;
    Ok(())
}

async fn settle_worklist(url: &str) -> Result<(), BoxError> {
    let store = Store::connect(&StoreOptions {
        url: url.into(),
        ..StoreOptions::default()
    })
    .await?;
    let started = std::time::Instant::now();
    let mut pending = store.worklist_stale_count().await?;
    let first = pending;
    while pending > 0 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        pending = store.worklist_stale_count().await?;
    }
    eprintln!(
        "worklist: {first} entries were pending; all computed after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    store.close().await;
    Ok(())
}

/// ImportAccounts of a book beside the engine's own bulk load of the same rows.
#[derive(Debug, Clone)]
pub struct ImportMeasured {
    pub backend: &'static str,
    pub accounts: usize,
    pub rows: u64,
    pub engine_rows_per_s: f64,
    pub import_rows_per_s: f64,
    pub import_seconds: f64,
    pub server_peak_rss_mib: Option<f64>,
}

/// A fresh database per measurement: the engine's bulk load first, then the import.
pub async fn import(
    backend: &str,
    accounts: usize,
    extra: &[String],
) -> Result<ImportMeasured, BoxError> {
    let fresh = || async {
        match backend {
            "postgres" => TestDb::postgres()
                .await
                .ok_or_else(|| BoxError::from("PostgreSQL is not reachable")),
            _ => Ok(TestDb::sqlite()),
        }
    };
    let rows = book::rows(accounts, Utc::now().date_naive());

    let db = fresh().await?;
    db.store().await?.close().await;
    let engine = bulk::engine_bulk_load(&db.url, rows).await?;
    db.cleanup().await;

    let db = fresh().await?;
    let (store, _, integration) = issue_keys(&db.url).await?;
    store.close().await;
    let server = start_recoupd(&db.url, extra)?;
    let channel = connect(&server.addr, 1).await?.remove(0);
    let messages = book_messages(accounts);
    let (summary, seconds) = import_book(channel, &integration, messages).await?;
    let peak = server.stats().memory_mib().map(|m| m.1);
    server.stop();
    db.cleanup().await;
    if summary.created != accounts as i64 {
        return Err(format!("import created {} of {accounts}", summary.created).into());
    }
    Ok(ImportMeasured {
        backend: if backend == "postgres" {
            "postgres"
        } else {
            "sqlite"
        },
        accounts,
        rows: rows.total(),
        engine_rows_per_s: rows.total() as f64 / engine.as_secs_f64(),
        import_rows_per_s: rows.total() as f64 / seconds,
        import_seconds: seconds,
        server_peak_rss_mib: peak,
    })
}
