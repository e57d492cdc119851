//! Announcing promise states: which accounts have promises whose state may still change, and
//! recording each change (with its event) once. The states are judged outside the store, from the
//! account's story and the policy (`recoup_domain::promise`).

use chrono::{DateTime, Utc};
use recoup_domain::promise::PromiseState;

use crate::change::{Change, Event, begin_change};
use crate::{Store, StoreError, retrying, store_time, with_reader, with_writer};

/// A promise's state as stored.
pub fn state_text(s: PromiseState) -> &'static str {
    match s {
        PromiseState::Open => "open",
        PromiseState::Kept => "kept",
        PromiseState::PartiallyKept => "partially_kept",
        PromiseState::Broken => "broken",
        PromiseState::Superseded => "superseded",
    }
}

/// Accounts after `$1` with a current promise still open or never announced, at most `$2`.
pub(crate) const OPEN_SQL: &str = "SELECT DISTINCT c.account_id FROM calls c \
     LEFT JOIN promise_states s ON s.call_id = c.id \
     WHERE c.outcome = 'promise_to_pay' AND c.account_id > $1 \
     AND (s.state IS NULL OR s.state = 'open') \
     AND NOT EXISTS (SELECT 1 FROM calls x WHERE x.corrects = c.id) \
     ORDER BY c.account_id LIMIT $2";

impl Store {
    /// Accounts (after `after`, in id order, at most `limit`) with a current promise whose announced
    /// state is still open or not announced at all.
    pub async fn accounts_with_open_promises(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<i64>, StoreError> {
        Ok(with_reader!(&self.backend, |pool, pg| {
            sqlx::query_scalar(OPEN_SQL)
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Records the judged states `(call id, state, paid in minor units)` of an account's promises,
    /// writing a `promise_changed` event for each that differs from the state last announced. Returns
    /// the new states of those that changed.
    pub async fn announce_promise_states(
        &self,
        account_id: i64,
        states: &[(i64, PromiseState, i64)],
        now: DateTime<Utc>,
    ) -> Result<Vec<PromiseState>, StoreError> {
        let now = store_time(now);
        retrying!(&self.backend, async {
            Ok(with_writer!(&self.backend, |pool, pg| {
                let mut tx = begin_change!(pool, pg, &self.feed, "promise");
                let mut change = None;
                let mut states_changed = Vec::new();
                for (call_id, state, paid) in states {
                    let known: Option<(String, i64)> = sqlx::query_as(
                        "SELECT state, paid_minor FROM promise_states WHERE call_id = $1",
                    )
                    .bind(call_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let text = state_text(*state);
                    if known.as_ref().is_some_and(|(s, p)| s == text && p == paid) {
                        continue;
                    }
                    sqlx::query(
                        "INSERT INTO promise_states (call_id, state, paid_minor, update_time) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (call_id) DO UPDATE SET \
                     state = excluded.state, paid_minor = excluded.paid_minor, \
                     update_time = excluded.update_time",
                    )
                    .bind(call_id)
                    .bind(text)
                    .bind(paid)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    Change::record(
                        &mut change,
                        Event::by_recoup(
                            now,
                            "promise_changed",
                            account_id,
                            format!("accounts/{account_id}/calls/{call_id}"),
                        ),
                    );
                    states_changed.push(*state);
                }
                // The view shows promises as judged from calls and payments, not these states: no
                // view to rebuild.
                if let Some(change) = change {
                    tx.commit(change).await?;
                }
                states_changed
            }))
        })
    }
}
