//! Reporting: what each record contributes to a manager's figures (its *facts*), so a rollup can be
//! kept incrementally and checked against a full recomputation from the same rules. Every fact is
//! filed under a day in the reporting time zone, the agent it is credited to, the account's queue
//! and currency, a measure and a detail (the rule a call broke, the days a dispute took). The
//! figures made from the facts are in `report::kpis`; the book's position at a day's end in
//! `report::book`.

pub mod book;
pub mod kpis;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// What a fact counts. Each has a count and, where money is involved, an amount in minor units of
/// the account's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Measure {
    /// A payment (amount: its amount), on the day it is dated.
    Collected,
    /// A payment recorded within the attribution window after a promise to pay (credited to the
    /// agent who took the promise).
    CollectedOnPromise,
    /// A payment recorded while a plan was live (credited to the agent who proposed it), and not
    /// after a promise.
    CollectedOnPlan,
    /// A current outbound call (made on our initiative), on the day it started.
    OutboundAttempt,
    /// A current outbound call that reached the right party.
    RightPartyContact,
    /// A current call that obtained a promise to pay (amount: promised).
    PromiseMade,
    /// A promise judged kept, partly kept or broken (amount: promised), on the day it was judged;
    /// the detail is the state.
    PromiseJudged,
    /// Paid towards a judged promise (amount), filed with its judgement.
    PromisePaid,
    PlanCreated,
    PlanApproved,
    PlanSigned,
    PlanCompleted,
    PlanBroken,
    DisputeRaised,
    /// A dispute resolved; the detail is `upheld` or `rejected`.
    DisputeResolved,
    /// A resolved dispute by its whole days from raised to resolved (the detail).
    DisputeDays,
    /// A rule a current call broke (the detail is the rule's stored name).
    RuleBreach,
}

const MEASURES: [(Measure, &str); 17] = [
    (Measure::Collected, "collected"),
    (Measure::CollectedOnPromise, "collected_on_promise"),
    (Measure::CollectedOnPlan, "collected_on_plan"),
    (Measure::OutboundAttempt, "outbound_attempt"),
    (Measure::RightPartyContact, "right_party_contact"),
    (Measure::PromiseMade, "promise_made"),
    (Measure::PromiseJudged, "promise_judged"),
    (Measure::PromisePaid, "promise_paid"),
    (Measure::PlanCreated, "plan_created"),
    (Measure::PlanApproved, "plan_approved"),
    (Measure::PlanSigned, "plan_signed"),
    (Measure::PlanCompleted, "plan_completed"),
    (Measure::PlanBroken, "plan_broken"),
    (Measure::DisputeRaised, "dispute_raised"),
    (Measure::DisputeResolved, "dispute_resolved"),
    (Measure::DisputeDays, "dispute_days"),
    (Measure::RuleBreach, "rule_breach"),
];

impl Measure {
    /// The stable name it is stored under.
    pub fn as_str(self) -> &'static str {
        MEASURES
            .iter()
            .find(|(m, _)| *m == self)
            .map(|(_, n)| *n)
            .expect("every measure is named")
    }

    pub fn parse(s: &str) -> Option<Self> {
        MEASURES.iter().find(|(_, n)| *n == s).map(|(m, _)| *m)
    }
}

/// Where one fact is filed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FactKey {
    pub day: NaiveDate,
    /// The credential subject it is credited to; empty when no agent earned it (a payment after no
    /// promise and during no plan).
    pub agent: String,
    pub queue: String,
    pub currency: String,
    pub measure: Measure,
    pub detail: String,
}

/// A count and an amount in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: i64,
    pub amount_minor: i64,
}

/// Facts summed by where they are filed. Entries that sum to nothing are dropped, so two sets of
/// facts that describe the same records compare equal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts(pub BTreeMap<FactKey, Tally>);

impl Facts {
    pub fn add(&mut self, key: FactKey, count: i64, amount_minor: i64) {
        let t = self.0.entry(key.clone()).or_default();
        t.count += count;
        t.amount_minor += amount_minor;
        if *t == Tally::default() {
            self.0.remove(&key);
        }
    }

    /// Adds `other`'s facts `sign` times (-1 takes them back).
    pub fn merge(&mut self, other: &Facts, sign: i64) {
        for (k, t) in &other.0 {
            self.add(k.clone(), sign * t.count, sign * t.amount_minor);
        }
    }
}

