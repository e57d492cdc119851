//! The idempotency ledger: each mutating request's key, scoped to the credential subject that sent
//! it, with a digest of its content and what it produced. A retry finds its first answer here; a key
//! reused for other content is refused; another caller's key is simply another key.

use chrono::{DateTime, Utc};

use crate::rows::RowExt;
use crate::{Backend, Store, StoreError, store_time, with_reader};

/// A mutating request's idempotency key: unique per credential subject, never across subjects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestKey<'a> {
    /// The credential's subject; also recorded as the actor of the change.
    pub subject: &'a str,
    pub request_id: &'a str,
}

/// A request the ledger has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// The RPC that used the key.
    pub method: String,
    pub fingerprint: String,
    /// What it created (a resource name), or empty.
    pub resource: String,
    /// Its encoded answer, for RPCs that keep one.
    pub response: Option<Vec<u8>>,
}

impl SeenRequest {
    /// Whether a new request with `method` and `fingerprint` is a retry of this one; an error when
    /// the key was used for something else.
    pub fn retried_by(&self, method: &str, fingerprint: &str) -> Result<(), StoreError> {
        if self.method == method && self.fingerprint == fingerprint {
            Ok(())
        } else {
            Err(StoreError::RequestIdReused)
        }
    }
}

impl Store {
    /// What the ledger holds for `key`, if anything.
    pub async fn find_request(
        &self,
        key: RequestKey<'_>,
    ) -> Result<Option<SeenRequest>, StoreError> {
        find(&self.backend, key).await
    }
}

/// What the ledger holds for `key`, if anything.
pub(crate) async fn find(
    backend: &Backend,
    key: RequestKey<'_>,
) -> Result<Option<SeenRequest>, StoreError> {
    with_reader!(backend, |pool, pg| {
        sqlx::query(
            "SELECT method, fingerprint, resource, response FROM requests \
                 WHERE subject = $1 AND request_id = $2",
        )
        .bind(key.subject)
        .bind(key.request_id)
        .fetch_optional(pool)
        .await?
        .map(|r| {
            Ok(SeenRequest {
                method: r.text("method")?,
                fingerprint: r.text("fingerprint")?,
                resource: r.text("resource")?,
                response: r.opt_blob("response")?,
            })
        })
        .transpose()
    })
}

impl Store {
    /// Records a request that keeps its own answer (first one wins; a concurrent twin is ignored).
    pub async fn save_response(
        &self,
        key: RequestKey<'_>,
        method: &str,
        fingerprint: &str,
        response: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        crate::with_writer!(&self.backend, |pool, pg| {
            sqlx::query(
                "INSERT INTO requests (subject, request_id, method, fingerprint, resource, response, create_time) \
                 VALUES ($1, $2, $3, $4, '', $5, $6) ON CONFLICT (subject, request_id) DO NOTHING",
            )
            .bind(key.subject)
            .bind(key.request_id)
            .bind(method)
            .bind(fingerprint)
            .bind(response)
            .bind(store_time(now))
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}

/// The number after the last `/` of a resource name (`accounts/7/payments/31` → 31).
pub(crate) fn last_id(resource: &str) -> Option<i64> {
    resource.rsplit('/').next()?.parse().ok()
}

/// Ledger rows deleted per statement when forgetting: short enough that writes queue behind it
/// only briefly.
const FORGET_PER_PASS: i64 = 5_000;

/// Deletes up to `$2` ledger rows first used before `$1`, oldest first (in the order of the
/// `requests_create_time` index, so each statement reads only the rows it deletes).
pub(crate) fn forget_sql(pg: bool) -> &'static str {
    if pg {
        // By row address (a TID scan): joined on the key, a generic plan hashes the whole table.
        "DELETE FROM requests WHERE ctid = ANY (ARRAY(SELECT ctid FROM requests \
         WHERE create_time < $1 ORDER BY create_time LIMIT $2))"
    } else {
        "DELETE FROM requests WHERE rowid IN (SELECT rowid FROM requests \
         WHERE create_time < $1 ORDER BY create_time LIMIT $2)"
    }
}

impl Store {
    /// Forgets every request key first used before `before` (the ledger's window, policy
    /// `requests.keep_days`), a bounded number of rows per statement; how many were forgotten.
    pub async fn forget_requests(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut forgotten = 0;
        loop {
            let n = crate::with_writer!(&self.backend, |pool, pg| {
                let q = sqlx::query(forget_sql(pg));
                let q = if pg {
                    q.bind(before)
                } else {
                    // SQLite keeps the ledger's times as text in one format (`view::time_text`),
                    // which sorts as the times do.
                    q.bind(crate::view::time_text(before))
                };
                q.bind(FORGET_PER_PASS).execute(pool).await?.rows_affected()
            });
            forgotten += n;
            if n < FORGET_PER_PASS as u64 {
                break;
            }
        }
        // Cut imports never resumed: one row per import, so one statement.
        crate::with_writer!(&self.backend, |pool, pg| {
            sqlx::query("DELETE FROM import_progress WHERE update_time < $1")
                .bind(crate::store_time(before))
                .execute(pool)
                .await?;
        });
        Ok(forgotten)
    }
}
