//! Recording payments. A retry is answered from a read; a new payment goes to the writer
//! (`writer.rs`), which applies every payment queued meanwhile in one transaction: the ledger,
//! accounts and invoices are read once for the whole batch, each payment is checked and allocated
//! in order (so two payments to one account in a batch see each other), and all the rows are written
//! by a fixed number of set-based statements, the touched accounts' views rebuilt last.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use recoup_domain::ageing::local_today;
use recoup_domain::allocation::{InvoiceBalance, allocate};
use recoup_domain::payment::NewPayment;
use recoup_domain::{Currency, Money};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::change::{Change, Event, Written, begin_change};
use crate::events::Feed;
use crate::minor;
use crate::model::StoredPayment;
use crate::requests::{RequestKey, last_id};
use crate::retrying;
use crate::rows::{self, NUMBER_SEPARATOR, RowExt};
use crate::sets::{date, ids, int, rows as json_rows, text, time};
use crate::view::{self, date_text, time_text};
use crate::writer::{self, Job};
use crate::{Backend, Store, StoreError, next_ids, store_time, with_reader, with_writer};

/// The ledger's name for RecordPayment.
const METHOD: &str = "RecordPayment";

/// A payment recorded, or the retry of one (answered with the first result).
pub type PaymentOutcome = Written<StoredPayment>;

/// A payment waiting for the writer.
pub(crate) struct PaymentJob {
    subject: String,
    request_id: String,
    account_id: i64,
    payment: NewPayment,
    fingerprint: String,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Result<PaymentOutcome, StoreError>>,
}

impl PaymentJob {
    /// Whether the caller stopped waiting (timed out or cancelled) before the write began.
    pub(crate) fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }
}

impl Store {
    /// Records a payment against account `account_id`, idempotently by `key` (the caller's subject
    /// and request id; the subject is also recorded as the actor of the change). Answered after the
    /// transaction holding it has committed.
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
        if let Some(p) = self.replay_payment(key, &fingerprint).await? {
            return Ok(PaymentOutcome::Replayed(p));
        }
        writer::submit(&self.writer, |reply| {
            Job::Payment(PaymentJob {
                subject: key.subject.to_owned(),
                request_id: key.request_id.to_owned(),
                account_id,
                payment: payment.clone(),
                fingerprint,
                now: store_time(now),
                reply,
            })
        })
        .await
    }

    /// One payment by id, with its allocations.
    pub async fn get_payment(&self, id: i64) -> Result<Option<StoredPayment>, StoreError> {
        Ok(read_payments(&self.backend, &[id]).await?.pop())
    }

    /// The payment an earlier request with this key recorded, if it was the same request.
    async fn replay_payment(
        &self,
        key: RequestKey<'_>,
        fingerprint: &str,
    ) -> Result<Option<StoredPayment>, StoreError> {
        self.replay(key, METHOD, fingerprint, |r| async move {
            match last_id(&r) {
                Some(id) => Ok(read_payments(&self.backend, &[id]).await?.pop()),
                None => Ok(None),
            }
        })
        .await
    }
}

/// How one job of a batch ends.
enum Answer {
    Done(Result<PaymentOutcome, StoreError>),
    /// A retry: answered with this stored payment once the batch has committed.
    Replay(i64),
}

/// Applies a batch and answers every job; when the database refuses the batch, each job is
/// applied alone so that only the job at fault fails.
pub(crate) async fn apply(backend: &Backend, feed: &Feed, jobs: Vec<PaymentJob>) {
    match retrying!(backend, write_batch(backend, feed, &jobs)) {
        Ok(answers) => answer(backend, jobs, answers).await,
        Err(e) if jobs.len() > 1 => {
            tracing::warn!(error = %e, jobs = jobs.len(), "payment batch refused; applying one by one");
            for job in jobs {
                let single = retrying!(
                    backend,
                    write_batch(backend, feed, std::slice::from_ref(&job))
                );
                let answers = match single {
                    Ok(a) => a,
                    Err(e) => vec![alone_failed(backend, &job, e).await],
                };
                answer(backend, vec![job], answers).await;
            }
        }
        Err(e) => {
            let job = jobs.into_iter().next().expect("one job");
            let a = alone_failed(backend, &job, e).await;
            answer(backend, vec![job], vec![a]).await;
        }
    }
}

