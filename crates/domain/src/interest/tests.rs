//! Every figure here is computed by hand in the comment beside it.

use super::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn m(amount: &str, code: &str) -> Money {
    Money::new(amount.parse().unwrap(), Currency::from_code(code).unwrap()).unwrap()
}

fn accrue_on(
    regime: Regime,
    billed: Money,
    due: &str,
    payments: &[(NaiveDate, Money)],
    to: &str,
) -> Accrued {
    let debt = Debt {
        number: "INV-1",
        due_date: d(due),
        billed,
        payments,
    };
    accrue(regime, &ReferenceRates::shipped(), &debt, d(to))
        .unwrap()
        .expect("overdue")
}

#[test]
fn the_law_follows_the_country() {
    assert_eq!(Regime::for_country("GB"), Some(Regime::UkLatePayment));
    assert_eq!(Regime::for_country("FR"), Some(Regime::EuDirective));
    assert_eq!(Regime::for_country("IE"), Some(Regime::EuDirective));
    assert_eq!(Regime::for_country("US"), None);
    assert_eq!(Regime::for_country("CH"), None);
}

#[test]
fn uk_fixed_compensation_by_the_size_of_the_debt() {
    let uk = Regime::UkLatePayment;
    for (billed, due) in [
        ("999.99", "40"),
        ("1000.00", "70"),
        ("9999.99", "70"),
        ("10000.00", "100"),
    ] {
        assert_eq!(uk.compensation(m(billed, "GBP")), m(due, "GBP"), "{billed}");
    }
    assert_eq!(
        Regime::EuDirective.compensation(m("50000", "EUR")),
        m("40", "EUR")
    );
}

#[test]
fn uk_rate_is_fixed_by_the_half_year_the_debt_became_overdue() {
    let rates = ReferenceRates::shipped();
    let uk = |day| {
        annual_rate(Regime::UkLatePayment, &rates, d(day))
            .unwrap()
            .annual
    };
    // Overdue from 31 Dec 2024 (July–December): base rate on 30 June 2024, 5.25 + 8.
    assert_eq!(uk("2024-12-31"), "13.25".parse().unwrap());
    // Overdue from 1 Jan 2025: base rate on 31 December 2024, 4.75 + 8.
    assert_eq!(uk("2025-01-01"), "12.75".parse().unwrap());
    // 30 June 2025 is still January–June: 31 Dec 2024's 4.75; 1 July: 30 June 2025's 4.25.
    assert_eq!(uk("2025-06-30"), "12.75".parse().unwrap());
    assert_eq!(uk("2025-07-01"), "12.25".parse().unwrap());
}

#[test]
fn uk_interest_to_the_penny_and_never_re_rated() {
    // £1,000.00 due 31 Dec 2024, to 31 Mar 2025: 90 days at 12.75%:
    // 1000 × 12.75 / 100 × 90 / 365 = 31.438356… → £31.44.
    let a = accrue_on(
        Regime::UkLatePayment,
        m("1000.00", "GBP"),
        "2024-12-31",
        &[],
        "2025-03-31",
    );
    assert_eq!(a.interest, m("31.44", "GBP"));
    assert_eq!(a.compensation, m("70", "GBP"));
    assert_eq!(a.periods.len(), 1);
    assert_eq!(a.periods[0].days(), 90);
    // A year on, still 12.75% although the base rate fell twice: 1000 × 0.1275 = £127.50.
    let a = accrue_on(
        Regime::UkLatePayment,
        m("1000.00", "GBP"),
        "2024-12-31",
        &[],
        "2025-12-31",
    );
    assert_eq!(a.interest, m("127.50", "GBP"));
    assert_eq!(a.annual_rate, "12.75".parse().unwrap());
    // One day less overdue, the other half-year: due 30 Dec 2024, 13.25% for 91 days:
    // 1000 × 13.25 / 100 × 91 / 365 = 33.034246… → £33.03.
    let a = accrue_on(
        Regime::UkLatePayment,
        m("1000.00", "GBP"),
        "2024-12-30",
        &[],
        "2025-03-31",
    );
    assert_eq!(a.interest, m("33.03", "GBP"));
}

#[test]
fn uk_interest_across_a_leap_day() {
    // £10,000.00 due 27 Feb 2024, to 1 Mar 2024: 28 Feb, 29 Feb, 1 Mar = 3 days at 13.25%
    // (base rate 5.25 on 31 Dec 2023): 10000 × 0.1325 × 3 / 365 = 10.890410… → £10.89.
    let a = accrue_on(
        Regime::UkLatePayment,
        m("10000.00", "GBP"),
        "2024-02-27",
        &[],
        "2024-03-01",
    );
    assert_eq!(a.periods[0].days(), 3);
    assert_eq!(a.interest, m("10.89", "GBP"));
    assert_eq!(a.compensation, m("100", "GBP"));
}

