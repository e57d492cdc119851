use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use recoup_bench::harness::{self, RunSpec, Subject};
use recoup_bench::report::{self, Context};
use recoup_bench::{echo, fresh, rpcs};

/// recoup-bench: recoup's load harness. Every figure is measured in one run against a bare tonic
/// echo on the same machine; loopback only; every phase is bounded in time.
#[derive(Debug, Parser)]
#[command(name = "recoup-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Stop (and fail) if the whole command takes longer than this.
    #[arg(long, global = true, default_value = "1h", value_parser = humantime_duration)]
    max_time: Duration,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Seed a book of N accounts through ImportAccounts (then RecordPayment), unless the database
    /// holds it already.
    Seed {
        /// Accounts in the book.
        #[arg(long)]
        accounts: usize,
        /// Database (default: sqlite:target/bench/book-<N>.db).
        #[arg(long)]
        database_url: Option<String>,
        /// Extra flags for the recoupd the harness starts (repeatable).
        #[arg(long = "recoupd-arg", allow_hyphen_values = true)]
        recoupd_args: Vec<String>,
    },
    /// Measure the echo baseline, then each RPC, at each concurrency level; print the table.
    Run {
        /// Accounts in the book (seeded first if the database lacks it).
        #[arg(long, default_value_t = 10_000)]
        accounts: usize,
        /// Database of the recoupd to start (default: sqlite:target/bench/book-<N>.db).
        #[arg(long)]
        database_url: Option<String>,
        /// Measure a recoupd already running at this address instead (its book must be this
        /// harness's book of --accounts accounts).
        #[arg(long, requires_all = ["agent_key", "integration_key"])]
        target: Option<String>,
        /// With --target: an agent key.
        #[arg(long)]
        agent_key: Option<String>,
        /// With --target: an integration key.
        #[arg(long)]
        integration_key: Option<String>,
        /// With --target: the server's process id, to report its CPU and memory.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Calls in flight, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
        levels: Vec<usize>,
        /// HTTP/2 connections the calls share.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Warm-up before each measurement (dropped).
        #[arg(long, default_value = "2s", value_parser = humantime_duration)]
        warmup: Duration,
        /// Length of each measured round.
        #[arg(long, default_value = "4s", value_parser = humantime_duration)]
        round: Duration,
        /// Rounds per measurement (the median is reported); at least 2.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=20))]
        rounds: u32,
        /// RPCs to measure, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        rpcs: Vec<String>,
        /// Append the results to this file as JSON lines.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
        /// Extra flags for the recoupd the harness starts (repeatable).
        #[arg(long = "recoupd-arg", allow_hyphen_values = true)]
        recoupd_args: Vec<String>,
    },
    /// ImportAccounts of a generated book beside the engine's own bulk load of the same rows
    /// (SQLite INSERT … SELECT, PostgreSQL COPY), each on a fresh database.
    Import {
        /// Accounts in the book.
        #[arg(long, default_value_t = 100_000)]
        accounts: usize,
        /// sqlite, postgres, or both (PostgreSQL at RECOUP_TEST_POSTGRES_URL's server).
        #[arg(long, default_value = "sqlite")]
        backend: String,
        /// Append the results to this file as JSON lines.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
        /// Extra flags for the recoupd the harness starts (repeatable).
        #[arg(long = "recoupd-arg", allow_hyphen_values = true)]
        recoupd_args: Vec<String>,
    },
    /// A book imported fresh through ImportAccounts on a new database, then left alone: import time,
    /// time until every account is usable, idle CPU of recoupd and its PostgreSQL backends (and slow
    /// statements logged meanwhile), then RecordPayment against the echo baseline.
    Fresh {
        /// Accounts in the book.
        #[arg(long, default_value_t = 100_000)]
        accounts: usize,
        /// sqlite, postgres, or both (PostgreSQL at RECOUP_TEST_POSTGRES_URL's server).
        #[arg(long, default_value = "both")]
        backend: String,
        /// How long the book is left alone while its CPU is measured.
        #[arg(long, default_value = "60s", value_parser = humantime_duration)]
        idle: Duration,
        /// RecordPayment calls in flight, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,64")]
        levels: Vec<usize>,
        /// HTTP/2 connections the calls share.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Warm-up before each measurement (dropped).
        #[arg(long, default_value = "2s", value_parser = humantime_duration)]
        warmup: Duration,
        /// Length of each measured round.
        #[arg(long, default_value = "4s", value_parser = humantime_duration)]
        round: Duration,
        /// Rounds per measurement (the median is reported); at least 2.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=20))]
        rounds: u32,
        /// Append the results to this file as JSON lines.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
        /// Extra flags for the recoupd the harness starts (repeatable).
        #[arg(long = "recoupd-arg", allow_hyphen_values = true)]
        recoupd_args: Vec<String>,
    },
    /// The echo baseline server (started by `run`).
    #[command(hide = true)]
    Echo {
        #[arg(long)]
        listen: std::net::SocketAddr,
    },
    /// recoupd itself, with recoupd's arguments (started by `run`, `seed` and `import`).
    #[command(hide = true)]
    Recoupd {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn humantime_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

/// "250ms", "4s", "2m", "1h".
fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("'{s}' is not a duration such as 4s"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(format!("'{s}': the unit must be ms, s, m or h")),
    })
}

fn default_url(accounts: usize) -> String {
    let _ = std::fs::create_dir_all("target/bench");
    format!("sqlite:target/bench/book-{accounts}.db")
}

