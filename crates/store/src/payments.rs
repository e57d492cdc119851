//! Recording payments: allocation, the invoices' running sums and the outbox row in one transaction.

use chrono::{DateTime, Utc};
use recoup_domain::Money;
use recoup_domain::ageing::local_today;
use recoup_domain::allocation::{InvoiceBalance, allocate};
use recoup_domain::payment::NewPayment;

use crate::import::{minor, write_event};
use crate::model::StoredPayment;
use crate::requests::{RequestKey, last_id, save_request};
use crate::rows::{self, RowExt};
use crate::{Store, StoreError, begin_write, store_time, with_reader, with_writer};

/// The ledger's name for RecordPayment.
const METHOD: &str = "RecordPayment";

/// Separates the invoice numbers a payment named (a control character, which numbers may not hold).
const NUMBER_SEPARATOR: char = '\u{1f}';

/// Whether a payment was new or a retry of an earlier request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    Recorded(StoredPayment),
    /// The request id was seen before with the same content: the first result, nothing written.
    Replayed(StoredPayment),
}

impl Store {
    /// Records a payment against account `account_id`, idempotently by `key` (the caller's subject
    /// and request id; the subject is also recorded as the actor of the change).
    ///
    /// Errors: `NotFound` (no such account), `Invalid` (the payment breaks a rule against the
    /// account, e.g. another currency or an unknown invoice named), `RequestIdReused` (the caller used
    /// the id for different content).
    pub async fn record_payment(
        &self,
        key: RequestKey<'_>,
        account_id: i64,
        payment: &NewPayment,
        now: DateTime<Utc>,
    ) -> Result<PaymentOutcome, StoreError> {
        let fingerprint = payment.fingerprint(&format!("accounts/{account_id}"));
        match self
            .try_record_payment(key, &fingerprint, account_id, payment, now)
            .await
        {
            // Two first attempts raced; the loser now finds the winner's record.
            Err(e) if e.is_unique_violation() => self
                .replay_payment(key, &fingerprint)
                .await?
                .map(PaymentOutcome::Replayed)
                .ok_or(e),
            other => other,
        }
    }

    async fn replay_payment(
        &self,
        key: RequestKey<'_>,
        fingerprint: &str,
    ) -> Result<Option<StoredPayment>, StoreError> {
        let Some(seen) = self.find_request(key).await? else {
            return Ok(None);
        };
        seen.retried_by(METHOD, fingerprint)?;
        let id = last_id(&seen.resource)
            .ok_or_else(|| StoreError::Corrupt(format!("request resource '{}'", seen.resource)))?;
        Ok(self.payments_by_id(&[id]).await?.pop())
    }

