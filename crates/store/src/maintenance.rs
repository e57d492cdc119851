//! Background upkeep a serving process runs: copying SQLite's WAL into the database file
//! (checkpoints), off every request's path, and rebuilding account views left stale (after
//! migration 0004, or by a write that could not rebuild them). Both are idempotent; stopping them at
//! any moment loses nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sqlx::ConnectOptions;

use crate::{Backend, Store, StoreError, view, with_reader, with_writer};

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// WAL pages left after a passive checkpoint beyond which the WAL is truncated (64 MiB of 4 KiB
/// pages). A passive checkpoint beside a writer that never pauses may never complete, and SQLite only
/// starts the WAL over after a complete one, so without this the WAL grows without bound. Truncating
/// holds writers while it runs, so it is kept for a WAL that checkpoints cannot keep up with (or one
/// past four times the limit, whose readers never let it restart).
const WAL_LIMIT_PAGES: i64 = 16_384;
/// How often stale views are looked for when none were found last time.
const VIEWS_EVERY: Duration = Duration::from_secs(1);
/// Views rebuilt per transaction: short enough that writers queue behind it only briefly.
const VIEWS_PER_PASS: i64 = 200;
/// Rows imported since the last refresh of the planner's statistics beyond which an import's end
/// refreshes them. PostgreSQL's autovacuum would get there in its own time (and this machine's runs
/// with it off); until then the planner plans a freshly loaded book from the statistics of a small
/// one.
const ANALYZE_AFTER_ROWS: u64 = 10_000;
/// Rows SQLite's ANALYZE reads per index: enough for the planner, bounded on any book.
const SQLITE_ANALYSIS_LIMIT: u32 = 1_000;
/// The tables an import writes, whose statistics it changes.
const IMPORTED_TABLES: [&str; 6] = [
    "accounts",
    "contacts",
    "invoices",
    "invoice_adjustments",
    "worklist",
    "events",
];

/// What imports wrote (in this process), for keeping the planner's statistics current.
#[derive(Debug, Default)]
pub(crate) struct Imported {
    /// Rows written since the statistics were last refreshed.
    since: AtomicU64,
    /// Rows written before the last refresh.
    at_refresh: AtomicU64,
    /// A refresh is running.
    refreshing: AtomicBool,
}

/// The running upkeep tasks; they stop when this is dropped.
pub struct Maintenance(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Maintenance {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl Store {
    /// Starts the upkeep tasks.
    pub async fn start_maintenance(&self) -> Result<Maintenance, StoreError> {
        let mut tasks = vec![tokio::spawn(rebuild_views(self.backend.clone()))];
        if let Backend::Sqlite { writer, .. } = &self.backend {
            // A connection of its own: a checkpoint never holds the writer's. Its long statements are
            // expected; `checkpoints` logs what matters.
            let options = (*writer.connect_options())
                .clone()
                .log_slow_statements(tracing::log::LevelFilter::Off, Duration::MAX);
            let own = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            tasks.push(tokio::spawn(checkpoints(own)));
        }
        Ok(Maintenance(tasks))
    }

    /// Rebuilds at most `limit` stale views; returns how many.
    pub async fn rebuild_stale_views(&self, limit: i64) -> Result<u64, StoreError> {
        rebuild_some(&self.backend, limit).await
    }

    /// How many accounts' views are stale (built again in the background).
    pub async fn stale_view_count(&self) -> Result<i64, StoreError> {
        Ok(with_reader!(&self.backend, |pool, pg| {
            sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE view_json IS NULL")
                .fetch_one(pool)
                .await?
        }))
    }

    /// Counts rows an import wrote, towards the next refresh of the statistics. On PostgreSQL it
    /// also refreshes them in the background, while the import goes on, each time the rows imported
    /// since the last refresh are as many as all imported before it (and at least
    /// `ANALYZE_AFTER_ROWS`). A refresh makes every session plan its statements again: PostgreSQL
    /// keeps a statement's generic plan, and a trigger's, from the table sizes when it was first
    /// planned, so a plan made on the empty tables of a new book (a scan of what was a page) went
    /// on scanning as the book grew — a 1,000,000 account import fell to 750 accounts/s by
    /// 630,000, and ran at 4,000/s after one ANALYZE. So a growing book is re-planned about ten
    /// times on its way to millions of rows. Not on SQLite: there a refresh mid-import was
    /// measured to slow the new book's first worklist pass (time until usable 7.1 → 10.2 s on
    /// 100,000 accounts) and to leave it busier when idle (0.25% → 1.75% of a core).
    pub(crate) fn imported(&self, rows: u64) {
        let since = self.imported.since.fetch_add(rows, Ordering::Relaxed) + rows;
        if !matches!(self.backend, Backend::Postgres(..)) {
            return;
        }
        let before = self.imported.at_refresh.load(Ordering::Relaxed);
        if since < ANALYZE_AFTER_ROWS.max(before)
            || self.imported.refreshing.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            let rows = store.imported.since.swap(0, Ordering::Relaxed);
            store.imported.at_refresh.fetch_add(rows, Ordering::Relaxed);
            let started = std::time::Instant::now();
            match store.refresh_statistics().await {
                Ok(()) => tracing::info!(
                    rows,
                    took = ?started.elapsed(),
                    "planner statistics refreshed during an import"
                ),
                Err(e) => tracing::warn!(error = %e, "refreshing planner statistics failed"),
            }
            store.imported.refreshing.store(false, Ordering::Release);
        });
    }

    /// Called when an import stream ends: refreshes the planner's statistics of the tables imports
    /// write once they have written `ANALYZE_AFTER_ROWS` rows since the last refresh. Returns
    /// whether it did.
    pub async fn import_ended(&self) -> Result<bool, StoreError> {
        let rows = self.imported.since.load(Ordering::Relaxed);
        if rows < ANALYZE_AFTER_ROWS
            || self
                .imported
                .since
                .compare_exchange(rows, 0, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return Ok(false);
        }
        self.imported.at_refresh.fetch_add(rows, Ordering::Relaxed);
        let started = std::time::Instant::now();
        self.refresh_statistics().await?;
        tracing::info!(
            rows,
            took = ?started.elapsed(),
            "planner statistics refreshed after an import"
        );
        Ok(true)
    }

    /// Refreshes the planner's statistics of the tables imports write. PostgreSQL's ANALYZE samples
    /// and does not block writes; it runs on a connection of its own whose seconds on a large book
    /// are expected (not logged as a slow statement). SQLite's is bounded by `analysis_limit` and
    /// runs on the writer, whose plans need the statistics most; SQLite's readers take them when the
    /// pool replaces them (within `max_lifetime`): a read-only connection cannot reload them itself.
    pub async fn refresh_statistics(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Postgres(pool, _) => {
                let options = (*pool.connect_options())
                    .clone()
                    .log_slow_statements(tracing::log::LevelFilter::Off, Duration::MAX);
                let mut conn =
                    <sqlx::PgConnection as sqlx::Connection>::connect_with(&options).await?;
                let sql = format!("ANALYZE {}", IMPORTED_TABLES.join(", "));
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await?;
                let _ = sqlx::Connection::close(conn).await;
            }
            Backend::Sqlite { writer, .. } => {
                let mut sql = format!("PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT};");
                for t in IMPORTED_TABLES {
                    sql.push_str(&format!(" ANALYZE {t};"));
                }
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(writer)
                    .await?;
            }
        }
        Ok(())
    }
}

