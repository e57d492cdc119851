//! Conversions between recoup.v1 messages and domain types. Everything arriving is checked here or in
//! the domain rules; every problem is collected against its field path so the caller hears of all of
//! them at once.

pub mod call;
pub mod category;
pub mod dispute;
pub mod guidance;
pub mod interest;
pub mod json;
pub mod plan;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use recoup_domain::account::{
    AccountData, AccountStatus, Adjustment, AdjustmentKind, Contact, DebtorType, InvoiceData,
    check_amount, validate_invoices, validate_profile,
};
use recoup_domain::ageing::{self, AgeingBucket};
use recoup_domain::call::Outcome;
use recoup_domain::contact::{BlockReason, ContactStatus};
use recoup_domain::payment::NewPayment;
use recoup_domain::policy::Policy;
use recoup_domain::text::{British, Formats};
use recoup_domain::{Currency, Money, Violations};
use recoup_proto::v1 as pb;
use recoup_store::{AccountSnapshot, StoredCall, StoredInvoice, StoredPayment};

use crate::assess::Assessment;
pub use crate::assess::balance_of;

/// Reads a required message with `read`: "is required" when absent, else its problems under `field`.
pub fn required_in<M, T>(
    v: &mut Violations,
    field: &str,
    message: Option<&M>,
    read: impl FnOnce(&M) -> Result<T, Violations>,
) -> Option<T> {
    match message.map(read) {
        None => {
            v.push(field, "is required");
            None
        }
        Some(Ok(t)) => Some(t),
        Some(Err(problems)) => {
            v.extend_prefixed(field, problems);
            None
        }
    }
}

/// Reads a required Money field.
pub fn money_in(v: &mut Violations, field: &str, m: Option<&pb::Money>) -> Option<Money> {
    let Some(m) = m else {
        v.push(field, "is required");
        return None;
    };
    match Money::from_parts(&m.currency_code, m.units, m.nanos) {
        Ok(money) => Some(money),
        Err(e) => {
            v.push(field, e.to_string());
            None
        }
    }
}

pub fn money_out(m: Money) -> pb::Money {
    let (units, nanos) = m.to_parts();
    pb::Money {
        currency_code: m.currency().code().to_owned(),
        units,
        nanos,
    }
}

/// Reads a required Date field; refuses impossible dates such as 31 February.
pub fn date_in(v: &mut Violations, field: &str, d: Option<&pb::Date>) -> Option<NaiveDate> {
    let Some(d) = d else {
        v.push(field, "is required");
        return None;
    };
    let valid = (1..=9999).contains(&d.year)
        && u32::try_from(d.month).is_ok()
        && u32::try_from(d.day).is_ok();
    let date = valid
        .then(|| NaiveDate::from_ymd_opt(d.year, d.month as u32, d.day as u32))
        .flatten();
    if date.is_none() {
        v.push(
            field,
            format!(
                "{}-{:02}-{:02} is not a calendar date",
                d.year, d.month, d.day
            ),
        );
    }
    date
}

