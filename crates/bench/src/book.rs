//! A realistic, reproducible book of accounts for load and scale runs: the same seed gives the same
//! book. Invoices are spread over the last 200 days in a dozen currencies and time zones (with a
//! zero- and a three-decimal currency), a few are disputed or credited, some accounts are on hold,
//! with an agency or closed, and about a third have paid something.

use chrono::{Days, NaiveDate};
use recoup_proto::v1 as pb;
use recoup_server::convert::date_out;
use recoup_store::bulk::BulkRows;

/// The seed every book is generated from.
pub const SEED: u64 = 0x7265_636f_7570;

/// (country, time zone, currency, minor-unit exponent, weight).
const PLACES: &[(&str, &str, &str, u32, u32)] = &[
    ("GB", "Europe/London", "GBP", 2, 30),
    ("IE", "Europe/Dublin", "EUR", 2, 6),
    ("DE", "Europe/Berlin", "EUR", 2, 10),
    ("FR", "Europe/Paris", "EUR", 2, 8),
    ("NL", "Europe/Amsterdam", "EUR", 2, 6),
    ("US", "America/New_York", "USD", 2, 12),
    ("US", "America/Los_Angeles", "USD", 2, 6),
    ("CA", "America/Toronto", "CAD", 2, 5),
    ("AU", "Australia/Sydney", "AUD", 2, 5),
    ("NZ", "Pacific/Auckland", "NZD", 2, 3),
    ("JP", "Asia/Tokyo", "JPY", 0, 4),
    ("SG", "Asia/Singapore", "SGD", 2, 3),
    ("KW", "Asia/Kuwait", "KWD", 3, 2),
];

const NAMES: &[&str] = &[
    "Harbour",
    "Meadow",
    "Granite",
    "Kestrel",
    "Northgate",
    "Riverside",
    "Copper",
    "Willow",
    "Summit",
    "Beacon",
    "Ashford",
    "Lakeside",
    "Oakridge",
    "Pioneer",
    "Quarry",
    "Ravensworth",
];
const TRADES: &[&str] = &[
    "Joinery",
    "Catering",
    "Logistics",
    "Print Works",
    "Fixtures",
    "Timber",
    "Dental",
    "Marine",
    "Software",
    "Nurseries",
    "Packaging",
    "Metalwork",
    "Events",
    "Plumbing",
    "Supplies",
    "Growers",
];

/// The external ref of account `i` of a book.
pub fn external_ref(i: usize) -> String {
    format!("BK-{i:07}")
}

