//! CallService: recording what happened on a call (under the contact rules), and the call history.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use recoup_domain::Violations;
use recoup_domain::ageing::local_today;
use recoup_domain::call::Outcome;
use recoup_domain::contact::Block;
use recoup_domain::policy::Policy;
use recoup_domain::promise::{self, Judged};
use recoup_proto::v1 as pb;
use recoup_proto::v1::call_service_server::CallService;
use recoup_store::{AccountKey, CallOutcome, Recorder, RequestKey, Store, StoreError};
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::auth::{self, Role};
use crate::convert::block_reason_out;
use crate::convert::call::{call_in, call_out};
use crate::names;
use crate::paging::page_size;
use crate::status::{from_store, internal, invalid, invalid_field};

pub struct Calls {
    store: Store,
    policy: Arc<Policy>,
    max_page_size: u32,
}

impl Calls {
    pub fn new(store: Store, policy: Arc<Policy>, max_page_size: u32) -> Self {
        Self {
            store,
            policy,
            max_page_size,
        }
    }

    /// The account's recent promises, judged as of the debtor's today under the policy.
    async fn judged_promises(&self, account: i64) -> Result<Vec<Judged>, Status> {
        let Some(a) = self
            .store
            .get_account(AccountKey::Id(account))
            .await
            .map_err(|e| internal(&e))?
        else {
            return Ok(Vec::new());
        };
        let today = local_today(a.data.time_zone, Utc::now());
        Ok(promise::judge(
            &a.story.promises,
            &a.story.received,
            today,
            &self.policy.promises,
        ))
    }
}

/// FAILED_PRECONDITION naming every contact rule the call breaks.
fn refused(account: &str, blocks: &[Block]) -> Status {
    let mut details = ErrorDetails::new();
    for b in blocks {
        details.add_precondition_failure_violation(
            "CONTACT_RULE",
            block_reason_out(b.reason).as_str_name(),
            &b.description,
        );
    }
    let summary: Vec<&str> = blocks.iter().map(|b| b.description.as_str()).collect();
    Status::with_error_details(
        Code::FailedPrecondition,
        format!(
            "the contact rules forbid calling {account} now: {}. A supervisor may record the call \
             with a supervisor_override and a reason",
            summary.join("; ")
        ),
        details,
    )
}

/// A ListCalls page token: the start time and id of the page's last call, bound to the account.
fn encode_token(account_id: i64, last: (DateTime<Utc>, i64)) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{account_id}.{}.{}",
        last.0.timestamp_micros(),
        last.1
    ))
}

fn decode_token(account_id: i64, token: &str) -> Result<Option<(DateTime<Utc>, i64)>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || {
        invalid_field(
            "page_token",
            "is not a token this server issued for this account",
        )
    };
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = text.split('.');
    let (Some(a), Some(t), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if a.parse::<i64>().ok() != Some(account_id) {
        return Err(bad());
    }
    let t = t
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    let id = id.parse::<i64>().map_err(|_| bad())?;
    Ok(Some((t, id)))
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
            .record_call(by, account, &call, &self.policy, Utc::now())
            .await
            .map_err(|e| match e {
                StoreError::Refused(blocks) => refused(&req.parent, &blocks),
                e => from_store(e, "call", || format!("{} does not exist", req.parent)),
            })?;
        let stored = match outcome {
            CallOutcome::Recorded(c) => {
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
        let before = decode_token(account, &req.page_token)?;
        let mut calls = self
            .store
            .list_calls(account, before, i64::from(size) + 1)
            .await
            .map_err(|e| internal(&e))?
            .ok_or_else(|| Status::not_found(format!("{} does not exist", req.parent)))?;
        let next_page_token = if calls.len() > size as usize {
            calls.truncate(size as usize);
            calls
                .last()
                .map(|c| encode_token(account, (c.call.start_time, c.id)))
                .unwrap_or_default()
        } else {
            String::new()
        };
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