#[test]
fn a_part_payment_stops_interest_on_what_it_paid_from_its_date() {
    // £2,000.00 due 31 Jan 2025 at 12.75%; £500.00 paid 3 Mar 2025; to 31 Mar 2025:
    // 1 Feb–2 Mar: 30 days on 2000; 3 Mar–31 Mar: 29 days on 1500.
    // (2000 × 30 + 1500 × 29) × 0.1275 / 365 = 13196.25 / 365 = 36.154109… → £36.15.
    let paid = [(d("2025-03-03"), m("500.00", "GBP"))];
    let a = accrue_on(
        Regime::UkLatePayment,
        m("2000.00", "GBP"),
        "2025-01-31",
        &paid,
        "2025-03-31",
    );
    let shape: Vec<(i64, Money)> = a.periods.iter().map(|p| (p.days(), p.principal)).collect();
    assert_eq!(
        shape,
        [(30, m("2000.00", "GBP")), (29, m("1500.00", "GBP"))]
    );
    assert_eq!(a.interest, m("36.15", "GBP"));
    // Compensation follows the debt, not what is left of it.
    assert_eq!(a.compensation, m("70", "GBP"));
}

#[test]
fn a_credit_note_reduces_the_debt_from_the_start() {
    // £1,200.00 less a £300.00 credit note = £900.00, due 31 Jul 2025; overdue from 1 Aug 2025
    // (base rate 4.25 on 30 June 2025 + 8 = 12.25%); to 30 Aug: 30 days.
    // 900 × 0.1225 × 30 / 365 = 9.061643… → £9.06; compensation £40 (under £1,000).
    let a = accrue_on(
        Regime::UkLatePayment,
        m("900.00", "GBP"),
        "2025-07-31",
        &[],
        "2025-08-30",
    );
    assert_eq!(a.interest, m("9.06", "GBP"));
    assert_eq!(a.compensation, m("40", "GBP"));
}

#[test]
fn rounding_is_once_at_the_end_half_away_from_zero() {
    // £1.00 at 12.75% for 365 days = 0.1275 exactly → £0.13; rounded per day it would be £0.00.
    let a = accrue_on(
        Regime::UkLatePayment,
        m("1.00", "GBP"),
        "2024-12-31",
        &[],
        "2025-12-31",
    );
    assert_eq!(a.interest, m("0.13", "GBP"));
}

#[test]
fn eu_interest_takes_each_half_years_rate() {
    // €10,000.00 due 31 May 2025, to 31 Jul 2025. 1–30 Jun at the ECB rate on 1 Jan 2025 (3.15)
    // + 8 = 11.15%; 1–31 Jul at the rate on 1 Jul 2025 (2.15) + 8 = 10.15%.
    // 10000 × (0.1115 × 30 + 0.1015 × 31) / 365 = 64915 / 365 = 177.849315… → €177.85.
    let a = accrue_on(
        Regime::EuDirective,
        m("10000.00", "EUR"),
        "2025-05-31",
        &[],
        "2025-07-31",
    );
    let shape: Vec<(i64, Decimal)> = a
        .periods
        .iter()
        .map(|p| (p.days(), p.annual_rate))
        .collect();
    assert_eq!(
        shape,
        [
            (30, "11.15".parse().unwrap()),
            (31, "10.15".parse().unwrap())
        ]
    );
    assert_eq!(a.interest, m("177.85", "EUR"));
    assert_eq!(a.compensation, m("40", "EUR"));
    assert_eq!(a.annual_rate, "10.15".parse().unwrap());
}

#[test]
fn nothing_before_the_day_after_the_due_date() {
    let debt = Debt {
        number: "INV-1",
        due_date: d("2025-03-31"),
        billed: m("100", "GBP"),
        payments: &[],
    };
    let rates = ReferenceRates::shipped();
    assert_eq!(
        accrue(Regime::UkLatePayment, &rates, &debt, d("2025-03-31")),
        Ok(None)
    );
    let paid = [(d("2025-04-01"), m("100", "GBP"))];
    let settled = Debt {
        payments: &paid,
        ..debt
    };
    // Paid on the first overdue day: nothing accrued, but the compensation is due.
    let a = accrue(Regime::UkLatePayment, &rates, &settled, d("2025-04-10"))
        .unwrap()
        .unwrap();
    assert!(a.periods.is_empty() && a.interest.is_zero());
    assert_eq!(a.compensation, m("40", "GBP"));
}

