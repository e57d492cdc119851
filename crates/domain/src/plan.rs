//! Payment plans checked against policy with the customer on the line: every rule a proposal breaks
//! (stable code, plain message, the limit and the proposal's value), the exact schedule, whether it
//! needs a supervisor's approval, and the nearest plans that would be accepted. Pure: the caller
//! passes the collectable balance, the oldest overdue days, today and who is asking.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::money::Money;
use crate::schedule::{self, Frequency, Payment, ScheduleError};

/// What a plan proposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proposal {
    /// Everything by a date.
    PayInFull { by: NaiveDate },
    /// Equal instalments from a first date.
    Instalments {
        amount: Money,
        frequency: Frequency,
        first: NaiveDate,
    },
    /// A down payment on the first date, then instalments from one period later.
    DownPayment {
        down: Money,
        amount: Money,
        frequency: Frequency,
        first: NaiveDate,
    },
    /// A discounted lump sum, in full settlement, by a date.
    Settlement {
        discount_percent: Decimal,
        by: NaiveDate,
    },
    /// Time to organise finances: everything by a date, then revisit.
    Extension { by: NaiveDate },
}

/// Who is asking, for settlement authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Authority {
    Agent,
    Supervisor,
}

/// The plan rules, from `[policy.plans]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanPolicy {
    /// The smallest instalment, by currency code (currencies not listed have only the percentage).
    pub instalment_floor: BTreeMap<String, Decimal>,
    /// The smallest instalment as a percentage of the collectable balance.
    pub instalment_floor_percent: Decimal,
    /// The longest plan, first payment to last, in months.
    pub max_months: u32,
    /// The latest first payment, in days from today.
    pub max_first_payment_days: u32,
    /// The smallest down payment, as a percentage of the balance.
    pub min_down_payment_percent: Decimal,
    pub frequencies: Vec<Frequency>,
    /// The longest short extension, in days from today.
    pub max_extension_days: u32,
    /// Settlement: the smallest balance, by currency code (currencies not listed: any balance).
    pub settlement_min_balance: BTreeMap<String, Decimal>,
    /// Settlement: the oldest overdue invoice at least this many days overdue.
    pub settlement_min_days_overdue: u32,
    /// The largest discount each role may grant (percent); beyond the supervisor's, refused.
    pub agent_max_discount_percent: Decimal,
    pub supervisor_max_discount_percent: Decimal,
    /// Statutory interest and compensation are added to what the plan pays.
    pub interest_in_balance: bool,
    /// Days after an instalment's due date before it counts as missed.
    pub grace_days: u32,
    /// Missed instalments that break a plan.
    pub misses_to_break: u32,
    /// Days before an instalment in which a courtesy call is allowed on a plan on track.
    pub courtesy_days: u32,
    /// After a plan broke (within the promise window), a new instalment plan needs a down payment
    /// of at least this percentage of the balance...
    pub after_broken_down_payment_percent: Decimal,
    /// ...and runs at most this many months.
    pub after_broken_max_months: u32,
    /// The creditor as written agreements name it.
    pub creditor_name: String,
}

impl Default for PlanPolicy {
    fn default() -> Self {
        let per = |v: i64| {
            ["GBP", "EUR", "USD"]
                .into_iter()
                .map(|c| (c.to_owned(), Decimal::from(v)))
                .collect()
        };
        PlanPolicy {
            instalment_floor: per(50),
            instalment_floor_percent: Decimal::from(5),
            max_months: 12,
            max_first_payment_days: 30,
            min_down_payment_percent: Decimal::from(10),
            frequencies: vec![
                Frequency::Weekly,
                Frequency::Fortnightly,
                Frequency::Monthly,
            ],
            max_extension_days: 30,
            settlement_min_balance: per(5_000),
            settlement_min_days_overdue: 90,
            agent_max_discount_percent: Decimal::from(10),
            supervisor_max_discount_percent: Decimal::from(25),
            interest_in_balance: false,
            grace_days: 5,
            misses_to_break: 2,
            courtesy_days: 2,
            after_broken_down_payment_percent: Decimal::from(25),
            after_broken_max_months: 6,
            creditor_name: "The Creditor".into(),
        }
    }
}

