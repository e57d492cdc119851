//! The change feed: the `events` outbox, written in the same transaction as each change, read in id
//! order. Ids become visible in id order on both backends (SQLite has one writer; on PostgreSQL
//! migration 0006 makes event inserts take a lock held to commit), so a reader that has seen id N
//! never later finds a smaller one: reading "after N" loses nothing and repeats nothing.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::model::StoredPayment;
use crate::plans::StoredPlan;
use crate::rows::RowExt;
use crate::{Store, StoreError, view, with_reader};

/// One change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its position in the feed.
    pub id: i64,
    /// `account_created`, `account_updated`, `payment_recorded`, `call_recorded`.
    pub event_type: String,
    pub account_id: i64,
    /// The account's reference in the creditor's systems (never changes: imports match by it).
    pub external_ref: String,
    /// The changed resource's name, e.g. `accounts/7/payments/31`.
    pub resource: String,
    pub actor: String,
    /// The request that made the change (the caller's idempotency key; may be empty for an import).
    pub request_id: String,
    pub create_time: DateTime<Utc>,
    /// The resource as the change left it, for resources a later change can alter; `None` for the
    /// rest, and for events written before payloads were kept.
    pub payload: Option<Payload>,
}

/// A resource as the change that made an event left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A payment with its allocations at the time (an import may take them back later).
    Payment(StoredPayment),
    /// A plan with its agreement and the payments it was tracked against at the time.
    Plan(Box<StoredPlan>),
}

/// Tells watchers in this process that events were committed: by this process's writers at once,
/// by other processes (another replica) through `Store::follow_feed`'s one poll for all watchers.
#[derive(Clone)]
pub(crate) struct Feed(std::sync::Arc<watch::Sender<u64>>);

impl Feed {
    pub(crate) fn new() -> Feed {
        Feed(std::sync::Arc::new(watch::channel(0).0))
    }

    /// Called after a commit that wrote events.
    pub(crate) fn committed(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Events after `$1`, at most `$2`, of the `types` types bound from `$3` on (any type when none),
/// with what their account contributes (its reference, and the currency and time zone a payload is
/// read in).
pub(crate) fn after_sql(types: usize, one_account: bool) -> String {
    let mut filter = if types == 0 {
        String::new()
    } else {
        let list: Vec<String> = (0..types).map(|i| format!("${}", i + 3)).collect();
        format!("AND e.event_type IN ({})", list.join(", "))
    };
    if one_account {
        // Walks `events_account (account_id, id)`: one account's events, never the whole feed.
        filter.push_str(&format!(" AND e.account_id = ${}", types + 3));
    }
    format!(
        "SELECT e.id, e.event_type, e.account_id, e.resource, e.actor, e.request_id, \
         e.create_time, e.payload, a.external_ref, a.currency_code, a.time_zone \
         FROM events e JOIN accounts a ON a.id = e.account_id \
         WHERE e.id > $1 {filter} ORDER BY e.id LIMIT $2"
    )
}

/// An event's payload, read as its type keeps it.
fn payload(
    event_type: &str,
    text: Option<&str>,
    account_id: i64,
    currency: &str,
    time_zone: &str,
) -> Result<Option<Payload>, StoreError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let cur = crate::rows::currency(currency)?;
    Ok(match event_type {
        "payment_recorded" => Some(Payload::Payment(view::payment_payload(
            text, account_id, cur,
        )?)),
        "plan_changed" => {
            let tz = chrono_tz::Tz::from_str(time_zone)
                .map_err(|_| StoreError::Corrupt(format!("time zone '{time_zone}'")))?;
            Some(Payload::Plan(Box::new(view::plan_payload(
                text, account_id, cur, tz,
            )?)))
        }
        _ => None,
    })
}

/// The feed's head: the latest event's position (the primary key's last entry), 0 when empty.
pub(crate) const LAST_EVENT_SQL: &str = "SELECT COALESCE(MAX(id), 0) FROM events";

impl Store {
    /// The position of the latest committed event (0 when there is none). Every event up to it is
    /// committed (event ids are handed out in commit order), so a reader that has read past it
    /// has missed nothing before it.
    pub async fn last_event_id(&self) -> Result<i64, StoreError> {
        Ok(with_reader!(&self.backend, |pool, pg| {
            sqlx::query_scalar::<_, i64>(LAST_EVENT_SQL)
                .fetch_one(pool)
                .await?
        }))
    }

    /// Up to `limit` events after position `after`, oldest first; only `types` when not empty,
    /// and only `account`'s when set.
    pub async fn events_after(
        &self,
        after: i64,
        types: &[&str],
        account: Option<i64>,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = after_sql(types.len(), account.is_some());
        let rows = with_reader!(&self.backend, |pool, pg| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(after)
                .bind(limit);
            for t in types {
                q = q.bind(*t);
            }
            if let Some(id) = account {
                q = q.bind(id);
            }
            q.fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    let (event_type, account_id) = (r.text("event_type")?, r.int("account_id")?);
                    Ok(StoredEvent {
                        id: r.int("id")?,
                        payload: payload(
                            &event_type,
                            r.opt_text("payload")?.as_deref(),
                            account_id,
                            &r.text("currency_code")?,
                            &r.text("time_zone")?,
                        )?,
                        event_type,
                        account_id,
                        external_ref: r.text("external_ref")?,
                        resource: r.text("resource")?,
                        actor: r.text("actor")?,
                        request_id: r.text("request_id")?,
                        create_time: r.time("create_time")?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?
        });
        Ok(rows)
    }

    /// Wakes this process's watchers when the feed's head moves for a reason they were not told of
    /// (another replica committed): one read of the head every `every` while anyone watches, for
    /// all of them, so an idle watcher costs no query of its own.
    pub async fn follow_feed(&self, every: std::time::Duration) {
        let mut seen = None;
        loop {
            tokio::time::sleep(every).await;
            if self.feed.0.receiver_count() == 0 {
                seen = None;
                continue;
            }
            match self.last_event_id().await {
                // A first reading wakes too: a watcher may have read before those events.
                Ok(head) if seen != Some(head) => {
                    self.feed.committed();
                    seen = Some(head);
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "reading the feed's head failed"),
            }
        }
    }

    /// Changes whenever this process commits events.
    pub fn watch_events(&self) -> watch::Receiver<u64> {
        self.feed.0.subscribe()
    }
}
