use chrono::{Duration, TimeZone, Utc};

use super::*;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, h, m, 0).unwrap()
}

fn block(reason: BlockReason, until: Option<DateTime<Utc>>) -> Block {
    Block {
        reason,
        description: format!("{reason:?}"),
        until,
    }
}

fn status(blocks: Vec<Block>) -> ContactStatus {
    ContactStatus {
        next_allowed: None,
        blocks,
    }
}

fn claim() -> Claim {
    Claim {
        id: 1,
        account_id: 7,
        agent: "ann".into(),
        claim_time: at(10, 0),
        expire_time: at(10, 5),
        ended: None,
        override_reason: None,
    }
}

#[test]
fn a_lasting_block_is_never_claimable_and_a_lapsing_one_only_under_an_override() {
    let open = status(vec![]);
    assert_eq!(claimable(&open, false), Ok(()));
    let lapsing = status(vec![block(BlockReason::CallLimitReached, Some(at(23, 0)))]);
    assert!(matches!(
        claimable(&lapsing, false),
        Err(Unclaimable::Lapsing(b)) if b.len() == 1
    ));
    assert_eq!(claimable(&lapsing, true), Ok(()));
    let both = status(vec![
        block(BlockReason::CallLimitReached, Some(at(23, 0))),
        block(BlockReason::CeaseCalls, None),
    ]);
    for overridden in [false, true] {
        match claimable(&both, overridden) {
            Err(Unclaimable::Lasting(b)) => {
                assert_eq!(b.len(), 1);
                assert_eq!(b[0].reason, BlockReason::CeaseCalls);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_claim_covers_its_agents_call_started_while_it_held() {
    let c = claim();
    let skew = Duration::seconds(30);
    assert_eq!(covers(&c, "ann", at(10, 4), skew), Ok(()));
    // A call started inside the claim is covered however late it is recorded.
    let recorded_late = Claim {
        ended: Some((at(10, 40), ClaimEnd::Expired)),
        ..c.clone()
    };
    assert_eq!(covers(&recorded_late, "ann", at(10, 4), skew), Ok(()));
    assert_eq!(
        covers(&c, "bob", at(10, 4), skew),
        Err(NotCovered::NotYours {
            holder: "ann".into()
        })
    );
    assert!(matches!(
        covers(&c, "ann", at(10, 6), skew),
        Err(NotCovered::OutsideClaim { .. })
    ));
    assert!(matches!(
        covers(&c, "ann", at(9, 59), skew),
        Err(NotCovered::OutsideClaim { .. })
    ));
    let used = Claim {
        ended: Some((at(10, 3), ClaimEnd::Recorded)),
        ..c.clone()
    };
    assert_eq!(
        covers(&used, "ann", at(10, 1), skew),
        Err(NotCovered::Ended(ClaimEnd::Recorded))
    );
    let released = Claim {
        ended: Some((at(10, 2), ClaimEnd::Released)),
        ..c
    };
    assert_eq!(covers(&released, "ann", at(10, 1), skew), Ok(()));
    assert_eq!(
        covers(&released, "ann", at(10, 3), skew),
        Err(NotCovered::Ended(ClaimEnd::Released))
    );
}

#[test]
fn every_rule_has_a_stored_name_that_reads_back() {
    for (rule, name) in RULES {
        assert_eq!(rule.as_str(), name);
        assert_eq!(Rule::parse(name), Some(rule));
    }
    assert_eq!(Rule::parse("nonsense"), None);
}

#[test]
fn a_claim_is_live_until_it_expires_or_ends() {
    let c = claim();
    assert!(c.live_at(at(10, 4)));
    assert!(!c.live_at(at(10, 5)));
    assert_eq!(c.end_at(at(10, 5)), Some(ClaimEnd::Expired));
    let released = Claim {
        ended: Some((at(10, 1), ClaimEnd::Released)),
        ..c
    };
    assert!(!released.live_at(at(10, 2)));
    assert_eq!(released.end_at(at(10, 2)), Some(ClaimEnd::Released));
}

#[test]
fn an_extension_is_capped_at_the_longest_hold() {
    let policy = FloorPolicy::default();
    let c = claim();
    assert_eq!(c.extended(at(10, 3), &policy), Some(at(10, 8)));
    let near_cap = Claim {
        expire_time: at(10, 28),
        ..c.clone()
    };
    assert_eq!(near_cap.extended(at(10, 27), &policy), Some(at(10, 30)));
    let at_cap = Claim {
        expire_time: at(10, 30),
        ..c
    };
    assert_eq!(at_cap.extended(at(10, 29), &policy), None);
}

#[test]
fn breaches_name_every_rule_and_an_override_sets_aside_only_lapsing_ones() {
    let s = status(vec![
        block(BlockReason::OutsideCallingHours, Some(at(23, 0))),
        block(BlockReason::WithAgency, None),
    ]);
    let rules = |b: Vec<Breach>| b.into_iter().map(|b| b.rule).collect::<Vec<_>>();
    assert_eq!(
        rules(breaches(&s, false, true, at(22, 0))),
        vec![
            Rule::Contact(BlockReason::OutsideCallingHours),
            Rule::Contact(BlockReason::WithAgency)
        ]
    );
    assert_eq!(
        rules(breaches(&s, true, false, at(22, 0))),
        vec![Rule::Contact(BlockReason::WithAgency), Rule::Unclaimed]
    );
    assert!(breaches(&status(vec![]), false, true, at(12, 0)).is_empty());
    let b = breaches(&status(vec![]), false, false, at(12, 0));
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].at, at(12, 0));
}
