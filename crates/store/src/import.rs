//! Bulk upsert of account records by external ref, a batch per transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use recoup_domain::account::{AccountData, InvoiceData};
use recoup_domain::allocation::{Allocated, release};
use recoup_domain::{Money, Violations, fingerprint};

use crate::model::ImportOutcome;
use crate::rows::RowExt;
use crate::{Store, StoreError, begin_write, store_time, with_writer};

/// Minor units of an amount that validation has already bounded.
pub(crate) fn minor(m: Money) -> Result<i64, StoreError> {
    m.to_minor().map_err(|e| {
        let mut v = Violations::new();
        v.push("amount", e.to_string());
        StoreError::Invalid(v)
    })
}

/// Signed sum of an invoice's adjustments, in minor units.
fn adjusted_minor(inv: &InvoiceData) -> Result<i64, StoreError> {
    let billed = inv.amount.with_amount(inv.billed());
    Ok(minor(billed)? - minor(inv.amount)?)
}

/// Runs an invoice insert or update, then replaces its adjustments. `$existing` is
/// `Some((id, paid_minor))` for an update.
macro_rules! write_invoice {
    ($tx:expr, $account_id:expr, $inv:expr, $existing:expr, $now:expr) => {{
        let inv: &InvoiceData = $inv;
        let amount = minor(inv.amount)?;
        let adjusted = adjusted_minor(inv)?;
        let hash = fingerprint::invoice(inv);
        let invoice_id: i64 = match $existing {
            None => {
                let row = sqlx::query(
                    "INSERT INTO invoices (account_id, number, issue_date, due_date, amount_minor, \
                     adjusted_minor, paid_minor, outstanding_minor, disputed, dispute_reason, \
                     content_hash, create_time, update_time) \
                     VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, $11, $11) RETURNING id",
                )
                .bind($account_id)
                .bind(&inv.number)
                .bind(inv.issue_date)
                .bind(inv.due_date)
                .bind(amount)
                .bind(adjusted)
                .bind(amount + adjusted)
                .bind(inv.disputed)
                .bind(&inv.dispute_reason)
                .bind(&hash)
                .bind($now)
                .fetch_one(&mut *$tx)
                .await?;
                row.int("id")?
            }
            Some((id, paid)) => {
                let paid: i64 = paid;
                let billed = amount + adjusted;
                // Lowered below what was paid: the payments give the excess back as credit.
                let paid = if paid > billed {
                    release_excess!($tx, $account_id, id, paid - billed, inv.amount.currency());
                    billed
                } else {
                    paid
                };
                sqlx::query(
                    "UPDATE invoices SET issue_date = $2, due_date = $3, amount_minor = $4, \
                     adjusted_minor = $5, paid_minor = $11, outstanding_minor = $6, disputed = $7, \
                     dispute_reason = $8, content_hash = $9, update_time = $10 WHERE id = $1",
                )
                .bind(id)
                .bind(inv.issue_date)
                .bind(inv.due_date)
                .bind(amount)
                .bind(adjusted)
                .bind(billed - paid)
                .bind(inv.disputed)
                .bind(&inv.dispute_reason)
                .bind(&hash)
                .bind($now)
                .bind(paid)
                .execute(&mut *$tx)
                .await?;
                sqlx::query("DELETE FROM invoice_adjustments WHERE invoice_id = $1")
                    .bind(id)
                    .execute(&mut *$tx)
                    .await?;
                id
            }
        };
        for adj in &inv.adjustments {
            sqlx::query(
                "INSERT INTO invoice_adjustments (invoice_id, reference, kind, amount_minor, date, reason) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(invoice_id)
            .bind(&adj.reference)
            .bind(adj.kind.as_str())
            .bind(minor(adj.amount)?)
            .bind(adj.date)
            .bind(&adj.reason)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

/// Takes `excess` (minor units) back from the allocations to invoice `invoice_id`, newest payment
/// first (`allocation::release`), and adds it to those payments' and the account's credit.
macro_rules! release_excess {
    ($tx:expr, $account_id:expr, $invoice_id:expr, $excess:expr, $currency:expr) => {{
        let currency: recoup_domain::Currency = $currency;
        let excess: i64 = $excess;
        let allocated = sqlx::query(
            "SELECT payment_id, CAST(position AS BIGINT) AS position, amount_minor \
             FROM payment_allocations \
             WHERE invoice_id = $1 ORDER BY payment_id DESC, position DESC",
        )
        .bind($invoice_id)
        .fetch_all(&mut *$tx)
        .await?
        .iter()
        .map(|r| {
            Ok(Allocated {
                payment_id: r.int("payment_id")?,
                position: r.int("position")?,
                amount: Money::from_minor(r.int("amount_minor")?, currency),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        for r in release(Money::from_minor(excess, currency), &allocated) {
            if r.remaining.is_zero() {
                sqlx::query("DELETE FROM payment_allocations WHERE payment_id = $1 AND position = $2")
                    .bind(r.payment_id)
                    .bind(r.position)
                    .execute(&mut *$tx)
                    .await?;
            } else {
                sqlx::query(
                    "UPDATE payment_allocations SET amount_minor = $3 WHERE payment_id = $1 AND position = $2",
                )
                .bind(r.payment_id)
                .bind(r.position)
                .bind(minor(r.remaining)?)
                .execute(&mut *$tx)
                .await?;
            }
            sqlx::query("UPDATE payments SET unallocated_minor = unallocated_minor + $2 WHERE id = $1")
                .bind(r.payment_id)
                .bind(minor(r.amount)?)
                .execute(&mut *$tx)
                .await?;
        }
        sqlx::query("UPDATE accounts SET credit_minor = credit_minor + $2 WHERE id = $1")
            .bind($account_id)
            .bind(excess)
            .execute(&mut *$tx)
            .await?;
    }};
}

/// Replaces an account's contacts.
macro_rules! write_contacts {
    ($tx:expr, $account_id:expr, $contacts:expr) => {{
        sqlx::query("DELETE FROM contacts WHERE account_id = $1")
            .bind($account_id)
            .execute(&mut *$tx)
            .await?;
        for (pos, c) in $contacts.iter().enumerate() {
            sqlx::query(
                "INSERT INTO contacts (account_id, position, display_name, role, phone, email, preferred) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind($account_id)
            .bind(pos as i64)
            .bind(&c.display_name)
            .bind(&c.role)
            .bind(&c.phone)
            .bind(&c.email)
            .bind(c.preferred)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

macro_rules! write_event {
    ($tx:expr, $kind:expr, $account_id:expr, $resource:expr, $actor:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO events (create_time, event_type, account_id, resource, actor) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind($now)
        .bind($kind)
        .bind($account_id)
        .bind($resource)
        .bind($actor)
        .execute(&mut *$tx)
        .await?
    };
}
pub(crate) use write_event;

impl Store {
    /// Upserts already-validated records in one transaction, in order (a record later in the batch
    /// sees what an earlier one with the same external ref wrote). Returns one outcome per record.
    /// `actor` (the credential's subject) is recorded on each change's event.
    pub async fn import_batch(
        &self,
        records: &[AccountData],
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        let now = store_time(now);
        let mut outcomes = Vec::with_capacity(records.len());
        with_writer!(self, |pool, pg| {
            let mut tx = begin_write!(pool, pg);
            for rec in records {
                let profile_hash = fingerprint::profile(rec);
                let existing = sqlx::query(
                    "SELECT id, profile_hash, currency_code FROM accounts WHERE external_ref = $1",
                )
                .bind(&rec.external_ref)
                .fetch_optional(&mut *tx)
                .await?;
                let outcome = match existing {
                    None => {
                        let row = sqlx::query(
                            "INSERT INTO accounts (external_ref, legal_name, debtor_type, country_code, \
                             time_zone, currency_code, status, cease_calls, credit_minor, profile_hash, \
                             create_time, update_time) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $10) RETURNING id",
                        )
                        .bind(&rec.external_ref)
                        .bind(&rec.legal_name)
                        .bind(rec.debtor_type.as_str())
                        .bind(&rec.country_code)
                        .bind(rec.time_zone.name())
                        .bind(rec.currency.code())
                        .bind(rec.status.as_str())
                        .bind(rec.cease_calls)
                        .bind(&profile_hash)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?;
                        let id = row.int("id")?;
                        write_contacts!(tx, id, rec.contacts);
                        for inv in &rec.invoices {
                            write_invoice!(tx, id, inv, None::<(i64, i64)>, now);
                        }
                        write_event!(
                            tx,
                            "account_created",
                            id,
                            format!("accounts/{id}"),
                            actor,
                            now
                        );
                        ImportOutcome::Created
                    }
                    Some(row) => {
                        let id = row.int("id")?;
                        let stored_currency = row.text("currency_code")?;
                        let mut changed = false;
                        let stored_invoices: HashMap<String, (i64, i64, String)> = sqlx::query(
                            "SELECT id, number, paid_minor, content_hash FROM invoices WHERE account_id = $1",
                        )
                        .bind(id)
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(|r| {
                            Ok((
                                r.text("number")?,
                                (r.int("id")?, r.int("paid_minor")?, r.text("content_hash")?),
                            ))
                        })
                        .collect::<Result<_, StoreError>>()?;
                        if stored_currency != rec.currency.code() && !stored_invoices.is_empty() {
                            let mut v = Violations::new();
                            v.push(
                                "currency_code",
                                format!(
                                    "cannot change from {stored_currency}: the account already has invoices"
                                ),
                            );
                            outcomes.push(ImportOutcome::Rejected(v));
                            continue;
                        }
                        if row.text("profile_hash")? != profile_hash {
                            sqlx::query(
                                "UPDATE accounts SET legal_name = $2, debtor_type = $3, country_code = $4, \
                                 time_zone = $5, currency_code = $6, status = $7, cease_calls = $8, \
                                 profile_hash = $9 WHERE id = $1",
                            )
                            .bind(id)
                            .bind(&rec.legal_name)
                            .bind(rec.debtor_type.as_str())
                            .bind(&rec.country_code)
                            .bind(rec.time_zone.name())
                            .bind(rec.currency.code())
                            .bind(rec.status.as_str())
                            .bind(rec.cease_calls)
                            .bind(&profile_hash)
                            .execute(&mut *tx)
                            .await?;
                            write_contacts!(tx, id, rec.contacts);
                            changed = true;
                        }
                        for inv in &rec.invoices {
                            match stored_invoices.get(&inv.number) {
                                None => write_invoice!(tx, id, inv, None::<(i64, i64)>, now),
                                Some((_, _, hash)) if *hash == fingerprint::invoice(inv) => {
                                    continue;
                                }
                                Some((inv_id, paid, _)) => {
                                    write_invoice!(tx, id, inv, Some((*inv_id, *paid)), now)
                                }
                            }
                            changed = true;
                        }
                        if changed {
                            sqlx::query("UPDATE accounts SET update_time = $2 WHERE id = $1")
                                .bind(id)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                            write_event!(
                                tx,
                                "account_updated",
                                id,
                                format!("accounts/{id}"),
                                actor,
                                now
                            );
                            ImportOutcome::Updated
                        } else {
                            ImportOutcome::Unchanged
                        }
                    }
                };
                outcomes.push(outcome);
            }
            tx.commit().await?;
        });
        Ok(outcomes)
    }
}