/// What a proposal is judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Situation {
    /// What the plan must pay: the collectable balance (disputed amounts excluded).
    pub balance: Money,
    /// Days the oldest undisputed invoice is overdue.
    pub oldest_overdue_days: i64,
    /// The debtor's date today.
    pub today: NaiveDate,
    pub asker: Authority,
    /// What the customer says it can afford a month.
    pub affordable_monthly: Option<Money>,
    /// A plan broke recently (within the promise window): a new plan is on stricter terms.
    pub after_broken_plan: bool,
}

impl Situation {
    /// The longest plan allowed here, in months.
    pub fn max_months(&self, p: &PlanPolicy) -> u32 {
        if self.after_broken_plan {
            p.max_months.min(p.after_broken_max_months)
        } else {
            p.max_months
        }
    }

    /// The smallest down payment allowed here, in percent of the balance.
    pub fn min_down_payment_percent(&self, p: &PlanPolicy) -> Decimal {
        if self.after_broken_plan {
            p.min_down_payment_percent
                .max(p.after_broken_down_payment_percent)
        } else {
            p.min_down_payment_percent
        }
    }

    /// The smallest down payment allowed here, rounded up to the minor unit.
    pub fn least_down_payment(&self, p: &PlanPolicy) -> Money {
        let least = (self.balance.amount() * self.min_down_payment_percent(p)
            / Decimal::ONE_HUNDRED)
            .round_dp_with_strategy(
                self.balance.currency().exponent(),
                RoundingStrategy::AwayFromZero,
            );
        self.balance.with_amount(least)
    }

    /// The most the customer says it can pay by `by`: what it can afford a month, for each month
    /// from today on which a monthly payment could fall by then (at least one).
    pub fn affordable_by(&self, by: NaiveDate) -> Option<Money> {
        let a = self.affordable_monthly?;
        let months = (0..=schedule::MAX_PAYMENTS as u32)
            .take_while(|k| Frequency::Monthly.nth(self.today, *k) <= by)
            .count()
            .max(1);
        Some(a.with_amount(a.amount() * Decimal::from(months as u64)))
    }
}

/// One rule broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// Stable machine code.
    pub code: &'static str,
    /// The request field the rule is about (`proposal.instalment_amount`): the one to change.
    pub field: &'static str,
    pub message: String,
    pub limit: String,
    pub value: String,
}

/// A proposal judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub broken: Vec<Broken>,
    pub schedule: Vec<Payment>,
    /// For a settlement, what is forgone.
    pub discount: Option<Money>,
    /// The least role that may approve it, when the asker may not.
    pub approval: Option<Authority>,
}

impl Judgement {
    pub fn valid(&self) -> bool {
        self.broken.is_empty()
    }

    pub fn end(&self) -> Option<NaiveDate> {
        self.schedule.last().map(|p| p.due)
    }
}

/// A plan that would be accepted, offered instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub proposal: Proposal,
    pub judgement: Judgement,
    /// Why it is offered, in plain words.
    pub why: String,
}

// The proposal's fields the rules name, as the contract spells them.
const AMOUNT: &str = "proposal.instalment_amount";
const DOWN: &str = "proposal.down_payment";
const PAY_BY: &str = "proposal.pay_by_date";
const KIND: &str = "proposal.kind";

fn broken(
    code: &'static str,
    field: &'static str,
    message: String,
    limit: String,
    value: String,
) -> Broken {
    Broken {
        code,
        field,
        message,
        limit,
        value,
    }
}

/// The payments `proposal` makes of `balance`, and what a settlement forgoes.
pub fn schedule_of(
    proposal: &Proposal,
    balance: Money,
) -> Result<(Vec<Payment>, Option<Money>), ScheduleError> {
    match proposal {
        Proposal::PayInFull { by } | Proposal::Extension { by } => {
            Ok((schedule::lump_sum(balance, *by)?, None))
        }
        Proposal::Instalments {
            amount,
            frequency,
            first,
        } => Ok((
            schedule::instalments(balance, *amount, *frequency, *first)?,
            None,
        )),
        Proposal::DownPayment {
            down,
            amount,
            frequency,
            first,
        } => Ok((
            schedule::down_payment_then_instalments(balance, *down, *amount, *frequency, *first)?,
            None,
        )),
        Proposal::Settlement {
            discount_percent,
            by,
        } => schedule::settlement(balance, *discount_percent, *by).map(|(s, d)| (s, Some(d))),
    }
}

