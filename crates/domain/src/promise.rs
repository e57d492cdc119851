//! Promises to pay, judged from the payments received: a promise is kept when what was paid from
//! the day it was made to its date plus the grace days covers it; broken or partly kept when that
//! deadline passes short; open until then. A later promise made while one is open supersedes it
//! (the debtor renegotiated), so the earlier one is neither kept nor broken.

use chrono::{Duration, NaiveDate};

use crate::money::Money;
use crate::policy::PromisePolicy;

/// A promise as recorded on a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promise {
    pub call_id: i64,
    /// The debtor's date when the promise was made.
    pub made_on: NaiveDate,
    pub amount: Money,
    pub date: NaiveDate,
}

/// A payment received, as the judgement needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub payment_date: NaiveDate,
    pub amount: Money,
}

/// Where a promise stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromiseState {
    Open,
    Kept,
    PartiallyKept,
    Broken,
    /// Replaced by a later promise while still open.
    Superseded,
}

/// A promise with its state and what was paid towards it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedPromise {
    pub promise: Promise,
    pub state: PromiseState,
    /// Paid towards it, at most its amount.
    pub paid: Money,
}

/// Judges every promise (in any order) as of the debtor's date `today`; the result is ordered by
/// the day each was made, oldest first.
pub fn judge(
    promises: &[Promise],
    payments: &[Received],
    today: NaiveDate,
    policy: &PromisePolicy,
) -> Vec<TrackedPromise> {
    let grace = Duration::days(i64::from(policy.grace_days));
    let mut ordered: Vec<&Promise> = promises.iter().collect();
    ordered.sort_by_key(|p| (p.made_on, p.call_id));
    let mut judged = Vec::with_capacity(ordered.len());
    for (i, p) in ordered.iter().enumerate() {
        let deadline = p.date + grace;
        // What a promise sees ends where the next one began: money paid after a renegotiation
        // belongs to the new promise.
        let next = ordered.get(i + 1).map(|n| n.made_on);
        let until = next.map_or(deadline, |n| deadline.min(n));
        let total = payments
            .iter()
            .filter(|r| r.payment_date >= p.made_on && r.payment_date <= until)
            .fold(Money::zero(p.amount.currency()), |sum, r| {
                // Amounts are bounded far below Decimal's range; checked only to never panic.
                sum.amount()
                    .checked_add(r.amount.amount())
                    .map_or(sum, |a| sum.with_amount(a))
            });
        let paid = if total.amount() > p.amount.amount() {
            p.amount
        } else {
            total
        };
        let state = if paid == p.amount {
            PromiseState::Kept
        } else if next.is_some_and(|n| n <= deadline) {
            PromiseState::Superseded
        } else if today <= deadline {
            PromiseState::Open
        } else if paid.is_positive() {
            PromiseState::PartiallyKept
        } else {
            PromiseState::Broken
        };
        judged.push(TrackedPromise {
            promise: (*p).clone(),
            state,
            paid,
        });
    }
    judged
}

/// The promise still open, if any (only the latest promise can be).
pub fn open_promise(judged: &[TrackedPromise]) -> Option<&TrackedPromise> {
    judged.last().filter(|j| j.state == PromiseState::Open)
}

/// Promises not kept in full (broken or partly kept) whose deadline passed within the policy's
/// window back from `today`.
pub fn broken_recently(
    judged: &[TrackedPromise],
    today: NaiveDate,
    policy: &PromisePolicy,
) -> usize {
    broken_within(judged, today, policy).count()
}

