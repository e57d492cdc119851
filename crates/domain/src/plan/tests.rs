use proptest::prelude::*;

use super::*;
use crate::money::Currency;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn m(amount: &str, code: &str) -> Money {
    Money::new(amount.parse().unwrap(), Currency::from_code(code).unwrap()).unwrap()
}

fn situation(balance: Money) -> Situation {
    Situation {
        balance,
        oldest_overdue_days: 120,
        today: d("2026-11-23"),
        asker: Authority::Agent,
        affordable_monthly: None,
        after_broken_plan: false,
    }
}

fn codes(j: &Judgement) -> Vec<&'static str> {
    j.broken.iter().map(|b| b.code).collect()
}

#[test]
fn an_offer_below_the_floor_is_refused_with_the_limit_and_counter_proposals() {
    // £6,000.00: the floor is the larger of £50 and 5% (£300.00).
    let s = Situation {
        affordable_monthly: Some(m("800.00", "GBP")),
        ..situation(m("6000.00", "GBP"))
    };
    let offer = Proposal::Instalments {
        amount: m("100.00", "GBP"),
        frequency: Frequency::Monthly,
        first: d("2026-12-01"),
    };
    let p = PlanPolicy::default();
    let j = judge(&offer, &s, &p);
    assert_eq!(codes(&j), ["INSTALMENT_BELOW_FLOOR", "PLAN_TOO_LONG"]);
    assert_eq!(j.broken[0].limit, "GBP 300.00");
    assert_eq!(j.broken[0].value, "GBP 100.00");
    assert_eq!(j.broken[1].limit, "2027-12-01");
    let counters = counter_proposals(&offer, &s, &p);
    let offered: Vec<(Proposal, Option<NaiveDate>)> = counters
        .iter()
        .map(|c| (c.proposal.clone(), c.judgement.end()))
        .collect();
    assert_eq!(
        offered,
        [
            // No settlement: £5,400.00 at once is far beyond the £800.00 a month it can afford.
            // What it can afford: £800.00 a month, 8 payments (7 × 800 + 400), to 1 Jul 2027.
            (
                Proposal::Instalments {
                    amount: m("800.00", "GBP"),
                    frequency: Frequency::Monthly,
                    first: d("2026-12-01")
                },
                Some(d("2027-07-01"))
            ),
            // The smallest instalment that ends within 12 months: 13 monthly dates fit, ⌈6000/13⌉.
            (
                Proposal::Instalments {
                    amount: m("461.54", "GBP"),
                    frequency: Frequency::Monthly,
                    first: d("2026-12-01")
                },
                Some(d("2027-12-01"))
            ),
        ]
    );
    assert!(counters.iter().all(|c| c.judgement.valid()));
}

#[test]
fn settlements_need_eligibility_and_authority() {
    let p = PlanPolicy::default();
    let s = situation(m("8000.00", "GBP"));
    let offer = |pct: i64| Proposal::Settlement {
        discount_percent: Decimal::from(pct),
        by: d("2026-12-10"),
    };
    // 40% is beyond anyone's authority.
    assert_eq!(
        codes(&judge(&offer(40), &s, &p)),
        ["DISCOUNT_BEYOND_POLICY"]
    );
    // 20% is within policy but needs a supervisor when an agent asks.
    let j = judge(&offer(20), &s, &p);
    assert!(j.valid());
    assert_eq!(j.approval, Some(Authority::Supervisor));
    assert_eq!(j.discount, Some(m("1600.00", "GBP")));
    assert_eq!(j.schedule[0].amount, m("6400.00", "GBP"));
    let sup = Situation {
        asker: Authority::Supervisor,
        ..s
    };
    // Four eyes: a supervisor's own proposal beyond an agent's authority needs another supervisor.
    assert_eq!(
        judge(&offer(20), &sup, &p).approval,
        Some(Authority::Supervisor)
    );
    assert_eq!(judge(&offer(10), &sup, &p).approval, None);
    // Too small a balance, not overdue long enough.
    let small = Situation {
        oldest_overdue_days: 89,
        ..situation(m("4999.99", "GBP"))
    };
    assert_eq!(
        codes(&judge(&offer(5), &small, &p)),
        [
            "SETTLEMENT_BALANCE_TOO_SMALL",
            "SETTLEMENT_NOT_OVERDUE_LONG_ENOUGH"
        ]
    );
}

