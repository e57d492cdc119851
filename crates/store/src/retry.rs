//! PostgreSQL may abort a transaction that did nothing wrong: the victim of a deadlock (40P01) or
//! a serialization failure (40001). Such a transaction is run again here, a few times with a short
//! jittered pause, so a client never sees it; SQLite's single writer never aborts one this way.

use std::time::Duration;

use crate::{Backend, StoreError};

/// Attempts at most, the first included.
pub(crate) const TRIES: u32 = 4;

impl StoreError {
    /// Whether the database aborted the transaction for what ran beside it, not for what it did.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(d))
            if d.code().is_some_and(|c| matches!(c.as_ref(), "40P01" | "40001")))
    }
}

/// The pause before attempt `tries + 1`: a few milliseconds, doubled each time, jittered so two
/// transactions that collided do not collide again.
pub(crate) async fn pause(tries: u32, e: &StoreError) {
    let base = 5u64 << tries;
    let jitter = u64::from(
        std::process::id()
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos()),
    ) % base;
    tracing::info!(error = %e, attempt = tries, "transaction aborted by the database; running it again");
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

/// A write ended, with `error` if it failed: a failure for the database's reason is noted, and on
/// SQLite the writer's connection is closed (the next write opens another), since the driver may
/// believe a transaction SQLite already ended is still open.
pub(crate) async fn ended(backend: &Backend, error: Option<&StoreError>) {
    let failures = backend.failures();
    match error {
        None => failures.write_succeeded(),
        Some(e) => {
            failures.write_failed(e);
            if let (StoreError::Database(_), Backend::Sqlite { writer, .. }) = (e, backend)
                && let Ok(conn) = writer.acquire().await
            {
                tracing::warn!(error = %e, "a write failed; the writer's connection is reopened");
                let _ = conn.close().await;
            }
        }
    }
}

/// Awaits `$attempt` (an expression making a future, evaluated afresh for each attempt) and runs
/// it again while it fails with a transient error, at most `TRIES` times in all; then tells
/// `$backend` how the write ended (`failures`).
macro_rules! retrying {
    ($backend:expr, $attempt:expr) => {
        $crate::retrying!($backend, $attempt, |_: &$crate::StoreError| false)
    };
    // `$again`: what else makes this write worth another attempt.
    ($backend:expr, $attempt:expr, $again:expr) => {{
        let mut tries = 1;
        loop {
            let attempt: Result<_, $crate::StoreError> = $attempt.await;
            match attempt {
                Err(e) if (e.is_transient() || $again(&e)) && tries < $crate::retry::TRIES => {
                    $crate::retry::pause(tries, &e).await;
                    tries += 1;
                }
                done => {
                    $crate::retry::ended($backend, done.as_ref().err()).await;
                    break done;
                }
            }
        }
    }};
}
pub(crate) use retrying;
