//! What call guidance and letters are drawn from: the account's FULL view (category, contact status,
//! promises, plan, disputes, statutory interest) turned into the script crate's text models, the
//! tone's facts, and the negotiation box of pre-validated options.

use chrono::{DateTime, Days, NaiveDate, Utc};
use recoup_domain::Money;
use recoup_domain::ageing::{days_overdue, local_today};
use recoup_domain::category::Category;
use recoup_domain::plan::state::PlanState;
use recoup_domain::plan::track::Standing;
use recoup_domain::plan::{self, Authority, Proposal, Situation};
use recoup_domain::policy::Policy;
use recoup_domain::promise;
use recoup_domain::schedule::Frequency;
use recoup_proto::v1 as pb;
use recoup_script::guidance::{
    CallContext, Debtor, InvoiceLine, Negotiation, OptionLine, PaymentLine, PlanLine,
};
use recoup_script::letters::{LetterContext, LetterKind, PaymentRow};
use recoup_script::text;
use recoup_script::tone::{Lasting, Tone, ToneFacts};
use recoup_store::{AccountSnapshot, StoredInvoice};

use super::interest::statutory_amounts;
use super::plan::proposal_out;
use super::{balance_of, live_plan, story_summary};

/// Options offered in the negotiation box.
const OPTIONS: usize = 3;

/// Everything derived for one account at one moment.
pub struct Drawn {
    pub view: pb::Account,
    pub tone: Tone,
    pub context: CallContext,
    pub negotiation: pb::NegotiationBox,
}

fn lasting_of(r: pb::ContactBlockReason) -> Option<Lasting> {
    Some(match r {
        pb::ContactBlockReason::NothingOwed => Lasting::NothingOwed,
        pb::ContactBlockReason::Disputed => Lasting::AllDisputed,
        pb::ContactBlockReason::WithAgency => Lasting::WithAgency,
        pb::ContactBlockReason::CeaseCalls => Lasting::CeaseCalls,
        pb::ContactBlockReason::OnHold => Lasting::OnHold,
        _ => return None,
    })
}

fn invoice_line(i: &StoredInvoice, today: NaiveDate) -> InvoiceLine {
    InvoiceLine {
        number: i.data.number.clone(),
        due_date: text::date(i.data.due_date),
        outstanding: text::money(i.outstanding),
        days_overdue: days_overdue(i.data.due_date, today).max(0),
    }
}

/// "GBP 400.00 a month from 1 December 2026, 3 payments".
fn option_summary(p: &Proposal, payments: usize) -> String {
    let every = |f: Frequency| match f {
        Frequency::Weekly => "a week",
        Frequency::Fortnightly => "a fortnight",
        Frequency::Monthly => "a month",
    };
    match p {
        Proposal::Instalments {
            amount,
            frequency,
            first,
        } => format!(
            "{} {} from {}, {payments} payments",
            text::money(*amount),
            every(*frequency),
            text::date(*first)
        ),
        Proposal::DownPayment {
            down,
            amount,
            frequency,
            first,
        } => format!(
            "{} down on {}, then {} {}",
            text::money(*down),
            text::date(*first),
            text::money(*amount),
            every(*frequency)
        ),
        Proposal::Settlement {
            discount_percent, ..
        } => format!("a settlement at {discount_percent}% off, in one payment"),
        Proposal::PayInFull { .. } | Proposal::Extension { .. } => {
            "the whole balance in one payment".to_owned()
        }
    }
}