/// The account a record belongs to, as its facts are filed: its queue and currency, and the zone
/// whose calendar days the report counts in.
#[derive(Debug, Clone, Copy)]
pub struct Filing<'a> {
    pub queue: &'a str,
    pub currency: &'a str,
    pub zone: Tz,
}

impl Filing<'_> {
    fn key(&self, at: NaiveDate, agent: &str, measure: Measure, detail: &str) -> FactKey {
        FactKey {
            day: at,
            agent: agent.to_owned(),
            queue: self.queue.to_owned(),
            currency: self.currency.to_owned(),
            measure,
            detail: detail.to_owned(),
        }
    }

    /// The reporting day of an instant.
    pub fn day(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.zone).date_naive()
    }
}

/// A call as its facts need it.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub start_time: DateTime<Utc>,
    pub agent: String,
    pub outbound: bool,
    pub right_party: bool,
    /// Promised, in minor units, when the call obtained a promise to pay.
    pub promise_minor: Option<i64>,
    /// The stored names of the rules it broke.
    pub breaches: Vec<String>,
}

/// A current call's facts (a call a correction replaced has none: the correction's count instead).
pub fn call_facts(call: &CallRecord, filing: &Filing, out: &mut Facts) {
    let day = filing.day(call.start_time);
    let key = |m, d: &str| filing.key(day, &call.agent, m, d);
    if call.outbound {
        out.add(key(Measure::OutboundAttempt, ""), 1, 0);
        if call.right_party {
            out.add(key(Measure::RightPartyContact, ""), 1, 0);
        }
    }
    if let Some(promised) = call.promise_minor {
        out.add(key(Measure::PromiseMade, ""), 1, promised);
    }
    for rule in &call.breaches {
        out.add(key(Measure::RuleBreach, rule), 1, 0);
    }
}

/// Who earned a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribution {
    /// The agent who took the promise it followed.
    Promise(String),
    /// The agent who proposed the plan it was paid under.
    Plan(String),
    None,
}

/// A call on the account, as attribution reads it.
#[derive(Debug, Clone)]
pub struct PastCall {
    pub id: i64,
    pub start_time: DateTime<Utc>,
    /// When it was recorded: a call recorded after a payment never earns it.
    pub create_time: DateTime<Utc>,
    pub agent: String,
    pub promised: bool,
    pub corrects: Option<i64>,
}

/// A plan on the account, as attribution reads it.
#[derive(Debug, Clone)]
pub struct PastPlan {
    pub create_time: DateTime<Utc>,
    pub end_time: Option<DateTime<Utc>>,
    pub proposed_by: String,
}

/// Who earned a payment recorded at `recorded`: the agent of the latest promise started within
/// `days` days before it (among the calls recorded before it and not corrected before it);
/// otherwise the proposer of a plan live then (created before it, not ended before it; the latest
/// created); otherwise nobody. Only what was recorded strictly before the payment counts, and a
/// plan ending at the payment's instant (the payment completed it) was live for it: the rollup
/// folds a payment soon after it is recorded and a recomputation reads it much later, and both
/// must give the same answer.
pub fn attribute(
    recorded: DateTime<Utc>,
    days: u32,
    calls: &[PastCall],
    plans: &[PastPlan],
) -> Attribution {
    let since = recorded - chrono::Duration::days(i64::from(days));
    let known = |c: &&PastCall| c.create_time < recorded;
    let corrected: Vec<i64> = calls
        .iter()
        .filter(known)
        .filter_map(|c| c.corrects)
        .collect();
    let promise = calls
        .iter()
        .filter(known)
        .filter(|c| c.promised && !corrected.contains(&c.id))
        .filter(|c| c.start_time >= since && c.start_time <= recorded)
        .max_by_key(|c| (c.start_time, c.id));
    if let Some(c) = promise {
        return Attribution::Promise(c.agent.clone());
    }
    plans
        .iter()
        .filter(|p| p.create_time < recorded && p.end_time.is_none_or(|e| e >= recorded))
        .max_by_key(|p| p.create_time)
        .map_or(Attribution::None, |p| {
            Attribution::Plan(p.proposed_by.clone())
        })
}

