//! FloorService: claims (an account reserved for one agent while the call is prepared and made),
//! the prepared call (account, guidance, contact status and claim from one read), and the calls
//! recorded although they broke a rule.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use recoup_domain::Violations;
use recoup_domain::account::{QUEUE_RULE, is_queue_name};
use recoup_domain::call::MAX_STEP_CHARS;
use recoup_domain::policy::Policy;
use recoup_proto::v1 as pb;
use recoup_proto::v1::floor_service_server::FloorService;
use recoup_script::Templates;
use recoup_store::{ClaimOp, Store};
use tonic::{Request, Response, Status};

use super::guidance::{compose, locale};
use crate::assess::Assessment;
use crate::auth::{self, Identity, Role};
use crate::clock::SharedClock;
use crate::convert::call::{call_out, claim_out};
use crate::convert::{account_name, contact_status_out, enum_in, full_out};
use crate::names;
use crate::paging::{decode_position, next_page, page_size};
use crate::status::{from_store, internal, invalid, invalid_field, not_found, store_failed};

pub struct Floor {
    store: Store,
    policy: Arc<Policy>,
    templates: Arc<Templates>,
    max_page_size: u32,
    clock: SharedClock,
}

/// What ListRuleBreaches page tokens are bound to.
fn breaches_key(agent: &str) -> String {
    format!("rule breaches by '{agent}'")
}

/// The queues a request may work: the one it names (known, and within the credential's limits),
/// else the credential's, else every queue (`None`).
pub async fn queues_for(
    store: &Store,
    identity: &Identity,
    asked: &str,
) -> Result<Option<Vec<String>>, Status> {
    if asked.is_empty() {
        return Ok(identity.queues.clone());
    }
    if !is_queue_name(asked) {
        return Err(invalid_field("queue", QUEUE_RULE));
    }
    if let Some(allowed) = &identity.queues
        && !allowed.iter().any(|q| q == asked)
    {
        return Err(Status::permission_denied(format!(
            "this credential works the queues {} only",
            allowed.join(", ")
        )));
    }
    if !store.queue_exists(asked).await.map_err(store_failed)? {
        return Err(invalid_field(
            "queue",
            format!("no account is in queue '{asked}'"),
        ));
    }
    Ok(Some(vec![asked.to_owned()]))
}

/// Which parts of the guidance to send.
struct Formats {
    structured: bool,
    text: bool,
    markdown: bool,
}

fn formats_in(v: &mut Violations, raw: &[i32]) -> Formats {
    let mut f = Formats {
        structured: raw.is_empty(),
        text: false,
        markdown: false,
    };
    for (i, r) in raw.iter().enumerate() {
        let field = format!("guidance_format[{i}]");
        match enum_in(v, &field, *r, None, |g: pb::GuidanceFormat| match g {
            pb::GuidanceFormat::Unspecified => None,
            g => Some(g),
        }) {
            Some(pb::GuidanceFormat::Structured) => f.structured = true,
            Some(pb::GuidanceFormat::Text) => f.text = true,
            Some(pb::GuidanceFormat::Markdown) => f.markdown = true,
            _ => {}
        }
    }
    f
}

/// The guidance with only the parts asked for (the tone and its reasons always come).
fn only(g: pb::CallGuidance, f: &Formats) -> pb::CallGuidance {
    let mut out = if f.structured {
        g
    } else {
        pb::CallGuidance {
            tone: g.tone,
            tone_reasons: g.tone_reasons,
            rendered_text: g.rendered_text,
            rendered_markdown: g.rendered_markdown,
            ..Default::default()
        }
    };
    if !f.text {
        out.rendered_text.clear();
    }
    if !f.markdown {
        out.rendered_markdown.clear();
    }
    out
}

impl Floor {
    pub fn new(
        store: Store,
        policy: Arc<Policy>,
        templates: Arc<Templates>,
        max_page_size: u32,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            policy,
            templates,
            max_page_size,
            clock,
        }
    }

    /// The prepared call for account `id` at `now`, from one read of its stored view and live
    /// claim.
    async fn prepare(
        &self,
        id: i64,
        role: Role,
        formats: &Formats,
        locale: &str,
        now: DateTime<Utc>,
    ) -> Result<pb::PreparedCall, Status> {
        let (a, claim) = self
            .store
            .account_with_claim(id, now)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| not_found(&account_name(id)))?;
        let x = Assessment::of(&a, &self.policy, now);
        let guidance = compose(&self.templates, &x, auth::authority(role), locale)?;
        Ok(pb::PreparedCall {
            account: Some(full_out(&x)),
            guidance: Some(only(guidance, formats)),
            contact_status: Some(contact_status_out(x.contact.clone())),
            claim: claim.map(|c| claim_out(&c, now)),
        })
    }

    /// Claims, extends or releases for `identity`; the claim as it then stands. `what` names the
    /// resource for NOT_FOUND.
    async fn claim(
        &self,
        identity: &Identity,
        op: ClaimOp,
        what: &str,
    ) -> Result<Response<pb::Claim>, Status> {
        let now = self.clock.now();
        let claim = self
            .store
            .claim(&identity.subject, op, &self.policy, now)
            .await
            .map_err(|e| from_store(e, "", what))?
            .ok_or_else(|| internal(&"a claim request answered nothing"))?;
        Ok(Response::new(claim_out(&claim, now)))
    }

    /// ExtendClaim and ReleaseClaim: the claim `name` names, and what to do with it.
    async fn claim_named(
        &self,
        identity: &Identity,
        name: &str,
        op: impl FnOnce(i64, i64) -> ClaimOp,
    ) -> Result<Response<pb::Claim>, Status> {
        let mut v = Violations::new();
        let Some((account_id, claim_id)) =
            names::claim_id(&mut v, "name", name).filter(|_| v.is_empty())
        else {
            return Err(invalid(v));
        };
        self.claim(identity, op(account_id, claim_id), name).await
    }
}

