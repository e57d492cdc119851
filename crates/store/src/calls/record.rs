//! Recording calls. The store's writer task (`writer.rs`) hands over the calls queued meanwhile and
//! they share one transaction and one fsync. Each call is recorded in named steps, with its account
//! held (SQLite's write lock; PostgreSQL's row lock) and judged against every call committed or
//! recorded earlier in the batch, so of two calls that took the day's last one, the second is
//! recorded as breaking the daily limit:
//!
//! 1. `held_call!`: the account and its invoices, whether the ledger holds the call's key, and the
//!    claim it names, in one read;
//! 2. the ledger: a key seen before, or earlier in the batch, writes nothing (the first record is
//!    the answer);
//! 3. `checked!`: the call against the account (its fields, the record it corrects, the claim it
//!    names);
//! 4. `breaches!`: an outbound call made on our initiative, judged against the calls before it
//!    and its claim — a call that happened is recorded whatever it broke, with what it broke;
//! 5. `insert_call!`, and the claim it was made under ended;
//! 6. `apply_outcome!`: what the outcome changes on the account (a referral, a dispute, a request
//!    not to be called);
//! 7. its part of the batch's `Change`: events, ledger row, the account's view.
//!
//! A call whose request is wrong is answered with its error and writes nothing (every check comes
//! before the first write); when the database refuses the batch, each call is written alone, so
//! that only the call at fault fails.

use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use recoup_domain::call::{Direction, NewCall, Outcome};
use recoup_domain::dispute::{Disputable, disputable_on_call};
use recoup_domain::floor::{self, Breach, Claim};
use recoup_domain::policy::Policy;
use tokio::sync::oneshot;

use super::{CURRENT, METHOD, Recorder, StoredCall, details, sqlite_time};
use crate::change::{Change, Event, begin_change};
use crate::claims::{ClaimProblem, problem};
use crate::contact_rules::{Held, contact_status};
use crate::events::Feed;
use crate::requests::RequestKey;
use crate::retrying;
use crate::rows::RowExt;
use crate::{Backend, StoreError, store_time, with_writer};

/// A call waiting for the writer.
pub(crate) struct CallJob {
    pub(super) subject: String,
    pub(super) request_id: String,
    pub(super) override_by: Option<String>,
    pub(super) account_id: i64,
    pub(super) call: NewCall,
    pub(super) fingerprint: String,
    pub(super) policy: Arc<Policy>,
    pub(super) now: DateTime<Utc>,
    pub(super) reply: oneshot::Sender<Result<Option<StoredCall>, StoreError>>,
}

impl CallJob {
    /// Whether the caller stopped waiting before the write began.
    pub(crate) fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }

    fn recorder(&self) -> Recorder<'_> {
        Recorder {
            key: RequestKey {
                subject: &self.subject,
                request_id: &self.request_id,
            },
            override_by: self.override_by.as_deref(),
        }
    }
}

