//! Reading accounts: one account, or a filtered page. Each account comes back as its stored view
//! (`view`), so GetAccount reads one row and a page is one query for all its accounts (plus, for
//! the overdue filters, one index-only query for the time zones in use).

use std::sync::LazyLock;

use chrono::{DateTime, Days, NaiveDate, Utc};
use recoup_domain::ageing::local_today;

use crate::model::{AccountKey, AccountSnapshot, ListFilter};
use crate::{Store, StoreError, view, with_reader};

/// GetAccount's SQL by (PostgreSQL, by external ref): built once, so every call runs an
/// already-prepared statement. One indexed row: the stored view (built on the spot if missing).
static GET_SQL: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut all = Vec::with_capacity(4);
    for pg in [false, true] {
        for column in ["a.id", "a.external_ref"] {
            all.push(format!(
                "SELECT {} FROM accounts a WHERE {column} = $1",
                view::stored_or_built(pg)
            ));
        }
    }
    all
});

pub(crate) fn get_sql(pg: bool, by_ref: bool) -> &'static str {
    &GET_SQL[usize::from(pg) * 2 + usize::from(by_ref)]
}

/// BatchGetAccounts' SQL by (PostgreSQL, by external ref): GetAccount's read for every account
/// whose id (or external ref) is in the JSON array `$1`, one indexed probe each.
static BATCH_SQL: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut all = Vec::with_capacity(4);
    for pg in [false, true] {
        let ids = crate::sets::ids(pg, 1);
        let refs = format!(
            "SELECT {} FROM {}",
            crate::sets::scalar(pg),
            crate::sets::rows(pg, 1)
        );
        for (column, set) in [("a.id", &ids), ("a.external_ref", &refs)] {
            all.push(format!(
                "SELECT {} FROM accounts a WHERE {column} IN ({set})",
                view::stored_or_built(pg)
            ));
        }
    }
    all
});

pub(crate) fn batch_sql(pg: bool, by_ref: bool) -> &'static str {
    &BATCH_SQL[usize::from(pg) * 2 + usize::from(by_ref)]
}

/// The distinct time zones of all accounts, read as a loose scan of the `accounts_time_zone` index
/// (one probe per zone, not one row per account).
pub(crate) const ZONES_SQL: &str = "WITH RECURSIVE z(tz) AS ( \
     SELECT MIN(time_zone) FROM accounts \
     UNION ALL SELECT (SELECT MIN(time_zone) FROM accounts WHERE time_zone > z.tz) FROM z \
     WHERE z.tz IS NOT NULL) \
     SELECT tz FROM z WHERE tz IS NOT NULL";

/// ListAccounts' SQL for `filter`, with `zones` (time zone, local today, cutoff date) rows bound
/// first when an overdue filter is set; then the id to continue after, the status, the currency and
/// minimum amount (each when filtered), and the limit. Accounts are walked in id order on the
/// primary key; the overdue conditions probe each account's invoices on `invoices_open`.
pub(crate) fn list_sql(pg: bool, filter: &ListFilter, zones: usize) -> String {
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    let mut sql = String::new();
    if zones > 0 {
        let values: Vec<String> = (0..zones)
            .map(|_| format!("({}, {}, {})", next(), next(), next()))
            .collect();
        sql.push_str(&format!(
            "WITH local_dates (tz, today, cutoff) AS (VALUES {}) ",
            values.join(", ")
        ));
    }
    sql.push_str(&format!(
        "SELECT {} FROM accounts a WHERE a.id > {}",
        view::stored_or_built(pg),
        next()
    ));
    if filter.status.is_some() {
        sql.push_str(&format!(" AND a.status = {}", next()));
    }
    if filter.min_days_overdue > 0 {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM invoices i JOIN local_dates d ON d.tz = a.time_zone \
             WHERE i.account_id = a.id AND i.outstanding_minor > 0 AND NOT i.disputed \
             AND i.due_date <= d.cutoff)",
        );
    }
    if filter.min_overdue.is_some() {
        sql.push_str(&format!(
            " AND a.currency_code = {} AND (SELECT COALESCE(SUM(i.outstanding_minor), 0) \
             FROM invoices i JOIN local_dates d ON d.tz = a.time_zone WHERE i.account_id = a.id \
             AND i.outstanding_minor > 0 AND NOT i.disputed AND i.due_date < d.today) >= {}",
            next(),
            next()
        ));
    }
    sql.push_str(&format!(" ORDER BY a.id LIMIT {}", next()));
    sql
}