#[test]
fn operators_amend_the_history_and_a_rate_before_it_is_refused() {
    let mut rates = ReferenceRates::shipped();
    let was = rates.uk_base_rate.known_to;
    rates
        .uk_base_rate
        .amend([(d("2026-02-05"), "3.50".parse().unwrap())]);
    assert_eq!(rates.uk_base_rate.known_to, d("2026-02-05").max(was));
    // Overdue from 1 July 2026: the rate on 30 June 2026, after the history is known to.
    assert_eq!(
        annual_rate(Regime::UkLatePayment, &rates, d("2026-07-01")),
        Ok(Rate {
            annual: "11.50".parse().unwrap(),
            provisional: true
        })
    );
    assert_eq!(
        annual_rate(Regime::UkLatePayment, &rates, d("2001-03-01")),
        Err(NoInterest::RateUnknown(d("2000-12-31")))
    );
}

/// 2026's rates: the Bank of England cut Bank Rate to 3.75% on 18 December 2025 (held on 5 February
/// 2026); the ECB's main refinancing rate was 2.15% on 1 January 2026 (and on 1 April 2026).
#[test]
fn rates_of_2026_and_provisional_interest_after_the_history() {
    struct Case {
        name: &'static str,
        regime: Regime,
        billed: Money,
        due: &'static str,
        to: &'static str,
        interest: Money,
        rate: &'static str,
        provisional: bool,
    }
    let cases = [
        // Overdue from 1 Jan 2026: Bank Rate on 31 Dec 2025 (3.75) + 8 = 11.75%, known.
        // 1000 × 11.75 / 100 × 90 / 365 = 28.972602… → £28.97 (not 12% as before: £29.59).
        Case {
            name: "UK, first half of 2026",
            regime: Regime::UkLatePayment,
            billed: m("1000.00", "GBP"),
            due: "2025-12-31",
            to: "2026-03-31",
            interest: m("28.97", "GBP"),
            rate: "11.75",
            provisional: false,
        },
        // Overdue from 1 Jul 2026: the law takes Bank Rate on 30 June 2026, after the history
        // (known to 5 February 2026): 3.75 assumed, 11.75%, provisional.
        // 1000 × 0.1175 × 31 / 365 = 9.979452… → £9.98.
        Case {
            name: "UK, second half of 2026",
            regime: Regime::UkLatePayment,
            billed: m("1000.00", "GBP"),
            due: "2026-06-30",
            to: "2026-07-31",
            interest: m("9.98", "GBP"),
            rate: "11.75",
            provisional: true,
        },
        // 1 Jan–31 Mar 2026 at the ECB rate on 1 Jan 2026 (2.15) + 8 = 10.15%, known.
        // 10000 × 0.1015 × 90 / 365 = 250.273972… → €250.27.
        Case {
            name: "EU, first half of 2026",
            regime: Regime::EuDirective,
            billed: m("10000.00", "EUR"),
            due: "2025-12-31",
            to: "2026-03-31",
            interest: m("250.27", "EUR"),
            rate: "10.15",
            provisional: false,
        },
        // Into July 2026: the rate on 1 July 2026 is not known yet (history to 1 April 2026).
        // 10000 × 0.1015 × (181 + 1) / 365 = 506.109589… → €506.11.
        Case {
            name: "EU, into the second half of 2026",
            regime: Regime::EuDirective,
            billed: m("10000.00", "EUR"),
            due: "2025-12-31",
            to: "2026-07-01",
            interest: m("506.11", "EUR"),
            rate: "10.15",
            provisional: true,
        },
    ];
    for c in cases {
        let a = accrue_on(c.regime, c.billed, c.due, &[], c.to);
        assert_eq!(a.interest, c.interest, "{}", c.name);
        assert_eq!(a.annual_rate, c.rate.parse().unwrap(), "{}", c.name);
        assert_eq!(a.provisional, c.provisional, "{}", c.name);
    }
}

#[test]
fn the_tables_are_stale_once_the_law_fixes_a_rate_after_their_history() {
    let rates = ReferenceRates::shipped();
    let stale = |day| {
        rates
            .stale_on(d(day))
            .into_iter()
            .map(|(regime, _, on)| (regime, on))
            .collect::<Vec<_>>()
    };
    // A debt overdue on 1 March 2026 takes the UK rate of 31 Dec 2025 and the EU rate of
    // 1 Jan 2026: both known.
    assert_eq!(stale("2026-03-01"), []);
    // 2 December 2026: 30 June 2026 and 1 July 2026 are after both histories.
    assert_eq!(
        stale("2026-12-02"),
        [
            (Regime::UkLatePayment, d("2026-06-30")),
            (Regime::EuDirective, d("2026-07-01"))
        ]
    );
    // An operator's entry for a decision that held the rate makes the history known again.
    let mut amended = ReferenceRates::shipped();
    amended
        .uk_base_rate
        .amend([(d("2026-11-05"), "3.75".parse().unwrap())]);
    assert!(
        amended
            .stale_on(d("2026-12-02"))
            .iter()
            .all(|(regime, _, _)| *regime != Regime::UkLatePayment)
    );
}
