//! One-off markers, e.g. "the demo book was loaded".

use chrono::{DateTime, Utc};

use crate::{Store, StoreError, store_time, with_reader, with_writer};

impl Store {
    /// Sets the marker `name`; true if this call set it, false if it was already set.
    pub async fn set_marker_once(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = with_writer!(&self.backend, |pool, pg| {
            sqlx::query("INSERT INTO markers (name, create_time) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(store_time(now))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// Whether the marker `name` is set.
    pub async fn has_marker(&self, name: &str) -> Result<bool, StoreError> {
        let found: Option<String> = with_reader!(&self.backend, |pool, pg| {
            sqlx::query_scalar("SELECT name FROM markers WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }
}