impl Store {
    /// Whether account `account_id` exists (for lists: an empty page of one that does not is
    /// NOT_FOUND).
    pub(crate) async fn account_exists(&self, account_id: i64) -> Result<bool, StoreError> {
        let found: Option<i64> = with_reader!(&self.backend, |pool, pg| {
            sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }

    /// One account: profile, contacts, open invoices with their adjustments, recent payments. One
    /// query reading one row.
    pub async fn get_account(
        &self,
        key: AccountKey<'_>,
    ) -> Result<Option<AccountSnapshot>, StoreError> {
        let text: Option<String> = with_reader!(&self.backend, |pool, pg| {
            match key {
                AccountKey::Id(id) => {
                    sqlx::query_scalar(sqlx::AssertSqlSafe(get_sql(pg, false)))
                        .bind(id)
                        .fetch_optional(pool)
                        .await?
                }
                AccountKey::ExternalRef(r) => {
                    sqlx::query_scalar(sqlx::AssertSqlSafe(get_sql(pg, true)))
                        .bind(r)
                        .fetch_optional(pool)
                        .await?
                }
            }
        });
        text.as_deref().map(view::decode).transpose()
    }

    /// The accounts these keys name, as GetAccount reads each: one query per kind of key. Those
    /// that exist, in no particular order.
    pub async fn get_accounts(
        &self,
        keys: &[AccountKey<'_>],
    ) -> Result<Vec<AccountSnapshot>, StoreError> {
        let mut ids = Vec::new();
        let mut refs = Vec::new();
        for key in keys {
            match key {
                AccountKey::Id(id) => ids.push(*id),
                AccountKey::ExternalRef(r) => refs.push(*r),
            }
        }
        let sets = [
            (false, (!ids.is_empty()).then(|| serde_json::json!(ids))),
            (true, (!refs.is_empty()).then(|| serde_json::json!(refs))),
        ];
        let mut texts: Vec<String> = Vec::new();
        for (by_ref, set) in sets {
            let Some(set) = set else { continue };
            texts.extend(with_reader!(&self.backend, |pool, pg| {
                sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(batch_sql(pg, by_ref)))
                    .bind(set.to_string())
                    .fetch_all(pool)
                    .await?
            }));
        }
        texts.iter().map(|t| view::decode(t)).collect()
    }

    /// A page of accounts after `after_id` in id order, at most `limit`, each as GetAccount reads it.
    pub async fn list_accounts(
        &self,
        filter: &ListFilter,
        after_id: i64,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<AccountSnapshot>, StoreError> {
        let by_overdue = filter.min_days_overdue > 0 || filter.min_overdue.is_some();
        // "Today" differs by time zone, so the day and amount filters compare each account's
        // invoices with that account's own local date, bound per distinct zone.
        let zones: Vec<(String, NaiveDate, NaiveDate)> = if by_overdue {
            let names: Vec<String> = with_reader!(&self.backend, |pool, pg| {
                sqlx::query_scalar(ZONES_SQL).fetch_all(pool).await?
            });
            let mut zones = Vec::with_capacity(names.len());
            for name in names {
                let tz: chrono_tz::Tz = name
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("time zone '{name}'")))?;
                let today = local_today(tz, now);
                let cutoff = today
                    .checked_sub_days(Days::new(u64::from(filter.min_days_overdue)))
                    .unwrap_or(NaiveDate::MIN);
                zones.push((name, today, cutoff));
            }
            if zones.is_empty() {
                return Ok(Vec::new());
            }
            zones
        } else {
            Vec::new()
        };
        let texts: Vec<String> = with_reader!(&self.backend, |pool, pg| {
            let sql = list_sql(pg, filter, zones.len());
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
            for (tz, today, cutoff) in &zones {
                q = q.bind(tz.as_str()).bind(*today).bind(*cutoff);
            }
            q = q.bind(after_id);
            if let Some(status) = filter.status {
                q = q.bind(status.as_str());
            }
            if let Some(min) = filter.min_overdue {
                q = q.bind(min.currency().code()).bind(crate::minor(min)?);
            }
            q.bind(i64::from(limit)).fetch_all(pool).await?
        });
        texts.iter().map(|t| view::decode(t)).collect()
    }
}
