//! The creditor's history brought in from its CRM (migration 0016): past calls and letters sent,
//! each kept once by the CRM's id on its account. Imported calls are marked `import` and carry
//! no outcome effects of their own (the CRM's status, cease flag and dispute marks come in with
//! the accounts); they count for the category, promise and escalation rules like any other call.

use chrono::{DateTime, NaiveDate, Utc};
use recoup_domain::call::NewCall;

use crate::calls::{details, rule_columns, sqlite_time};
use crate::change::{Change, Event, begin_change};
use crate::plans::{DetailJson, LIVE, PlanDetail};
use crate::requests::RequestKey;
use crate::{Store, StoreError, retrying, store_time, with_writer};

/// The payment a plan agreed on `$2` is tracked after, on account `$1`: the one before the first
/// payment dated from that day on, or the newest when none is.
const PLAN_START_SQL: &str = "SELECT COALESCE(\
     (SELECT MIN(id) - 1 FROM payments WHERE account_id = $1 AND payment_date >= $2), \
     (SELECT MAX(id) FROM payments WHERE account_id = $1), 0)";

/// A letter the CRM sent before recoup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastLetter {
    pub crm_id: String,
    /// The letter's stored kind (`first_reminder`, …).
    pub kind: &'static str,
    pub sent: DateTime<Utc>,
    pub subject: String,
}

/// A payment plan agreed in the CRM and still running: it becomes the account's live plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastPlan {
    pub crm_id: String,
    /// As agreed, with its schedule; never judged against today's policy.
    pub detail: PlanDetail,
    /// When it was agreed and signed.
    pub agreed: DateTime<Utc>,
    /// The debtor's date it was agreed on: payments dated from then on count towards it.
    pub agreed_on: NaiveDate,
    pub signatory: String,
}

/// One record of the history, on its account.
#[derive(Debug, Clone)]
pub enum PastRecord {
    /// A call with `imported` set.
    Call(Box<NewCall>),
    Letter(PastLetter),
    Plan(Box<PastPlan>),
}

/// What became of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PastOutcome {
    Created,
    /// Its CRM id was imported on the account before: nothing written.
    Unchanged,
    /// What is stored refuses it (a plan onto an account that has a live plan); nothing written.
    Refused(String),
}