#[test]
fn dates_extensions_down_payments_and_affordability() {
    let p = PlanPolicy::default();
    let s = situation(m("3000.00", "EUR"));
    assert_eq!(
        codes(&judge(
            &Proposal::PayInFull {
                by: d("2026-11-22")
            },
            &s,
            &p
        )),
        ["FIRST_PAYMENT_IN_PAST"]
    );
    assert_eq!(
        codes(&judge(
            &Proposal::PayInFull {
                by: d("2026-12-24")
            },
            &s,
            &p
        )),
        ["FIRST_PAYMENT_TOO_LATE"]
    );
    assert!(
        judge(
            &Proposal::Extension {
                by: d("2026-12-23")
            },
            &s,
            &p
        )
        .valid()
    );
    assert_eq!(
        codes(&judge(
            &Proposal::Extension {
                by: d("2026-12-24")
            },
            &s,
            &p
        )),
        ["EXTENSION_TOO_LONG"]
    );
    let down = |down: &str| Proposal::DownPayment {
        down: m(down, "EUR"),
        amount: m("300.00", "EUR"),
        frequency: Frequency::Weekly,
        first: d("2026-12-01"),
    };
    // 10% of 3,000 is 300; €300 a week is 1,300 a month, over the 1,000 affordable.
    let s = Situation {
        affordable_monthly: Some(m("1000.00", "EUR")),
        ..s
    };
    assert_eq!(
        codes(&judge(&down("299.99"), &s, &p)),
        ["DOWN_PAYMENT_TOO_SMALL", "EXCEEDS_AFFORDABLE"]
    );
    let weekly_ok = Proposal::DownPayment {
        down: m("300.00", "EUR"),
        amount: m("230.00", "EUR"),
        frequency: Frequency::Weekly,
        first: d("2026-12-01"),
    };
    let j = judge(&weekly_ok, &s, &p);
    assert!(j.valid(), "{:?}", j.broken);
    assert_eq!(j.schedule.len(), 13);
}

/// A sum paid at once is judged against what the customer says it can pay by its date, as
/// instalments are against what it can pay a month; counter-proposals never ask more.
#[test]
fn lump_sums_beyond_what_the_customer_can_afford_are_refused() {
    let p = PlanPolicy::default();
    let s = Situation {
        affordable_monthly: Some(m("800.00", "GBP")),
        ..situation(m("6000.00", "GBP"))
    };
    /// (name, proposal, balance, codes, limit and value of EXCEEDS_AFFORDABLE)
    type Case<'a> = (
        &'a str,
        Proposal,
        &'a str,
        Vec<&'a str>,
        Option<(&'a str, &'a str)>,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "the whole balance in a fortnight",
            Proposal::PayInFull {
                by: d("2026-12-07"),
            },
            "6000.00",
            vec!["EXCEEDS_AFFORDABLE"],
            Some(("GBP 800.00", "GBP 6,000.00")),
        ),
        (
            "a settlement in a week",
            Proposal::Settlement {
                discount_percent: Decimal::from(10),
                by: d("2026-11-30"),
            },
            "6000.00",
            vec!["EXCEEDS_AFFORDABLE"],
            Some(("GBP 800.00", "GBP 5,400.00")),
        ),
        (
            "an extension to the day before a second month's money",
            Proposal::Extension {
                by: d("2026-12-22"),
            },
            "6000.00",
            vec!["EXCEEDS_AFFORDABLE"],
            Some(("GBP 800.00", "GBP 6,000.00")),
        ),
        (
            "a down payment beyond a month's money",
            Proposal::DownPayment {
                down: m("2000.00", "GBP"),
                amount: m("400.00", "GBP"),
                frequency: Frequency::Monthly,
                first: d("2026-12-01"),
            },
            "6000.00",
            vec!["EXCEEDS_AFFORDABLE"],
            Some(("GBP 800.00", "GBP 2,000.00")),
        ),
        (
            "two months' money by the date (23 Nov and 23 Dec)",
            Proposal::PayInFull {
                by: d("2026-12-23"),
            },
            "1600.00",
            vec![],
            None,
        ),
        (
            "within a month's money",
            Proposal::PayInFull {
                by: d("2026-12-07"),
            },
            "700.00",
            vec![],
            None,
        ),
    ];
    for (name, proposal, balance, expected, limit) in cases {
        let s = Situation {
            balance: m(balance, "GBP"),
            ..s
        };
        let j = judge(&proposal, &s, &p);
        assert_eq!(codes(&j), expected, "{name}");
        if let Some((limit, value)) = limit {
            let b = &j.broken[0];
            assert_eq!(
                (b.limit.as_str(), b.value.as_str()),
                (limit, value),
                "{name}"
            );
        }
        for c in counter_proposals(&proposal, &s, &p) {
            assert!(c.judgement.valid(), "{name}: {c:?}");
            let first = &c.judgement.schedule[0];
            assert!(
                first.amount.amount() <= s.affordable_by(first.due).unwrap().amount(),
                "{name}: {c:?} asks more at once than the customer can pay"
            );
        }
    }
    // £100 a month against a £60,000 balance: nothing within policy fits (the floor alone is
    // £3,000); the nearest plan says which rules it breaks.
    let poor = Situation {
        affordable_monthly: Some(m("100.00", "GBP")),
        ..situation(m("60000.00", "GBP"))
    };
    let token = Proposal::Instalments {
        amount: m("0.01", "GBP"),
        frequency: Frequency::Monthly,
        first: d("2026-12-01"),
    };
    assert!(counter_proposals(&token, &poor, &p).is_empty());
    let nearest = nearest_affordable(&token, &poor, &p).expect("the nearest plan");
    assert_eq!(
        nearest.proposal,
        Proposal::Instalments {
            amount: m("100.00", "GBP"),
            frequency: Frequency::Monthly,
            first: d("2026-12-01")
        }
    );
    assert!(codes(&nearest.judgement).contains(&"INSTALMENT_BELOW_FLOOR"));
    assert!(
        nearest.why.starts_with(
            "no plan within policy fits what the customer says it can afford (GBP 100.00 a month)"
        ),
        "{}",
        nearest.why
    );
    // Where something fits, there is no "nearest".
    assert_eq!(nearest_affordable(&token, &s, &p), None);
}

