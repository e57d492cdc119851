//! AccountService's history and blocks: ImportHistory (the creditor's past calls and letters from
//! its CRM, kept once by the CRM's ids) and LiftContactBlock (a lasting block recoup set from a
//! call, lifted explicitly with a reason).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use recoup_domain::Violations;
use recoup_domain::account::{MAX_REASON_CHARS, MAX_REF_CHARS};
use recoup_domain::call::{CallContext, ImportedCall, MAX_CRM_ID_CHARS, MAX_SHORT_TEXT_CHARS};
use recoup_domain::policy::Policy;
use recoup_proto::v1 as pb;
use recoup_store::{AccountKey, HeldBlock, PastLetter, PastOutcome, PastRecord, RequestKey, Store};
use tonic::{Request, Response, Status, Streaming};

use super::guidance::kind_in;
use crate::auth;
use crate::convert::call::{call_in, time_in};
use crate::convert::enum_in;
use crate::names;
use crate::status::{from_store, invalid, store_failed};

/// Records written per transaction.
const BATCH: usize = 500;

/// What a record is checked against: its account's id, currency, time zone and invoice numbers.
type Known = Option<(i64, recoup_domain::Currency, chrono_tz::Tz, Vec<String>)>;

struct History {
    summary: pb::ImportHistoryResponse,
    batch: Vec<(i64, PastRecord)>,
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
        for o in outcomes {
            match o {
                PastOutcome::Created => self.summary.created += 1,
                PastOutcome::Unchanged => self.summary.unchanged += 1,
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
            v.push("call", "one of call or letter is required");
            Err(v)
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
            lv.optional_text("subject", &l.subject, MAX_SHORT_TEXT_CHARS);
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
            Ok(r) => h.batch.push(r),
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
