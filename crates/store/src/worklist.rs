//! The stored worklist (migration 0012): one entry per account, computed by recoupd from the
//! account's view (`recoup_domain::worklist`) and saved only if the view is still the one it was
//! computed from. Listing is one query on the partial index `worklist_rank` that reads nothing but
//! the worklist (and the live claim): each entry carries what a listing shows of its account.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::rows::RowExt;
use crate::sets::{int, rows, text, time};
use crate::{Store, StoreError, with_reader, with_writer};

/// An entry to compute: the account and the version of its view the entry will be computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueEntry {
    pub account_id: i64,
    pub version: i64,
}

/// A computed entry: its place (score, reasons and the window the rules allow the call in), or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputedEntry {
    pub due: DueEntry,
    pub place: Option<Place>,
    /// When to compute it again.
    pub next_check: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub score: i64,
    pub reasons: Vec<String>,
    pub callable_from: DateTime<Utc>,
    pub callable_until: DateTime<Utc>,
    /// What a listing shows of the account, computed from the same version of its view (opaque
    /// here: the server's encoding of it; migration 0022).
    pub summary: String,
}

/// An entry as listed, with what it shows of its account and the live claim on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEntry {
    pub account_id: i64,
    /// `Place::summary` as saved (migration 0022 had every older entry computed again).
    pub summary: String,
    pub score: i64,
    pub reasons: Vec<String>,
    pub claim: Option<recoup_domain::floor::Claim>,
}

/// Worklist times on SQLite: the fixed-width RFC 3339 text calls and claims use too, so the
/// listing compares them with each other as text.
use crate::calls::sqlite_time as stamp;

/// The condition limiting the worklist `w` to `count` queues bound as `$n` (one queue as its name,
/// several as a JSON array: `queue_param`); none without `count`.
pub(crate) fn queue_filter(pg: bool, n: usize, count: Option<usize>) -> String {
    match count {
        None => String::new(),
        Some(1) => format!("AND w.queue = ${n}"),
        Some(_) if pg => {
            format!("AND w.queue IN (SELECT jsonb_array_elements_text(CAST(${n} AS jsonb)))")
        }
        Some(_) => format!("AND w.queue IN (SELECT r.value FROM jsonb_each(${n}) AS r)"),
    }
}

/// What `queue_filter` binds for `queues`.
pub(crate) fn queue_param(queues: &[String]) -> String {
    match queues {
        [one] => one.clone(),
        many => serde_json::to_string(many).expect("strings serialise"),
    }
}

/// Stale entries (their account changed), at most `$1`.
pub(crate) const STALE_SQL: &str =
    "SELECT account_id, version FROM worklist WHERE stale ORDER BY account_id LIMIT $1";
/// Computed entries whose `next_check` (`<= $1`) has come, at most `$2`.
pub(crate) const DUE_SQL: &str = "SELECT account_id, version FROM worklist \
     WHERE NOT stale AND next_check <= $1 ORDER BY next_check LIMIT $2";

