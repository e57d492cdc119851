use recoup_domain::Violations;
use thiserror::Error;

/// What can go wrong in the store. `Database` carries driver detail for logs only: callers must not
/// show it to clients (it may quote SQL).
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("invalid input")]
    Invalid(Violations),
    /// A claim that may not be made, extended or released, or that does not cover a call.
    #[error("claim refused")]
    Claim(Box<crate::claims::ClaimProblem>),
    /// The change conflicts with the resource as stored (e.g. a dispute already resolved): what
    /// kind of conflict, on which resource, and why in words.
    #[error("{}", .0.message)]
    Conflict(Box<Conflict>),
    /// An idempotency key reused for a different request.
    #[error("request_id was already used for a different request")]
    RequestIdReused,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database cannot be used as it is (unreachable, no schema, replaced); the text says why and
    /// what to do, and names no secret.
    #[error("{0}")]
    Unusable(String),
    /// Stored data that no longer parses (e.g. a currency code this build does not know).
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
}

/// A change refused because of what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub kind: ConflictKind,
    /// The resource whose state refused it, e.g. `accounts/7/disputes/3`.
    pub resource: String,
    pub message: String,
}

/// Kinds of conflict a caller may act on differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// The resource is not in a state that allows the change (a plan that does not await
    /// approval, a block that is not held, a credit note's reference taken).
    State,
    /// The dispute was resolved already.
    AlreadyResolved,
    /// The account has a live plan, and no reason to replace it was given.
    PlanLive,
    /// The balance a plan was judged on changed before it was written.
    BalanceChanged,
    /// The approver proposed the plan: four eyes needs another.
    SelfApproval,
    /// A concurrent change won; the same request may succeed if tried again.
    Contended,
}

impl StoreError {
    /// Whether the database could not serve (unreachable, connections refused or cut, the pool
    /// exhausted, SQLite's lock held past the busy timeout, the schema gone): the same request may
    /// succeed later, unlike a fault.
    pub fn is_outage(&self) -> bool {
        match self {
            StoreError::Unusable(_) => true,
            StoreError::Database(e) => match e {
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_) => true,
                sqlx::Error::Database(d) => d.code().is_some_and(|c| {
                    // PostgreSQL: connection exceptions (08), shutting down or not yet accepting
                    // (57P01-57P03), too many connections (53300), the database not accepting
                    // connections (55000, e.g. ALLOW_CONNECTIONS off for maintenance), disk full
                    // (53100). SQLite (extended codes; the low byte is the primary one): BUSY,
                    // LOCKED, IOERR, FULL.
                    c.starts_with("08")
                        || matches!(
                            c.as_ref(),
                            "57P01" | "57P02" | "57P03" | "53300" | "55000" | "53100"
                        )
                        || (c.len() < 5
                            && c.parse::<u32>()
                                .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 13)))
                }),
                _ => false,
            },
            _ => false,
        }
    }

    /// A `Conflict` of `kind` on `resource`.
    pub(crate) fn conflict(
        kind: ConflictKind,
        resource: impl Into<String>,
        message: impl Into<String>,
    ) -> StoreError {
        StoreError::Conflict(Box::new(Conflict {
            kind,
            resource: resource.into(),
            message: message.into(),
        }))
    }

    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}
