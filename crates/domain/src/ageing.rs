//! How overdue an account is: days overdue counted in the debtor's own time zone, ageing buckets and
//! the balance summary an agent reads before a call.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::money::{Currency, Money};

/// The debtor's local calendar date at `now`: an invoice due "today" in Auckland is overdue there
/// before it is in London.
pub fn local_today(tz: Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// Days from the due date to `as_of`; zero or negative when not yet overdue.
pub fn days_overdue(due: NaiveDate, as_of: NaiveDate) -> i64 {
    (as_of - due).num_days()
}

/// Ageing buckets by days overdue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeingBucket {
    Current,
    Days1To30,
    Days31To60,
    Days61To90,
    Over90,
}

impl AgeingBucket {
    pub fn for_days(days_overdue: i64) -> Self {
        match days_overdue {
            ..=0 => Self::Current,
            1..=30 => Self::Days1To30,
            31..=60 => Self::Days31To60,
            61..=90 => Self::Days61To90,
            _ => Self::Over90,
        }
    }
}

/// An invoice with something still owed on it, as the summary needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenItem {
    pub due_date: NaiveDate,
    /// Positive: what is still owed.
    pub outstanding: Money,
    pub disputed: bool,
}

/// What an account owes as of one date. Disputed amounts are set aside: they are in `disputed`
/// only, never in `overdue`, `current` or an ageing bucket, because they are not chased until the
/// dispute is resolved. So `current + the four buckets + disputed = outstanding`, and `overdue` is
/// the sum of the four buckets: what may be chased today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub as_of: NaiveDate,
    pub outstanding: Money,
    pub overdue: Money,
    pub disputed: Money,
    pub unallocated_credit: Money,
    pub current: Money,
    pub days_1_to_30: Money,
    pub days_31_to_60: Money,
    pub days_61_to_90: Money,
    pub over_90: Money,
    /// Due date of the oldest undisputed overdue invoice.
    pub oldest_overdue_due_date: Option<NaiveDate>,
    pub max_days_overdue: i64,
    /// Invoices with something outstanding, disputed ones included.
    pub open_invoice_count: usize,
}

