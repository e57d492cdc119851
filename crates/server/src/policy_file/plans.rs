//! `[policy.plans]`: the rules payment plans are checked against (domain::plan), amounts per currency.

use std::collections::BTreeMap;

use recoup_domain::Currency;
use recoup_domain::plan::PlanPolicy;
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

/// A percentage from 0 to 100, written as a decimal string ("12.5").
fn percent(key: &str, text: &str) -> Result<Decimal, PolicyError> {
    text.parse::<Decimal>()
        .ok()
        .filter(|p| (Decimal::ZERO..=Decimal::ONE_HUNDRED).contains(p))
        .ok_or_else(|| {
            invalid(
                AT,
                key,
                format!("\"{text}\""),
                "is not a percentage from 0 to 100 (e.g. \"12.5\")",
            )
        })
}

/// Amounts by ISO 4217 code, each a non-negative decimal string in that currency's precision.
fn amounts(
    key: &str,
    table: BTreeMap<String, String>,
) -> Result<BTreeMap<String, Decimal>, PolicyError> {
    let mut out = BTreeMap::new();
    for (code, text) in table {
        let at = format!("{key}.{code}");
        let currency = Currency::from_code(&code)
            .map_err(|_| invalid(AT, &at, &code, "is not an ISO 4217 currency code"))?;
        let amount = text
            .parse::<Decimal>()
            .ok()
            .filter(|a| !a.is_sign_negative() && a.scale() <= currency.exponent())
            .ok_or_else(|| {
                invalid(
                    AT,
                    &at,
                    format!("\"{text}\""),
                    &format!(
                        "is not an amount of {code} (at least 0, at most {} decimals)",
                        currency.exponent()
                    ),
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
        for (key, value, hi) in [
            ("max_months", self.max_months, 120),
            ("max_first_payment_days", self.max_first_payment_days, 366),
            ("max_extension_days", self.max_extension_days, 366),
            (
                "settlement_min_days_overdue",
                self.settlement_min_days_overdue,
                3660,
            ),
            ("grace_days", self.grace_days, 60),
            ("misses_to_break", self.misses_to_break, 24),
            ("courtesy_days", self.courtesy_days, 31),
            ("after_broken_max_months", self.after_broken_max_months, 120),
        ] {
            let lo = u32::from(matches!(
                key,
                "max_months" | "misses_to_break" | "after_broken_max_months"
            ));
            if !(lo..=hi).contains(&value) {
                return Err(invalid(
                    AT,
                    key,
                    value,
                    &format!("must be from {lo} to {hi}"),
                ));
            }
        }
        let mut frequencies = Vec::new();
        for (i, name) in self.frequencies.iter().enumerate() {
            let f = match name.to_ascii_lowercase().as_str() {
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
            };
            if !frequencies.contains(&f) {
                frequencies.push(f);
            }
        }
        if frequencies.is_empty() {
            return Err(invalid(
                AT,
                "frequencies",
                "[]",
                "must allow at least one frequency",
            ));
        }
        let agent = percent(
            "agent_max_discount_percent",
            &self.agent_max_discount_percent,
        )?;
        let supervisor = percent(
            "supervisor_max_discount_percent",
            &self.supervisor_max_discount_percent,
        )?;
        if supervisor < agent {
            return Err(invalid(
                AT,
                "supervisor_max_discount_percent",
                format!("\"{supervisor}\""),
                &format!("is below agent_max_discount_percent (\"{agent}\")"),
            ));
        }
        if supervisor >= Decimal::ONE_HUNDRED {
            return Err(invalid(
                AT,
                "supervisor_max_discount_percent",
                format!("\"{supervisor}\""),
                "must be below 100",
            ));
        }
        let creditor_name = self.creditor_name.trim();
        if creditor_name.is_empty() || creditor_name.chars().count() > 200 {
            return Err(invalid(
                AT,
                "creditor_name",
                format!("\"{}\"", self.creditor_name),
                "must be 1 to 200 characters (the creditor as agreements name it)",
            ));
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
            creditor_name: creditor_name.to_owned(),
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
            agent_max_discount_percent: agent,
            supervisor_max_discount_percent: supervisor,
        })
    }
}
