//! A plan in force, tracked against the payments recorded since it was agreed: payments pay its
//! instalments in order; an instalment not paid in full by its due date plus the grace days is
//! missed (and stays counted as missed if paid later); the configured number of misses breaks the
//! plan, on the day the last of them became a miss; paying every instalment completes it. Judged
//! from dates alone, so a read at any time gives the same answer as the write that caused it.

use chrono::{Duration, NaiveDate};

use super::PlanPolicy;
use crate::money::Money;
use crate::schedule::Payment;

/// A payment towards the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub date: NaiveDate,
    pub amount: Money,
}

/// Where one instalment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstalmentState {
    /// Not paid in full, and its due date plus grace has not passed.
    Pending,
    Paid,
    /// Not paid in full, and its due date plus grace has passed.
    Missed,
}

/// One instalment with its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    pub due: NaiveDate,
    pub amount: Money,
    pub paid: Money,
    pub state: InstalmentState,
    /// The day it was paid in full.
    pub paid_on: Option<NaiveDate>,
    /// It was not paid in full by its due date plus grace (whatever happened since).
    pub missed: bool,
}

/// Where a plan in force stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Nothing overdue.
    OnTrack,
    /// Something due is unpaid, but not yet enough misses to break it.
    InArrears,
    Broken {
        on: NaiveDate,
    },
    Completed {
        on: NaiveDate,
    },
}

/// A plan's progress as of a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub instalments: Vec<Tracked>,
    /// Paid towards the plan (at most its total).
    pub paid: Money,
    pub missed: usize,
    /// Due before today and unpaid.
    pub arrears: Money,
    pub standing: Standing,
}

impl Progress {
    /// The first instalment not yet paid in full.
    pub fn next(&self) -> Option<&Tracked> {
        self.instalments
            .iter()
            .find(|t| t.state != InstalmentState::Paid)
    }

    /// While the plan is on track, collection calls wait until this day: the start of the courtesy
    /// window before the next instalment.
    pub fn quiet_until(&self, p: &PlanPolicy) -> Option<NaiveDate> {
        match self.standing {
            Standing::OnTrack => self
                .next()
                .map(|t| t.due - Duration::days(i64::from(p.courtesy_days))),
            _ => None,
        }
    }
}

/// The misses that break a plan of `payments` payments: the policy's number, but never more than
/// the plan has (a settlement's single payment missed breaks it).
pub fn misses_to_break(p: &PlanPolicy, payments: usize) -> usize {
    (p.misses_to_break as usize).min(payments)
}

