//! The recoup repository: one interface, `Store`, over SQLite (the zero-set-up default) and
//! PostgreSQL (production). Every SQL statement in recoup lives in this crate.
//!
//! Each operation's body is written once and expanded for both backends by `with_reader!` /
//! `with_writer!`, so the two cannot drift apart; where the dialects differ the body branches on
//! the `pg` flag. SQLite uses one writer connection (writes are serialised, no SQLITE_BUSY between
//! our own writers) and a separate pool of readers (WAL lets them run beside the writer).

mod accounts;
mod blocks;
#[cfg(feature = "testkit")]
pub mod bulk;
pub mod calls;
mod categories;
mod change;
mod claims;
mod connect;
mod contact_rules;
pub mod disputes;
mod error;
mod events;
mod failures;
mod history;
mod import;
mod invoices;
mod keys;
pub mod letters;
mod maintenance;
pub use maintenance::Maintenance;
pub use reports::Book;
mod markers;
mod model;
mod payments;
pub mod phases;
pub mod plans;
pub mod promises;
#[cfg(feature = "testkit")]
mod query_plans;
pub use payments::PaymentOutcome;
mod reports;
mod requests;
mod retry;
mod rows;
mod sets;
#[cfg(feature = "testkit")]
pub mod testkit;
mod view;
mod webhooks;
pub mod worklist;
mod writer;

pub use blocks::HeldBlock;
pub use calls::{CallOutcome, Recorder, StoredCall};
pub use change::Written;
pub use claims::{ClaimOp, ClaimProblem};
pub use connect::StoreOptions;
pub use disputes::{DisputeOutcome, StoredDispute};
pub use error::{Conflict, ConflictKind, StoreError};
pub use events::{Payload, StoredEvent};
pub use history::{PastLetter, PastOutcome, PastPlan, PastRecord};
pub use import::{ImportProgress, Progress};
pub use invoices::InvoiceRead;
pub use keys::StoredKey;
pub use letters::{NewLetter, StoredLetter};
pub use model::{
    AccountKey, AccountSnapshot, HeldBlocks, ImportOutcome, ListFilter, ManualCategory, SentLetter,
    StoredInvoice, StoredPayment, Story,
};
pub use plans::{NewPlan, PlanDetail, PlanEnd, PlanOutcome, StoredPlan};
pub use requests::{RequestKey, SeenRequest};
pub use webhooks::{DeadLetter, StoredWebhook};

use sqlx::{PgPool, SqlitePool};

/// Which database, and its pools.
#[derive(Clone)]
pub(crate) enum Backend {
    Sqlite {
        reader: SqlitePool,
        writer: SqlitePool,
        file: connect::SqliteFile,
        failures: std::sync::Arc<failures::Failures>,
    },
    Postgres(PgPool, std::sync::Arc<failures::Failures>),
}

impl Backend {
    pub(crate) fn failures(&self) -> &failures::Failures {
        match self {
            Backend::Sqlite { failures, .. } | Backend::Postgres(_, failures) => failures,
        }
    }
}

/// The repository. Cheap to clone: it holds pools and the writer's queue.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    writer: writer::Queue,
    /// Wakes change-feed watchers when this process commits events.
    feed: events::Feed,
    /// What imports wrote, towards the next refresh of the planner's statistics.
    imported: std::sync::Arc<maintenance::Imported>,
}

/// Runs `$body` once per backend with `$pool` bound to the pool of `$backend` (a `&Backend`) for
/// `$role` (`reader` or `writer`; PostgreSQL has one pool for both) and `$pg` telling which backend
/// it is.
macro_rules! with_pool {
    ($backend:expr, $role:ident, |$pool:ident, $pg:ident| $body:expr) => {
        match $backend {
            $crate::Backend::Sqlite { $role: $pool, .. } => {
                #[allow(unused_variables)]
                let $pg = false;
                $body
            }
            $crate::Backend::Postgres($pool, _) => {
                #[allow(unused_variables)]
                let $pg = true;
                $body
            }
        }
    };
}

/// `with_pool!` on the pool that may be read from.
macro_rules! with_reader {
    ($backend:expr, |$pool:ident, $pg:ident| $body:expr) => {
        $crate::with_pool!($backend, reader, |$pool, $pg| $body)
    };
}

/// `with_pool!` on the pool writes go through.
macro_rules! with_writer {
    ($backend:expr, |$pool:ident, $pg:ident| $body:expr) => {
        $crate::with_pool!($backend, writer, |$pool, $pg| $body)
    };
}

pub(crate) use retry::retrying;
pub(crate) use sets::{next_ids, run_all};
pub(crate) use {with_pool, with_reader, with_writer};

/// Times are stored to the microsecond (PostgreSQL's precision) so both backends read back alike.
pub(crate) fn store_time(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(6)
}

/// An amount as it is kept: in minor units. Amounts reach the store validated, so an amount
/// finer than its currency's minor unit (or too large) is refused as input naming it.
pub(crate) fn minor(m: recoup_domain::Money) -> Result<i64, StoreError> {
    m.to_minor().map_err(|e| {
        let mut v = recoup_domain::Violations::new();
        v.push("amount", e.to_string());
        StoreError::Invalid(v)
    })
}

impl Store {
    /// What the store is carrying now, for metrics: (idle pool connections, connections in use,
    /// jobs waiting for the writer). On SQLite the pool is the readers' (the writer is one connection).
    pub fn load(&self) -> (usize, usize, usize) {
        let (size, idle) = match &self.backend {
            Backend::Sqlite { reader, .. } => (reader.size() as usize, reader.num_idle()),
            Backend::Postgres(pool, _) => (pool.size() as usize, pool.num_idle()),
        };
        let queued = self.writer.max_capacity() - self.writer.capacity();
        (idle, size.saturating_sub(idle), queued)
    }
}
