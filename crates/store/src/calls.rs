//! Call records: append-only (the database refuses UPDATE and DELETE, migration 0005). Calls are
//! written by the store's writer task (`writer.rs`) in group commits: the calls queued meanwhile share
//! one transaction and one fsync. Each is judged by the contact rules with its account held
//! (SQLite's write lock; PostgreSQL's row lock), against every call committed or batched before it,
//! so two agents cannot both take the day's last call; a retry or a concurrent twin finds the first
//! record in the ledger.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use recoup_domain::account::AccountStatus;
use recoup_domain::call::{Correction, Direction, NewCall, Outcome};
use recoup_domain::contact::{self, Block, CallHistory, ContactFacts};
use recoup_domain::dispute::{Disputable, disputable_on_call};
use recoup_domain::fingerprint::Canonical;
use recoup_domain::policy::Policy;
use recoup_domain::{Currency, Money};
use serde_json::{Value, json};

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::requests::{RequestKey, last_id};
use crate::rows::currency;
use crate::view::minor;
use crate::writer::{self, Job};
use crate::{Backend, Store, StoreError, begin_write, store_time, with_reader, with_writer};

/// The ledger's name for RecordCallOutcome.
const METHOD: &str = "RecordCallOutcome";
/// Outbound calls the contact rules look back over: enough for any valid policy (at most 20 a day,
/// at most 100 in a rolling window).
pub const RULE_HISTORY: i64 = 100;

/// A call as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCall {
    pub id: i64,
    pub account_id: i64,
    pub call: NewCall,
    /// The supervisor whose override the call was made under.
    pub override_by: Option<String>,
    pub agent: String,
    pub create_time: DateTime<Utc>,
}

/// Whether a call was new or a retry of an earlier request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    Recorded(StoredCall),
    /// The request id was seen before with the same content: the first record, nothing written.
    Replayed(StoredCall),
}

/// Who records a call, and under whose override.
#[derive(Debug, Clone, Copy)]
pub struct Recorder<'a> {
    pub key: RequestKey<'a>,
    /// Set (to the supervisor's subject) when the call carries an override a supervisor may give.
    pub override_by: Option<&'a str>,
}

/// Columns of `calls`, in the order `call_from_row` reads them.
const COLUMNS: &str = "id, account_id, direction, start_time, duration_ms, contact_name, \
     right_party, outcome, details, notes, next_step, override_reason, override_by, corrects, \
     correction_reason, agent, create_time";

/// A call row has not been replaced by a correction.
const CURRENT: &str = "NOT EXISTS (SELECT 1 FROM calls x WHERE x.corrects = c.id)";

impl Store {
    /// Records a call on account `account_id`, idempotently by the recorder's key, under `policy`.
    ///
    /// Errors: `NotFound` (no such account), `Invalid` (the call breaks a rule against the account,
    /// or corrects a record it may not), `Refused` (an outbound call the contact rules forbid, without
    /// an override), `RequestIdReused` (the caller used the id for other content).
    pub async fn record_call(
        &self,
        by: Recorder<'_>,
        account_id: i64,
        call: &NewCall,
        policy: &Arc<Policy>,
        now: DateTime<Utc>,
    ) -> Result<CallOutcome, StoreError> {
        let fingerprint = fingerprint(account_id, call, by.override_by.is_some());
        if let Some(c) = self.replay_call(by.key, &fingerprint).await? {
            return Ok(CallOutcome::Replayed(c));
        }
        let written = writer::submit(&self.writer, |reply| {
            Job::Call(CallJob {
                subject: by.key.subject.to_owned(),
                request_id: by.key.request_id.to_owned(),
                override_by: by.override_by.map(str::to_owned),
                account_id,
                call: call.clone(),
                fingerprint: fingerprint.clone(),
                policy: policy.clone(),
                now: store_time(now),
                reply,
            })
        })
        .await;
        match written {
            Ok(Some(c)) => Ok(CallOutcome::Recorded(c)),
            // Another request with this key committed first (in this batch, an earlier one, or
            // another process).
            Ok(None) => self.replayed(by.key, &fingerprint).await,
            Err(e) if e.is_unique_violation() => self.replayed(by.key, &fingerprint).await,
            Err(e) => Err(e),
        }
    }

