//! CallService: recording what happened on a call (with what it broke of the contact rules), and
//! the call history.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use recoup_domain::Violations;
use recoup_domain::call::Outcome;
use recoup_domain::policy::Policy;
use recoup_domain::promise::TrackedPromise;
use recoup_proto::v1 as pb;
use recoup_proto::v1::call_service_server::CallService;
use recoup_store::{AccountKey, CallOutcome, Recorder, RequestKey, Store};
use tonic::{Request, Response, Status};

use crate::assess::Assessment;
use crate::auth::{self, Role};
use crate::clock::SharedClock;
use crate::convert::call::{call_in, call_out};
use crate::names;
use crate::paging::{decode_position, next_page, page_size};
use crate::status::{from_store, invalid, invalid_field, not_found, store_failed};

pub struct Calls {
    store: Store,
    policy: Arc<Policy>,
    max_page_size: u32,
    clock: SharedClock,
}

impl Calls {
    pub fn new(store: Store, policy: Arc<Policy>, max_page_size: u32, clock: SharedClock) -> Self {
        Self {
            store,
            policy,
            max_page_size,
            clock,
        }
    }

    /// The account's recent promises, judged as of the debtor's today under the policy.
    async fn judged_promises(&self, account: i64) -> Result<Vec<TrackedPromise>, Status> {
        let Some(a) = self
            .store
            .get_account(AccountKey::Id(account))
            .await
            .map_err(store_failed)?
        else {
            return Ok(Vec::new());
        };
        Ok(Assessment::of(&a, &self.policy, self.clock.now()).promises)
    }
}

/// ListCalls pages by (start time, id): the position of a page's last call, bound to its account.
fn filter_key(account_id: i64) -> String {
    format!("calls of accounts/{account_id}")
}

fn position_out(start: DateTime<Utc>, id: i64) -> String {
    format!("{}:{id}", start.timestamp_micros())
}

fn position_in(position: &str) -> Result<(DateTime<Utc>, i64), Status> {
    let bad = || invalid_field("page_token", "is not a token this server issued");
    let (micros, id) = position.split_once(':').ok_or_else(bad)?;
    let start = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((start, id.parse::<i64>().map_err(|_| bad())?))
}

#[tonic::async_trait]
impl CallService for Calls {
    async fn record_call_outcome(
        &self,
        request: Request<pb::RecordCallOutcomeRequest>,
    ) -> Result<Response<pb::CallRecord>, Status> {
        let identity = auth::identity(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        names::request_id(&mut v, "request_id", &req.request_id);
        let account = names::account_id(&mut v, "parent", &req.parent);
        let call = match &req.call {
            None => {
                v.push("call", "is required");
                None
            }
            Some(c) => {
                let mut cv = Violations::new();
                let call = call_in(&mut cv, c, account);
                v.extend_prefixed("call", cv);
                call
            }
        };
        let (Some(account), Some(call), true) = (account, call, v.is_empty()) else {
            return Err(invalid(v));
        };
        // Only a supervisor's own credential carries an override: an agent cannot grant one.
        let override_by = match &call.override_reason {
            Some(_) if identity.role != Role::Supervisor => {
                return Err(Status::permission_denied(
                    "only a supervisor's credential may record a call with supervisor_override",
                ));
            }
            Some(_) => Some(identity.subject.as_str()),
            None => None,
        };
        let by = Recorder {
            key: RequestKey {
                subject: &identity.subject,
                request_id: &req.request_id,
            },
            override_by,
        };
        let outcome = self
            .store
            .record_call(by, account, &call, &self.policy, self.clock.now())
            .await
            .map_err(|e| from_store(e, "call", &req.parent))?;
        let stored = match outcome {
            CallOutcome::Recorded(c) => {
                metrics::counter!(
                    "recoup_calls_recorded_total",
                    "outcome" => c.call.outcome.kind()
                )
                .increment(1);
                for b in &c.breaches {
                    metrics::counter!(
                        "recoup_contact_rule_breaches_total",
                        "rule" => b.rule.as_str()
                    )
                    .increment(1);
                }
                if !c.breaches.is_empty() {
                    tracing::warn!(
                        call_id = c.id,
                        account_id = account,
                        rules = ?c.breaches.iter().map(|b| b.rule.as_str()).collect::<Vec<_>>(),
                        "call recorded although it broke a rule"
                    );
                }
                tracing::info!(
                    call_id = c.id,
                    account_id = account,
                    outcome = c.call.outcome.kind(),
                    "call recorded"
                );
                c
            }
            CallOutcome::Replayed(c) => {
                tracing::info!(call_id = c.id, account_id = account, "call retry answered");
                c
            }
        };
        let judged = if matches!(stored.call.outcome, Outcome::PromiseToPay { .. }) {
            self.judged_promises(account).await?
        } else {
            Vec::new()
        };
        let judgement = judged.iter().find(|j| j.promise.call_id == stored.id);
        Ok(Response::new(call_out(&stored, judgement)))
    }

    async fn get_call(
        &self,
        request: Request<pb::GetCallRequest>,
    ) -> Result<Response<pb::CallRecord>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let Some((account, id)) = names::call_id(&mut v, "name", &req.name) else {
            return Err(invalid(v));
        };
        let call = self
            .store
            .get_call(id)
            .await
            .map_err(store_failed)?
            .filter(|c| c.account_id == account)
            .ok_or_else(|| not_found(&req.name))?;
        let judged = if matches!(call.call.outcome, Outcome::PromiseToPay { .. }) {
            self.judged_promises(account).await?
        } else {
            Vec::new()
        };
        let judgement = judged.iter().find(|j| j.promise.call_id == call.id);
        Ok(Response::new(call_out(&call, judgement)))
    }

    async fn list_calls(
        &self,
        request: Request<pb::ListCallsRequest>,
    ) -> Result<Response<pb::ListCallsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let account = names::account_id(&mut v, "parent", &req.parent);
        let Some(account) = account.filter(|_| v.is_empty()) else {
            return Err(invalid(v));
        };
        let size = page_size(req.page_size, self.max_page_size)?;
        let before = decode_position(&req.page_token, &filter_key(account))?
            .map(|p| position_in(&p))
            .transpose()?;
        let mut calls = self
            .store
            .list_calls(account, before, i64::from(size) + 1)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| not_found(&req.parent))?;
        let next_page_token = next_page(&mut calls, size, &filter_key(account), |c| {
            position_out(c.call.start_time, c.id)
        });
        // Promises on the page are shown judged, as the account view judges them (a page without
        // one needs no judging).
        let judged = if calls
            .iter()
            .any(|c| matches!(c.call.outcome, Outcome::PromiseToPay { .. }))
        {
            self.judged_promises(account).await?
        } else {
            Vec::new()
        };
        let judgement = |id| judged.iter().find(|j| j.promise.call_id == id);
        Ok(Response::new(pb::ListCallsResponse {
            calls: calls.iter().map(|c| call_out(c, judgement(c.id))).collect(),
            next_page_token,
        }))
    }
}
