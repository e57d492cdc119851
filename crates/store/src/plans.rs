//! Payment plans (migration 0013). A plan is written once with what was agreed (`detail`) and its
//! written agreement; later changes only move its state (approved, signed, ended) and each is one
//! transaction holding the account, ended by the write epilogue (`change`: its ledger entry,
//! `plan_changed` event and the account's view). The database holds each account to one live plan (a unique partial index). Payments
//! recorded after a plan was agreed (ids above `after_payment_id`) are what it is tracked against
//! (`recoup_domain::plan::track`), on every read.

use chrono::{DateTime, NaiveDate, Utc};
use recoup_domain::money::Currency;
use recoup_domain::plan::Proposal;
use recoup_domain::plan::state::{ApprovalRefused, PlanState, may_approve};
use recoup_domain::plan::track::Receipt;
use recoup_domain::schedule::{Frequency, Payment};
use recoup_domain::{Money, Violations};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ConflictKind;
use crate::change::{Change, Event, Written, begin_change, hold_account, seen};
use crate::requests::{RequestKey, last_id};
use crate::rows::{RowExt, currency};
use crate::{Store, StoreError, minor, retrying, store_time, with_reader, with_writer};

const CREATE: &str = "CreatePlan";
const APPROVE: &str = "ApprovePlan";
const SIGN: &str = "RecordPlanSignature";

/// What was agreed; never changes once recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanDetail {
    pub proposal: Proposal,
    pub affordable_monthly: Option<Money>,
    /// What the plan settles: the collectable balance when it was agreed (plus interest when
    /// policy adds it).
    pub balance: Money,
    /// Statutory interest and compensation included in `balance`.
    pub interest: Option<Money>,
    pub schedule: Vec<Payment>,
    pub total: Money,
    /// What a settlement forgoes.
    pub discount: Option<Money>,
}

/// A recorded plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPlan {
    pub id: i64,
    pub account_id: i64,
    /// The debtor's time zone: the plan is tracked on the debtor's calendar.
    pub time_zone: chrono_tz::Tz,
    /// As stored: an active plan's standing (on track, broken, completed) is judged from its
    /// receipts; the background pass records the end.
    pub state: PlanState,
    pub detail: PlanDetail,
    /// The written agreement; empty when read from the account view (GetPlan has it).
    pub agreement: String,
    pub proposed_by: String,
    /// The least role that may approve it, when it needed approval.
    pub approval_role: Option<String>,
    pub approved_by: Option<String>,
    pub approve_time: Option<DateTime<Utc>>,
    pub signatory: Option<String>,
    pub sign_time: Option<DateTime<Utc>>,
    pub create_time: DateTime<Utc>,
    pub end_reason: Option<String>,
    pub end_time: Option<DateTime<Utc>>,
    /// For a plan that broke: the instalments missed and the arrears on the day it broke (unknown for
    /// plans that broke before recoup recorded them).
    pub end_missed: Option<u32>,
    pub end_arrears: Option<Money>,
    /// Payments recorded after it was agreed (and, once it ended, before), oldest first.
    pub receipts: Vec<Receipt>,
}

impl StoredPlan {
    pub fn name(&self) -> String {
        format!("accounts/{}/plans/{}", self.account_id, self.id)
    }
}

/// A plan to record.
pub struct NewPlan<'a> {
    pub detail: &'a PlanDetail,
    /// The collectable balance the plan was judged against; if the account's differs when the
    /// plan is written, nothing is written (`Conflict`).
    pub judged_balance: Money,
    pub approval_role: Option<&'a str>,
    /// Required to replace a live plan.
    pub supersede_reason: Option<&'a str>,
    /// The request's fingerprint (for retries).
    pub fingerprint: &'a str,
    /// Renders the written agreement of the plan with this resource name.
    pub agreement: &'a (dyn Fn(&str) -> Result<String, String> + Sync),
}

/// A plan change, or the retry of one (answered with the plan as it is now).
pub type PlanOutcome = Written<StoredPlan>;