/// Guidance's view of account `a` at `now`, for a caller with `asker`'s authority.
pub fn draw(a: &AccountSnapshot, policy: &Policy, asker: Authority, now: DateTime<Utc>) -> Drawn {
    let today = local_today(a.data.time_zone, now);
    // Only the story's judgements (category, contact status, interest, promises, follow-ups):
    // guidance never shows the account's lists.
    let view = story_summary(a, policy, today, now);
    let b = balance_of(a, today);
    let status = view.contact_status.clone().unwrap_or_default();
    let category = view.category.clone().unwrap_or_default();
    let recent_since = today - Days::new(u64::from(policy.guidance.recent_payment_days));
    let recent: Vec<_> = a
        .recent_payments
        .iter()
        .filter(|p| p.payment_date >= recent_since)
        .collect();
    let says_paid = view
        .follow_ups
        .iter()
        .any(|f| f.kind() == pb::FollowUpKind::VerifyPayment);
    let plan = live_plan(a, &policy.plans, today);
    let plan_on_track = plan
        .as_ref()
        .is_some_and(|(p, t)| p.state == PlanState::Active && t.standing == Standing::OnTrack);
    // Reached before: a conversation, a message left, a reminder letter, or a signed plan (whose
    // agreement says what a missed payment leads to).
    let reminded_before = a.story.recent_calls.iter().any(|c| {
        c.call.right_party_contact
            || matches!(
                c.call.outcome,
                recoup_domain::call::Outcome::LeftMessage { .. }
            )
    }) || a
        .story
        .letters
        .iter()
        .any(|l| LetterKind::parse(&l.kind).is_some_and(LetterKind::is_reminder))
        || a.story.plans.iter().any(|p| p.sign_time.is_some());
    let facts = ToneFacts {
        category: super::category::category_in(category.category()).unwrap_or(Category::Unknown),
        lasting: status
            .blocks
            .iter()
            .filter_map(|bl| lasting_of(bl.reason()))
            .collect(),
        payment_crossed: !recent.is_empty() || says_paid,
        plan_on_track,
        dispute_is_the_matter: b.disputed.is_positive()
            && b.disputed.amount() >= b.overdue.amount()
            && b.outstanding.amount() > b.disputed.amount(),
        broken_promises: usize::try_from(view.broken_promise_count).unwrap_or(0),
        reminded_before,
    };
    let (tone, tone_reasons) = recoup_script::tone::select(&facts);

    // The negotiation box: the floor and length on the collectable balance, the caller's authority,
    // and options the plan validator accepts: everything in a fortnight when that is within policy,
    // then what it offers in place of a token payment (the plan that fits the longest length, what
    // the debtor said it can afford on a hardship call, the smallest instalment, a settlement).
    let collectable = b
        .outstanding
        .with_amount(b.outstanding.amount() - b.disputed.amount());
    let affordable_monthly = a
        .story
        .recent_calls
        .iter()
        .find_map(|c| match &c.call.outcome {
            recoup_domain::call::Outcome::HardshipClaimed {
                affordable_monthly, ..
            } => *affordable_monthly,
            _ => None,
        });
    let situation = Situation {
        balance: collectable,
        oldest_overdue_days: b.max_days_overdue,
        today,
        asker,
        affordable_monthly,
    };
    let mut options: Vec<(Proposal, plan::Judgement)> = Vec::new();
    if collectable.is_positive() {
        let in_full = Proposal::PayInFull {
            by: today + Days::new(14),
        };
        let judged = plan::judge(&in_full, &situation, &policy.plans);
        if judged.valid() && judged.approval.is_none() {
            options.push((in_full, judged));
        }
        let token = Proposal::Instalments {
            amount: Money::from_minor(1, collectable.currency()),
            frequency: Frequency::Monthly,
            first: today + Days::new(7),
        };
        options.extend(
            plan::counter_proposals(&token, &situation, &policy.plans)
                .into_iter()
                .filter(|c| c.judgement.approval.is_none())
                .map(|c| (c.proposal, c.judgement)),
        );
        options.truncate(OPTIONS);
    }
    let authority = match asker {
        Authority::Agent => policy.plans.agent_max_discount_percent,
        Authority::Supervisor => policy.plans.supervisor_max_discount_percent,
    };
    let floor = plan::floor(collectable, &policy.plans);
    let negotiation = pb::NegotiationBox {
        instalment_floor: Some(super::money_out(floor)),
        max_plan_months: i32::try_from(policy.plans.max_months).unwrap_or(i32::MAX),
        discount_authority_percent: authority.to_string(),
        options: options.iter().map(|(p, _)| proposal_out(p)).collect(),
    };
    let interest = statutory_amounts(a, &policy.interest, today);
    let open_promise = promise::open_promise(&promise::judge(
        &a.story.promises,
        &a.story.received,
        today,
        &policy.promises,
    ))
    .map(|j| {
        format!(
            "{} by {}",
            text::money(j.promise.amount),
            text::date(j.promise.date)
        )
    });
    let contact = a
        .data
        .contacts
        .iter()
        .find(|c| c.preferred)
        .or(a.data.contacts.first())
        .map(|c| c.display_name.clone())
        .unwrap_or_default();
    let owing: Vec<&StoredInvoice> = a
        .open_invoices
        .iter()
        .filter(|i| i.outstanding.is_positive())
        .collect();
    let context = CallContext {
        tone: tone.key().into(),
        tone_words: tone.words().into(),
        tone_reasons,
        today: text::date(today),
        debtor: Debtor {
            legal_name: a.data.legal_name.clone(),
            external_ref: a.data.external_ref.clone(),
            contact,
        },
        category: facts.category.as_str().replace('_', " "),
        category_reasons: category.reasons.clone(),
        may_call_now: status.may_call_now,
        next_call: status
            .next_allowed_time
            .as_ref()
            .filter(|_| !status.may_call_now)
            .and_then(|t| DateTime::from_timestamp(t.seconds, 0))
            .map(|t| {
                t.with_timezone(&a.data.time_zone)
                    .format("%a %-d %B %Y %H:%M %Z")
                    .to_string()
            })
            .unwrap_or_default(),
        blocks: status
            .blocks
            .iter()
            .map(|b| b.description.clone())
            .collect(),
        outstanding: text::money(b.outstanding),
        overdue: text::money(b.overdue),
        owed: b.outstanding.is_positive(),
        overdue_invoices: owing
            .iter()
            .filter(|i| !i.data.disputed && i.data.due_date < today)
            .map(|i| invoice_line(i, today))
            .collect(),
        disputed_invoices: owing
            .iter()
            .filter(|i| i.data.disputed)
            .map(|i| invoice_line(i, today))
            .collect(),
        recent_payments: recent
            .iter()
            .map(|p| PaymentLine {
                date: text::date(p.payment_date),
                amount: text::money(p.amount),
                reference: p.reference.clone(),
            })
            .collect(),
        payment_crossed: facts.payment_crossed,
        statement_sent: a
            .story
            .letters
            .iter()
            .find(|l| {
                l.kind == LetterKind::PreCallStatement.key()
                    && l.time.with_timezone(&a.data.time_zone).date_naive() >= recent_since
            })
            .map(|l| text::date(l.time.with_timezone(&a.data.time_zone).date_naive()))
            .unwrap_or_default(),
        open_promise: open_promise.unwrap_or_default(),
        broken_promises: facts.broken_promises,
        plan: plan.as_ref().and_then(|(_, t)| {
            let next = t.next()?;
            Some(PlanLine {
                next_due_date: text::date(next.due),
                next_amount: text::money(
                    next.amount
                        .with_amount(next.amount.amount() - next.paid.amount()),
                ),
                arrears: text::money(t.arrears),
            })
        }),
        law: interest
            .map(|(law, _, _)| law.to_owned())
            .unwrap_or_default(),
        interest: interest.map(|(_, i, _)| text::money(i)).unwrap_or_default(),
        compensation: interest.map(|(_, _, c)| text::money(c)).unwrap_or_default(),
        agency_date: text::date(today + Days::new(u64::from(policy.guidance.final_notice_days))),
        hardship: a.story.recent_calls.iter().any(|c| {
            matches!(
                c.call.outcome,
                recoup_domain::call::Outcome::HardshipClaimed { .. }
            )
        }),
        follow_ups: view
            .follow_ups
            .iter()
            .map(|f| f.description.clone())
            .collect(),
        negotiation: Negotiation {
            floor: text::money(floor),
            max_months: policy.plans.max_months,
            authority_percent: authority.to_string(),
            options: options
                .iter()
                .map(|(p, j)| OptionLine {
                    summary: option_summary(p, j.schedule.len()),
                    end_date: j.end().map(text::date).unwrap_or_default(),
                })
                .collect(),
        },
    };
    Drawn {
        view,
        tone,
        context,
        negotiation,
    }
}

