//! The exact payments an arrangement implies. Amounts are whole minor units of the account's
//! currency (so JPY has no fractions and a 3-decimal currency keeps its third place); every schedule
//! sums to exactly what it settles, the remainder falling on the last instalment (never larger than
//! the others); dates strictly increase; a monthly schedule keeps the first date's day of the month,
//! clamped to each month's end (31 Jan → 28 or 29 Feb → 31 Mar).

use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::money::Money;

/// The most payments a schedule may have; a longer one is refused before it is built.
pub const MAX_PAYMENTS: i64 = 520;

/// How often instalments fall due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frequency {
    Weekly,
    Fortnightly,
    Monthly,
}

impl Frequency {
    /// The `k`th date after `first` (k = 0 is `first`).
    pub fn nth(self, first: NaiveDate, k: u32) -> NaiveDate {
        match self {
            Frequency::Weekly => first + Duration::weeks(i64::from(k)),
            Frequency::Fortnightly => first + Duration::weeks(2 * i64::from(k)),
            Frequency::Monthly => add_months(first, k),
        }
    }

    /// An instalment's monthly equivalent: weekly × 52 / 12, fortnightly × 26 / 12, exact.
    pub fn monthly_equivalent(self, amount: Money) -> Decimal {
        let per_year = match self {
            Frequency::Weekly => 52,
            Frequency::Fortnightly => 26,
            Frequency::Monthly => 12,
        };
        amount.amount() * Decimal::from(per_year) / Decimal::from(12)
    }
}

/// `first` moved on `months` months, on the same day of the month or the month's last day.
fn add_months(first: NaiveDate, months: u32) -> NaiveDate {
    let total = first.year() * 12 + first.month0() as i32 + months as i32;
    let (year, month) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    let last = last_day(year, month);
    NaiveDate::from_ymd_opt(year, month, first.day().min(last)).expect("a day within the month")
}

fn last_day(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.expect("a calendar date")
        .pred_opt()
        .expect("a calendar date")
        .day()
}

/// One expected payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payment {
    pub due: NaiveDate,
    pub amount: Money,
}

/// Why a schedule cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleError {
    /// Nothing to schedule.
    NothingOwed,
    /// An amount that is not positive, or finer than the currency's minor unit.
    BadAmount,
    /// More than `MAX_PAYMENTS` payments.
    TooLong { payments: i64 },
}

fn minor(m: Money) -> Result<i64, ScheduleError> {
    m.to_minor().map_err(|_| ScheduleError::BadAmount)
}

/// `balance` paid in instalments of `instalment` from `first` at `frequency`: ⌈balance / instalment⌉
/// payments, the last one the remainder.
pub fn instalments(
    balance: Money,
    instalment: Money,
    frequency: Frequency,
    first: NaiveDate,
) -> Result<Vec<Payment>, ScheduleError> {
    let (b, a) = (minor(balance)?, minor(instalment)?);
    if b <= 0 {
        return Err(ScheduleError::NothingOwed);
    }
    if a <= 0 {
        return Err(ScheduleError::BadAmount);
    }
    let n = (b + a - 1) / a;
    if n > MAX_PAYMENTS {
        return Err(ScheduleError::TooLong { payments: n });
    }
    Ok((0..n)
        .map(|k| Payment {
            due: frequency.nth(first, k as u32),
            amount: Money::from_minor(
                if k == n - 1 { b - a * (n - 1) } else { a },
                balance.currency(),
            ),
        })
        .collect())
}

/// `balance` in `count` instalments from `first`: equal instalments rounded up to the minor unit,
/// so the last (the remainder) is the smallest.
pub fn in_count(
    balance: Money,
    count: u32,
    frequency: Frequency,
    first: NaiveDate,
) -> Result<Vec<Payment>, ScheduleError> {
    let b = minor(balance)?;
    if b <= 0 {
        return Err(ScheduleError::NothingOwed);
    }
    if count == 0 {
        return Err(ScheduleError::BadAmount);
    }
    let each = (b + i64::from(count) - 1) / i64::from(count);
    instalments(
        balance,
        Money::from_minor(each, balance.currency()),
        frequency,
        first,
    )
}

/// A down payment on `first`, then instalments of `instalment` from one period later.
pub fn down_payment_then_instalments(
    balance: Money,
    down: Money,
    instalment: Money,
    frequency: Frequency,
    first: NaiveDate,
) -> Result<Vec<Payment>, ScheduleError> {
    let (b, d) = (minor(balance)?, minor(down)?);
    if b <= 0 {
        return Err(ScheduleError::NothingOwed);
    }
    if d <= 0 {
        return Err(ScheduleError::BadAmount);
    }
    let mut out = vec![Payment {
        due: first,
        amount: Money::from_minor(d.min(b), balance.currency()),
    }];
    if d < b {
        let rest = Money::from_minor(b - d, balance.currency());
        out.extend(instalments(
            rest,
            instalment,
            frequency,
            frequency.nth(first, 1),
        )?);
    }
    Ok(out)
}

/// The whole `balance` on one date.
pub fn lump_sum(balance: Money, on: NaiveDate) -> Result<Vec<Payment>, ScheduleError> {
    if minor(balance)? <= 0 {
        return Err(ScheduleError::NothingOwed);
    }
    Ok(vec![Payment {
        due: on,
        amount: balance,
    }])
}

/// A settlement of `balance` at `discount_percent` off: the discount rounded down to the minor unit
/// (so it never exceeds the percentage granted), the rest paid on `on`. Returns the payment and the
/// discount.
pub fn settlement(
    balance: Money,
    discount_percent: Decimal,
    on: NaiveDate,
) -> Result<(Vec<Payment>, Money), ScheduleError> {
    let b = minor(balance)?;
    if b <= 0 {
        return Err(ScheduleError::NothingOwed);
    }
    if discount_percent < Decimal::ZERO || discount_percent >= Decimal::ONE_HUNDRED {
        return Err(ScheduleError::BadAmount);
    }
    let discount = (balance.amount() * discount_percent / Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(balance.currency().exponent(), RoundingStrategy::ToZero);
    let discount = balance.with_amount(discount);
    let pay = balance.with_amount(balance.amount() - discount.amount());
    Ok((lump_sum(pay, on)?, discount))
}

#[cfg(test)]
mod tests;
