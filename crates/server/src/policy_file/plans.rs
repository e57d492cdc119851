//! `[policy.plans]`: the rules payment plans are checked against (domain::plan), amounts per currency.

use std::collections::BTreeMap;

use recoup_domain::plan::PlanPolicy;
use recoup_domain::policy::NOT_A_PERCENTAGE;
use recoup_domain::schedule::Frequency;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{PolicyError, invalid};

const AT: &str = "policy.plans";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct PlansDoc {
    #[serde(deserialize_with = "text_or_whole")]
    instalment_floor_percent: String,
    max_months: u32,
    max_first_payment_days: u32,
    #[serde(deserialize_with = "text_or_whole")]
    min_down_payment_percent: String,
    frequencies: Vec<String>,
    max_extension_days: u32,
    settlement_min_days_overdue: u32,
    #[serde(deserialize_with = "text_or_whole")]
    agent_max_discount_percent: String,
    #[serde(deserialize_with = "text_or_whole")]
    supervisor_max_discount_percent: String,
    interest_in_balance: bool,
    grace_days: u32,
    misses_to_break: u32,
    courtesy_days: u32,
    #[serde(deserialize_with = "text_or_whole")]
    after_broken_down_payment_percent: String,
    after_broken_max_months: u32,
    creditor_name: String,
    instalment_floor: BTreeMap<String, String>,
    settlement_min_balance: BTreeMap<String, String>,
}

impl Default for PlansDoc {
    fn default() -> Self {
        Self::from_domain(&PlanPolicy::default())
    }
}

fn frequency_name(f: Frequency) -> &'static str {
    match f {
        Frequency::Weekly => "weekly",
        Frequency::Fortnightly => "fortnightly",
        Frequency::Monthly => "monthly",
    }
}

/// A decimal written as a string ("12.5", exact), or as a whole number (`50`, as an environment
/// variable's value reads).
fn text_or_whole<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Text(String),
        Whole(i64),
    }
    Given::deserialize(d)
        .map(|g| match g {
            Given::Text(t) => t,
            Given::Whole(n) => n.to_string(),
        })
        .map_err(|_| {
            serde::de::Error::custom(
                "expected a decimal as a string (e.g. \"12.5\") or a whole number",
            )
        })
}

/// A percentage written as a decimal string ("12.5"); its range is the domain's to check.
fn percent(key: &str, text: &str) -> Result<Decimal, PolicyError> {
    text.parse::<Decimal>()
        .map_err(|_| invalid(AT, key, format!("\"{text}\""), NOT_A_PERCENTAGE))
}

/// Amounts by currency code, each written as a decimal string; the codes and the amounts' range and
/// precision are the domain's to check.
fn amounts(
    key: &str,
    table: BTreeMap<String, String>,
) -> Result<BTreeMap<String, Decimal>, PolicyError> {
    let mut out = BTreeMap::new();
    for (code, text) in table {
        let amount = text.parse::<Decimal>().map_err(|_| {
            invalid(
                AT,
                &format!("{key}.{code}"),
                format!("\"{text}\""),
                "is not an amount (a decimal string, e.g. \"50.00\")",
            )
        })?;
        out.insert(code, amount);
    }
    Ok(out)
}

impl PlansDoc {
    pub(super) fn from_domain(p: &PlanPolicy) -> Self {
        let text = |m: &BTreeMap<String, Decimal>| {
            m.iter().map(|(c, a)| (c.clone(), a.to_string())).collect()
        };
        Self {
            instalment_floor_percent: p.instalment_floor_percent.to_string(),
            max_months: p.max_months,
            max_first_payment_days: p.max_first_payment_days,
            min_down_payment_percent: p.min_down_payment_percent.to_string(),
            frequencies: p
                .frequencies
                .iter()
                .map(|f| frequency_name(*f).to_owned())
                .collect(),
            max_extension_days: p.max_extension_days,
            settlement_min_days_overdue: p.settlement_min_days_overdue,
            agent_max_discount_percent: p.agent_max_discount_percent.to_string(),
            supervisor_max_discount_percent: p.supervisor_max_discount_percent.to_string(),
            interest_in_balance: p.interest_in_balance,
            grace_days: p.grace_days,
            misses_to_break: p.misses_to_break,
            courtesy_days: p.courtesy_days,
            after_broken_down_payment_percent: p.after_broken_down_payment_percent.to_string(),
            after_broken_max_months: p.after_broken_max_months,
            creditor_name: p.creditor_name.clone(),
            instalment_floor: text(&p.instalment_floor),
            settlement_min_balance: text(&p.settlement_min_balance),
        }
    }

    pub(super) fn into_domain(self) -> Result<PlanPolicy, PolicyError> {
        let mut frequencies = Vec::new();
        for (i, name) in self.frequencies.iter().enumerate() {
            frequencies.push(match name.to_ascii_lowercase().as_str() {
                "weekly" => Frequency::Weekly,
                "fortnightly" => Frequency::Fortnightly,
                "monthly" => Frequency::Monthly,
                _ => {
                    return Err(invalid(
                        AT,
                        &format!("frequencies[{i}]"),
                        format!("\"{name}\""),
                        "is not a frequency (weekly, fortnightly, monthly)",
                    ));
                }
            });
        }
        Ok(PlanPolicy {
            interest_in_balance: self.interest_in_balance,
            grace_days: self.grace_days,
            misses_to_break: self.misses_to_break,
            courtesy_days: self.courtesy_days,
            after_broken_down_payment_percent: percent(
                "after_broken_down_payment_percent",
                &self.after_broken_down_payment_percent,
            )?,
            after_broken_max_months: self.after_broken_max_months,
            creditor_name: self.creditor_name,
            instalment_floor: amounts("instalment_floor", self.instalment_floor)?,
            instalment_floor_percent: percent(
                "instalment_floor_percent",
                &self.instalment_floor_percent,
            )?,
            max_months: self.max_months,
            max_first_payment_days: self.max_first_payment_days,
            min_down_payment_percent: percent(
                "min_down_payment_percent",
                &self.min_down_payment_percent,
            )?,
            frequencies,
            max_extension_days: self.max_extension_days,
            settlement_min_balance: amounts("settlement_min_balance", self.settlement_min_balance)?,
            settlement_min_days_overdue: self.settlement_min_days_overdue,
            agent_max_discount_percent: percent(
                "agent_max_discount_percent",
                &self.agent_max_discount_percent,
            )?,
            supervisor_max_discount_percent: percent(
                "supervisor_max_discount_percent",
                &self.supervisor_max_discount_percent,
            )?,
        })
    }
}