    async fn replayed(
        &self,
        key: RequestKey<'_>,
        fingerprint: &str,
    ) -> Result<CallOutcome, StoreError> {
        self.replay_call(key, fingerprint)
            .await?
            .map(CallOutcome::Replayed)
            .ok_or_else(|| StoreError::Corrupt("a request in the ledger lost its call".into()))
    }

    async fn replay_call(
        &self,
        key: RequestKey<'_>,
        fingerprint: &str,
    ) -> Result<Option<StoredCall>, StoreError> {
        let Some(seen) = self.find_request(key).await? else {
            return Ok(None);
        };
        seen.retried_by(METHOD, fingerprint)?;
        let id = last_id(&seen.resource)
            .ok_or_else(|| StoreError::Corrupt(format!("request resource '{}'", seen.resource)))?;
        self.get_call(id).await
    }

    /// One call by id.
    pub async fn get_call(&self, id: i64) -> Result<Option<StoredCall>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM calls WHERE id = $1");
        let row = with_reader!(&self.backend, |pool, pg| {
            match sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(id)
                .fetch_optional(pool)
                .await?
            {
                Some(row) => Some(call_from_row(&row)?),
                None => None,
            }
        });
        match row {
            Some(c) => Ok(Some(c.with_currency(self).await?)),
            None => Ok(None),
        }
    }

    /// An account's calls, newest first (by start time, then id), after `before` (the last call of
    /// the previous page); `None` when the account does not exist.
    pub async fn list_calls(
        &self,
        account_id: i64,
        before: Option<(DateTime<Utc>, i64)>,
        limit: i64,
    ) -> Result<Option<Vec<StoredCall>>, StoreError> {
        let Some(cur) = self.account_currency(account_id).await? else {
            return Ok(None);
        };
        let sql = list_sql(before.is_some());
        let rows = with_reader!(&self.backend, |pool, pg| {
            let q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(account_id)
                .bind(limit);
            let q = match before {
                Some((start, id)) if pg => q.bind(start).bind(id),
                Some((start, id)) => q.bind(sqlite_time(start)).bind(id),
                None => q,
            };
            let rows = q.fetch_all(pool).await?;
            rows.iter()
                .map(call_from_row)
                .collect::<Result<Vec<_>, _>>()?
        });
        rows.into_iter()
            .map(|c| c.resolve(cur))
            .collect::<Result<_, _>>()
            .map(Some)
    }

    async fn account_currency(&self, account_id: i64) -> Result<Option<Currency>, StoreError> {
        let code: Option<String> = with_reader!(&self.backend, |pool, pg| {
            sqlx::query_scalar("SELECT currency_code FROM accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(pool)
                .await?
        });
        code.map(|c| currency(&c)).transpose()
    }
}

/// A call waiting for the writer.
pub(crate) struct CallJob {
    subject: String,
    request_id: String,
    override_by: Option<String>,
    account_id: i64,
    call: NewCall,
    fingerprint: String,
    policy: Arc<Policy>,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Result<Option<StoredCall>, StoreError>>,
}

impl CallJob {
    /// Whether the caller stopped waiting before the write began.
    pub(crate) fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }
}

/// Writes a batch of calls in one transaction (one commit, one fsync) and answers each; a call
/// that breaks a rule is answered with its error and writes nothing, and when the database refuses
/// the batch each call is written alone, so that only the call at fault fails.
pub(crate) async fn apply(backend: &Backend, jobs: Vec<CallJob>) {
    match write_batch(backend, &jobs).await {
        Ok(results) => {
            for (job, r) in jobs.into_iter().zip(results) {
                let _ = job.reply.send(r);
            }
        }
        Err(e) if jobs.len() > 1 => {
            tracing::warn!(error = %e, jobs = jobs.len(), "call batch refused; writing one by one");
            for job in jobs {
                let r = match write_batch(backend, std::slice::from_ref(&job)).await {
                    Ok(mut one) => one.pop().expect("one result per call"),
                    Err(e) => Err(e),
                };
                let _ = job.reply.send(r);
            }
        }
        Err(e) => {
            if let Some(job) = jobs.into_iter().next() {
                let _ = job.reply.send(Err(e));
            }
        }
    }
}

