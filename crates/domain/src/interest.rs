//! Statutory late-payment interest and fixed compensation on business debts.
//!
//! - UK, Late Payment of Commercial Debts (Interest) Act 1998: simple interest at the reference rate
//!   plus 8 points, the reference rate being the Bank of England base rate in force on 31 December
//!   (for a debt that became overdue in January–June) or 30 June (July–December), fixed for the debt
//!   by that half-year. Fixed compensation per invoice: £40 (under £1,000), £70 (£1,000 to
//!   £9,999.99), £100 (£10,000 or more).
//! - EU, Directive 2011/7/EU: the ECB main refinancing rate plus 8 points, each half-year at the rate
//!   in force on its first day, so a debt accrues at each half-year's own rate; €40 per invoice.
//!
//! Interest for a day is principal × rate / 100 / 365, for every day after the due date up to and
//! including the date computed to, on what was still owed that day: the invoice as billed (credit
//! notes and debits applied), less payments from their payment date (a payment made on a day carries
//! no interest that day). The exact sum is rounded once, half away from zero, to the currency's minor
//! unit — never per day or per period.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;

use crate::money::{Currency, Money};

/// Points over the reference rate, under both laws.
const MARGIN_POINTS: Decimal = Decimal::from_parts(8, 0, 0, false, 0);
/// Days in the year the daily rate is taken over.
const DAYS_IN_YEAR: Decimal = Decimal::from_parts(365, 0, 0, false, 0);

/// The law a debt falls under, by the debtor's country.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regime {
    UkLatePayment,
    EuDirective,
}

/// EU member states (ISO 3166-1 alpha-2), where the Directive applies.
const EU_MEMBERS: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

impl Regime {
    /// The law for a debtor in `country_code`, if recoup knows one.
    pub fn for_country(country_code: &str) -> Option<Regime> {
        match country_code {
            "GB" => Some(Regime::UkLatePayment),
            c if EU_MEMBERS.contains(&c) => Some(Regime::EuDirective),
            _ => None,
        }
    }

    /// The law's name, as the view states it.
    pub fn law(self) -> &'static str {
        match self {
            Regime::UkLatePayment => "UK Late Payment of Commercial Debts (Interest) Act 1998",
            Regime::EuDirective => "EU Directive 2011/7/EU on combating late payment",
        }
    }

    /// The currency its fixed compensation is set in; debts in other currencies are not computed
    /// (the sums would need an exchange rate the law leaves to the courts).
    pub fn currency_code(self) -> &'static str {
        match self {
            Regime::UkLatePayment => "GBP",
            Regime::EuDirective => "EUR",
        }
    }

    /// Fixed compensation for a debt of `billed`.
    pub fn compensation(self, billed: Money) -> Money {
        let units: i64 = match self {
            Regime::UkLatePayment if billed.amount() < Decimal::from(1_000) => 40,
            Regime::UkLatePayment if billed.amount() < Decimal::from(10_000) => 70,
            Regime::UkLatePayment => 100,
            Regime::EuDirective => 40,
        };
        billed.with_amount(Decimal::from(units))
    }
}

/// A reference rate's history: each change, from the date it took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateHistory {
    pub name: String,
    pub source: String,
    /// The last date the rate is known on (the latest decision, one that held the rate included);
    /// a rate the law fixes on a later day is assumed unchanged, and interest at it is provisional.
    pub known_to: NaiveDate,
    /// What was decided on `known_to`.
    pub known_to_note: String,
    changes: BTreeMap<NaiveDate, Decimal>,
}

impl RateHistory {
    pub fn new(
        name: &str,
        source: &str,
        known_to: NaiveDate,
        known_to_note: &str,
        changes: impl IntoIterator<Item = (NaiveDate, Decimal)>,
    ) -> RateHistory {
        RateHistory {
            name: name.to_owned(),
            source: source.to_owned(),
            known_to,
            known_to_note: known_to_note.to_owned(),
            changes: changes.into_iter().collect(),
        }
    }

    /// The rate in force on `date` (percent a year), if the history reaches back that far.
    pub fn in_force_on(&self, date: NaiveDate) -> Option<Decimal> {
        self.changes.range(..=date).next_back().map(|(_, r)| *r)
    }

    /// Adds changes (an operator's, from the policy file); a change on a date already listed
    /// replaces it. A change may restate the rate in force (a decision that held it): either way
    /// the history is then known to the latest date given, if later.
    pub fn amend(&mut self, changes: impl IntoIterator<Item = (NaiveDate, Decimal)>) {
        for (from, rate) in changes {
            self.changes.insert(from, rate);
            if from > self.known_to {
                self.known_to = from;
                self.known_to_note = format!("the policy file: {rate}% from {from}");
            }
        }
    }

