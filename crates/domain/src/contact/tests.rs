use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, NaiveTime};
use chrono_tz::{America, Europe, Pacific};
use proptest::prelude::*;

use super::*;
use crate::policy::{DayHours, RollingLimit};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test instant")
        .with_timezone(&Utc)
}

fn active(tz: Tz) -> ContactFacts {
    ContactFacts {
        status: AccountStatus::Active,
        cease_calls: false,
        time_zone: tz,
        owed: true,
        collectable: true,
        plan_quiet_until: None,
    }
}

fn status_at(
    facts: &ContactFacts,
    calls: &[DateTime<Utc>],
    callback: Option<DateTime<Utc>>,
    policy: &ContactPolicy,
    at: DateTime<Utc>,
) -> ContactStatus {
    let history = CallHistory {
        outbound: calls,
        callback,
    };
    contact_status(facts, &history, policy, at)
}

fn reasons(status: &ContactStatus) -> Vec<BlockReason> {
    status.blocks.iter().map(|b| b.reason).collect()
}

#[test]
fn an_account_not_called_today_may_be_called_in_office_hours() {
    let at = utc("2026-11-23T10:00:00Z"); // Monday, 10:00 in London (GMT)
    let status = status_at(
        &active(Europe::London),
        &[],
        None,
        &ContactPolicy::default(),
        at,
    );
    assert!(status.may_call());
    assert_eq!(status.next_allowed, Some(at));
}

#[test]
fn a_second_call_waits_for_the_next_local_working_morning() {
    let policy = ContactPolicy::default();
    let facts = active(Europe::London);
    let monday = [utc("2026-11-23T09:15:00Z")];
    let status = status_at(&facts, &monday, None, &policy, utc("2026-11-23T11:00:00Z"));
    assert_eq!(reasons(&status), [BlockReason::CallLimitReached]);
    assert_eq!(status.blocks[0].until, Some(utc("2026-11-24T00:00:00Z")));
    assert_eq!(status.next_allowed, Some(utc("2026-11-24T09:00:00Z")));

    let friday = [utc("2026-11-27T09:15:00Z")];
    let status = status_at(&facts, &friday, None, &policy, utc("2026-11-27T11:00:00Z"));
    assert_eq!(status.next_allowed, Some(utc("2026-11-30T09:00:00Z")));
}

#[test]
fn the_weekend_across_the_spring_clock_change_in_london_reopens_at_nine_local() {
    // Clocks go forward on Sunday 29 March 2026: Monday 09:00 BST is 08:00 UTC.
    let status = status_at(
        &active(Europe::London),
        &[utc("2026-03-27T10:00:00Z")],
        None,
        &ContactPolicy::default(),
        utc("2026-03-27T12:00:00Z"),
    );
    assert_eq!(status.next_allowed, Some(utc("2026-03-30T08:00:00Z")));
}

#[test]
fn an_opening_inside_the_new_york_spring_gap_is_the_end_of_the_gap() {
    // 02:00–03:00 does not exist on Sunday 8 March 2026 in New York; hours open at 02:30.
    let mut policy = ContactPolicy::default();
    policy.hours[6] = Some(DayHours {
        start: NaiveTime::from_hms_opt(2, 30, 0).unwrap(),
        end: NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
    });
    let status = status_at(
        &active(America::New_York),
        &[],
        None,
        &policy,
        utc("2026-03-08T05:00:00Z"), // 00:00 EST
    );
    assert_eq!(reasons(&status), [BlockReason::OutsideCallingHours]);
    assert_eq!(status.next_allowed, Some(utc("2026-03-08T07:00:00Z"))); // 03:00 EDT
}

#[test]
fn the_debtors_calendar_day_counts_not_utcs() {
    // 21:00 UTC Monday is 10:00 Tuesday in Auckland (NZDT, +13); 23:30 UTC is 12:30 the same Tuesday.
    let facts = active(Pacific::Auckland);
    let policy = ContactPolicy::default();
    let calls = [utc("2026-11-23T21:00:00Z")];
    let status = status_at(&facts, &calls, None, &policy, utc("2026-11-23T23:30:00Z"));
    assert_eq!(reasons(&status), [BlockReason::CallLimitReached]);
    // Wednesday 09:00 NZDT.
    assert_eq!(status.next_allowed, Some(utc("2026-11-24T20:00:00Z")));
}