/// A single payment the database refused: a twin from another process that committed first (a
/// unique violation on its key) is a replay; anything else is its error.
async fn alone_failed(backend: &Backend, job: &PaymentJob, e: StoreError) -> Answer {
    if !e.is_unique_violation() {
        return Answer::Done(Err(e));
    }
    let store_key = RequestKey {
        subject: &job.subject,
        request_id: &job.request_id,
    };
    match crate::requests::find(backend, store_key).await {
        Ok(Some(seen)) => match seen.retried_by(METHOD, &job.fingerprint) {
            Ok(()) => last_id(&seen.resource)
                .map(Answer::Replay)
                .unwrap_or(Answer::Done(Err(e))),
            Err(reused) => Answer::Done(Err(reused)),
        },
        Ok(None) => Answer::Done(Err(e)),
        Err(read) => Answer::Done(Err(read)),
    }
}

async fn answer(backend: &Backend, jobs: Vec<PaymentJob>, answers: Vec<Answer>) {
    let replays: Vec<i64> = answers
        .iter()
        .filter_map(|a| match a {
            Answer::Replay(id) => Some(*id),
            Answer::Done(_) => None,
        })
        .collect();
    let replayed = match read_payments(backend, &replays).await {
        Ok(found) => Ok(found),
        Err(e) => Err(e.to_string()),
    };
    for (job, a) in jobs.into_iter().zip(answers) {
        let outcome = match a {
            Answer::Done(r) => r,
            Answer::Replay(id) => match &replayed {
                Ok(found) => found
                    .iter()
                    .find(|p| p.id == id)
                    .cloned()
                    .map(PaymentOutcome::Replayed)
                    .ok_or_else(|| StoreError::Corrupt(format!("payment {id} not found"))),
                Err(e) => Err(StoreError::Corrupt(e.clone())),
            },
        };
        // The caller may have gone (timeout): the payment stands either way.
        let _ = job.reply.send(outcome);
    }
}

/// The ledger entries of a batch's keys (`$1`: JSON array of [subject, request_id]).
pub(crate) fn seen_sql(pg: bool) -> String {
    format!(
        "SELECT q.subject, q.request_id, q.method, q.fingerprint, q.resource \
         FROM {} JOIN requests q ON q.subject = {} AND q.request_id = {}",
        json_rows(pg, 1),
        text(0),
        text(1)
    )
}

/// A batch's accounts (`$1`: JSON array of ids), locked on PostgreSQL in id order, so concurrent
/// batches cannot deadlock (SQLite's single writer already serialises them).
pub(crate) fn accounts_sql(pg: bool) -> String {
    let lock = if pg { " ORDER BY id FOR UPDATE" } else { "" };
    format!(
        "SELECT id, currency_code, time_zone FROM accounts WHERE id IN ({}){lock}",
        ids(pg, 1)
    )
}

/// The invoices of a batch's accounts (`$1`: JSON array of account ids).
pub(crate) fn invoices_sql(pg: bool) -> String {
    format!(
        "SELECT id, account_id, number, issue_date, due_date, outstanding_minor, disputed \
         FROM invoices WHERE account_id IN ({})",
        ids(pg, 1)
    )
}

