//! One invoice read on its own (GetInvoice): paid or not, which the account view (open invoices
//! only) does not hold. Its row is the view's (`view::invoice_row`), so both read it alike.

use std::str::FromStr;

use chrono_tz::Tz;

use crate::model::StoredInvoice;
use crate::rows::{RowExt, currency};
use crate::{Store, StoreError, view, with_reader};

/// An invoice as it stands, with what its reader needs to judge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRead {
    pub invoice: StoredInvoice,
    /// The debtor's time zone: days overdue are counted on the debtor's calendar.
    pub time_zone: Tz,
    /// The open dispute pausing it, if any.
    pub open_dispute: Option<i64>,
}

/// Invoices read with what their reader needs, `$filter` choosing them: the row (NULL where the
/// account has none, for the LEFT JOIN of an account's list), the account's currency and zone, and
/// the open dispute pausing each.
pub(crate) fn read_sql(pg: bool, filter: &str) -> String {
    let cast = if pg { "::text" } else { "" };
    format!(
        "SELECT (CASE WHEN i.id IS NULL THEN NULL ELSE ({}) END){cast} AS row, \
         a.currency_code, a.time_zone, \
         (SELECT d.id FROM dispute_invoices di JOIN disputes d ON d.id = di.dispute_id \
          WHERE di.invoice_id = i.id AND d.state = 'open') AS open_dispute {filter}",
        view::invoice_row(pg)
    )
}

/// One invoice of `read_sql`'s rows; None for an account's row without invoices.
fn read_row(r: &impl RowExt, account_id: i64) -> Result<Option<InvoiceRead>, StoreError> {
    let Some(row) = r.opt_text("row")? else {
        return Ok(None);
    };
    let zone = r.text("time_zone")?;
    Ok(Some(InvoiceRead {
        invoice: view::invoice_payload(&row, account_id, currency(&r.text("currency_code")?)?)?,
        time_zone: Tz::from_str(&zone)
            .map_err(|_| StoreError::Corrupt(format!("time zone '{zone}'")))?,
        open_dispute: r.opt_int("open_dispute")?,
    }))
}

/// `read_sql`'s filter for one invoice (`$1`) of one account (`$2`).
pub(crate) const ONE: &str = "FROM invoices i JOIN accounts a ON a.id = i.account_id \
     WHERE i.id = $1 AND i.account_id = $2";

/// `read_sql`'s filter for every invoice of account `$1`, oldest due first (one row without
/// invoices when the account has none, none without the account).
pub(crate) const OF_ACCOUNT: &str = "FROM accounts a LEFT JOIN invoices i ON i.account_id = a.id \
     WHERE a.id = $1 ORDER BY i.due_date, i.id";

impl Store {
    /// Invoice `invoice_id` of account `account_id`, or None when the account has no such invoice.
    pub async fn get_invoice(
        &self,
        account_id: i64,
        invoice_id: i64,
    ) -> Result<Option<InvoiceRead>, StoreError> {
        with_reader!(&self.backend, |pool, pg| {
            let r = sqlx::query(sqlx::AssertSqlSafe(read_sql(pg, ONE)))
                .bind(invoice_id)
                .bind(account_id)
                .fetch_optional(pool)
                .await?;
            match r {
                Some(r) => read_row(&r, account_id),
                None => Ok(None),
            }
        })
    }

    /// Every invoice of account `account_id`, paid or not, oldest due first; None without the
    /// account.
    pub async fn account_invoices(
        &self,
        account_id: i64,
    ) -> Result<Option<Vec<InvoiceRead>>, StoreError> {
        with_reader!(&self.backend, |pool, pg| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(read_sql(pg, OF_ACCOUNT)))
                .bind(account_id)
                .fetch_all(pool)
                .await?;
            if rows.is_empty() {
                return Ok(None);
            }
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.extend(read_row(r, account_id)?);
            }
            Ok(Some(out))
        })
    }
}