/// The promises broken (or only partly kept) within the promise window, in the order judged
/// (oldest first).
pub fn broken_within<'a>(
    judged: &'a [TrackedPromise],
    today: NaiveDate,
    policy: &PromisePolicy,
) -> impl DoubleEndedIterator<Item = &'a TrackedPromise> {
    let from = today - Duration::days(i64::from(policy.broken_window_days));
    let grace = Duration::days(i64::from(policy.grace_days));
    judged
        .iter()
        .filter(|j| matches!(j.state, PromiseState::Broken | PromiseState::PartiallyKept))
        .filter(move |j| j.promise.date + grace >= from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn gbp(units: i64) -> Money {
        Money::from_minor(units * 100, Currency::from_code("GBP").unwrap())
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn promise(id: i64, made: &str, amount: i64, date: &str) -> Promise {
        Promise {
            call_id: id,
            made_on: d(made),
            amount: gbp(amount),
            date: d(date),
        }
    }

    fn paid(date: &str, amount: i64) -> Received {
        Received {
            payment_date: d(date),
            amount: gbp(amount),
        }
    }

    fn states(j: &[TrackedPromise]) -> Vec<PromiseState> {
        j.iter().map(|j| j.state).collect()
    }

    const POLICY: PromisePolicy = PromisePolicy {
        grace_days: 3,
        broken_window_days: 90,
        max_days_ahead: 60,
    };

    #[test]
    fn a_promise_is_open_until_its_date_plus_grace_then_judged_by_what_was_paid() {
        let p = [promise(1, "2026-11-02", 500, "2026-11-10")];
        let none: [Received; 0] = [];
        assert_eq!(
            states(&judge(&p, &none, d("2026-11-13"), &POLICY)),
            [PromiseState::Open]
        );
        assert_eq!(
            states(&judge(&p, &none, d("2026-11-14"), &POLICY)),
            [PromiseState::Broken]
        );
        let part = [paid("2026-11-12", 200)];
        let j = judge(&p, &part, d("2026-11-20"), &POLICY);
        assert_eq!(states(&j), [PromiseState::PartiallyKept]);
        assert_eq!(j[0].paid, gbp(200));
        let late = [paid("2026-11-14", 500)];
        assert_eq!(
            states(&judge(&p, &late, d("2026-11-20"), &POLICY)),
            [PromiseState::Broken]
        );
        let full = [paid("2026-11-05", 300), paid("2026-11-13", 300)];
        let j = judge(&p, &full, d("2026-11-20"), &POLICY);
        assert_eq!(states(&j), [PromiseState::Kept]);
        assert_eq!(j[0].paid, gbp(500), "paid is capped at the amount promised");
        let before = [paid("2026-11-01", 500)];
        assert_eq!(
            states(&judge(&p, &before, d("2026-11-20"), &POLICY)),
            [PromiseState::Broken],
            "a payment before the promise was made is not towards it"
        );
    }

    #[test]
    fn a_later_promise_supersedes_an_open_one_and_only_the_latest_can_be_open() {
        let p = [
            promise(2, "2026-11-08", 400, "2026-11-20"),
            promise(1, "2026-11-02", 500, "2026-11-10"),
        ];
        let j = judge(&p, &[], d("2026-11-15"), &POLICY);
        assert_eq!(states(&j), [PromiseState::Superseded, PromiseState::Open]);
        assert_eq!(open_promise(&j).unwrap().promise.call_id, 2);
        assert_eq!(broken_recently(&j, d("2026-11-15"), &POLICY), 0);
    }

    #[test]
    fn broken_promises_are_counted_within_the_window() {
        let p = [
            promise(1, "2026-06-01", 100, "2026-06-10"),
            promise(2, "2026-09-01", 100, "2026-09-10"),
            promise(3, "2026-10-01", 100, "2026-10-10"),
        ];
        let j = judge(&p, &[paid("2026-10-05", 50)], d("2026-11-20"), &POLICY);
        assert_eq!(
            states(&j),
            [
                PromiseState::Broken,
                PromiseState::Broken,
                PromiseState::PartiallyKept
            ]
        );
        assert_eq!(open_promise(&j), None);
        // 90 days back from 20 November is 22 August: the June promise is outside.
        assert_eq!(broken_recently(&j, d("2026-11-20"), &POLICY), 2);
    }
}
