//! GuidanceService: GetCallGuidance (what to say on the next call, and how: tone with reasons,
//! sections, negotiation box, plain text and Markdown; one read, no writes) and RenderLetter (a
//! letter rendered, kept as a copy of the correspondence and announced on the change feed).

use std::sync::Arc;

use recoup_domain::Violations;
use recoup_domain::fingerprint::Canonical;
use recoup_domain::policy::Policy;
use recoup_proto::v1 as pb;
use recoup_proto::v1::guidance_service_server::GuidanceService;
use recoup_script::letters::{LetterKind, MAX_LETTER_BYTES};
use recoup_script::{DEFAULT_LOCALE, Templates, Tone};
use recoup_store::{AccountSnapshot, NewLetter, RequestKey, Store};
use tonic::{Request, Response, Status};

use crate::assess::Assessment;
use crate::auth;
use crate::clock::SharedClock;
use crate::convert::enum_in;
use crate::convert::guidance::{brief, letter_context, letter_out};
use crate::status::{from_store, internal, invalid, not_found, store_failed};
use crate::{names, paging};

pub struct Guidance {
    store: Store,
    policy: Arc<Policy>,
    templates: Arc<Templates>,
    max_page_size: u32,
    clock: SharedClock,
}

impl Guidance {
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

    async fn account(&self, id: i64, name: &str) -> Result<AccountSnapshot, Status> {
        super::account_or_not_found(&self.store, id, name).await
    }
}

/// The guidance for the account `x` judges, in `locale`, for a caller with `asker`'s authority:
/// GetCallGuidance's answer, and PrepareCall's.
pub(crate) fn compose(
    templates: &Templates,
    x: &Assessment<'_>,
    asker: recoup_domain::plan::Authority,
    locale: &str,
) -> Result<pb::CallGuidance, Status> {
    let briefing = brief(x, asker, templates.format(locale));
    let g = templates
        .guidance(locale, &briefing.context, briefing.tone)
        .map_err(|e| internal(&e))?;
    metrics::counter!("recoup_guidance_total", "tone" => briefing.tone.key()).increment(1);
    tracing::info!(
        account_id = x.account.id,
        tone = briefing.tone.key(),
        "guidance drawn"
    );
    Ok(pb::CallGuidance {
        tone: tone_out(briefing.tone) as i32,
        tone_reasons: briefing.context.tone_reasons,
        category: briefing.view.category,
        contact_status: briefing.view.contact_status,
        before_you_dial: g.before_you_dial,
        opening: g.opening,
        talking_points: g.talking_points,
        questions: g.questions,
        objections: g
            .objections
            .into_iter()
            .map(|o| pb::ObjectionAnswer {
                objection: o.objection,
                answer: o.answer,
            })
            .collect(),
        negotiation: Some(briefing.negotiation),
        must_not: g.must_not,
        closing: g.closing,
        rendered_text: g.text,
        rendered_markdown: g.markdown,
    })
}

/// The locale asked for, or the default; a violation when recoup has neither templates nor a
/// format for it.
pub(crate) fn locale<'a>(
    templates: &Templates,
    v: &mut Violations,
    field: &str,
    asked: &'a str,
) -> &'a str {
    if asked.is_empty() {
        return DEFAULT_LOCALE;
    }
    if !templates.locales().iter().any(|l| l == asked) {
        v.push(
            field,
            format!(
                "is not a locale recoup has templates or a format for; known locales: {}",
                templates.locales().join(", ")
            ),
        );
    }
    asked
}

fn tone_out(t: Tone) -> pb::Tone {
    match t {
        Tone::FriendlyReminder => pb::Tone::FriendlyReminder,
        Tone::Understanding => pb::Tone::Understanding,
        Tone::Firm => pb::Tone::Firm,
        Tone::FinalNotice => pb::Tone::FinalNotice,
        Tone::DisputeResolution => pb::Tone::DisputeResolution,
        Tone::Courtesy => pb::Tone::Courtesy,
        Tone::DoNotCall => pb::Tone::DoNotCall,
    }
}

pub(crate) fn kind_in(v: &mut Violations, raw: i32) -> Option<LetterKind> {
    enum_in(v, "kind", raw, None, |k: pb::LetterKind| match k {
        pb::LetterKind::Unspecified => None,
        pb::LetterKind::PreCallStatement => Some(LetterKind::PreCallStatement),
        pb::LetterKind::FirstReminder => Some(LetterKind::FirstReminder),
        pb::LetterKind::SecondReminder => Some(LetterKind::SecondReminder),
        pb::LetterKind::FinalNotice => Some(LetterKind::FinalNotice),
        pb::LetterKind::PlanAgreement => Some(LetterKind::PlanAgreement),
        pb::LetterKind::AgencyReferralNotice => Some(LetterKind::AgencyReferralNotice),
        pb::LetterKind::DisputeAcknowledgement => Some(LetterKind::DisputeAcknowledgement),
    })
}

#[tonic::async_trait]
impl GuidanceService for Guidance {
    async fn get_call_guidance(
        &self,
        request: Request<pb::GetCallGuidanceRequest>,
    ) -> Result<Response<pb::CallGuidance>, Status> {
        let asker = auth::authority(auth::identity(&request)?.role);
        let req = request.into_inner();
        let mut v = Violations::new();
        let account = names::account_id(&mut v, "account", &req.account);
        let locale = locale(&self.templates, &mut v, "locale", &req.locale);
        let Some(account) = account.filter(|_| v.is_empty()) else {
            return Err(invalid(v));
        };
        let a = self.account(account, &req.account).await?;
        let x = Assessment::of(&a, &self.policy, self.clock.now());
        Ok(Response::new(compose(&self.templates, &x, asker, locale)?))
    }