pub fn date_out(d: NaiveDate) -> pb::Date {
    pb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

pub fn time_out(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// Reads an enum field; `unspecified` decides what 0 means (None: it is refused).
pub fn enum_in<E: TryFrom<i32>, T>(
    v: &mut Violations,
    field: &str,
    raw: i32,
    unspecified: Option<T>,
    map: impl Fn(E) -> Option<T>,
) -> Option<T> {
    if raw == 0 {
        if unspecified.is_none() {
            v.push(field, "is required");
        }
        return unspecified;
    }
    let mapped = E::try_from(raw).ok().and_then(map);
    if mapped.is_none() {
        v.push(field, format!("{raw} is not a known value"));
    }
    mapped
}

/// The parts of an imported account record; field paths are relative to the record.
pub fn account_in(a: &pb::Account) -> Result<AccountData, Violations> {
    let mut v = Violations::new();
    let debtor_type = enum_in(&mut v, "debtor_type", a.debtor_type, None, |e| match e {
        pb::DebtorType::Company => Some(DebtorType::Company),
        pb::DebtorType::SoleTrader => Some(DebtorType::SoleTrader),
        pb::DebtorType::Partnership => Some(DebtorType::Partnership),
        pb::DebtorType::Unspecified => None,
    });
    let status = enum_in(
        &mut v,
        "status",
        a.status,
        Some(AccountStatus::Active),
        status_in,
    );
    let time_zone = match a.time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => Some(tz),
        Err(_) if a.time_zone.is_empty() => {
            v.push("time_zone", "is required");
            None
        }
        Err(_) => {
            v.push(
                "time_zone",
                "is not an IANA time zone name (e.g. Europe/London)",
            );
            None
        }
    };
    let currency = match Currency::from_code(&a.currency_code) {
        Ok(c) => Some(c),
        Err(_) if a.currency_code.is_empty() => {
            v.push("currency_code", "is required");
            None
        }
        Err(e) => {
            v.push("currency_code", e.to_string());
            None
        }
    };
    let contacts: Vec<Contact> = a
        .contacts
        .iter()
        .map(|c| Contact {
            display_name: c.display_name.clone(),
            role: c.role.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            preferred: c.preferred,
        })
        .collect();
    let invoices: Vec<Option<InvoiceData>> = a
        .invoices
        .iter()
        .enumerate()
        .map(|(i, inv)| invoice_in(&mut v, &format!("invoices[{i}]"), inv))
        .collect();
    v.extend_prefixed(
        "",
        validate_profile(&a.external_ref, &a.legal_name, &a.country_code, &contacts),
    );
    let queue = if a.queue.is_empty() {
        recoup_domain::account::DEFAULT_QUEUE.to_owned()
    } else {
        a.queue.clone()
    };
    if !recoup_domain::account::is_queue_name(&queue) {
        v.push("queue", recoup_domain::account::QUEUE_RULE);
    }
    let invoices = invoices.into_iter().collect::<Option<Vec<_>>>();
    if let (Some(currency), Some(invoices)) = (currency, &invoices) {
        validate_invoices(&mut v, invoices, currency);
    }
    match (debtor_type, status, time_zone, currency, invoices) {
        (Some(debtor_type), Some(status), Some(time_zone), Some(currency), Some(invoices)) => v
            .into_result(AccountData {
                external_ref: a.external_ref.clone(),
                legal_name: a.legal_name.clone(),
                debtor_type,
                country_code: a.country_code.clone(),
                time_zone,
                currency,
                status,
                cease_calls: a.cease_calls,
                interest_waived: a.statutory_interest_waived,
                queue,
                contacts,
                invoices,
            }),
        _ => Err(v),
    }
}

/// Whether an AccountView asks for FULL; `default_full` is the method's meaning of UNSPECIFIED.
pub fn view_in(v: &mut Violations, raw: i32, default_full: bool) -> Option<bool> {
    enum_in(v, "view", raw, Some(default_full), |view| match view {
        pb::AccountView::Basic => Some(false),
        pb::AccountView::Full => Some(true),
        pb::AccountView::Unspecified => None,
    })
}

pub fn status_in(s: pb::AccountStatus) -> Option<AccountStatus> {
    match s {
        pb::AccountStatus::Active => Some(AccountStatus::Active),
        pb::AccountStatus::OnHold => Some(AccountStatus::OnHold),
        pb::AccountStatus::WithAgency => Some(AccountStatus::WithAgency),
        pb::AccountStatus::Closed => Some(AccountStatus::Closed),
        pb::AccountStatus::Unspecified => None,
    }
}

fn status_out(s: AccountStatus) -> pb::AccountStatus {
    match s {
        AccountStatus::Active => pb::AccountStatus::Active,
        AccountStatus::OnHold => pb::AccountStatus::OnHold,
        AccountStatus::WithAgency => pb::AccountStatus::WithAgency,
        AccountStatus::Closed => pb::AccountStatus::Closed,
    }
}

fn invoice_in(v: &mut Violations, path: &str, inv: &pb::Invoice) -> Option<InvoiceData> {
    let issue_date = date_in(v, &format!("{path}.issue_date"), inv.issue_date.as_ref());
    let due_date = date_in(v, &format!("{path}.due_date"), inv.due_date.as_ref());
    let amount = money_in(v, &format!("{path}.amount"), inv.amount.as_ref());
    let adjustments: Vec<Option<Adjustment>> = inv
        .adjustments
        .iter()
        .enumerate()
        .map(|(i, adj)| {
            let p = format!("{path}.adjustments[{i}]");
            let kind = enum_in(v, &format!("{p}.kind"), adj.kind, None, |k| match k {
                pb::AdjustmentKind::CreditNote => Some(AdjustmentKind::CreditNote),
                pb::AdjustmentKind::Debit => Some(AdjustmentKind::Debit),
                pb::AdjustmentKind::Unspecified => None,
            });
            let amount = money_in(v, &format!("{p}.amount"), adj.amount.as_ref());
            let date = date_in(v, &format!("{p}.date"), adj.date.as_ref());
            Some(Adjustment {
                reference: adj.reference.clone(),
                kind: kind?,
                amount: amount?,
                date: date?,
                reason: adj.reason.clone(),
            })
        })
        .collect();
    let parsed = (|| {
        Some(InvoiceData {
            number: inv.number.clone(),
            issue_date: issue_date?,
            due_date: due_date?,
            amount: amount?,
            adjustments: adjustments.into_iter().collect::<Option<Vec<_>>>()?,
            disputed: inv.disputed,
            dispute_reason: inv.dispute_reason.clone(),
        })
    })();
    if parsed.is_none() && inv.number.trim().is_empty() {
        // The invoice rules only run on a fully parsed invoice; a missing number is worth naming now.
        v.push(format!("{path}.number"), "is required");
    }
    parsed
}

/// The payment of a RecordPayment request; paths relative to the payment.
pub fn payment_in(p: &pb::Payment) -> Result<NewPayment, Violations> {
    let mut v = Violations::new();
    let amount = money_in(&mut v, "amount", p.amount.as_ref());
    let date = date_in(&mut v, "payment_date", p.payment_date.as_ref());
    NewPayment::validate_text(&mut v, &p.reference, &p.invoice_numbers);
    if let Some(m) = amount {
        // The account's currency is checked by the store; sign and size need no account.
        check_amount(&mut v, "amount", m, m.currency());
    }
    match (amount, date) {
        (Some(amount), Some(payment_date)) => v.into_result(NewPayment {
            amount,
            payment_date,
            reference: p.reference.clone(),
            invoice_numbers: p.invoice_numbers.clone(),
        }),
        _ => Err(v),
    }
}

pub fn account_name(id: i64) -> String {
    format!("accounts/{id}")
}

pub fn payment_out(p: &StoredPayment) -> pb::Payment {
    pb::Payment {
        name: format!("accounts/{}/payments/{}", p.account_id, p.id),
        amount: Some(money_out(p.amount)),
        payment_date: Some(date_out(p.payment_date)),
        reference: p.reference.clone(),
        invoice_numbers: p.invoice_numbers.clone(),
        allocations: p
            .allocations
            .iter()
            .map(|(number, amount)| pb::PaymentAllocation {
                invoice_number: number.clone(),
                amount: Some(money_out(*amount)),
            })
            .collect(),
        unallocated: Some(money_out(p.unallocated)),
        create_time: Some(time_out(p.create_time)),
    }
}

fn bucket_out(b: AgeingBucket) -> pb::AgeingBucket {
    match b {
        AgeingBucket::Current => pb::AgeingBucket::Current,
        AgeingBucket::Days1To30 => pb::AgeingBucket::Days1To30,
        AgeingBucket::Days31To60 => pb::AgeingBucket::Days31To60,
        AgeingBucket::Days61To90 => pb::AgeingBucket::Days61To90,
        AgeingBucket::Over90 => pb::AgeingBucket::DaysOver90,
    }
}

pub fn adjustment_out(a: &Adjustment) -> pb::InvoiceAdjustment {
    pb::InvoiceAdjustment {
        reference: a.reference.clone(),
        kind: match a.kind {
            AdjustmentKind::CreditNote => pb::AdjustmentKind::CreditNote,
            AdjustmentKind::Debit => pb::AdjustmentKind::Debit,
        } as i32,
        amount: Some(money_out(a.amount)),
        date: Some(date_out(a.date)),
        reason: a.reason.clone(),
    }
}

/// An invoice as returned; `paused_by` is the name of the open dispute holding it, if any.
/// An invoice as the contract shows it, judged on the debtor's `today`; `paused_by` names the open
/// dispute pausing it (empty when none).
pub fn invoice_out(inv: &StoredInvoice, today: NaiveDate, paused_by: String) -> pb::Invoice {
    let d = &inv.data;
    let days = ageing::days_overdue(d.due_date, today);
    pb::Invoice {
        name: format!("accounts/{}/invoices/{}", inv.account_id, inv.id),
        number: d.number.clone(),
        issue_date: Some(date_out(d.issue_date)),
        due_date: Some(date_out(d.due_date)),
        amount: Some(money_out(d.amount)),
        adjustments: d.adjustments.iter().map(adjustment_out).collect(),
        disputed: d.disputed,
        dispute_reason: d.dispute_reason.clone(),
        dispute: paused_by,
        outstanding: Some(money_out(inv.outstanding)),
        days_overdue: i32::try_from(days).unwrap_or(i32::MAX),
        ageing_bucket: bucket_out(AgeingBucket::for_days(days)) as i32,
    }
}

/// How much of an account to answer with: BASIC, or FULL under the policy in force.
#[derive(Debug, Clone, Copy)]
pub enum View<'a> {
    Basic,
    Full(&'a Policy),
}

/// An account as returned: BASIC (profile, contacts, balance) or FULL (everything assessed, with
/// its invoices, payments and story).
pub fn account_out(a: &AccountSnapshot, view: View<'_>, now: DateTime<Utc>) -> pb::Account {
    match view {
        View::Basic => basic_out(
            a,
            &balance_of(a, ageing::local_today(a.data.time_zone, now)),
        ),
        View::Full(policy) => full_out(&Assessment::of(a, policy, now)),
    }
}

/// The FULL view of an assessed account.
pub fn full_out(x: &Assessment<'_>) -> pb::Account {
    let a = x.account;
    let today = x.today;
    pb::Account {
        invoices: a
            .open_invoices
            .iter()
            .map(|i| {
                let paused_by = a
                    .story
                    .open_disputes
                    .iter()
                    .find(|d| d.invoice_numbers.contains(&i.data.number))
                    .map(|d| d.name())
                    .unwrap_or_default();
                invoice_out(i, today, paused_by)
            })
            .collect(),
        recent_payments: a.recent_payments.iter().map(payment_out).collect(),
        ..story_out(x)
    }
}

/// The profile, contacts and balance: what BASIC shows, and FULL builds on.
pub fn basic_out(a: &AccountSnapshot, b: &ageing::Balance) -> pb::Account {
    let d = &a.data;
    let balance = pb::BalanceSummary {
        as_of_date: Some(date_out(b.as_of)),
        outstanding: Some(money_out(b.outstanding)),
        overdue: Some(money_out(b.overdue)),
        disputed: Some(money_out(b.disputed)),
        unallocated_credit: Some(money_out(b.unallocated_credit)),
        current: Some(money_out(b.current)),
        overdue_1_to_30_days: Some(money_out(b.days_1_to_30)),
        overdue_31_to_60_days: Some(money_out(b.days_31_to_60)),
        overdue_61_to_90_days: Some(money_out(b.days_61_to_90)),
        overdue_over_90_days: Some(money_out(b.over_90)),
        oldest_overdue_due_date: b.oldest_overdue_due_date.map(date_out),
        max_days_overdue: i32::try_from(b.max_days_overdue).unwrap_or(i32::MAX),
        open_invoice_count: i32::try_from(b.open_invoice_count).unwrap_or(i32::MAX),
    };
    pb::Account {
        name: account_name(a.id),
        external_ref: d.external_ref.clone(),
        legal_name: d.legal_name.clone(),
        debtor_type: match d.debtor_type {
            DebtorType::Company => pb::DebtorType::Company,
            DebtorType::SoleTrader => pb::DebtorType::SoleTrader,
            DebtorType::Partnership => pb::DebtorType::Partnership,
        } as i32,
        country_code: d.country_code.clone(),
        time_zone: d.time_zone.name().to_owned(),
        currency_code: d.currency.code().to_owned(),
        status: status_out(d.status) as i32,
        contacts: d
            .contacts
            .iter()
            .map(|c| pb::Contact {
                display_name: c.display_name.clone(),
                role: c.role.clone(),
                phone: c.phone.clone(),
                email: c.email.clone(),
                preferred: c.preferred,
            })
            .collect(),
        cease_calls: d.cease_calls,
        statutory_interest_waived: d.interest_waived,
        queue: d.queue.clone(),
        held_blocks: held_out(a.held),
        create_time: Some(time_out(a.create_time)),
        update_time: Some(time_out(a.update_time)),
        balance: Some(balance),
        ..Default::default()
    }
}

/// The FULL view's story: recent calls, disputes, letters, the active plan and statutory interest,
/// over the judgements of `story_summary`.
fn story_out(x: &Assessment<'_>) -> pb::Account {
    let (a, policy) = (x.account, x.policy);
    let story = &a.story;
    pb::Account {
        recent_calls: story
            .recent_calls
            .iter()
            .map(|c| call::call_out(c, x.promises.iter().find(|j| j.promise.call_id == c.id)))
            .collect(),
        open_disputes: story
            .open_disputes
            .iter()
            .map(dispute::dispute_out)
            .collect(),
        recent_letters: story
            .letters
            .iter()
            .map(|l| pb::Letter {
                name: format!("accounts/{}/letters/{}", a.id, l.id),
                kind: guidance::letter_kind_out(&l.kind) as i32,
                subject: l.subject.clone(),
                create_time: Some(time_out(l.time)),
                ..Default::default()
            })
            .collect(),
        // A plan the payments completed or broke is no longer shown as in play, even before the
        // background pass records its end.
        active_plan: x
            .plan
            .as_ref()
            .map(|(p, _)| plan::plan_out(p, x.today, &policy.plans, false))
            .filter(|p| !matches!(p.state(), pb::PlanState::Broken | pb::PlanState::Completed)),
        statutory_interest: x.interest.as_ref().and_then(|i| i.out(&policy.interest)),
        ..story_summary(x)
    }
}

/// The profile and balance with the story's judgements, without its lists: the open promise,
/// broken promises, the category in force and derived, follow-ups and whether the account may be
/// called now. What guidance shows beside its sections.
pub(crate) fn story_summary(x: &Assessment<'_>) -> pb::Account {
    let a = x.account;
    let derived = category::assessment_out(&x.derived_category(&British));
    pb::Account {
        open_promise: x.open_promise().map(|j| pb::PromiseToPay {
            amount: Some(money_out(j.promise.amount)),
            promise_date: Some(date_out(j.promise.date)),
            state: call::promise_state_out(j.state) as i32,
            paid: Some(money_out(j.paid)),
        }),
        broken_promise_count: i32::try_from(x.broken_promises).unwrap_or(i32::MAX),
        category: Some(category::in_force(a, &derived)),
        derived_category: Some(derived),
        follow_ups: a.story.recent_calls.iter().filter_map(follow_up).collect(),
        contact_status: Some(contact_status_out(x.contact.clone())),
        ..basic_out(a, &x.balance)
    }
}

/// What a recent call left for someone to check or do.
fn follow_up(c: &StoredCall) -> Option<pb::FollowUp> {
    let call = call::call_name(c.account_id, c.id);
    let (kind, description, invoice_numbers, claims_to_verify) = match &c.call.outcome {
        Outcome::AlreadyPaid {
            reference,
            payment_date,
            amount,
        } => {
            let mut said = vec!["the debtor says it has paid".to_owned()];
            if let Some(m) = amount {
                said.push(m.to_string());
            }
            if let Some(d) = payment_date {
                said.push(format!("on {}", British.date(*d)));
            }
            if !reference.is_empty() {
                said.push(format!("reference {reference}"));
            }
            (
                pb::FollowUpKind::VerifyPayment,
                format!("{}: find the payment", said.join(" ")),
                Vec::new(),
                Vec::new(),
            )
        }
        Outcome::InvoiceNotReceived {
            invoice_numbers, ..
        } => (
            pb::FollowUpKind::ResendInvoices,
            format!("send copies of {}", invoice_numbers.join(", ")),
            invoice_numbers.clone(),
            Vec::new(),
        ),
        Outcome::HardshipClaimed {
            claims_to_verify,
            affordable_monthly,
            ..
        } => (
            pb::FollowUpKind::VerifyHardship,
            match affordable_monthly {
                Some(m) => {
                    format!("hardship claimed; says it can afford {m} a month: check the claims")
                }
                None => "hardship claimed: check the claims".to_owned(),
            },
            Vec::new(),
            claims_to_verify.clone(),
        ),
        _ => return None,
    };
    Some(pb::FollowUp {
        kind: kind as i32,
        call,
        description,
        invoice_numbers,
        claims_to_verify,
    })
}

pub fn block_reason_out(r: BlockReason) -> pb::ContactBlockReason {
    match r {
        BlockReason::CallLimitReached => pb::ContactBlockReason::CallLimitReached,
        BlockReason::OutsideCallingHours => pb::ContactBlockReason::OutsideCallingHours,
        BlockReason::Disputed => pb::ContactBlockReason::Disputed,
        BlockReason::WithAgency => pb::ContactBlockReason::WithAgency,
        BlockReason::CeaseCalls => pb::ContactBlockReason::CeaseCalls,
        BlockReason::CallbackScheduled => pb::ContactBlockReason::CallbackScheduled,
        BlockReason::NothingOwed => pb::ContactBlockReason::NothingOwed,
        BlockReason::OnHold => pb::ContactBlockReason::OnHold,
        BlockReason::PlanOnTrack => pb::ContactBlockReason::PlanOnTrack,
    }
}

pub fn contact_status_out(s: ContactStatus) -> pb::ContactStatus {
    pb::ContactStatus {
        may_call_now: s.may_call(),
        next_allowed_time: s.next_allowed.map(time_out),
        blocks: s
            .blocks
            .into_iter()
            .map(|b| pb::ContactBlock {
                reason: block_reason_out(b.reason) as i32,
                description: b.description,
                until_time: b.until.map(time_out),
            })
            .collect(),
    }
}

/// An account's lasting blocks recoup set, as the contract names them.
fn held_out(held: recoup_store::HeldBlocks) -> Vec<i32> {
    let mut out = Vec::new();
    if held.agency {
        out.push(pb::ContactBlockReason::WithAgency as i32);
    }
    if held.cease {
        out.push(pb::ContactBlockReason::CeaseCalls as i32);
    }
    out
}
