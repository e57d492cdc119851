//! Whether an account may be called at an instant, every reason it may not, and the earliest instant
//! it may. Lasting blocks (nothing owed, all disputed, with an agency, on hold, cease-calls) have no
//! end; lapsing ones (the call limits, calling hours, a callback arranged for later) do, and
//! `next_allowed` is when the last of them lapses. Inbound calls are never refused: these rules are
//! for calls we make.

use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveTime, Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::account::AccountStatus;
use crate::policy::ContactPolicy;
use crate::text::{British, Formats, plural};

/// What the rules need to know about the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactFacts {
    pub status: AccountStatus,
    pub cease_calls: bool,
    pub time_zone: Tz,
    /// Something is owed.
    pub owed: bool,
    /// Something is owed that is not disputed.
    pub collectable: bool,
    /// A payment plan on track: no collection calls before this local day (the courtesy window
    /// before its next instalment).
    pub plan_quiet_until: Option<NaiveDate>,
}

impl ContactFacts {
    /// The facts of an account whose invoices are `(outstanding, disputed)`: the one place that says
    /// what "owed" and "collectable" mean for the rules, read by the account view and by the write
    /// that enforces them alike.
    pub fn new(
        status: AccountStatus,
        cease_calls: bool,
        time_zone: Tz,
        invoices: impl IntoIterator<Item = (Decimal, bool)>,
    ) -> Self {
        let (mut owed, mut collectable) = (false, false);
        for (outstanding, disputed) in invoices {
            if outstanding.is_sign_positive() && !outstanding.is_zero() {
                owed = true;
                collectable |= !disputed;
            }
        }
        Self {
            status,
            cease_calls,
            time_zone,
            owed,
            collectable,
            plan_quiet_until: None,
        }
    }

    /// The same facts with a payment plan on track until `quiet_until`.
    pub fn with_plan_quiet_until(self, quiet_until: Option<NaiveDate>) -> Self {
        Self {
            plan_quiet_until: quiet_until,
            ..self
        }
    }
}

/// What the rules need to know about past calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallHistory<'a> {
    /// When each outbound call started, in any order.
    pub outbound: &'a [DateTime<Utc>],
    /// The time the debtor asked to be called back, when the most recent call ended that way.
    pub callback: Option<DateTime<Utc>>,
}

/// Why an account may not be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BlockReason {
    CallLimitReached,
    OutsideCallingHours,
    Disputed,
    WithAgency,
    CeaseCalls,
    CallbackScheduled,
    NothingOwed,
    OnHold,
    PlanOnTrack,
}

/// One reason an account may not be called, in plain words with the limit that applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub reason: BlockReason,
    pub description: String,
    /// When this reason lapses; `None` for a lasting one.
    pub until: Option<DateTime<Utc>>,
}

/// Whether an account may be called at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactStatus {
    /// Every reason it may not be; empty when it may.
    pub blocks: Vec<Block>,
    /// The earliest instant (not before the one asked about) at which it may; `None` while a lasting
    /// block holds.
    pub next_allowed: Option<DateTime<Utc>>,
}

impl ContactStatus {
    pub fn may_call(&self) -> bool {
        self.blocks.is_empty()
    }
}

/// Whether an outbound call may be made at `at`.
pub fn contact_status(
    facts: &ContactFacts,
    history: &CallHistory<'_>,
    policy: &ContactPolicy,
    at: DateTime<Utc>,
) -> ContactStatus {
    let lasting = lasting_blocks(facts);
    let quiet = facts
        .plan_quiet_until
        .map(|d| local_instant(facts.time_zone, d, NaiveTime::MIN));
    let next_allowed = if lasting.is_empty() {
        next_allowed(facts.time_zone, history, quiet, policy, at)
    } else {
        None
    };
    let mut blocks = lasting;
    blocks.extend(lapsing_blocks(facts.time_zone, history, quiet, policy, at));
    ContactStatus {
        blocks,
        next_allowed,
    }
}

