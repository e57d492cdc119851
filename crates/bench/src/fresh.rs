//! A book imported fresh through ImportAccounts and then left alone, as an operator's first day
//! goes: how long the import takes, how long until every imported account is usable (its view and
//! worklist entry current), what recoupd and its database backends use while nothing calls them,
//! whether anything logs a slow statement meanwhile, and RecordPayment on the book against the echo
//! baseline.

use std::time::{Duration, Instant};

use recoup_store::testkit::TestDb;
use recoup_store::{Store, StoreOptions};

use crate::harness::{
    BoxError, RunSpec, book_messages, connect, import_book, issue_keys, start_recoupd,
};
use crate::load::{Measured, measure};
use crate::process::ServerStats;
use crate::rpcs::{Rpc, Target};

/// What one backend measured.
#[derive(Debug, Clone)]
pub struct FreshMeasured {
    pub backend: &'static str,
    pub accounts: usize,
    /// Until ImportAccounts answered.
    pub import_seconds: f64,
    /// From its answer until no view or worklist entry was stale.
    pub usable_after_seconds: f64,
    pub idle_seconds: f64,
    /// CPU used while idle, in cores (1.0 = one core busy): recoupd's, and its PostgreSQL
    /// backends' (None on SQLite, whose work is recoupd's own).
    pub idle_server_cores: f64,
    pub idle_database_cores: Option<f64>,
    /// "slow statement" warnings recoupd logged while idle.
    pub idle_slow_statements: u64,
    /// RecordPayment at each level, with its ratio to echo's throughput at the same level.
    pub payments: Vec<(Measured, f64)>,
}

/// CPU seconds used so far by each process of `pids` still running.
fn cpu_of(pids: &[u32]) -> Vec<(u32, f64)> {
    pids.iter()
        .filter_map(|&p| ServerStats::of(p).cpu_seconds().map(|s| (p, s)))
        .collect()
}

/// CPU seconds the processes used between two readings (a process seen only at the end started
/// meanwhile: all of its time counts).
fn used(before: &[(u32, f64)], after: &[(u32, f64)]) -> f64 {
    after
        .iter()
        .map(|(pid, end)| {
            let start = before
                .iter()
                .find(|(p, _)| p == pid)
                .map_or(0.0, |(_, s)| *s);
            end - start
        })
        .sum()
}

/// Waits until no view and no worklist entry of the book is stale.
async fn until_usable(url: &str) -> Result<(), BoxError> {
    let store = Store::connect(&StoreOptions {
        url: url.into(),
        max_connections: Some(1),
        ..StoreOptions::default()
    })
    .await?;
    loop {
        let views = store.stale_view_count().await?;
        let entries = store.worklist_stale_count().await?;
        if views == 0 && entries == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    store.close().await;
    Ok(())
}

/// Imports a fresh book of `accounts` on `backend`, waits until it is usable, measures `idle`
/// seconds of nothing, then RecordPayment at each level of `spec` (`echo`: the baseline's
/// throughput at those levels).
pub async fn measure_fresh(
    backend: &str,
    accounts: usize,
    idle: Duration,
    spec: &RunSpec,
    echo: &[f64],
    extra: &[String],
) -> Result<FreshMeasured, BoxError> {
    let db = match backend {
        "postgres" => TestDb::postgres()
            .await
            .ok_or_else(|| BoxError::from("PostgreSQL is not reachable"))?,
        _ => TestDb::sqlite(),
    };
    let (store, agent, integration) = issue_keys(&db.url).await?;
    store.close().await;
    let server = start_recoupd(&db.url, extra)?;
    let channel = connect(&server.addr, 1).await?.remove(0);
    let messages = book_messages(accounts);
    eprintln!("{backend}: importing {accounts} accounts …");
    let (summary, import_seconds) = import_book(channel, &integration, messages).await?;
    if summary.created != accounts as i64 {
        return Err(format!("import created {} of {accounts}", summary.created).into());
    }
    let started = Instant::now();
    until_usable(&db.url).await?;
    let usable_after_seconds = started.elapsed().as_secs_f64();

    eprintln!("{backend}: idle for {idle:?} …");
    let server_cpu = server.stats();
    let slow_before = server.slow_statements();
    let backends_before = cpu_of(&db.recoupd_backends().await?);
    let server_before = server_cpu.cpu_seconds().unwrap_or(0.0);
    let idle_started = Instant::now();
    tokio::time::sleep(idle).await;
    let idle_seconds = idle_started.elapsed().as_secs_f64();
    let server_used = server_cpu.cpu_seconds().unwrap_or(0.0) - server_before;
    let backends_after = cpu_of(&db.recoupd_backends().await?);
    let idle_slow_statements = server.slow_statements() - slow_before;
    let idle_database_cores =
        (backend == "postgres").then(|| used(&backends_before, &backends_after) / idle_seconds);

    let target = Target::new(&agent, &integration, accounts)?;
    let rpc = Rpc::named("record_payment", &target).expect("a known rpc");
    let channels = connect(&server.addr, spec.connections).await?;
    let mut payments = Vec::new();
    for (&level, &echo_rps) in spec.levels.iter().zip(echo) {
        eprintln!("{backend}: record_payment at {level} in flight …");
        let m = measure(&spec.at(level), &channels, rpc.clone(), Some(&server_cpu)).await;
        let ratio = m.rps / echo_rps;
        payments.push((m, ratio));
    }
    drop(channels);
    server.stop();
    db.cleanup().await;
    Ok(FreshMeasured {
        backend: if backend == "postgres" {
            "postgres"
        } else {
            "sqlite"
        },
        accounts,
        import_seconds,
        usable_after_seconds,
        idle_seconds,
        idle_server_cores: server_used / idle_seconds,
        idle_database_cores,
        idle_slow_statements,
        payments,
    })
}
