//! What call guidance and letters are drawn from: the account's assessment (`crate::assess`: category,
//! contact status, promises, plans, disputes, statutory interest) turned into the script crate's
//! text models, the tone's facts, and the negotiation box of pre-validated options. Every figure is written in the
//! caller's locale format (`Formats`).

use chrono::{DateTime, Days, NaiveDate, Utc};
use recoup_domain::ageing::days_overdue;
use recoup_domain::contact::BlockReason;
use recoup_domain::plan::{self, Authority, Counter, Proposal};
use recoup_domain::policy::Policy;
use recoup_domain::promise::{self, PromiseState};
use recoup_domain::schedule::Frequency;
use recoup_domain::text::{Formats, plural};
use recoup_domain::{Money, call::Outcome};
use recoup_proto::v1 as pb;
use recoup_script::guidance::{
    BrokenPlanLine, BrokenPromiseLine, CallContext, Debtor, InvoiceLine, Negotiation, NextStep,
    OptionLine, PaymentLine, PlanLine,
};
use recoup_script::letters::{LetterContext, LetterKind, PaymentRow, StatementLine};
use recoup_script::terms;
use recoup_script::tone::{Lasting, Step, Tone, ToneFacts};
use recoup_store::{StoredInvoice, StoredLetter};

use super::plan::{BrokenPlan, checked_out, proposal_out};
use super::story_summary;
use crate::assess::Assessment;

/// Options offered in the negotiation box.
const OPTIONS: usize = 3;

/// What a call on one account is prepared with: the judgements the caller sees, the tone, the text
/// model guidance and letters are rendered from, and the negotiation box.
pub struct Briefing {
    pub view: pb::Account,
    pub tone: Tone,
    pub context: CallContext,
    pub negotiation: pb::NegotiationBox,
    /// A final notice was sent: the ladder's last rung before an agency.
    final_notice_sent: bool,
}

fn lasting_of(r: BlockReason) -> Option<Lasting> {
    Some(match r {
        BlockReason::NothingOwed => Lasting::NothingOwed,
        BlockReason::Disputed => Lasting::AllDisputed,
        BlockReason::WithAgency => Lasting::WithAgency,
        BlockReason::CeaseCalls => Lasting::CeaseCalls,
        BlockReason::OnHold => Lasting::OnHold,
        _ => return None,
    })
}

fn invoice_line(i: &StoredInvoice, today: NaiveDate, fmt: &dyn Formats) -> InvoiceLine {
    InvoiceLine {
        number: i.data.number.clone(),
        due_date: fmt.date(i.data.due_date),
        outstanding: fmt.money(i.outstanding),
        days_overdue: days_overdue(i.data.due_date, today).max(0),
    }
}

/// The date to ask payment by on a call or letter giving `days`, and what follows the day after.
fn deadline(
    today: NaiveDate,
    days: u32,
    step: Option<Step>,
    fmt: &dyn Formats,
) -> (String, Option<NextStep>) {
    let by = today + Days::new(u64::from(days));
    (
        fmt.date(by),
        step.map(|s| NextStep {
            what: s.words().to_owned(),
            date: fmt.date(by + Days::new(1)),
        }),
    )
}

/// The deadline a call in `tone` gives: firm calls `firm_deadline_days`, final notices
/// `final_notice_days`; none for the others.
fn call_deadline(
    tone: Tone,
    final_notice_sent: bool,
    policy: &Policy,
    today: NaiveDate,
    fmt: &dyn Formats,
) -> (String, Option<NextStep>) {
    let days = match tone {
        Tone::Firm => policy.guidance.firm_deadline_days,
        Tone::FinalNotice => policy.guidance.final_notice_days,
        _ => return (String::new(), None),
    };
    deadline(today, days, Step::after(tone, final_notice_sent), fmt)
}

fn broken_plan_line(p: &BrokenPlan, fmt: &dyn Formats) -> BrokenPlanLine {
    BrokenPlanLine {
        agreed_on: fmt.date(p.agreed_on),
        terms: terms::describe(&p.proposal, &p.schedule, fmt),
        broken_on: fmt.date(p.broken_on),
        missed: p
            .missed
            .map(|n| plural(n as usize, "instalment", "instalments"))
            .unwrap_or_default(),
        arrears: p.arrears.map(|m| fmt.money(m)).unwrap_or_default(),
    }
}