    pub fn changes(&self) -> impl Iterator<Item = (NaiveDate, Decimal)> + '_ {
        self.changes.iter().map(|(d, r)| (*d, *r))
    }
}

/// The reference rates of both laws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceRates {
    pub uk_base_rate: RateHistory,
    pub ecb_main_refinancing_rate: RateHistory,
}

impl ReferenceRates {
    pub fn for_regime(&self, regime: Regime) -> &RateHistory {
        match regime {
            Regime::UkLatePayment => &self.uk_base_rate,
            Regime::EuDirective => &self.ecb_main_refinancing_rate,
        }
    }

    /// The histories a debt falling overdue on `today` would be provisional under: the law fixes
    /// its rate on a day after the history is known to. Each with that day.
    pub fn stale_on(&self, today: NaiveDate) -> Vec<(Regime, &RateHistory, NaiveDate)> {
        [Regime::UkLatePayment, Regime::EuDirective]
            .into_iter()
            .filter_map(|regime| {
                let on = reference_date(regime, today);
                let history = self.for_regime(regime);
                (on > history.known_to).then_some((regime, history, on))
            })
            .collect()
    }

    /// The history shipped with recoup (`data/reference_rates.toml`).
    pub fn shipped() -> ReferenceRates {
        #[derive(Deserialize)]
        struct File {
            uk_base_rate: Series,
            ecb_main_refinancing_rate: Series,
        }
        #[derive(Deserialize)]
        struct Series {
            name: String,
            source: String,
            known_to: toml::value::Datetime,
            known_to_note: String,
            changes: Vec<Change>,
        }
        #[derive(Deserialize)]
        struct Change {
            from: toml::value::Datetime,
            percent: String,
        }
        let date = |d: &toml::value::Datetime| {
            NaiveDate::parse_from_str(&d.to_string(), "%Y-%m-%d").expect("a date in the rate file")
        };
        let series = |s: Series| {
            RateHistory::new(
                &s.name,
                &s.source,
                date(&s.known_to),
                &s.known_to_note,
                s.changes.iter().map(|c| {
                    let rate = c.percent.parse().expect("a percentage in the rate file");
                    (date(&c.from), rate)
                }),
            )
        };
        // The file is part of the build: a mistake in it fails every test, never a server.
        let file: File = toml::from_str(include_str!("../data/reference_rates.toml"))
            .expect("data/reference_rates.toml is valid");
        ReferenceRates {
            uk_base_rate: series(file.uk_base_rate),
            ecb_main_refinancing_rate: series(file.ecb_main_refinancing_rate),
        }
    }
}

/// Statutory interest settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterestPolicy {
    /// Off: no account shows statutory interest.
    pub enabled: bool,
    pub rates: ReferenceRates,
}

impl Default for InterestPolicy {
    fn default() -> Self {
        InterestPolicy {
            enabled: true,
            rates: ReferenceRates::shipped(),
        }
    }
}

/// An overdue invoice as interest sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debt<'a> {
    pub number: &'a str,
    pub due_date: NaiveDate,
    /// The invoice with its credit notes and debits applied.
    pub billed: Money,
    /// Payments allocated to it: (payment date, amount).
    pub payments: &'a [(NaiveDate, Money)],
}

/// A stretch of days accruing on one principal at one rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// The first and last day accruing (inclusive).
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub principal: Money,
    /// Percent a year: reference rate + 8.
    pub annual_rate: Decimal,
    /// The law fixes the rate on a day after the history is known to: the rate is the last known
    /// one, assumed unchanged.
    pub provisional: bool,
}

impl Period {
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// This period's interest, unrounded.
    fn exact(&self) -> Decimal {
        self.principal.amount() * self.annual_rate * Decimal::from(self.days())
            / Decimal::ONE_HUNDRED
            / DAYS_IN_YEAR
    }
}

/// Interest and compensation on one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accrued {
    pub periods: Vec<Period>,
    pub interest: Money,
    pub compensation: Money,
    /// The rate of the last period (UK: the invoice's fixed rate).
    pub annual_rate: Decimal,
    /// Some of the interest is at a provisional rate (see `Period::provisional`): the figure is
    /// not to be stated as a claim until the rate is known.
    pub provisional: bool,
}

/// Why interest cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoInterest {
    /// The rate history does not reach back to the date the law fixes the rate on.
    RateUnknown(NaiveDate),
}

