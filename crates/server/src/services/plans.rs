//! PlanService: ValidatePlan checks a proposal against policy for the account's collectable balance
//! (one read, no writes); CreatePlan records a plan that validates, with its written agreement;
//! ApprovePlan and RecordPlanSignature move it on; GetPlan and ListPlans read plans tracked as of the
//! debtor's today.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use prost::Message;
use recoup_domain::ageing::local_today;
use recoup_domain::fingerprint::Canonical;
use recoup_domain::plan::{self, Authority, Judgement, PlanPolicy, Proposal, Situation, track};
use recoup_domain::policy::Policy;
use recoup_domain::text::{British, Formats};
use recoup_domain::{Money, Violations};
use recoup_proto::v1 as pb;
use recoup_proto::v1::plan_service_server::PlanService;
use recoup_script::{Agreement, AgreementInvoice, AgreementLine, Party, Templates, terms};
use recoup_store::{
    AccountSnapshot, NewPlan, PlanDetail, PlanOutcome, RequestKey, Store, StoredPlan,
};
use tonic::{Request, Response, Status};

use crate::assess::Assessment;
use crate::auth::{self, Role};
use crate::clock::SharedClock;
use crate::convert::call::time_in;
use crate::convert::plan::{plan_out, proposal_in, validation_out};
use crate::names;
use crate::paging;
use crate::status::{
    balance_changed, from_store, invalid, invalid_field, not_found, plan_rules_broken, store_failed,
};

/// The longest reason for replacing a live plan.
const MAX_SUPERSEDE_REASON_CHARS: usize = 500;
/// The longest name of who signed for the debtor.
const MAX_SIGNATORY_CHARS: usize = 200;

pub struct Plans {
    store: Store,
    policy: Arc<Policy>,
    /// A digest of `policy.plans`, part of every etag: a plan validated under other rules (another
    /// policy file, or a replica with one) is validated again.
    plan_policy: String,
    templates: Arc<Templates>,
    max_page_size: u32,
    clock: SharedClock,
}

impl Plans {
    pub fn new(
        store: Store,
        policy: Arc<Policy>,
        templates: Arc<Templates>,
        max_page_size: u32,
        clock: SharedClock,
    ) -> Self {
        let mut c = Canonical::new("plan-policy/v1");
        // Debug is deterministic here: plain fields and BTreeMaps.
        c.text(&format!("{:?}", policy.plans));
        Self {
            store,
            plan_policy: c.finish(),
            policy,
            templates,
            max_page_size,
            clock,
        }
    }

    /// ValidatePlan's etag for `proposal` on `parent` judged as `j`: a digest of the proposal as
    /// asked, then one of what it was judged against (the collectable balance, statutory interest,
    /// the plan policy), each 128 bits in hex.
    fn etag(&self, parent: &str, proposal: &pb::PlanProposal, j: &CheckedProposal) -> String {
        let mut asked = Canonical::new("plan-etag-proposal/v1");
        asked.text(parent).bytes(&proposal.encode_to_vec());
        let mut against = Canonical::new("plan-etag-balance/v1");
        against.money(j.collectable).text(&self.plan_policy);
        if let Some(i) = j.interest {
            against.money(i);
        }
        format!("{}.{}", &asked.finish()[..32], &against.finish()[..32])
    }

    async fn account(&self, id: i64, name: &str) -> Result<AccountSnapshot, Status> {
        super::account_or_not_found(&self.store, id, name).await
    }

    /// The proposal read for the account and judged as of now, with what the plan settles.
    fn judge(
        &self,
        a: &AccountSnapshot,
        proposal: &pb::PlanProposal,
        asker: Authority,
        now: DateTime<Utc>,
    ) -> Result<CheckedProposal, Status> {
        let cur = a.data.currency;
        let x = Assessment::of(a, &self.policy, now);
        // The balance an instalment count spreads: what affordability does not change.
        let balance = x.situation(asker, None).situation.balance;
        let (proposal, affordable_monthly) = proposal_in(proposal, cur, balance).map_err(|pv| {
            let mut v = Violations::new();
            v.extend_prefixed("proposal", pv);
            invalid(v)
        })?;
        let priced = x.situation(asker, affordable_monthly);
        let judgement = plan::judge(&proposal, &priced.situation, &self.policy.plans);
        Ok(CheckedProposal {
            proposal,
            situation: priced.situation,
            judgement,
            collectable: priced.collectable,
            interest: priced.interest,
            today: x.today,
        })
    }

