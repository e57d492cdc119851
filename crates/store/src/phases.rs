//! Where a write's time goes, as histograms the server's `/metrics` shows (the store records them
//! through the `metrics` facade; without a recorder installed they cost nothing) and recoup-bench
//! reads around each measurement. Labels are the store's own fixed names, never data.
//!
//! - `recoup_write_queued_seconds{write}`: a request's wait for the writer task, from its submission
//!   to the start of the batch that takes it;
//! - `recoup_write_batch_requests{write}`: requests in one writer batch;
//! - `recoup_write_phase_seconds{write, phase}`: one write transaction's phases — `begin` (taking the
//!   write lock: SQLite's `BEGIN IMMEDIATE` waits while a truncating checkpoint holds it), `work`
//!   (the write's own reads and statements), `epilogue` (the set-based rows handed to the commit and
//!   the epilogue: update times, ledger, stored views, events — one multi-statement query on
//!   SQLite), `commit` (the commit, with its fsync);
//! - `recoup_wal_checkpoint_seconds{mode}`: SQLite's background checkpoints.

use std::time::{Duration, Instant};

/// The series' names, for the server that sets their buckets and the tools that read them.
pub const PHASE_SECONDS: &str = "recoup_write_phase_seconds";
pub const QUEUED_SECONDS: &str = "recoup_write_queued_seconds";
pub const BATCH_REQUESTS: &str = "recoup_write_batch_requests";
pub const CHECKPOINT_SECONDS: &str = "recoup_wal_checkpoint_seconds";
/// A write transaction's phases, in order.
pub const PHASES: [&str; 4] = ["begin", "work", "epilogue", "commit"];

/// A write transaction's clock: each `mark` records the time since the previous one as `phase`.
pub(crate) struct Phases {
    write: &'static str,
    last: Instant,
}

impl Phases {
    /// Starts timing a write of kind `write` (`payment`, `call`, `claim`, `dispute`, ...).
    pub fn start(write: &'static str) -> Phases {
        Phases {
            write,
            last: Instant::now(),
        }
    }

    /// Records the time since the last mark as `phase`.
    pub fn mark(&mut self, phase: &'static str) {
        let now = Instant::now();
        metrics::histogram!(PHASE_SECONDS, "write" => self.write, "phase" => phase)
            .record(now.duration_since(self.last).as_secs_f64());
        self.last = now;
    }
}

/// A writer batch of `requests` requests of kind `write`.
pub(crate) fn batch(write: &'static str, requests: usize) {
    metrics::histogram!(BATCH_REQUESTS, "write" => write).record(requests as f64);
}

/// A request of kind `write` submitted at `since` is taken by the writer now.
pub(crate) fn queued(write: &'static str, since: Instant) {
    metrics::histogram!(QUEUED_SECONDS, "write" => write).record(since.elapsed().as_secs_f64());
}

/// A WAL checkpoint in `mode` took `took`.
pub(crate) fn checkpoint(mode: &'static str, took: Duration) {
    metrics::histogram!(CHECKPOINT_SECONDS, "mode" => mode).record(took.as_secs_f64());
}
