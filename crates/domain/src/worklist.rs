//! Who to call, in what order, and why. An account is on the worklist while the contact rules let us
//! call it and something undisputed is overdue; its place is decided, in order, by:
//!
//! 1. a callback the debtor asked for that is due now;
//! 2. promises broken in the promise window, or instalments missed on a payment plan;
//! 3. the collectable overdue amount weighted by age (Σ amount × days overdue, in major units of
//!    the policy's base currency when one is set, else of the account's own currency), doubled
//!    for an account never called, so the never-contacted come before the recently contacted at
//!    equal weight.
//!
//! Each entry says why it is there, and the window of time in which the contact rules allow the call
//! (stored with the entry so the list is one indexed read; the entry is recomputed when the window
//! ends or anything on the account changes).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::contact::{self, CallHistory, ContactFacts};
use crate::money::Money;
use crate::policy::ContactPolicy;
use crate::text::plural;

/// Score of each tier; the weight within a tier stays below it.
const TIER: i64 = 1_000_000_000_000_000;

/// What ranks an account, beyond the contact rules' facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signals<'a> {
    /// The debtor's local date now.
    pub today: NaiveDate,
    /// Undisputed invoices with something outstanding: (due date, outstanding).
    pub collectable: &'a [(NaiveDate, Money)],
    /// Promises broken (or partly kept) within the promise window, and the window in days.
    pub broken_promises: usize,
    pub promise_window_days: u32,
    /// Instalments missed on the payment plan in force (or the one just broken).
    pub missed_instalments: usize,
    /// How the overdue amount is compared across accounts: in the policy's base currency at this
    /// rate (`Some`), or in the account's own currency (`None`: no base currency set).
    pub weigh_in: Weighing,
}

/// The currency an account's overdue amount is weighed in for ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weighing {
    /// The account's own currency (no base currency is configured).
    Own,
    /// The base currency, at this many units per unit of the account's currency.
    Base(Decimal),
    /// A base currency is configured but no rate for the account's: ranked by its tier alone,
    /// never by adding its amounts to another currency's.
    NoRate,
}

/// An account's place on the worklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// Higher first.
    pub score: i64,
    pub reasons: Vec<String>,
    /// The contact rules allow the call from `callable_from` until (not including) `callable_until`.
    pub callable_from: DateTime<Utc>,
    pub callable_until: DateTime<Utc>,
}

/// The account's place on the worklist as of `now`, or `None` while it has no place: nothing
/// undisputed overdue, or a lasting block (nothing owed, all disputed, agency, on hold, cease-calls).
/// An account blocked only for now (called today, outside hours, a callback later) gets its place
/// from the moment the rules allow the call.
pub fn assess(
    facts: &ContactFacts,
    history: &CallHistory<'_>,
    policy: &ContactPolicy,
    signals: &Signals<'_>,
    now: DateTime<Utc>,
) -> Option<WorkItem> {
    let overdue: Vec<&(NaiveDate, Money)> = signals
        .collectable
        .iter()
        .filter(|(due, owed)| *due < signals.today && owed.is_positive())
        .collect();
    let first = overdue.first()?;
    let status = contact::contact_status(facts, history, policy, now);
    let from = if status.may_call() {
        now
    } else {
        status.next_allowed?
    };
    let until = window_end(facts, history, policy, from);

    let mut reasons = Vec::new();
    let mut tier = 1;
    if let Some(callback) = history.callback
        && callback <= from
    {
        tier = 3;
        reasons.push(format!(
            "asked to be called back at {}",
            callback.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    if signals.missed_instalments > 0 {
        tier = tier.max(2);
        reasons.push(format!(
            "{} missed on the payment plan",
            plural(signals.missed_instalments, "instalment", "instalments")
        ));
    }
    if signals.broken_promises > 0 {
        tier = tier.max(2);
        reasons.push(format!(
            "{} broken in the last {} days",
            plural(signals.broken_promises, "promise", "promises"),
            signals.promise_window_days
        ));
    }
    let sum = overdue
        .iter()
        .fold(first.1.with_amount(Decimal::ZERO), |s, (_, m)| {
            s.with_amount(s.amount() + m.amount())
        });
    let oldest = overdue
        .iter()
        .map(|(due, _)| (signals.today - *due).num_days())
        .max()
        .unwrap_or(0);
    reasons.push(format!(
        "{sum} overdue on {}, the oldest {oldest} days",
        plural(overdue.len(), "invoice", "invoices")
    ));
    let weighted: Decimal = overdue
        .iter()
        .map(|(due, m)| m.amount() * Decimal::from((signals.today - *due).num_days()))
        .sum();
    let weighted = match signals.weigh_in {
        Weighing::Own => weighted,
        Weighing::Base(rate) => weighted * rate,
        Weighing::NoRate => {
            reasons.push(format!(
                "ranked by urgency only: no rate from {} to the base currency",
                first.1.currency().code()
            ));
            Decimal::ZERO
        }
    };
    let mut weight = weighted
        .trunc()
        .to_i64()
        .unwrap_or(i64::MAX)
        .clamp(0, TIER / 2 - 1);
    match history.outbound.iter().max() {
        None => {
            weight *= 2;
            reasons.push("never called by us".to_owned());
        }
        Some(t) => {
            let day = |i: DateTime<Utc>| i.with_timezone(&facts.time_zone).date_naive();
            let days = (day(now) - day(*t)).num_days();
            reasons.push(match days {
                0 => "last called today".to_owned(),
                1 => "last called yesterday".to_owned(),
                n => format!("last called {n} days ago"),
            });
        }
    }
    Some(WorkItem {
        score: tier * TIER + weight,
        reasons,
        callable_from: from,
        callable_until: until,
    })
}

/// The first instant after `from` (when calling is allowed) at which it no longer is: the end of
/// that day's calling hours, or of a callback's window; at most a day on, so the entry is looked at
/// again at least daily.
fn window_end(
    facts: &ContactFacts,
    history: &CallHistory<'_>,
    policy: &ContactPolicy,
    from: DateTime<Utc>,
) -> DateTime<Utc> {
    let local = from.with_timezone(&facts.time_zone).date_naive();
    let mut candidates: Vec<DateTime<Utc>> = Vec::new();
    if let Some(hours) = policy.hours_on(local) {
        candidates.push(contact::local_instant(facts.time_zone, local, hours.end));
    }
    if let Some(callback) = history.callback {
        candidates.push(callback + Duration::minutes(i64::from(policy.callback_window_minutes)));
    }
    let latest = from + Duration::days(1);
    candidates.retain(|t| *t > from && *t < latest);
    candidates.sort_unstable();
    candidates
        .into_iter()
        .find(|t| !contact::contact_status(facts, history, policy, *t).may_call())
        .unwrap_or(latest)
}

#[cfg(test)]
mod tests;