/// What a letter to account `a` is drawn from, dated the debtor's today at `now`.
pub fn letter_context(
    a: &AccountSnapshot,
    policy: &Policy,
    drawn: &Drawn,
    agreement: String,
    now: DateTime<Utc>,
) -> LetterContext {
    let today = local_today(a.data.time_zone, now);
    let b = balance_of(a, today);
    let c = &drawn.context;
    let owing: Vec<&StoredInvoice> = a
        .open_invoices
        .iter()
        .filter(|i| i.outstanding.is_positive())
        .collect();
    let since = today - Days::new(90);
    LetterContext {
        date: text::date(today),
        creditor: policy.plans.creditor_name.clone(),
        debtor: c.debtor.clone(),
        salutation: if c.debtor.contact.is_empty() {
            "Sir or Madam".into()
        } else {
            c.debtor.contact.clone()
        },
        invoices: owing.iter().map(|i| invoice_line(i, today)).collect(),
        disputed_invoices: c.disputed_invoices.clone(),
        overdue_invoices: c.overdue_invoices.clone(),
        payments: a
            .recent_payments
            .iter()
            .filter(|p| p.payment_date >= since)
            .map(|p| PaymentRow {
                date: text::date(p.payment_date),
                amount: text::money(p.amount),
                reference: p.reference.clone(),
            })
            .collect(),
        outstanding: c.outstanding.clone(),
        overdue: c.overdue.clone(),
        disputed: if b.disputed.is_positive() {
            text::money(b.disputed)
        } else {
            String::new()
        },
        interest: c.interest.clone(),
        compensation: c.compensation.clone(),
        law: c.law.clone(),
        pay_by: text::date(today + Days::new(u64::from(policy.guidance.second_reminder_days))),
        agency_date: c.agency_date.clone(),
        agreement,
    }
}

/// A stored letter kind as the contract names it.
pub fn letter_kind_out(stored: &str) -> pb::LetterKind {
    match LetterKind::parse(stored) {
        Some(LetterKind::PreCallStatement) => pb::LetterKind::PreCallStatement,
        Some(LetterKind::FirstReminder) => pb::LetterKind::FirstReminder,
        Some(LetterKind::SecondReminder) => pb::LetterKind::SecondReminder,
        Some(LetterKind::FinalNotice) => pb::LetterKind::FinalNotice,
        Some(LetterKind::PlanAgreement) => pb::LetterKind::PlanAgreement,
        Some(LetterKind::AgencyReferralNotice) => pb::LetterKind::AgencyReferralNotice,
        Some(LetterKind::DisputeAcknowledgement) => pb::LetterKind::DisputeAcknowledgement,
        None => pb::LetterKind::Unspecified,
    }
}