/// Whether an error is the call's own (answered to it alone) rather than the database's.
fn refused_call(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::NotFound
            | StoreError::Invalid(_)
            | StoreError::Refused(_)
            | StoreError::RequestIdReused
    )
}

/// One transaction for the batch; per call `Ok(None)` when the ledger already holds its key. An
/// error of the database itself fails the whole batch (rolled back).
async fn write_batch(
    backend: &Backend,
    jobs: &[CallJob],
) -> Result<Vec<Result<Option<StoredCall>, StoreError>>, StoreError> {
    Ok(with_writer!(backend, |pool, pg| {
        let mut tx = begin_write!(pool, pg);
        if pg {
            // Accounts are held in id order, as payment batches hold them, so batches never
            // wait on each other in a cycle.
            let mut ids: Vec<i64> = jobs.iter().map(|j| j.account_id).collect();
            ids.sort_unstable();
            ids.dedup();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM accounts WHERE id IN ({}) ORDER BY id FOR UPDATE",
                crate::sets::ids(pg, 1)
            )))
            .bind(serde_json::to_string(&ids).map_err(|e| StoreError::Corrupt(e.to_string()))?)
            .fetch_all(&mut *tx)
            .await?;
        }
        let mut results = Vec::with_capacity(jobs.len());
        for job in jobs {
            let one = async {
                let (account_id, call, fingerprint, policy, now) = (
                    job.account_id,
                    &job.call,
                    job.fingerprint.as_str(),
                    &*job.policy,
                    job.now,
                );
                let by = Recorder {
                    key: RequestKey {
                        subject: &job.subject,
                        request_id: &job.request_id,
                    },
                    override_by: job.override_by.as_deref(),
                };
                let start = store_time(call.start_time);
                // The account is held (SQLite's write lock; the row lock above on PostgreSQL), so
                // the ledger and history read below are what every earlier writer committed.
                let lock = if pg { " FOR UPDATE" } else { "" };
                let account: Option<(String, String, String, bool)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT time_zone, currency_code, status, cease_calls FROM accounts \
                         WHERE id = $1{lock}"
                    )))
                    .bind(account_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some((tz, code, status, cease_calls)) = account else {
                    return Err(StoreError::NotFound);
                };
                let seen: Option<String> = sqlx::query_scalar(
                    "SELECT fingerprint FROM requests WHERE subject = $1 AND request_id = $2",
                )
                .bind(by.key.subject)
                .bind(by.key.request_id)
                .fetch_optional(&mut *tx)
                .await?;
                if seen.is_some() {
                    return Ok(None);
                }
                let time_zone: chrono_tz::Tz = tz
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("time zone '{tz}'")))?;
                let cur = currency(&code)?;
                let status = AccountStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("account status '{status}'")))?;

                let invoices: Vec<(String, i64, bool)> = sqlx::query_as(
                    "SELECT number, outstanding_minor, disputed FROM invoices WHERE account_id = $1",
                )
                .bind(account_id)
                .fetch_all(&mut *tx)
                .await?;
                let numbers: Vec<String> = invoices.iter().map(|(n, _, _)| n.clone()).collect();
                let cx = recoup_domain::call::CallContext {
                    currency: cur,
                    time_zone,
                    invoice_numbers: &numbers,
                    promises: &policy.promises,
                    now,
                };
                let mut violations = call.validate(&cx);
                if let Some(c) = &call.correction {
                    let target: Option<(i64, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT c.account_id, {CURRENT} FROM calls c WHERE c.id = $1"
                    )))
                    .bind(c.call_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    match target {
                        Some((a, true)) if a == account_id => {}
                        Some((a, false)) if a == account_id => violations.push(
                            "corrects",
                            "that record was already corrected: correct its latest version",
                        ),
                        _ => violations.push(
                            "corrects",
                            format!("accounts/{account_id} has no call {}", c.call_id),
                        ),
                    }
                }
                if !violations.is_empty() {
                    return Err(StoreError::Invalid(violations));
                }

                // The contact rules, for an outbound call made on our initiative; a correction restates
                // a call already judged, and a supervisor's override sets the rules aside.
                if call.direction == Direction::Outbound
                    && by.override_by.is_none()
                    && call.correction.is_none()
                {
                    let sql = format!(
                        "SELECT start_time FROM calls c WHERE c.account_id = $1 \
                         AND c.direction = 'outbound' AND {CURRENT} \
                         ORDER BY c.start_time DESC, c.id DESC LIMIT {RULE_HISTORY}"
                    );
                    let outbound: Vec<DateTime<Utc>> =
                        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                            .bind(account_id)
                            .fetch_all(&mut *tx)
                            .await?;
                    let sql = format!(
                        "SELECT callback_time FROM calls c WHERE c.account_id = $1 \
                         AND c.start_time < $2 AND {CURRENT} \
                         ORDER BY c.start_time DESC, c.id DESC LIMIT 1"
                    );
                    let q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(account_id);
                    let q = if pg {
                        q.bind(start)
                    } else {
                        q.bind(sqlite_time(start))
                    };
                    let callback: Option<Option<DateTime<Utc>>> =
                        q.fetch_optional(&mut *tx).await?;
                    let callback = callback.flatten();
                    let quiet = crate::plans::active_plan_quiet!(
                        tx,
                        account_id,
                        cur,
                        start.with_timezone(&time_zone).date_naive(),
                        &policy.plans
                    );
                    let facts = ContactFacts::new(
                        status,
                        cease_calls,
                        time_zone,
                        invoices
                            .iter()
                            .map(|(_, o, d)| (Money::from_minor(*o, cur).amount(), *d)),
                    )
                    .with_plan_quiet_until(quiet);
                    let history = CallHistory {
                        outbound: &outbound,
                        callback,
                    };
                    let status = contact::contact_status(&facts, &history, &policy.contact, start);
                    if !status.may_call() {
                        return Err(StoreError::Refused(status.blocks));
                    }
                }

                let (promise_minor, promise_date, callback_time) = match &call.outcome {
                    Outcome::PromiseToPay { amount, date } => {
                        (Some(minor(*amount)?), Some(*date), None)
                    }
                    Outcome::CallbackRequested { time } => (None, None, Some(store_time(*time))),
                    _ => (None, None, None),
                };
                let q = sqlx::query_scalar(
                    "INSERT INTO calls (account_id, direction, start_time, duration_ms, contact_name, \
                     right_party, outcome, details, promise_minor, promise_date, callback_time, notes, \
                     next_step, override_reason, override_by, corrects, correction_reason, agent, \
                     create_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                     $15, $16, $17, $18, $19) RETURNING id",
                )
                .bind(account_id)
                .bind(call.direction.as_str());
                let q = if pg {
                    q.bind(start)
                } else {
                    q.bind(sqlite_time(start))
                };
                let q = q
                    .bind(call.duration_ms)
                    .bind(&call.contact_name)
                    .bind(call.right_party_contact)
                    .bind(call.outcome.kind())
                    .bind(details(&call.outcome)?.to_string())
                    .bind(promise_minor)
                    .bind(promise_date);
                let q = if pg {
                    q.bind(callback_time)
                } else {
                    q.bind(callback_time.map(sqlite_time))
                };
                let id: i64 = q
                    .bind(&call.notes)
                    .bind(&call.next_step)
                    .bind(
                        call.override_reason
                            .as_deref()
                            .filter(|_| by.override_by.is_some()),
                    )
                    .bind(by.override_by)
                    .bind(call.correction.as_ref().map(|c| c.call_id))
                    .bind(call.correction.as_ref().map(|c| c.reason.as_str()))
                    .bind(by.key.subject)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;

                let mut dispute_opened = None;
                match &call.outcome {
                    Outcome::ReferredToAgency { .. } => {
                        sqlx::query(
                            "UPDATE accounts SET status = 'with_agency', update_time = $2 WHERE id = $1",
                        )
                        .bind(account_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    Outcome::DisputeRaised {
                        invoice_numbers,
                        reason,
                    } => {
                        let found = crate::disputes::disputable!(
                            tx,
                            pg,
                            account_id,
                            invoice_numbers,
                            cur
                        );
                        let known: Vec<Disputable> =
                            found.iter().map(|(_, x)| x.clone()).collect();
                        let invoice_ids: Vec<i64> =
                            disputable_on_call(invoice_numbers, &known)
                                .iter()
                                .filter_map(|n| {
                                    found.iter().find(|(_, x)| x.number == *n).map(|(i, _)| *i)
                                })
                                .collect();
                        if !invoice_ids.is_empty() {
                            let call_id = Some(id);
                            let dispute = crate::disputes::open_dispute!(
                                tx,
                                pg,
                                account_id,
                                call_id,
                                &invoice_ids,
                                reason,
                                by.key.subject,
                                now
                            );
                            dispute_opened = Some(dispute);
                        }
                    }
                    _ => {}
                }
                let resource = format!("accounts/{account_id}/calls/{id}");
                // A call that changed the account (its status, or invoices now disputed) is also an
                // account update, so a CRM following the feed re-reads the account.
                let changed_account = matches!(call.outcome, Outcome::ReferredToAgency { .. })
                    || dispute_opened.is_some();
                sqlx::query(
                    "INSERT INTO events (create_time, event_type, account_id, resource, actor, \
                     request_id) SELECT $1, 'call_recorded', $2, $3, $4, $7 \
                     UNION ALL SELECT $1, 'dispute_changed', $2, $8, $4, $7 WHERE $8 IS NOT NULL \
                     UNION ALL SELECT $1, 'account_updated', $2, $5, $4, $7 WHERE $6",
                )
                .bind(now)
                .bind(account_id)
                .bind(&resource)
                .bind(by.key.subject)
                .bind(format!("accounts/{account_id}"))
                .bind(changed_account)
                .bind(by.key.request_id)
                .bind(dispute_opened.map(|d| format!("accounts/{account_id}/disputes/{d}")))
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO requests (subject, request_id, method, fingerprint, resource, \
                     response, create_time) VALUES ($1, $2, $3, $4, $5, NULL, $6)",
                )
                .bind(by.key.subject)
                .bind(by.key.request_id)
                .bind(METHOD)
                .bind(fingerprint)
                .bind(&resource)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(sqlx::AssertSqlSafe(crate::view::refresh_sql(pg)))
                    .bind(format!("[{account_id}]"))
                    .execute(&mut *tx)
                    .await?;
                Ok(Some(StoredCall {
                    id,
                    account_id,
                    call: NewCall {
                        start_time: start,
                        override_reason: call
                            .override_reason
                            .clone()
                            .filter(|_| by.override_by.is_some()),
                        ..call.clone()
                    },
                    override_by: by.override_by.map(str::to_owned),
                    agent: by.key.subject.to_owned(),
                    create_time: now,
                }))
            }
            .await;
            match one {
                Err(e) if !refused_call(&e) => return Err(e),
                r => results.push(r),
            }
        }
        tx.commit().await?;
        results
    }))
}

