//! Reading accounts: one account in full, or a filtered page. Each read is a fixed number of queries
//! however many invoices or accounts it returns (no query per row).

use std::collections::HashMap;

use chrono::{DateTime, Days, Utc};
use recoup_domain::ageing::local_today;

use crate::model::{AccountKey, AccountSnapshot, ListFilter, RECENT_PAYMENTS};
use crate::rows::{self, ACCOUNT_COLUMNS, INVOICE_COLUMNS, RowExt};
use crate::{Store, StoreError, with_reader};

/// Appends `(id, id, …)` of bound ids.
fn push_ids<DB: sqlx::Database>(q: &mut sqlx::QueryBuilder<DB>, ids: &[i64])
where
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    q.push("(");
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    q.push(")");
}

impl Store {
    /// One account: profile, contacts, open invoices with adjustments, and (when `full`) recent payments.
    pub async fn get_account(
        &self,
        key: AccountKey<'_>,
        full: bool,
    ) -> Result<Option<AccountSnapshot>, StoreError> {
        let row = with_reader!(self, |pool, pg| {
            let mut q =
                sqlx::QueryBuilder::new(format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE "));
            match key {
                AccountKey::Id(id) => q.push("a.id = ").push_bind(id),
                AccountKey::ExternalRef(r) => q.push("a.external_ref = ").push_bind(r.to_owned()),
            };
            q.build()
                .fetch_optional(pool)
                .await?
                .map(|r| rows::account(&r))
                .transpose()?
        });
        let Some(account) = row else { return Ok(None) };
        let mut accounts = vec![account];
        self.load_details(&mut accounts, full).await?;
        Ok(accounts.pop())
    }

    /// A page of accounts after `after_id` in id order, at most `limit`, with contacts and open
    /// invoices (and recent payments when `full`).
    pub async fn list_accounts(
        &self,
        filter: &ListFilter,
        after_id: i64,
        limit: u32,
        now: DateTime<Utc>,
        full: bool,
    ) -> Result<Vec<AccountSnapshot>, StoreError> {
        let by_overdue = filter.min_days_overdue > 0 || filter.min_overdue.is_some();
        // "Today" differs by time zone, so the day and amount filters compare each account's
        // invoices with that account's own local date, bound per distinct zone.
        let zones: Vec<(String, chrono::NaiveDate, chrono::NaiveDate)> = if by_overdue {
            let names: Vec<String> = with_reader!(self, |pool, pg| {
                sqlx::query_scalar("SELECT DISTINCT time_zone FROM accounts")
                    .fetch_all(pool)
                    .await?
            });
            let mut zones = Vec::with_capacity(names.len());
            for name in names {
                let tz: chrono_tz::Tz = name
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("time zone '{name}'")))?;
                let today = local_today(tz, now);
                let cutoff = today
                    .checked_sub_days(Days::new(u64::from(filter.min_days_overdue)))
                    .unwrap_or(chrono::NaiveDate::MIN);
                zones.push((name, today, cutoff));
            }
            if zones.is_empty() {
                return Ok(Vec::new());
            }
            zones
        } else {
            Vec::new()
        };
        let mut accounts = with_reader!(self, |pool, pg| {
            let mut q = sqlx::QueryBuilder::new("");
            if by_overdue {
                q.push("WITH local_dates (tz, today, cutoff) AS (VALUES ");
                let mut values = q.separated(", ");
                for (tz, today, cutoff) in &zones {
                    values.push("(");
                    values.push_bind_unseparated(tz.clone());
                    values.push_unseparated(", ");
                    values.push_bind_unseparated(*today);
                    values.push_unseparated(", ");
                    values.push_bind_unseparated(*cutoff);
                    values.push_unseparated(")");
                }
                q.push(") ");
            }
            q.push(format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id > "
            ));
            q.push_bind(after_id);
            if let Some(status) = filter.status {
                q.push(" AND a.status = ").push_bind(status.as_str());
            }
            if filter.min_days_overdue > 0 {
                q.push(
                    " AND EXISTS (SELECT 1 FROM invoices i JOIN local_dates d ON d.tz = a.time_zone \
                     WHERE i.account_id = a.id AND i.outstanding_minor > 0 AND NOT i.disputed \
                     AND i.due_date <= d.cutoff)",
                );
            }
            if let Some(min) = filter.min_overdue {
                q.push(" AND a.currency_code = ")
                    .push_bind(min.currency().code());
                q.push(
                    " AND (SELECT COALESCE(SUM(i.outstanding_minor), 0) FROM invoices i \
                     JOIN local_dates d ON d.tz = a.time_zone WHERE i.account_id = a.id \
                     AND i.outstanding_minor > 0 AND NOT i.disputed AND i.due_date < d.today) >= ",
                )
                .push_bind(crate::import::minor(min)?);
            }
            q.push(" ORDER BY a.id LIMIT ").push_bind(i64::from(limit));
            q.build()
                .fetch_all(pool)
                .await?
                .iter()
                .map(rows::account)
                .collect::<Result<Vec<_>, _>>()?
        });
        self.load_details(&mut accounts, full).await?;
        Ok(accounts)
    }

    /// Fills contacts, open invoices (with adjustments) and, when `full`, recent payments.
    async fn load_details(
        &self,
        accounts: &mut [AccountSnapshot],
        full: bool,
    ) -> Result<(), StoreError> {
        if accounts.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = accounts.iter().map(|a| a.id).collect();
        let index: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let payment_ids: Vec<i64> = with_reader!(self, |pool, pg| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT account_id, display_name, role, phone, email, preferred FROM contacts WHERE account_id IN ",
            );
            push_ids(&mut q, &ids);
            q.push(" ORDER BY account_id, position");
            for r in q.build().fetch_all(pool).await? {
                let (account_id, contact) = rows::contact(&r)?;
                accounts[index[&account_id]].data.contacts.push(contact);
            }

            let mut q = sqlx::QueryBuilder::new(format!(
                "SELECT {INVOICE_COLUMNS}, a.currency_code FROM invoices i JOIN accounts a ON a.id = i.account_id \
                 WHERE i.outstanding_minor <> 0 AND i.account_id IN "
            ));
            push_ids(&mut q, &ids);
            q.push(" ORDER BY i.account_id, i.due_date, i.issue_date, i.number");
            let mut by_invoice: HashMap<i64, (usize, usize)> = HashMap::new();
            for r in q.build().fetch_all(pool).await? {
                let cur = rows::currency(&r.text("currency_code")?)?;
                let inv = rows::invoice(&r, cur)?;
                let a = index[&inv.account_id];
                by_invoice.insert(inv.id, (a, accounts[a].open_invoices.len()));
                accounts[a].open_invoices.push(inv);
            }

            if !by_invoice.is_empty() {
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT j.invoice_id, j.reference, j.kind, j.amount_minor, j.date, j.reason, a.currency_code \
                     FROM invoice_adjustments j JOIN invoices i ON i.id = j.invoice_id \
                     JOIN accounts a ON a.id = i.account_id \
                     WHERE i.outstanding_minor <> 0 AND i.account_id IN ",
                );
                push_ids(&mut q, &ids);
                q.push(" ORDER BY j.invoice_id, j.date, j.reference");
                for r in q.build().fetch_all(pool).await? {
                    let cur = rows::currency(&r.text("currency_code")?)?;
                    let (invoice_id, adj) = rows::adjustment(&r, cur)?;
                    if let Some((a, i)) = by_invoice.get(&invoice_id) {
                        accounts[*a].open_invoices[*i].data.adjustments.push(adj);
                    }
                }
            }

            if full {
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY account_id \
                     ORDER BY payment_date DESC, id DESC) AS n FROM payments WHERE account_id IN ",
                );
                push_ids(&mut q, &ids);
                q.push(") recent WHERE n <= ").push_bind(RECENT_PAYMENTS);
                q.build_query_scalar().fetch_all(pool).await?
            } else {
                Vec::new()
            }
        });
        for p in self.payments_by_id(&payment_ids).await? {
            accounts[index[&p.account_id]].recent_payments.push(p);
        }
        Ok(())
    }
}
