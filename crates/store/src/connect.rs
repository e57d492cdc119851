//! Opening, migrating and checking the database.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::failures::Failures;
use crate::{Backend, Store, StoreError, with_pool};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

/// How to open the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite:PATH` or `postgres://…`.
    pub url: String,
    /// Most connections: the PostgreSQL pool, or SQLite's reader pool. None: 8 for PostgreSQL;
    /// for SQLite two readers per core.
    pub max_connections: Option<u32>,
    /// How long to wait for a connection, and SQLite's busy timeout.
    pub acquire_timeout: Duration,
    /// Create a missing SQLite file (`serve`, `migrate`); tools that only use an existing
    /// database (`keys`) refuse a path where there is none rather than create an empty one.
    pub create_if_missing: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            url: "sqlite:recoup.db".into(),
            max_connections: None,
            acquire_timeout: Duration::from_secs(5),
            create_if_missing: true,
        }
    }
}

/// The identity of the SQLite file opened, to notice it being replaced under a running server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SqliteFile {
    path: PathBuf,
    id: Option<(u64, u64)>,
}

impl SqliteFile {
    fn open(path: PathBuf) -> Self {
        let id = file_id(&path);
        Self { path, id }
    }
}

#[cfg(unix)]
fn file_id(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(path: &std::path::Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|_| (0, 0))
}

/// SQLite page cache per connection, KiB.
const SQLITE_CACHE_KIB: u32 = 8 * 1024;
fn unusable(why: impl Into<String>) -> StoreError {
    StoreError::Unusable(why.into())
}

/// Refuses SQLite URLs that name no file: every connection would get its own empty database (so
/// readers would not see what the writer migrated) and everything would be lost at exit.
fn refuse_in_memory(url: &str, opts: &SqliteConnectOptions) -> Result<(), StoreError> {
    let name = opts.get_filename().to_string_lossy();
    if name.is_empty() || url.contains(":memory:") || url.contains("mode=memory") {
        return Err(unusable(format!(
            "'{url}' is an in-memory SQLite database, which recoupd refuses: each connection would \
             see its own empty database and everything would be lost at exit; give a file, e.g. \
             sqlite:recoup.db"
        )));
    }
    Ok(())
}

/// `application_name` of recoup's PostgreSQL sessions, unless the URL names one.
pub const APPLICATION_NAME: &str = "recoupd";

/// How recoup's sessions plan, whatever the server's configuration says:
/// - no JIT: recoup's statements are short OLTP work; on a large book the planner costs some of
///   them (the view document, batch statements) above `jit_above_cost`, and compiling them then
///   takes seconds for statements that run in milliseconds;
/// - generic plans for prepared statements: their parameters are ids, times and JSON rows whose
///   values never change the right plan, while planning the view document again for each call
///   costs 3–5 ms (PostgreSQL kept choosing per-call plans for it). Every hot statement's generic
///   plan is checked on a 100,000-account book (the store's `scale` conformance test).
///
/// `SET` after connecting rather than startup options: connection poolers such as PgBouncer refuse
/// unknown startup parameters.
async fn session_settings(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql("SET jit = off; SET plan_cache_mode = force_generic_plan")
        .execute(conn)
        .await
        .map(|_| ())
}

