//! How figures are written for people. The service's own words (reasons, messages, the account
//! view) use one format, British English: money as the currency code, then the amount grouped in
//! thousands with exactly the currency's minor digits ("GBP 2,000.00", "JPY 333,334", "KWD
//! 1.250"); dates as "2 December 2026". Guidance and letters in another locale write figures
//! through that locale's `Formats` (the script crate's, from CLDR data); everything that builds a
//! sentence with a figure takes a `&dyn Formats`, so the format is chosen in one place.

use chrono::{Datelike, NaiveDate};
use rust_decimal::RoundingStrategy;

use crate::money::Money;

/// How a locale writes money and dates.
pub trait Formats: Send + Sync {
    fn money(&self, m: Money) -> String;
    fn date(&self, d: NaiveDate) -> String;
}

/// The service's own format (British English).
#[derive(Debug, Clone, Copy, Default)]
pub struct British;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The amount's digits with exactly the currency's minor digits (half away from zero beyond them:
/// an exact amount has none), split into (sign, whole part, fraction).
pub fn digits(m: Money) -> (bool, String, String) {
    let exp = m.currency().exponent();
    let rounded = m
        .amount()
        .round_dp_with_strategy(exp, RoundingStrategy::MidpointAwayFromZero);
    let fixed = format!("{:.*}", exp as usize, rounded.abs());
    let (whole, fraction) = fixed.split_once('.').unwrap_or((&fixed, ""));
    (
        rounded.is_sign_negative() && !rounded.is_zero(),
        whole.to_owned(),
        fraction.to_owned(),
    )
}

/// `whole` with `separator` between each group of three digits.
pub fn grouped(whole: &str, separator: &str) -> String {
    let mut out = String::with_capacity(whole.len() + whole.len() / 3 * separator.len());
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push_str(separator);
        }
        out.push(c);
    }
    out
}

impl Formats for British {
    fn money(&self, m: Money) -> String {
        let (negative, whole, fraction) = digits(m);
        let sign = if negative { "-" } else { "" };
        let whole = grouped(&whole, ",");
        if fraction.is_empty() {
            format!("{} {sign}{whole}", m.currency().code())
        } else {
            format!("{} {sign}{whole}.{fraction}", m.currency().code())
        }
    }

    fn date(&self, d: NaiveDate) -> String {
        // Written out rather than with strftime, which parses its pattern on every call.
        format!("{} {} {}", d.day(), MONTHS[d.month0() as usize], d.year())
    }
}

/// "1 call", "2 calls": a count with its noun, never "call(s)".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn m(amount: &str, code: &str) -> Money {
        Money::new(amount.parse().unwrap(), Currency::from_code(code).unwrap()).unwrap()
    }

    #[test]
    fn money_in_the_one_format_with_the_currencys_own_digits() {
        for (amount, code, written) in [
            ("2000", "GBP", "GBP 2,000.00"),
            ("1234567.5", "EUR", "EUR 1,234,567.50"),
            ("0.05", "USD", "USD 0.05"),
            ("-12.3", "GBP", "GBP -12.30"),
            ("333334", "JPY", "JPY 333,334"),
            ("1000000", "KRW", "KRW 1,000,000"),
            ("1.25", "KWD", "KWD 1.250"),
            ("999", "GBP", "GBP 999.00"),
            ("0", "GBP", "GBP 0.00"),
        ] {
            assert_eq!(British.money(m(amount, code)), written);
            assert_eq!(m(amount, code).to_string(), written, "Display is the same");
        }
        // A computed amount finer than the currency's unit (a share of a yen) is written in whole
        // units, never with a fraction.
        let share = m("1000000", "JPY");
        let third = share.with_amount(share.amount() / rust_decimal::Decimal::from(3));
        assert_eq!(British.money(third), "JPY 333,333");
    }

    #[test]
    fn dates_and_counts_in_words() {
        assert_eq!(
            British.date("2026-12-02".parse().unwrap()),
            "2 December 2026"
        );
        assert_eq!(plural(1, "promise", "promises"), "1 promise");
        assert_eq!(plural(0, "promise", "promises"), "0 promises");
        assert_eq!(plural(3, "promise", "promises"), "3 promises");
    }
}
