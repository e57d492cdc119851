//! Plan proposals in and judgements out.

use chrono::NaiveDate;
use recoup_domain::plan::state::PlanState;
use recoup_domain::plan::track::{self, InstalmentState, Progress, Standing, Tracked};
use recoup_domain::plan::{Broken, Counter, Judgement, PlanPolicy, Proposal, instalment_for_count};
use recoup_domain::schedule::{self, Frequency, Payment};
use recoup_domain::{Currency, Money, Violations};
use recoup_proto::v1 as pb;
use rust_decimal::Decimal;

use recoup_domain::policy::Policy;
use recoup_store::{AccountSnapshot, StoredPlan};

use super::{date_in, date_out, enum_in, money_in, money_out, time_out};

/// An amount of a plan, which must be positive and in the account's currency.
pub fn amount(
    v: &mut Violations,
    field: &str,
    m: Option<&pb::Money>,
    cur: Currency,
) -> Option<Money> {
    let money = money_in(v, field, m)?;
    if money.currency() != cur {
        v.push(
            field,
            format!("must be in {}, the account's currency", cur.code()),
        );
        return None;
    }
    if !money.is_positive() {
        v.push(field, "must be more than zero");
        return None;
    }
    Some(money)
}

/// The instalment: `instalment_amount` as given, or `balance` spread over `instalment_count`.
fn instalment_in(
    v: &mut Violations,
    p: &pb::PlanProposal,
    cur: Currency,
    balance: Money,
) -> Option<Money> {
    match (p.instalment_amount.as_ref(), p.instalment_count) {
        (Some(_), n) if n != 0 => {
            v.push(
                "instalment_count",
                "give instalment_amount or instalment_count, not both",
            );
            None
        }
        (None, n) if n < 0 || i64::from(n) > schedule::MAX_PAYMENTS => {
            v.push(
                "instalment_count",
                format!("must be from 1 to {}", schedule::MAX_PAYMENTS),
            );
            None
        }
        (None, 1..) => {
            let each = instalment_for_count(balance, p.instalment_count as u32)?;
            if each.is_positive() {
                Some(each)
            } else {
                v.push("instalment_count", "leaves nothing to pay in instalments");
                None
            }
        }
        (m, _) => amount(v, "instalment_amount", m, cur),
    }
}

fn frequency_in(v: &mut Violations, raw: i32) -> Option<Frequency> {
    enum_in(v, "frequency", raw, None, |f: pb::Frequency| match f {
        pb::Frequency::Unspecified => None,
        pb::Frequency::Weekly => Some(Frequency::Weekly),
        pb::Frequency::Fortnightly => Some(Frequency::Fortnightly),
        pb::Frequency::Monthly => Some(Frequency::Monthly),
    })
}

fn frequency_out(f: Frequency) -> pb::Frequency {
    match f {
        Frequency::Weekly => pb::Frequency::Weekly,
        Frequency::Fortnightly => pb::Frequency::Fortnightly,
        Frequency::Monthly => pb::Frequency::Monthly,
    }
}

