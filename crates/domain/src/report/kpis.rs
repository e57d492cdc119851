//! The figures made from facts, summed over a period and grouped: each figure's definition is the
//! contract's (`proto/recoup/v1/report.proto`), and the rules that compute it are here.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, Months, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};

use super::{AgentDay, FactKey, Measure, Tally};

/// How a report's figures are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    None,
    Agent,
    Queue,
    Currency,
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    Month,
}

impl Grouping {
    pub fn is_period(self) -> bool {
        matches!(self, Self::Day | Self::Week | Self::Month)
    }

    /// The first day of the period holding `day`.
    pub fn period_start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Self::Week => day - Days::new(u64::from(day.weekday().num_days_from_monday())),
            Self::Month => day.with_day(1).expect("every month has a first day"),
            _ => day,
        }
    }

    /// The last day of the period starting on `start`.
    pub fn period_end(self, start: NaiveDate) -> NaiveDate {
        match self {
            Self::Week => start + Days::new(6),
            Self::Month => start + Months::new(1) - Days::new(1),
            _ => start,
        }
    }

    /// The group a fact falls in: the agent, queue or currency, or the ISO date its period starts
    /// (the period clipped to the report's `from`); empty when ungrouped.
    pub fn key(self, fact: &FactKey, from: NaiveDate) -> String {
        match self {
            Self::None => String::new(),
            Self::Agent => fact.agent.clone(),
            Self::Queue => fact.queue.clone(),
            Self::Currency => fact.currency.clone(),
            _ => self.period_start(fact.day).max(from).to_string(),
        }
    }
}

/// Per currency (ISO code), a count and an amount in its minor units.
pub type ByCurrency = BTreeMap<String, Tally>;

/// Every figure of one group (or the whole report), as sums; rates are derived by the methods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kpis {
    pub collected: ByCurrency,
    pub collected_on_promise: ByCurrency,
    pub collected_on_plan: ByCurrency,
    pub outbound_attempts: i64,
    pub right_party_contacts: i64,
    /// Calls on the agents' working days (every call recorded, corrections included).
    pub calls_worked: i64,
    /// Seconds from each agent's first to last call of each day, summed.
    pub seconds_worked: i64,
    pub promises_made: ByCurrency,
    /// Judged promises by state (`kept`, `partially_kept`, `broken`): count and promised amount.
    pub promises_judged: BTreeMap<String, ByCurrency>,
    /// Paid towards the judged promises.
    pub promises_paid: ByCurrency,
    pub plans_created: i64,
    pub plans_approved: i64,
    pub plans_signed: i64,
    pub plans_completed: i64,
    pub plans_broken: i64,
    pub disputes_raised: i64,
    pub disputes_upheld: i64,
    pub disputes_rejected: i64,
    /// Resolved disputes by whole days from raised to resolved.
    pub dispute_days: BTreeMap<i64, i64>,
    /// Breaches by the rule's stored name.
    pub rule_breaches: BTreeMap<String, i64>,
}

fn add(map: &mut ByCurrency, currency: &str, t: Tally) {
    let e = map.entry(currency.to_owned()).or_default();
    e.count += t.count;
    e.amount_minor += t.amount_minor;
}

/// `n / d` to four decimal places (half to even); `None` when `d` is zero.
pub fn ratio(n: i64, d: i64) -> Option<Decimal> {
    (d != 0).then(|| places(Decimal::from(n) / Decimal::from(d), 4))
}

/// `x` rounded half to even to exactly `dp` places (trailing zeros kept, so figures line up).
pub fn places(x: Decimal, dp: u32) -> Decimal {
    let mut r = x.round_dp_with_strategy(dp, RoundingStrategy::MidpointNearestEven);
    r.rescale(dp);
    r
}

impl Kpis {
    pub fn add_fact(&mut self, key: &FactKey, t: Tally) {
        let c = key.currency.as_str();
        match key.measure {
            Measure::Collected => add(&mut self.collected, c, t),
            Measure::CollectedOnPromise => add(&mut self.collected_on_promise, c, t),
            Measure::CollectedOnPlan => add(&mut self.collected_on_plan, c, t),
            Measure::OutboundAttempt => self.outbound_attempts += t.count,
            Measure::RightPartyContact => self.right_party_contacts += t.count,
            Measure::PromiseMade => add(&mut self.promises_made, c, t),
            Measure::PromiseJudged => add(
                self.promises_judged.entry(key.detail.clone()).or_default(),
                c,
                t,
            ),
            Measure::PromisePaid => add(&mut self.promises_paid, c, t),
            Measure::PlanCreated => self.plans_created += t.count,
            Measure::PlanApproved => self.plans_approved += t.count,
            Measure::PlanSigned => self.plans_signed += t.count,
            Measure::PlanCompleted => self.plans_completed += t.count,
            Measure::PlanBroken => self.plans_broken += t.count,
            Measure::DisputeRaised => self.disputes_raised += t.count,
            Measure::DisputeResolved => match key.detail.as_str() {
                "upheld" => self.disputes_upheld += t.count,
                _ => self.disputes_rejected += t.count,
            },
            Measure::DisputeDays => {
                if let Ok(days) = key.detail.parse() {
                    *self.dispute_days.entry(days).or_default() += t.count;
                }
            }
            Measure::RuleBreach => {
                *self.rule_breaches.entry(key.detail.clone()).or_default() += t.count;
            }
        }
    }

