//! AccountService's history and blocks: ImportHistory (the creditor's past calls and letters from
//! its CRM, kept once by the CRM's ids) and LiftContactBlock (a lasting block recoup set from a
//! call, lifted explicitly with a reason).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use recoup_domain::Violations;
use recoup_domain::account::{MAX_REASON_CHARS, MAX_REF_CHARS};
use recoup_domain::ageing::local_today;
use recoup_domain::call::{CallContext, ImportedCall, MAX_CRM_ID_CHARS, MAX_SHORT_TEXT_CHARS};
use recoup_domain::policy::Policy;
use recoup_domain::schedule::{self, ScheduleError};
use recoup_domain::{Money, plan};
use recoup_proto::v1 as pb;
use recoup_store::{
    AccountKey, HeldBlock, PastLetter, PastOutcome, PastPlan, PastRecord, PlanDetail, RequestKey,
    Store,
};
use tonic::{Request, Response, Status, Streaming};

use super::guidance::kind_in;
use crate::auth;
use crate::convert::call::{call_in, time_in};
use crate::convert::enum_in;
use crate::convert::plan::{amount, proposal_in};
use crate::names;
use crate::status::{from_store, invalid, store_failed};

/// Records written per transaction.
const BATCH: usize = 500;

/// What a record is checked against: its account's id, currency, time zone and invoice numbers.
type Known = Option<(i64, recoup_domain::Currency, chrono_tz::Tz, Vec<String>)>;

struct History {
    summary: pb::ImportHistoryResponse,
    batch: Vec<(i64, PastRecord)>,
    /// Each batch record's index in the stream and external ref, for what the store refuses.
    batch_meta: Vec<(i64, String)>,
    accounts: HashMap<String, Known>,
}

impl History {
    fn reject(&mut self, index: i64, external_ref: &str, v: Violations) {
        self.summary.rejected += 1;
        if self.summary.rejections.len() < super::MAX_LISTED_REJECTIONS {
            self.summary
                .rejections
                .push(super::rejection(index, external_ref, v));
        } else {
            self.summary.rejections_truncated = true;
        }
    }

    async fn flush(
        &mut self,
        store: &Store,
        by: RequestKey<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), Status> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let outcomes = store
            .import_history(by, &self.batch, now)
            .await
            .map_err(store_failed)?;
        let meta = std::mem::take(&mut self.batch_meta);
        for (o, (index, external_ref)) in outcomes.into_iter().zip(meta) {
            match o {
                PastOutcome::Created => self.summary.created += 1,
                PastOutcome::Unchanged => self.summary.unchanged += 1,
                PastOutcome::Refused(why) => {
                    let mut v = Violations::new();
                    v.push("plan", why);
                    self.reject(index, &external_ref, v);
                }
            }
        }
        self.batch.clear();
        // Accounts change (and their invoices) as batches commit; look them up afresh.
        self.accounts.clear();
        Ok(())
    }
}

