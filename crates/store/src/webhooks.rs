//! Webhook endpoints (migration 0019): where each is in the change feed, its failing event's tries,
//! and the events it gave up on. The delivery itself (HTTP, signatures, backoff) is the server's;
//! every write here is one statement, so a crash between two leaves nothing inconsistent: an event
//! is dead-lettered before the position passes it, and a repeated dead letter is kept once.

use chrono::{DateTime, Utc};

use crate::events::LAST_EVENT_SQL;
use crate::rows::RowExt;
use crate::{Store, StoreError, store_time, with_reader, with_writer};

/// An endpoint as registered, with where it is in the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredWebhook {
    pub id: i64,
    pub url: String,
    /// Stored event type names (`payment_recorded`); empty means every type.
    pub event_types: Vec<String>,
    /// The HMAC key its deliveries are signed with.
    pub secret: String,
    /// The last event handled: delivered, dead-lettered, or before the endpoint was registered.
    pub position: i64,
    /// Failed tries of the next event.
    pub attempts: u32,
    /// When the next try is due (None: at once).
    pub retry_time: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_by: String,
    pub create_time: DateTime<Utc>,
}

/// An event an endpoint gave up on after its last try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub event_id: i64,
    pub attempts: u32,
    pub last_error: String,
    pub dead_time: DateTime<Utc>,
}

const COLUMNS: &str = "SELECT id, url, event_types, secret, position, attempts, retry_time, \
     last_error, created_by, create_time FROM webhooks";

fn webhook(r: &impl RowExt) -> Result<StoredWebhook, StoreError> {
    let types = r.text("event_types")?;
    Ok(StoredWebhook {
        id: r.int("id")?,
        url: r.text("url")?,
        event_types: types
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        secret: r.text("secret")?,
        position: r.int("position")?,
        attempts: u32::try_from(r.int("attempts")?).unwrap_or(u32::MAX),
        retry_time: r.opt_time("retry_time")?,
        last_error: r.opt_text("last_error")?,
        created_by: r.text("created_by")?,
        create_time: r.time("create_time")?,
    })
}

impl Store {
    /// Registers an endpoint for `event_types` (stored names; empty: every type), starting after
    /// the feed's newest event: it is sent what happens from now on.
    pub async fn add_webhook(
        &self,
        url: &str,
        event_types: &[String],
        secret: &str,
        created_by: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredWebhook, StoreError> {
        let id: i64 = with_writer!(&self.backend, |pool, pg| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "INSERT INTO webhooks (url, event_types, secret, position, created_by, \
                 create_time) VALUES ($1, $2, $3, ({LAST_EVENT_SQL}), $4, $5) RETURNING id"
            )))
            .bind(url)
            .bind(event_types.join(","))
            .bind(secret)
            .bind(created_by)
            .bind(store_time(now))
            .fetch_one(pool)
            .await?
        });
        self.webhook(id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a webhook just added is gone".into()))
    }

    pub async fn webhook(&self, id: i64) -> Result<Option<StoredWebhook>, StoreError> {
        with_reader!(&self.backend, |pool, pg| {
            sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
                .map(|r| webhook(&r))
                .transpose()
        })
    }

    /// Every endpoint, oldest first.
    pub async fn webhooks(&self) -> Result<Vec<StoredWebhook>, StoreError> {
        with_reader!(&self.backend, |pool, pg| {
            sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} ORDER BY id")))
                .fetch_all(pool)
                .await?
                .iter()
                .map(webhook)
                .collect()
        })
    }

    /// Removes an endpoint and its dead letters; false when there is no such endpoint.
    pub async fn remove_webhook(&self, id: i64) -> Result<bool, StoreError> {
        let n = with_writer!(&self.backend, |pool, pg| {
            sqlx::query("DELETE FROM webhook_dead_letters WHERE webhook_id = $1")
                .bind(id)
                .execute(pool)
                .await?;
            sqlx::query("DELETE FROM webhooks WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Holds endpoint `id` for delivery until `until`, unless another server holds it now; true
    /// when this caller holds it.
    pub async fn lease_webhook(
        &self,
        id: i64,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = with_writer!(&self.backend, |pool, pg| {
            sqlx::query(
                "UPDATE webhooks SET lease_until = $3 \
                 WHERE id = $1 AND (lease_until IS NULL OR lease_until < $2)",
            )
            .bind(id)
            .bind(store_time(now))
            .bind(store_time(until))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Lets other servers deliver to endpoint `id` again.
    pub async fn release_webhook(&self, id: i64) -> Result<(), StoreError> {
        with_writer!(&self.backend, |pool, pg| {
            sqlx::query("UPDATE webhooks SET lease_until = NULL WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Endpoint `id` is past event `event_id` (delivered, or dead-lettered just before): the next
    /// event starts with no failed tries.
    pub async fn webhook_passed(&self, id: i64, event_id: i64) -> Result<(), StoreError> {
        with_writer!(&self.backend, |pool, pg| {
            sqlx::query(
                "UPDATE webhooks SET position = $2, attempts = 0, retry_time = NULL, \
                 last_error = NULL WHERE id = $1 AND position < $2",
            )
            .bind(id)
            .bind(event_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// A try of endpoint `id`'s next event failed with `error`; the next is due at `retry_time`.
    pub async fn webhook_failed(
        &self,
        id: i64,
        attempts: u32,
        error: &str,
        retry_time: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        with_writer!(&self.backend, |pool, pg| {
            sqlx::query(
                "UPDATE webhooks SET attempts = $2, last_error = $3, retry_time = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(i64::from(attempts))
            .bind(error)
            .bind(store_time(retry_time))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Endpoint `id` gave up on event `event_id` after `attempts` tries (then `webhook_passed`).
    pub async fn webhook_dead_letter(
        &self,
        id: i64,
        event_id: i64,
        attempts: u32,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        with_writer!(&self.backend, |pool, pg| {
            sqlx::query(
                "INSERT INTO webhook_dead_letters (webhook_id, event_id, attempts, last_error, \
                 dead_time) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(event_id)
            .bind(i64::from(attempts))
            .bind(error)
            .bind(store_time(now))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The events endpoint `id` gave up on, newest first, at most `limit`.
    pub async fn dead_letters(&self, id: i64, limit: i64) -> Result<Vec<DeadLetter>, StoreError> {
        with_reader!(&self.backend, |pool, pg| {
            sqlx::query(
                "SELECT event_id, attempts, last_error, dead_time FROM webhook_dead_letters \
                 WHERE webhook_id = $1 ORDER BY event_id DESC LIMIT $2",
            )
            .bind(id)
            .bind(limit)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok(DeadLetter {
                    event_id: r.int("event_id")?,
                    attempts: u32::try_from(r.int("attempts")?).unwrap_or(u32::MAX),
                    last_error: r.text("last_error")?,
                    dead_time: r.time("dead_time")?,
                })
            })
            .collect()
        })
    }
}
