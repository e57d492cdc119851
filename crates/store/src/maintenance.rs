//! Background upkeep a serving process runs: copying SQLite's WAL into the database file
//! (checkpoints), off every request's path, and rebuilding account views left stale (after
//! migration 0004, or by a write that could not rebuild them). Both are idempotent; stopping them at
//! any moment loses nothing.

use std::time::Duration;

use sqlx::ConnectOptions;

use crate::{Backend, Store, StoreError, view, with_writer};

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
}

/// Rebuilds up to `$1` stale views, found through the partial index `accounts_view_stale`.
pub(crate) fn rebuild_sql(pg: bool) -> String {
    format!(
        "UPDATE accounts AS a SET view_json = {} WHERE a.id IN \
         (SELECT id FROM accounts WHERE view_json IS NULL ORDER BY id LIMIT $1)",
        view::document(pg)
    )
}

async fn rebuild_some(backend: &Backend, limit: i64) -> Result<u64, StoreError> {
    Ok(with_writer!(backend, |pool, pg| {
        sqlx::query(sqlx::AssertSqlSafe(rebuild_sql(pg)))
            .bind(limit)
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
        let passive: Result<(i64, i64, i64), _> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await;
        match passive {
            Ok((_, log, done)) if log - done > WAL_LIMIT_PAGES || log > 4 * WAL_LIMIT_PAGES => {
                let started = std::time::Instant::now();
                let truncated: Result<(i64, i64, i64), _> =
                    sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(&pool)
                        .await;
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