/// The backends a `--backend` value names.
fn backends(name: &str) -> Result<&'static [&'static str], harness::BoxError> {
    Ok(match name {
        "sqlite" => &["sqlite"],
        "postgres" => &["postgres"],
        "both" => &["sqlite", "postgres"],
        other => return Err(format!("--backend {other}: sqlite, postgres or both").into()),
    })
}

fn append(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(text.as_bytes())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    if let Command::Recoupd { args } = cli.command {
        let args = std::iter::once("recoupd".to_owned()).chain(args);
        return runtime.block_on(recoup_server::cli::run(args));
    }
    let outcome = runtime.block_on(async {
        match tokio::time::timeout(cli.max_time, command(cli.command)).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "stopped: the command took longer than --max-time {:?}",
                cli.max_time
            )
            .into()),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("recoup-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn command(command: Command) -> Result<(), harness::BoxError> {
    match command {
        Command::Echo { listen } => echo::serve(listen).await.map_err(|e| e.to_string().into()),
        Command::Recoupd { .. } => unreachable!("handled before the runtime starts"),
        Command::Seed {
            accounts,
            database_url,
            recoupd_args,
        } => {
            let url = database_url.unwrap_or_else(|| default_url(accounts));
            harness::seed(&url, accounts, &recoupd_args).await
        }
        Command::Run {
            accounts,
            database_url,
            target,
            agent_key,
            integration_key,
            server_pid,
            levels,
            connections,
            warmup,
            round,
            rounds,
            rpcs,
            json,
            recoupd_args,
        } => {
            let rpcs = if rpcs.is_empty() {
                rpcs::ALL.iter().map(|s| s.to_string()).collect()
            } else {
                rpcs
            };
            if let Some(bad) = rpcs.iter().find(|r| !rpcs::ALL.contains(&r.as_str())) {
                return Err(format!("unknown rpc {bad}; known: {}", rpcs::ALL.join(", ")).into());
            }
            let url = database_url.unwrap_or_else(|| default_url(accounts));
            let backend = if target.is_some() {
                "remote".to_owned()
            } else if url.starts_with("postgres") {
                "postgres".to_owned()
            } else {
                "sqlite".to_owned()
            };
            let subject = match target {
                Some(addr) => Subject::Running {
                    addr,
                    agent_key: agent_key.unwrap_or_default(),
                    integration_key: integration_key.unwrap_or_default(),
                    pid: server_pid,
                },
                None => Subject::Start {
                    url,
                    extra: recoupd_args,
                },
            };
            let spec = RunSpec {
                levels,
                connections,
                warmup,
                round,
                rounds: rounds as usize,
                rpcs,
            };
            let rows = harness::run(subject, accounts, &spec).await?;
            let ctx = Context {
                backend,
                accounts,
                connections,
                cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            };
            println!("{}", report::table(&ctx, &rows));
            if let Some(path) = json {
                append(&path, &report::json_lines(&ctx, &rows))?;
            }
            Ok(())
        }
        Command::Fresh {
            accounts,
            backend,
            idle,
            levels,
            connections,
            warmup,
            round,
            rounds,
            json,
            recoupd_args,
        } => {
            let backends = backends(&backend)?;
            let spec = RunSpec {
                levels,
                connections,
                warmup,
                round,
                rounds: rounds as usize,
                rpcs: Vec::new(),
            };
            let echo: Vec<f64> = harness::echo_baseline(&spec)
                .await?
                .iter()
                .map(|m| m.rps)
                .collect();
            let mut measured = Vec::new();
            for b in backends {
                measured.push(
                    fresh::measure_fresh(b, accounts, idle, &spec, &echo, &recoupd_args).await?,
                );
            }
            println!("{}", report::fresh_table(&spec.levels, &echo, &measured));
            if let Some(path) = json {
                append(&path, &report::fresh_json_lines(&measured))?;
            }
            Ok(())
        }
        Command::Import {
            accounts,
            backend,
            json,
            recoupd_args,
        } => {
            let backends = backends(&backend)?;
            println!(
                "{:<9} {:>9} {:>10} {:>14} {:>14} {:>7} {:>9} {:>12}",
                "backend",
                "accounts",
                "rows",
                "engine rows/s",
                "import rows/s",
                "ratio",
                "seconds",
                "peak rss MiB"
            );
            for b in backends {
                let m = harness::import(b, accounts, &recoupd_args).await?;
                println!(
                    "{:<9} {:>9} {:>10} {:>14.0} {:>14.0} {:>7.3} {:>9.1} {:>12}",
                    m.backend,
                    m.accounts,
                    m.rows,
                    m.engine_rows_per_s,
                    m.import_rows_per_s,
                    m.import_rows_per_s / m.engine_rows_per_s,
                    m.import_seconds,
                    m.server_peak_rss_mib
                        .map_or("-".into(), |v| format!("{v:.1}"))
                );
                if let Some(path) = &json {
                    let line = serde_json::json!({
                        "time": chrono::Utc::now().to_rfc3339(),
                        "kind": "import",
                        "backend": m.backend,
                        "accounts": m.accounts,
                        "rows": m.rows,
                        "engine_rows_per_s": m.engine_rows_per_s,
                        "import_rows_per_s": m.import_rows_per_s,
                        "ratio_to_engine": m.import_rows_per_s / m.engine_rows_per_s,
                        "import_seconds": m.import_seconds,
                        "server_peak_rss_mib": m.server_peak_rss_mib,
                    });
                    append(path, &(line.to_string() + "\n"))?;
                }
            }
            Ok(())
        }
    }
}