/// The detail as stored: amounts in minor units of the account's currency, dates ISO 8601.
#[derive(Serialize, Deserialize)]
pub(crate) struct DetailJson {
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    amount: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    frequency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    first: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    down: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    discount_percent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    affordable: Option<i64>,
    balance: i64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    interest: Option<i64>,
    schedule: Vec<(String, i64)>,
    total: i64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    discount: Option<i64>,
}

fn frequency_text(f: Frequency) -> &'static str {
    match f {
        Frequency::Weekly => "weekly",
        Frequency::Fortnightly => "fortnightly",
        Frequency::Monthly => "monthly",
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("plan detail: {what}"))
}

impl DetailJson {
    pub(crate) fn from_detail(d: &PlanDetail) -> Result<DetailJson, StoreError> {
        let mut j = DetailJson {
            kind: String::new(),
            amount: None,
            frequency: None,
            first: None,
            down: None,
            discount_percent: None,
            by: None,
            affordable: d.affordable_monthly.map(minor).transpose()?,
            balance: minor(d.balance)?,
            interest: d.interest.map(minor).transpose()?,
            schedule: d
                .schedule
                .iter()
                .map(|p| Ok((p.due.to_string(), minor(p.amount)?)))
                .collect::<Result<_, StoreError>>()?,
            total: minor(d.total)?,
            discount: d.discount.map(minor).transpose()?,
        };
        match &d.proposal {
            Proposal::PayInFull { by } => {
                (j.kind, j.by) = ("pay_in_full".into(), Some(by.to_string()))
            }
            Proposal::Extension { by } => {
                (j.kind, j.by) = ("extension".into(), Some(by.to_string()))
            }
            Proposal::Instalments {
                amount,
                frequency,
                first,
            } => {
                j.kind = "instalments".into();
                j.amount = Some(minor(*amount)?);
                j.frequency = Some(frequency_text(*frequency).into());
                j.first = Some(first.to_string());
            }
            Proposal::DownPayment {
                down,
                amount,
                frequency,
                first,
            } => {
                j.kind = "down_payment".into();
                j.down = Some(minor(*down)?);
                j.amount = Some(minor(*amount)?);
                j.frequency = Some(frequency_text(*frequency).into());
                j.first = Some(first.to_string());
            }
            Proposal::Settlement {
                discount_percent,
                by,
            } => {
                j.kind = "settlement".into();
                j.discount_percent = Some(discount_percent.to_string());
                j.by = Some(by.to_string());
            }
        }
        Ok(j)
    }