#[test]
fn a_callback_waits_for_its_time_then_waives_the_limit_and_the_hours() {
    let facts = active(Europe::London);
    let policy = ContactPolicy::default();
    let calls = [utc("2026-11-23T09:15:00Z")];
    let asked_for = utc("2026-11-23T18:00:00Z"); // after hours, at the debtor's request
    let callback = Some(asked_for);
    let before = status_at(
        &facts,
        &calls,
        callback,
        &policy,
        utc("2026-11-23T12:00:00Z"),
    );
    assert!(reasons(&before).contains(&BlockReason::CallbackScheduled));
    assert_eq!(before.next_allowed, callback);
    let at = status_at(&facts, &calls, callback, &policy, asked_for);
    assert!(at.may_call(), "{at:?}");
    let after_window = status_at(
        &facts,
        &calls,
        callback,
        &policy,
        utc("2026-11-23T18:31:00Z"),
    );
    assert!(!after_window.may_call());
    assert_eq!(after_window.next_allowed, Some(utc("2026-11-24T09:00:00Z")));
}

#[test]
fn a_rolling_house_rule_holds_on_top_of_the_daily_limit() {
    let policy = ContactPolicy {
        rolling_limit: Some(RollingLimit {
            max_calls: 2,
            days: 7,
        }),
        ..ContactPolicy::default()
    };
    let calls = [utc("2026-11-23T10:00:00Z"), utc("2026-11-24T10:00:00Z")];
    let status = status_at(
        &active(Europe::London),
        &calls,
        None,
        &policy,
        utc("2026-11-25T10:00:00Z"),
    );
    assert_eq!(reasons(&status), [BlockReason::CallLimitReached]);
    // The Monday call leaves the window seven days later, on Monday 30 November at 10:00.
    assert_eq!(status.next_allowed, Some(utc("2026-11-30T10:00:00Z")));
}

#[test]
fn lasting_blocks_have_no_next_time_and_are_all_listed() {
    let policy = ContactPolicy::default();
    let at = utc("2026-11-23T10:00:00Z");
    let facts = ContactFacts {
        status: AccountStatus::WithAgency,
        cease_calls: true,
        collectable: false,
        ..active(Europe::London)
    };
    let status = status_at(&facts, &[], None, &policy, at);
    assert_eq!(
        reasons(&status),
        [
            BlockReason::Disputed,
            BlockReason::WithAgency,
            BlockReason::CeaseCalls
        ]
    );
    assert_eq!(status.next_allowed, None);
    let nothing = ContactFacts {
        owed: false,
        collectable: false,
        ..active(Europe::London)
    };
    let status = status_at(&nothing, &[], None, &policy, at);
    assert_eq!(reasons(&status), [BlockReason::NothingOwed]);
    let held = ContactFacts {
        status: AccountStatus::OnHold,
        ..active(Europe::London)
    };
    assert_eq!(
        reasons(&status_at(&held, &[], None, &policy, at)),
        [BlockReason::OnHold]
    );
}

#[test]
fn non_working_dates_are_skipped() {
    let policy = ContactPolicy {
        non_working_dates: BTreeSet::from([NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()]),
        ..ContactPolicy::default()
    };
    let status = status_at(
        &active(Europe::London),
        &[],
        None,
        &policy,
        utc("2026-12-24T18:00:00Z"),
    );
    assert_eq!(status.next_allowed, Some(utc("2026-12-28T09:00:00Z")));
}

/// The rules written out directly, instant by instant: what the search must agree with.
fn oracle(
    facts: &ContactFacts,
    calls: &[DateTime<Utc>],
    callback: Option<DateTime<Utc>>,
    policy: &ContactPolicy,
    t: DateTime<Utc>,
) -> bool {
    if !facts.owed
        || !facts.collectable
        || facts.cease_calls
        || matches!(
            facts.status,
            AccountStatus::WithAgency | AccountStatus::OnHold
        )
    {
        return false;
    }
    if let Some(cb) = callback {
        if t < cb {
            return false;
        }
        if t <= cb + Duration::minutes(i64::from(policy.callback_window_minutes)) {
            return true;
        }
    }
    let tz = facts.time_zone;
    let local = t.with_timezone(&tz);
    let day = local.date_naive();
    let today = calls
        .iter()
        .filter(|c| c.with_timezone(&tz).date_naive() == day)
        .count();
    if today >= policy.max_calls_per_day as usize {
        return false;
    }
    if let Some(limit) = policy.rolling_limit {
        let from = t - Duration::days(i64::from(limit.days));
        let recent = calls.iter().filter(|c| **c <= t && **c > from).count();
        if recent >= limit.max_calls as usize {
            return false;
        }
    }
    if policy.non_working_dates.contains(&day) {
        return false;
    }
    match policy.hours[day.weekday().num_days_from_monday() as usize] {
        Some(h) => h.start <= local.time() && local.time() < h.end,
        None => false,
    }
}

