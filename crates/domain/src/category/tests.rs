//! Every category from a realistic history, and each threshold from both sides.

use chrono::Duration;

use super::*;
use crate::money::Currency;
use crate::text::Formats;

const TODAY: &str = "2026-11-23";

fn today() -> NaiveDate {
    TODAY.parse().unwrap()
}

fn gbp(units: i64) -> Money {
    Money::from_minor(units * 100, Currency::from_code("GBP").unwrap())
}

fn days_ago(n: i64) -> NaiveDate {
    today() - Duration::days(n)
}

/// An invoice `overdue` days past due, owing `owed` with `paid` already paid.
fn debt(number: &str, overdue: i64, owed: i64, paid: i64) -> OpenDebt {
    OpenDebt {
        number: number.into(),
        due_date: days_ago(overdue),
        outstanding: gbp(owed),
        paid: gbp(paid),
        disputed: false,
    }
}

fn disputed(mut d: OpenDebt) -> OpenDebt {
    d.disputed = true;
    d
}

/// `n` paid invoices, each paid `late` days after its due date, newest first.
fn paid(n: usize, late: i64) -> Vec<PaidInvoice> {
    (0..n)
        .map(|k| {
            let due = days_ago(60 + 30 * k as i64);
            PaidInvoice {
                due_date: due,
                settled_on: due + Duration::days(late),
            }
        })
        .collect()
}

/// Kinds of call, newest first.
#[derive(Clone, Copy)]
enum C {
    NoAnswer,
    Spoke,
    Refused,
    Hardship,
}

fn outcomes(calls: &[C]) -> Vec<Outcome> {
    calls
        .iter()
        .map(|c| match c {
            C::NoAnswer => Outcome::NoAnswer,
            C::Spoke => Outcome::CallbackRequested {
                time: chrono::Utc::now(),
            },
            C::Refused => Outcome::RefusedToPay {
                reason: "says the work was late".into(),
            },
            C::Hardship => Outcome::HardshipClaimed {
                statement: "lost a big customer".into(),
                claims_to_verify: vec!["lost customer".into(), "bank overdraft".into()],
                affordable_monthly: None,
            },
        })
        .collect()
}

struct Case {
    name: &'static str,
    open: Vec<OpenDebt>,
    paid: Vec<PaidInvoice>,
    calls: Vec<C>,
    broken: usize,
    broken_plans: usize,
    completed_plans: usize,
    plan: Option<PlanOnTrack>,
    expect: Category,
    reasons: Vec<String>,
}

fn case(name: &'static str, open: Vec<OpenDebt>, expect: Category) -> Case {
    Case {
        name,
        open,
        paid: vec![],
        calls: vec![],
        broken: 0,
        broken_plans: 0,
        completed_plans: 0,
        plan: None,
        expect,
        reasons: vec![],
    }
}

fn r(reasons: &[&str]) -> Vec<String> {
    reasons.iter().map(|s| s.to_string()).collect()
}

fn run(c: &Case) -> Assessment {
    let outcomes = outcomes(&c.calls);
    let facts: Vec<CallFact<'_>> = outcomes
        .iter()
        .enumerate()
        .map(|(k, o)| CallFact {
            on: days_ago(2 * k as i64 + 1),
            direction: Direction::Outbound,
            outcome: o,
        })
        .collect();
    derive(
        &History {
            today: today(),
            open: &c.open,
            paid: &c.paid,
            calls: &facts,
            broken_promises: c.broken,
            promise_window_days: 90,
            broken_plans: c.broken_plans,
            completed_plans: c.completed_plans,
            plan_on_track: c.plan,
        },
        &CategoryPolicy::default(),
        &crate::text::British,
    )
}

