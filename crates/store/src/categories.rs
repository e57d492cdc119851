//! The debtor category an agent sets by hand (migration 0011): in force over the derived one until
//! cleared. One short transaction holding the account, ended by the write epilogue (`change`).

use chrono::{DateTime, Utc};
use recoup_domain::category::Category;
use recoup_domain::fingerprint::Canonical;

use crate::change::{Change, Event, Written, begin_change, hold_account, seen};
use crate::requests::RequestKey;
use crate::{Store, StoreError, retrying, store_time, with_writer};

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
        let written: Result<Option<String>, StoreError> = retrying!(&self.backend, async {
            Ok(with_writer!(&self.backend, |pool, pg| {
                let mut tx = begin_change!(pool, pg, &self.feed, "category");
                hold_account!(tx, pg, account_id);
                if seen!(tx, key) {
                    return Ok(None);
                }
                let set = category.is_some();
                sqlx::query(
                    "UPDATE accounts SET manual_category = $2, category_reason = $3, \
                     category_set_by = $4, category_set_time = $5 WHERE id = $1",
                )
                .bind(account_id)
                .bind(category.map(Category::as_str))
                .bind(Some(reason).filter(|_| set))
                .bind(Some(key.subject).filter(|_| set))
                .bind(Some(now).filter(|_| set))
                .execute(&mut *tx)
                .await?;
                let resource = format!("accounts/{account_id}");
                let mut change =
                    Change::new(Event::by(key, now, "category_set", account_id, &resource));
                change
                    .request(key, METHOD, &fingerprint, &resource, now)
                    .touch(account_id, now);
                tx.commit(change).await?;
                Some(resource)
            }))
        });
        // A retry has nothing to load: it set what the first request set.
        let done = self
            .settle(written, key, METHOD, &fingerprint, |_| async {
                Ok(Some(()))
            })
            .await?;
        Ok(matches!(done, Written::Recorded(())))
    }
}