/// One batch in one transaction. Rule failures are answers, not errors; an `Err` means the database
/// refused the batch, and nothing of it was written.
async fn write_batch(
    backend: &Backend,
    feed: &Feed,
    jobs: &[PaymentJob],
) -> Result<Vec<Answer>, StoreError> {
    let account_ids: Vec<i64> = {
        let mut ids: Vec<i64> = jobs.iter().map(|j| j.account_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let keys: Vec<Value> = jobs
        .iter()
        .map(|j| json!([j.subject, j.request_id]))
        .collect();
    with_writer!(backend, |pool, pg| {
        let mut tx = begin_change!(pool, pg, feed, "payment");
        let seen: HashMap<(String, String), (String, String, String)> =
            sqlx::query(sqlx::AssertSqlSafe(seen_sql(pg)))
                .bind(Value::Array(keys).to_string())
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| {
                    Ok((
                        (r.text("subject")?, r.text("request_id")?),
                        (
                            r.text("method")?,
                            r.text("fingerprint")?,
                            r.text("resource")?,
                        ),
                    ))
                })
                .collect::<Result<_, StoreError>>()?;

        let ids_json = json!(account_ids).to_string();
        let accounts: HashMap<i64, (Currency, chrono_tz::Tz)> =
            sqlx::query(sqlx::AssertSqlSafe(accounts_sql(pg)))
                .bind(&ids_json)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| {
                    let tz = r.text("time_zone")?;
                    Ok((
                        r.int("id")?,
                        (
                            rows::currency(&r.text("currency_code")?)?,
                            tz.parse()
                                .map_err(|_| StoreError::Corrupt(format!("time zone '{tz}'")))?,
                        ),
                    ))
                })
                .collect::<Result<_, StoreError>>()?;
        let mut invoices: HashMap<i64, Vec<InvoiceBalance>> = HashMap::new();
        for r in sqlx::query(sqlx::AssertSqlSafe(invoices_sql(pg)))
            .bind(&ids_json)
            .fetch_all(&mut *tx)
            .await?
        {
            let account_id = r.int("account_id")?;
            let Some((cur, _)) = accounts.get(&account_id) else {
                continue;
            };
            invoices
                .entry(account_id)
                .or_default()
                .push(InvoiceBalance {
                    id: r.int("id")?,
                    number: r.text("number")?,
                    issue_date: r.date("issue_date")?,
                    due_date: r.date("due_date")?,
                    outstanding: Money::from_minor(r.int("outstanding_minor")?, *cur),
                    disputed: r.flag("disputed")?,
                });
        }

        // None: recorded; its answer is set once it has an id.
        let mut answers: Vec<Option<Answer>> = Vec::with_capacity(jobs.len());
        let mut recorded: Vec<(usize, StoredPayment)> = Vec::new();
        // Keys first used in this batch: (index of the job, its fingerprint).
        let mut fresh: HashMap<(&str, &str), (usize, &str)> = HashMap::new();
        for (n, job) in jobs.iter().enumerate() {
            // The lock may have taken a while: a caller that has gone by now is not written for.
            if job.abandoned() {
                answers.push(Some(Answer::Done(Err(StoreError::Unusable(
                    "the caller stopped waiting".into(),
                )))));
                continue;
            }
            let key = (job.subject.clone(), job.request_id.clone());
            if let Some((method, fingerprint, resource)) = seen.get(&key) {
                answers.push(Some(
                    if method == METHOD && *fingerprint == job.fingerprint {
                        last_id(resource).map_or_else(
                            || {
                                Answer::Done(Err(StoreError::Corrupt(format!(
                                    "resource '{resource}'"
                                ))))
                            },
                            Answer::Replay,
                        )
                    } else {
                        Answer::Done(Err(StoreError::RequestIdReused))
                    },
                ));
                continue;
            }
            if let Some(&(first, fingerprint)) =
                fresh.get(&(job.subject.as_str(), job.request_id.as_str()))
            {
                // A twin of a request earlier in this batch gets that request's payment.
                answers.push(Some(if fingerprint == job.fingerprint {
                    Answer::Replay(-(first as i64) - 1)
                } else {
                    Answer::Done(Err(StoreError::RequestIdReused))
                }));
                continue;
            }
            let Some((cur, tz)) = accounts.get(&job.account_id) else {
                answers.push(Some(Answer::Done(Err(StoreError::NotFound))));
                continue;
            };
            let problems = job.payment.validate(*cur, local_today(*tz, job.now));
            if !problems.is_empty() {
                answers.push(Some(Answer::Done(Err(StoreError::Invalid(problems)))));
                continue;
            }
            let book = invoices.entry(job.account_id).or_default();
            let allocation = match allocate(job.payment.amount, &job.payment.invoice_numbers, book)
            {
                Ok(a) => a,
                Err(v) => {
                    answers.push(Some(Answer::Done(Err(StoreError::Invalid(v)))));
                    continue;
                }
            };
            // Later payments in the batch see this one's effect.
            for line in &allocation.lines {
                if let Some(inv) = book.iter_mut().find(|i| i.id == line.invoice_id) {
                    inv.outstanding = inv
                        .outstanding
                        .with_amount(inv.outstanding.amount() - line.amount.amount());
                }
            }
            fresh.insert((&job.subject, &job.request_id), (n, &job.fingerprint));
            recorded.push((
                n,
                StoredPayment {
                    id: 0,
                    account_id: job.account_id,
                    amount: job.payment.amount,
                    payment_date: job.payment.payment_date,
                    reference: job.payment.reference.clone(),
                    invoice_numbers: job.payment.invoice_numbers.clone(),
                    allocations: allocation
                        .lines
                        .iter()
                        .map(|l| (l.invoice_number.clone(), l.amount))
                        .collect(),
                    unallocated: allocation.unallocated,
                    create_time: job.now,
                },
            ));
            answers.push(None);
        }
        // Nothing recorded: nothing written, and the transaction rolls back as it is dropped.
        if !recorded.is_empty() {
            let new_ids = next_ids!(tx, pg, "payments", recorded.len());
            for ((_, p), id) in recorded.iter_mut().zip(&new_ids) {
                p.id = *id;
            }
            let (rows, change) = statements(pg, jobs, &recorded)?;
            tx.commit_with(rows, change).await?;
        }
        let ids_by_job: HashMap<usize, i64> = recorded.iter().map(|(n, p)| (*n, p.id)).collect();
        for (n, p) in recorded {
            answers[n] = Some(Answer::Done(Ok(PaymentOutcome::Recorded(p))));
        }
        Ok(answers
            .into_iter()
            .map(|a| match a {
                Some(Answer::Replay(id)) if id < 0 => {
                    Answer::Replay(ids_by_job[&((-id - 1) as usize)])
                }
                Some(a) => a,
                None => unreachable!("every recorded payment was answered above"),
            })
            .collect())
    })
}

