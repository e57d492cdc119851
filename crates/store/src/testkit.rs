//! Test databases: a fresh SQLite file or a fresh PostgreSQL database for each test, so tests run in
//! parallel without seeing each other's rows.
//!
//! PostgreSQL is found at `RECOUP_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). When it cannot be reached the PostgreSQL half of a
//! test is skipped with a notice, unless `RECOUP_REQUIRE_POSTGRES=1`, which makes that a failure.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::{Store, StoreError, StoreOptions};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists for one test.
pub struct TestDb {
    /// URL to pass to `Store::connect` or `recoupd --database-url`.
    pub url: String,
    /// "sqlite" or "postgres".
    pub backend: &'static str,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A new, empty SQLite file in a temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite:{}", dir.path().join("recoup.db").display());
        TestDb {
            url,
            backend: "sqlite",
            pg_name: None,
            _dir: Some(dir),
        }
    }

    /// A new, empty SQLite file in `dir` (which the caller keeps, e.g. a small disk of its own).
    pub fn sqlite_in(dir: &std::path::Path) -> TestDb {
        TestDb {
            url: format!("sqlite:{}", dir.join("recoup.db").display()),
            backend: "sqlite",
            pg_name: None,
            _dir: None,
        }
    }

    /// A new, empty PostgreSQL database, or None (after a notice) when PostgreSQL is unreachable
    /// and not required.
    pub async fn postgres() -> Option<TestDb> {
        let admin = admin_url();
        let mut conn = match PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) if !postgres_required() => {
                eprintln!(
                    "NOTICE: PostgreSQL not reachable at {admin} ({e}); skipping the PostgreSQL half"
                );
                return None;
            }
            Err(e) => {
                panic!("RECOUP_REQUIRE_POSTGRES=1 but PostgreSQL is not reachable at {admin}: {e}")
            }
        };
        sweep_abandoned(&mut conn).await;
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "recoup_t_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let create = format!("CREATE DATABASE {name} TEMPLATE template0");
        sqlx::raw_sql(sqlx::AssertSqlSafe(create))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Some(TestDb {
            url: format!("{base}/{name}"),
            backend: "postgres",
            pg_name: Some(name),
            _dir: None,
        })
    }

    /// Every backend this run tests: SQLite always, PostgreSQL when reachable (or required).
    pub async fn all() -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite()];
        dbs.extend(TestDb::postgres().await);
        dbs
    }

    /// Connects and migrates.
    pub async fn store(&self) -> Result<Store, StoreError> {
        let store = self.connect().await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(&self) -> Result<Store, StoreError> {
        Store::connect(&StoreOptions {
            url: self.url.clone(),
            max_connections: Some(4),
            ..StoreOptions::default()
        })
        .await
    }

    /// Runs SQL text on a connection of its own (test set-up, e.g. rows an older release wrote).
    pub async fn execute(&self, sql: &str) {
        self.try_execute(sql).await.expect("execute");
    }

    /// Runs SQL text on a connection of its own; the database's refusal, if it refuses.
    pub async fn try_execute(&self, sql: &str) -> Result<(), String> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        let done = if self.backend == "postgres" {
            let mut conn = PgConnection::connect(&self.url).await.expect("connect");
            sqlx::raw_sql(sql).execute(&mut conn).await.map(|_| ())
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::raw_sql(sql).execute(&mut conn).await.map(|_| ())
        };
        done.map_err(|e| e.to_string())
    }

    /// Drops a table behind the server's back, to provoke a storage failure.
    pub async fn break_table(&self, table: &str) {
        let store = self.store().await.expect("open store");
        crate::with_writer!(&store.backend, |pool, pg| {
            let cascade = if pg { " CASCADE" } else { "" };
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE {table}{cascade}")))
                .execute(pool)
                .await
                .expect("drop table");
        });
        store.close().await;
    }

    /// Replaces the database under a running server with an empty one: PostgreSQL loses its schema,
    /// the SQLite file is removed and an empty file put in its place.
    pub async fn recreate_empty(&self) {
        if self.backend == "postgres" {
            let mut conn = PgConnection::connect(&self.url).await.expect("connect");
            sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
                .execute(&mut conn)
                .await
                .expect("drop schema");
        } else {
            let path = self.url.strip_prefix("sqlite:").expect("sqlite url");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
            std::fs::write(path, b"").expect("empty file");
        }
    }

    /// Holds a lock that makes the store's payment writes wait until the guard is dropped: SQLite's
    /// write lock, or on PostgreSQL a lock on `accounts` that blocks `SELECT … FOR UPDATE`.
    pub async fn lock_writes(&self) -> WriteLock {
        if self.backend == "postgres" {
            let mut conn = PgConnection::connect(&self.url).await.expect("connect");
            sqlx::raw_sql("BEGIN; LOCK TABLE accounts IN EXCLUSIVE MODE")
                .execute(&mut conn)
                .await
                .expect("lock");
            WriteLock::Postgres(conn)
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::raw_sql("BEGIN IMMEDIATE")
                .execute(&mut conn)
                .await
                .expect("lock");
            WriteLock::Sqlite(conn)
        }
    }

    /// Runs `sql` in a PostgreSQL transaction left open until `HeldTransaction::commit`, to show what
    /// other writers and readers do meanwhile.
    pub async fn hold_transaction(&self, sql: &str) -> HeldTransaction {
        assert_eq!(
            self.backend, "postgres",
            "held transactions are a PostgreSQL test"
        );
        let mut conn = PgConnection::connect(&self.url).await.expect("connect");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("BEGIN; {sql}")))
            .execute(&mut conn)
            .await
            .expect("begin and run");
        HeldTransaction(conn)
    }

    /// The tables whose planner statistics recoup refreshed itself (PostgreSQL: a manual ANALYZE,
    /// not autovacuum's; SQLite: rows in sqlite_stat1), sorted.
    pub async fn analysed_tables(&self) -> Vec<String> {
        let sql = if self.backend == "postgres" {
            "SELECT relname::text FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL \
             ORDER BY 1"
        } else {
            "SELECT DISTINCT tbl FROM sqlite_stat1 ORDER BY 1"
        };
        let found = if self.backend == "postgres" {
            let mut conn = PgConnection::connect(&self.url).await.expect("connect");
            sqlx::query_scalar(sql).fetch_all(&mut conn).await
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query_scalar(sql).fetch_all(&mut conn).await
        };
        match found {
            Ok(tables) => tables,
            // SQLite has no sqlite_stat1 until the first ANALYZE.
            Err(sqlx::Error::Database(e)) if e.message().contains("sqlite_stat1") => Vec::new(),
            Err(e) => panic!("reading statistics: {e}"),
        }
    }

    /// The process ids of the PostgreSQL backends serving recoupd's sessions on this database (none
    /// on SQLite), to measure what they cost.
    pub async fn recoupd_backends(&self) -> Result<Vec<u32>, StoreError> {
        if self.backend != "postgres" {
            return Ok(Vec::new());
        }
        let mut conn = PgConnection::connect(&self.url).await?;
        let pids: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1",
        )
        .bind(crate::connect::APPLICATION_NAME)
        .fetch_all(&mut conn)
        .await?;
        let _ = conn.close().await;
        Ok(pids.into_iter().map(|p| p as u32).collect())
    }

    /// A PostgreSQL outage, or its end: while `down`, the database refuses new connections and
    /// recoupd's sessions are ended; afterwards it lets connections in again. PostgreSQL only.
    pub async fn outage(&self, down: bool) {
        let name = self.pg_name.as_ref().expect("an outage needs PostgreSQL");
        let mut conn = PgConnection::connect(&admin_url()).await.expect("connect");
        let allow = if down { "false" } else { "true" };
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}"
        )))
        .execute(&mut conn)
        .await
        .expect("alter database");
        if down {
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND application_name = $2",
            )
            .bind(name)
            .bind(crate::connect::APPLICATION_NAME)
            .execute(&mut conn)
            .await
            .expect("end sessions");
        }
        let _ = conn.close().await;
    }

    /// The deadlocks PostgreSQL has counted in this database (statistics lag a transaction's end
    /// by up to a second: stop the sessions first). PostgreSQL only.
    pub async fn deadlocks(&self) -> i64 {
        let name = self.pg_name.as_ref().expect("deadlocks are PostgreSQL's");
        tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
        let mut conn = PgConnection::connect(&admin_url()).await.expect("connect");
        let n: i64 =
            sqlx::query_scalar("SELECT deadlocks FROM pg_stat_database WHERE datname = $1")
                .bind(name)
                .fetch_one(&mut conn)
                .await
                .expect("database statistics");
        let _ = conn.close().await;
        n
    }

    /// Drops a PostgreSQL test database (SQLite files go with their temporary directory).
    pub async fn cleanup(self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut conn) = PgConnection::connect(&admin_url()).await
        {
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                .execute(&mut conn)
                .await;
        }
    }
}

/// Drops test databases left by test processes that have exited (a panicking test skips its cleanup).
/// Runs once per process.
async fn sweep_abandoned(conn: &mut PgConnection) {
    static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    // Liveness is read from /proc; without it (not Linux) nothing is swept.
    if SWEPT.swap(true, Ordering::SeqCst) || !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'recoup\\_t\\_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                .execute(&mut *conn)
                .await;
        }
    }
}

/// A held write lock; dropping it closes the connection, which releases the lock.
pub enum WriteLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(PgConnection),
}

/// A PostgreSQL transaction a test holds open.
pub struct HeldTransaction(PgConnection);

impl HeldTransaction {
    pub async fn commit(mut self) {
        sqlx::raw_sql("COMMIT")
            .execute(&mut self.0)
            .await
            .expect("commit");
    }
}

fn admin_url() -> String {
    std::env::var("RECOUP_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.into())
}

/// True when `RECOUP_REQUIRE_POSTGRES=1`: CI sets it so the PostgreSQL half can never be skipped.
pub fn postgres_required() -> bool {
    std::env::var("RECOUP_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}