/// After a broken plan a new one needs a down payment (25%) and runs at most six months; the
/// counter-proposals say why they ask for one.
#[test]
fn after_a_broken_plan_the_terms_are_stricter() {
    let p = PlanPolicy::default();
    let s = Situation {
        after_broken_plan: true,
        ..situation(m("6000.00", "GBP"))
    };
    let monthly = |amount: &str| Proposal::Instalments {
        amount: m(amount, "GBP"),
        frequency: Frequency::Monthly,
        first: d("2026-12-01"),
    };
    let j = judge(&monthly("1000.00"), &s, &p);
    assert_eq!(codes(&j), ["DOWN_PAYMENT_REQUIRED"]);
    assert_eq!(j.broken[0].limit, "GBP 1,500.00");
    let down = |down: &str, amount: &str| Proposal::DownPayment {
        down: m(down, "GBP"),
        amount: m(amount, "GBP"),
        frequency: Frequency::Monthly,
        first: d("2026-12-01"),
    };
    // 16.7% down is not enough after a broken plan (10% would be otherwise).
    let j = judge(&down("1000.00", "1000.00"), &s, &p);
    assert_eq!(codes(&j), ["DOWN_PAYMENT_TOO_SMALL"]);
    assert!(j.broken[0].message.starts_with("after a broken plan"));
    // £1,500 down, then £750 a month from 1 Jan: six payments to 1 Jun 2027, six months on.
    let j = judge(&down("1500.00", "750.00"), &s, &p);
    assert!(j.valid(), "{:?}", j.broken);
    assert_eq!(j.end(), Some(d("2027-06-01")));
    // £500 a month would run to 1 Sep 2027: too long after a broken plan (fine otherwise).
    let j = judge(&down("1500.00", "500.00"), &s, &p);
    assert_eq!(codes(&j), ["PLAN_TOO_LONG"]);
    assert_eq!(j.broken[0].limit, "2027-06-01");
    let fresh = Situation {
        after_broken_plan: false,
        ..s
    };
    assert!(judge(&down("1500.00", "500.00"), &fresh, &p).valid());
    let counters = counter_proposals(&monthly("100.00"), &s, &p);
    assert!(!counters.is_empty());
    for c in &counters {
        assert!(c.judgement.valid(), "{c:?}");
        if let Proposal::DownPayment { down, .. } = c.proposal {
            assert_eq!(down, m("1500.00", "GBP"));
            assert!(c.why.contains("after the broken plan"), "{}", c.why);
        }
    }
}