    pub(crate) fn into_detail(self, cur: Currency) -> Result<PlanDetail, StoreError> {
        let money = |m: i64| Money::from_minor(m, cur);
        let frequency = || match self.frequency.as_deref() {
            Some("weekly") => Ok(Frequency::Weekly),
            Some("fortnightly") => Ok(Frequency::Fortnightly),
            Some("monthly") => Ok(Frequency::Monthly),
            _ => Err(corrupt("frequency")),
        };
        let day = |d: Option<&str>| {
            d.and_then(|t| t.parse::<NaiveDate>().ok())
                .ok_or_else(|| corrupt("date"))
        };
        let by = || day(self.by.as_deref());
        let first = || day(self.first.as_deref());
        let amount = || self.amount.map(money).ok_or_else(|| corrupt("amount"));
        let proposal = match self.kind.as_str() {
            "pay_in_full" => Proposal::PayInFull { by: by()? },
            "extension" => Proposal::Extension { by: by()? },
            "instalments" => Proposal::Instalments {
                amount: amount()?,
                frequency: frequency()?,
                first: first()?,
            },
            "down_payment" => Proposal::DownPayment {
                down: self
                    .down
                    .map(money)
                    .ok_or_else(|| corrupt("down payment"))?,
                amount: amount()?,
                frequency: frequency()?,
                first: first()?,
            },
            "settlement" => Proposal::Settlement {
                discount_percent: self
                    .discount_percent
                    .as_deref()
                    .and_then(|p| p.parse::<Decimal>().ok())
                    .ok_or_else(|| corrupt("discount"))?,
                by: by()?,
            },
            other => return Err(corrupt(other)),
        };
        Ok(PlanDetail {
            proposal,
            affordable_monthly: self.affordable.map(money),
            balance: money(self.balance),
            interest: self.interest.map(money),
            schedule: self
                .schedule
                .iter()
                .map(|(due, m)| {
                    Ok(Payment {
                        due: day(Some(due))?,
                        amount: money(*m),
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            total: money(self.total),
            discount: self.discount.map(money),
        })
    }
}

pub(crate) fn parse_state(s: &str) -> Result<PlanState, StoreError> {
    PlanState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("plan state '{s}'")))
}

pub(crate) const LIVE: &str = "('awaiting_approval', 'awaiting_signature', 'active')";

/// The change a plan write made: `plan_changed` for each plan named (the first is the one the
/// request wrote, named in its ledger row), then `account_updated`, with the account's update time
/// and view.
fn plan_change(
    key: RequestKey<'_>,
    method: &str,
    fingerprint: &str,
    account_id: i64,
    plan_ids: &[i64],
    now: DateTime<Utc>,
) -> (Change, String) {
    let account = format!("accounts/{account_id}");
    let resource = format!("{account}/plans/{}", plan_ids[0]);
    let mut change = Change::new(Event::by(key, now, "plan_changed", account_id, &resource));
    for id in &plan_ids[1..] {
        change.event(Event::by(
            key,
            now,
            "plan_changed",
            account_id,
            format!("{account}/plans/{id}"),
        ));
    }
    change
        .event(Event::by(key, now, "account_updated", account_id, account))
        .request(key, method, fingerprint, &resource, now)
        .touch(account_id, now);
    (change, resource)
}

/// The payment id plans count from: the account's newest payment (0 when none).
macro_rules! last_payment {
    ($tx:expr, $account_id:expr) => {{
        let id: Option<i64> =
            sqlx::query_scalar("SELECT MAX(id) FROM payments WHERE account_id = $1")
                .bind($account_id)
                .fetch_one(&mut *$tx)
                .await?;
        id.unwrap_or(0)
    }};
}

/// Inside a write transaction: while account `$account_id`'s active plan is on track on the
/// debtor's day `$today`, the day collection calls may resume (the courtesy window before its next
/// instalment); `None` otherwise.
macro_rules! active_plan_quiet {
    ($tx:expr, $account_id:expr, $cur:expr, $today:expr, $policy:expr) => {{
        let plan: Option<(String, i64)> = sqlx::query_as(
            "SELECT detail, after_payment_id FROM plans WHERE account_id = $1 AND state = 'active'",
        )
        .bind($account_id)
        .fetch_optional(&mut *$tx)
        .await?;
        match plan {
            None => None,
            Some((detail, after)) => {
                let detail: $crate::plans::DetailJson = serde_json::from_str(&detail)
                    .map_err(|e| $crate::StoreError::Corrupt(format!("plan detail: {e}")))?;
                let detail = detail.into_detail($cur)?;
                let paid: Vec<(chrono::NaiveDate, i64)> = sqlx::query_as(
                    "SELECT payment_date, amount_minor FROM payments \
                     WHERE account_id = $1 AND id > $2 ORDER BY id",
                )
                .bind($account_id)
                .bind(after)
                .fetch_all(&mut *$tx)
                .await?;
                let receipts: Vec<recoup_domain::plan::track::Receipt> = paid
                    .into_iter()
                    .map(|(date, m)| recoup_domain::plan::track::Receipt {
                        date,
                        amount: recoup_domain::Money::from_minor(m, $cur),
                    })
                    .collect();
                recoup_domain::plan::track::track(&detail.schedule, &receipts, $today, $policy)
                    .and_then(|t| t.quiet_until($policy))
            }
        }
    }};
}
pub(crate) use active_plan_quiet;

/// Accounts after `$1` with an active plan, at most `$2`.
pub(crate) const ACTIVE_SQL: &str = "SELECT account_id FROM plans WHERE state = 'active' \
     AND account_id > $1 ORDER BY account_id LIMIT $2";

impl Store {
    /// The plan a request recorded, if `key` was seen with the same request (`RequestIdReused`
    /// when with another).
    pub async fn replay_plan(
        &self,
        key: RequestKey<'_>,
        method: &str,
        fingerprint: &str,
    ) -> Result<Option<StoredPlan>, StoreError> {
        self.replay(key, method, fingerprint, |r| self.plan_named(r))
            .await
    }

    /// The plan named by `resource` (`accounts/{a}/plans/{p}`).
    async fn plan_named(&self, resource: String) -> Result<Option<StoredPlan>, StoreError> {
        match plan_ids(&resource) {
            Some((account, id)) => self.get_plan(account, id).await,
            None => Ok(None),
        }
    }

    /// Records a plan agreed on account `account_id`, idempotently by `key`: awaiting approval when
    /// `approval_role` is set, else awaiting the signature. A live plan is replaced (cancelled,
    /// with the reason) only when `supersede_reason` is given.
    ///
    /// Errors: `NotFound` (no account), `Conflict` (a live plan and no reason to replace it; the
    /// balance changed since the plan was judged), `RequestIdReused`, `Invalid` (the agreement
    /// could not be rendered).
    pub async fn create_plan(
        &self,
        key: RequestKey<'_>,
        account_id: i64,
        new: &NewPlan<'_>,
        now: DateTime<Utc>,
    ) -> Result<PlanOutcome, StoreError> {
        if let Some(found) = self.replay_plan(key, CREATE, new.fingerprint).await? {
            return Ok(PlanOutcome::Replayed(found));
        }
        let now = store_time(now);
        let detail = serde_json::to_string(&DetailJson::from_detail(new.detail)?)
            .map_err(|e| corrupt(&e.to_string()))?;
        let state = recoup_domain::plan::state::initial(new.approval_role.is_some());
        let written: Result<Option<String>, StoreError> = retrying!(&self.backend, async {
            Ok(with_writer!(&self.backend, |pool, pg| {
                let mut tx = begin_change!(pool, pg, &self.feed, "plan");
                let (cur, _) = hold_account!(tx, pg, account_id);
                if seen!(tx, key) {
                    None
                } else {
                    let collectable: Option<i64> = sqlx::query_scalar(
                        "SELECT CAST(SUM(outstanding_minor) AS BIGINT) FROM invoices WHERE account_id = $1 \
                         AND outstanding_minor > 0 AND NOT disputed",
                    )
                    .bind(account_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    if Money::from_minor(collectable.unwrap_or(0), cur) != new.judged_balance {
                        return Err(StoreError::conflict(
                            ConflictKind::BalanceChanged,
                            format!("accounts/{account_id}"),
                            format!(
                                "accounts/{account_id}'s balance changed while the plan was being \
                                 made; validate the plan again"
                            ),
                        ));
                    }
                    let live: Option<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT id, state FROM plans WHERE account_id = $1 AND state IN {LIVE}"
                    )))
                    .bind(account_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let last = last_payment!(tx, account_id);
                    let mut changed = Vec::new();
                    if let Some((old, old_state)) = live {
                        let Some(reason) = new.supersede_reason else {
                            return Err(StoreError::conflict(
                                ConflictKind::PlanLive,
                                format!("accounts/{account_id}/plans/{old}"),
                                format!(
                                    "accounts/{account_id}/plans/{old} is still live ({}); to \
                                     replace it, give supersede_reason",
                                    old_state.replace('_', " ")
                                ),
                            ));
                        };
                        sqlx::query(
                            "UPDATE plans SET state = 'cancelled', end_reason = $2, \
                             end_time = $3, end_payment_id = $4 WHERE id = $1",
                        )
                        .bind(old)
                        .bind(format!("replaced by a new plan: {reason}"))
                        .bind(now)
                        .bind(last)
                        .execute(&mut *tx)
                        .await?;
                        changed.push(old);
                    }
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO plans (account_id, state, detail, agreement, after_payment_id, \
                         proposed_by, approval_role, create_time) \
                         VALUES ($1, $2, $3, '', $4, $5, $6, $7) RETURNING id",
                    )
                    .bind(account_id)
                    .bind(state.as_str())
                    .bind(&detail)
                    .bind(last)
                    .bind(key.subject)
                    .bind(new.approval_role)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    let agreement = (new.agreement)(&format!("accounts/{account_id}/plans/{id}"))
                        .map_err(|e| {
                        let mut v = Violations::new();
                        v.push("proposal", format!("the written agreement failed: {e}"));
                        StoreError::Invalid(v)
                    })?;
                    sqlx::query("UPDATE plans SET agreement = $2 WHERE id = $1")
                        .bind(id)
                        .bind(agreement)
                        .execute(&mut *tx)
                        .await?;
                    changed.insert(0, id);
                    let (change, resource) =
                        plan_change(key, CREATE, new.fingerprint, account_id, &changed, now);
                    tx.commit(change).await?;
                    Some(resource)
                }
            }))
        });
        self.after_plan_write(written, account_id, key, CREATE, new.fingerprint)
            .await
    }