/// Writes a batch of calls in one transaction and answers each.
pub(crate) async fn apply(backend: &Backend, feed: &Feed, jobs: Vec<CallJob>) {
    match retrying!(backend, write_batch(backend, feed, &jobs)) {
        Ok(results) => {
            for (job, r) in jobs.into_iter().zip(results) {
                let _ = job.reply.send(r);
            }
        }
        Err(e) if jobs.len() > 1 => {
            tracing::warn!(error = %e, jobs = jobs.len(), "call batch refused; writing one by one");
            for job in jobs {
                let r = match retrying!(
                    backend,
                    write_batch(backend, feed, std::slice::from_ref(&job))
                ) {
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
            | StoreError::Claim(_)
            | StoreError::RequestIdReused
    )
}

/// The statement of `held_call!`, built once per backend: the account held (`held_sql`), with
/// whether the ledger holds key (`$2`, `$3`) and the claim `$4` (columns `k_*`).
static HELD_CALL_SQL: LazyLock<[String; 2]> = LazyLock::new(|| {
    [false, true].map(|pg| {
        crate::contact_rules::held_sql(
            pg,
            pg,
            &format!(
                ", EXISTS (SELECT 1 FROM requests q WHERE q.subject = $2 AND q.request_id = $3) \
                 AS seen, {}",
                crate::claims::prefixed("k")
            ),
            " LEFT JOIN claims k ON k.id = $4",
        )
    })
});

/// Steps 1 and 2, and the claim step 3 checks, in one round trip: the account held with its
/// invoices, whether the ledger holds the call's key, and the claim the call names (if any).
macro_rules! held_call {
    ($tx:expr, $pg:expr, $job:expr) => {{
        let job: &CallJob = $job;
        let sql: &str = &HELD_CALL_SQL[usize::from($pg)];
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job.account_id)
            .bind(&job.subject)
            .bind(&job.request_id)
            .bind(job.call.claim_id)
            .fetch_optional(&mut *$tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let claim = match row.opt_int("k_id")? {
            Some(_) => Some(crate::claims::claim_from_row(&row, "k_")?),
            None => None,
        };
        (Held::from_row(&row)?, row.flag("seen")?, claim)
    }};
}

/// Step 3: the call's fields against the account, and the record it corrects (the account's, and
/// not corrected already); `Invalid` naming every problem.
macro_rules! checked {
    ($tx:expr, $job:expr, $held:expr, $claim:expr) => {{
        let (job, held, claim): (&CallJob, &Held, Option<Claim>) = ($job, $held, $claim);
        let numbers: Vec<String> = held.invoices.iter().map(|(n, _, _)| n.clone()).collect();
        let cx = recoup_domain::call::CallContext {
            currency: held.currency,
            time_zone: held.time_zone,
            invoice_numbers: &numbers,
            promises: &job.policy.promises,
            max_record_age_days: job
                .call
                .imported
                .is_none()
                .then_some(job.policy.floor.max_record_age_days),
            now: job.now,
        };
        let mut violations = job.call.validate(&cx);
        if let Some(c) = &job.call.correction {
            let target: Option<(i64, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT c.account_id, {CURRENT} FROM calls c WHERE c.id = $1"
            )))
            .bind(c.call_id)
            .fetch_optional(&mut *$tx)
            .await?;
            match target {
                Some((a, true)) if a == job.account_id => {}
                Some((a, false)) if a == job.account_id => violations.push(
                    "corrects",
                    "that record was already corrected: correct its latest version",
                ),
                _ => violations.push(
                    "corrects",
                    format!("accounts/{} has no call {}", job.account_id, c.call_id),
                ),
            }
        }
        if !violations.is_empty() {
            return Err(StoreError::Invalid(violations));
        }
        match job.call.claim_id {
            None => None,
            Some(id) => match claim {
                Some(c) if c.account_id == job.account_id => {
                    if let Err(why) =
                        floor::covers(&c, &job.subject, job.call.start_time, CLAIM_SKEW)
                    {
                        return Err(problem(ClaimProblem::NotCovered { claim: c, why }));
                    }
                    Some(c)
                }
                _ => {
                    let mut v = recoup_domain::Violations::new();
                    v.push(
                        "claim",
                        format!("accounts/{} has no claim {id}", job.account_id),
                    );
                    return Err(StoreError::Invalid(v));
                }
            },
        }
    }};
}

/// How far a call's start may fall outside its claim by the desktop's clock.
const CLAIM_SKEW: chrono::Duration = chrono::Duration::minutes(2);

/// Step 4: what an outbound call of recoup's own broke, judged at its start against the calls
/// before it, a callback asked for, a plan on track, and the claim it was made under: each
/// contact rule in force (a supervisor's override, on the call or on its claim, sets aside the
/// lapsing ones), and `Unclaimed` without a claim. Inbound calls, corrections (the record they
/// correct was judged) and imported history are not judged.
macro_rules! breaches {
    ($tx:expr, $pg:expr, $job:expr, $held:expr, $start:expr, $claim:expr) => {{
        let (job, held, start, claim): (&CallJob, &Held, DateTime<Utc>, Option<&Claim>) =
            ($job, $held, $start, $claim);
        if job.call.direction == Direction::Outbound
            && job.call.correction.is_none()
            && job.call.imported.is_none()
        {
            let status = contact_status!($tx, $pg, job.account_id, held, &job.policy, start);
            let overridden =
                job.override_by.is_some() || claim.is_some_and(|c| c.override_reason.is_some());
            floor::breaches(&status, overridden, claim.is_some(), start)
        } else {
            Vec::new()
        }
    }};
}

/// Step 5: the call row with what it broke, and the claim it was made under ended; evaluates to
/// its id.
macro_rules! insert_call {
    ($tx:expr, $pg:expr, $job:expr, $start:expr, $breaches:expr) => {{
        let (job, start, breaches): (&CallJob, DateTime<Utc>, &[Breach]) =
            ($job, $start, $breaches);
        let (call, by) = (&job.call, job.recorder());
        let (promise_minor, promise_date, callback_time) = super::rule_columns(&call.outcome)?;
        let q = sqlx::query_scalar(
            "INSERT INTO calls (account_id, direction, start_time, duration_ms, contact_name, \
             right_party, outcome, details, promise_minor, promise_date, callback_time, notes, \
             next_step, override_reason, override_by, corrects, correction_reason, agent, \
             create_time, claim_id, breaches, origin, crm_id, asked_not_to_call) VALUES ($1, $2, \
             $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
             $21, $22, $23, $24) RETURNING id",
        )
        .bind(job.account_id)
        .bind(call.direction.as_str());
        let q = if $pg {
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
        let q = if $pg {
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
            .bind(
                call.imported
                    .as_ref()
                    .map_or(by.key.subject, |i| i.agent.as_str()),
            )
            .bind(job.now)
            .bind(call.claim_id)
            .bind(super::breaches_json(breaches))
            .bind(if call.imported.is_some() {
                "import"
            } else {
                "live"
            })
            .bind(call.imported.as_ref().map(|i| i.crm_id.as_str()))
            .bind(call.asked_not_to_call.as_deref())
            .fetch_one(&mut *$tx)
            .await?;
        if let Some(claim) = call.claim_id {
            crate::claims::end_claim!($tx, $pg, claim, "recorded", Some(id), job.now);
        }
        id
    }};
}

/// Step 6: what the outcome of call `$call_id` changes on the account: a referral puts it with the
/// agency and a request not to be called sets cease-calls, both as recoup's own lasting blocks
/// (an import never lifts them); a dispute raised pauses the invoices it names that may be
/// disputed. Evaluates to (whether the account changed, the dispute opened).
macro_rules! apply_outcome {
    ($tx:expr, $pg:expr, $job:expr, $held:expr, $call_id:expr) => {{
        let (job, held): (&CallJob, &Held) = ($job, $held);
        let ceased = if job.call.asked_not_to_call.is_some() && job.call.imported.is_none() {
            sqlx::query("UPDATE accounts SET cease_calls = TRUE, held_cease = TRUE WHERE id = $1")
                .bind(job.account_id)
                .execute(&mut *$tx)
                .await?;
            true
        } else {
            false
        };
        let (changed, dispute) = match &job.call.outcome {
            // A referral in the CRM's history is in the status the CRM imports already.
            Outcome::ReferredToAgency { .. } if job.call.imported.is_none() => {
                sqlx::query(
                    "UPDATE accounts SET status = 'with_agency', held_agency = TRUE WHERE id = $1",
                )
                .bind(job.account_id)
                .execute(&mut *$tx)
                .await?;
                (true, None)
            }
            Outcome::DisputeRaised {
                invoice_numbers,
                reason,
            } => {
                let found = crate::disputes::disputable!(
                    $tx,
                    $pg,
                    job.account_id,
                    invoice_numbers,
                    held.currency
                );
                let known: Vec<Disputable> = found.iter().map(|(_, x)| x.clone()).collect();
                let invoice_ids: Vec<i64> = disputable_on_call(invoice_numbers, &known)
                    .iter()
                    .filter_map(|n| found.iter().find(|(_, x)| x.number == *n).map(|(i, _)| *i))
                    .collect();
                if invoice_ids.is_empty() {
                    (false, None)
                } else {
                    let call_id = Some($call_id);
                    let dispute = crate::disputes::open_dispute!(
                        $tx,
                        $pg,
                        job.account_id,
                        call_id,
                        &invoice_ids,
                        reason,
                        job.subject.as_str(),
                        job.now
                    );
                    (true, Some(dispute))
                }
            }
            _ => (false, None),
        };
        (changed || ceased, dispute)
    }};
}

/// Step 7: call `id`'s part of the batch's change: `call_recorded`, `contact_rule_breached` when it
/// broke a rule, `dispute_changed` for a dispute
/// it opened, and `account_updated` when it changed the account (so a CRM following the feed
/// re-reads it); its ledger row; the account's view, and its update time when it changed.
fn record_change(
    slot: &mut Option<Change>,
    job: &CallJob,
    id: i64,
    changed_account: bool,
    dispute: Option<i64>,
    breached: bool,
) {
    let (key, now, account_id) = (job.recorder().key, job.now, job.account_id);
    let resource = format!("accounts/{account_id}/calls/{id}");
    let change = Change::record(
        slot,
        Event::by(key, now, "call_recorded", account_id, &resource),
    );
    if breached {
        change.event(Event::by(
            key,
            now,
            "contact_rule_breached",
            account_id,
            &resource,
        ));
    }
    if let Some(d) = dispute {
        change.event(Event::by(
            key,
            now,
            "dispute_changed",
            account_id,
            format!("accounts/{account_id}/disputes/{d}"),
        ));
    }
    if changed_account {
        change
            .event(Event::by(
                key,
                now,
                "account_updated",
                account_id,
                format!("accounts/{account_id}"),
            ))
            .touch(account_id, now);
    }
    change
        .request(key, METHOD, &job.fingerprint, &resource, now)
        .rebuild(account_id);
}

/// One transaction for the batch; per call `Ok(None)` when the ledger already holds its key. An
/// error of the database itself fails the whole batch (rolled back).
async fn write_batch(
    backend: &Backend,
    feed: &Feed,
    jobs: &[CallJob],
) -> Result<Vec<Result<Option<StoredCall>, StoreError>>, StoreError> {
    Ok(with_writer!(backend, |pool, pg| {
        let mut tx = begin_change!(pool, pg, feed, "call");
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
        let mut change: Option<Change> = None;
        let mut results = Vec::with_capacity(jobs.len());
        for job in jobs {
            let one = async {
                let key = job.recorder().key;
                let (held, seen, claim) = held_call!(tx, pg, job);
                if seen || change.as_ref().is_some_and(|c| c.has_request(key)) {
                    return Ok(None);
                }
                let claim = checked!(tx, job, &held, claim);
                let start = store_time(job.call.start_time);
                let breaches = breaches!(tx, pg, job, &held, start, claim.as_ref());
                let id = insert_call!(tx, pg, job, start, &breaches);
                let (changed_account, dispute) = apply_outcome!(tx, pg, job, &held, id);
                record_change(
                    &mut change,
                    job,
                    id,
                    changed_account,
                    dispute,
                    !breaches.is_empty(),
                );
                let by = job.recorder();
                Ok(Some(StoredCall {
                    id,
                    account_id: job.account_id,
                    call: NewCall {
                        start_time: start,
                        override_reason: job
                            .call
                            .override_reason
                            .clone()
                            .filter(|_| by.override_by.is_some()),
                        ..job.call.clone()
                    },
                    override_by: by.override_by.map(str::to_owned),
                    agent: job
                        .call
                        .imported
                        .as_ref()
                        .map_or_else(|| by.key.subject.to_owned(), |i| i.agent.clone()),
                    create_time: job.now,
                    breaches,
                }))
            }
            .await;
            match one {
                Err(e) if !refused_call(&e) => return Err(e),
                r => results.push(r),
            }
        }
        if let Some(change) = change {
            tx.commit(change).await?;
        }
        results
    }))
}
