//! Opening and migrating the database.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{Backend, Store, StoreError, with_writer};

/// How to open the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite:PATH` (created if missing) or `postgres://…`.
    pub url: String,
    /// Most connections: the PostgreSQL pool, or SQLite's reader pool.
    pub max_connections: u32,
    /// How long to wait for a connection, and SQLite's busy timeout.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            url: "sqlite:recoup.db".into(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl Store {
    /// Connects; does not migrate (see `migrate`).
    pub async fn connect(opts: &StoreOptions) -> Result<Store, StoreError> {
        let backend = if opts.url.starts_with("postgres:") || opts.url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(&opts.url)?;
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections)
                .acquire_timeout(opts.acquire_timeout)
                .connect_with(connect)
                .await?;
            Backend::Postgres(pool)
        } else if opts.url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(&opts.url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a committed payment survives power loss, not just a process crash.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(opts.acquire_timeout)
                .foreign_keys(true);
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(opts.acquire_timeout)
                .connect_with(connect.clone())
                .await?;
            let reader = SqlitePoolOptions::new()
                .max_connections(opts.max_connections)
                .acquire_timeout(opts.acquire_timeout)
                .connect_with(connect.read_only(true))
                .await?;
            Backend::Sqlite { reader, writer }
        } else {
            return Err(StoreError::Database(sqlx::Error::Configuration(
                "database URL must start with sqlite: or postgres://".into(),
            )));
        };
        Ok(Store { backend })
    }

    /// Applies the embedded migrations for this backend; safe to run again.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite { writer, .. } => {
                sqlx::migrate!("../../migrations/sqlite")
                    .run(writer)
                    .await?
            }
            Backend::Postgres(pool) => {
                sqlx::migrate!("../../migrations/postgres")
                    .run(pool)
                    .await?
            }
        }
        Ok(())
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_writer!(self, |pool, pg| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// "sqlite" or "postgres", for logs.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes the pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { reader, writer } => {
                reader.close().await;
                writer.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}