#[test]
fn every_category_from_its_history_and_each_threshold_from_both_sides() {
    let owed = || vec![debt("INV-1", 6, 1_200, 0)];
    let on_track = PlanOnTrack {
        agreed_on: days_ago(52),
        paid_instalments: 2,
        instalments: 4,
        next: Some((gbp(250), today() + Duration::days(8))),
    };
    let cases = vec![
        // Instalments paid on time under a plan are the plan working, not a part payment made
        // in trouble.
        Case {
            plan: Some(on_track),
            reasons: r(&[
                "paying the plan agreed on 2 October 2026 on time: 2 of 4 instalments paid, the \
                 next GBP 250.00 on 1 December 2026",
            ]),
            ..case(
                "paying a plan on time",
                vec![debt("INV-1", 40, 500, 500)],
                Category::OnPlan,
            )
        },
        // The same payments without a plan on track (it fell into arrears): paying what it can.
        case(
            "part-paid without a plan on track",
            vec![debt("INV-1", 40, 500, 500)],
            Category::CashFlowTrouble,
        ),
        // Everything disputed decides before the plan.
        Case {
            plan: Some(on_track),
            ..case(
                "a plan, but everything owed disputed",
                vec![disputed(debt("INV-1", 40, 500, 500))],
                Category::Disputed,
            )
        },
        Case {
            reasons: r(&["nothing is outstanding"]),
            ..case("paid up", vec![], Category::NothingOwed)
        },
        Case {
            reasons: r(&["everything outstanding (GBP 800.00) is disputed: INV-9"]),
            ..case(
                "all disputed",
                vec![disputed(debt("INV-9", 40, 800, 0))],
                Category::Disputed,
            )
        },
        Case {
            reasons: r(&["first overdue invoice, 6 days late, never contacted"]),
            ..case("first time, just late", owed(), Category::Oversight)
        },
        Case {
            reasons: r(&[
                "first overdue invoice, 6 days late, never contacted",
                "GBP 300.00 on INV-9 is disputed and not chased",
            ]),
            ..case(
                "oversight beside a dispute",
                vec![
                    debt("INV-1", 6, 1_200, 0),
                    disputed(debt("INV-9", 10, 300, 0)),
                ],
                Category::Oversight,
            )
        },
        Case {
            reasons: r(&["first overdue invoice, 30 days late, never contacted"]),
            ..case(
                "oversight at its limit (30 days)",
                vec![debt("INV-1", 30, 500, 0)],
                Category::Oversight,
            )
        },
        Case {
            reasons: r(&["overdue 31 days with no calls, promises or payment history to go on"]),
            ..case(
                "one day past the oversight limit",
                vec![debt("INV-1", 31, 500, 0)],
                Category::Unknown,
            )
        },
        Case {
            reasons: r(&["nothing is overdue yet"]),
            ..case(
                "not yet due",
                vec![debt("INV-1", -5, 500, 0)],
                Category::Unknown,
            )
        },
        Case {
            paid: paid(3, 29),
            reasons: r(&[
                "1 invoice overdue, 6 days late, never contacted; the last 3 paid invoices were paid within 30 days of due",
            ]),
            ..case("paid 29 days late is not late", owed(), Category::Oversight)
        },
        Case {
            paid: paid(3, 30),
            reasons: r(&[
                "paid 3 of the last 3 paid invoices 30 days late, always in full",
                "oldest overdue invoice 6 days late",
            ]),
            ..case(
                "three paid 30 days late",
                owed(),
                Category::StrategicDelayer,
            )
        },
        Case {
            paid: {
                let mut p = paid(2, 45);
                p.extend(paid(10, 2));
                p
            },
            reasons: r(&["overdue 6 days with no calls, promises or payment history to go on"]),
            ..case(
                "two late of twelve: not habitual",
                owed(),
                Category::Unknown,
            )
        },
        Case {
            paid: {
                let mut p = paid(12, 1);
                p.extend(paid(3, 50));
                p
            },
            reasons: r(&[
                "1 invoice overdue, 6 days late, never contacted; the last 12 paid invoices were paid within 30 days of due",
            ]),
            ..case(
                "late payments beyond the last twelve",
                owed(),
                Category::Oversight,
            )
        },
        Case {
            paid: {
                let mut p = paid(1, 40);
                p.extend(paid(1, 60));
                p.extend(paid(1, 52));
                p.extend(paid(1, 3));
                p
            },
            reasons: r(&[
                "paid 3 of the last 4 paid invoices 40–60 days late, always in full",
                "oldest overdue invoice 6 days late",
            ]),
            ..case(
                "habitually 40–60 days late",
                owed(),
                Category::StrategicDelayer,
            )
        },
        Case {
            broken: 1,
            calls: vec![C::Spoke],
            reasons: r(&[
                "1 promise broken in the last 90 days, no hardship claimed",
                "oldest overdue invoice 6 days late",
            ]),
            ..case("one broken promise", owed(), Category::StrategicDelayer)
        },
        Case {
            broken: 2,
            calls: vec![C::Spoke],
            reasons: r(&[
                "2 promises broken in the last 90 days, no hardship claimed",
                "oldest overdue invoice 6 days late",
            ]),
            ..case("two broken promises", owed(), Category::Avoider)
        },
        Case {
            broken: 2,
            completed_plans: 1,
            calls: vec![C::Spoke],
            reasons: r(&[
                "1 promise broken in the last 90 days, no hardship claimed (1 broken promise \
                 outweighed by 1 payment plan completed)",
                "oldest overdue invoice 6 days late",
            ]),
            ..case(
                "two broken promises, one plan completed",
                owed(),
                Category::StrategicDelayer,
            )
        },
        Case {
            broken_plans: 1,
            calls: vec![C::Spoke],
            reasons: r(&[
                "1 payment plan broken in the last 90 days, no hardship claimed",
                "oldest overdue invoice 6 days late",
            ]),
            ..case("a broken payment plan", owed(), Category::Avoider)
        },
        Case {
            broken: 2,
            calls: vec![C::Hardship],
            reasons: r(&[
                &format!(
                    "claimed hardship on {} (2 claims to verify)",
                    crate::text::British.date(days_ago(1))
                ),
                "answered 1 of the last 1 call",
            ]),
            ..case(
                "broken promises with hardship",
                owed(),
                Category::CashFlowTrouble,
            )
        },
        Case {
            calls: vec![C::NoAnswer, C::NoAnswer, C::NoAnswer, C::Spoke],
            reasons: r(&[]),
            ..case("three unanswered in a row", owed(), Category::Oversight)
        },
        Case {
            calls: vec![C::NoAnswer, C::NoAnswer, C::NoAnswer, C::NoAnswer],
            reasons: r(&[
                &format!(
                    "the last 4 outbound calls went unanswered (since {})",
                    crate::text::British.date(days_ago(7))
                ),
                "oldest overdue invoice 6 days late",
            ]),
            ..case("four unanswered in a row", owed(), Category::Avoider)
        },
        Case {
            calls: vec![C::Refused, C::Spoke],
            reasons: r(&[
                "refused to pay on 1 call of the last 2 calls",
                "oldest overdue invoice 6 days late",
            ]),
            ..case("a refusal", owed(), Category::Avoider)
        },
        Case {
            calls: vec![C::Spoke],
            reasons: r(&[
                "part-paid 1 overdue invoice (GBP 400.00 paid, GBP 800.00 still owed)",
                "answered 1 of the last 1 call",
            ]),
            ..case(
                "part payments and answers",
                vec![debt("INV-1", 45, 800, 400)],
                Category::CashFlowTrouble,
            )
        },
        Case {
            reasons: r(&["part-paid 1 overdue invoice (GBP 400.00 paid, GBP 800.00 still owed)"]),
            ..case(
                "part payments, never spoken to",
                vec![debt("INV-1", 45, 800, 400)],
                Category::CashFlowTrouble,
            )
        },
    ];
    for c in &cases {
        let a = run(c);
        assert_eq!(a.category, c.expect, "{}: {:?}", c.name, a.reasons);
        if !c.reasons.is_empty() {
            assert_eq!(a.reasons, c.reasons, "{}", c.name);
        }
    }
}

#[test]
fn stored_names_round_trip() {
    for c in [
        Category::Unknown,
        Category::Oversight,
        Category::CashFlowTrouble,
        Category::StrategicDelayer,
        Category::Avoider,
        Category::Disputed,
        Category::NothingOwed,
    ] {
        assert_eq!(Category::parse(c.as_str()), Some(c));
    }
}