/// A payment's facts: collected on the day it is dated, and, when someone earned it, collected on
/// their promise or plan.
pub fn payment_facts(
    amount_minor: i64,
    dated: NaiveDate,
    by: &Attribution,
    filing: &Filing,
    out: &mut Facts,
) {
    let (agent, earned) = match by {
        Attribution::Promise(a) => (a.as_str(), Some(Measure::CollectedOnPromise)),
        Attribution::Plan(a) => (a.as_str(), Some(Measure::CollectedOnPlan)),
        Attribution::None => ("", None),
    };
    out.add(
        filing.key(dated, agent, Measure::Collected, ""),
        1,
        amount_minor,
    );
    if let Some(m) = earned {
        out.add(filing.key(dated, agent, m, ""), 1, amount_minor);
    }
}

/// A promise's judgement as stored: its state (`kept`, `partially_kept`, `broken`; `open` and
/// `superseded` are not judgements), when it was judged, and what was paid towards it.
#[derive(Debug, Clone)]
pub struct JudgedPromise {
    pub state: String,
    pub judged: DateTime<Utc>,
    /// The agent who took it.
    pub agent: String,
    pub promised_minor: i64,
    pub paid_minor: i64,
}

/// The promise states that are judgements.
pub const JUDGEMENTS: [&str; 3] = ["kept", "partially_kept", "broken"];

pub fn promise_facts(p: &JudgedPromise, filing: &Filing, out: &mut Facts) {
    if !JUDGEMENTS.contains(&p.state.as_str()) {
        return;
    }
    let day = filing.day(p.judged);
    out.add(
        filing.key(day, &p.agent, Measure::PromiseJudged, &p.state),
        1,
        p.promised_minor,
    );
    out.add(
        filing.key(day, &p.agent, Measure::PromisePaid, ""),
        0,
        p.paid_minor,
    );
}

/// A plan as its facts need it: each step of its life with its time.
#[derive(Debug, Clone)]
pub struct PlanRecord {
    pub state: String,
    pub proposed_by: String,
    pub create_time: DateTime<Utc>,
    pub approved: Option<(DateTime<Utc>, String)>,
    pub sign_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
}

/// Created (credited to its proposer), approved (to its approver), signed, completed or broken (to
/// its proposer), each on the day it happened.
pub fn plan_facts(p: &PlanRecord, filing: &Filing, out: &mut Facts) {
    let by = p.proposed_by.as_str();
    out.add(
        filing.key(filing.day(p.create_time), by, Measure::PlanCreated, ""),
        1,
        0,
    );
    if let Some((at, approver)) = &p.approved {
        out.add(
            filing.key(filing.day(*at), approver, Measure::PlanApproved, ""),
            1,
            0,
        );
    }
    if let Some(at) = p.sign_time {
        out.add(
            filing.key(filing.day(at), by, Measure::PlanSigned, ""),
            1,
            0,
        );
    }
    let ended = match p.state.as_str() {
        "completed" => Some(Measure::PlanCompleted),
        "broken" => Some(Measure::PlanBroken),
        _ => None,
    };
    if let (Some(m), Some(at)) = (ended, p.end_time) {
        out.add(filing.key(filing.day(at), by, m, ""), 1, 0);
    }
}

/// A dispute as its facts need it.
#[derive(Debug, Clone)]
pub struct DisputeRecord {
    pub state: String,
    pub raised_by: String,
    pub raise_time: DateTime<Utc>,
    pub resolved: Option<(DateTime<Utc>, String)>,
}

/// Raised (credited to who raised it); resolved with its state and its whole days from raised to
/// resolved (credited to who resolved it), on the day it was resolved.
pub fn dispute_facts(d: &DisputeRecord, filing: &Filing, out: &mut Facts) {
    out.add(
        filing.key(
            filing.day(d.raise_time),
            &d.raised_by,
            Measure::DisputeRaised,
            "",
        ),
        1,
        0,
    );
    if let (Some((at, by)), "upheld" | "rejected") = (&d.resolved, d.state.as_str()) {
        let day = filing.day(*at);
        out.add(
            filing.key(day, by, Measure::DisputeResolved, &d.state),
            1,
            0,
        );
        let days = (*at - d.raise_time).num_days();
        out.add(
            filing.key(day, by, Measure::DisputeDays, &days.to_string()),
            1,
            0,
        );
    }
}

/// One agent's working day: the first and last call started (every call recorded, corrections
/// included: both are time at work) and how many calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDay {
    pub day: NaiveDate,
    pub agent: String,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub calls: i64,
}

#[cfg(test)]
mod tests;