/// Instants near the 2026 clock changes in London, New York and Auckland, and ordinary days.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let anchors = [
        "2026-03-08T07:00:00Z", // New York springs forward
        "2026-11-01T06:00:00Z", // New York falls back
        "2026-03-29T01:00:00Z", // London springs forward
        "2026-10-25T01:00:00Z", // London falls back
        "2026-04-04T14:00:00Z", // Auckland falls back (05 April, 03:00 NZDT)
        "2026-09-26T14:00:00Z", // Auckland springs forward (27 September, 02:00 NZST)
        "2026-06-15T12:00:00Z",
        "2026-12-31T11:00:00Z", // New Year's Day begins in Auckland
    ];
    (0..anchors.len(), -4 * 86_400i64..4 * 86_400)
        .prop_map(move |(i, offset)| utc(anchors[i]) + Duration::seconds(offset))
}

fn zone() -> impl Strategy<Value = Tz> {
    prop_oneof![
        Just(Europe::London),
        Just(America::New_York),
        Just(Pacific::Auckland)
    ]
}

fn day_hours() -> impl Strategy<Value = Option<DayHours>> {
    prop_oneof![
        1 => Just(None),
        4 => (0u32..48, 1u32..40).prop_map(|(start, length)| {
            let start = NaiveTime::from_hms_opt(start / 2, (start % 2) * 30, 0).unwrap();
            let end = start
                .overflowing_add_signed(Duration::minutes(i64::from(length) * 30))
                .0;
            let end = if end <= start { NaiveTime::from_hms_opt(23, 59, 0).unwrap() } else { end };
            Some(DayHours { start, end })
        }),
    ]
}

prop_compose! {
    fn policy()(
        max_calls_per_day in 1u32..3,
        rolling in proptest::option::of((1u32..6, 1u32..8)),
        hours in proptest::array::uniform7(day_hours()),
        monday in (0u32..18).prop_map(|h| DayHours {
            start: NaiveTime::from_hms_opt(h, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(h + 6, 0, 0).unwrap(),
        }),
        holidays in proptest::collection::btree_set(0i64..20, 0..3),
        callback_window_minutes in 0u32..120,
    ) -> ContactPolicy {
        let mut hours = hours;
        // At least one working day, as the policy file requires.
        if hours.iter().all(Option::is_none) {
            hours[0] = Some(monday);
        }
        let base = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        ContactPolicy {
            max_calls_per_day,
            rolling_limit: rolling.map(|(max_calls, days)| RollingLimit { max_calls, days }),
            hours,
            non_working_dates: holidays
                .into_iter()
                .map(|d| base + Duration::days(d * 11))
                .collect(),
            callback_window_minutes,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn next_allowed_is_the_first_instant_every_rule_allows(
        tz in zone(),
        now in instant(),
        policy in policy(),
        ago in proptest::collection::vec(1i64..10 * 86_400, 0..6),
        callback in proptest::option::of(-3 * 3_600i64..3 * 86_400),
        probes in proptest::collection::vec(0.0f64..1.0, 12),
    ) {
        let facts = active(tz);
        let calls: Vec<_> = ago.iter().map(|s| now - Duration::seconds(*s)).collect();
        let callback = callback.map(|s| now + Duration::seconds(s));
        let status = status_at(&facts, &calls, callback, &policy, now);
        prop_assert_eq!(status.may_call(), oracle(&facts, &calls, callback, &policy, now));

        let next = status.next_allowed.expect("a working day within a year");
        prop_assert!(next >= now);
        prop_assert_eq!(status.may_call(), next == now);
        let at_next = status_at(&facts, &calls, callback, &policy, next);
        prop_assert!(at_next.may_call(), "not allowed at next_allowed {next}: {at_next:?}");
        prop_assert!(oracle(&facts, &calls, callback, &policy, next));
        if next > now {
            let just_before = next - Duration::seconds(1);
            prop_assert!(!oracle(&facts, &calls, callback, &policy, just_before));
            prop_assert!(!status_at(&facts, &calls, callback, &policy, just_before).may_call());
            let span = (next - now).num_seconds() as f64;
            for p in probes {
                let t = now + Duration::seconds((span * p) as i64);
                prop_assert!(
                    !oracle(&facts, &calls, callback, &policy, t),
                    "allowed at {t}, before next_allowed {next}"
                );
            }
        }
    }

    #[test]
    fn a_lasting_block_never_says_may_call(
        tz in zone(),
        now in instant(),
        policy in policy(),
        status_kind in 0usize..4,
        cease_calls in any::<bool>(),
    ) {
        let mut facts = active(tz);
        match status_kind {
            0 => facts.status = AccountStatus::WithAgency,
            1 => facts.status = AccountStatus::OnHold,
            2 => facts.collectable = false,
            _ => { facts.owed = false; facts.collectable = false; }
        }
        facts.cease_calls = cease_calls;
        let status = status_at(&facts, &[], None, &policy, now);
        prop_assert!(!status.may_call());
        prop_assert_eq!(status.next_allowed, None);
    }
}
