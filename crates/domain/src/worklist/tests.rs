use chrono::TimeZone;

use super::*;
use crate::account::AccountStatus;
use crate::money::Currency;

fn gbp(units: i64) -> Money {
    Money::from_minor(units * 100, Currency::from_code("GBP").unwrap())
}

fn london(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Europe::London
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn facts(status: AccountStatus) -> ContactFacts {
    ContactFacts {
        status,
        cease_calls: false,
        time_zone: chrono_tz::Europe::London,
        owed: true,
        collectable: true,
        plan_quiet_until: None,
    }
}

/// Wednesday 25 November 2026, 10:00 in London.
fn now() -> DateTime<Utc> {
    london(2026, 11, 25, 10, 0)
}

fn signals<'a>(collectable: &'a [(NaiveDate, Money)], broken: usize) -> Signals<'a> {
    Signals {
        today: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        collectable,
        broken_promises: broken,
        promise_window_days: 90,
        missed_instalments: 0,
        weigh_in: Weighing::Own,
    }
}

fn due(days_ago: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap() - Duration::days(days_ago)
}

#[test]
fn callable_now_until_the_end_of_todays_calling_hours_with_reasons() {
    let owed = [(due(30), gbp(1_000)), (due(10), gbp(500))];
    let none = CallHistory {
        outbound: &[],
        callback: None,
    };
    let item = assess(
        &facts(AccountStatus::Active),
        &none,
        &ContactPolicy::default(),
        &signals(&owed, 0),
        now(),
    )
    .unwrap();
    assert_eq!(item.callable_from, now());
    assert_eq!(item.callable_until, london(2026, 11, 25, 17, 30));
    assert_eq!(
        item.reasons,
        [
            "GBP 1,500.00 overdue on 2 invoices, the oldest 30 days",
            "never called by us"
        ]
    );
    // 1000 × 30 + 500 × 10 = 35,000, doubled for never called.
    assert_eq!(item.score, TIER + 70_000);
}

#[test]
fn tiers_callbacks_then_broken_promises_then_weight() {
    let owed = [(due(30), gbp(100))];
    let policy = ContactPolicy::default();
    let plain = CallHistory {
        outbound: &[],
        callback: None,
    };
    let base = assess(
        &facts(AccountStatus::Active),
        &plain,
        &policy,
        &signals(&owed, 0),
        now(),
    )
    .unwrap();
    let broken = assess(
        &facts(AccountStatus::Active),
        &plain,
        &policy,
        &signals(&owed, 2),
        now(),
    )
    .unwrap();
    assert!(broken.score > base.score);
    assert_eq!(broken.reasons[0], "2 promises broken in the last 90 days");
    let asked = [now() - Duration::days(1)];
    let callback = CallHistory {
        outbound: &asked,
        callback: Some(now() - Duration::minutes(10)),
    };
    let due_now = assess(
        &facts(AccountStatus::Active),
        &callback,
        &policy,
        &signals(&owed, 2),
        now(),
    )
    .unwrap();
    assert!(due_now.score > broken.score);
    assert!(due_now.reasons[0].starts_with("asked to be called back at"));
    assert_eq!(due_now.reasons.last().unwrap(), "last called yesterday");
}

#[test]
fn called_today_waits_for_tomorrows_opening_and_lasting_blocks_have_no_place() {
    let owed = [(due(30), gbp(100))];
    let policy = ContactPolicy::default();
    let today = [now() - Duration::hours(1)];
    let called = CallHistory {
        outbound: &today,
        callback: None,
    };
    let item = assess(
        &facts(AccountStatus::Active),
        &called,
        &policy,
        &signals(&owed, 0),
        now(),
    )
    .unwrap();
    assert_eq!(item.callable_from, london(2026, 11, 26, 9, 0));
    assert_eq!(item.callable_until, london(2026, 11, 26, 17, 30));
    let none = CallHistory {
        outbound: &[],
        callback: None,
    };
    for status in [AccountStatus::OnHold, AccountStatus::WithAgency] {
        assert_eq!(
            assess(&facts(status), &none, &policy, &signals(&owed, 0), now()),
            None
        );
    }
    // Nothing overdue yet: nothing to chase.
    let current = [(due(-3), gbp(100))];
    assert_eq!(
        assess(
            &facts(AccountStatus::Active),
            &none,
            &policy,
            &signals(&current, 0),
            now()
        ),
        None
    );
}

#[test]
fn a_plan_on_track_waits_for_its_courtesy_window_and_missed_instalments_rank_with_broken_promises()
{
    let owed = [(due(30), gbp(100))];
    let policy = ContactPolicy::default();
    let none = CallHistory {
        outbound: &[],
        callback: None,
    };
    // The next instalment is on 4 December; the courtesy window opens two days before.
    let quiet =
        facts(AccountStatus::Active).with_plan_quiet_until(NaiveDate::from_ymd_opt(2026, 12, 2));
    let item = assess(&quiet, &none, &policy, &signals(&owed, 0), now()).unwrap();
    assert_eq!(item.callable_from, london(2026, 12, 2, 9, 0));
    let status = crate::contact::contact_status(&quiet, &none, &policy, now());
    assert_eq!(
        status.blocks.iter().map(|b| b.reason).collect::<Vec<_>>(),
        [crate::contact::BlockReason::PlanOnTrack]
    );

    let missed = Signals {
        missed_instalments: 2,
        ..signals(&owed, 0)
    };
    let item = assess(
        &facts(AccountStatus::Active),
        &none,
        &policy,
        &missed,
        now(),
    )
    .unwrap();
    assert_eq!(item.score / TIER, 2);
    assert_eq!(item.reasons[0], "2 instalments missed on the payment plan");
}

#[test]
fn amounts_in_different_currencies_rank_only_in_a_base_currency() {
    let f = facts(AccountStatus::Active);
    let none = CallHistory {
        outbound: &[],
        callback: None,
    };
    let policy = ContactPolicy::default();
    let jpy = |units: i64| Money::from_minor(units, Currency::from_code("JPY").unwrap());
    // ¥100,000 overdue 10 days against £1,000 overdue 10 days: in their own units the yen
    // account outranks the pound one a hundredfold; at 0.0053 GBP a yen it is about half of it.
    let yen = [(due(10), jpy(100_000))];
    let pounds = [(due(10), gbp(1_000))];
    let own = |owed| {
        assess(&f, &none, &policy, &signals(owed, 0), now())
            .unwrap()
            .score
    };
    assert!(own(&yen) > own(&pounds));
    let base = |owed, weigh_in| {
        let s = Signals {
            weigh_in,
            ..signals(owed, 0)
        };
        assess(&f, &none, &policy, &s, now()).unwrap()
    };
    let rate = Decimal::new(53, 4);
    assert!(
        base(&yen, Weighing::Base(rate)).score < base(&pounds, Weighing::Base(Decimal::ONE)).score
    );
    // Without a rate, never an amount compared across currencies: its tier alone.
    let unrated = base(&yen, Weighing::NoRate);
    assert_eq!(unrated.score % TIER, 0);
    assert!(
        unrated
            .reasons
            .iter()
            .any(|r| r.contains("no rate from JPY"))
    );
}
