//! Money and dates as people read them in British English: "GBP 12,345.67", "31 January 2028".

use chrono::{Datelike, NaiveDate};
use recoup_domain::Money;

/// The currency code, then the amount with thousands separators and exactly the currency's minor
/// digits.
pub fn money(m: Money) -> String {
    let exp = m.currency().exponent() as usize;
    let fixed = format!("{:.*}", exp, m.amount().abs());
    let (whole, fraction) = fixed.split_once('.').unwrap_or((&fixed, ""));
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if m.is_negative() { "-" } else { "" };
    if fraction.is_empty() {
        format!("{} {sign}{grouped}", m.currency().code())
    } else {
        format!("{} {sign}{grouped}.{fraction}", m.currency().code())
    }
}

/// "31 January 2028".
pub fn date(d: NaiveDate) -> String {
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
    // Written out rather than with strftime, which parses its pattern on every call.
    format!("{} {} {}", d.day(), MONTHS[d.month0() as usize], d.year())
}