/// A proposal read for an account in `cur`, with what the customer says it can afford; field paths
/// are relative to the proposal.
/// The proposal `p` for an account whose collectable balance is `balance` (an instalment given by
/// count is that balance, less any down payment, spread over the count), and the monthly amount
/// the customer says it can afford.
pub fn proposal_in(
    p: &pb::PlanProposal,
    cur: Currency,
    balance: Money,
) -> Result<(Proposal, Option<Money>), Violations> {
    let mut v = Violations::new();
    let kind = enum_in(&mut v, "kind", p.kind, None, |k: pb::PlanKind| {
        (k != pb::PlanKind::Unspecified).then_some(k)
    });
    let affordable = p
        .affordable_monthly
        .as_ref()
        .and_then(|m| amount(&mut v, "affordable_monthly", Some(m), cur));
    let date = |v: &mut Violations, field: &str, d: Option<&pb::Date>| -> Option<NaiveDate> {
        date_in(v, field, d)
    };
    let proposal =
        match kind {
            None => None,
            Some(pb::PlanKind::PayInFull) => date(&mut v, "pay_by_date", p.pay_by_date.as_ref())
                .map(|by| Proposal::PayInFull { by }),
            Some(pb::PlanKind::Extension) => date(&mut v, "pay_by_date", p.pay_by_date.as_ref())
                .map(|by| Proposal::Extension { by }),
            Some(pb::PlanKind::Instalments) => {
                let a = instalment_in(&mut v, p, cur, balance);
                let f = frequency_in(&mut v, p.frequency);
                let first = date(&mut v, "first_payment_date", p.first_payment_date.as_ref());
                match (a, f, first) {
                    (Some(amount), Some(frequency), Some(first)) => Some(Proposal::Instalments {
                        amount,
                        frequency,
                        first,
                    }),
                    _ => None,
                }
            }
            Some(pb::PlanKind::DownPaymentAndInstalments) => {
                let down = amount(&mut v, "down_payment", p.down_payment.as_ref(), cur);
                let rest = down.map_or(balance, |d| {
                    balance.with_amount(balance.amount() - d.amount())
                });
                let a = instalment_in(&mut v, p, cur, rest);
                let f = frequency_in(&mut v, p.frequency);
                let first = date(&mut v, "first_payment_date", p.first_payment_date.as_ref());
                match (down, a, f, first) {
                    (Some(down), Some(amount), Some(frequency), Some(first)) => {
                        Some(Proposal::DownPayment {
                            down,
                            amount,
                            frequency,
                            first,
                        })
                    }
                    _ => None,
                }
            }
            Some(pb::PlanKind::Settlement) => {
                let pct = p
                    .settlement_discount_percent
                    .parse::<Decimal>()
                    .ok()
                    .filter(|d| *d > Decimal::ZERO && *d < Decimal::ONE_HUNDRED);
                if pct.is_none() {
                    v.push(
                    "settlement_discount_percent",
                    "must be a percentage above 0 and below 100, as a decimal string (e.g. \"10\")",
                );
                }
                let by = date(&mut v, "pay_by_date", p.pay_by_date.as_ref());
                match (pct, by) {
                    (Some(discount_percent), Some(by)) => Some(Proposal::Settlement {
                        discount_percent,
                        by,
                    }),
                    _ => None,
                }
            }
            Some(pb::PlanKind::Unspecified) => None,
        };
    let by_count = matches!(
        kind,
        Some(pb::PlanKind::Instalments | pb::PlanKind::DownPaymentAndInstalments)
    );
    if p.instalment_count != 0 && !by_count && kind.is_some() {
        v.push(
            "instalment_count",
            "applies only to INSTALMENTS and DOWN_PAYMENT_AND_INSTALMENTS",
        );
    }
    match (proposal, v.is_empty()) {
        (Some(p), true) => Ok((p, affordable)),
        _ => Err(v),
    }
}

/// A proposal as the contract writes it.
pub fn proposal_out(p: &Proposal) -> pb::PlanProposal {
    match p {
        Proposal::PayInFull { by } => pb::PlanProposal {
            kind: pb::PlanKind::PayInFull as i32,
            pay_by_date: Some(date_out(*by)),
            ..Default::default()
        },
        Proposal::Extension { by } => pb::PlanProposal {
            kind: pb::PlanKind::Extension as i32,
            pay_by_date: Some(date_out(*by)),
            ..Default::default()
        },
        Proposal::Instalments {
            amount,
            frequency,
            first,
        } => pb::PlanProposal {
            kind: pb::PlanKind::Instalments as i32,
            instalment_amount: Some(money_out(*amount)),
            frequency: frequency_out(*frequency) as i32,
            first_payment_date: Some(date_out(*first)),
            ..Default::default()
        },
        Proposal::DownPayment {
            down,
            amount,
            frequency,
            first,
        } => pb::PlanProposal {
            kind: pb::PlanKind::DownPaymentAndInstalments as i32,
            down_payment: Some(money_out(*down)),
            instalment_amount: Some(money_out(*amount)),
            frequency: frequency_out(*frequency) as i32,
            first_payment_date: Some(date_out(*first)),
            ..Default::default()
        },
        Proposal::Settlement {
            discount_percent,
            by,
        } => pb::PlanProposal {
            kind: pb::PlanKind::Settlement as i32,
            settlement_discount_percent: discount_percent.to_string(),
            pay_by_date: Some(date_out(*by)),
            ..Default::default()
        },
    }
}

fn schedule_out(s: &[Payment]) -> Vec<pb::Instalment> {
    s.iter()
        .enumerate()
        .map(|(k, p)| pb::Instalment {
            sequence: k as i32 + 1,
            due_date: Some(date_out(p.due)),
            amount: Some(money_out(p.amount)),
            paid: Some(money_out(p.amount.with_amount(Decimal::ZERO))),
            state: pb::InstalmentState::Pending as i32,
        })
        .collect()
}

fn total(s: &[Payment], cur: Currency) -> Money {
    s.iter().fold(Money::zero(cur), |t, p| {
        t.with_amount(t.amount() + p.amount.amount())
    })
}

fn violation_out(b: &Broken) -> pb::RuleViolation {
    pb::RuleViolation {
        code: b.code.to_owned(),
        field: b.field.to_owned(),
        message: b.message.clone(),
        limit: b.limit.clone(),
        value: b.value.clone(),
    }
}