/// The briefing for a call on the assessed account `x`, for a caller with `asker`'s authority, with
/// figures written in `fmt`.
pub fn brief(x: &Assessment<'_>, asker: Authority, fmt: &dyn Formats) -> Briefing {
    let (a, policy, today) = (x.account, x.policy, x.today);
    let tz = a.data.time_zone;
    // Only the story's judgements (category, contact status, interest, promises, follow-ups):
    // guidance never shows the account's lists.
    let view = story_summary(x);
    let b = &x.balance;
    let (category, category_reasons) = match &a.story.manual_category {
        Some(m) => (m.category, vec![m.reason.clone()]),
        // The derived reasons, with figures in the caller's format.
        None => {
            let d = x.derived_category(fmt);
            (d.category, d.reasons)
        }
    };
    let recent_since = today - Days::new(u64::from(policy.guidance.recent_payment_days));
    let recent: Vec<_> = a
        .recent_payments
        .iter()
        .filter(|p| p.payment_date >= recent_since)
        .collect();
    let says_paid = a
        .story
        .recent_calls
        .iter()
        .any(|c| matches!(c.call.outcome, Outcome::AlreadyPaid { .. }));
    // Our chasing before a payment: a reminder letter or an outbound call within the recent
    // window before it. Only then can a reminder have crossed it.
    let chased_before = |day: NaiveDate| {
        let window = |t: DateTime<Utc>| {
            let on = t.with_timezone(&tz).date_naive();
            on <= day && on >= day - Days::new(u64::from(policy.guidance.recent_payment_days))
        };
        a.story.outbound.iter().any(|t| window(*t))
            || a.story.letters.iter().any(|l| {
                LetterKind::parse(&l.kind).is_some_and(LetterKind::is_reminder) && window(l.time)
            })
    };
    let crossed_chasing =
        recent.iter().any(|p| chased_before(p.payment_date)) || (says_paid && chased_before(today));
    let sent = |kind: LetterKind| a.story.letters.iter().any(|l| l.kind == kind.key());
    let final_notice_sent = sent(LetterKind::FinalNotice);
    // Reached before: a conversation, a message left, a reminder letter, or a signed plan (whose
    // agreement says what a missed payment leads to).
    let reminded_before = a.story.recent_calls.iter().any(|c| {
        c.call.right_party_contact || matches!(c.call.outcome, Outcome::LeftMessage { .. })
    }) || a
        .story
        .letters
        .iter()
        .any(|l| LetterKind::parse(&l.kind).is_some_and(LetterKind::is_reminder))
        || a.story.plans.iter().any(|p| p.sign_time.is_some());
    let facts = ToneFacts {
        category,
        lasting: x
            .contact
            .blocks
            .iter()
            .filter_map(|bl| lasting_of(bl.reason))
            .collect(),
        recent_payment: !recent.is_empty() || says_paid,
        crossed_chasing,
        plan_on_track: x.plan_on_track().is_some(),
        dispute_is_the_matter: b.disputed.is_positive()
            && b.disputed.amount() >= b.overdue.amount()
            && b.outstanding.amount() > b.disputed.amount(),
        broken_promises: x.broken_promises,
        broken_plans: x.broken_plans,
        reminded_before,
        final_notice_sent,
    };
    let (tone, tone_reasons) = recoup_script::tone::select(&facts);

    // The negotiation box: the floor and length on the collectable balance, the caller's authority,
    // and options the plan validator accepts (the same situation ValidatePlan judges in):
    // everything in a fortnight when that is within policy, then what it offers in place of a
    // token payment. None on a courtesy call or when no call is to be made.
    let s = x.situation(asker, None).situation;
    let negotiate = s.balance.is_positive() && !matches!(tone, Tone::Courtesy | Tone::DoNotCall);
    let mut options: Vec<(Proposal, plan::Judgement)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    if negotiate {
        let in_full = Proposal::PayInFull {
            by: today + Days::new(14),
        };
        let judged = plan::judge(&in_full, &s, &policy.plans);
        if judged.valid() && judged.approval.is_none() {
            options.push((in_full, judged));
        }
        let token = Proposal::Instalments {
            amount: Money::from_minor(1, s.balance.currency()),
            frequency: Frequency::Monthly,
            first: today + Days::new(7),
        };
        options.extend(
            plan::counter_proposals(&token, &s, &policy.plans)
                .into_iter()
                .filter(|c| c.judgement.approval.is_none())
                .map(|c| (c.proposal, c.judgement)),
        );
        options.truncate(OPTIONS);
        if s.after_broken_plan {
            notes.push(format!(
                "After the broken plan, a new plan starts with a down payment of at least {}% \
                 ({}) and runs at most {}.",
                s.min_down_payment_percent(&policy.plans),
                fmt.money(s.least_down_payment(&policy.plans)),
                plural(s.max_months(&policy.plans) as usize, "month", "months")
            ));
        }
        if let (Some(affordable), true) = (s.affordable_monthly, options.is_empty()) {
            let nearest: Option<Counter> = plan::nearest_affordable(&token, &s, &policy.plans);
            notes.push(match nearest {
                Some(n) => format!(
                    "Nothing within policy fits what the customer says it can afford ({} a \
                     month). The nearest is {}, which breaks: {}. Refer it to a supervisor \
                     rather than agree it.",
                    fmt.money(affordable),
                    terms::describe(&n.proposal, &n.judgement.schedule, fmt),
                    n.judgement
                        .broken
                        .iter()
                        .map(|b| b.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                None => format!(
                    "Nothing within policy fits what the customer says it can afford ({} a \
                     month).",
                    fmt.money(affordable)
                ),
            });
        }
    }
    let authority = match asker {
        Authority::Agent => policy.plans.agent_max_discount_percent,
        Authority::Supervisor => policy.plans.supervisor_max_discount_percent,
    };
    let floor = plan::floor(s.balance, &policy.plans);
    let max_months = s.max_months(&policy.plans);
    let negotiation = pb::NegotiationBox {
        instalment_floor: Some(super::money_out(floor)),
        max_plan_months: i32::try_from(max_months).unwrap_or(i32::MAX),
        discount_authority_percent: authority.to_string(),
        options: options.iter().map(|(p, _)| proposal_out(p)).collect(),
        checked_options: options
            .iter()
            .map(|(p, j)| {
                let words = terms::describe(p, &j.schedule, fmt);
                checked_out(p, j, s.balance.currency(), words)
            })
            .collect(),
        notes: notes.clone(),
        required_down_payment: s
            .after_broken_plan
            .then(|| super::money_out(s.least_down_payment(&policy.plans))),
    };
    let claim = x.claim();
    let (pay_by, next_step) = call_deadline(tone, final_notice_sent, policy, today, fmt);
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
        today: fmt.date(today),
        debtor: Debtor {
            legal_name: a.data.legal_name.clone(),
            external_ref: a.data.external_ref.clone(),
            contact,
        },
        category: facts.category.as_str().replace('_', " "),
        category_reasons,
        may_call_now: x.contact.may_call(),
        next_call: x
            .contact
            .next_allowed
            .filter(|_| !x.contact.may_call())
            .map(|t| {
                let local = t.with_timezone(&tz);
                format!(
                    "{} {}",
                    fmt.date(local.date_naive()),
                    local.format("%H:%M %Z")
                )
            })
            .unwrap_or_default(),
        blocks: x
            .contact
            .blocks
            .iter()
            .map(|b| b.description.clone())
            .collect(),
        outstanding: fmt.money(b.outstanding),
        overdue: fmt.money(b.overdue),
        owed: b.outstanding.is_positive(),
        overdue_invoices: owing
            .iter()
            .filter(|i| !i.data.disputed && i.data.due_date < today)
            .map(|i| invoice_line(i, today, fmt))
            .collect(),
        disputed_invoices: owing
            .iter()
            .filter(|i| i.data.disputed)
            .map(|i| invoice_line(i, today, fmt))
            .collect(),
        recent_payments: recent
            .iter()
            .map(|p| PaymentLine {
                date: fmt.date(p.payment_date),
                amount: fmt.money(p.amount),
                reference: p.reference.clone(),
            })
            .collect(),
        crossed_chasing,
        statement_sent: a
            .story
            .letters
            .iter()
            .find(|l| {
                l.kind == LetterKind::PreCallStatement.key()
                    && l.time.with_timezone(&tz).date_naive() >= recent_since
            })
            .map(|l| fmt.date(l.time.with_timezone(&tz).date_naive()))
            .unwrap_or_default(),
        open_promise: x
            .open_promise()
            .map(|j| {
                format!(
                    "{} by {}",
                    fmt.money(j.promise.amount),
                    fmt.date(j.promise.date)
                )
            })
            .unwrap_or_default(),
        broken_promises: promise::broken_within(&x.promises, today, &policy.promises)
            .rev()
            .map(|j| BrokenPromiseLine {
                amount: fmt.money(j.promise.amount),
                date: fmt.date(j.promise.date),
                paid: if j.paid.is_positive() && j.state == PromiseState::PartiallyKept {
                    fmt.money(j.paid)
                } else {
                    "nothing".to_owned()
                },
            })
            .collect(),
        plan: x.plan.as_ref().and_then(|(_, t)| {
            let next = t.next()?;
            Some(PlanLine {
                next_due_date: fmt.date(next.due),
                next_amount: fmt.money(
                    next.amount
                        .with_amount(next.amount.amount() - next.paid.amount()),
                ),
                arrears: fmt.money(t.arrears),
            })
        }),
        broken_plan: x.broken_plan.as_ref().map(|p| broken_plan_line(p, fmt)),
        law: claim.map(|c| c.law.to_owned()).unwrap_or_default(),
        interest: claim
            .filter(|c| !c.provisional)
            .map(|c| fmt.money(c.interest))
            .unwrap_or_default(),
        interest_provisional: claim.is_some_and(|c| c.provisional),
        compensation: claim.map(|c| fmt.money(c.compensation)).unwrap_or_default(),
        pay_by,
        next_step,
        hardship: a
            .story
            .recent_calls
            .iter()
            .any(|c| matches!(c.call.outcome, Outcome::HardshipClaimed { .. })),
        follow_ups: view
            .follow_ups
            .iter()
            .map(|f| f.description.clone())
            .collect(),
        negotiate,
        negotiation: Negotiation {
            floor: fmt.money(floor),
            max_months,
            authority_percent: authority.to_string(),
            options: options
                .iter()
                .map(|(p, j)| OptionLine {
                    summary: terms::describe(p, &j.schedule, fmt),
                    // A single payment's date is in its words already.
                    end_date: j
                        .end()
                        .filter(|_| j.schedule.len() > 1)
                        .map(|d| fmt.date(d))
                        .unwrap_or_default(),
                })
                .collect(),
            notes,
        },
    };
    Briefing {
        view,
        tone,
        context,
        negotiation,
        final_notice_sent,
    }
}

/// What a letter of `kind` to the assessed account is drawn from, dated the debtor's today, with
/// figures written in `fmt`. A second reminder gives a firm call's deadline, a final notice a final
/// call's, each with the step that follows: the same dates the call guidance gives.
pub fn letter_context(
    x: &Assessment<'_>,
    briefing: &Briefing,
    kind: LetterKind,
    agreement: String,
    fmt: &dyn Formats,
) -> LetterContext {
    let (a, policy, today, b) = (x.account, x.policy, x.today, &x.balance);
    let c = &briefing.context;
    let (pay_by, next_step) = match kind {
        LetterKind::SecondReminder => {
            call_deadline(Tone::Firm, briefing.final_notice_sent, policy, today, fmt)
        }
        LetterKind::FinalNotice => call_deadline(Tone::FinalNotice, true, policy, today, fmt),
        _ => (String::new(), None),
    };
    let since = today - Days::new(90);
    LetterContext {
        date: fmt.date(today),
        creditor: policy.plans.creditor_name.clone(),
        debtor: c.debtor.clone(),
        salutation: if c.debtor.contact.is_empty() {
            "Sir or Madam".into()
        } else {
            c.debtor.contact.clone()
        },
        statement: a
            .open_invoices
            .iter()
            .filter(|i| i.outstanding.is_positive())
            .map(|i| StatementLine {
                invoice: invoice_line(i, today, fmt),
                status: if i.data.disputed {
                    "under query, not being chased"
                } else if i.data.due_date < today {
                    "overdue"
                } else {
                    "not yet due"
                }
                .to_owned(),
            })
            .collect(),
        disputed_invoices: c.disputed_invoices.clone(),
        overdue_invoices: c.overdue_invoices.clone(),
        payments: a
            .recent_payments
            .iter()
            .filter(|p| p.payment_date >= since)
            .map(|p| PaymentRow {
                date: fmt.date(p.payment_date),
                amount: fmt.money(p.amount),
                reference: p.reference.clone(),
            })
            .collect(),
        outstanding: c.outstanding.clone(),
        overdue: c.overdue.clone(),
        disputed: if b.disputed.is_positive() {
            fmt.money(b.disputed)
        } else {
            String::new()
        },
        interest: c.interest.clone(),
        interest_provisional: c.interest_provisional,
        compensation: c.compensation.clone(),
        law: c.law.clone(),
        pay_by,
        next_step,
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

/// A kept letter as the contract shows it.
pub fn letter_out(l: &StoredLetter) -> pb::Letter {
    pb::Letter {
        name: l.name(),
        kind: letter_kind_out(&l.kind) as i32,
        subject: l.subject.clone(),
        body_text: l.body_text.clone(),
        body_markdown: l.body_markdown.clone(),
        create_time: Some(super::time_out(l.create_time)),
    }
}