impl Store {
    /// Writes `records` (each with its account id) in one transaction, as `by` at `now`.
    pub async fn import_history(
        &self,
        by: RequestKey<'_>,
        records: &[(i64, PastRecord)],
        now: DateTime<Utc>,
    ) -> Result<Vec<PastOutcome>, StoreError> {
        let now = store_time(now);
        retrying!(&self.backend, async {
            Ok(with_writer!(&self.backend, |pool, pg| {
                let mut tx = begin_change!(pool, pg, &self.feed, "history");
                let mut change: Option<Change> = None;
                let mut out = Vec::with_capacity(records.len());
                for (account_id, record) in records {
                    let (kind, id): (&str, Option<i64>) = match record {
                        PastRecord::Call(call) => {
                            let crm = call.imported.as_ref().ok_or_else(|| {
                                StoreError::Corrupt("a past call without its CRM id".into())
                            })?;
                            let start = store_time(call.start_time);
                            let (promise_minor, promise_date, callback) =
                                rule_columns(&call.outcome)?;
                            let q = sqlx::query_scalar(
                            "INSERT INTO calls (account_id, direction, start_time, duration_ms, \
                             contact_name, right_party, outcome, details, promise_minor, \
                             promise_date, callback_time, notes, next_step, agent, create_time, \
                             origin, crm_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                             $11, $12, $13, $14, $15, 'import', $16) \
                             ON CONFLICT DO NOTHING RETURNING id",
                        )
                        .bind(*account_id)
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
                                q.bind(callback)
                            } else {
                                q.bind(callback.map(sqlite_time))
                            };
                            let id: Option<i64> = q
                                .bind(&call.notes)
                                .bind(&call.next_step)
                                .bind(&crm.agent)
                                .bind(now)
                                .bind(&crm.crm_id)
                                .fetch_optional(&mut *tx)
                                .await?;
                            ("call", id)
                        }
                        PastRecord::Letter(l) => {
                            let id: Option<i64> = sqlx::query_scalar(
                                "INSERT INTO letters (account_id, kind, locale, plan_id, subject, \
                             body_text, body_markdown, created_by, create_time, crm_id) \
                             VALUES ($1, $2, '', NULL, $3, '', '', $4, $5, $6) \
                             ON CONFLICT DO NOTHING RETURNING id",
                            )
                            .bind(*account_id)
                            .bind(l.kind)
                            .bind(&l.subject)
                            .bind(by.subject)
                            .bind(store_time(l.sent))
                            .bind(&l.crm_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                            ("letter", id)
                        }
                        PastRecord::Plan(plan) => {
                            let seen: Option<i64> = sqlx::query_scalar(
                                "SELECT id FROM plans WHERE account_id = $1 AND crm_id = $2",
                            )
                            .bind(*account_id)
                            .bind(&plan.crm_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                            let live: Option<i64> =
                                sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                                    "SELECT id FROM plans WHERE account_id = $1 AND state IN {LIVE}"
                                )))
                                .bind(*account_id)
                                .fetch_optional(&mut *tx)
                                .await?;
                            match (seen, live) {
                                (Some(_), _) => ("plan", None),
                                (None, Some(live)) => {
                                    out.push(PastOutcome::Refused(format!(
                                        "the account already has a live plan, \
                                     accounts/{account_id}/plans/{live}"
                                    )));
                                    continue;
                                }
                                (None, None) => {
                                    let detail = serde_json::to_string(&DetailJson::from_detail(
                                        &plan.detail,
                                    )?)
                                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                                    let after: i64 = sqlx::query_scalar(PLAN_START_SQL)
                                        .bind(*account_id)
                                        .bind(plan.agreed_on)
                                        .fetch_one(&mut *tx)
                                        .await?;
                                    let agreed = store_time(plan.agreed);
                                    let id: i64 = sqlx::query_scalar(
                                        "INSERT INTO plans (account_id, state, detail, agreement, \
                                     after_payment_id, proposed_by, signatory, sign_time, \
                                     create_time, crm_id) \
                                     VALUES ($1, 'active', $2, $3, $4, $5, $6, $7, $7, $8) \
                                     RETURNING id",
                                    )
                                    .bind(*account_id)
                                    .bind(&detail)
                                    .bind(format!(
                                        "Agreed in the creditor's CRM (plan {}) on {}; its written \
                                     agreement is kept there.",
                                        plan.crm_id, plan.agreed_on
                                    ))
                                    .bind(after)
                                    .bind(by.subject)
                                    .bind(&plan.signatory)
                                    .bind(agreed)
                                    .bind(&plan.crm_id)
                                    .fetch_one(&mut *tx)
                                    .await?;
                                    ("plan", Some(id))
                                }
                            }
                        }
                    };
                    match id {
                        None => out.push(PastOutcome::Unchanged),
                        Some(id) => {
                            let (event, resource) = match kind {
                                "call" => {
                                    ("call_recorded", format!("accounts/{account_id}/calls/{id}"))
                                }
                                "plan" => {
                                    ("plan_changed", format!("accounts/{account_id}/plans/{id}"))
                                }
                                _ => (
                                    "letter_rendered",
                                    format!("accounts/{account_id}/letters/{id}"),
                                ),
                            };
                            Change::record(
                                &mut change,
                                Event::by(by, now, event, *account_id, resource),
                            )
                            .rebuild(*account_id);
                            out.push(PastOutcome::Created);
                        }
                    }
                }
                if let Some(change) = change {
                    tx.commit(change).await?;
                }
                out
            }))
        })
    }
}