/// A proposal policy accepts, with what it comes to and `description`.
pub fn checked_out(
    p: &Proposal,
    j: &Judgement,
    cur: Currency,
    description: String,
) -> pb::CounterProposal {
    pb::CounterProposal {
        proposal: Some(proposal_out(p)),
        end_date: j.end().map(date_out),
        payment_count: j.schedule.len() as i32,
        total: Some(money_out(total(&j.schedule, cur))),
        description,
    }
}

/// ValidatePlan's answer.
pub fn validation_out(
    j: &Judgement,
    counters: &[Counter],
    nearest: Option<&Counter>,
    cur: Currency,
    etag: String,
) -> pb::ValidatePlanResponse {
    let counter_out = |c: &Counter| checked_out(&c.proposal, &c.judgement, cur, c.why.clone());
    pb::ValidatePlanResponse {
        etag,
        nearest_affordable: nearest.map(counter_out),
        valid: j.valid(),
        violations: j.broken.iter().map(violation_out).collect(),
        schedule: schedule_out(&j.schedule),
        total: Some(money_out(total(&j.schedule, cur))),
        discount: j.discount.map(money_out),
        end_date: j.end().map(date_out),
        approval_required: j.approval.is_some(),
        approver_role: if j.approval.is_some() {
            pb::Role::Supervisor as i32
        } else {
            pb::Role::Unspecified as i32
        },
        counter_proposals: counters.iter().map(|c| proposal_out(&c.proposal)).collect(),
        counters: counters.iter().map(counter_out).collect(),
    }
}

/// A plan that broke within the promise window, as guidance names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenPlan {
    pub agreed_on: NaiveDate,
    pub proposal: Proposal,
    pub schedule: Vec<Payment>,
    pub broken_on: NaiveDate,
    /// Instalments missed and the arrears when it broke (unknown for plans recorded as broken
    /// before recoup kept them).
    pub missed: Option<u32>,
    pub arrears: Option<Money>,
}

/// The latest plan that broke within the promise window: recorded as broken, or an active plan the
/// payments have broken before the background pass records it.
pub fn broken_plan(a: &AccountSnapshot, policy: &Policy, today: NaiveDate) -> Option<BrokenPlan> {
    let since = today - chrono::Duration::days(i64::from(policy.promises.broken_window_days));
    a.story.plans.iter().find_map(|p| {
        let (on, missed, arrears) = match (p.state, p.end_time) {
            (PlanState::Broken, Some(t)) => (
                t.with_timezone(&p.time_zone).date_naive(),
                p.end_missed,
                p.end_arrears,
            ),
            (PlanState::Active, _) => {
                let t = progress(p, today, &policy.plans)?;
                match t.standing {
                    Standing::Broken { on } => (on, Some(t.missed as u32), Some(t.arrears)),
                    _ => return None,
                }
            }
            _ => return None,
        };
        (on >= since).then(|| BrokenPlan {
            agreed_on: p.create_time.with_timezone(&p.time_zone).date_naive(),
            proposal: p.detail.proposal.clone(),
            schedule: p.detail.schedule.clone(),
            broken_on: on,
            missed,
            arrears,
        })
    })
}

/// A recorded plan's progress as of the debtor's `today`: its instalments against the payments
/// made since it was agreed (for an ended plan, those made while it was live).
pub fn progress(p: &StoredPlan, today: NaiveDate, policy: &PlanPolicy) -> Option<Progress> {
    track::track(&p.detail.schedule, &p.receipts, today, policy)
}

/// The state a plan is in: as stored, except that an active plan the payments (or the lack of
/// them) completed or broke is shown so before the background pass records it.
pub fn effective_state(p: &StoredPlan, progress: Option<&Progress>) -> PlanState {
    match (p.state, progress.map(|t| t.standing)) {
        (PlanState::Active, Some(Standing::Broken { .. })) => PlanState::Broken,
        (PlanState::Active, Some(Standing::Completed { .. })) => PlanState::Completed,
        (s, _) => s,
    }
}

fn state_out(s: PlanState) -> pb::PlanState {
    match s {
        PlanState::AwaitingApproval => pb::PlanState::AwaitingApproval,
        PlanState::AwaitingSignature => pb::PlanState::AwaitingSignature,
        PlanState::Active => pb::PlanState::Active,
        PlanState::Completed => pb::PlanState::Completed,
        PlanState::Broken => pb::PlanState::Broken,
        PlanState::Cancelled => pb::PlanState::Cancelled,
    }
}