/// The reference date and the half-year a day falls in: UK — the rate in force on 31 December for
/// January–June, 30 June for July–December; EU — the first day of the half-year.
pub fn reference_date(regime: Regime, day: NaiveDate) -> NaiveDate {
    let first_half = day.month() <= 6;
    let y = day.year();
    let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("a calendar date");
    match (regime, first_half) {
        (Regime::UkLatePayment, true) => ymd(y - 1, 12, 31),
        (Regime::UkLatePayment, false) => ymd(y, 6, 30),
        (Regime::EuDirective, true) => ymd(y, 1, 1),
        (Regime::EuDirective, false) => ymd(y, 7, 1),
    }
}

/// The first day of the half-year after the one `day` is in.
fn next_half_year(day: NaiveDate) -> NaiveDate {
    if day.month() <= 6 {
        NaiveDate::from_ymd_opt(day.year(), 7, 1)
    } else {
        NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)
    }
    .expect("a calendar date")
}

/// A rate the law applies: percent a year (reference + 8 points), and whether the day the law
/// fixes it on lies after the history is known to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub annual: Decimal,
    pub provisional: bool,
}

/// The rate for `day` under `regime`.
pub fn annual_rate(
    regime: Regime,
    rates: &ReferenceRates,
    day: NaiveDate,
) -> Result<Rate, NoInterest> {
    let on = reference_date(regime, day);
    let history = rates.for_regime(regime);
    history
        .in_force_on(on)
        .map(|r| Rate {
            annual: r + MARGIN_POINTS,
            provisional: on > history.known_to,
        })
        .ok_or(NoInterest::RateUnknown(on))
}

/// Interest on `debt` to `to` (inclusive) and its fixed compensation; `None` when it is not overdue
/// on `to`.
pub fn accrue(
    regime: Regime,
    rates: &ReferenceRates,
    debt: &Debt<'_>,
    to: NaiveDate,
) -> Result<Option<Accrued>, NoInterest> {
    let first = debt.due_date + Duration::days(1);
    if to < first {
        return Ok(None);
    }
    // The UK fixes one rate for the debt's whole life; the EU re-rates each half-year.
    let uk_rate = match regime {
        Regime::UkLatePayment => Some(annual_rate(regime, rates, first)?),
        Regime::EuDirective => None,
    };
    let mut payments: Vec<(NaiveDate, Money)> = debt.payments.to_vec();
    payments.sort_by_key(|(d, _)| *d);
    let owed_on = |day: NaiveDate| {
        payments
            .iter()
            .filter(|(d, _)| *d <= day)
            .fold(debt.billed.amount(), |left, (_, m)| left - m.amount())
    };
    // Days where the principal or the rate may change: payments and (EU) half-year starts.
    let mut breaks: Vec<NaiveDate> = payments
        .iter()
        .map(|(d, _)| *d)
        .filter(|d| *d > first && *d <= to)
        .collect();
    if regime == Regime::EuDirective {
        let mut h = next_half_year(first);
        while h <= to {
            breaks.push(h);
            h = next_half_year(h);
        }
    }
    breaks.sort_unstable();
    breaks.dedup();
    let mut periods = Vec::new();
    let mut start = first;
    for end in breaks
        .into_iter()
        .chain(std::iter::once(to + Duration::days(1)))
    {
        let principal = owed_on(start);
        if principal > Decimal::ZERO {
            let rate = match uk_rate {
                Some(r) => r,
                None => annual_rate(regime, rates, start)?,
            };
            periods.push(Period {
                from: start,
                to: end - Duration::days(1),
                principal: debt.billed.with_amount(principal),
                annual_rate: rate.annual,
                provisional: rate.provisional,
            });
        }
        start = end;
    }
    let exact: Decimal = periods.iter().map(Period::exact).sum();
    let interest = round(exact, debt.billed.currency());
    let rate = match (uk_rate, periods.last()) {
        (Some(r), _) => r,
        (None, Some(p)) => Rate {
            annual: p.annual_rate,
            provisional: p.provisional,
        },
        (None, None) => annual_rate(regime, rates, to)?,
    };
    Ok(Some(Accrued {
        provisional: rate.provisional || periods.iter().any(|p| p.provisional),
        periods,
        interest: debt.billed.with_amount(interest),
        compensation: regime.compensation(debt.billed),
        annual_rate: rate.annual,
    }))
}

/// The one rounding: half away from zero, to the currency's minor unit.
fn round(exact: Decimal, currency: Currency) -> Decimal {
    exact.round_dp_with_strategy(currency.exponent(), RoundingStrategy::MidpointAwayFromZero)
}

#[cfg(test)]
mod tests;
