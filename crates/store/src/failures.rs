//! What the store has seen fail, so it can recover without a restart. A write that failed for the
//! database's reason (a full disk, an outage) marks writes as failing: health is NOT_SERVING until
//! a probe write succeeds (`Store::check`) or a real one does. On SQLite the writer's connection
//! is reopened after a failed write (`retry::ended`): a transaction SQLite ended by itself (it may
//! roll back on a full disk) leaves the driver believing one is still open, and every later write
//! would fail.
//! After a database outage, pooled connections made before it are replaced on their next use
//! rather than each failing one request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::StoreError;

#[derive(Debug)]
pub(crate) struct Failures {
    /// A write failed for the database's reason and none has succeeded since.
    writes_failing: AtomicBool,
    /// When an outage was last seen, in milliseconds after `start` plus one (0: never). Monotonic,
    /// like the pool's connection ages it is compared with.
    outage_at: AtomicU64,
    start: Instant,
}

impl Failures {
    pub fn new() -> Arc<Failures> {
        Arc::new(Failures {
            writes_failing: AtomicBool::new(false),
            outage_at: AtomicU64::new(0),
            start: Instant::now(),
        })
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64 + 1
    }

    /// A write ended with `e`.
    pub fn write_failed(&self, e: &StoreError) {
        if e.is_outage() {
            self.writes_failing.store(true, Ordering::Relaxed);
            self.outage();
        }
    }

    /// A write committed.
    pub fn write_succeeded(&self) {
        self.writes_failing.store(false, Ordering::Relaxed);
    }

    pub fn writes_failing(&self) -> bool {
        self.writes_failing.load(Ordering::Relaxed)
    }

    /// The database was found unusable now.
    pub fn outage(&self) {
        self.outage_at.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Whether a connection `age` old may be used: not if it was made before the last outage.
    pub fn keeps(&self, age: Duration) -> bool {
        let at = self.outage_at.load(Ordering::Relaxed);
        at == 0 || self.now_ms().saturating_sub(age.as_millis() as u64) > at
    }
}
