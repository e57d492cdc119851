//! AccountService.

use std::collections::HashMap;
use std::sync::Arc;

use recoup_domain::Violations;
use recoup_domain::account::{MAX_REASON_CHARS, MAX_REF_CHARS};
use recoup_domain::ageing::local_today;
use recoup_domain::fingerprint::Canonical;
use recoup_domain::policy::Policy;
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_server::AccountService;
use recoup_store::{
    AccountKey, AccountSnapshot, DisputeOutcome, ListFilter, PaymentOutcome, RequestKey, Store,
};
use tonic::{Request, Response, Status, Streaming};

use crate::clock::SharedClock;
use crate::convert::category::category_in;
use crate::convert::dispute::{dispute_in, dispute_out, resolution_in};
use crate::convert::{
    View, account_name, account_out, enum_in, invoice_out, money_in, payment_in, payment_out,
    required_in, status_in, view_in,
};
use crate::paging::{decode_position, decode_token, encode_position, next_page, page_size};
use crate::status::{
    ACCOUNT_TYPE, from_store, invalid, invalid_field, not_found, not_found_as, store_failed,
};
use crate::{auth, names};

/// What worklist page tokens are bound to.
const WORKLIST: &str = "worklist";

/// Accounts one BatchGetAccounts may ask for (AIP-231's usual bound).
const MAX_BATCH_GET: usize = 1000;

pub struct Accounts {
    store: Store,
    policy: Arc<Policy>,
    max_page_size: u32,
    clock: SharedClock,
}

impl Accounts {
    pub fn new(store: Store, policy: Arc<Policy>, max_page_size: u32, clock: SharedClock) -> Self {
        Self {
            store,
            policy,
            max_page_size,
            clock,
        }
    }

    fn view(&self, full: bool) -> View<'_> {
        if full {
            View::Full(&self.policy)
        } else {
            View::Basic
        }
    }
}

impl Accounts {
    /// Every invoice of account `name` (`accounts/{id}`), paid or not, oldest due first, each as
    /// GetInvoice shows it.
    pub async fn every_invoice(&self, name: &str) -> Result<Vec<pb::Invoice>, Status> {
        let mut v = Violations::new();
        let Some(account) = names::account_id(&mut v, "account", name) else {
            return Err(invalid(v));
        };
        let found = self
            .store
            .account_invoices(account)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| not_found(name))?;
        let now = self.clock.now();
        Ok(found
            .iter()
            .map(|f| {
                let paused_by = f
                    .open_dispute
                    .map(|d| format!("{}/disputes/{d}", account_name(account)))
                    .unwrap_or_default();
                invoice_out(&f.invoice, local_today(f.time_zone, now), paused_by)
            })
            .collect())
    }
}

