//! Golden schedules computed by hand, and properties over random ones.

use proptest::prelude::*;

use super::*;
use crate::money::Currency;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn m(amount: &str, code: &str) -> Money {
    Money::new(amount.parse().unwrap(), Currency::from_code(code).unwrap()).unwrap()
}

fn shape(s: &[Payment]) -> Vec<(String, String)> {
    s.iter()
        .map(|p| (p.due.to_string(), p.amount.to_string()))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn monthly_keeps_the_day_and_clamps_to_month_end_through_a_leap_year() {
    // £1,000.00 at £300.00 a month from 31 Jan 2028 (a leap year): 300, 300, 300, 100.
    let s = instalments(
        m("1000.00", "GBP"),
        m("300.00", "GBP"),
        Frequency::Monthly,
        d("2028-01-31"),
    )
    .unwrap();
    assert_eq!(
        shape(&s),
        pairs(&[
            ("2028-01-31", "GBP 300.00"),
            ("2028-02-29", "GBP 300.00"),
            ("2028-03-31", "GBP 300.00"),
            ("2028-04-30", "GBP 100.00"),
        ])
    );
    // Not a leap year: 28 February, then back to the 31st.
    let s = instalments(
        m("90.00", "GBP"),
        m("30.00", "GBP"),
        Frequency::Monthly,
        d("2027-01-31"),
    )
    .unwrap();
    let dates: Vec<String> = s.iter().map(|p| p.due.to_string()).collect();
    assert_eq!(dates, ["2027-01-31", "2027-02-28", "2027-03-31"]);
    // Across the year end.
    assert_eq!(Frequency::Monthly.nth(d("2026-11-30"), 3), d("2027-02-28"));
}

#[test]
fn weekly_and_fortnightly_step_by_days() {
    let s = instalments(
        m("100.00", "EUR"),
        m("40.00", "EUR"),
        Frequency::Fortnightly,
        d("2026-12-24"),
    )
    .unwrap();
    assert_eq!(
        shape(&s),
        pairs(&[
            ("2026-12-24", "EUR 40.00"),
            ("2027-01-07", "EUR 40.00"),
            ("2027-01-21", "EUR 20.00"),
        ])
    );
    // £100 a week is worth 100 × 52 / 12 = 433.333… a month.
    assert_eq!(
        Frequency::Weekly
            .monthly_equivalent(m("100", "GBP"))
            .round_dp(4),
        "433.3333".parse::<Decimal>().unwrap()
    );
}

#[test]
fn yen_have_no_fractions_and_three_decimals_keep_their_third_place() {
    // ¥100,000 in 3 monthly instalments: ⌈100000 / 3⌉ = 33,334, 33,334, then 33,332.
    let s = in_count(m("100000", "JPY"), 3, Frequency::Monthly, d("2026-12-01")).unwrap();
    assert_eq!(
        shape(&s),
        pairs(&[
            ("2026-12-01", "JPY 33,334"),
            ("2027-01-01", "JPY 33,334"),
            ("2027-02-01", "JPY 33,332"),
        ])
    );
    // KWD 10.000 in 3: 3.334, 3.334, 3.332.
    let s = in_count(m("10.000", "KWD"), 3, Frequency::Weekly, d("2026-12-01")).unwrap();
    let amounts: Vec<String> = s.iter().map(|p| p.amount.to_string()).collect();
    assert_eq!(amounts, ["KWD 3.334", "KWD 3.334", "KWD 3.332"]);
}

#[test]
fn a_down_payment_then_instalments_from_the_next_period() {
    // £1,250.00: £250.00 down on 1 Dec, then £400.00 monthly from 1 Jan: 400, 400, 200.
    let s = down_payment_then_instalments(
        m("1250.00", "GBP"),
        m("250.00", "GBP"),
        m("400.00", "GBP"),
        Frequency::Monthly,
        d("2026-12-01"),
    )
    .unwrap();
    assert_eq!(
        shape(&s),
        pairs(&[
            ("2026-12-01", "GBP 250.00"),
            ("2027-01-01", "GBP 400.00"),
            ("2027-02-01", "GBP 400.00"),
            ("2027-03-01", "GBP 200.00"),
        ])
    );
}

#[test]
fn a_settlement_rounds_its_discount_down_to_the_minor_unit() {
    // 12.5 % off £999.99 = 124.99875 → discount £124.99, pay £875.00.
    let (s, discount) =
        settlement(m("999.99", "GBP"), "12.5".parse().unwrap(), d("2026-12-15")).unwrap();
    assert_eq!(discount, m("124.99", "GBP"));
    assert_eq!(shape(&s), pairs(&[("2026-12-15", "GBP 875.00")]));
    assert_eq!(
        settlement(m("10", "GBP"), Decimal::ONE_HUNDRED, d("2026-12-15")),
        Err(ScheduleError::BadAmount)
    );
}

#[test]
fn refusals() {
    assert_eq!(
        instalments(
            m("0", "GBP"),
            m("1", "GBP"),
            Frequency::Weekly,
            d("2026-12-01")
        ),
        Err(ScheduleError::NothingOwed)
    );
    assert_eq!(
        instalments(
            m("10000.00", "GBP"),
            m("0.01", "GBP"),
            Frequency::Weekly,
            d("2026-12-01")
        ),
        Err(ScheduleError::TooLong {
            payments: 1_000_000
        })
    );
}

fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(vec!["GBP", "EUR", "JPY", "KWD", "USD"])
        .prop_map(|c| Currency::from_code(c).unwrap())
}

fn frequency() -> impl Strategy<Value = Frequency> {
    prop::sample::select(vec![
        Frequency::Weekly,
        Frequency::Fortnightly,
        Frequency::Monthly,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn schedules_sum_exactly_increase_strictly_and_only_the_last_is_smaller(
        cur in currency(),
        balance in 1i64..50_000_000,
        divisor in 1i64..200,
        f in frequency(),
        day in 0i64..3000,
    ) {
        let first = d("2024-01-01") + Duration::days(day);
        let balance = Money::from_minor(balance, cur);
        let each = Money::from_minor((balance.to_minor().unwrap() / divisor).max(1), cur);
        let s = instalments(balance, each, f, first).unwrap();
        let total: i64 = s.iter().map(|p| p.amount.to_minor().unwrap()).sum();
        prop_assert_eq!(total, balance.to_minor().unwrap());
        prop_assert!(s.windows(2).all(|w| w[0].due < w[1].due));
        let (last, rest) = s.split_last().unwrap();
        prop_assert!(rest.iter().all(|p| p.amount == each));
        prop_assert!(last.amount.is_positive() && last.amount.amount() <= each.amount());
        if f == Frequency::Monthly {
            prop_assert!(s.iter().all(|p| p.due.day() == first.day() || p.due.day() == last_day(p.due.year(), p.due.month())));
        }
    }
}