/// A page of an account's calls (`$1`), newest first, at most `$2`, after (`$3`, `$4`) when `after`.
/// The row-value comparison keeps the page on the index (account_id, start_time, id).
pub(crate) fn list_sql(after: bool) -> String {
    let after = if after {
        "AND (start_time, id) < ($3, $4)"
    } else {
        ""
    };
    format!(
        "SELECT {COLUMNS} FROM calls WHERE account_id = $1 {after} \
         ORDER BY start_time DESC, id DESC LIMIT $2"
    )
}

/// SQLite keeps call times as fixed-width RFC 3339 text, so that text order is time order.
fn sqlite_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The digest that tells a retry from another request reusing its key.
fn fingerprint(account_id: i64, call: &NewCall, overridden: bool) -> String {
    let mut c = Canonical::new("call/v1");
    c.display(account_id);
    c.text(call.direction.as_str());
    c.text(&sqlite_time(store_time(call.start_time)));
    c.display(call.duration_ms.unwrap_or(-1));
    c.text(&call.contact_name);
    c.display(i64::from(call.right_party_contact));
    c.text(call.outcome.kind());
    c.text(
        &details(&call.outcome)
            .map(|d| d.to_string())
            .unwrap_or_default(),
    );
    c.text(&call.notes);
    c.text(&call.next_step);
    c.text(call.override_reason.as_deref().unwrap_or(""));
    c.display(i64::from(overridden));
    c.display(call.correction.as_ref().map_or(0, |c| c.call_id));
    c.text(call.correction.as_ref().map_or("", |c| c.reason.as_str()));
    c.finish()
}

