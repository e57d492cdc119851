//! Lasting contact blocks recoup set from a call (a referral to an agency, a debtor's request not
//! to be called; migration 0016): laid over what the CRM imports, and lifted only explicitly,
//! with a reason kept in `block_lifts`. One short transaction holding the account, ended by the
//! write epilogue (`change`).

use chrono::{DateTime, Utc};
use recoup_domain::fingerprint::Canonical;

use crate::ConflictKind;
use crate::change::{Change, Event, Written, begin_change, hold_account, seen};
use crate::requests::RequestKey;
use crate::{Store, StoreError, retrying, store_time, with_writer};

/// The ledger's name for LiftContactBlock.
const METHOD: &str = "LiftContactBlock";

/// A lasting block recoup sets from a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldBlock {
    /// The account was referred to an agency on a call.
    Agency,
    /// The debtor asked on a call not to be called again.
    Cease,
}

impl HeldBlock {
    fn as_str(self) -> &'static str {
        match self {
            Self::Agency => "with_agency",
            Self::Cease => "cease_calls",
        }
    }
}

impl Store {
    /// Lifts `block` from account `account_id`, idempotently by `key`: the account takes the
    /// status or cease_calls its CRM last imported. Returns whether this request lifted it (false:
    /// a retry of the request that did).
    ///
    /// Errors: `NotFound` (no such account), `Conflict` (the account does not hold the block),
    /// `RequestIdReused`.
    pub async fn lift_block(
        &self,
        key: RequestKey<'_>,
        account_id: i64,
        block: HeldBlock,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let fingerprint = {
            let mut c = Canonical::new("lift-block/v1");
            c.display(account_id).text(block.as_str()).text(reason);
            c.finish()
        };
        let now = store_time(now);
        let written: Result<Option<String>, StoreError> = retrying!(&self.backend, async {
            Ok(with_writer!(&self.backend, |pool, pg| {
                let mut tx = begin_change!(pool, pg, &self.feed, "block");
                hold_account!(tx, pg, account_id);
                if seen!(tx, key) {
                    return Ok(None);
                }
                let (agency, cease): (bool, bool) =
                    sqlx::query_as("SELECT held_agency, held_cease FROM accounts WHERE id = $1")
                        .bind(account_id)
                        .fetch_one(&mut *tx)
                        .await?;
                let update = match block {
                    HeldBlock::Agency if agency => {
                        "UPDATE accounts SET held_agency = FALSE, \
                         status = COALESCE(crm_status, 'active') WHERE id = $1"
                    }
                    HeldBlock::Cease if cease => {
                        "UPDATE accounts SET held_cease = FALSE, \
                         cease_calls = COALESCE(crm_cease_calls, FALSE) WHERE id = $1"
                    }
                    _ => {
                        return Err(StoreError::conflict(
                            ConflictKind::State,
                            format!("accounts/{account_id}"),
                            format!(
                                "accounts/{account_id} holds no {} block recoup set from a call",
                                block.as_str()
                            ),
                        ));
                    }
                };
                sqlx::query(update)
                    .bind(account_id)
                    .execute(&mut *tx)
                    .await?;
                let q = sqlx::query(
                    "INSERT INTO block_lifts (account_id, block, reason, lifted_by, lift_time) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(account_id)
                .bind(block.as_str())
                .bind(reason)
                .bind(key.subject);
                let q = if pg {
                    q.bind(now)
                } else {
                    q.bind(crate::calls::sqlite_time(now))
                };
                q.execute(&mut *tx).await?;
                let resource = format!("accounts/{account_id}");
                let mut change = Change::new(Event::by(
                    key,
                    now,
                    "contact_block_lifted",
                    account_id,
                    &resource,
                ));
                change
                    .event(Event::by(
                        key,
                        now,
                        "account_updated",
                        account_id,
                        &resource,
                    ))
                    .request(key, METHOD, &fingerprint, &resource, now)
                    .touch(account_id, now);
                tx.commit(change).await?;
                Some(resource)
            }))
        });
        let done = self
            .settle(written, key, METHOD, &fingerprint, |_| async {
                Ok(Some(()))
            })
            .await?;
        Ok(matches!(done, Written::Recorded(())))
    }
}