    pub fn add_day(&mut self, d: &AgentDay) {
        self.calls_worked += d.calls;
        self.seconds_worked += (d.last - d.first).num_seconds();
    }

    /// Right-party contacts per outbound attempt.
    pub fn right_party_rate(&self) -> Option<Decimal> {
        ratio(self.right_party_contacts, self.outbound_attempts)
    }

    /// Calls per hour worked: `calls_worked / (seconds_worked / 3600)`.
    pub fn calls_per_hour(&self) -> Option<Decimal> {
        ratio(self.calls_worked * 3600, self.seconds_worked)
    }

    /// Judged promises in `state`, all currencies.
    pub fn judged(&self, state: &str) -> i64 {
        self.promises_judged
            .get(state)
            .map_or(0, |m| m.values().map(|t| t.count).sum())
    }

    /// Kept promises per judged promise (kept, partly kept or broken).
    pub fn kept_rate_by_count(&self) -> Option<Decimal> {
        let all = super::JUDGEMENTS.iter().map(|s| self.judged(s)).sum();
        ratio(self.judged("kept"), all)
    }

    /// Per currency: paid towards the judged promises per amount they promised.
    pub fn kept_rate_by_amount(&self) -> BTreeMap<String, Decimal> {
        let mut promised: BTreeMap<&str, i64> = BTreeMap::new();
        for by in self.promises_judged.values() {
            for (c, t) in by {
                *promised.entry(c).or_default() += t.amount_minor;
            }
        }
        promised
            .into_iter()
            .filter_map(|(c, p)| {
                let paid = self.promises_paid.get(c).map_or(0, |t| t.amount_minor);
                ratio(paid, p).map(|r| (c.to_owned(), r))
            })
            .collect()
    }

    /// The median of the resolved disputes' whole days (the mean of the middle two for an even
    /// count).
    pub fn median_dispute_days(&self) -> Option<Decimal> {
        let n: i64 = self.dispute_days.values().sum();
        if n == 0 {
            return None;
        }
        let nth = |i: i64| {
            let mut seen = 0;
            for (days, count) in &self.dispute_days {
                seen += count;
                if seen > i {
                    return *days;
                }
            }
            unreachable!("i is below the count")
        };
        let (a, b) = (nth((n - 1) / 2), nth(n / 2));
        Some(places(Decimal::from(a + b) / Decimal::from(2), 1))
    }
}

/// Facts and agent days summed by group, and in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grouped {
    pub groups: BTreeMap<String, Kpis>,
    pub total: Kpis,
}

/// Sums the facts and agent days of `from..=to` by `grouping`. Agent days have no queue or
/// currency, so grouped by either they count in the total only.
pub fn group<'a>(
    facts: impl IntoIterator<Item = (&'a FactKey, &'a Tally)>,
    days: &[AgentDay],
    grouping: Grouping,
    from: NaiveDate,
    to: NaiveDate,
) -> Grouped {
    let mut out = Grouped::default();
    for (start, _) in periods(grouping, from, to) {
        out.groups.insert(start.to_string(), Kpis::default());
    }
    for (k, t) in facts {
        if k.day < from || k.day > to {
            continue;
        }
        out.total.add_fact(k, *t);
        if grouping != Grouping::None {
            out.groups
                .entry(grouping.key(k, from))
                .or_default()
                .add_fact(k, *t);
        }
    }
    for d in days.iter().filter(|d| d.day >= from && d.day <= to) {
        out.total.add_day(d);
        let key = match grouping {
            Grouping::None | Grouping::Queue | Grouping::Currency => continue,
            Grouping::Agent => d.agent.clone(),
            g => g.period_start(d.day).max(from).to_string(),
        };
        out.groups.entry(key).or_default().add_day(d);
    }
    out
}

/// The periods of a day, week or month grouping that `from..=to` covers, each clipped to it (first
/// and last day); none for other groupings.
pub fn periods(grouping: Grouping, from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    if !grouping.is_period() {
        return out;
    }
    let mut start = grouping.period_start(from);
    while start <= to {
        let end = grouping.period_end(start);
        out.push((start.max(from), end.min(to)));
        start = end + Days::new(1);
    }
    out
}