/// An outcome's own fields as stored (amounts in minor units; the account's currency is implied).
pub(crate) fn details(outcome: &Outcome) -> Result<Value, StoreError> {
    let money = |m: &Option<Money>| m.map(minor).transpose();
    Ok(match outcome {
        Outcome::NoAnswer | Outcome::WrongParty => json!({}),
        Outcome::LeftMessage { left_with } => json!({ "left_with": left_with }),
        Outcome::PromiseToPay { amount, date } => {
            json!({ "amount": minor(*amount)?, "date": date.to_string() })
        }
        Outcome::PlanAgreed { plan } => json!({ "plan": plan }),
        Outcome::AlreadyPaid {
            reference,
            payment_date,
            amount,
        } => json!({
            "reference": reference,
            "payment_date": payment_date.map(|d| d.to_string()),
            "amount": money(amount)?,
        }),
        Outcome::DisputeRaised {
            invoice_numbers,
            reason,
        } => json!({ "invoice_numbers": invoice_numbers, "reason": reason }),
        Outcome::HardshipClaimed {
            statement,
            claims_to_verify,
            affordable_monthly,
        } => json!({
            "statement": statement,
            "claims_to_verify": claims_to_verify,
            "affordable_monthly": money(affordable_monthly)?,
        }),
        Outcome::InvoiceNotReceived {
            invoice_numbers,
            resend_to,
        } => json!({ "invoice_numbers": invoice_numbers, "resend_to": resend_to }),
        Outcome::RefusedToPay { reason } => json!({ "reason": reason }),
        Outcome::CallbackRequested { time } => {
            json!({ "time": sqlite_time(*time) })
        }
        Outcome::ReferredToAgency { agency } => json!({ "agency": agency }),
    })
}

