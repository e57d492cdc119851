//! Command line and environment: every setting is a flag with a `RECOUP_*` variable beside it.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use recoup_store::StoreOptions;

/// recoupd: the recoup credit-control gRPC service.
#[derive(Debug, Parser)]
#[command(name = "recoupd", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log filter, in tracing's env-filter syntax (e.g. "info", "recoup_server=debug").
    #[arg(long, env = "RECOUP_LOG", default_value = "info", global = true)]
    pub log: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gRPC service (migrates the database first).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database: `sqlite:PATH` (created if missing) or `postgres://USER@HOST:PORT/DB`.
    #[arg(long, env = "RECOUP_DATABASE_URL", default_value = "sqlite:recoup.db")]
    pub database_url: String,

    /// Most database connections (PostgreSQL pool; SQLite readers — SQLite always has one writer).
    #[arg(long, env = "RECOUP_DB_MAX_CONNECTIONS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,

    /// Seconds to wait for a database connection (and SQLite's busy timeout).
    #[arg(long, env = "RECOUP_DB_TIMEOUT_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub db_timeout_secs: u64,
}

impl DatabaseArgs {
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            url: self.database_url.clone(),
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_secs(self.db_timeout_secs),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Address to listen on.
    #[arg(long, env = "RECOUP_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Load the demo book (about 20 accounts in every collection situation) if not loaded before.
    #[arg(long, env = "RECOUP_DEMO")]
    pub demo: bool,

    /// Seconds between SIGTERM/SIGINT and closing the listener: health already says NOT_SERVING and
    /// calls are still served, so load balancers can move traffic away first.
    #[arg(long, env = "RECOUP_SHUTDOWN_DRAIN_SECS", default_value_t = 0)]
    pub shutdown_drain_secs: u64,

    /// Seconds in-flight calls get to finish once the listener is closed, before the process exits
    /// anyway (open Health.Watch streams also hold shutdown until then).
    #[arg(long, env = "RECOUP_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
}