#[tonic::async_trait]
impl FloorService for Floor {
    async fn claim_next_account(
        &self,
        request: Request<pb::ClaimNextAccountRequest>,
    ) -> Result<Response<pb::ClaimNextAccountResponse>, Status> {
        let identity = auth::identity(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        let formats = formats_in(&mut v, &req.guidance_format);
        let locale = locale(&self.templates, &mut v, "locale", &req.locale);
        if !v.is_empty() {
            return Err(invalid(v));
        }
        let queues = queues_for(&self.store, &identity, &req.queue).await?;
        let now = self.clock.now();
        let claimed = self
            .store
            .claim(
                &identity.subject,
                ClaimOp::Next { queues },
                &self.policy,
                now,
            )
            .await
            .map_err(|e| from_store(e, "", "the account"))?;
        let Some(claim) = claimed else {
            metrics::counter!("recoup_claims_total", "result" => "none").increment(1);
            return Ok(Response::new(pb::ClaimNextAccountResponse {
                prepared: None,
            }));
        };
        metrics::counter!("recoup_claims_total", "result" => "claimed").increment(1);
        tracing::info!(
            account_id = claim.account_id,
            claim_id = claim.id,
            "account claimed"
        );
        let mut prepared = self
            .prepare(claim.account_id, identity.role, &formats, locale, now)
            .await?;
        prepared.claim = Some(claim_out(&claim, now));
        Ok(Response::new(pb::ClaimNextAccountResponse {
            prepared: Some(prepared),
        }))
    }

    async fn claim_account(
        &self,
        request: Request<pb::ClaimAccountRequest>,
    ) -> Result<Response<pb::Claim>, Status> {
        let identity = auth::identity(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        let account = names::account_id(&mut v, "account", &req.account);
        let override_reason = if req.override_reason.is_empty() {
            None
        } else {
            v.required_text("override_reason", &req.override_reason, MAX_STEP_CHARS);
            Some(req.override_reason.clone())
        };
        let Some(account) = account.filter(|_| v.is_empty()) else {
            return Err(invalid(v));
        };
        if override_reason.is_some() && identity.role != Role::Supervisor {
            return Err(Status::permission_denied(
                "only a supervisor's credential may claim with an override_reason",
            ));
        }
        self.claim(
            &identity,
            ClaimOp::Account {
                account_id: account,
                override_reason,
            },
            &req.account,
        )
        .await
    }

    async fn extend_claim(
        &self,
        request: Request<pb::ExtendClaimRequest>,
    ) -> Result<Response<pb::Claim>, Status> {
        let identity = auth::identity(&request)?.clone();
        let name = request.into_inner().name;
        self.claim_named(&identity, &name, |account_id, claim_id| ClaimOp::Extend {
            account_id,
            claim_id,
        })
        .await
    }

    async fn release_claim(
        &self,
        request: Request<pb::ReleaseClaimRequest>,
    ) -> Result<Response<pb::Claim>, Status> {
        let identity = auth::identity(&request)?.clone();
        let by_supervisor = identity.role == Role::Supervisor;
        let name = request.into_inner().name;
        self.claim_named(&identity, &name, |account_id, claim_id| ClaimOp::Release {
            account_id,
            claim_id,
            by_supervisor,
        })
        .await
    }

    async fn prepare_call(
        &self,
        request: Request<pb::PrepareCallRequest>,
    ) -> Result<Response<pb::PreparedCall>, Status> {
        let role = auth::identity(&request)?.role;
        let req = request.into_inner();
        let mut v = Violations::new();
        let account = names::account_id(&mut v, "account", &req.account);
        let formats = formats_in(&mut v, &req.guidance_format);
        let locale = locale(&self.templates, &mut v, "locale", &req.locale);
        let Some(account) = account.filter(|_| v.is_empty()) else {
            return Err(invalid(v));
        };
        let prepared = self
            .prepare(account, role, &formats, locale, self.clock.now())
            .await?;
        Ok(Response::new(prepared))
    }

    async fn list_rule_breaches(
        &self,
        request: Request<pb::ListRuleBreachesRequest>,
    ) -> Result<Response<pb::ListRuleBreachesResponse>, Status> {
        let req = request.into_inner();
        let size = page_size(req.page_size, self.max_page_size)?;
        let key = breaches_key(&req.agent);
        let before = decode_position(&req.page_token, &key)?
            .map(|p| {
                p.parse::<i64>()
                    .map_err(|_| invalid_field("page_token", "is not a token this server issued"))
            })
            .transpose()?;
        let agent = (!req.agent.is_empty()).then_some(req.agent.as_str());
        let mut calls = self
            .store
            .list_breaches(agent, before, i64::from(size) + 1)
            .await
            .map_err(store_failed)?;
        let next_page_token = next_page(&mut calls, size, &key, |c| c.id.to_string());
        Ok(Response::new(pb::ListRuleBreachesResponse {
            calls: calls.iter().map(|c| call_out(c, None)).collect(),
            next_page_token,
        }))
    }
}
