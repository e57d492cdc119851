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
    /// The resource is not in a state that allows the change (e.g. a dispute already resolved);
    /// the text says why.
    #[error("{0}")]
    Conflict(String),
    /// The caller may not make this change (e.g. approve their own proposal); the text says why.
    #[error("{0}")]
    Forbidden(String),
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

impl StoreError {
    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}