/// One direct connection first, retried until `timeout`, so that an unreachable server is reported
/// with its address and the cause (a pool only says that it timed out).
async fn reach_postgres(connect: &PgConnectOptions, timeout: Duration) -> Result<(), StoreError> {
    let deadline = Instant::now() + timeout;
    let place = match connect.get_socket() {
        Some(socket) => format!("socket {}", socket.display()),
        None => format!("{}:{}", connect.get_host(), connect.get_port()),
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let cause = match tokio::time::timeout(left, PgConnection::connect_with(connect)).await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                return Ok(());
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer".to_owned(),
        };
        if Instant::now() + Duration::from_millis(250) >= deadline {
            return Err(unusable(format!(
                "cannot connect to PostgreSQL at {place} (database '{}', user '{}'): {cause} \
                 (gave up after {} s; see --db-timeout-secs)",
                connect.get_database().unwrap_or(connect.get_username()),
                connect.get_username(),
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

impl Store {
    /// Connects; does not migrate (see `migrate`).
    pub async fn connect(opts: &StoreOptions) -> Result<Store, StoreError> {
        let backend = if opts.url.starts_with("postgres:") || opts.url.starts_with("postgresql:") {
            let mut connect = PgConnectOptions::from_str(&opts.url)?;
            if connect.get_application_name().is_none() {
                // Names recoup's sessions in pg_stat_activity and the server's logs.
                connect = connect.application_name(APPLICATION_NAME);
            }
            reach_postgres(&connect, opts.acquire_timeout).await?;
            let failures = Failures::new();
            let kept = failures.clone();
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections.unwrap_or(8))
                .acquire_timeout(opts.acquire_timeout)
                // A broken connection fails its query and is replaced; a ping before every use
                // would cost a round trip per call. Connections made before an outage are
                // replaced instead of each failing a request.
                .test_before_acquire(false)
                .before_acquire(move |_, meta| {
                    let keep = kept.keeps(meta.age);
                    Box::pin(async move { Ok(keep) })
                })
                .after_connect(|conn, _| Box::pin(async move { session_settings(conn).await }))
                .connect_with(connect)
                .await?;
            Backend::Postgres(pool, failures)
        } else if opts.url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(&opts.url)?;
            refuse_in_memory(&opts.url, &connect)?;
            let path = connect.get_filename().to_path_buf();
            if !opts.create_if_missing && !path.exists() {
                return Err(unusable(format!(
                    "there is no database file at {} (this command never creates one: check \
                     --database-url, or create it with `recoupd migrate`)",
                    path.display()
                )));
            }
            let connect = connect
                .create_if_missing(opts.create_if_missing)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a committed payment survives power loss, not just a process crash.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(opts.acquire_timeout)
                .foreign_keys(true)
                // Each connection's page cache; the OS page cache holds the rest of the file.
                // No memory map: measured slower here (page faults and TLB shootdowns on every
                // remap) and it counts the mapped file into the server's resident memory.
                .pragma("cache_size", format!("-{}", SQLITE_CACHE_KIB));
            // Two readers per core: each waits on its own thread while a query runs, and more
            // than this only adds thread switches (measured with recoup-bench).
            let readers = opts.max_connections.unwrap_or_else(|| {
                2 * std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
            });
            let pool = |n: u32| {
                SqlitePoolOptions::new()
                    .max_connections(n)
                    .acquire_timeout(opts.acquire_timeout)
                    .test_before_acquire(false)
            };
            let failures = Failures::new();
            let writer = pool(1)
                .connect_with(
                    connect
                        .clone()
                        // Checkpoints run in the background (`maintenance`), never inside a commit.
                        .pragma("wal_autocheckpoint", "0")
                        // A WAL file that grew under a burst shrinks back to this once SQLite starts
                        // it over, instead of keeping its high-water size on disk.
                        .pragma("journal_size_limit", (64 * 1024 * 1024).to_string()),
                )
                .await?;
            let reader = pool(readers)
                .connect_with(connect.clone().read_only(true))
                .await?;
            Backend::Sqlite {
                reader,
                writer,
                file: SqliteFile::open(path),
                failures,
            }
        } else {
            return Err(unusable(
                "the database URL must start with sqlite: or postgres://",
            ));
        };
        let feed = crate::events::Feed::new();
        let writer = crate::writer::start(backend.clone(), feed.clone());
        Ok(Store {
            backend,
            writer,
            feed,
            imported: Default::default(),
        })
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite { .. } => &SQLITE_MIGRATIONS,
            Backend::Postgres(..) => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies the embedded migrations for this backend; safe to run again.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite { writer, .. } => SQLITE_MIGRATIONS.run(writer).await?,
            Backend::Postgres(pool, _) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Applies the embedded migrations up to `version` only: tests of upgrades start from an older
    /// schema.
    #[cfg(feature = "testkit")]
    pub async fn migrate_to(&self, version: i64) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite { writer, .. } => SQLITE_MIGRATIONS.run_to(version, writer).await?,
            Backend::Postgres(pool, _) => POSTGRES_MIGRATIONS.run_to(version, pool).await?,
        }
        Ok(())
    }

    /// Checks the database is usable: it answers on the write and the read path, its schema is
    /// the one this build migrates to, and (SQLite) the file opened is still the one at its path.
    /// Health reports NOT_SERVING while this fails.
    pub async fn check(&self) -> Result<(), StoreError> {
        let checked = self.check_usable().await;
        if checked.is_err() {
            self.backend.failures().outage();
        }
        checked
    }

    async fn check_usable(&self) -> Result<(), StoreError> {
        let expected = self.migrator().iter().map(|m| m.version).max().unwrap_or(0);
        if let Backend::Sqlite { file, .. } = &self.backend
            && file_id(&file.path) != file.id
        {
            return Err(unusable(format!(
                "the database file {} was removed or replaced while recoupd was running; restart \
                 recoupd",
                file.path.display()
            )));
        }
        for writer in [true, false] {
            let found: Option<i64> = if writer {
                with_pool!(&self.backend, writer, |pool, pg| schema_version(pool).await)
            } else {
                with_pool!(&self.backend, reader, |pool, pg| schema_version(pool).await)
            }
            .map_err(|e| unusable(format!("the database does not answer: {e}")))?;
            match found {
                Some(v) if v == expected => {}
                Some(v) => {
                    return Err(unusable(format!(
                        "the database schema is at version {v}; this recoupd needs version \
                         {expected} (run `recoupd migrate`)"
                    )));
                }
                None => {
                    return Err(unusable(
                        "the database has no recoup schema (wrong --database-url, or the database \
                         was recreated empty; `recoupd migrate` creates the schema)",
                    ));
                }
            }
        }
        if self.backend.failures().writes_failing() {
            self.probe_write().await.map_err(|e| {
                unusable(format!(
                    "writes fail (a full disk, or the database refusing them): {e}"
                ))
            })?;
            self.backend.failures().write_succeeded();
        }
        Ok(())
    }

    /// One small write, committed: whether writes succeed again after they failed.
    async fn probe_write(&self) -> Result<(), StoreError> {
        let now = crate::store_time(chrono::Utc::now());
        crate::retrying!(&self.backend, async {
            with_pool!(&self.backend, writer, |pool, pg| {
                let mut tx = if pg {
                    pool.begin().await?
                } else {
                    pool.begin_with("BEGIN IMMEDIATE").await?
                };
                sqlx::query(
                    "INSERT INTO markers (name, create_time) VALUES ('write-probe', $1) \
                     ON CONFLICT (name) DO UPDATE SET create_time = excluded.create_time",
                )
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            });
            Ok(())
        })
    }

    /// "sqlite" or "postgres", for logs.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(..) => "postgres",
        }
    }

    /// Closes the pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { reader, writer, .. } => {
                reader.close().await;
                writer.close().await;
            }
            Backend::Postgres(pool, _) => pool.close().await,
        }
    }
}

/// The newest applied migration, or None when there is no migrations table (no schema at all).
async fn schema_version<'e, E>(pool: E) -> Result<Option<i64>, sqlx::Error>
where
    E: sqlx::Executor<'e>,
    i64: sqlx::Type<E::Database> + for<'r> sqlx::Decode<'r, E::Database>,
    <E::Database as sqlx::Database>::Arguments: sqlx::IntoArguments<E::Database>,
    usize: sqlx::ColumnIndex<<E::Database as sqlx::Database>::Row>,
{
    match sqlx::query_scalar::<_, Option<i64>>(
        "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
    )
    .fetch_one(pool)
    .await
    {
        Ok(v) => Ok(v),
        Err(sqlx::Error::Database(e)) if e.message().contains("_sqlx_migrations") => Ok(None),
        Err(e) => Err(e),
    }
}