/// The statements (and their JSON rows) that write a batch's recorded payments (payments,
/// allocations, the invoices' running sums, the accounts' credit), and the batch's change: a
/// `payment_recorded` event and a ledger row each, the touched accounts' views.
fn statements(
    pg: bool,
    jobs: &[PaymentJob],
    recorded: &[(usize, StoredPayment)],
) -> Result<(Vec<(String, String)>, Change), StoreError> {
    let mut payments = Vec::new();
    let mut allocations = Vec::new();
    let mut credit: HashMap<i64, i64> = HashMap::new();
    let mut change = None;
    for (n, p) in recorded {
        let job = &jobs[*n];
        let key = RequestKey {
            subject: &job.subject,
            request_id: &job.request_id,
        };
        let resource = format!("accounts/{}/payments/{}", p.account_id, p.id);
        payments.push(json!([
            p.id,
            p.account_id,
            minor(p.amount)?,
            date_text(p.payment_date),
            p.reference,
            p.invoice_numbers.join(&NUMBER_SEPARATOR.to_string()),
            minor(p.unallocated)?,
            time_text(job.now)
        ]));
        *credit.entry(p.account_id).or_default() += minor(p.unallocated)?;
        Change::record(
            &mut change,
            Event::by(key, job.now, "payment_recorded", p.account_id, &resource),
        )
        .request(key, METHOD, &job.fingerprint, &resource, job.now)
        .rebuild(p.account_id);
        for (pos, (number, amount)) in p.allocations.iter().enumerate() {
            allocations.push(json!([p.id, pos, p.account_id, number, minor(*amount)?]));
        }
    }
    let change =
        change.ok_or_else(|| StoreError::Corrupt("a batch that recorded nothing".into()))?;
    let [payments_sql, allocations_sql, invoices_sql, credit_sql] = write_sql(pg);
    let exec = |sql: String, rows: Vec<Value>| (sql, Value::Array(rows).to_string());
    Ok((
        vec![
            exec(payments_sql, payments),
            exec(allocations_sql, allocations.clone()),
            exec(invoices_sql, allocations),
            exec(
                credit_sql,
                credit
                    .into_iter()
                    .filter(|(_, c)| *c != 0)
                    .map(|(a, c)| json!([a, c]))
                    .collect(),
            ),
        ],
        change,
    ))
}