fn lasting_blocks(facts: &ContactFacts) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lasting = |reason, description: &str| {
        blocks.push(Block {
            reason,
            description: description.to_owned(),
            until: None,
        })
    };
    if !facts.owed {
        lasting(BlockReason::NothingOwed, "nothing is owed");
    } else if !facts.collectable {
        lasting(
            BlockReason::Disputed,
            "everything owed is disputed: no chasing until the dispute is resolved",
        );
    }
    match facts.status {
        AccountStatus::WithAgency => lasting(
            BlockReason::WithAgency,
            "the account is with a collection agency: no calls from us",
        ),
        AccountStatus::OnHold => lasting(BlockReason::OnHold, "collection is on hold"),
        AccountStatus::Active | AccountStatus::Closed => {}
    }
    if facts.cease_calls {
        lasting(
            BlockReason::CeaseCalls,
            "the debtor asked not to be called (letters continue)",
        );
    }
    blocks
}

/// The blocks that lapse by themselves, at `at`. A callback's time and the window after it waive
/// the limits, calling hours and a plan's quiet time (the debtor asked for the call).
fn lapsing_blocks(
    tz: Tz,
    history: &CallHistory<'_>,
    quiet: Option<DateTime<Utc>>,
    policy: &ContactPolicy,
    at: DateTime<Utc>,
) -> Vec<Block> {
    let mut blocks = Vec::new();
    if let Some(callback) = history.callback {
        if at < callback {
            blocks.push(Block {
                reason: BlockReason::CallbackScheduled,
                description: format!(
                    "the debtor asked to be called back at {}",
                    local_text(tz, callback)
                ),
                until: Some(callback),
            });
        } else if at <= callback_window_end(policy, callback) {
            return blocks;
        }
    }
    blocks.extend(rule_blocks(tz, history.outbound, quiet, policy, at));
    blocks
}

fn callback_window_end(policy: &ContactPolicy, callback: DateTime<Utc>) -> DateTime<Utc> {
    callback + Duration::minutes(i64::from(policy.callback_window_minutes))
}

/// The call limits, calling hours and a plan's quiet time at `at`, ignoring any callback.
fn rule_blocks(
    tz: Tz,
    outbound: &[DateTime<Utc>],
    quiet: Option<DateTime<Utc>>,
    policy: &ContactPolicy,
    at: DateTime<Utc>,
) -> Vec<Block> {
    let mut blocks = Vec::new();
    if let Some(q) = quiet.filter(|q| at < *q) {
        blocks.push(Block {
            reason: BlockReason::PlanOnTrack,
            description: format!(
                "a payment plan is on track: no collection calls until a courtesy call from {}",
                local_text(tz, q)
            ),
            until: Some(q),
        });
    }
    let today = at.with_timezone(&tz).date_naive();

    // The whole local day counts, so a call recorded late cannot make room for a second one.
    let calls_today = outbound
        .iter()
        .filter(|c| c.with_timezone(&tz).date_naive() == today)
        .count();
    if calls_today >= policy.max_calls_per_day as usize {
        blocks.push(Block {
            reason: BlockReason::CallLimitReached,
            description: format!(
                "already called {} today (limit {} a day in {tz})",
                plural(calls_today, "time", "times"),
                policy.max_calls_per_day
            ),
            until: today
                .succ_opt()
                .map(|d| local_instant(tz, d, NaiveTime::MIN)),
        });
    }

    if let Some(limit) = policy.rolling_limit {
        let window = Duration::days(i64::from(limit.days));
        let mut recent: Vec<_> = outbound
            .iter()
            .filter(|c| **c <= at && **c > at - window)
            .copied()
            .collect();
        if recent.len() >= limit.max_calls as usize {
            recent.sort_unstable();
            // Room for one more once all but max_calls - 1 of them have left the window.
            let leaving = recent[recent.len() - limit.max_calls as usize];
            blocks.push(Block {
                reason: BlockReason::CallLimitReached,
                description: format!(
                    "already called {} in the last {} (limit {})",
                    plural(recent.len(), "time", "times"),
                    plural(limit.days as usize, "day", "days"),
                    limit.max_calls
                ),
                until: Some(leaving + window),
            });
        }
    }

    if !inside_hours(tz, policy, at) {
        let opens = next_opening(tz, policy, at);
        blocks.push(Block {
            reason: BlockReason::OutsideCallingHours,
            description: match opens {
                Some(t) => format!(
                    "outside calling hours in {tz}; next opening {}",
                    local_text(tz, t)
                ),
                None => format!("no calling hours configured in the coming year ({tz})"),
            },
            until: opens,
        });
    }
    blocks
}