/// The record of one message, or every problem with it (field paths from the message).
fn record_in(
    msg: &pb::ImportHistoryRequest,
    known: &Known,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(i64, PastRecord), Violations> {
    let mut v = Violations::new();
    let Some((account_id, currency, time_zone, numbers)) = known else {
        v.push(
            "external_ref",
            format!("no account has external_ref '{}'", msg.external_ref),
        );
        return Err(v);
    };
    match &msg.record {
        None => {
            v.push("call", "one of call, letter or plan is required");
            Err(v)
        }
        Some(pb::import_history_request::Record::Plan(p)) => {
            let mut pv = Violations::new();
            let plan = plan_in(&mut pv, p, *currency, *time_zone, now);
            v.extend_prefixed("plan", pv);
            match (plan, v.is_empty()) {
                (Some(plan), true) => Ok((*account_id, PastRecord::Plan(Box::new(plan)))),
                _ => Err(v),
            }
        }
        Some(pb::import_history_request::Record::Call(c)) => {
            let mut cv = Violations::new();
            let call = call_in(&mut cv, c, Some(*account_id));
            if !c.corrects.is_empty() || !c.claim.is_empty() || c.supervisor_override.is_some() {
                cv.push(
                    "call",
                    "a past call carries no correction, claim or supervisor_override",
                );
            }
            let Some(mut call) = call.filter(|_| cv.is_empty()) else {
                v.extend_prefixed("call", cv);
                return Err(v);
            };
            call.imported = Some(ImportedCall {
                crm_id: c.crm_call_id.clone(),
                agent: c.agent.clone(),
            });
            // The debtor's words are kept; the block they set in the CRM comes with its account.
            let cx = CallContext {
                currency: *currency,
                time_zone: *time_zone,
                invoice_numbers: numbers,
                promises: &policy.promises,
                max_record_age_days: None,
                now,
            };
            v.extend_prefixed("call", call.validate(&cx));
            v.into_result((*account_id, PastRecord::Call(Box::new(call))))
        }
        Some(pb::import_history_request::Record::Letter(l)) => {
            let mut lv = Violations::new();
            lv.required_text("crm_letter_id", &l.crm_letter_id, MAX_CRM_ID_CHARS);
            lv.optional_line("subject", &l.subject, MAX_SHORT_TEXT_CHARS);
            let kind = kind_in(&mut lv, l.kind);
            let sent = time_in(&mut lv, "sent_time", l.sent_time.as_ref());
            if sent.is_some_and(|t| t > now) {
                lv.push("sent_time", "is in the future");
            }
            v.extend_prefixed("letter", lv);
            match (kind, sent, v.is_empty()) {
                (Some(kind), Some(sent), true) => Ok((
                    *account_id,
                    PastRecord::Letter(PastLetter {
                        crm_id: l.crm_letter_id.clone(),
                        kind: kind.key(),
                        sent,
                        subject: l.subject.clone(),
                    }),
                )),
                _ => Err(v),
            }
        }
    }
}

/// The longest name of who agreed a plan for the debtor.
const MAX_SIGNATORY_CHARS: usize = 200;

/// A live plan from the CRM, with its schedule made from what it covers; problems go in `v`.
fn plan_in(
    v: &mut Violations,
    p: &pb::PastPlan,
    currency: recoup_domain::Currency,
    time_zone: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Option<PastPlan> {
    v.required_text("crm_plan_id", &p.crm_plan_id, MAX_CRM_ID_CHARS);
    v.optional_line("signatory", &p.signatory, MAX_SIGNATORY_CHARS);
    let agreed = time_in(v, "agreed_time", p.agreed_time.as_ref());
    if agreed.is_some_and(|t| t > now) {
        v.push("agreed_time", "is in the future");
    }
    let total = amount(v, "total", p.total.as_ref(), currency);
    let proposal = match (&p.proposal, total) {
        (None, _) => {
            v.push("proposal", "is required");
            None
        }
        (Some(proposal), Some(total)) => match proposal_in(proposal, currency, total) {
            Ok((proposal, _)) => Some(proposal),
            Err(pv) => {
                v.extend_prefixed("proposal", pv);
                None
            }
        },
        (Some(_), None) => None,
    };
    let (Some(agreed), Some(total), Some(proposal), true) = (agreed, total, proposal, v.is_empty())
    else {
        return None;
    };
    let (schedule, discount) = match plan::schedule_of(&proposal, total) {
        Ok(made) => made,
        Err(e) => {
            v.push(
                "proposal",
                match e {
                    ScheduleError::TooLong { payments } => format!(
                        "makes {payments} payments of the total; a schedule has at most {}",
                        schedule::MAX_PAYMENTS
                    ),
                    ScheduleError::BadAmount | ScheduleError::NothingOwed => {
                        "makes no schedule of the total: an amount is not positive".into()
                    }
                },
            );
            return None;
        }
    };
    let paid = schedule.iter().fold(Money::zero(currency), |t, s| {
        t.with_amount(t.amount() + s.amount.amount())
    });
    Some(PastPlan {
        crm_id: p.crm_plan_id.clone(),
        detail: PlanDetail {
            proposal,
            affordable_monthly: None,
            balance: total,
            interest: None,
            schedule,
            total: paid,
            discount,
        },
        agreed,
        agreed_on: local_today(time_zone, agreed),
        signatory: if p.signatory.is_empty() {
            "as recorded in the CRM".into()
        } else {
            p.signatory.clone()
        },
    })
}

/// ImportHistory.
pub async fn import(
    store: &Store,
    policy: &Policy,
    now: impl Fn() -> DateTime<Utc>,
    request: Request<Streaming<pb::ImportHistoryRequest>>,
) -> Result<Response<pb::ImportHistoryResponse>, Status> {
    let actor = auth::identity(&request)?.subject.clone();
    let by = RequestKey {
        subject: &actor,
        request_id: "",
    };
    let mut stream = request.into_inner();
    let mut h = History {
        summary: pb::ImportHistoryResponse::default(),
        batch: Vec::with_capacity(BATCH),
        batch_meta: Vec::with_capacity(BATCH),
        accounts: HashMap::new(),
    };
    let mut index: i64 = -1;
    while let Some(msg) = stream.message().await? {
        index += 1;
        let mut v = Violations::new();
        v.identifier("external_ref", &msg.external_ref, MAX_REF_CHARS);
        if !v.is_empty() {
            h.reject(index, &msg.external_ref, v);
            continue;
        }
        if !h.accounts.contains_key(&msg.external_ref) {
            let known = store
                .get_account(AccountKey::ExternalRef(&msg.external_ref))
                .await
                .map_err(store_failed)?
                .map(|a| {
                    let numbers = a
                        .open_invoices
                        .iter()
                        .map(|i| i.data.number.clone())
                        .collect();
                    (a.id, a.data.currency, a.data.time_zone, numbers)
                });
            h.accounts.insert(msg.external_ref.clone(), known);
        }
        match record_in(&msg, &h.accounts[&msg.external_ref], policy, now()) {
            Ok(r) => {
                h.batch.push(r);
                h.batch_meta.push((index, msg.external_ref.clone()));
            }
            Err(v) => h.reject(index, &msg.external_ref, v),
        }
        if h.batch.len() >= BATCH {
            h.flush(store, by, now()).await?;
        }
    }
    h.flush(store, by, now()).await?;
    tracing::info!(
        records = index + 1,
        created = h.summary.created,
        unchanged = h.summary.unchanged,
        rejected = h.summary.rejected,
        "history imported"
    );
    Ok(Response::new(h.summary))
}

/// LiftContactBlock.
pub async fn lift(
    store: &Store,
    now: DateTime<Utc>,
    request: Request<pb::LiftContactBlockRequest>,
) -> Result<i64, Status> {
    let actor = auth::identity(&request)?.subject.clone();
    let req = request.into_inner();
    let mut v = Violations::new();
    names::request_id(&mut v, "request_id", &req.request_id);
    let account = names::account_id(&mut v, "name", &req.name);
    let block = enum_in(
        &mut v,
        "block",
        req.block,
        None,
        |b: pb::ContactBlockReason| match b {
            pb::ContactBlockReason::WithAgency => Some(HeldBlock::Agency),
            pb::ContactBlockReason::CeaseCalls => Some(HeldBlock::Cease),
            _ => None,
        },
    );
    v.required_text("reason", &req.reason, MAX_REASON_CHARS);
    let (Some(account), Some(block), true) = (account, block, v.is_empty()) else {
        return Err(invalid(v));
    };
    let key = RequestKey {
        subject: &actor,
        request_id: &req.request_id,
    };
    let lifted = store
        .lift_block(key, account, block, &req.reason, now)
        .await
        .map_err(|e| from_store(e, "", &req.name))?;
    tracing::info!(account_id = account, block = ?block, retry = !lifted, "contact block lifted");
    Ok(account)
}