/// Up to `$1` accounts whose view is stale, found through the partial index `accounts_view_stale`:
/// the cheap poll that runs while nothing is stale.
pub(crate) const STALE_SQL: &str =
    "SELECT id FROM accounts WHERE view_json IS NULL ORDER BY id LIMIT $1";

/// Rebuilds the views of the accounts in `$1` (a JSON array of ids) that are still stale: one found
/// by the poll may have been rebuilt by a writer since.
pub(crate) fn rebuild_sql(pg: bool) -> String {
    format!("{} AND a.view_json IS NULL", view::refresh_sql(pg))
}

/// Rebuilds at most `limit` stale views. Looking is a read; the writer is taken only when there is
/// something to rebuild.
async fn rebuild_some(backend: &Backend, limit: i64) -> Result<u64, StoreError> {
    let stale: Vec<i64> = with_reader!(backend, |pool, pg| {
        sqlx::query_scalar(STALE_SQL)
            .bind(limit)
            .fetch_all(pool)
            .await?
    });
    if stale.is_empty() {
        return Ok(0);
    }
    let ids = serde_json::json!(stale).to_string();
    Ok(with_writer!(backend, |pool, pg| {
        sqlx::query(sqlx::AssertSqlSafe(rebuild_sql(pg)))
            .bind(&ids)
            .execute(pool)
            .await?
            .rows_affected()
    }))
}

async fn rebuild_views(backend: Backend) {
    let mut total = 0u64;
    loop {
        match rebuild_some(&backend, VIEWS_PER_PASS).await {
            Ok(n) if n > 0 => {
                total += n;
                if total % 10_000 < n {
                    tracing::info!(rebuilt = total, "rebuilding stale account views");
                }
                tokio::task::yield_now().await;
                continue;
            }
            Ok(_) => {
                if total > 0 {
                    tracing::info!(rebuilt = total, "stale account views rebuilt");
                    total = 0;
                }
            }
            Err(e) => tracing::warn!(error = %e, "rebuilding stale views failed; retrying"),
        }
        tokio::time::sleep(VIEWS_EVERY).await;
    }
}

/// Copies committed WAL frames into the database file. PASSIVE never waits for readers or the
/// writer, so normally no request waits for a checkpoint (the writer's automatic checkpoint is off:
/// it would run inside a commit), and the writer starts the WAL over after a complete one. A WAL
/// past the limits is truncated: that checkpoint waits for the current write and holds the next
/// ones while it runs.
async fn checkpoints(pool: sqlx::SqlitePool) {
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        let started = std::time::Instant::now();
        let passive: Result<(i64, i64, i64), _> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await;
        crate::phases::checkpoint("passive", started.elapsed());
        match passive {
            Ok((_, log, done)) if log - done > WAL_LIMIT_PAGES || log > 4 * WAL_LIMIT_PAGES => {
                let started = std::time::Instant::now();
                let truncated: Result<(i64, i64, i64), _> =
                    sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(&pool)
                        .await;
                crate::phases::checkpoint("truncate", started.elapsed());
                match truncated {
                    Ok((0, _, _)) => tracing::debug!(
                        wal_pages = log,
                        took = ?started.elapsed(),
                        "WAL truncated under sustained writes"
                    ),
                    // Busy: readers held the WAL for the whole busy timeout; tried again next time.
                    Ok(_) => tracing::debug!(wal_pages = log, "WAL truncation postponed: busy"),
                    Err(e) => {
                        tracing::warn!(error = %e, wal_pages = log, "WAL truncation failed; retrying")
                    }
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying"),
        }
    }
}
