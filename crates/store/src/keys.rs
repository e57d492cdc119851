//! API keys: stored by public id with a digest of the secret, never the secret itself.

use chrono::{DateTime, Utc};

use crate::rows::RowExt;
use crate::{Store, StoreError, store_time, with_reader, with_writer};

/// A stored key (without any secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub key_id: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    pub role: String,
    pub subject: String,
    pub create_time: DateTime<Utc>,
    pub expire_time: Option<DateTime<Utc>>,
    pub revoke_time: Option<DateTime<Utc>>,
    /// The queues the key may work (FloorService, GetWorklist); `None` means every queue.
    pub queues: Option<Vec<String>>,
}

fn key(r: &impl RowExt) -> Result<StoredKey, StoreError> {
    Ok(StoredKey {
        key_id: r.text("key_id")?,
        secret_hash: r.text("secret_hash")?,
        role: r.text("role")?,
        subject: r.text("subject")?,
        create_time: r.time("create_time")?,
        expire_time: r.opt_time("expire_time")?,
        revoke_time: r.opt_time("revoke_time")?,
        queues: r
            .opt_text("queues")?
            .map(|q| serde_json::from_str(&q))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("key queues: {e}")))?,
    })
}

const KEY_COLUMNS: &str = "SELECT key_id, secret_hash, role, subject, create_time, expire_time, revoke_time, queues FROM api_keys";

impl Store {
    pub async fn create_key(&self, k: &StoredKey) -> Result<(), StoreError> {
        with_writer!(&self.backend, |pool, pg| {
            sqlx::query(
                "INSERT INTO api_keys (key_id, secret_hash, role, subject, create_time, expire_time, revoke_time, queues) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)",
            )
            .bind(&k.key_id)
            .bind(&k.secret_hash)
            .bind(&k.role)
            .bind(&k.subject)
            .bind(store_time(k.create_time))
            .bind(k.expire_time.map(store_time))
            .bind(
                k.queues
                    .as_ref()
                    .map(|q| serde_json::to_string(q).expect("strings serialise")),
            )
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn find_key(&self, key_id: &str) -> Result<Option<StoredKey>, StoreError> {
        with_reader!(&self.backend, |pool, pg| {
            let mut q = sqlx::QueryBuilder::new(KEY_COLUMNS);
            q.push(" WHERE key_id = ").push_bind(key_id.to_owned());
            q.build()
                .fetch_optional(pool)
                .await?
                .map(|r| key(&r))
                .transpose()
        })
    }

    /// Every key, newest first.
    pub async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        with_reader!(&self.backend, |pool, pg| {
            let mut q = sqlx::QueryBuilder::new(KEY_COLUMNS);
            q.push(" ORDER BY create_time DESC, key_id");
            q.build().fetch_all(pool).await?.iter().map(key).collect()
        })
    }

    /// Revokes a key; false when no such key is active.
    pub async fn revoke_key(&self, key_id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let n = with_writer!(&self.backend, |pool, pg| {
            sqlx::query(
                "UPDATE api_keys SET revoke_time = $2 WHERE key_id = $1 AND revoke_time IS NULL",
            )
            .bind(key_id)
            .bind(store_time(now))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Revokes every active key of a subject (e.g. the previous demo keys); returns how many.
    pub async fn revoke_subject_keys(
        &self,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(with_writer!(&self.backend, |pool, pg| {
            sqlx::query(
                "UPDATE api_keys SET revoke_time = $2 WHERE subject = $1 AND revoke_time IS NULL",
            )
            .bind(subject)
            .bind(store_time(now))
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }
}
