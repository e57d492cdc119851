//! Call records: append-only (the database refuses UPDATE and DELETE, migration 0005), recorded by
//! the store's writer task in group commits (`record`); a retry or a concurrent twin finds the first
//! record in the ledger. Reading them back: one call, and an account's calls a page at a time.

mod record;
pub(crate) use record::{CallJob, apply};

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use recoup_domain::call::{Correction, Direction, ImportedCall, NewCall, Outcome};
use recoup_domain::contact::Block;
use recoup_domain::fingerprint::Canonical;
use recoup_domain::floor::{Breach, Rule};
use recoup_domain::policy::Policy;
use recoup_domain::{Currency, Money};
use serde_json::{Value, json};

use crate::change::Written;
use crate::minor;
use crate::requests::{RequestKey, last_id};
use crate::rows::currency;
use crate::writer::{self, Job};
use crate::{Store, StoreError, store_time, with_reader};

/// The ledger's name for RecordCallOutcome.
const METHOD: &str = "RecordCallOutcome";
/// Outbound calls the contact rules look back over: enough for any valid policy.
pub const RULE_HISTORY: i64 = recoup_domain::policy::limits::MOST_CALLS_COUNTED as i64;

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
    /// The rules it broke, judged at its start (outbound calls of recoup's own only).
    pub breaches: Vec<Breach>,
}

/// A call recorded, or the retry of one (answered with the first record).
pub type CallOutcome = Written<StoredCall>;

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
     correction_reason, agent, create_time, claim_id, breaches, origin, crm_id, asked_not_to_call";

/// A call row has not been replaced by a correction.
pub(crate) const CURRENT: &str = "NOT EXISTS (SELECT 1 FROM calls x WHERE x.corrects = c.id)";

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
            Job::Call(Box::new(CallJob {
                subject: by.key.subject.to_owned(),
                request_id: by.key.request_id.to_owned(),
                override_by: by.override_by.map(str::to_owned),
                account_id,
                // Judged and kept to the microsecond, as stored, like `now`.
                call: NewCall {
                    start_time: store_time(call.start_time),
                    ..call.clone()
                },
                fingerprint: fingerprint.clone(),
                policy: policy.clone(),
                now: store_time(now),
                reply,
            }))
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
        self.replay(key, METHOD, fingerprint, |r| async move {
            match last_id(&r) {
                Some(id) => self.get_call(id).await,
                None => Ok(None),
            }
        })
        .await
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

/// Calls that broke a rule, newest recorded first, at most `$1`, by agent `$2` when `by_agent`,
/// before call id `$2`/`$3` when `before`; each with its account's currency. A walk of the partial
/// index `calls_breached`.
pub(crate) fn breaches_sql(by_agent: bool, before: bool) -> String {
    let mut n = 1;
    let mut next = || {
        n += 1;
        n
    };
    let agent = if by_agent {
        format!("AND c.agent = ${}", next())
    } else {
        String::new()
    };
    let before = if before {
        format!("AND c.id < ${}", next())
    } else {
        String::new()
    };
    format!(
        "SELECT c.*, (SELECT a.currency_code FROM accounts a WHERE a.id = c.account_id) \
         AS currency_code FROM calls c WHERE c.breaches IS NOT NULL {agent} {before} \
         ORDER BY c.id DESC LIMIT $1"
    )
}

impl Store {
    /// Calls that broke a rule, newest recorded first: by `agent` when given, before call id
    /// `before`, at most `limit`.
    pub async fn list_breaches(
        &self,
        agent: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<StoredCall>, StoreError> {
        let sql = breaches_sql(agent.is_some(), before.is_some());
        Ok(with_reader!(&self.backend, |pool, pg| {
            let q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(limit);
            let q = match agent {
                Some(a) => q.bind(a.to_owned()),
                None => q,
            };
            let q = match before {
                Some(b) => q.bind(b),
                None => q,
            };
            let mut out = Vec::new();
            for r in q.fetch_all(pool).await? {
                let cur = currency(&sqlx::Row::try_get::<String, _>(&r, "currency_code")?)?;
                out.push(call_from_row(&r)?.resolve(cur)?);
            }
            out
        }))
    }
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
pub(crate) fn sqlite_time(t: DateTime<Utc>) -> String {
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
    // Only when set, so the digests of calls recorded before them stay as they were.
    if let Some(claim) = call.claim_id {
        c.text("claim").display(claim);
    }
    if let Some(words) = &call.asked_not_to_call {
        c.text("asked_not_to_call").text(words);
    }
    c.finish()
}

/// The outcome's fields the rules read, kept as columns of the call: a promise's amount (minor
/// units) and date, a callback's time.
pub(crate) type RuleColumns = (Option<i64>, Option<NaiveDate>, Option<DateTime<Utc>>);

pub(crate) fn rule_columns(outcome: &Outcome) -> Result<RuleColumns, StoreError> {
    Ok(match outcome {
        Outcome::PromiseToPay { amount, date } => (Some(minor(*amount)?), Some(*date), None),
        Outcome::CallbackRequested { time } => (None, None, Some(store_time(*time))),
        _ => (None, None, None),
    })
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
    pub(crate) claim_id: Option<i64>,
    pub(crate) breaches: Option<String>,
    pub(crate) origin: String,
    pub(crate) crm_id: Option<String>,
    pub(crate) asked_not_to_call: Option<String>,
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
        claim_id: row.try_get("claim_id")?,
        breaches: row.try_get("breaches")?,
        origin: row.try_get("origin")?,
        crm_id: row.try_get("crm_id")?,
        asked_not_to_call: row.try_get("asked_not_to_call")?,
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
                claim_id: self.claim_id,
                asked_not_to_call: self.asked_not_to_call,
                imported: match (self.origin.as_str(), self.crm_id) {
                    ("import", Some(crm_id)) => Some(ImportedCall {
                        crm_id,
                        agent: self.agent.clone(),
                    }),
                    _ => None,
                },
            },
            override_by: self.override_by,
            agent: self.agent,
            create_time: self.create_time,
            breaches: breaches_from(self.breaches.as_deref(), self.start_time)?,
        })
    }
}

/// A call's breaches as stored: a JSON array of `[rule, detail]`, or NULL for none.
pub(crate) fn breaches_json(breaches: &[Breach]) -> Option<String> {
    (!breaches.is_empty()).then(|| {
        Value::Array(
            breaches
                .iter()
                .map(|b| json!([b.rule.as_str(), b.detail]))
                .collect(),
        )
        .to_string()
    })
}

fn breaches_from(stored: Option<&str>, start: DateTime<Utc>) -> Result<Vec<Breach>, StoreError> {
    let Some(stored) = stored else {
        return Ok(Vec::new());
    };
    let bad = || StoreError::Corrupt(format!("call breaches: {stored}"));
    let rows: Vec<(String, String)> = serde_json::from_str(stored).map_err(|_| bad())?;
    rows.into_iter()
        .map(|(rule, detail)| {
            Ok(Breach {
                rule: Rule::parse(&rule).ok_or_else(bad)?,
                detail,
                at: start,
            })
        })
        .collect()
}

/// Blocks as a plain list, for the error a refused call carries.
pub fn describe(blocks: &[Block]) -> String {
    blocks
        .iter()
        .map(|b| b.description.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}