    fn answer(&self, outcome: PlanOutcome, what: &str) -> pb::Plan {
        let (p, retry) = match outcome {
            PlanOutcome::Recorded(p) => (p, false),
            PlanOutcome::Replayed(p) => (p, true),
        };
        tracing::info!(
            plan_id = p.id,
            account_id = p.account_id,
            retry,
            state = p.state.as_str(),
            "plan {what}"
        );
        self.out(&p, true)
    }

    /// The plan tracked to the debtor's today.
    fn out(&self, p: &StoredPlan, with_agreement: bool) -> pb::Plan {
        plan_out(
            p,
            local_today(p.time_zone, self.clock.now()),
            &self.policy.plans,
            with_agreement,
        )
    }
}

/// The written agreement of plan `reference` on account `a`, as of the debtor's `today`.
pub fn agreement_model(
    a: &AccountSnapshot,
    detail: &PlanDetail,
    plans: &PlanPolicy,
    today: NaiveDate,
    proposer: &str,
    reference: &str,
) -> Agreement {
    let money = |m: Money| British.money(m);
    let (disputed, covered): (Vec<_>, Vec<_>) = a
        .open_invoices
        .iter()
        .filter(|i| i.outstanding.is_positive())
        .partition(|i| i.data.disputed);
    let schedule = &detail.schedule;
    Agreement {
        reference: reference.to_owned(),
        date: British.date(today),
        creditor: plans.creditor_name.clone(),
        debtor: Party {
            legal_name: a.data.legal_name.clone(),
            external_ref: a.data.external_ref.clone(),
        },
        balance: money(detail.balance),
        invoices: covered
            .iter()
            .map(|i| AgreementInvoice {
                number: i.data.number.clone(),
                due_date: British.date(i.data.due_date),
                outstanding: money(i.outstanding),
            })
            .collect(),
        disputed: disputed
            .iter()
            .map(|i| format!("{} ({})", i.data.number, money(i.outstanding)))
            .collect::<Vec<_>>()
            .join(", "),
        interest: detail.interest.map(money).unwrap_or_default(),
        summary: format!(
            "{}.",
            terms::sentence(&terms::describe(&detail.proposal, schedule, &British))
        ),
        schedule: schedule
            .iter()
            .enumerate()
            .map(|(k, p)| AgreementLine {
                sequence: k + 1,
                due_date: British.date(p.due),
                amount: money(p.amount),
            })
            .collect(),
        total: money(detail.total),
        payment_count: schedule.len(),
        end_date: schedule
            .last()
            .map(|p| British.date(p.due))
            .unwrap_or_default(),
        discount: detail.discount.map(money).unwrap_or_default(),
        grace_days: plans.grace_days,
        misses_to_break: track::misses_to_break(plans, schedule.len()) as u32,
        proposed_by: proposer.to_owned(),
    }
}

/// A proposal judged for an account.
struct CheckedProposal {
    proposal: Proposal,
    situation: Situation,
    judgement: Judgement,
    /// The collectable balance (the store checks it is unchanged when it writes).
    collectable: Money,
    interest: Option<Money>,
    today: NaiveDate,
}

fn fingerprint(method: &str, name: &str, parts: &[&[u8]]) -> String {
    let mut c = Canonical::new(method);
    c.text(name);
    for p in parts {
        c.bytes(p);
    }
    c.finish()
}

#[tonic::async_trait]
impl PlanService for Plans {
    async fn validate_plan(
        &self,
        request: Request<pb::ValidatePlanRequest>,
    ) -> Result<Response<pb::ValidatePlanResponse>, Status> {
        let asker = auth::authority(auth::identity(&request)?.role);
        let req = request.into_inner();
        let mut v = Violations::new();
        let account = names::account_id(&mut v, "parent", &req.parent);
        if req.proposal.is_none() {
            v.push("proposal", "is required");
        }
        let (Some(account), Some(proposal), true) = (account, req.proposal.as_ref(), v.is_empty())
        else {
            return Err(invalid(v));
        };
        let a = self.account(account, &req.parent).await?;
        let j = self.judge(&a, proposal, asker, self.clock.now())?;
        let counters = plan::counter_proposals(&j.proposal, &j.situation, &self.policy.plans);
        let nearest = plan::nearest_affordable(&j.proposal, &j.situation, &self.policy.plans);
        tracing::info!(
            account_id = account,
            valid = j.judgement.valid(),
            broken = j.judgement.broken.len(),
            counters = counters.len(),
            "plan validated"
        );
        Ok(Response::new(validation_out(
            &j.judgement,
            &counters,
            nearest.as_ref(),
            a.data.currency,
            self.etag(&req.parent, proposal, &j),
        )))
    }