fn instalment_out(k: usize, t: &Tracked) -> pb::Instalment {
    pb::Instalment {
        sequence: k as i32 + 1,
        due_date: Some(date_out(t.due)),
        amount: Some(money_out(t.amount)),
        paid: Some(money_out(t.paid)),
        state: match t.state {
            InstalmentState::Pending => pb::InstalmentState::Pending,
            InstalmentState::Paid => pb::InstalmentState::Paid,
            InstalmentState::Missed => pb::InstalmentState::Missed,
        } as i32,
    }
}

/// A recorded plan as the contract shows it, tracked as of `today`; `with_agreement` false leaves
/// the agreement's text out (lists and the account view).
pub fn plan_out(
    p: &StoredPlan,
    today: NaiveDate,
    policy: &PlanPolicy,
    with_agreement: bool,
) -> pb::Plan {
    let cur = p.detail.total.currency();
    let t = progress(p, today, policy);
    let state = effective_state(p, t.as_ref());
    let end_reason = match (&p.end_reason, t.as_ref().map(|t| t.standing)) {
        (Some(r), _) => r.clone(),
        (None, Some(Standing::Broken { on })) if state == PlanState::Broken => {
            format!(
                "broken on {on}: {} instalments missed",
                track::misses_to_break(policy, p.detail.schedule.len())
            )
        }
        (None, Some(Standing::Completed { on })) if state == PlanState::Completed => {
            format!("completed on {on}: every instalment paid")
        }
        _ => String::new(),
    };
    let next = t.as_ref().and_then(|t| {
        let k = t
            .instalments
            .iter()
            .position(|i| i.state != InstalmentState::Paid)?;
        let i = &t.instalments[k];
        let mut out = instalment_out(k, i);
        out.amount = Some(money_out(
            i.amount.with_amount(i.amount.amount() - i.paid.amount()),
        ));
        Some(out)
    });
    pb::Plan {
        name: p.name(),
        proposal: Some({
            let mut out = proposal_out(&p.detail.proposal);
            out.affordable_monthly = p.detail.affordable_monthly.map(money_out);
            out
        }),
        schedule: match &t {
            Some(t) => t
                .instalments
                .iter()
                .enumerate()
                .map(|(k, i)| instalment_out(k, i))
                .collect(),
            None => schedule_out(&p.detail.schedule),
        },
        state: state_out(state) as i32,
        agreement_text: if with_agreement {
            p.agreement.clone()
        } else {
            String::new()
        },
        proposed_by: p.proposed_by.clone(),
        approved_by: p.approved_by.clone().unwrap_or_default(),
        sign_time: p.sign_time.map(time_out),
        create_time: Some(time_out(p.create_time)),
        signatory: p.signatory.clone().unwrap_or_default(),
        approve_time: p.approve_time.map(time_out),
        approver_role: if p.approval_role.is_some() {
            pb::Role::Supervisor as i32
        } else {
            pb::Role::Unspecified as i32
        },
        balance: Some(money_out(p.detail.balance)),
        total: Some(money_out(p.detail.total)),
        discount: p.detail.discount.map(money_out),
        paid: Some(money_out(t.as_ref().map_or(Money::zero(cur), |t| t.paid))),
        arrears: Some(money_out(
            t.as_ref().map_or(Money::zero(cur), |t| t.arrears),
        )),
        missed_count: t.as_ref().map_or(0, |t| t.missed as i32),
        next_instalment: if state.live() { next } else { None },
        end_reason,
        end_time: p.end_time.map(time_out),
    }
}

/// Plans broken and completed within `window_days` of the debtor's `today`, as (broken,
/// completed): ended ones by the day they were recorded as ended, the active one by its tracking.
pub fn ended_recently(
    plans: &[StoredPlan],
    policy: &PlanPolicy,
    window_days: u32,
    today: NaiveDate,
) -> (usize, usize) {
    let since = today - chrono::Duration::days(i64::from(window_days));
    let (mut broken, mut completed) = (0, 0);
    for p in plans {
        let ended = match (p.state, p.end_time) {
            (PlanState::Broken | PlanState::Completed, Some(t)) => {
                Some((p.state, t.with_timezone(&p.time_zone).date_naive()))
            }
            (PlanState::Active, _) => match progress(p, today, policy).map(|t| t.standing) {
                Some(Standing::Broken { on }) => Some((PlanState::Broken, on)),
                Some(Standing::Completed { on }) => Some((PlanState::Completed, on)),
                _ => None,
            },
            _ => None,
        };
        match ended {
            Some((PlanState::Broken, on)) if on >= since => broken += 1,
            Some((PlanState::Completed, on)) if on >= since => completed += 1,
            _ => {}
        }
    }
    (broken, completed)
}
