//! Why a debtor is not paying, derived from the history, with the signs that led to it in plain
//! words (DOMAIN.md, "Why customers don't pay"). The first rule that holds decides:
//!
//! 1. NOTHING_OWED — nothing outstanding.
//! 2. DISPUTED — everything outstanding is disputed.
//! 3. ON_PLAN — paying an agreed payment plan on time: its instalments are the plan working, never
//!    signs of trouble (a plan in arrears is judged by the rules below).
//! 4. AVOIDER — refused to pay on a recent call, or the latest outbound calls all went unanswered
//!    (`avoider_unanswered_calls` in a row), or `avoider_broken_promises` promises broken in the
//!    promise window without a hardship claim.
//! 5. CASH_FLOW_TROUBLE — claimed hardship, or part-paid overdue invoices (paying what it can).
//! 6. STRATEGIC_DELAYER — paid `habitual_late_invoices` of the last `history_invoices` paid invoices
//!    at least `late_days` late, or broke a promise without a hardship claim.
//! 7. OVERSIGHT — overdue at most `oversight_max_days_overdue` days, never paid late before.
//! 8. UNKNOWN — too little to tell (e.g. nothing overdue yet).
//!
//! A dispute on part of the balance does not decide the category; it is named among the reasons.

use chrono::NaiveDate;

use crate::account::stored_enum;
use crate::call::{Direction, Outcome};
use crate::money::Money;
use crate::text::{Formats, plural};

stored_enum!(
    /// Why a debtor is not paying.
    Category {
        Unknown = "unknown",
        Oversight = "oversight",
        CashFlowTrouble = "cash_flow_trouble",
        StrategicDelayer = "strategic_delayer",
        Avoider = "avoider",
        Disputed = "disputed",
        NothingOwed = "nothing_owed",
        OnPlan = "on_plan",
    }
);

/// The thresholds, from `[policy.category]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryPolicy {
    /// Latest outbound calls in a row without an answer that make an avoider.
    pub avoider_unanswered_calls: u32,
    /// Promises broken in the promise window (without a hardship claim) that make an avoider.
    pub avoider_broken_promises: u32,
    /// Days after its due date at which a paid invoice counts as paid late.
    pub late_days: u32,
    /// Late-paid invoices among the last `history_invoices` paid that make a habitual late payer.
    pub habitual_late_invoices: u32,
    /// Paid invoices looked back over.
    pub history_invoices: u32,
    /// Oldest overdue days an oversight may have.
    pub oversight_max_days_overdue: u32,
}

impl Default for CategoryPolicy {
    fn default() -> Self {
        CategoryPolicy {
            avoider_unanswered_calls: 4,
            avoider_broken_promises: 2,
            late_days: 30,
            habitual_late_invoices: 3,
            history_invoices: 12,
            oversight_max_days_overdue: 30,
        }
    }
}

/// An invoice with something outstanding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenDebt {
    pub number: String,
    pub due_date: NaiveDate,
    pub outstanding: Money,
    /// Paid on it so far.
    pub paid: Money,
    pub disputed: bool,
}

/// An invoice paid in full: when it was due and when its last payment came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaidInvoice {
    pub due_date: NaiveDate,
    pub settled_on: NaiveDate,
}

/// A call as the category reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallFact<'a> {
    pub on: NaiveDate,
    pub direction: Direction,
    pub outcome: &'a Outcome,
}

/// A payment plan in force and on track, as the category names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOnTrack {
    pub agreed_on: NaiveDate,
    pub paid_instalments: usize,
    pub instalments: usize,
    /// The next instalment: what is still to pay on it, and when.
    pub next: Option<(Money, NaiveDate)>,
}

/// What the category is derived from, as of the debtor's `today`.
#[derive(Debug, Clone, PartialEq)]
pub struct History<'a> {
    pub today: NaiveDate,
    pub open: &'a [OpenDebt],
    /// Paid invoices, newest due first.
    pub paid: &'a [PaidInvoice],
    /// Current call records, newest first.
    pub calls: &'a [CallFact<'a>],
    /// Promises broken (or partly kept) within the promise window, and that window in days.
    pub broken_promises: usize,
    pub promise_window_days: u32,
    /// Payment plans broken, and completed, within the promise window. A completed plan counts
    /// for the debtor: it outweighs one broken promise.
    pub broken_plans: usize,
    pub completed_plans: usize,
    /// The live plan, when it is on track.
    pub plan_on_track: Option<PlanOnTrack>,
}

/// A category and the signs that led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub category: Category,
    pub reasons: Vec<String>,
}