    async fn create_plan(
        &self,
        request: Request<pb::CreatePlanRequest>,
    ) -> Result<Response<pb::Plan>, Status> {
        let identity = auth::identity(&request)?;
        let (asker, subject) = (auth::authority(identity.role), identity.subject.clone());
        let req = request.into_inner();
        let mut v = Violations::new();
        names::request_id(&mut v, "request_id", &req.request_id);
        let account = names::account_id(&mut v, "parent", &req.parent);
        if req.proposal.is_none() {
            v.push("proposal", "is required");
        }
        let reason = req.supersede_reason.trim();
        if req.supersede_reason.chars().count() > MAX_SUPERSEDE_REASON_CHARS {
            v.push(
                "supersede_reason",
                format!("must be at most {MAX_SUPERSEDE_REASON_CHARS} characters"),
            );
        } else if reason.len() != req.supersede_reason.len() {
            v.push("supersede_reason", "must not start or end with whitespace");
        }
        let (Some(account), Some(proposal), true) = (account, req.proposal.as_ref(), v.is_empty())
        else {
            return Err(invalid(v));
        };
        let key = RequestKey {
            subject: &subject,
            request_id: &req.request_id,
        };
        let fp = fingerprint(
            "plan/v1",
            &req.parent,
            &[&proposal.encode_to_vec(), reason.as_bytes()],
        );
        let replayed = self
            .store
            .replay_plan(key, "CreatePlan", &fp)
            .await
            .map_err(|e| from_store(e, "", &req.parent))?;
        if let Some(p) = replayed {
            return Ok(Response::new(
                self.answer(PlanOutcome::Replayed(p), "created"),
            ));
        }
        let a = self.account(account, &req.parent).await?;
        let now = self.clock.now();
        let j = self.judge(&a, proposal, asker, now)?;
        if !req.etag.is_empty() {
            let now = self.etag(&req.parent, proposal, &j);
            match (req.etag.split_once('.'), now.split_once('.')) {
                (Some((asked, _)), Some((proposed, _))) if asked != proposed => {
                    return Err(invalid_field(
                        "etag",
                        "was given by ValidatePlan for another proposal or account",
                    ));
                }
                (Some((_, then)), Some((_, current))) if then != current => {
                    return Err(balance_changed(&req.parent));
                }
                (None, _) => {
                    return Err(invalid_field("etag", "is not an etag ValidatePlan gave"));
                }
                _ => {}
            }
        }
        if !j.judgement.valid() {
            return Err(plan_rules_broken(&req.parent, &j.judgement.broken));
        }
        let total = j
            .judgement
            .schedule
            .iter()
            .fold(Money::zero(a.data.currency), |t, p| {
                t.with_amount(t.amount() + p.amount.amount())
            });
        let detail = PlanDetail {
            proposal: j.proposal.clone(),
            affordable_monthly: j.situation.affordable_monthly,
            balance: j.situation.balance,
            interest: j.interest,
            schedule: j.judgement.schedule.clone(),
            total,
            discount: j.judgement.discount,
        };
        let render = |reference: &str| {
            let model = agreement_model(
                &a,
                &detail,
                &self.policy.plans,
                j.today,
                &subject,
                reference,
            );
            self.templates.agreement(&model).map_err(|e| e.to_string())
        };
        let new = NewPlan {
            detail: &detail,
            judged_balance: j.collectable,
            approval_role: j.judgement.approval.map(|_| Role::Supervisor.as_str()),
            supersede_reason: (!reason.is_empty()).then_some(reason),
            fingerprint: &fp,
            agreement: &render,
        };
        let outcome = self
            .store
            .create_plan(key, account, &new, now)
            .await
            .map_err(|e| from_store(e, "", &req.parent))?;
        if matches!(outcome, PlanOutcome::Recorded(_)) {
            metrics::counter!("recoup_plans_created_total").increment(1);
        }
        Ok(Response::new(self.answer(outcome, "created")))
    }

