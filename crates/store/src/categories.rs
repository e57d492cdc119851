//! The debtor category an agent sets by hand (migration 0011): in force over the derived one until
//! cleared. One short transaction holding the account, with its ledger entry, event and view.

use chrono::{DateTime, Utc};
use recoup_domain::category::Category;
use recoup_domain::fingerprint::Canonical;

use crate::requests::RequestKey;
use crate::{Store, StoreError, begin_write, store_time, with_writer};

/// The ledger's name for SetAccountCategory.
const METHOD: &str = "SetAccountCategory";

impl Store {
    /// Sets (or with `None` clears) account `account_id`'s manual category, idempotently by `key`.
    /// Returns whether this request wrote it (false: a retry of the request that did).
    ///
    /// Errors: `NotFound` (no such account), `RequestIdReused`.
    pub async fn set_category(
        &self,
        key: RequestKey<'_>,
        account_id: i64,
        category: Option<Category>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let fingerprint = {
            let mut c = Canonical::new("category/v1");
            c.display(account_id)
                .text(category.map_or("", Category::as_str))
                .text(reason);
            c.finish()
        };
        let now = store_time(now);
        let written: Result<bool, StoreError> = async {
            Ok(with_writer!(&self.backend, |pool, pg| {
                let mut tx = begin_write!(pool, pg);
                let lock = if pg { " FOR UPDATE" } else { "" };
                let found: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT id FROM accounts WHERE id = $1{lock}"
                )))
                .bind(account_id)
                .fetch_optional(&mut *tx)
                .await?;
                if found.is_none() {
                    return Err(StoreError::NotFound);
                }
                let seen: Option<(String, String)> = sqlx::query_as(
                    "SELECT method, fingerprint FROM requests WHERE subject = $1 AND request_id = $2",
                )
                .bind(key.subject)
                .bind(key.request_id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((method, seen)) = seen {
                    return if method == METHOD && seen == fingerprint {
                        Ok(false)
                    } else {
                        Err(StoreError::RequestIdReused)
                    };
                }
                let set = category.is_some();
                sqlx::query(
                    "UPDATE accounts SET manual_category = $2, category_reason = $3, \
                     category_set_by = $4, category_set_time = $5, update_time = $6 WHERE id = $1",
                )
                .bind(account_id)
                .bind(category.map(Category::as_str))
                .bind(Some(reason).filter(|_| set))
                .bind(Some(key.subject).filter(|_| set))
                .bind(Some(now).filter(|_| set))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let resource = format!("accounts/{account_id}");
                sqlx::query(
                    "INSERT INTO events (create_time, event_type, account_id, resource, actor, \
                     request_id) VALUES ($1, 'category_set', $2, $3, $4, $5)",
                )
                .bind(now)
                .bind(account_id)
                .bind(&resource)
                .bind(key.subject)
                .bind(key.request_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO requests (subject, request_id, method, fingerprint, resource, \
                     response, create_time) VALUES ($1, $2, $3, $4, $5, NULL, $6)",
                )
                .bind(key.subject)
                .bind(key.request_id)
                .bind(METHOD)
                .bind(&fingerprint)
                .bind(&resource)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(sqlx::AssertSqlSafe(crate::view::refresh_sql(pg)))
                    .bind(format!("[{account_id}]"))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                true
            }))
        }
        .await;
        match written {
            Ok(true) => {
                self.feed.committed();
                Ok(true)
            }
            // A twin committed first: a retry if it was the same request.
            Err(e) if e.is_unique_violation() => match self.find_request(key).await? {
                Some(seen) => seen.retried_by(METHOD, &fingerprint).map(|()| false),
                None => Err(e),
            },
            other => other,
        }
    }
}
