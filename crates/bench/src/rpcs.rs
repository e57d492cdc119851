//! The calls a run measures, each as a `load::Call`. Accounts are picked pseudo-randomly (and
//! reproducibly) across the whole book, so reads are not served from one hot row.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{Days, Utc};
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_proto::v1::call_service_client::CallServiceClient;
use recoup_proto::v1::floor_service_client::FloorServiceClient;
use recoup_proto::v1::guidance_service_client::GuidanceServiceClient;
use recoup_proto::v1::plan_service_client::PlanServiceClient;
use recoup_proto::v1::reporting_service_client::ReportingServiceClient;
use recoup_server::convert::{date_out, time_out};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::book;
use crate::load::Call;

/// The RPCs a run can measure, by the names the report uses.
pub const ALL: &[&str] = &[
    "get_account_full",
    "get_account_basic",
    "list_accounts",
    "get_worklist",
    "record_payment",
    "record_call_outcome",
    "validate_plan",
    "get_call_guidance",
    "prepare_call",
    "claim_next_and_record",
    "get_kpis",
];

/// Adds the bearer credential to every call.
#[derive(Clone)]
pub struct Bearer(pub MetadataValue<Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

/// The server under load and what calling it needs.
#[derive(Clone)]
pub struct Target {
    pub agent: Bearer,
    /// One agent per task for the floor (a claim is its agent's, one at a time); the harness
    /// issues them when it starts recoupd, else there is only `agent`.
    pub floor_agents: Arc<Vec<Bearer>>,
    pub integration: Bearer,
    /// A supervisor, for reports; the harness issues one when it starts recoupd.
    pub supervisor: Option<Bearer>,
    /// Accounts in the book (refs `BK-0000000` …).
    pub accounts: usize,
    /// Each account's currency and minor-unit exponent, by index (for payments).
    pub currencies: Arc<Vec<(&'static str, u32)>>,
    /// Distinguishes this run's request ids from earlier runs' on the same database.
    pub run_id: u64,
    /// Numbers every write of the run, so no request id repeats across levels, rounds or tasks (a
    /// repeated id would be answered as a retry, from a read, and flatter the write's numbers).
    writes: Arc<AtomicU64>,
}

impl Target {
    pub fn new(agent: &str, integration: &str, accounts: usize) -> Result<Target, String> {
        let bearer = |k: &str| {
            format!("Bearer {k}")
                .parse()
                .map(Bearer)
                .map_err(|_| "a key is not valid header text".to_owned())
        };
        let currencies = (0..accounts).map(book::currency_of).collect();
        Ok(Target {
            agent: bearer(agent)?,
            floor_agents: Arc::new(vec![bearer(agent)?]),
            integration: bearer(integration)?,
            supervisor: None,
            accounts,
            currencies: Arc::new(currencies),
            run_id: fastrand::u64(..),
            writes: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The same target with one agent key per floor task.
    pub fn with_floor_agents(self, keys: &[String]) -> Result<Target, String> {
        let agents = keys
            .iter()
            .map(|k| {
                format!("Bearer {k}")
                    .parse()
                    .map(Bearer)
                    .map_err(|_| "a key is not valid header text".to_owned())
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Target {
            floor_agents: Arc::new(agents),
            ..self
        })
    }

    /// The same target with a supervisor's key.
    pub fn with_supervisor(self, key: &str) -> Result<Target, String> {
        let bearer = format!("Bearer {key}")
            .parse()
            .map(Bearer)
            .map_err(|_| "a key is not valid header text".to_owned())?;
        Ok(Target {
            supervisor: Some(bearer),
            ..self
        })
    }

    /// A reproducible pseudo-random account index for call `seq` of `task`.
    fn pick(&self, task: usize, seq: u64) -> usize {
        let mut x = (task as u64) << 40 ^ seq ^ 0x2545_F491_4F6C_DD1D;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        (x % self.accounts as u64) as usize
    }

    /// A request id used by no other call of any run.
    fn request_id(&self, what: &str) -> String {
        let n = self.writes.fetch_add(1, Ordering::Relaxed);
        format!("bench-{what}-{:x}-{n}", self.run_id)
    }

    fn client(
        channel: Channel,
        who: &Bearer,
    ) -> AccountServiceClient<InterceptedService<Channel, Bearer>> {
        AccountServiceClient::new(InterceptedService::new(channel, who.clone()))
    }
}

/// The echo baseline: grpc.health.v1 Check.
pub fn echo() -> impl Call {
    |channel: Channel, _task: usize, _seq: u64| async move {
        HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .map(|_| ())
    }
}

/// One of the measured RPCs.
#[derive(Clone)]
pub enum Rpc {
    GetAccount(Target, bool),
    ListAccounts(Target),
    GetWorklist(Target),
    RecordPayment(Target),
    RecordCallOutcome(Target),
    ValidatePlan(Target),
    GetCallGuidance(Target),
    PrepareCall(Target),
    ClaimNextAndRecord(Target),
    GetKpis(Target),
}

impl Rpc {
    /// The RPC named `name` (one of `ALL`).
    pub fn named(name: &str, target: &Target) -> Option<Rpc> {
        let t = target.clone();
        Some(match name {
            "get_account_full" => Rpc::GetAccount(t, true),
            "get_account_basic" => Rpc::GetAccount(t, false),
            "list_accounts" => Rpc::ListAccounts(t),
            "get_worklist" => Rpc::GetWorklist(t),
            "record_payment" => Rpc::RecordPayment(t),
            "record_call_outcome" => Rpc::RecordCallOutcome(t),
            "validate_plan" => Rpc::ValidatePlan(t),
            "get_call_guidance" => Rpc::GetCallGuidance(t),
            "prepare_call" => Rpc::PrepareCall(t),
            "claim_next_and_record" => Rpc::ClaimNextAndRecord(t),
            "get_kpis" => Rpc::GetKpis(t),
            _ => return None,
        })
    }
}

impl Call for Rpc {
    async fn call(&self, channel: Channel, task: usize, seq: u64) -> Result<(), tonic::Status> {
        match self {
            Rpc::GetAccount(t, full) => {
                let view = if *full {
                    pb::AccountView::Full
                } else {
                    pb::AccountView::Basic
                };
                let request = pb::GetAccountRequest {
                    account: Some(pb::get_account_request::Account::ExternalRef(
                        book::external_ref(t.pick(task, seq)),
                    )),
                    view: view as i32,
                };
                Target::client(channel, &t.agent)
                    .get_account(request)
                    .await?;
            }
            Rpc::ListAccounts(t) => {
                let request = pb::ListAccountsRequest {
                    min_days_overdue: 30,
                    page_size: 50,
                    ..Default::default()
                };
                Target::client(channel, &t.agent)
                    .list_accounts(request)
                    .await?;
            }
            Rpc::GetWorklist(t) => {
                let request = pb::GetWorklistRequest {
                    page_size: 50,
                    ..Default::default()
                };
                Target::client(channel, &t.agent)
                    .get_worklist(request)
                    .await?;
            }
            Rpc::RecordPayment(t) => {
                let i = t.pick(task, seq);
                let (currency, exponent) = t.currencies[i];
                // One minor unit: 0.01 GBP, 1 JPY, 0.001 KWD.
                let (units, nanos) = if exponent == 0 {
                    (1, 0)
                } else {
                    (0, 10i32.pow(9 - exponent))
                };
                let request = pb::RecordPaymentRequest {
                    request_id: t.request_id("pay"),
                    parent: format!("accounts/{}", i + 1),
                    payment: Some(pb::Payment {
                        amount: Some(pb::Money {
                            currency_code: currency.into(),
                            units,
                            nanos,
                        }),
                        // Yesterday in UTC is never in the future of any debtor's own date.
                        payment_date: Some(date_out(Utc::now().date_naive() - Days::new(1))),
                        reference: "BENCH".into(),
                        ..Default::default()
                    }),
                };
                Target::client(channel, &t.integration)
                    .record_payment(request)
                    .await?;
            }
            Rpc::RecordCallOutcome(t) => {
                // Inbound (the debtor rang and left a message), so the contact rules, which would
                // refuse a second outbound call to an account the same day, never refuse it.
                let request = pb::RecordCallOutcomeRequest {
                    request_id: t.request_id("call"),
                    parent: format!("accounts/{}", t.pick(task, seq) + 1),
                    call: Some(pb::CallRecord {
                        direction: pb::CallDirection::Inbound as i32,
                        start_time: Some(time_out(Utc::now())),
                        contact_name: "Bench Caller".into(),
                        outcome: Some(pb::call_record::Outcome::LeftMessage(pb::LeftMessage {
                            left_with: "voicemail".into(),
                        })),
                        notes: "asked for a call back about the statement".into(),
                        ..Default::default()
                    }),
                };
                CallServiceClient::new(InterceptedService::new(channel, t.agent.clone()))
                    .record_call_outcome(request)
                    .await?;
            }
            Rpc::ValidatePlan(t) => {
                // Everything in a fortnight: judged, with its counter-proposals.
                let request = pb::ValidatePlanRequest {
                    parent: format!("accounts/{}", t.pick(task, seq) + 1),
                    proposal: Some(pb::PlanProposal {
                        kind: pb::PlanKind::PayInFull as i32,
                        pay_by_date: Some(date_out(Utc::now().date_naive() + Days::new(14))),
                        ..Default::default()
                    }),
                };
                PlanServiceClient::new(InterceptedService::new(channel, t.agent.clone()))
                    .validate_plan(request)
                    .await?;
            }
            Rpc::GetCallGuidance(t) => {
                let request = pb::GetCallGuidanceRequest {
                    account: format!("accounts/{}", t.pick(task, seq) + 1),
                    locale: String::new(),
                };
                GuidanceServiceClient::new(InterceptedService::new(channel, t.agent.clone()))
                    .get_call_guidance(request)
                    .await?;
            }
            Rpc::PrepareCall(t) => {
                // What a desktop shows before dialling: the structured guidance.
                let request = pb::PrepareCallRequest {
                    account: format!("accounts/{}", t.pick(task, seq) + 1),
                    ..Default::default()
                };
                FloorServiceClient::new(InterceptedService::new(channel, t.agent.clone()))
                    .prepare_call(request)
                    .await?;
            }
            Rpc::GetKpis(t) => {
                // A manager's dashboard: the last four weeks by week.
                let Some(supervisor) = &t.supervisor else {
                    return Err(tonic::Status::failed_precondition(
                        "get_kpis needs a supervisor key: measure it on a recoupd the harness starts",
                    ));
                };
                let to = Utc::now().date_naive();
                let request = pb::GetKpisRequest {
                    from_date: Some(date_out(to - Days::new(27))),
                    to_date: Some(date_out(to)),
                    group_by: pb::KpiGrouping::Week as i32,
                    time_zone: String::new(),
                };
                ReportingServiceClient::new(InterceptedService::new(channel, supervisor.clone()))
                    .get_kpis(request)
                    .await?;
            }
            Rpc::ClaimNextAndRecord(t) => {
                // One agent per task: claim the next account with its prepared call, record an
                // inbound-style outcome under the claim (the debtor's voicemail answered), next.
                // Inbound, so the account returns to the list once its entry is recomputed and
                // the book never runs out however long the run.
                // A small book can be worked through faster than the background pass puts the
                // accounts just called back on the list (every 2 s): then the agent waits and asks
                // again, as at a desk, and the wait counts in the call's time.
                let agent = t.floor_agents[task % t.floor_agents.len()].clone();
                let mut floor = FloorServiceClient::new(InterceptedService::new(
                    channel.clone(),
                    agent.clone(),
                ));
                let mut waits = 0;
                let prepared = loop {
                    let next = floor
                        .claim_next_account(pb::ClaimNextAccountRequest::default())
                        .await?
                        .into_inner()
                        .prepared;
                    match next {
                        Some(p) => break p,
                        None if waits < 50 => {
                            waits += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                        None => {
                            return Err(tonic::Status::not_found(
                                "no account may be called now, for 5 s",
                            ));
                        }
                    }
                };
                let claim = prepared
                    .claim
                    .ok_or_else(|| tonic::Status::internal("a prepared call without its claim"))?;
                let request = pb::RecordCallOutcomeRequest {
                    request_id: t.request_id("floor"),
                    parent: claim.account.clone(),
                    call: Some(pb::CallRecord {
                        direction: pb::CallDirection::Inbound as i32,
                        start_time: claim.claim_time,
                        contact_name: "Bench Caller".into(),
                        outcome: Some(pb::call_record::Outcome::LeftMessage(pb::LeftMessage {
                            left_with: "voicemail".into(),
                        })),
                        claim: claim.name,
                        ..Default::default()
                    }),
                };
                CallServiceClient::new(InterceptedService::new(channel, agent))
                    .record_call_outcome(request)
                    .await?;
            }
        }
        Ok(())
    }
}
