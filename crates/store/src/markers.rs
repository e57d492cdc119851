//! One-off markers, e.g. "the demo book was loaded".

use chrono::{DateTime, Utc};

use crate::{Store, StoreError, store_time, with_writer};

impl Store {
    /// Sets the marker `name`; true if this call set it, false if it was already set.
    pub async fn set_marker_once(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = with_writer!(self, |pool, pg| {
            sqlx::query("INSERT INTO markers (name, create_time) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(store_time(now))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// Removes a marker, e.g. when the work it records failed half way.
    pub async fn clear_marker(&self, name: &str) -> Result<(), StoreError> {
        with_writer!(self, |pool, pg| {
            sqlx::query("DELETE FROM markers WHERE name = $1")
                .bind(name)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
