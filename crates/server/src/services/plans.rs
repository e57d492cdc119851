//! PlanService: ValidatePlan checks a proposal against policy for the account's collectable balance
//! (one read, no writes). Recording plans (CreatePlan and the rest) is not delivered yet.

use std::sync::Arc;

use chrono::Utc;
use recoup_domain::Violations;
use recoup_domain::ageing::local_today;
use recoup_domain::plan::{self, Authority, Situation};
use recoup_domain::policy::Policy;
use recoup_proto::v1 as pb;
use recoup_proto::v1::plan_service_server::PlanService;
use recoup_store::{AccountKey, Store};
use tonic::{Request, Response, Status};

use crate::auth::{self, Role};
use crate::convert::balance_of;
use crate::convert::plan::{proposal_in, validation_out};
use crate::status::{internal, invalid};
use crate::{names, unsupported};

pub struct Plans {
    store: Store,
    policy: Arc<Policy>,
}

impl Plans {
    pub fn new(store: Store, policy: Arc<Policy>) -> Self {
        Self { store, policy }
    }
}

#[tonic::async_trait]
impl PlanService for Plans {
    async fn validate_plan(
        &self,
        request: Request<pb::ValidatePlanRequest>,
    ) -> Result<Response<pb::ValidatePlanResponse>, Status> {
        let asker = match auth::identity(&request)?.role {
            Role::Supervisor => Authority::Supervisor,
            _ => Authority::Agent,
        };
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
        let a = self
            .store
            .get_account(AccountKey::Id(account))
            .await
            .map_err(|e| internal(&e))?
            .ok_or_else(|| Status::not_found(format!("{} does not exist", req.parent)))?;
        let cur = a.data.currency;
        let (proposal, affordable_monthly) = proposal_in(proposal, cur).map_err(|pv| {
            let mut v = Violations::new();
            v.extend_prefixed("proposal", pv);
            invalid(v)
        })?;
        let now = Utc::now();
        let today = local_today(a.data.time_zone, now);
        // The plan pays what may be collected: disputed invoices are set aside.
        let b = balance_of(&a, today);
        let situation = Situation {
            balance: b
                .outstanding
                .with_amount(b.outstanding.amount() - b.disputed.amount()),
            oldest_overdue_days: b.max_days_overdue,
            today,
            asker,
            affordable_monthly,
        };
        let judged = plan::judge(&proposal, &situation, &self.policy.plans);
        let counters = plan::counter_proposals(&proposal, &situation, &self.policy.plans);
        tracing::info!(
            account_id = account,
            valid = judged.valid(),
            broken = judged.broken.len(),
            counters = counters.len(),
            "plan validated"
        );
        Ok(Response::new(validation_out(&judged, &counters, cur)))
    }

    async fn create_plan(
        &self,
        _: Request<pb::CreatePlanRequest>,
    ) -> Result<Response<pb::Plan>, Status> {
        Err(unsupported("CreatePlan", "recording payment plans"))
    }

    async fn get_plan(&self, _: Request<pb::GetPlanRequest>) -> Result<Response<pb::Plan>, Status> {
        Err(unsupported("GetPlan", "recording payment plans"))
    }

    async fn list_plans(
        &self,
        _: Request<pb::ListPlansRequest>,
    ) -> Result<Response<pb::ListPlansResponse>, Status> {
        Err(unsupported("ListPlans", "recording payment plans"))
    }

    async fn approve_plan(
        &self,
        _: Request<pb::ApprovePlanRequest>,
    ) -> Result<Response<pb::Plan>, Status> {
        Err(unsupported("ApprovePlan", "recording payment plans"))
    }

    async fn record_plan_signature(
        &self,
        _: Request<pb::RecordPlanSignatureRequest>,
    ) -> Result<Response<pb::Plan>, Status> {
        Err(unsupported(
            "RecordPlanSignature",
            "recording payment plans",
        ))
    }
}