/// The random source of account `i`: the same for every run.
fn rng(i: usize) -> fastrand::Rng {
    fastrand::Rng::with_seed(SEED ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Where account `i` is: its first draw.
fn place(rng: &mut fastrand::Rng) -> (&'static str, &'static str, &'static str, u32) {
    let total: u32 = PLACES.iter().map(|p| p.4).sum();
    let mut pick = rng.u32(0..total);
    for &(country, zone, currency, exponent, weight) in PLACES {
        if pick < weight {
            return (country, zone, currency, exponent);
        }
        pick -= weight;
    }
    unreachable!("weights cover the range")
}

/// Account `i`'s currency and its minor-unit exponent, without generating the account.
pub fn currency_of(i: usize) -> (&'static str, u32) {
    let (_, _, currency, exponent) = place(&mut rng(i));
    (currency, exponent)
}

/// Account `i` of the book, dated relative to `today`. Deterministic in (`i`, `today`).
pub fn account(i: usize, today: NaiveDate) -> pb::Account {
    let mut rng = rng(i);
    let (country, zone, currency, exponent) = place(&mut rng);
    let name = format!(
        "{} {} {}",
        NAMES[rng.usize(..NAMES.len())],
        TRADES[rng.usize(..TRADES.len())],
        ["Ltd", "GmbH", "Inc.", "B.V.", "Pty Ltd", "SARL"][rng.usize(..6)]
    );
    let debtor_type = match rng.u32(0..10) {
        0 => pb::DebtorType::SoleTrader,
        1 => pb::DebtorType::Partnership,
        _ => pb::DebtorType::Company,
    };
    let status = match rng.u32(0..100) {
        0..=1 => pb::AccountStatus::OnHold,
        2..=3 => pb::AccountStatus::WithAgency,
        4 => pb::AccountStatus::Closed,
        _ => pb::AccountStatus::Active,
    };
    let contacts = (0..rng.usize(1..=2))
        .map(|k| pb::Contact {
            display_name: format!("Contact {k} of {}", external_ref(i)),
            role: ["Accounts payable", "Director", "Finance manager"][rng.usize(..3)].into(),
            phone: format!("+44 20 7946 {:04}", rng.u32(0..10_000)),
            email: format!("ap{k}@bk{i}.example"),
            preferred: k == 0,
        })
        .collect();
    let scale = 10i64.pow(exponent);
    let invoices = (0..rng.usize(1..=9))
        .map(|k| {
            let issued = today - Days::new(rng.u64(0..200));
            let due = issued + Days::new([14, 30, 30, 45, 60][rng.usize(..5)]);
            let units = rng.i64(50..20_000);
            let minor = units * scale + rng.i64(0..scale.max(1));
            let money = |minor: i64| pb::Money {
                currency_code: currency.into(),
                units: minor / scale,
                nanos: ((minor % scale) * (1_000_000_000 / scale)) as i32,
            };
            let disputed = rng.u32(0..100) < 5;
            let adjustments = if rng.u32(0..100) < 5 {
                vec![pb::InvoiceAdjustment {
                    reference: format!("CN-{k}"),
                    kind: pb::AdjustmentKind::CreditNote as i32,
                    amount: Some(money((minor * rng.i64(1..30) / 100).max(1))),
                    date: Some(date_out(issued + Days::new(rng.u64(0..10)))),
                    reason: "Goods returned".into(),
                }]
            } else {
                Vec::new()
            };
            pb::Invoice {
                number: format!("INV-{k}"),
                issue_date: Some(date_out(issued)),
                due_date: Some(date_out(due)),
                amount: Some(money(minor)),
                adjustments,
                disputed,
                dispute_reason: if disputed {
                    "Says the delivery was short".into()
                } else {
                    String::new()
                },
                ..Default::default()
            }
        })
        .collect();
    pb::Account {
        external_ref: external_ref(i),
        legal_name: name,
        debtor_type: debtor_type as i32,
        country_code: country.into(),
        time_zone: zone.into(),
        currency_code: currency.into(),
        status: status as i32,
        cease_calls: rng.u32(0..100) == 0,
        contacts,
        invoices,
        ..Default::default()
    }
}

/// The payment account `i` has made, if any (about a third have): part of what it owes, dated in
/// the last weeks, named to its first invoice half of the time.
pub fn payment(i: usize, account: &pb::Account, today: NaiveDate) -> Option<pb::Payment> {
    let mut rng = fastrand::Rng::with_seed(SEED ^ 0xA5A5 ^ (i as u64));
    if rng.u32(0..3) != 0 {
        return None;
    }
    let first = account.invoices.first()?;
    let amount = first.amount.clone()?;
    let half = pb::Money {
        units: amount.units / 2,
        nanos: 0,
        ..amount
    };
    if half.units == 0 {
        return None;
    }
    Some(pb::Payment {
        amount: Some(half),
        payment_date: Some(date_out(today - Days::new(rng.u64(0..20)))),
        reference: format!("BACS {}", external_ref(i)),
        invoice_numbers: if rng.bool() {
            vec![first.number.clone()]
        } else {
            Vec::new()
        },
        ..Default::default()
    })
}

/// How many rows of each table a book of `accounts` writes, for rate comparisons.
pub fn rows(accounts: usize, today: NaiveDate) -> BulkRows {
    let mut rows = BulkRows::default();
    for i in 0..accounts {
        let a = account(i, today);
        rows.accounts += 1;
        rows.contacts += a.contacts.len() as u64;
        rows.invoices += a.invoices.len() as u64;
        rows.adjustments += a
            .invoices
            .iter()
            .map(|inv| inv.adjustments.len() as u64)
            .sum::<u64>();
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_book_is_reproducible_and_valid() {
        let today: NaiveDate = "2026-11-22".parse().unwrap();
        assert_eq!(account(17, today), account(17, today));
        assert_eq!(currency_of(17).0, account(17, today).currency_code);
        for i in 0..2_000 {
            let a = account(i, today);
            let record = recoup_server::convert::account_in(&a);
            assert!(record.is_ok(), "account {i}: {:?}", record.err());
        }
        let rows = rows(1_000, today);
        assert!((4_000..6_000).contains(&rows.invoices), "{rows:?}");
    }
}