/// Reads an outcome back from its kind and stored fields.
pub(crate) fn outcome_from(kind: &str, d: &Value, cur: Currency) -> Result<Outcome, StoreError> {
    let bad = || StoreError::Corrupt(format!("call outcome '{kind}': {d}"));
    let text = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
    let list = |k: &str| -> Vec<String> {
        d.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let money = |k: &str| {
        d.get(k)
            .and_then(Value::as_i64)
            .map(|m| Money::from_minor(m, cur))
    };
    let date = |k: &str| text(k).and_then(|s| s.parse::<NaiveDate>().ok());
    Ok(match kind {
        "no_answer" => Outcome::NoAnswer,
        "wrong_party" => Outcome::WrongParty,
        "left_message" => Outcome::LeftMessage {
            left_with: text("left_with").unwrap_or_default(),
        },
        "promise_to_pay" => Outcome::PromiseToPay {
            amount: money("amount").ok_or_else(bad)?,
            date: date("date").ok_or_else(bad)?,
        },
        "plan_agreed" => Outcome::PlanAgreed {
            plan: text("plan").unwrap_or_default(),
        },
        "already_paid" => Outcome::AlreadyPaid {
            reference: text("reference").unwrap_or_default(),
            payment_date: date("payment_date"),
            amount: money("amount"),
        },
        "dispute_raised" => Outcome::DisputeRaised {
            invoice_numbers: list("invoice_numbers"),
            reason: text("reason").unwrap_or_default(),
        },
        "hardship_claimed" => Outcome::HardshipClaimed {
            statement: text("statement").unwrap_or_default(),
            claims_to_verify: list("claims_to_verify"),
            affordable_monthly: money("affordable_monthly"),
        },
        "invoice_not_received" => Outcome::InvoiceNotReceived {
            invoice_numbers: list("invoice_numbers"),
            resend_to: text("resend_to").unwrap_or_default(),
        },
        "refused_to_pay" => Outcome::RefusedToPay {
            reason: text("reason").unwrap_or_default(),
        },
        "callback_requested" => Outcome::CallbackRequested {
            time: text("time")
                .and_then(|t| crate::view::time(&t).ok())
                .ok_or_else(bad)?,
        },
        "referred_to_agency" => Outcome::ReferredToAgency {
            agency: text("agency").unwrap_or_default(),
        },
        _ => return Err(bad()),
    })
}

/// A call row before its amounts are given the account's currency.
pub(crate) struct CallRow {
    pub(crate) id: i64,
    pub(crate) account_id: i64,
    pub(crate) direction: String,
    pub(crate) start_time: DateTime<Utc>,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) contact_name: String,
    pub(crate) right_party: bool,
    pub(crate) outcome: String,
    pub(crate) details: String,
    pub(crate) notes: String,
    pub(crate) next_step: String,
    pub(crate) override_reason: Option<String>,
    pub(crate) override_by: Option<String>,
    pub(crate) corrects: Option<i64>,
    pub(crate) correction_reason: Option<String>,
    pub(crate) agent: String,
    pub(crate) create_time: DateTime<Utc>,
}