    /// Approves plan `plan_id`, idempotently by `key`; the approver (`key.subject`) may not be its
    /// proposer, and the caller checked the role. The plan then awaits the signature.
    ///
    /// Errors: `NotFound`, `Conflict` (own proposal; not awaiting approval),
    /// `RequestIdReused`.
    pub async fn approve_plan(
        &self,
        key: RequestKey<'_>,
        account_id: i64,
        plan_id: i64,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<PlanOutcome, StoreError> {
        self.move_plan(key, account_id, plan_id, APPROVE, fingerprint, now, None)
            .await
    }

    /// Records the debtor's signature on plan `plan_id` (`signatory`, `sign_time`), idempotently
    /// by `key`; the plan becomes active.
    ///
    /// Errors: `NotFound`, `Conflict` (not awaiting the signature), `RequestIdReused`.
    pub async fn sign_plan(
        &self,
        key: RequestKey<'_>,
        account_id: i64,
        plan_id: i64,
        signed: (&str, DateTime<Utc>),
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<PlanOutcome, StoreError> {
        self.move_plan(
            key,
            account_id,
            plan_id,
            SIGN,
            fingerprint,
            now,
            Some(signed),
        )
        .await
    }

    /// Approval (`signed` None) or signature.
    #[allow(clippy::too_many_arguments)]
    async fn move_plan(
        &self,
        key: RequestKey<'_>,
        account_id: i64,
        plan_id: i64,
        method: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        signed: Option<(&str, DateTime<Utc>)>,
    ) -> Result<PlanOutcome, StoreError> {
        if let Some(found) = self.replay_plan(key, method, fingerprint).await? {
            return Ok(PlanOutcome::Replayed(found));
        }
        let now = store_time(now);
        let written: Result<Option<String>, StoreError> = retrying!(&self.backend, async {
            Ok(with_writer!(&self.backend, |pool, pg| {
                let mut tx = begin_change!(pool, pg, &self.feed, "plan");
                hold_account!(tx, pg, account_id);
                if seen!(tx, key) {
                    None
                } else {
                    let row: Option<(String, String)> = sqlx::query_as(
                        "SELECT state, proposed_by FROM plans WHERE id = $1 AND account_id = $2",
                    )
                    .bind(plan_id)
                    .bind(account_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((state, proposer)) = row else {
                        return Err(StoreError::NotFound);
                    };
                    let state = parse_state(&state)?;
                    let name = format!("accounts/{account_id}/plans/{plan_id}");
                    match signed {
                        None => {
                            match may_approve(state, &proposer, key.subject) {
                                Ok(()) => {}
                                Err(ApprovalRefused::OwnProposal) => {
                                    return Err(StoreError::conflict(
                                        ConflictKind::SelfApproval,
                                        &name,
                                        format!(
                                            "{name} was proposed by you: another supervisor \
                                             must approve it"
                                        ),
                                    ));
                                }
                                Err(ApprovalRefused::NotAwaiting(s)) => {
                                    return Err(StoreError::conflict(
                                        ConflictKind::State,
                                        &name,
                                        format!(
                                            "{name} does not await approval (it is {})",
                                            s.as_str().replace('_', " ")
                                        ),
                                    ));
                                }
                            }
                            sqlx::query(
                                "UPDATE plans SET state = 'awaiting_signature', approved_by = $2, \
                                 approve_time = $3 WHERE id = $1",
                            )
                            .bind(plan_id)
                            .bind(key.subject)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        }
                        Some((signatory, sign_time)) => {
                            if state != PlanState::AwaitingSignature {
                                return Err(StoreError::conflict(
                                    ConflictKind::State,
                                    &name,
                                    format!(
                                        "{name} does not await a signature (it is {})",
                                        state.as_str().replace('_', " ")
                                    ),
                                ));
                            }
                            sqlx::query(
                                "UPDATE plans SET state = 'active', signatory = $2, \
                                 sign_time = $3 WHERE id = $1",
                            )
                            .bind(plan_id)
                            .bind(signatory)
                            .bind(store_time(sign_time))
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                    let (change, resource) =
                        plan_change(key, method, fingerprint, account_id, &[plan_id], now);
                    tx.commit(change).await?;
                    Some(resource)
                }
            }))
        });
        self.after_plan_write(written, account_id, key, method, fingerprint)
            .await
    }

    /// Answers a plan write: the plan it wrote, or the one the first request with its key wrote.
    async fn after_plan_write(
        &self,
        written: Result<Option<String>, StoreError>,
        account_id: i64,
        key: RequestKey<'_>,
        method: &str,
        fingerprint: &str,
    ) -> Result<PlanOutcome, StoreError> {
        self.settle(written, key, method, fingerprint, |r| self.plan_named(r))
            .await
            .map_err(|e| {
                if e.is_unique_violation() {
                    // A rival plan for the account committed first: the database kept one live plan.
                    StoreError::conflict(
                        ConflictKind::PlanLive,
                        format!("accounts/{account_id}"),
                        format!(
                            "accounts/{account_id} got another live plan meanwhile; read it and, \
                             to replace it, give supersede_reason"
                        ),
                    )
                } else {
                    e
                }
            })
    }

    /// Plan `plan_id` of account `account_id`, with the payments that count towards it.
    pub async fn get_plan(
        &self,
        account_id: i64,
        plan_id: i64,
    ) -> Result<Option<StoredPlan>, StoreError> {
        Ok(self
            .plans_of(account_id, Some(plan_id), i64::MAX, 1)
            .await?
            .pop())
    }

    /// Account `account_id`'s plans with ids below `before`, newest first, at most `limit`.
    pub async fn list_plans(
        &self,
        account_id: i64,
        before: i64,
        limit: i64,
    ) -> Result<Vec<StoredPlan>, StoreError> {
        self.plans_of(account_id, None, before, limit).await
    }

    async fn plans_of(
        &self,
        account_id: i64,
        only: Option<i64>,
        before: i64,
        limit: i64,
    ) -> Result<Vec<StoredPlan>, StoreError> {
        with_reader!(&self.backend, |pool, pg| {
            let rows = sqlx::query(
                "SELECT p.*, a.currency_code, a.time_zone FROM plans p \
                 JOIN accounts a ON a.id = p.account_id \
                 WHERE p.account_id = $1 AND ($2 IS NULL OR p.id = $2) AND p.id < $3 \
                 ORDER BY p.id DESC LIMIT $4",
            )
            .bind(account_id)
            .bind(only)
            .bind(before)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            let Some(oldest) = rows
                .iter()
                .map(|r| r.int("after_payment_id"))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .min()
            else {
                return Ok(Vec::new());
            };
            let payments: Vec<(i64, NaiveDate, i64)> = sqlx::query_as(
                "SELECT id, payment_date, amount_minor FROM payments \
                 WHERE account_id = $1 AND id > $2 ORDER BY id",
            )
            .bind(account_id)
            .bind(oldest)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    let cur = currency(&r.text("currency_code")?)?;
                    let (after, until) = (r.int("after_payment_id")?, r.opt_int("end_payment_id")?);
                    let receipts = payments
                        .iter()
                        .filter(|(id, _, _)| *id > after && until.is_none_or(|u| *id <= u))
                        .map(|(_, date, m)| Receipt {
                            date: *date,
                            amount: Money::from_minor(*m, cur),
                        })
                        .collect();
                    plan_row(r, cur, receipts)
                })
                .collect()
        })
    }

    /// Accounts (after `after`, in id order, at most `limit`) with an active plan, whose standing
    /// the background pass judges.
    pub async fn accounts_with_active_plans(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<i64>, StoreError> {
        Ok(with_reader!(&self.backend, |pool, pg| {
            sqlx::query_scalar(ACTIVE_SQL)
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Records how active plan `plan_id` ended, and its `plan_changed` event; false when it was no
    /// longer active (announced already).
    pub async fn end_plan(
        &self,
        account_id: i64,
        plan_id: i64,
        end: &PlanEnd<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let now = store_time(now);
        let arrears = end.arrears.map(minor).transpose()?;
        retrying!(&self.backend, async {
            Ok(with_writer!(&self.backend, |pool, pg| {
                let mut tx = begin_change!(pool, pg, &self.feed, "plan");
                let last = last_payment!(tx, account_id);
                let done = sqlx::query(
                "UPDATE plans SET state = $3, end_reason = $4, end_time = $5, end_payment_id = $6, \
                 end_missed = $7, end_arrears_minor = $8 \
                 WHERE id = $1 AND account_id = $2 AND state = 'active'",
            )
            .bind(plan_id)
            .bind(account_id)
            .bind(end.state.as_str())
            .bind(end.reason)
            .bind(now)
            .bind(last)
            .bind(end.missed.map(i64::from))
            .bind(arrears)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
                if done {
                    let mut change = Change::new(Event::by_recoup(
                        now,
                        "plan_changed",
                        account_id,
                        format!("accounts/{account_id}/plans/{plan_id}"),
                    ));
                    change.rebuild(account_id);
                    tx.commit(change).await?;
                }
                done
            }))
        })
    }
}

/// How an active plan ended, as the background pass records it.
#[derive(Debug, Clone, Copy)]
pub struct PlanEnd<'a> {
    /// `Completed` or `Broken`.
    pub state: PlanState,
    pub reason: &'a str,
    /// A broken plan's instalments missed and arrears on the day it broke.
    pub missed: Option<u32>,
    pub arrears: Option<Money>,
}

/// `accounts/{a}/plans/{p}` -> (a, p).
fn plan_ids(resource: &str) -> Option<(i64, i64)> {
    let mut parts = resource.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("accounts"), Some(a), Some("plans")) => Some((a.parse().ok()?, last_id(resource)?)),
        _ => None,
    }
}

fn plan_row(
    r: &impl RowExt,
    cur: Currency,
    receipts: Vec<Receipt>,
) -> Result<StoredPlan, StoreError> {
    let detail: DetailJson =
        serde_json::from_str(&r.text("detail")?).map_err(|e| corrupt(&e.to_string()))?;
    let tz = r.text("time_zone")?;
    Ok(StoredPlan {
        id: r.int("id")?,
        account_id: r.int("account_id")?,
        time_zone: tz
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("time zone '{tz}'")))?,
        state: parse_state(&r.text("state")?)?,
        detail: detail.into_detail(cur)?,
        agreement: r.text("agreement")?,
        proposed_by: r.text("proposed_by")?,
        approval_role: r.opt_text("approval_role")?,
        approved_by: r.opt_text("approved_by")?,
        approve_time: r.opt_time("approve_time")?,
        signatory: r.opt_text("signatory")?,
        sign_time: r.opt_time("sign_time")?,
        create_time: r.time("create_time")?,
        end_reason: r.opt_text("end_reason")?,
        end_time: r.opt_time("end_time")?,
        end_missed: r.opt_int("end_missed")?.map(|n| n as u32),
        end_arrears: r
            .opt_int("end_arrears_minor")?
            .map(|m| Money::from_minor(m, cur)),
        receipts,
    })
}