/// Sums amounts of one currency (the account's); `None` for none.
fn total(amounts: impl Iterator<Item = Money>) -> Option<Money> {
    amounts.reduce(|a, b| a.with_amount(a.amount() + b.amount()))
}

/// Derives the category of a debtor from its history; the reasons write figures in `fmt`.
pub fn derive(h: &History<'_>, p: &CategoryPolicy, fmt: &dyn Formats) -> Assessment {
    let owed: Vec<&OpenDebt> = h
        .open
        .iter()
        .filter(|d| d.outstanding.is_positive())
        .collect();
    let collectable: Vec<&&OpenDebt> = owed.iter().filter(|d| !d.disputed).collect();
    let disputed: Vec<&&OpenDebt> = owed.iter().filter(|d| d.disputed).collect();
    let decided = |category, mut reasons: Vec<String>| {
        if !collectable.is_empty()
            && let Some(sum) = total(disputed.iter().map(|d| d.outstanding))
        {
            let numbers: Vec<&str> = disputed.iter().map(|d| d.number.as_str()).collect();
            reasons.push(format!(
                "{} on {} is disputed and not chased",
                fmt.money(sum),
                numbers.join(", ")
            ));
        }
        Assessment { category, reasons }
    };

    if owed.is_empty() {
        return decided(Category::NothingOwed, vec!["nothing is outstanding".into()]);
    }
    if collectable.is_empty() {
        let sum = total(disputed.iter().map(|d| d.outstanding)).expect("something is owed");
        let numbers: Vec<&str> = disputed.iter().map(|d| d.number.as_str()).collect();
        return decided(
            Category::Disputed,
            vec![format!(
                "everything outstanding ({}) is disputed: {}",
                fmt.money(sum),
                numbers.join(", ")
            )],
        );
    }
    if let Some(plan) = h.plan_on_track {
        let mut reason = format!(
            "paying the plan agreed on {} on time: {} of {} paid",
            fmt.date(plan.agreed_on),
            plan.paid_instalments,
            plural(plan.instalments, "instalment", "instalments")
        );
        if let Some((amount, due)) = plan.next {
            reason.push_str(&format!(
                ", the next {} on {}",
                fmt.money(amount),
                fmt.date(due)
            ));
        }
        return decided(Category::OnPlan, vec![reason]);
    }

    let overdue: Vec<&&&OpenDebt> = collectable
        .iter()
        .filter(|d| d.due_date < h.today)
        .collect();
    let max_days = overdue
        .iter()
        .map(|d| (h.today - d.due_date).num_days())
        .max()
        .unwrap_or(0);

    // What the calls say.
    let refusals = h
        .calls
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::RefusedToPay { .. }))
        .count();
    let hardship = h
        .calls
        .iter()
        .find(|c| matches!(c.outcome, Outcome::HardshipClaimed { .. }));
    let outbound: Vec<&CallFact<'_>> = h
        .calls
        .iter()
        .filter(|c| c.direction == Direction::Outbound)
        .collect();
    let unanswered = |c: &CallFact<'_>| {
        matches!(
            c.outcome,
            Outcome::NoAnswer | Outcome::LeftMessage { .. } | Outcome::WrongParty
        )
    };
    let unanswered_in_a_row = outbound.iter().take_while(|c| unanswered(c)).count();
    let answered = h.calls.iter().filter(|c| !unanswered(c)).count();

    let broken_promises = h.broken_promises.saturating_sub(h.completed_plans);
    let broken_sign = || {
        let mut sign = format!(
            "{} broken in the last {} days, no hardship claimed",
            plural(broken_promises, "promise", "promises"),
            h.promise_window_days
        );
        if h.completed_plans > 0 && h.broken_promises > 0 {
            sign.push_str(&format!(
                " ({} outweighed by {} completed)",
                plural(
                    h.broken_promises - broken_promises,
                    "broken promise",
                    "broken promises"
                ),
                plural(h.completed_plans, "payment plan", "payment plans")
            ));
        }
        sign
    };
    // How late the oldest overdue invoice is, after the signs that decided a firm category.
    let aged = |mut signs: Vec<String>| {
        if max_days > 0 {
            signs.push(format!("oldest overdue invoice {max_days} days late"));
        }
        signs
    };

    // 4. Avoider.
    let mut signs = Vec::new();
    if refusals > 0 {
        signs.push(format!(
            "refused to pay on {} of the last {}",
            plural(refusals, "call", "calls"),
            plural(h.calls.len(), "call", "calls")
        ));
    }
    if unanswered_in_a_row >= p.avoider_unanswered_calls as usize {
        let since = outbound[unanswered_in_a_row - 1].on;
        signs.push(format!(
            "the last {unanswered_in_a_row} outbound calls went unanswered (since {})",
            fmt.date(since)
        ));
    }
    if hardship.is_none() && broken_promises >= p.avoider_broken_promises as usize {
        signs.push(broken_sign());
    }
    if hardship.is_none() && h.broken_plans > 0 {
        signs.push(format!(
            "{} broken in the last {} days, no hardship claimed",
            plural(h.broken_plans, "payment plan", "payment plans"),
            h.promise_window_days
        ));
    }
    if !signs.is_empty() {
        return decided(Category::Avoider, aged(signs));
    }

    // 5. Cash-flow trouble.
    let part_paid: Vec<&&&OpenDebt> = overdue
        .iter()
        .filter(|d| d.paid.is_positive())
        .copied()
        .collect();
    let mut signs = Vec::new();
    if let Some(c) = hardship {
        let claims = match c.outcome {
            Outcome::HardshipClaimed {
                claims_to_verify, ..
            } => claims_to_verify.len(),
            _ => 0,
        };
        signs.push(format!(
            "claimed hardship on {} ({} to verify)",
            fmt.date(c.on),
            plural(claims, "claim", "claims")
        ));
    }
    if !part_paid.is_empty() {
        let paid = total(part_paid.iter().map(|d| d.paid)).expect("part-paid invoices");
        let owed = total(part_paid.iter().map(|d| d.outstanding)).expect("part-paid invoices");
        signs.push(format!(
            "part-paid {} ({} paid, {} still owed)",
            plural(part_paid.len(), "overdue invoice", "overdue invoices"),
            fmt.money(paid),
            fmt.money(owed)
        ));
    }
    if !signs.is_empty() {
        if !h.calls.is_empty() {
            signs.push(format!(
                "answered {answered} of the last {}",
                plural(h.calls.len(), "call", "calls")
            ));
        }
        return decided(Category::CashFlowTrouble, signs);
    }

    // 6. Strategic delayer.
    let looked_at: Vec<&PaidInvoice> = h.paid.iter().take(p.history_invoices as usize).collect();
    let lateness: Vec<i64> = looked_at
        .iter()
        .map(|i| (i.settled_on - i.due_date).num_days())
        .collect();
    let late: Vec<i64> = lateness
        .iter()
        .copied()
        .filter(|d| *d >= i64::from(p.late_days))
        .collect();
    let mut signs = Vec::new();
    if late.len() >= p.habitual_late_invoices as usize && !late.is_empty() {
        let (lo, hi) = (late.iter().min().unwrap(), late.iter().max().unwrap());
        let range = if lo == hi {
            format!("{lo}")
        } else {
            format!("{lo}–{hi}")
        };
        signs.push(format!(
            "paid {} of the last {} {range} days late, always in full",
            late.len(),
            plural(looked_at.len(), "paid invoice", "paid invoices")
        ));
    }
    // No hardship was claimed, or the debtor would be in cash-flow trouble above.
    if broken_promises > 0 {
        signs.push(broken_sign());
    }
    if !signs.is_empty() {
        return decided(Category::StrategicDelayer, aged(signs));
    }

    // 7. Oversight.
    let paid_late_before = lateness.iter().any(|d| *d >= i64::from(p.late_days));
    if max_days > 0 && max_days <= i64::from(p.oversight_max_days_overdue) && !paid_late_before {
        let contact = if h.calls.is_empty() {
            "never contacted".to_owned()
        } else {
            format!("{} so far", plural(h.calls.len(), "call", "calls"))
        };
        let head = match (looked_at.is_empty(), overdue.len()) {
            (true, 1) => "first overdue invoice".to_owned(),
            (true, n) => format!("first {n} overdue invoices"),
            (false, n) => plural(n, "invoice overdue", "invoices overdue"),
        };
        let mut reason = format!("{head}, {max_days} days late, {contact}");
        if !looked_at.is_empty() {
            reason.push_str(&format!(
                "; the last {} paid within {} days of due",
                plural(looked_at.len(), "paid invoice was", "paid invoices were"),
                p.late_days
            ));
        }
        return decided(Category::Oversight, vec![reason]);
    }

    // 8. Too little to tell.
    let why = if overdue.is_empty() {
        "nothing is overdue yet".to_owned()
    } else {
        format!("overdue {max_days} days with no calls, promises or payment history to go on")
    };
    decided(Category::Unknown, vec![why])
}

#[cfg(test)]
mod tests;
