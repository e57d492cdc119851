//! Letters (migration 0014): each one produced is kept as written (append-only), with its ledger
//! entry and `letter_rendered` event, in one transaction holding the account (`change`).

use chrono::{DateTime, Utc};

use crate::change::{Change, Event, Written, begin_change, hold_account, seen};
use crate::requests::{RequestKey, last_id};
use crate::rows::RowExt;
use crate::{Store, StoreError, retrying, store_time, with_reader, with_writer};

const METHOD: &str = "RenderLetter";

/// A letter to keep.
pub struct NewLetter<'a> {
    pub kind: &'a str,
    pub locale: &'a str,
    pub plan_id: Option<i64>,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_markdown: &'a str,
    pub fingerprint: &'a str,
}

/// A letter as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLetter {
    pub id: i64,
    pub account_id: i64,
    pub kind: String,
    pub locale: String,
    pub plan_id: Option<i64>,
    pub subject: String,
    pub body_text: String,
    pub body_markdown: String,
    pub created_by: String,
    pub create_time: DateTime<Utc>,
}

impl StoredLetter {
    pub fn name(&self) -> String {
        format!("accounts/{}/letters/{}", self.account_id, self.id)
    }
}

impl Store {
    /// The letter a request produced, if `key` was seen with the same request (`RequestIdReused`
    /// when with another).
    pub async fn replay_letter(
        &self,
        key: RequestKey<'_>,
        fingerprint: &str,
    ) -> Result<Option<StoredLetter>, StoreError> {
        self.replay(key, METHOD, fingerprint, |r| self.letter_named(r))
            .await
    }

    /// Keeps a letter produced for account `account_id`, idempotently by `key`; a retry answers
    /// with the letter first kept.
    pub async fn record_letter(
        &self,
        key: RequestKey<'_>,
        account_id: i64,
        l: &NewLetter<'_>,
        now: DateTime<Utc>,
    ) -> Result<StoredLetter, StoreError> {
        if let Some(found) = self.replay_letter(key, l.fingerprint).await? {
            return Ok(found);
        }
        let now = store_time(now);
        let written: Result<Option<String>, StoreError> = retrying!(&self.backend, async {
            Ok(with_writer!(&self.backend, |pool, pg| {
                let mut tx = begin_change!(pool, pg, &self.feed, "letter");
                hold_account!(tx, pg, account_id);
                if seen!(tx, key) {
                    return Ok(None);
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO letters (account_id, kind, locale, plan_id, subject, body_text, \
                     body_markdown, created_by, create_time) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(account_id)
                .bind(l.kind)
                .bind(l.locale)
                .bind(l.plan_id)
                .bind(l.subject)
                .bind(l.body_text)
                .bind(l.body_markdown)
                .bind(key.subject)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let resource = format!("accounts/{account_id}/letters/{id}");
                let mut change = Change::new(Event::by(
                    key,
                    now,
                    "letter_rendered",
                    account_id,
                    &resource,
                ));
                change
                    .request(key, METHOD, l.fingerprint, &resource, now)
                    .rebuild(account_id);
                tx.commit(change).await?;
                Some(resource)
            }))
        });
        self.settle(written, key, METHOD, l.fingerprint, |r| {
            self.letter_named(r)
        })
        .await
        .map(Written::into_inner)
    }

    /// The letter named by `resource` (`accounts/{a}/letters/{id}`).
    async fn letter_named(&self, resource: String) -> Result<Option<StoredLetter>, StoreError> {
        match last_id(&resource) {
            Some(id) => self.letter(id).await,
            None => Ok(None),
        }
    }

    /// Letter `id`.
    pub async fn letter(&self, id: i64) -> Result<Option<StoredLetter>, StoreError> {
        with_reader!(&self.backend, |pool, pg| {
            sqlx::query("SELECT * FROM letters WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
                .map(|r| letter_row(&r))
                .transpose()
        })
    }

    /// Account `account_id`'s letters before id `before` (all when None), newest first, at most
    /// `limit`; None when there is no such account.
    pub async fn list_letters(
        &self,
        account_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Option<Vec<StoredLetter>>, StoreError> {
        let letters = with_reader!(&self.backend, |pool, pg| {
            sqlx::query(
                "SELECT * FROM letters WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            )
            .bind(account_id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(pool)
            .await?
            .iter()
            .map(letter_row)
            .collect::<Result<Vec<_>, StoreError>>()?
        });
        if letters.is_empty() && !self.account_exists(account_id).await? {
            return Ok(None);
        }
        Ok(Some(letters))
    }
}

fn letter_row<R: RowExt>(r: &R) -> Result<StoredLetter, StoreError> {
    Ok(StoredLetter {
        id: r.int("id")?,
        account_id: r.int("account_id")?,
        kind: r.text("kind")?,
        locale: r.text("locale")?,
        plan_id: r.opt_int("plan_id")?,
        subject: r.text("subject")?,
        body_text: r.text("body_text")?,
        body_markdown: r.text("body_markdown")?,
        created_by: r.text("created_by")?,
        create_time: r.time("create_time")?,
    })
}
