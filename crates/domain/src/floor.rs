//! The floor's rules: when an account may be claimed (reserved for one agent while the call is
//! prepared and made), whether a claim covers a call, how long a claim may be held, and what an
//! outbound call that was made anyway breached. The contact rules refuse the *dial* (the claim);
//! a call that happened is always recorded, with its breaches.

use chrono::{DateTime, Duration, Utc};

use crate::contact::{Block, BlockReason, ContactStatus};
use crate::policy::FloorPolicy;

/// How a claim ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimEnd {
    /// A call was recorded under it.
    Recorded,
    /// Its holder (or a supervisor) gave it up.
    Released,
    /// Its time ran out.
    Expired,
}

impl ClaimEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recorded => "recorded",
            Self::Released => "released",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "recorded" => Some(Self::Recorded),
            "released" => Some(Self::Released),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }
}

/// A claim as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub id: i64,
    pub account_id: i64,
    /// The credential subject holding it.
    pub agent: String,
    pub claim_time: DateTime<Utc>,
    pub expire_time: DateTime<Utc>,
    /// When and how it ended, if it has (an expiry is recorded once someone looks).
    pub ended: Option<(DateTime<Utc>, ClaimEnd)>,
    /// A supervisor's reason for claiming despite a lapsing contact rule.
    pub override_reason: Option<String>,
}

impl Claim {
    /// Whether the claim holds its account at `now`.
    pub fn live_at(&self, now: DateTime<Utc>) -> bool {
        self.ended.is_none() && now < self.expire_time
    }

    /// How the claim stands at `now`: ended as recorded or released, expired (whether or not that
    /// was recorded yet), or live.
    pub fn end_at(&self, now: DateTime<Utc>) -> Option<ClaimEnd> {
        match self.ended {
            Some((_, how)) => Some(how),
            None if now >= self.expire_time => Some(ClaimEnd::Expired),
            None => None,
        }
    }

    /// The latest a claim made at `claim_time` may be held until.
    pub fn longest(claim_time: DateTime<Utc>, policy: &FloorPolicy) -> DateTime<Utc> {
        claim_time + Duration::minutes(i64::from(policy.max_claim_minutes))
    }

    /// The expiry an extension at `now` gives, or `None` when the claim is already held as long as
    /// a claim may be.
    pub fn extended(&self, now: DateTime<Utc>, policy: &FloorPolicy) -> Option<DateTime<Utc>> {
        let wanted = now + Duration::minutes(i64::from(policy.claim_minutes));
        let new = wanted.min(Self::longest(self.claim_time, policy));
        (new > self.expire_time).then_some(new)
    }
}

/// Why an account may not be claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unclaimable {
    /// A lasting contact rule (agency, cease-contact, nothing owed, all disputed, on hold): never.
    Lasting(Vec<Block>),
    /// Lapsing rules only (call limits, calling hours, a callback, a plan on track): a supervisor
    /// may claim anyway, with a reason.
    Lapsing(Vec<Block>),
}

/// Whether an account whose contact status is `status` may be claimed, under a supervisor's
/// override or not.
pub fn claimable(status: &ContactStatus, overridden: bool) -> Result<(), Unclaimable> {
    let lasting: Vec<Block> = status
        .blocks
        .iter()
        .filter(|b| b.until.is_none())
        .cloned()
        .collect();
    if !lasting.is_empty() {
        return Err(Unclaimable::Lasting(lasting));
    }
    if status.blocks.is_empty() || overridden {
        Ok(())
    } else {
        Err(Unclaimable::Lapsing(status.blocks.clone()))
    }
}

/// Why a claim named on a call does not cover it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotCovered {
    /// Another agent holds (or held) it.
    NotYours { holder: String },
    /// A call was already recorded under it, or it was released before the call started.
    Ended(ClaimEnd),
    /// The call started before the claim was made or after it expired.
    OutsideClaim {
        claim_time: DateTime<Utc>,
        expire_time: DateTime<Utc>,
    },
}

/// Whether `claim` covers an outbound call by `agent` that started at `start`: the agent's own
/// claim, not used by another call or released before the call, with the start inside it (a call
/// started while the claim held is covered however long it lasted). `skew` allows for the
/// desktop's clock.
pub fn covers(
    claim: &Claim,
    agent: &str,
    start: DateTime<Utc>,
    skew: Duration,
) -> Result<(), NotCovered> {
    if claim.agent != agent {
        return Err(NotCovered::NotYours {
            holder: claim.agent.clone(),
        });
    }
    match claim.ended {
        Some((_, ClaimEnd::Recorded)) => return Err(NotCovered::Ended(ClaimEnd::Recorded)),
        Some((at, ClaimEnd::Released)) if at <= start => {
            return Err(NotCovered::Ended(ClaimEnd::Released));
        }
        _ => {}
    }
    if start < claim.claim_time - skew || start >= claim.expire_time + skew {
        return Err(NotCovered::OutsideClaim {
            claim_time: claim.claim_time,
            expire_time: claim.expire_time,
        });
    }
    Ok(())
}

/// A rule an outbound call broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// A contact rule in force at the call's start.
    Contact(BlockReason),
    /// Made without a claim by its agent: nothing kept another agent from calling too.
    Unclaimed,
}

/// Every rule by its stored name.
const RULES: [(Rule, &str); 10] = [
    (
        Rule::Contact(BlockReason::CallLimitReached),
        "call_limit_reached",
    ),
    (
        Rule::Contact(BlockReason::OutsideCallingHours),
        "outside_calling_hours",
    ),
    (Rule::Contact(BlockReason::Disputed), "disputed"),
    (Rule::Contact(BlockReason::WithAgency), "with_agency"),
    (Rule::Contact(BlockReason::CeaseCalls), "cease_calls"),
    (
        Rule::Contact(BlockReason::CallbackScheduled),
        "callback_scheduled",
    ),
    (Rule::Contact(BlockReason::NothingOwed), "nothing_owed"),
    (Rule::Contact(BlockReason::OnHold), "on_hold"),
    (Rule::Contact(BlockReason::PlanOnTrack), "plan_on_track"),
    (Rule::Unclaimed, "unclaimed"),
];

impl Rule {
    /// The stable name a breach is kept under.
    pub fn as_str(self) -> &'static str {
        RULES
            .iter()
            .find(|(r, _)| *r == self)
            .map(|(_, n)| *n)
            .expect("every rule is named")
    }

    pub fn parse(s: &str) -> Option<Self> {
        RULES.iter().find(|(_, n)| *n == s).map(|(r, _)| *r)
    }
}

/// One rule a recorded call broke, at the call's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    pub rule: Rule,
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// The rules an outbound call that started at `start` broke: each contact rule in force then (a
/// lapsing one is set aside by a supervisor's override; a lasting one never is), and `Unclaimed`
/// when no claim of its agent covered it.
pub fn breaches(
    status_at_start: &ContactStatus,
    overridden: bool,
    claimed: bool,
    start: DateTime<Utc>,
) -> Vec<Breach> {
    let mut out: Vec<Breach> = status_at_start
        .blocks
        .iter()
        .filter(|b| b.until.is_none() || !overridden)
        .map(|b| Breach {
            rule: Rule::Contact(b.reason),
            detail: b.description.clone(),
            at: start,
        })
        .collect();
    if !claimed {
        out.push(Breach {
            rule: Rule::Unclaimed,
            detail: "made without a claim on the account, so nothing kept another agent from \
                     calling it too"
                .to_owned(),
            at: start,
        });
    }
    out
}

#[cfg(test)]
mod tests;