fn call_from_row<R>(row: &R) -> Result<CallRow, StoreError>
where
    R: sqlx::Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(CallRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        direction: row.try_get("direction")?,
        start_time: row.try_get("start_time")?,
        duration_ms: row.try_get("duration_ms")?,
        contact_name: row.try_get("contact_name")?,
        right_party: row.try_get("right_party")?,
        outcome: row.try_get("outcome")?,
        details: row.try_get("details")?,
        notes: row.try_get("notes")?,
        next_step: row.try_get("next_step")?,
        override_reason: row.try_get("override_reason")?,
        override_by: row.try_get("override_by")?,
        corrects: row.try_get("corrects")?,
        correction_reason: row.try_get("correction_reason")?,
        agent: row.try_get("agent")?,
        create_time: row.try_get("create_time")?,
    })
}

impl CallRow {
    async fn with_currency(self, store: &Store) -> Result<StoredCall, StoreError> {
        let cur = store
            .account_currency(self.account_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a call without its account".into()))?;
        self.resolve(cur)
    }

    pub(crate) fn resolve(self, cur: Currency) -> Result<StoredCall, StoreError> {
        let details: Value = serde_json::from_str(&self.details)
            .map_err(|e| StoreError::Corrupt(format!("call details: {e}")))?;
        Ok(StoredCall {
            id: self.id,
            account_id: self.account_id,
            call: NewCall {
                direction: Direction::parse(&self.direction).ok_or_else(|| {
                    StoreError::Corrupt(format!("direction '{}'", self.direction))
                })?,
                start_time: self.start_time,
                duration_ms: self.duration_ms,
                contact_name: self.contact_name,
                right_party_contact: self.right_party,
                outcome: outcome_from(&self.outcome, &details, cur)?,
                notes: self.notes,
                next_step: self.next_step,
                override_reason: self.override_reason,
                correction: self.corrects.map(|call_id| Correction {
                    call_id,
                    reason: self.correction_reason.unwrap_or_default(),
                }),
            },
            override_by: self.override_by,
            agent: self.agent,
            create_time: self.create_time,
        })
    }
}

/// Blocks as a plain list, for the error a refused call carries.
pub fn describe(blocks: &[Block]) -> String {
    blocks
        .iter()
        .map(|b| b.description.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}