    async fn try_record_payment(
        &self,
        key: RequestKey<'_>,
        fingerprint: &str,
        account_id: i64,
        payment: &NewPayment,
        now: DateTime<Utc>,
    ) -> Result<PaymentOutcome, StoreError> {
        if let Some(p) = self.replay_payment(key, fingerprint).await? {
            return Ok(PaymentOutcome::Replayed(p));
        }
        let now = store_time(now);
        let payment_id = with_writer!(self, |pool, pg| {
            let mut tx = begin_write!(pool, pg);
            // On PostgreSQL concurrent payments to one account queue here, so allocation sees
            // every earlier payment; SQLite's single writer already serialises them.
            let lock = if pg {
                "SELECT currency_code, time_zone FROM accounts WHERE id = $1 FOR UPDATE"
            } else {
                "SELECT currency_code, time_zone FROM accounts WHERE id = $1"
            };
            let account = sqlx::query(lock)
                .bind(account_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            let cur = rows::currency(&account.text("currency_code")?)?;
            let tz: chrono_tz::Tz = account
                .text("time_zone")?
                .parse()
                .map_err(|_| StoreError::Corrupt("time zone".into()))?;
            let problems = payment.validate(cur, local_today(tz, now));
            if !problems.is_empty() {
                return Err(StoreError::Invalid(problems));
            }
            let invoices = sqlx::query(
                "SELECT id, number, issue_date, due_date, outstanding_minor, disputed \
                 FROM invoices WHERE account_id = $1",
            )
            .bind(account_id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                Ok(InvoiceBalance {
                    id: r.int("id")?,
                    number: r.text("number")?,
                    issue_date: r.date("issue_date")?,
                    due_date: r.date("due_date")?,
                    outstanding: Money::from_minor(r.int("outstanding_minor")?, cur),
                    disputed: r.flag("disputed")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
            let allocation = allocate(payment.amount, &payment.invoice_numbers, &invoices)
                .map_err(StoreError::Invalid)?;
            let unallocated = minor(allocation.unallocated)?;
            let named = payment.invoice_numbers.join(&NUMBER_SEPARATOR.to_string());
            let id = sqlx::query(
                "INSERT INTO payments (account_id, amount_minor, payment_date, reference, \
                 invoice_numbers, unallocated_minor, create_time) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(account_id)
            .bind(minor(payment.amount)?)
            .bind(payment.payment_date)
            .bind(&payment.reference)
            .bind(&named)
            .bind(unallocated)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
            .int("id")?;
            for (pos, line) in allocation.lines.iter().enumerate() {
                let amount = minor(line.amount)?;
                sqlx::query(
                    "INSERT INTO payment_allocations (payment_id, position, invoice_id, amount_minor) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(pos as i64)
                .bind(line.invoice_id)
                .bind(amount)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE invoices SET paid_minor = paid_minor + $2, \
                     outstanding_minor = outstanding_minor - $2, update_time = $3 WHERE id = $1",
                )
                .bind(line.invoice_id)
                .bind(amount)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("UPDATE accounts SET credit_minor = credit_minor + $2 WHERE id = $1")
                .bind(account_id)
                .bind(unallocated)
                .execute(&mut *tx)
                .await?;
            let resource = format!("accounts/{account_id}/payments/{id}");
            write_event!(
                tx,
                "payment_recorded",
                account_id,
                &resource,
                key.subject,
                now
            );
            save_request!(
                tx,
                key,
                METHOD,
                fingerprint,
                &resource,
                None::<Vec<u8>>,
                now
            );
            tx.commit().await?;
            id
        });
        let stored = self.payments_by_id(&[payment_id]).await?.pop();
        stored
            .map(PaymentOutcome::Recorded)
            .ok_or_else(|| StoreError::Corrupt("payment vanished after commit".into()))
    }

    /// Payments with their allocations, in the order of `ids`' query (newest first).
    pub(crate) async fn payments_by_id(
        &self,
        ids: &[i64],
    ) -> Result<Vec<StoredPayment>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        with_reader!(self, |pool, pg| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT p.id, p.account_id, a.currency_code, p.amount_minor, p.payment_date, \
                 p.reference, p.invoice_numbers, p.unallocated_minor, p.create_time \
                 FROM payments p JOIN accounts a ON a.id = p.account_id WHERE p.id IN (",
            );
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            q.push(") ORDER BY p.payment_date DESC, p.id DESC");
            let mut payments = q
                .build()
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    let cur = rows::currency(&r.text("currency_code")?)?;
                    let named = r.text("invoice_numbers")?;
                    Ok(StoredPayment {
                        id: r.int("id")?,
                        account_id: r.int("account_id")?,
                        amount: Money::from_minor(r.int("amount_minor")?, cur),
                        payment_date: r.date("payment_date")?,
                        reference: r.text("reference")?,
                        invoice_numbers: if named.is_empty() {
                            Vec::new()
                        } else {
                            named.split(NUMBER_SEPARATOR).map(str::to_owned).collect()
                        },
                        allocations: Vec::new(),
                        unallocated: Money::from_minor(r.int("unallocated_minor")?, cur),
                        create_time: r.time("create_time")?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let mut q = sqlx::QueryBuilder::new(
                "SELECT pa.payment_id, i.number, pa.amount_minor FROM payment_allocations pa \
                 JOIN invoices i ON i.id = pa.invoice_id WHERE pa.payment_id IN (",
            );
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            q.push(") ORDER BY pa.payment_id, pa.position");
            for r in q.build().fetch_all(pool).await? {
                let payment_id = r.int("payment_id")?;
                if let Some(p) = payments.iter_mut().find(|p| p.id == payment_id) {
                    let amount = Money::from_minor(r.int("amount_minor")?, p.amount.currency());
                    p.allocations.push((r.text("number")?, amount));
                }
            }
            Ok(payments)
        })
    }
}