impl Store {
    /// Entries to compute now, at most `limit`: stale ones first (the account changed), then those
    /// whose `next_check` has come.
    pub async fn worklist_due(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueEntry>, StoreError> {
        let rows: Vec<(i64, i64)> = with_reader!(&self.backend, |pool, pg| {
            let mut due: Vec<(i64, i64)> = sqlx::query_as(STALE_SQL)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            let left = limit - due.len() as i64;
            if left > 0 {
                let q = sqlx::query_as::<_, (i64, i64)>(DUE_SQL);
                let q = if pg { q.bind(now) } else { q.bind(stamp(now)) };
                due.extend(q.bind(left).fetch_all(pool).await?);
            }
            due
        });
        Ok(rows
            .into_iter()
            .map(|(account_id, version)| DueEntry {
                account_id,
                version,
            })
            .collect())
    }

    /// How many entries are stale (their account changed and they are not computed again yet).
    pub async fn worklist_stale_count(&self) -> Result<i64, StoreError> {
        Ok(with_reader!(&self.backend, |pool, pg| {
            sqlx::query_scalar("SELECT COUNT(*) FROM worklist WHERE stale")
                .fetch_one(pool)
                .await?
        }))
    }

    /// Saves computed entries, each only if its account's view has not changed since it was read
    /// (a changed one stays stale and is computed again). Returns how many were saved.
    pub async fn save_worklist(&self, entries: &[ComputedEntry]) -> Result<u64, StoreError> {
        if entries.is_empty() {
            return Ok(0);
        }
        let data: Vec<Value> = entries
            .iter()
            .map(|e| {
                let p = e.place.as_ref();
                json!([
                    e.due.account_id,
                    e.due.version,
                    p.map(|p| p.score),
                    p.map(|p| stamp(p.callable_from)),
                    p.map(|p| stamp(p.callable_until)),
                    p.map_or_else(|| "[]".to_owned(), |p| json!(p.reasons).to_string()),
                    stamp(e.next_check),
                    p.map(|p| p.summary.as_str())
                ])
            })
            .collect();
        Ok(with_writer!(&self.backend, |pool, pg| {
            // PostgreSQL: only the rows no write holds (a write holding one is about to make it
            // stale again), locked in account order without waiting, so this statement can never
            // be one end of a deadlock; those skipped stay stale and are computed again. The
            // locked rows are a CTE joined by hash: a semi-join with the locking subquery
            // re-read it per row (1,000 entries on a 100k worklist: 198 ms against 14 ms).
            let (held, join) = if pg {
                (
                    ", held AS (SELECT w.account_id FROM worklist w \
                     JOIN d ON w.account_id = d.id AND w.version = d.version \
                     ORDER BY w.account_id FOR UPDATE OF w SKIP LOCKED)",
                    " JOIN held ON held.account_id = d.id",
                )
            } else {
                ("", "")
            };
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "WITH d AS (SELECT {} AS id, {} AS version, {} AS score, {} AS callable_from, \
                 {} AS callable_until, {} AS reasons, {} AS next_check, {} AS summary FROM {}){held} \
                 UPDATE worklist SET stale = FALSE, score = d.score, callable_from = d.callable_from, \
                 callable_until = d.callable_until, reasons = d.reasons, next_check = d.next_check, \
                 summary = d.summary \
                 FROM d{join} WHERE worklist.account_id = d.id AND worklist.version = d.version",
                int(0),
                int(1),
                int(2),
                time(pg, 3),
                time(pg, 4),
                text(5),
                time(pg, 6),
                text(7),
                rows(pg, 1)
            )))
            .bind(Value::Array(data).to_string())
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }

    /// A page of the worklist as of `now`, highest score first (then newest account), after `after`
    /// (the last entry of the previous page), at most `limit`.
    ///
    /// Plan (both backends, `EXPLAIN` in the conformance suite): a walk of the partial index
    /// `worklist_rank (score DESC, account_id DESC) WHERE NOT stale AND score IS NOT NULL` from the
    /// page's start, filtering on the call window, stopping after `limit` rows — never a scan of
    /// accounts or invoices.
    pub async fn worklist_page(
        &self,
        now: DateTime<Utc>,
        after: Option<(i64, i64)>,
        limit: i64,
        queues: Option<&[String]>,
    ) -> Result<Vec<ListedEntry>, StoreError> {
        let rows = with_reader!(&self.backend, |pool, pg| {
            let sql = page_sql(pg, after.is_some(), queues.map(<[String]>::len));
            let q = sqlx::query(sqlx::AssertSqlSafe(sql));
            let q = if pg { q.bind(now) } else { q.bind(stamp(now)) };
            let q = q.bind(limit);
            let q = match after {
                Some((score, id)) => q.bind(score).bind(id),
                None => q,
            };
            let q = match queues {
                Some(queues) => q.bind(queue_param(queues)),
                None => q,
            };
            q.fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    let reasons: Vec<String> = serde_json::from_str(&r.text("reasons")?)
                        .map_err(|e| StoreError::Corrupt(format!("worklist reasons: {e}")))?;
                    Ok(ListedEntry {
                        account_id: r.int("account_id")?,
                        summary: r.opt_text("summary")?.unwrap_or_default(),
                        score: r.int("score")?,
                        reasons,
                        claim: match r.opt_int("k_id")? {
                            Some(_) => Some(crate::claims::claim_from_row(r, "k_")?),
                            None => None,
                        },
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?
        });
        Ok(rows)
    }
}

/// The listing query, each entry with what it shows of its account and the live claim on it:
/// `$1` now, `$2` the page size, after the last entry of the previous page (`$3` score, `$4`
/// account id) when `after`, then the queue (one) or queues (a JSON array) when `queues` says how
/// many.
pub(crate) fn page_sql(pg: bool, after: bool, queues: Option<usize>) -> String {
    let (after, next) = if after {
        ("AND (w.score, w.account_id) < ($3, $4)", 5)
    } else {
        ("", 3)
    };
    let queue = queue_filter(pg, next, queues);
    let claim = crate::claims::prefixed("k");
    format!(
        "SELECT w.account_id, w.score, w.reasons, w.summary, {claim} \
         FROM worklist w \
         LEFT JOIN claims k ON k.account_id = w.account_id AND k.end_time IS NULL \
         AND k.expire_time > $1 \
         WHERE NOT w.stale AND w.score IS NOT NULL AND w.callable_from <= $1 \
         AND w.callable_until > $1 {after} {queue} \
         ORDER BY w.score DESC, w.account_id DESC LIMIT $2"
    )
}

impl Store {
    /// Whether any account is in queue `q`.
    pub async fn queue_exists(&self, q: &str) -> Result<bool, StoreError> {
        Ok(with_reader!(&self.backend, |pool, pg| {
            sqlx::query_scalar::<_, i64>("SELECT id FROM accounts WHERE queue = $1 LIMIT 1")
                .bind(q)
                .fetch_optional(pool)
                .await?
                .is_some()
        }))
    }
}
