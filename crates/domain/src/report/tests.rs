use chrono::{NaiveDate, TimeZone, Utc};

use super::book::{OpenInvoice, Position};
use super::kpis::{Grouping, Kpis, group, periods, ratio};
use super::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn t(day: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, h, min, 0).unwrap()
}

const FILING: Filing = Filing {
    queue: "default",
    currency: "GBP",
    zone: chrono_tz::Europe::London,
};

fn call(id: i64, start: DateTime<Utc>, agent: &str, promised: bool) -> PastCall {
    PastCall {
        id,
        start_time: start,
        create_time: start,
        agent: agent.into(),
        promised,
        corrects: None,
    }
}

#[test]
fn a_payment_is_earned_by_the_latest_promise_in_the_window_then_by_a_live_plan() {
    let paid = t(20, 12, 0);
    let calls = [
        call(1, t(10, 9, 0), "old", true),
        call(2, t(15, 9, 0), "ann", true),
        call(3, t(16, 9, 0), "bob", false),
    ];
    assert_eq!(
        attribute(paid, 7, &calls, &[]),
        Attribution::Promise("ann".into())
    );
    // Outside the window: nobody, unless a plan was live.
    assert_eq!(attribute(paid, 4, &calls, &[]), Attribution::None);
    let plan = PastPlan {
        create_time: t(1, 9, 0),
        end_time: Some(t(25, 9, 0)),
        proposed_by: "cat".into(),
    };
    assert_eq!(
        attribute(paid, 4, &calls, std::slice::from_ref(&plan)),
        Attribution::Plan("cat".into())
    );
    // A plan that ended before the payment earns nothing.
    let ended = PastPlan {
        end_time: Some(t(19, 9, 0)),
        ..plan
    };
    assert_eq!(attribute(paid, 4, &calls, &[ended]), Attribution::None);
    // A promise recorded after the payment, or corrected before it, earns nothing.
    let mut late = call(4, t(19, 9, 0), "dan", true);
    late.create_time = t(21, 9, 0);
    let mut fix = call(5, t(15, 9, 0), "eve", false);
    fix.corrects = Some(2);
    assert_eq!(
        attribute(
            paid,
            7,
            &[calls[0].clone(), calls[1].clone(), late, fix],
            &[]
        ),
        Attribution::None
    );
}

#[test]
fn facts_that_cancel_leave_nothing_behind() {
    let mut facts = Facts::default();
    let c = CallRecord {
        start_time: t(3, 23, 30),
        agent: "ann".into(),
        outbound: true,
        right_party: true,
        promise_minor: Some(500),
        breaches: vec!["unclaimed".into()],
    };
    call_facts(&c, &FILING, &mut facts);
    assert_eq!(facts.0.len(), 4);
    // 23:30 UTC on 3 November is still the 3rd in London (GMT).
    assert!(facts.0.keys().all(|k| k.day == d(2026, 11, 3)));
    let copy = facts.clone();
    facts.merge(&copy, -1);
    assert_eq!(facts, Facts::default());
}

#[test]
fn rates_round_half_to_even_and_are_absent_without_a_denominator() {
    assert_eq!(ratio(2, 3).unwrap().to_string(), "0.6667");
    assert_eq!(ratio(1, 8).unwrap().to_string(), "0.1250");
    assert_eq!(ratio(1, 0), None);
    let mut k = Kpis::default();
    for (days, n) in [(2, 1), (5, 2), (9, 1)] {
        k.dispute_days.insert(days, n);
    }
    assert_eq!(k.median_dispute_days().unwrap().to_string(), "5.0");
    k.dispute_days.insert(9, 3);
    assert_eq!(k.median_dispute_days().unwrap().to_string(), "7.0");
}

#[test]
fn weeks_and_months_are_clipped_to_the_period() {
    let from = d(2026, 11, 4);
    let to = d(2026, 12, 2);
    let weeks = periods(Grouping::Week, from, to);
    assert_eq!(weeks.first(), Some(&(d(2026, 11, 4), d(2026, 11, 8))));
    assert_eq!(weeks.last(), Some(&(d(2026, 11, 30), d(2026, 12, 2))));
    assert_eq!(weeks.len(), 5);
    let months = periods(Grouping::Month, from, to);
    assert_eq!(months, vec![(from, d(2026, 11, 30)), (d(2026, 12, 1), to)]);
    let day = AgentDay {
        day: d(2026, 11, 10),
        agent: "ann".into(),
        first: t(10, 9, 0),
        last: t(10, 11, 30),
        calls: 10,
    };
    let g = group([], &[day], Grouping::Week, from, to);
    assert_eq!(g.groups.len(), 5);
    assert_eq!(g.groups["2026-11-09"].calls_worked, 10);
    assert_eq!(g.total.calls_per_hour().unwrap().to_string(), "4.0000");
}

#[test]
fn dso_best_possible_dso_and_add_follow_the_crf_formulas() {
    let day = d(2026, 11, 30);
    let mut p = Position {
        sales: 90_000,
        ..Position::default()
    };
    let open = |due, outstanding, disputed| OpenInvoice {
        due,
        outstanding,
        disputed,
        with_agency: false,
        under_plan: false,
    };
    p.add_invoice(&open(d(2026, 12, 10), 10_000, false), day);
    p.add_invoice(&open(d(2026, 11, 1), 20_000, false), day);
    p.add_invoice(&open(d(2026, 8, 1), 5_000, true), day);
    assert_eq!(p.receivables, 35_000);
    assert_eq!(
        (p.current, p.days_1_30, p.disputed),
        (10_000, 20_000, 5_000)
    );
    assert_eq!(p.dso().unwrap().to_string(), "35.00");
    assert_eq!(p.best_possible_dso().unwrap().to_string(), "10.00");
    assert_eq!(p.average_days_delinquent().unwrap().to_string(), "25.00");
}