    async fn get_plan(
        &self,
        request: Request<pb::GetPlanRequest>,
    ) -> Result<Response<pb::Plan>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let Some((account, plan)) = names::plan_id(&mut v, "name", &req.name) else {
            return Err(invalid(v));
        };
        let found = self
            .store
            .get_plan(account, plan)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| not_found(&req.name))?;
        Ok(Response::new(self.out(&found, true)))
    }

    async fn list_plans(
        &self,
        request: Request<pb::ListPlansRequest>,
    ) -> Result<Response<pb::ListPlansResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let account = names::account_id(&mut v, "parent", &req.parent);
        let Some(account) = account.filter(|_| v.is_empty()) else {
            return Err(invalid(v));
        };
        let size = paging::page_size(req.page_size, self.max_page_size)?;
        let before = if req.page_token.is_empty() {
            i64::MAX
        } else {
            paging::decode_token(&req.page_token, &req.parent)?
        };
        let mut plans = self
            .store
            .list_plans(account, before, i64::from(size) + 1)
            .await
            .map_err(store_failed)?;
        if plans.is_empty() {
            // No plans, or no such account: only then is the account read.
            self.account(account, &req.parent).await?;
        }
        let next_page_token =
            paging::next_page(&mut plans, size, &req.parent, |p| p.id.to_string());
        Ok(Response::new(pb::ListPlansResponse {
            plans: plans.iter().map(|p| self.out(p, false)).collect(),
            next_page_token,
        }))
    }

    async fn approve_plan(
        &self,
        request: Request<pb::ApprovePlanRequest>,
    ) -> Result<Response<pb::Plan>, Status> {
        let subject = auth::identity(&request)?.subject.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        names::request_id(&mut v, "request_id", &req.request_id);
        let ids = names::plan_id(&mut v, "name", &req.name);
        let (Some((account, plan)), true) = (ids, v.is_empty()) else {
            return Err(invalid(v));
        };
        let key = RequestKey {
            subject: &subject,
            request_id: &req.request_id,
        };
        let fp = fingerprint("approve/v1", &req.name, &[]);
        let outcome = self
            .store
            .approve_plan(key, account, plan, &fp, self.clock.now())
            .await
            .map_err(|e| from_store(e, "", &req.name))?;
        Ok(Response::new(self.answer(outcome, "approved")))
    }

    async fn record_plan_signature(
        &self,
        request: Request<pb::RecordPlanSignatureRequest>,
    ) -> Result<Response<pb::Plan>, Status> {
        let subject = auth::identity(&request)?.subject.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        names::request_id(&mut v, "request_id", &req.request_id);
        let ids = names::plan_id(&mut v, "name", &req.name);
        let now = self.clock.now();
        let signed = time_in(&mut v, "sign_time", req.sign_time.as_ref());
        // A few minutes' grace for the clocks of the caller's machine.
        if signed.is_some_and(|t| t > now + chrono::Duration::minutes(5)) {
            v.push("sign_time", "must not be in the future");
        }
        let signatory = req.signatory.trim();
        if signatory.is_empty() {
            v.push("signatory", "is required");
        } else if req.signatory.chars().count() > MAX_SIGNATORY_CHARS {
            v.push(
                "signatory",
                format!("must be at most {MAX_SIGNATORY_CHARS} characters"),
            );
        }
        let (Some((account, plan)), Some(signed), true) = (ids, signed, v.is_empty()) else {
            return Err(invalid(v));
        };
        let key = RequestKey {
            subject: &subject,
            request_id: &req.request_id,
        };
        let fp = fingerprint(
            "sign/v1",
            &req.name,
            &[signatory.as_bytes(), signed.to_rfc3339().as_bytes()],
        );
        let outcome = self
            .store
            .sign_plan(key, account, plan, (signatory, signed), &fp, now)
            .await
            .map_err(|e| from_store(e, "", &req.name))?;
        Ok(Response::new(self.answer(outcome, "signed")))
    }
}