/// Sums open items into a balance. `credit` is what the debtor has paid that sits on no invoice.
pub fn summarise<'a>(
    currency: Currency,
    as_of: NaiveDate,
    items: impl IntoIterator<Item = &'a OpenItem>,
    credit: Money,
) -> Balance {
    let mut sums = [Decimal::ZERO; 5];
    let (mut outstanding, mut overdue, mut disputed) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let mut oldest: Option<NaiveDate> = None;
    let mut count = 0;
    for item in items {
        let amount = item.outstanding.amount();
        count += 1;
        outstanding += amount;
        if item.disputed {
            disputed += amount;
            continue;
        }
        let days = days_overdue(item.due_date, as_of);
        if days > 0 {
            overdue += amount;
            oldest = Some(oldest.map_or(item.due_date, |o| o.min(item.due_date)));
        }
        sums[AgeingBucket::for_days(days) as usize] += amount;
    }
    let money = |d: Decimal| Money::zero(currency).with_amount(d);
    Balance {
        as_of,
        outstanding: money(outstanding),
        overdue: money(overdue),
        disputed: money(disputed),
        unallocated_credit: credit,
        current: money(sums[AgeingBucket::Current as usize]),
        days_1_to_30: money(sums[AgeingBucket::Days1To30 as usize]),
        days_31_to_60: money(sums[AgeingBucket::Days31To60 as usize]),
        days_61_to_90: money(sums[AgeingBucket::Days61To90 as usize]),
        over_90: money(sums[AgeingBucket::Over90 as usize]),
        oldest_overdue_due_date: oldest,
        max_days_overdue: oldest.map_or(0, |d| days_overdue(d, as_of)),
        open_invoice_count: count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Days, TimeZone};

    fn gbp() -> Currency {
        Currency::from_code("GBP").unwrap()
    }

    #[test]
    fn buckets_at_their_boundaries() {
        let expect = [
            (-5, AgeingBucket::Current),
            (0, AgeingBucket::Current),
            (1, AgeingBucket::Days1To30),
            (30, AgeingBucket::Days1To30),
            (31, AgeingBucket::Days31To60),
            (60, AgeingBucket::Days31To60),
            (61, AgeingBucket::Days61To90),
            (90, AgeingBucket::Days61To90),
            (91, AgeingBucket::Over90),
            (4000, AgeingBucket::Over90),
        ];
        for (days, bucket) in expect {
            assert_eq!(AgeingBucket::for_days(days), bucket, "{days} days");
        }
    }

    #[test]
    fn today_is_the_debtors_local_date() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 30, 0).unwrap();
        assert_eq!(
            local_today(chrono_tz::Pacific::Auckland, now).to_string(),
            "2026-11-23"
        );
        assert_eq!(
            local_today(chrono_tz::America::Los_Angeles, now).to_string(),
            "2026-11-22"
        );
    }

    #[test]
    fn summarises_by_bucket() {
        let as_of: NaiveDate = "2026-11-22".parse().unwrap();
        let item = |days: u64, minor: i64, disputed: bool| OpenItem {
            due_date: as_of.checked_sub_days(Days::new(days)).unwrap(),
            outstanding: Money::from_minor(minor, gbp()),
            disputed,
        };
        let items = [
            item(0, 100, false),
            item(30, 200, false),
            item(31, 400, true),
            item(90, 800, false),
            item(91, 1_600, false),
        ];
        let b = summarise(gbp(), as_of, &items, Money::from_minor(7, gbp()));
        assert_eq!(b.outstanding.to_minor().unwrap(), 3_100);
        assert_eq!(
            b.overdue.to_minor().unwrap(),
            2_600,
            "the disputed 400 is not overdue"
        );
        assert_eq!(b.disputed.to_minor().unwrap(), 400);
        assert_eq!(b.current.to_minor().unwrap(), 100);
        assert_eq!(b.days_1_to_30.to_minor().unwrap(), 200);
        assert_eq!(b.days_31_to_60.to_minor().unwrap(), 0);
        assert_eq!(b.days_61_to_90.to_minor().unwrap(), 800);
        assert_eq!(b.over_90.to_minor().unwrap(), 1_600);
        assert_eq!(b.max_days_overdue, 91);
        assert_eq!(b.open_invoice_count, 5);
        assert_eq!(b.unallocated_credit.to_minor().unwrap(), 7);
    }

    #[test]
    fn everything_disputed_is_nothing_overdue() {
        let as_of: NaiveDate = "2026-11-22".parse().unwrap();
        let item = OpenItem {
            due_date: as_of.checked_sub_days(Days::new(45)).unwrap(),
            outstanding: Money::from_minor(5_000, gbp()),
            disputed: true,
        };
        let b = summarise(gbp(), as_of, [&item], Money::zero(gbp()));
        assert_eq!(b.outstanding.to_minor().unwrap(), 5_000);
        assert_eq!(b.disputed.to_minor().unwrap(), 5_000);
        assert!(b.overdue.is_zero() && b.days_31_to_60.is_zero() && b.current.is_zero());
        assert_eq!((b.oldest_overdue_due_date, b.max_days_overdue), (None, 0));
        assert_eq!(b.open_invoice_count, 1);
    }

    #[test]
    fn nothing_overdue_has_no_oldest_date() {
        let as_of: NaiveDate = "2026-11-22".parse().unwrap();
        let b = summarise(gbp(), as_of, &[], Money::zero(gbp()));
        assert_eq!(b.oldest_overdue_due_date, None);
        assert_eq!(b.max_days_overdue, 0);
        assert!(b.outstanding.is_zero());
    }
}