/// The instalment that pays `balance` in `count` instalments ("over six months"): the balance
/// divided by the count, rounded up to the currency's minor unit, so the schedule has at most
/// `count` payments and its last takes what is left. None for a count of 0.
pub fn instalment_for_count(balance: Money, count: u32) -> Option<Money> {
    if count == 0 {
        return None;
    }
    let each = (balance.amount() / Decimal::from(count)).round_dp_with_strategy(
        balance.currency().exponent(),
        RoundingStrategy::AwayFromZero,
    );
    Some(balance.with_amount(each))
}

/// The smallest instalment policy accepts on `balance`: the larger of the currency's floor and the
/// percentage of the balance (rounded up to the minor unit), never more than the balance itself.
pub fn floor(balance: Money, p: &PlanPolicy) -> Money {
    let percent = (balance.amount() * p.instalment_floor_percent / Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(
            balance.currency().exponent(),
            RoundingStrategy::AwayFromZero,
        );
    let absolute = p
        .instalment_floor
        .get(balance.currency().code())
        .copied()
        .unwrap_or(Decimal::ZERO);
    balance.with_amount(percent.max(absolute).min(balance.amount()))
}

/// The last date a plan starting on `first` may end on, `months` months at most.
fn latest_end(first: NaiveDate, months: u32) -> NaiveDate {
    Frequency::Monthly.nth(first, months)
}

/// Judges `proposal` against policy in `s`: every rule it breaks, and its schedule when one can be
/// built.
pub fn judge(proposal: &Proposal, s: &Situation, p: &PlanPolicy) -> Judgement {
    let mut out = Vec::new();
    let mut discount = None;
    let mut approval = None;
    if !s.balance.is_positive() {
        out.push(broken(
            "NOTHING_TO_PLAN",
            "proposal",
            "nothing collectable is owed".into(),
            "more than 0".into(),
            s.balance.to_string(),
        ));
        return Judgement {
            broken: out,
            schedule: Vec::new(),
            discount,
            approval,
        };
    }
    let first = match proposal {
        Proposal::PayInFull { by }
        | Proposal::Extension { by }
        | Proposal::Settlement { by, .. } => *by,
        Proposal::Instalments { first, .. } | Proposal::DownPayment { first, .. } => *first,
    };
    let date_field = match proposal {
        Proposal::Instalments { .. } | Proposal::DownPayment { .. } => {
            "proposal.first_payment_date"
        }
        _ => PAY_BY,
    };
    if first < s.today {
        out.push(broken(
            "FIRST_PAYMENT_IN_PAST",
            date_field,
            "the first payment cannot be before today".into(),
            s.today.to_string(),
            first.to_string(),
        ));
    }
    let latest_first = s.today + Duration::days(i64::from(p.max_first_payment_days));
    match proposal {
        Proposal::Extension { by } => {
            let latest = s.today + Duration::days(i64::from(p.max_extension_days));
            if *by > latest {
                out.push(broken(
                    "EXTENSION_TOO_LONG",
                    PAY_BY,
                    format!(
                        "a short extension may run at most {} days",
                        p.max_extension_days
                    ),
                    latest.to_string(),
                    by.to_string(),
                ));
            }
        }
        _ if first > latest_first => out.push(broken(
            "FIRST_PAYMENT_TOO_LATE",
            date_field,
            format!(
                "the first payment must be within {} days",
                p.max_first_payment_days
            ),
            latest_first.to_string(),
            first.to_string(),
        )),
        _ => {}
    }
    match proposal {
        Proposal::PayInFull { .. } | Proposal::Extension { .. } => {}
        Proposal::Instalments {
            amount, frequency, ..
        } => {
            if s.after_broken_plan {
                out.push(broken(
                    "DOWN_PAYMENT_REQUIRED",
                    DOWN,
                    format!(
                        "after a broken plan, a new plan starts with a down payment of at least \
                         {}% of the balance",
                        s.min_down_payment_percent(p)
                    ),
                    s.least_down_payment(p).to_string(),
                    "none".into(),
                ));
            }
            instalment_rules(&mut out, *amount, *frequency, s, p);
        }
        Proposal::DownPayment {
            down,
            amount,
            frequency,
            ..
        } => {
            let least = s.least_down_payment(p);
            if down.amount() < least.amount() {
                out.push(broken(
                    "DOWN_PAYMENT_TOO_SMALL",
                    DOWN,
                    if s.after_broken_plan {
                        format!(
                            "after a broken plan, a down payment must be at least {}% of the \
                             balance",
                            s.min_down_payment_percent(p)
                        )
                    } else {
                        format!(
                            "a down payment must be at least {}% of the balance",
                            s.min_down_payment_percent(p)
                        )
                    },
                    least.to_string(),
                    down.to_string(),
                ));
            }
            if down.amount() < s.balance.amount() {
                let rest = s.balance.with_amount(s.balance.amount() - down.amount());
                instalment_rules(
                    &mut out,
                    *amount,
                    *frequency,
                    &Situation {
                        balance: rest,
                        ..*s
                    },
                    p,
                );
            }
        }
        Proposal::Settlement {
            discount_percent, ..
        } => {
            let code = s.balance.currency().code();
            if let Some(min) = p.settlement_min_balance.get(code)
                && s.balance.amount() < *min
            {
                out.push(broken(
                    "SETTLEMENT_BALANCE_TOO_SMALL",
                    KIND,
                    "a settlement is offered only on larger balances".into(),
                    s.balance.with_amount(*min).to_string(),
                    s.balance.to_string(),
                ));
            }
            if s.oldest_overdue_days < i64::from(p.settlement_min_days_overdue) {
                out.push(broken(
                    "SETTLEMENT_NOT_OVERDUE_LONG_ENOUGH",
                    KIND,
                    "a settlement is offered only on long-overdue debts".into(),
                    format!("{} days overdue", p.settlement_min_days_overdue),
                    format!("{} days overdue", s.oldest_overdue_days),
                ));
            }
            if *discount_percent > p.supervisor_max_discount_percent {
                out.push(broken(
                    "DISCOUNT_BEYOND_POLICY",
                    "proposal.settlement_discount_percent",
                    "no one may grant a discount this large".into(),
                    format!("{}%", p.supervisor_max_discount_percent),
                    format!("{discount_percent}%"),
                ));
            } else if *discount_percent > p.agent_max_discount_percent {
                // Four eyes: beyond an agent's authority, a supervisor other than the proposer
                // approves, even when the proposer is a supervisor.
                approval = Some(Authority::Supervisor);
            }
        }
    }
    let built = schedule_of(proposal, s.balance).map(|(sched, d)| {
        discount = d;
        sched
    });
    let sched = match built {
        Ok(sched) => sched,
        Err(e) => {
            let (code, field, message) = match e {
                ScheduleError::TooLong { payments } => (
                    "TOO_MANY_PAYMENTS",
                    AMOUNT,
                    format!(
                        "{payments} payments; a schedule has at most {}",
                        schedule::MAX_PAYMENTS
                    ),
                ),
                ScheduleError::BadAmount | ScheduleError::NothingOwed => (
                    "AMOUNT_NOT_VALID",
                    "proposal",
                    "an amount is not positive or is finer than the currency allows".into(),
                ),
            };
            if !out.iter().any(|b| b.code == "INSTALMENT_BELOW_FLOOR") {
                out.push(broken(code, field, message, String::new(), String::new()));
            }
            Vec::new()
        }
    };
    if let (Some(last), Some(first_due)) = (sched.last(), sched.first()) {
        let months = s.max_months(p);
        let latest = latest_end(first_due.due, months);
        if last.due > latest {
            out.push(broken(
                "PLAN_TOO_LONG",
                AMOUNT,
                if months < p.max_months {
                    format!(
                        "after a broken plan, a plan may run at most {months} months from its \
                         first payment to its last"
                    )
                } else {
                    format!(
                        "a plan may run at most {months} months from its first payment to its last"
                    )
                },
                latest.to_string(),
                last.due.to_string(),
            ));
        }
        lump_sum_rule(&mut out, proposal, first_due, s);
    }
    Judgement {
        broken: out,
        schedule: sched,
        discount,
        approval,
    }
}

/// A sum paid at once (the whole balance, a settlement, an extension's payment, a down payment)
/// must be within what the customer says it can pay by its date: otherwise the plan is one it
/// cannot keep, however quickly it would clear the debt.
fn lump_sum_rule(out: &mut Vec<Broken>, proposal: &Proposal, first: &Payment, s: &Situation) {
    let lump = matches!(
        proposal,
        Proposal::PayInFull { .. }
            | Proposal::Extension { .. }
            | Proposal::Settlement { .. }
            | Proposal::DownPayment { .. }
    );
    let Some(limit) = s.affordable_by(first.due).filter(|_| lump) else {
        return;
    };
    // What the customer can pay grows with time: a later date is the lever, or a smaller down
    // payment.
    let lump_field = match proposal {
        Proposal::DownPayment { .. } => DOWN,
        _ => PAY_BY,
    };
    if first.amount.amount() > limit.amount() {
        out.push(broken(
            "EXCEEDS_AFFORDABLE",
            lump_field,
            format!(
                "a payment of {} on {} is more than the customer says it can pay by then ({} a \
                 month): a plan it cannot keep helps nobody",
                first.amount,
                first.due,
                s.affordable_monthly.unwrap_or(limit)
            ),
            limit.to_string(),
            first.amount.to_string(),
        ));
    }
}

/// The rules on one instalment: an allowed frequency, at least the floor, within what the customer
/// says it can afford.
fn instalment_rules(
    out: &mut Vec<Broken>,
    amount: Money,
    frequency: Frequency,
    s: &Situation,
    p: &PlanPolicy,
) {
    if !p.frequencies.contains(&frequency) {
        out.push(broken(
            "FREQUENCY_NOT_ALLOWED",
            "proposal.frequency",
            "instalments may not fall due this often".into(),
            format!("{:?}", p.frequencies).to_lowercase(),
            format!("{frequency:?}").to_lowercase(),
        ));
    }
    let least = floor(s.balance, p);
    if amount.amount() < least.amount() {
        out.push(broken(
            "INSTALMENT_BELOW_FLOOR", AMOUNT,
            format!(
                "an instalment must be at least {least} (the larger of the minimum and {}% of the balance)",
                p.instalment_floor_percent
            ),
            least.to_string(),
            amount.to_string(),
        ));
    }
    if let Some(affordable) = s.affordable_monthly {
        let monthly = frequency.monthly_equivalent(amount);
        if monthly > affordable.amount() {
            out.push(broken(
                "EXCEEDS_AFFORDABLE",
                AMOUNT,
                "more a month than the customer says it can afford: a plan it cannot keep helps nobody".into(),
                affordable.to_string(),
                amount.with_amount(monthly.round_dp(amount.currency().exponent())).to_string(),
            ));
        }
    }
}

/// The nearest plans that policy accepts, fastest to full payment first: the smallest instalment that
/// ends within the longest plan; the smallest valid instalment within what the customer can afford;
/// the shortest plan it can afford; and a settlement when the debt qualifies, at the most the asker
/// may grant. After a broken plan each instalment plan starts with the required down payment. Each
/// one is judged valid itself (so none asks more than the customer says it can afford); when
/// `proposal` is valid, only plans that pay in full no later are offered.
pub fn counter_proposals(proposal: &Proposal, s: &Situation, p: &PlanPolicy) -> Vec<Counter> {
    let own = judge(proposal, s, p);
    let mut out: Vec<Counter> = Vec::new();
    for (c, why) in candidates(proposal, s, p) {
        if c == *proposal || out.iter().any(|o| o.proposal == c) {
            continue;
        }
        let j = judge(&c, s, p);
        if !j.valid() || (j.approval.is_some() && s.asker == Authority::Agent) {
            continue;
        }
        if own.valid() && j.end() > own.end() {
            continue;
        }
        out.push(Counter {
            proposal: c,
            judgement: j,
            why,
        });
    }
    out.sort_by_key(|c| (c.judgement.end(), c.judgement.schedule.len()));
    out
}

/// When the customer says what it can afford and no plan within policy fits it: the plan it can
/// afford (instalments of what it says it can pay, after any required down payment it can pay)
/// with the rules that plan breaks, so the agent can say how far apart the two are.
pub fn nearest_affordable(proposal: &Proposal, s: &Situation, p: &PlanPolicy) -> Option<Counter> {
    let affordable = s.affordable_monthly?;
    if !counter_proposals(proposal, s, p).is_empty() {
        return None;
    }
    let (frequency, first) = terms(proposal, s, p);
    let per = per_payment(affordable, frequency);
    if !per.is_positive() {
        return None;
    }
    let c = if s.after_broken_plan {
        Proposal::DownPayment {
            down: s.least_down_payment(p),
            amount: per,
            frequency,
            first,
        }
    } else {
        Proposal::Instalments {
            amount: per,
            frequency,
            first,
        }
    };
    let judgement = judge(&c, s, p);
    let rules: Vec<&str> = judgement
        .broken
        .iter()
        .map(|b| b.message.as_str())
        .collect();
    Some(Counter {
        why: format!(
            "no plan within policy fits what the customer says it can afford ({affordable} a \
             month); the nearest breaks these rules: {}",
            rules.join("; ")
        ),
        proposal: c,
        judgement,
    })
}

/// The frequency and first payment date counter-proposals use: the proposal's own when policy
/// allows them, else monthly (the policy's last frequency) and the nearest allowed date.
fn terms(proposal: &Proposal, s: &Situation, p: &PlanPolicy) -> (Frequency, NaiveDate) {
    let frequency = match proposal {
        Proposal::Instalments { frequency, .. } | Proposal::DownPayment { frequency, .. }
            if p.frequencies.contains(frequency) =>
        {
            *frequency
        }
        _ => *p.frequencies.last().unwrap_or(&Frequency::Monthly),
    };
    let latest_first = s.today + Duration::days(i64::from(p.max_first_payment_days));
    let first = match proposal {
        Proposal::Instalments { first, .. } | Proposal::DownPayment { first, .. } => *first,
        Proposal::PayInFull { by }
        | Proposal::Extension { by }
        | Proposal::Settlement { by, .. } => *by,
    }
    .clamp(s.today, latest_first);
    (frequency, first)
}

/// The affordable monthly sum in `frequency`'s terms, rounded down (never above it).
fn per_payment(affordable: Money, frequency: Frequency) -> Money {
    let per = affordable.amount() * Decimal::from(12)
        / match frequency {
            Frequency::Weekly => Decimal::from(52),
            Frequency::Fortnightly => Decimal::from(26),
            Frequency::Monthly => Decimal::from(12),
        };
    affordable.with_amount(
        per.round_dp_with_strategy(affordable.currency().exponent(), RoundingStrategy::ToZero),
    )
}

/// The plans `counter_proposals` looks at, each with why it is offered.
fn candidates(proposal: &Proposal, s: &Situation, p: &PlanPolicy) -> Vec<(Proposal, String)> {
    let (frequency, first) = terms(proposal, s, p);
    let cur = s.balance.currency();
    let minor = |m: Money| m.to_minor().unwrap_or(0);
    let months = s.max_months(p);
    // After a broken plan, instalments pay what is left after the required down payment, from
    // one period after it.
    let down = s.after_broken_plan.then(|| s.least_down_payment(p));
    let rest = match down {
        Some(d) => s.balance.with_amount(s.balance.amount() - d.amount()),
        None => s.balance,
    };
    let instalments_from = match down {
        Some(_) => frequency.nth(first, 1),
        None => first,
    };
    let least = floor(rest, p);
    // Payments that fit between the first instalment and the latest end.
    let end = latest_end(first, months);
    let fits = (0..=schedule::MAX_PAYMENTS as u32)
        .take_while(|k| frequency.nth(instalments_from, *k) <= end)
        .count() as i64;
    let b = minor(rest);
    let stricter = if down.is_some() {
        format!(
            "; after the broken plan, a down payment of at least {}% and at most {months} months",
            s.min_down_payment_percent(p)
        )
    } else {
        String::new()
    };
    let mut amounts: Vec<(i64, String)> = Vec::new();
    if fits > 0 {
        let within_length = (b + fits - 1) / fits;
        amounts.push((
            within_length.max(minor(least)),
            format!("the smallest instalment that pays in full within {months} months{stricter}"),
        ));
    }
    if let Some(affordable) = s.affordable_monthly {
        amounts.push((
            minor(per_payment(affordable, frequency)),
            format!(
                "what the customer says it can afford ({affordable} a month): the shortest plan{stricter}"
            ),
        ));
        amounts.push((
            minor(least),
            format!(
                "the smallest instalment policy accepts, within what the customer can afford{stricter}"
            ),
        ));
    }
    let mut out: Vec<(Proposal, String)> = amounts
        .into_iter()
        .filter(|(a, _)| *a > 0)
        .map(|(a, why)| {
            let amount = Money::from_minor(a.min(b), cur);
            let plan = match down {
                Some(down) => Proposal::DownPayment {
                    down,
                    amount,
                    frequency,
                    first,
                },
                None => Proposal::Instalments {
                    amount,
                    frequency,
                    first,
                },
            };
            (plan, why)
        })
        .collect();
    let most = match s.asker {
        Authority::Agent => p.agent_max_discount_percent,
        Authority::Supervisor => p.supervisor_max_discount_percent,
    };
    if most > Decimal::ZERO {
        out.push((
            Proposal::Settlement {
                discount_percent: most,
                by: first,
            },
            format!("a settlement at {most}% off, the most you may grant"),
        ));
    }
    out
}

pub mod state;
pub mod track;

#[cfg(test)]
mod tests;