#[tonic::async_trait]
impl AccountService for Accounts {
    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let full = view_in(&mut v, req.view, true);
        let key = match &req.account {
            Some(pb::get_account_request::Account::Name(name)) => {
                names::account_id(&mut v, "name", name).map(AccountKey::Id)
            }
            Some(pb::get_account_request::Account::ExternalRef(r)) => {
                v.identifier("external_ref", r, MAX_REF_CHARS);
                v.is_empty().then_some(AccountKey::ExternalRef(r.as_str()))
            }
            None => {
                v.push("name", "one of name or external_ref is required");
                None
            }
        };
        let (Some(key), Some(full), true) = (key, full, v.is_empty()) else {
            return Err(invalid(v));
        };
        let account = self
            .store
            .get_account(key)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| match key {
                AccountKey::Id(id) => not_found(&account_name(id)),
                AccountKey::ExternalRef(r) => not_found_as(
                    ACCOUNT_TYPE,
                    &format!("external_ref={r}"),
                    format!("no account has external_ref '{r}'"),
                ),
            })?;
        Ok(Response::new(account_out(
            &account,
            self.view(full),
            self.clock.now(),
        )))
    }

    async fn batch_get_accounts(
        &self,
        request: Request<pb::BatchGetAccountsRequest>,
    ) -> Result<Response<pb::BatchGetAccountsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let full = view_in(&mut v, req.view, true);
        let mut keys = Vec::new();
        match (req.names.is_empty(), req.external_refs.is_empty()) {
            (true, true) => v.push("names", "give names or external_refs"),
            (false, false) => v.push("external_refs", "give names or external_refs, not both"),
            (false, true) => {
                for (i, name) in req.names.iter().enumerate() {
                    if let Some(id) = names::account_id(&mut v, &format!("names[{i}]"), name) {
                        keys.push(AccountKey::Id(id));
                    }
                }
            }
            (true, false) => {
                for (i, r) in req.external_refs.iter().enumerate() {
                    v.identifier(&format!("external_refs[{i}]"), r, MAX_REF_CHARS);
                    keys.push(AccountKey::ExternalRef(r.as_str()));
                }
            }
        }
        let asked = req.names.len().max(req.external_refs.len());
        if asked > MAX_BATCH_GET {
            let field = if req.names.is_empty() {
                "external_refs"
            } else {
                "names"
            };
            v.push(
                field,
                format!("{asked} asked; at most {MAX_BATCH_GET} at once"),
            );
        }
        let (Some(full), true) = (full, v.is_empty()) else {
            return Err(invalid(v));
        };
        let found = self.store.get_accounts(&keys).await.map_err(store_failed)?;
        let now = self.clock.now();
        let view = self.view(full);
        let by_id: HashMap<i64, &AccountSnapshot> = found.iter().map(|a| (a.id, a)).collect();
        let by_ref: HashMap<&str, &AccountSnapshot> = found
            .iter()
            .map(|a| (a.data.external_ref.as_str(), a))
            .collect();
        let mut accounts = Vec::with_capacity(keys.len());
        let mut missing = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let hit = match key {
                AccountKey::Id(id) => by_id.get(id),
                AccountKey::ExternalRef(r) => by_ref.get(r),
            };
            match hit {
                Some(a) => accounts.push(account_out(a, view, now)),
                None if req.names.is_empty() => missing.push(req.external_refs[i].clone()),
                None => missing.push(req.names[i].clone()),
            }
        }
        if !missing.is_empty() {
            let shown: Vec<&str> = missing.iter().take(10).map(String::as_str).collect();
            let more = missing.len() - shown.len();
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            // ResourceInfo names the first missing; the message lists up to ten.
            let first = if req.names.is_empty() {
                format!("external_ref={}", missing[0])
            } else {
                missing[0].clone()
            };
            return Err(not_found_as(
                ACCOUNT_TYPE,
                &first,
                format!(
                    "{} of the accounts asked do not exist: {}{tail}",
                    missing.len(),
                    shown.join(", ")
                ),
            ));
        }
        Ok(Response::new(pb::BatchGetAccountsResponse { accounts }))
    }

    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let req = request.into_inner();
        let size = page_size(req.page_size, self.max_page_size)?;
        let mut v = Violations::new();
        let full = view_in(&mut v, req.view, false).unwrap_or_default();
        let status = enum_in(&mut v, "status", req.status, Some(None), |s| {
            status_in(s).map(Some)
        })
        .flatten();
        if req.min_days_overdue < 0 {
            v.push("min_days_overdue", "must not be negative");
        }
        let min_overdue = match &req.min_overdue_amount {
            None => None,
            Some(m) => money_in(&mut v, "min_overdue_amount", Some(m)),
        };
        if min_overdue.is_some_and(|m| m.is_negative()) {
            v.push("min_overdue_amount", "must not be negative");
        }
        if !v.is_empty() {
            return Err(invalid(v));
        }
        let filter = ListFilter {
            status,
            min_days_overdue: req.min_days_overdue.max(0) as u32,
            min_overdue,
        };
        let mut key = Canonical::new("list-accounts");
        key.display(req.status)
            .display(req.min_days_overdue)
            .display(min_overdue.map(|m| m.to_string()).unwrap_or_default());
        let filter_key = key.finish();
        let after = decode_token(&req.page_token, &filter_key)?;
        let mut accounts = self
            .store
            .list_accounts(&filter, after, size + 1, self.clock.now())
            .await
            .map_err(store_failed)?;
        let next_page_token = next_page(&mut accounts, size, &filter_key, |a| a.id.to_string());
        let now = self.clock.now();
        Ok(Response::new(pb::ListAccountsResponse {
            accounts: accounts
                .iter()
                .map(|a| account_out(a, self.view(full), now))
                .collect(),
            next_page_token,
        }))
    }

    async fn get_worklist(
        &self,
        request: Request<pb::GetWorklistRequest>,
    ) -> Result<Response<pb::GetWorklistResponse>, Status> {
        let identity = auth::identity(&request)?.clone();
        let req = request.into_inner();
        let size = page_size(req.page_size, self.max_page_size)?;
        let queues = super::floor::queues_for(&self.store, &identity, &req.queue).await?;
        // A page token is bound to the queues it was issued for.
        let worklist = format!(
            "{WORKLIST} of {}",
            queues
                .as_deref()
                .map_or("every queue".into(), |q| q.join(","))
        );
        let (after, ranked) = match decode_position(&req.page_token, &worklist)? {
            Some(p) => {
                let bad = || invalid_field("page_token", "is not a token this server issued");
                let mut parts = p.split(':').map(|x| x.parse::<i64>().map_err(|_| bad()));
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(score), Some(id), Some(rank)) => (Some((score?, id?)), rank?),
                    _ => return Err(bad()),
                }
            }
            None => (None, 0),
        };
        let now = self.clock.now();
        let listed = self
            .store
            .worklist_page(now, after, i64::from(size) + 1, queues.as_deref())
            .await
            .map_err(store_failed)?;
        let more = listed.len() > size as usize;
        let mut entries = Vec::with_capacity(size as usize);
        let mut last = None;
        // Each entry was computed from its account's current view (a changed account's entry is
        // stale and not listed) for a window the query checked against `now`: its summary is the
        // account as the rules judged it, with nothing to read or judge again here.
        for e in listed.into_iter().take(size as usize) {
            last = Some((e.score, e.account_id));
            let account = crate::worklist::summary_in(&e.summary).map_err(store_failed)?;
            entries.push(pb::WorklistEntry {
                account: Some(account),
                rank: i32::try_from(ranked + entries.len() as i64 + 1).unwrap_or(i32::MAX),
                reasons: e.reasons,
                claim: e.claim.map(|c| crate::convert::call::claim_out(&c, now)),
            });
        }
        let next_page_token = match (more, last) {
            (true, Some((score, id))) => encode_position(
                &format!("{score}:{id}:{}", ranked + entries.len() as i64),
                &worklist,
            ),
            _ => String::new(),
        };
        Ok(Response::new(pb::GetWorklistResponse {
            entries,
            next_page_token,
        }))
    }

    async fn import_accounts(
        &self,
        request: Request<Streaming<pb::ImportAccountsRequest>>,
    ) -> Result<Response<pb::ImportAccountsResponse>, Status> {
        let actor = auth::identity(&request)?.subject.clone();
        let summary =
            super::import::run(&self.store, &self.clock, actor, request.into_inner(), None).await?;
        Ok(Response::new(summary))
    }

    type ImportAccountsWithResultsStream = super::import::ResultStream;

    async fn import_accounts_with_results(
        &self,
        request: Request<Streaming<pb::ImportAccountsWithResultsRequest>>,
    ) -> Result<Response<Self::ImportAccountsWithResultsStream>, Status> {
        let actor = auth::identity(&request)?.subject.clone();
        Ok(Response::new(super::import::with_results(
            self.store.clone(),
            self.clock.clone(),
            actor,
            request.into_inner(),
        )))
    }

    async fn record_payment(
        &self,
        request: Request<pb::RecordPaymentRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let actor = auth::identity(&request)?.subject.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        names::request_id(&mut v, "request_id", &req.request_id);
        let account = names::account_id(&mut v, "parent", &req.parent);
        let payment = required_in(&mut v, "payment", req.payment.as_ref(), payment_in);
        let (Some(account), Some(payment), true) = (account, payment, v.is_empty()) else {
            return Err(invalid(v));
        };
        let key = RequestKey {
            subject: &actor,
            request_id: &req.request_id,
        };
        let outcome = self
            .store
            .record_payment(key, account, &payment, self.clock.now())
            .await
            .map_err(|e| from_store(e, "payment", &req.parent))?;
        let stored = match outcome {
            PaymentOutcome::Recorded(p) => {
                tracing::info!(payment_id = p.id, account_id = account, "payment recorded");
                p
            }
            PaymentOutcome::Replayed(p) => {
                tracing::info!(
                    payment_id = p.id,
                    account_id = account,
                    "payment retry answered"
                );
                p
            }
        };
        Ok(Response::new(payment_out(&stored)))
    }

    async fn lift_contact_block(
        &self,
        request: Request<pb::LiftContactBlockRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let account = super::history::lift(&self.store, self.clock.now(), request).await?;
        let stored = self
            .store
            .get_account(AccountKey::Id(account))
            .await
            .map_err(store_failed)?
            .ok_or_else(|| not_found(&account_name(account)))?;
        Ok(Response::new(account_out(
            &stored,
            self.view(true),
            self.clock.now(),
        )))
    }

    async fn import_history(
        &self,
        request: Request<Streaming<pb::ImportHistoryRequest>>,
    ) -> Result<Response<pb::ImportHistoryResponse>, Status> {
        super::history::import(&self.store, &self.policy, || self.clock.now(), request).await
    }

    async fn set_account_category(
        &self,
        request: Request<pb::SetAccountCategoryRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let actor = auth::identity(&request)?.subject.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        names::request_id(&mut v, "request_id", &req.request_id);
        let account = names::account_id(&mut v, "name", &req.name);
        // UNSPECIFIED (None) returns the account to its derived category.
        let category = enum_in(&mut v, "category", req.category, Some(None), |c| {
            category_in(c).map(Some)
        });
        v.required_text("reason", &req.reason, MAX_REASON_CHARS);
        let (Some(account), Some(category), true) = (account, category, v.is_empty()) else {
            return Err(invalid(v));
        };
        let key = RequestKey {
            subject: &actor,
            request_id: &req.request_id,
        };
        let written = self
            .store
            .set_category(key, account, category, &req.reason, self.clock.now())
            .await
            .map_err(|e| from_store(e, "", &req.name))?;
        tracing::info!(
            account_id = account,
            retry = !written,
            category = category.map_or("derived", |c| c.as_str()),
            "category set"
        );
        let stored = self
            .store
            .get_account(AccountKey::Id(account))
            .await
            .map_err(store_failed)?
            .ok_or_else(|| not_found(&req.name))?;
        Ok(Response::new(account_out(
            &stored,
            self.view(true),
            self.clock.now(),
        )))
    }

    async fn raise_dispute(
        &self,
        request: Request<pb::RaiseDisputeRequest>,
    ) -> Result<Response<pb::Dispute>, Status> {
        let actor = auth::identity(&request)?.subject.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        names::request_id(&mut v, "request_id", &req.request_id);
        let account = names::account_id(&mut v, "parent", &req.parent);
        let dispute = required_in(&mut v, "dispute", req.dispute.as_ref(), dispute_in);
        let (Some(account), Some(dispute), true) = (account, dispute, v.is_empty()) else {
            return Err(invalid(v));
        };
        let key = RequestKey {
            subject: &actor,
            request_id: &req.request_id,
        };
        let outcome = self
            .store
            .raise_dispute(key, account, &dispute, self.clock.now())
            .await
            .map_err(|e| from_store(e, "dispute", &req.parent))?;
        Ok(Response::new(dispute_answer(outcome, "raised")))
    }

    async fn get_payment(
        &self,
        request: Request<pb::GetPaymentRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let Some((account, id)) = names::payment_id(&mut v, "name", &req.name) else {
            return Err(invalid(v));
        };
        let payment = self
            .store
            .get_payment(id)
            .await
            .map_err(store_failed)?
            .filter(|p| p.account_id == account)
            .ok_or_else(|| not_found(&req.name))?;
        Ok(Response::new(payment_out(&payment)))
    }

    async fn list_payments(
        &self,
        request: Request<pb::ListPaymentsRequest>,
    ) -> Result<Response<pb::ListPaymentsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let account = names::account_id(&mut v, "parent", &req.parent);
        let Some(account) = account.filter(|_| v.is_empty()) else {
            return Err(invalid(v));
        };
        let size = page_size(req.page_size, self.max_page_size)?;
        let key = format!("payments of accounts/{account}");
        let before = decode_position(&req.page_token, &key)?
            .map(|p| payment_position_in(&p))
            .transpose()?;
        let mut payments = self
            .store
            .list_payments(account, before, i64::from(size) + 1)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| not_found(&req.parent))?;
        let next_page_token = next_page(&mut payments, size, &key, |p| {
            format!("{}:{}", p.payment_date, p.id)
        });
        Ok(Response::new(pb::ListPaymentsResponse {
            payments: payments.iter().map(payment_out).collect(),
            next_page_token,
        }))
    }

    async fn get_invoice(
        &self,
        request: Request<pb::GetInvoiceRequest>,
    ) -> Result<Response<pb::Invoice>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let Some((account, id)) = names::invoice_id(&mut v, "name", &req.name) else {
            return Err(invalid(v));
        };
        let found = self
            .store
            .get_invoice(account, id)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| not_found(&req.name))?;
        let today = local_today(found.time_zone, self.clock.now());
        let paused_by = found
            .open_dispute
            .map(|d| format!("{}/disputes/{d}", account_name(account)))
            .unwrap_or_default();
        Ok(Response::new(invoice_out(&found.invoice, today, paused_by)))
    }

    async fn list_disputes(
        &self,
        request: Request<pb::ListDisputesRequest>,
    ) -> Result<Response<pb::ListDisputesResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let account = names::account_id(&mut v, "parent", &req.parent);
        let Some(account) = account.filter(|_| v.is_empty()) else {
            return Err(invalid(v));
        };
        let size = page_size(req.page_size, self.max_page_size)?;
        let key = format!("disputes of {}", req.parent);
        let before = match req.page_token.as_str() {
            "" => None,
            token => Some(decode_token(token, &key)?),
        };
        let mut disputes = self
            .store
            .list_disputes(account, before, i64::from(size) + 1)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| not_found(&req.parent))?;
        let next_page_token = next_page(&mut disputes, size, &key, |d| d.id.to_string());
        Ok(Response::new(pb::ListDisputesResponse {
            disputes: disputes.iter().map(dispute_out).collect(),
            next_page_token,
        }))
    }

    async fn get_dispute(
        &self,
        request: Request<pb::GetDisputeRequest>,
    ) -> Result<Response<pb::Dispute>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let Some((account, id)) = names::dispute_id(&mut v, "name", &req.name) else {
            return Err(invalid(v));
        };
        let dispute = self
            .store
            .get_dispute(account, id)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| not_found(&req.name))?;
        Ok(Response::new(dispute_out(&dispute)))
    }

    async fn resolve_dispute(
        &self,
        request: Request<pb::ResolveDisputeRequest>,
    ) -> Result<Response<pb::Dispute>, Status> {
        let actor = auth::identity(&request)?.subject.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        names::request_id(&mut v, "request_id", &req.request_id);
        let ids = names::dispute_id(&mut v, "name", &req.name);
        let resolution = match resolution_in(req.outcome, &req.resolution) {
            Ok(r) => Some(r),
            Err(rv) => {
                v.extend_prefixed("", rv);
                None
            }
        };
        let (Some((account, dispute)), Some(resolution), true) = (ids, resolution, v.is_empty())
        else {
            return Err(invalid(v));
        };
        let key = RequestKey {
            subject: &actor,
            request_id: &req.request_id,
        };
        let outcome = self
            .store
            .resolve_dispute(key, account, dispute, &resolution, self.clock.now())
            .await
            .map_err(|e| from_store(e, "", &req.name))?;
        Ok(Response::new(dispute_answer(outcome, "resolved")))
    }
}

/// The dispute a raise or resolve answers with, logged by id (never its reason).
fn dispute_answer(outcome: DisputeOutcome, what: &str) -> pb::Dispute {
    let (d, retry) = match outcome {
        DisputeOutcome::Recorded(d) => (d, false),
        DisputeOutcome::Replayed(d) => (d, true),
    };
    tracing::info!(
        dispute_id = d.id,
        account_id = d.account_id,
        retry,
        state = d.state.as_str(),
        "dispute {what}"
    );
    dispute_out(&d)
}

/// A ListPayments page position: the last payment's (payment date, id).
fn payment_position_in(position: &str) -> Result<(chrono::NaiveDate, i64), Status> {
    let bad = || invalid_field("page_token", "is not a token this server issued");
    let (date, id) = position.split_once(':').ok_or_else(bad)?;
    Ok((
        date.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}