/// The statements that write a batch of payments, each taking its rows as `$1`: payments,
/// allocations, the invoices' running sums (from the allocation rows), the accounts' credit.
pub(crate) fn write_sql(pg: bool) -> [String; 4] {
    let overriding = if pg { " OVERRIDING SYSTEM VALUE" } else { "" };
    [
        format!(
            "INSERT INTO payments (id, account_id, amount_minor, payment_date, reference, \
             invoice_numbers, unallocated_minor, create_time){overriding} \
             SELECT {}, {}, {}, {}, {}, {}, {}, {} FROM {}",
            int(0),
            int(1),
            int(2),
            date(pg, 3),
            text(4),
            text(5),
            int(6),
            time(pg, 7),
            json_rows(pg, 1)
        ),
        // Allocations name their invoice by (account, number), resolved here.
        format!(
            "INSERT INTO payment_allocations (payment_id, position, invoice_id, amount_minor) \
             SELECT {}, {}, i.id, {} FROM {} JOIN invoices i \
             ON i.account_id = {} AND i.number = {}",
            int(0),
            int(1),
            int(4),
            json_rows(pg, 1),
            int(2),
            text(3)
        ),
        format!(
            "UPDATE invoices SET paid_minor = paid_minor + d.amount, \
             outstanding_minor = outstanding_minor - d.amount \
             FROM (SELECT i.id AS id, SUM({}) AS amount FROM {} JOIN invoices i \
                   ON i.account_id = {} AND i.number = {} GROUP BY i.id) d \
             WHERE invoices.id = d.id",
            int(4),
            json_rows(pg, 1),
            int(2),
            text(3)
        ),
        format!(
            "UPDATE accounts SET credit_minor = credit_minor + d.amount \
             FROM (SELECT {} AS id, {} AS amount FROM {}) d WHERE accounts.id = d.id",
            int(0),
            int(1),
            json_rows(pg, 1)
        ),
    ]
}

/// Payments with their allocations, newest first.
/// An account's payment ids, newest first by payment date then id, after the position `($3, $4)`
/// when `after`; at most `$2`.
pub(crate) fn list_sql(after: bool) -> String {
    let after = if after {
        " AND (payment_date, id) < ($3, $4)"
    } else {
        ""
    };
    format!(
        "SELECT id FROM payments WHERE account_id = $1{after} \
         ORDER BY payment_date DESC, id DESC LIMIT $2"
    )
}

impl Store {
    /// Account `account_id`'s payments, newest first, after `before` (payment date, id), at most
    /// `limit`; `None` when there is no such account.
    pub async fn list_payments(
        &self,
        account_id: i64,
        before: Option<(NaiveDate, i64)>,
        limit: i64,
    ) -> Result<Option<Vec<StoredPayment>>, StoreError> {
        let sql = list_sql(before.is_some());
        let ids: Vec<i64> = with_reader!(&self.backend, |pool, pg| {
            let q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(account_id)
                .bind(limit);
            let q = match before {
                Some((date, id)) => q.bind(date).bind(id),
                None => q,
            };
            q.fetch_all(pool).await?
        });
        if ids.is_empty() {
            // No payments (on this page), or no such account: only then is the account looked up.
            return Ok(self.account_exists(account_id).await?.then(Vec::new));
        }
        Ok(Some(read_payments(&self.backend, &ids).await?))
    }
}

pub(crate) async fn read_payments(
    backend: &Backend,
    payment_ids: &[i64],
) -> Result<Vec<StoredPayment>, StoreError> {
    if payment_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids_json = json!(payment_ids).to_string();
    with_reader!(backend, |pool, pg| {
        let mut payments = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT p.id, p.account_id, a.currency_code, p.amount_minor, p.payment_date, \
             p.reference, p.invoice_numbers, p.unallocated_minor, p.create_time \
             FROM payments p JOIN accounts a ON a.id = p.account_id WHERE p.id IN ({}) \
             ORDER BY p.payment_date DESC, p.id DESC",
            ids(pg, 1)
        )))
        .bind(&ids_json)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            let cur = rows::currency(&r.text("currency_code")?)?;
            Ok(StoredPayment {
                id: r.int("id")?,
                account_id: r.int("account_id")?,
                amount: Money::from_minor(r.int("amount_minor")?, cur),
                payment_date: r.date("payment_date")?,
                reference: r.text("reference")?,
                invoice_numbers: view::split_numbers(&r.text("invoice_numbers")?),
                allocations: Vec::new(),
                unallocated: Money::from_minor(r.int("unallocated_minor")?, cur),
                create_time: r.time("create_time")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        for r in sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT pa.payment_id, i.number, pa.amount_minor FROM payment_allocations pa \
             JOIN invoices i ON i.id = pa.invoice_id WHERE pa.payment_id IN ({}) \
             ORDER BY pa.payment_id, pa.position",
            ids(pg, 1)
        )))
        .bind(&ids_json)
        .fetch_all(pool)
        .await?
        {
            let payment_id = r.int("payment_id")?;
            if let Some(p) = payments.iter_mut().find(|p| p.id == payment_id) {
                let amount = Money::from_minor(r.int("amount_minor")?, p.amount.currency());
                p.allocations.push((r.text("number")?, amount));
            }
        }
        Ok(payments)
    })
}