/// The earliest instant from `at` on at which every lapsing block has lapsed.
fn next_allowed(
    tz: Tz,
    history: &CallHistory<'_>,
    quiet: Option<DateTime<Utc>>,
    policy: &ContactPolicy,
    at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if let Some(callback) = history.callback {
        if at < callback {
            return Some(callback);
        }
        if at <= callback_window_end(policy, callback) {
            return Some(at);
        }
    }
    // Each rule's `until` is the earliest instant that rule allows, so no instant before the latest
    // of them is allowed; jumping there and looking again converges on the earliest allowed one.
    let mut t = at;
    for _ in 0..64 {
        let blocks = rule_blocks(tz, history.outbound, quiet, policy, t);
        if blocks.is_empty() {
            return Some(t);
        }
        let mut latest = t;
        for block in blocks {
            latest = latest.max(block.until?);
        }
        if latest == t {
            return None;
        }
        t = latest;
    }
    None
}

/// The first instant, from `at` on, inside calling hours; `None` when none opens within a year.
/// Hours open where the local clock reaches `start` (twice on a day the clocks go back over it) or
/// where a clock change moves the local time into the hours; those are the only candidates.
fn next_opening(tz: Tz, policy: &ContactPolicy, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut date = at.with_timezone(&tz).date_naive();
    for _ in 0..=366 {
        if let Some(hours) = policy.hours_on(date) {
            let mut candidates = local_instants(tz, date, hours.start);
            candidates.extend(clock_change(tz, date));
            candidates.sort_unstable();
            if let Some(opens) = candidates
                .into_iter()
                .find(|c| *c >= at && inside_hours(tz, policy, *c))
            {
                return Some(opens);
            }
        }
        date = date.succ_opt()?;
    }
    None
}

fn inside_hours(tz: Tz, policy: &ContactPolicy, t: DateTime<Utc>) -> bool {
    let local = t.with_timezone(&tz);
    policy
        .hours_on(local.date_naive())
        .is_some_and(|h| h.start <= local.time() && local.time() < h.end)
}

/// Every instant a local date and time happen in `tz`: two when clocks go back over it, and the end
/// of the gap when clocks go forward over it.
fn local_instants(tz: Tz, date: NaiveDate, time: NaiveTime) -> Vec<DateTime<Utc>> {
    match tz.from_local_datetime(&date.and_time(time)) {
        LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
        LocalResult::Ambiguous(a, b) => vec![a.with_timezone(&Utc), b.with_timezone(&Utc)],
        LocalResult::None => vec![local_instant(tz, date, time)],
    }
}

/// The instant the clocks change on a local date, if they do (to the second).
fn clock_change(tz: Tz, date: NaiveDate) -> Option<DateTime<Utc>> {
    let from = local_instant(tz, date, NaiveTime::MIN);
    let to = local_instant(tz, date.succ_opt()?, NaiveTime::MIN) - Duration::seconds(1);
    let offset = |t: DateTime<Utc>| t.with_timezone(&tz).offset().fix();
    if offset(from) == offset(to) {
        return None;
    }
    // The first second with the later offset.
    let (mut lo, mut hi) = (from, to);
    while hi - lo > Duration::seconds(1) {
        let mid = lo + (hi - lo) / 2;
        if offset(mid) == offset(from) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
}

/// The instant a local date and time happen in `tz`: the earlier of two when clocks go back, and
/// the end of the gap (the first instant that exists) when clocks go forward over it.
pub fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut local = date.and_time(time);
    loop {
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc);
        }
        // Inside a gap; gaps end on a whole minute in every zone's modern rules.
        local = local
            .with_second(0)
            .and_then(|l| l.with_nanosecond(0))
            .unwrap_or(local)
            + Duration::minutes(1);
    }
}

/// "Mon 23 November 2026 09:00 GMT": the debtor's local time, in the service's one format.
pub fn local_text(tz: Tz, t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&tz);
    format!(
        "{} {} {}",
        local.format("%a"),
        British.date(local.date_naive()),
        local.format("%H:%M %Z")
    )
}

#[cfg(test)]
mod tests;
