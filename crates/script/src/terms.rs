//! A payment plan's terms in words: the one description a written agreement, a negotiation option
//! and a broken plan share, every amount stated ("the whole balance, GBP 6,000.00, by 7 December
//! 2026"; "6 monthly payments of GBP 500.00 from 1 December 2026, the last GBP 200.00").

use recoup_domain::plan::Proposal;
use recoup_domain::schedule::{Frequency, Payment};
use recoup_domain::text::{Formats, plural};

fn adjective(f: Frequency) -> &'static str {
    match f {
        Frequency::Weekly => "weekly",
        Frequency::Fortnightly => "fortnightly",
        Frequency::Monthly => "monthly",
    }
}

/// Instalments of `amount` in `schedule` (from its first to its last payment), the last stated
/// when it is smaller.
fn instalments(f: Frequency, instalments: &[Payment], fmt: &dyn Formats) -> String {
    let Some(first) = instalments.first() else {
        return String::new();
    };
    let n = instalments.len();
    let mut out = format!(
        "{} of {} from {}",
        plural(
            n,
            &format!("{} payment", adjective(f)),
            &format!("{} payments", adjective(f))
        ),
        fmt.money(first.amount),
        fmt.date(first.due)
    );
    if let Some(last) = instalments
        .last()
        .filter(|l| n > 1 && l.amount != first.amount)
    {
        out.push_str(&format!(", the last {}", fmt.money(last.amount)));
    }
    out
}

/// `p` in words, with the `schedule` it implies.
pub fn describe(p: &Proposal, schedule: &[Payment], fmt: &dyn Formats) -> String {
    let lump = schedule.first();
    let lump_amount = lump.map(|l| fmt.money(l.amount)).unwrap_or_default();
    match p {
        Proposal::PayInFull { by } => {
            format!("the whole balance, {lump_amount}, by {}", fmt.date(*by))
        }
        Proposal::Extension { by } => format!(
            "the whole balance, {lump_amount}, by {}, after which the account is reviewed",
            fmt.date(*by)
        ),
        Proposal::Settlement {
            discount_percent,
            by,
        } => format!(
            "{lump_amount} by {} in full and final settlement ({discount_percent}% off the balance)",
            fmt.date(*by)
        ),
        Proposal::Instalments { frequency, .. } => instalments(*frequency, schedule, fmt),
        Proposal::DownPayment {
            down,
            frequency,
            first,
            ..
        } => format!(
            "{} down on {}, then {}",
            fmt.money(*down),
            fmt.date(*first),
            instalments(*frequency, schedule.get(1..).unwrap_or_default(), fmt)
        ),
    }
}

/// `text` with its first letter in capitals, for the start of a sentence.
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use recoup_domain::text::British;
    use recoup_domain::{Currency, Money, schedule};
    use rust_decimal::Decimal;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn gbp(amount: &str) -> Money {
        Money::new(amount.parse().unwrap(), Currency::from_code("GBP").unwrap()).unwrap()
    }

    #[test]
    fn every_kind_of_plan_states_its_amounts() {
        let balance = gbp("1400.00");
        let monthly = Proposal::Instalments {
            amount: gbp("500.00"),
            frequency: Frequency::Monthly,
            first: d("2026-12-01"),
        };
        let down = Proposal::DownPayment {
            down: gbp("350.00"),
            amount: gbp("350.00"),
            frequency: Frequency::Monthly,
            first: d("2026-12-01"),
        };
        let one = Proposal::Instalments {
            amount: gbp("1400.00"),
            frequency: Frequency::Weekly,
            first: d("2026-12-01"),
        };
        let cases = [
            (
                Proposal::PayInFull {
                    by: d("2026-12-07"),
                },
                schedule::lump_sum(balance, d("2026-12-07")).unwrap(),
                "the whole balance, GBP 1,400.00, by 7 December 2026",
            ),
            (
                Proposal::Settlement {
                    discount_percent: Decimal::from(10),
                    by: d("2026-12-07"),
                },
                schedule::settlement(balance, Decimal::from(10), d("2026-12-07"))
                    .unwrap()
                    .0,
                "GBP 1,260.00 by 7 December 2026 in full and final settlement (10% off the \
                 balance)",
            ),
            (
                monthly.clone(),
                schedule::instalments(balance, gbp("500.00"), Frequency::Monthly, d("2026-12-01"))
                    .unwrap(),
                "3 monthly payments of GBP 500.00 from 1 December 2026, the last GBP 400.00",
            ),
            (
                down,
                schedule::down_payment_then_instalments(
                    balance,
                    gbp("350.00"),
                    gbp("350.00"),
                    Frequency::Monthly,
                    d("2026-12-01"),
                )
                .unwrap(),
                "GBP 350.00 down on 1 December 2026, then 3 monthly payments of GBP 350.00 from \
                 1 January 2027",
            ),
            (
                one,
                schedule::instalments(balance, gbp("1400.00"), Frequency::Weekly, d("2026-12-01"))
                    .unwrap(),
                "1 weekly payment of GBP 1,400.00 from 1 December 2026",
            ),
        ];
        for (p, s, words) in cases {
            assert_eq!(describe(&p, &s, &British), words);
        }
        assert_eq!(sentence("the whole balance"), "The whole balance");
    }
}
