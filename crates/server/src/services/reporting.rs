//! ReportingService: the manager's figures for a period (`crate::report`).

use std::sync::Arc;

use chrono::Days;
use recoup_domain::Violations;
use recoup_domain::policy::Policy;
use recoup_proto::v1 as pb;
use recoup_proto::v1::reporting_service_server::ReportingService;
use recoup_store::Store;
use tonic::{Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::auth;
use crate::clock::SharedClock;
use crate::convert::{date_in, enum_in};
use crate::evidence::Reader;
use crate::report::{self, Ask, MAX_DAYS, grouping_in};
use crate::status::{invalid, store_failed};
use recoup_domain::report::kpis::Grouping;
use recoup_script::Templates;

pub struct Reporting {
    store: Store,
    policy: Arc<Policy>,
    clock: SharedClock,
    evidence: Reader,
}

impl Reporting {
    pub fn new(
        store: Store,
        policy: Arc<Policy>,
        templates: Arc<Templates>,
        clock: SharedClock,
    ) -> Self {
        Self {
            evidence: Reader::new(store.clone(), policy.clone(), templates, clock.clone()),
            store,
            policy,
            clock,
        }
    }
}

/// The request's period and grouping, every problem named by its field.
pub fn ask_in(
    req: &pb::GetKpisRequest,
    policy: &Policy,
    queues: Option<Vec<String>>,
) -> Result<Ask, Violations> {
    let mut v = Violations::new();
    let from = date_in(&mut v, "from_date", req.from_date.as_ref());
    let to = date_in(&mut v, "to_date", req.to_date.as_ref());
    let grouping = enum_in(
        &mut v,
        "group_by",
        req.group_by,
        Some(Grouping::None),
        |g: pb::KpiGrouping| Some(grouping_in(g)),
    );
    if let (Some(from), Some(to)) = (from, to) {
        if to < from {
            v.push("to_date", "is before from_date");
        } else if from
            .checked_add_days(Days::new(MAX_DAYS))
            .is_some_and(|last| to > last)
        {
            v.push(
                "to_date",
                format!("is more than {MAX_DAYS} days after from_date"),
            );
        }
    }
    let zone = policy.reporting.time_zone.name();
    if !req.time_zone.is_empty() && req.time_zone != zone {
        v.push(
            "time_zone",
            format!(
                "reports count days in the reporting time zone, {zone} \
                 (policy.reporting.time_zone); leave it empty or name that zone"
            ),
        );
    }
    match (from, to, grouping) {
        (Some(from), Some(to), Some(g)) if v.is_empty() => Ok(Ask {
            from,
            to,
            grouping: g,
            queues,
        }),
        _ => Err(v),
    }
}

#[tonic::async_trait]
impl ReportingService for Reporting {
    async fn get_kpis(
        &self,
        request: Request<pb::GetKpisRequest>,
    ) -> Result<Response<pb::GetKpisResponse>, Status> {
        let queues = auth::identity(&request)?.queues.clone();
        let ask = ask_in(request.get_ref(), &self.policy, queues).map_err(invalid)?;
        let now = self.clock.now();
        match report::kpis(&self.store, &self.policy.reporting, &ask, now).await {
            Ok(Ok(response)) => Ok(Response::new(response)),
            Ok(Err(lag)) => Err(Status::with_error_details(
                tonic::Code::Unavailable,
                format!(
                    "the report's rollup is still counting the book's history ({lag} changes to \
                     go); try again in a minute"
                ),
                ErrorDetails::with_retry_info(Some(std::time::Duration::from_secs(30))),
            )),
            Err(e) => Err(store_failed(e)),
        }
    }

    async fn get_evidence_pack(
        &self,
        request: Request<pb::GetEvidencePackRequest>,
    ) -> Result<Response<pb::EvidencePack>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        crate::names::account_id(&mut v, "account", &req.account);
        if !v.is_empty() {
            return Err(invalid(v));
        }
        Ok(Response::new(self.evidence.pack(&req.account).await?))
    }
}