    async fn render_letter(
        &self,
        request: Request<pb::RenderLetterRequest>,
    ) -> Result<Response<pb::Letter>, Status> {
        let identity = auth::identity(&request)?;
        let (asker, subject) = (auth::authority(identity.role), identity.subject.clone());
        let req = request.into_inner();
        let mut v = Violations::new();
        names::request_id(&mut v, "request_id", &req.request_id);
        let account = names::account_id(&mut v, "parent", &req.parent);
        let kind = kind_in(&mut v, req.kind);
        let locale = locale(&self.templates, &mut v, "locale", &req.locale);
        let plan = match (kind, req.plan.is_empty()) {
            (Some(LetterKind::PlanAgreement), true) => {
                v.push("plan", "is required for a plan agreement");
                None
            }
            (Some(LetterKind::PlanAgreement), false) => names::plan_id(&mut v, "plan", &req.plan)
                .filter(|(a, _)| {
                    let same = Some(*a) == account;
                    if !same && account.is_some() {
                        v.push("plan", "must be a plan of the account named by parent");
                    }
                    same
                }),
            (_, false) => {
                v.push("plan", "is only for a plan agreement");
                None
            }
            (_, true) => None,
        };
        let (Some(account), Some(kind), true) = (account, kind, v.is_empty()) else {
            return Err(invalid(v));
        };
        let key = RequestKey {
            subject: &subject,
            request_id: &req.request_id,
        };
        let mut c = Canonical::new("letter/v1");
        c.text(&req.parent)
            .text(kind.key())
            .text(locale)
            .text(&req.plan);
        let fingerprint = c.finish();
        if let Some(l) = self
            .store
            .replay_letter(key, &fingerprint)
            .await
            .map_err(|e| from_store(e, "", &req.parent))?
        {
            return Ok(Response::new(letter_out(&l)));
        }
        let a = self.account(account, &req.parent).await?;
        let agreement = match plan {
            Some((_, plan_id)) => {
                self.store
                    .get_plan(account, plan_id)
                    .await
                    .map_err(store_failed)?
                    .ok_or_else(|| not_found(&req.plan))?
                    .agreement
            }
            None => String::new(),
        };
        let now = self.clock.now();
        let fmt = self.templates.format(locale);
        let x = Assessment::of(&a, &self.policy, now);
        let briefing = brief(&x, asker, fmt);
        let context = letter_context(&x, &briefing, kind, agreement, fmt);
        let letter = self
            .templates
            .letter(locale, kind, &context)
            .map_err(|e| internal(&e))?;
        if letter.bytes() > MAX_LETTER_BYTES {
            let mut v = Violations::new();
            v.push(
                "parent",
                format!(
                    "the {} letter for this account would be {} KiB; a letter is at most {} KiB \
                     (the account lists too many invoices for one letter)",
                    kind.key(),
                    letter.bytes().div_ceil(1024),
                    MAX_LETTER_BYTES / 1024
                ),
            );
            return Err(invalid(v));
        }
        let stored = self
            .store
            .record_letter(
                key,
                account,
                &NewLetter {
                    kind: kind.key(),
                    locale,
                    plan_id: plan.map(|(_, p)| p),
                    subject: &letter.subject,
                    body_text: &letter.text,
                    body_markdown: &letter.markdown,
                    fingerprint: &fingerprint,
                },
                now,
            )
            .await
            .map_err(|e| from_store(e, "", &req.parent))?;
        metrics::counter!("recoup_letters_total", "kind" => kind.key()).increment(1);
        tracing::info!(
            letter_id = stored.id,
            account_id = account,
            kind = kind.key(),
            "letter rendered"
        );
        Ok(Response::new(letter_out(&stored)))
    }

    async fn get_letter(
        &self,
        request: Request<pb::GetLetterRequest>,
    ) -> Result<Response<pb::Letter>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let Some((account, id)) = names::letter_id(&mut v, "name", &req.name) else {
            return Err(invalid(v));
        };
        let letter = self
            .store
            .letter(id)
            .await
            .map_err(store_failed)?
            .filter(|l| l.account_id == account)
            .ok_or_else(|| not_found(&req.name))?;
        Ok(Response::new(letter_out(&letter)))
    }

    async fn list_letters(
        &self,
        request: Request<pb::ListLettersRequest>,
    ) -> Result<Response<pb::ListLettersResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let account = names::account_id(&mut v, "parent", &req.parent);
        let Some(account) = account.filter(|_| v.is_empty()) else {
            return Err(invalid(v));
        };
        let size = paging::page_size(req.page_size, self.max_page_size)?;
        let key = format!("letters of {}", req.parent);
        let before = match req.page_token.as_str() {
            "" => None,
            token => Some(paging::decode_token(token, &key)?),
        };
        let mut letters = self
            .store
            .list_letters(account, before, i64::from(size) + 1)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| not_found(&req.parent))?;
        let next_page_token = paging::next_page(&mut letters, size, &key, |l| l.id.to_string());
        Ok(Response::new(pb::ListLettersResponse {
            letters: letters.iter().map(letter_out).collect(),
            next_page_token,
        }))
    }
}