proptest! {
    /// A balance spread over a count: never more payments than the count, each the same but the
    /// last (never more than the others), and the schedule sums to the balance exactly.
    #[test]
    fn an_instalment_count_spreads_the_balance_exactly(
        code in currency(),
        balance in 1i64..100_000_000,
        count in 1u32..=520,
    ) {
        let cur = Currency::from_code(code).unwrap();
        let balance = Money::from_minor(balance, cur);
        let each = instalment_for_count(balance, count).unwrap();
        let sched = schedule::instalments(balance, each, Frequency::Monthly, d("2026-12-01")).unwrap();
        prop_assert!(sched.len() <= count as usize);
        prop_assert!(sched.iter().all(|p| p.amount.amount() <= each.amount()));
        let total: Decimal = sched.iter().map(|p| p.amount.amount()).sum();
        prop_assert_eq!(total, balance.amount());
    }
}

#[test]
fn an_instalment_count_rounds_up_to_the_minor_unit() {
    assert_eq!(
        instalment_for_count(m("1000.00", "GBP"), 3),
        Some(m("333.34", "GBP"))
    );
    assert_eq!(
        instalment_for_count(m("1000", "JPY"), 3),
        Some(m("334", "JPY"))
    );
    assert_eq!(instalment_for_count(m("1000.00", "GBP"), 0), None);
}

fn currency() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["GBP", "EUR", "JPY", "KWD", "CHF"])
}

fn frequency() -> impl Strategy<Value = Frequency> {
    prop::sample::select(vec![
        Frequency::Weekly,
        Frequency::Fortnightly,
        Frequency::Monthly,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn valid_schedules_are_exact_and_every_counter_proposal_validates(
        code in currency(),
        balance in 1i64..100_000_000,
        instalment in 1i64..10_000_000,
        f in frequency(),
        delay in -5i64..45,
        kind in 0u8..5,
        discount in 0u32..40,
        affordable in prop::option::of(1i64..10_000_000),
        supervisor in any::<bool>(),
        after_broken_plan in any::<bool>(),
    ) {
        let cur = Currency::from_code(code).unwrap();
        let s = Situation {
            balance: Money::from_minor(balance, cur),
            oldest_overdue_days: 100,
            today: d("2026-11-23"),
            asker: if supervisor { Authority::Supervisor } else { Authority::Agent },
            affordable_monthly: affordable.map(|a| Money::from_minor(a, cur)),
            after_broken_plan,
        };
        let first = s.today + Duration::days(delay);
        let amount = Money::from_minor(instalment, cur);
        let proposal = match kind {
            0 => Proposal::PayInFull { by: first },
            1 => Proposal::Instalments { amount, frequency: f, first },
            2 => Proposal::DownPayment { down: Money::from_minor(balance / 4 + 1, cur), amount, frequency: f, first },
            3 => Proposal::Settlement { discount_percent: Decimal::from(discount), by: first },
            _ => Proposal::Extension { by: first },
        };
        let p = PlanPolicy::default();
        let j = judge(&proposal, &s, &p);
        if j.valid() {
            let paid: i64 = j.schedule.iter().map(|x| x.amount.to_minor().unwrap()).sum();
            let forgone = j.discount.map_or(0, |x| x.to_minor().unwrap());
            prop_assert_eq!(paid + forgone, balance);
            prop_assert!(j.schedule.windows(2).all(|w| w[0].due < w[1].due));
            if let Proposal::Instalments { amount, .. } = &proposal {
                let least = floor(s.balance, &p);
                let (last, rest) = j.schedule.split_last().unwrap();
                prop_assert!(rest.iter().all(|x| x.amount == *amount && x.amount.amount() >= least.amount()));
                prop_assert!(last.amount.amount() <= amount.amount());
                prop_assert!(last.due <= Frequency::Monthly.nth(j.schedule[0].due, p.max_months));
            }
        }
        for c in counter_proposals(&proposal, &s, &p) {
            let again = judge(&c.proposal, &s, &p);
            prop_assert!(again.valid(), "{:?} -> {:?}", c.proposal, again.broken);
            if j.valid() {
                prop_assert!(again.end() <= j.end());
            }
        }
    }
}
