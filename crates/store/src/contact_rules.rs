//! What the contact rules read inside a write transaction: the account as the transaction sees
//! it (`held_account!`) and its contact status at an instant against every call committed before
//! (`contact_status!`). Recording a call judges its breaches with them; a claim is refused by them.

use std::sync::LazyLock;

use recoup_domain::Currency;
use recoup_domain::account::AccountStatus;

use crate::StoreError;
use crate::rows::RowExt;

/// The account as a write transaction reads it.
pub(crate) struct Held {
    pub time_zone: chrono_tz::Tz,
    pub currency: Currency,
    pub status: AccountStatus,
    pub cease_calls: bool,
    /// (number, outstanding in minor units, disputed)
    pub invoices: Vec<(String, i64, bool)>,
}

/// The statement reading account `$1` (`a`) with its invoices (as one JSON column), held for the
/// transaction when `lock` (PostgreSQL's row lock; SQLite's write lock holds it anyway): one round
/// trip, since a batch of calls makes one per call. `extra` adds columns, `join` joins tables.
pub(crate) fn held_sql(pg: bool, lock: bool, extra: &str, join: &str) -> String {
    let (invoices, lock) = if pg {
        (
            "COALESCE((SELECT json_agg(json_build_array(i.number, i.outstanding_minor, \
             i.disputed)) FROM invoices i WHERE i.account_id = a.id), '[]'::json)::text",
            if lock { " FOR UPDATE OF a" } else { "" },
        )
    } else {
        (
            "(SELECT json_group_array(json_array(i.number, i.outstanding_minor, \
             CASE WHEN i.disputed THEN json('true') ELSE json('false') END)) \
             FROM invoices i WHERE i.account_id = a.id)",
            "",
        )
    };
    format!(
        "SELECT a.time_zone, a.currency_code, a.status, a.cease_calls, {invoices} AS invoices\
         {extra} FROM accounts a{join} WHERE a.id = $1{lock}"
    )
}

impl Held {
    /// The account's columns of a row `held_sql` read.
    pub(crate) fn from_row<R: RowExt>(r: &R) -> Result<Held, StoreError> {
        let tz = r.text("time_zone")?;
        let status = r.text("status")?;
        let invoices = r.text("invoices")?;
        Ok(Held {
            time_zone: tz
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("time zone '{tz}'")))?,
            currency: crate::rows::currency(&r.text("currency_code")?)?,
            status: AccountStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("account status '{status}'")))?,
            cease_calls: r.flag("cease_calls")?,
            invoices: serde_json::from_str(&invoices)
                .map_err(|e| StoreError::Corrupt(format!("held invoices: {e}")))?,
        })
    }
}

/// `held_sql` without a row lock, built once per backend.
pub(crate) static HELD_SQL: LazyLock<[String; 2]> =
    LazyLock::new(|| [false, true].map(|pg| held_sql(pg, false, "", "")));

/// Account `$account_id` with its invoices (`HELD_SQL`), read in the transaction without a row
/// lock; `NotFound` without it.
macro_rules! held_account {
    ($tx:expr, $pg:expr, $account_id:expr) => {{
        let sql: &str = &$crate::contact_rules::HELD_SQL[usize::from($pg)];
        match sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind($account_id)
            .fetch_optional(&mut *$tx)
            .await?
        {
            Some(r) => $crate::contact_rules::Held::from_row(&r)?,
            None => return Err($crate::StoreError::NotFound),
        }
    }};
}
pub(crate) use held_account;

/// The contact status of account `$account_id` (`$held`) at `$at` under `$policy` (a `Policy`):
/// against the current outbound calls before it, a callback asked for, and a plan on track.
macro_rules! contact_status {
    ($tx:expr, $pg:expr, $account_id:expr, $held:expr, $policy:expr, $at:expr) => {{
        let (held, at): (&$crate::contact_rules::Held, chrono::DateTime<chrono::Utc>) =
            ($held, $at);
        let policy: &recoup_domain::policy::Policy = $policy;
        let sql = format!(
            "SELECT start_time FROM calls c WHERE c.account_id = $1 \
             AND c.direction = 'outbound' AND {} \
             ORDER BY c.start_time DESC, c.id DESC LIMIT {}",
            $crate::calls::CURRENT,
            $crate::calls::RULE_HISTORY
        );
        let outbound: Vec<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind($account_id)
                .fetch_all(&mut *$tx)
                .await?;
        let sql = format!(
            "SELECT callback_time FROM calls c WHERE c.account_id = $1 \
             AND c.start_time < $2 AND {} \
             ORDER BY c.start_time DESC, c.id DESC LIMIT 1",
            $crate::calls::CURRENT
        );
        let q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind($account_id);
        let q = if $pg {
            q.bind(at)
        } else {
            q.bind($crate::calls::sqlite_time(at))
        };
        let callback: Option<Option<chrono::DateTime<chrono::Utc>>> =
            q.fetch_optional(&mut *$tx).await?;
        let quiet = $crate::plans::active_plan_quiet!(
            $tx,
            $account_id,
            held.currency,
            at.with_timezone(&held.time_zone).date_naive(),
            &policy.plans
        );
        let facts = recoup_domain::contact::ContactFacts::new(
            held.status,
            held.cease_calls,
            held.time_zone,
            held.invoices.iter().map(|(_, o, d)| {
                (
                    recoup_domain::Money::from_minor(*o, held.currency).amount(),
                    *d,
                )
            }),
        )
        .with_plan_quiet_until(quiet);
        let history = recoup_domain::contact::CallHistory {
            outbound: &outbound,
            callback: callback.flatten(),
        };
        recoup_domain::contact::contact_status(&facts, &history, &policy.contact, at)
    }};
}
pub(crate) use contact_status;
