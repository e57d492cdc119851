//! Reading rows back into domain types, the same way for both backends.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use recoup_domain::account::{
    AccountData, AccountStatus, Adjustment, AdjustmentKind, Contact, DebtorType, InvoiceData,
};
use recoup_domain::{Currency, Money};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::StoreError;
use crate::model::{AccountSnapshot, StoredInvoice};

/// Typed column access shared by SQLite and PostgreSQL rows.
pub(crate) trait RowExt {
    fn int(&self, col: &str) -> Result<i64, StoreError>;
    fn text(&self, col: &str) -> Result<String, StoreError>;
    fn flag(&self, col: &str) -> Result<bool, StoreError>;
    fn date(&self, col: &str) -> Result<NaiveDate, StoreError>;
    fn time(&self, col: &str) -> Result<DateTime<Utc>, StoreError>;
    fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>, StoreError>;
    fn opt_blob(&self, col: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

macro_rules! impl_row_ext {
    ($row:ty) => {
        impl RowExt for $row {
            fn int(&self, col: &str) -> Result<i64, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn text(&self, col: &str) -> Result<String, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn flag(&self, col: &str) -> Result<bool, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn date(&self, col: &str) -> Result<NaiveDate, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn time(&self, col: &str) -> Result<DateTime<Utc>, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn opt_blob(&self, col: &str) -> Result<Option<Vec<u8>>, StoreError> {
                Ok(self.try_get(col)?)
            }
        }
    };
}

impl_row_ext!(SqliteRow);
impl_row_ext!(PgRow);

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} '{value}'"))
}

pub(crate) fn currency(code: &str) -> Result<Currency, StoreError> {
    Currency::from_code(code).map_err(|_| corrupt("currency", code))
}

/// Columns: id, external_ref, legal_name, debtor_type, country_code, time_zone, currency_code,
/// status, cease_calls, credit_minor, create_time, update_time.
pub(crate) fn account(r: &impl RowExt) -> Result<AccountSnapshot, StoreError> {
    let cur = currency(&r.text("currency_code")?)?;
    let debtor = r.text("debtor_type")?;
    let status = r.text("status")?;
    let tz = r.text("time_zone")?;
    Ok(AccountSnapshot {
        id: r.int("id")?,
        data: AccountData {
            external_ref: r.text("external_ref")?,
            legal_name: r.text("legal_name")?,
            debtor_type: DebtorType::parse(&debtor)
                .ok_or_else(|| corrupt("debtor type", &debtor))?,
            country_code: r.text("country_code")?,
            time_zone: chrono_tz::Tz::from_str(&tz).map_err(|_| corrupt("time zone", &tz))?,
            currency: cur,
            status: AccountStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
            cease_calls: r.flag("cease_calls")?,
            contacts: Vec::new(),
            invoices: Vec::new(),
        },
        credit: Money::from_minor(r.int("credit_minor")?, cur),
        create_time: r.time("create_time")?,
        update_time: r.time("update_time")?,
        open_invoices: Vec::new(),
        recent_payments: Vec::new(),
    })
}

pub(crate) const ACCOUNT_COLUMNS: &str = "a.id, a.external_ref, a.legal_name, a.debtor_type, \
     a.country_code, a.time_zone, a.currency_code, a.status, a.cease_calls, a.credit_minor, \
     a.create_time, a.update_time";

/// Columns: account_id, display_name, role, phone, email, preferred.
pub(crate) fn contact(r: &impl RowExt) -> Result<(i64, Contact), StoreError> {
    Ok((
        r.int("account_id")?,
        Contact {
            display_name: r.text("display_name")?,
            role: r.text("role")?,
            phone: r.text("phone")?,
            email: r.text("email")?,
            preferred: r.flag("preferred")?,
        },
    ))
}

pub(crate) const INVOICE_COLUMNS: &str = "i.id, i.account_id, i.number, i.issue_date, i.due_date, \
     i.amount_minor, i.outstanding_minor, i.disputed, i.dispute_reason";

/// Columns: INVOICE_COLUMNS. Adjustments are loaded separately.
pub(crate) fn invoice(r: &impl RowExt, cur: Currency) -> Result<StoredInvoice, StoreError> {
    Ok(StoredInvoice {
        id: r.int("id")?,
        account_id: r.int("account_id")?,
        data: InvoiceData {
            number: r.text("number")?,
            issue_date: r.date("issue_date")?,
            due_date: r.date("due_date")?,
            amount: Money::from_minor(r.int("amount_minor")?, cur),
            adjustments: Vec::new(),
            disputed: r.flag("disputed")?,
            dispute_reason: r.text("dispute_reason")?,
        },
        outstanding: Money::from_minor(r.int("outstanding_minor")?, cur),
    })
}

/// Columns: invoice_id, reference, kind, amount_minor, date, reason.
pub(crate) fn adjustment(r: &impl RowExt, cur: Currency) -> Result<(i64, Adjustment), StoreError> {
    let kind = r.text("kind")?;
    Ok((
        r.int("invoice_id")?,
        Adjustment {
            reference: r.text("reference")?,
            kind: AdjustmentKind::parse(&kind).ok_or_else(|| corrupt("adjustment kind", &kind))?,
            amount: Money::from_minor(r.int("amount_minor")?, cur),
            date: r.date("date")?,
            reason: r.text("reason")?,
        },
    ))
}