/// Tracks `schedule` against `receipts` as of `today`.
pub fn track(
    schedule: &[Payment],
    receipts: &[Receipt],
    today: NaiveDate,
    p: &PlanPolicy,
) -> Option<Progress> {
    let cur = schedule.first()?.amount.currency();
    let zero = Money::from_minor(0, cur);
    let mut receipts: Vec<Receipt> = receipts
        .iter()
        .filter(|r| r.amount.currency() == cur && r.amount.is_positive())
        .copied()
        .collect();
    receipts.sort_by_key(|r| r.date);
    let mut instalments: Vec<Tracked> = schedule
        .iter()
        .map(|s| Tracked {
            due: s.due,
            amount: s.amount,
            paid: zero,
            state: InstalmentState::Pending,
            paid_on: None,
            missed: false,
        })
        .collect();
    let mut k = 0;
    for r in &receipts {
        let mut left = r.amount.amount();
        while left > rust_decimal::Decimal::ZERO && k < instalments.len() {
            let t = &mut instalments[k];
            let take = left.min(t.amount.amount() - t.paid.amount());
            t.paid = t.paid.with_amount(t.paid.amount() + take);
            left -= take;
            if t.paid == t.amount {
                t.paid_on = Some(r.date);
                k += 1;
            }
        }
    }
    let grace = Duration::days(i64::from(p.grace_days));
    let mut miss_days = Vec::new();
    let mut arrears = zero;
    for t in &mut instalments {
        let deadline = t.due + grace;
        t.missed = deadline < today && t.paid_on.is_none_or(|on| on > deadline);
        if t.missed {
            miss_days.push(deadline + Duration::days(1));
        }
        t.state = if t.paid_on.is_some() {
            InstalmentState::Paid
        } else if deadline < today {
            InstalmentState::Missed
        } else {
            InstalmentState::Pending
        };
        if t.due < today {
            arrears = arrears.with_amount(arrears.amount() + t.amount.amount() - t.paid.amount());
        }
    }
    miss_days.sort();
    let broken_on = match misses_to_break(p, instalments.len()) {
        0 => None,
        n => miss_days.get(n - 1).copied(),
    };
    let completed_on = instalments.last().and_then(|t| t.paid_on);
    let standing = match (completed_on, broken_on) {
        (Some(done), Some(broke)) if done < broke => Standing::Completed { on: done },
        (_, Some(broke)) => Standing::Broken { on: broke },
        (Some(done), None) => Standing::Completed { on: done },
        (None, None) if arrears.is_positive() => Standing::InArrears,
        (None, None) => Standing::OnTrack,
    };
    let paid = instalments
        .iter()
        .fold(zero, |s, t| s.with_amount(s.amount() + t.paid.amount()));
    Some(Progress {
        missed: miss_days.len(),
        instalments,
        paid,
        arrears,
        standing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use crate::schedule::{self, Frequency};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn gbp(minor: i64) -> Money {
        Money::from_minor(minor, Currency::from_code("GBP").unwrap())
    }

    fn plan() -> Vec<Payment> {
        // £900.00 in three monthly instalments of £300.00 from 31 January 2028 (a leap year).
        schedule::instalments(
            gbp(90_000),
            gbp(30_000),
            Frequency::Monthly,
            d("2028-01-31"),
        )
        .unwrap()
    }

    fn got(date: &str, minor: i64) -> Receipt {
        Receipt {
            date: d(date),
            amount: gbp(minor),
        }
    }

    fn policy() -> PlanPolicy {
        PlanPolicy {
            grace_days: 5,
            misses_to_break: 2,
            courtesy_days: 2,
            ..PlanPolicy::default()
        }
    }

    #[test]
    fn payments_pay_instalments_in_order_and_a_plan_on_track_waits_for_the_courtesy_window() {
        let p = policy();
        let t = track(&plan(), &[got("2028-01-30", 45_000)], d("2028-02-10"), &p).unwrap();
        assert_eq!(t.instalments[0].state, InstalmentState::Paid);
        assert_eq!(t.instalments[1].paid, gbp(15_000));
        assert_eq!(t.instalments[1].due, d("2028-02-29"));
        assert_eq!(t.standing, Standing::OnTrack);
        assert_eq!(t.next().unwrap().due, d("2028-02-29"));
        assert_eq!(t.quiet_until(&p), Some(d("2028-02-27")));
        assert_eq!(t.arrears, gbp(0));
    }

    #[test]
    fn an_instalment_is_missed_only_after_its_grace_days_and_the_second_miss_breaks_the_plan() {
        let p = policy();
        let within_grace = track(&plan(), &[], d("2028-02-05"), &p).unwrap();
        assert_eq!(within_grace.instalments[0].state, InstalmentState::Pending);
        assert_eq!(within_grace.standing, Standing::InArrears);
        assert_eq!(within_grace.arrears, gbp(30_000));
        assert_eq!(within_grace.quiet_until(&p), None);

        let one = track(&plan(), &[], d("2028-02-06"), &p).unwrap();
        assert_eq!(one.instalments[0].state, InstalmentState::Missed);
        assert_eq!((one.missed, one.standing), (1, Standing::InArrears));

        // The second miss happens on 5 March (29 Feb + 5 days of grace, then a day).
        let two = track(&plan(), &[], d("2028-03-06"), &p).unwrap();
        assert_eq!(two.missed, 2);
        assert_eq!(
            two.standing,
            Standing::Broken {
                on: d("2028-03-06")
            }
        );
    }

    #[test]
    fn a_late_payment_counts_as_a_miss_and_does_not_unbreak_a_broken_plan() {
        let p = policy();
        let late = [got("2028-02-20", 30_000)];
        let t = track(&plan(), &late, d("2028-02-21"), &p).unwrap();
        assert_eq!(t.instalments[0].state, InstalmentState::Paid);
        assert!(t.instalments[0].missed);
        assert_eq!((t.missed, t.standing), (1, Standing::OnTrack));

        let all_late = [got("2028-03-20", 90_000)];
        let t = track(&plan(), &all_late, d("2028-03-21"), &p).unwrap();
        assert_eq!(
            t.standing,
            Standing::Broken {
                on: d("2028-03-06")
            }
        );
        assert_eq!(t.paid, gbp(90_000));
    }

    #[test]
    fn a_single_payment_missed_breaks_a_settlement() {
        let one = schedule::lump_sum(gbp(90_000), d("2028-01-31")).unwrap();
        let t = track(&one, &[], d("2028-02-06"), &policy()).unwrap();
        assert_eq!(
            t.standing,
            Standing::Broken {
                on: d("2028-02-06")
            }
        );
        assert_eq!(misses_to_break(&policy(), 1), 1);
    }

    #[test]
    fn paying_everything_completes_the_plan_on_the_day_of_the_last_payment() {
        let p = policy();
        let t = track(
            &plan(),
            &[got("2028-01-31", 30_000), got("2028-02-01", 70_000)],
            d("2028-02-02"),
            &p,
        )
        .unwrap();
        assert_eq!(
            t.standing,
            Standing::Completed {
                on: d("2028-02-01")
            }
        );
        assert_eq!(t.paid, gbp(90_000));
        assert!(t.next().is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]
        /// Whatever is paid and when: what the instalments received is exactly what was paid (up to
        /// the plan's total), in order (no instalment is paid before an earlier one is full), and a
        /// plan is never both short of its total and completed.
        #[test]
        fn payments_are_accounted_for_exactly_and_in_order(
            balance in 1i64..2_000_000,
            count in 1u32..24,
            payments in proptest::collection::vec((0i64..400, 1i64..500_000), 0..12),
            today_offset in 0i64..500,
        ) {
            let p = policy();
            let first = d("2028-01-31");
            let schedule = schedule::in_count(gbp(balance), count, Frequency::Monthly, first).unwrap();
            let receipts: Vec<Receipt> = payments
                .iter()
                .map(|(day, m)| Receipt { date: first + Duration::days(*day), amount: gbp(*m) })
                .collect();
            let t = track(&schedule, &receipts, first + Duration::days(today_offset), &p).unwrap();
            let paid: i64 = payments.iter().map(|(_, m)| m).sum();
            proptest::prop_assert_eq!(t.paid, gbp(paid.min(balance)));
            let full: Vec<bool> = t.instalments.iter().map(|i| i.paid == i.amount).collect();
            proptest::prop_assert!(full.windows(2).all(|w| w[0] || !w[1]));
            for (k, i) in t.instalments.iter().enumerate() {
                proptest::prop_assert!(i.paid.amount() <= i.amount.amount());
                if k + 1 < t.instalments.len() && t.instalments[k + 1].paid.is_positive() {
                    proptest::prop_assert_eq!(i.paid, i.amount);
                }
            }
            if let Standing::Completed { .. } = t.standing {
                proptest::prop_assert_eq!(t.paid, gbp(balance));
            }
            proptest::prop_assert!(t.missed <= t.instalments.len());
        }
    }
}
