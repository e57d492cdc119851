//! `[policy.floor]`: claims, how late a call may be recorded, and the currency the worklist ranks
//! in (domain::policy::FloorPolicy).

use std::collections::BTreeMap;

use recoup_domain::Currency;
use recoup_domain::policy::FloorPolicy;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{PolicyError, invalid};

const AT: &str = "policy.floor";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct FloorDoc {
    claim_minutes: u32,
    max_claim_minutes: u32,
    max_claims_per_agent: u32,
    max_record_age_days: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    base_currency: Option<String>,
    /// Units of the base currency per unit of each currency, as decimal strings.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    rates: BTreeMap<String, String>,
}

impl Default for FloorDoc {
    fn default() -> Self {
        Self::from_domain(&FloorPolicy::default())
    }
}

fn currency(key: &str, code: &str) -> Result<Currency, PolicyError> {
    Currency::from_code(code).map_err(|e| invalid(AT, key, format!("\"{code}\""), &e.to_string()))
}

impl FloorDoc {
    pub(super) fn from_domain(p: &FloorPolicy) -> Self {
        Self {
            claim_minutes: p.claim_minutes,
            max_claim_minutes: p.max_claim_minutes,
            max_claims_per_agent: p.max_claims_per_agent,
            max_record_age_days: p.max_record_age_days,
            base_currency: p.base_currency.map(|c| c.code().to_owned()),
            rates: p
                .rates
                .iter()
                .map(|(c, r)| (c.clone(), r.to_string()))
                .collect(),
        }
    }

    pub(super) fn into_domain(self) -> Result<FloorPolicy, PolicyError> {
        let mut rates = BTreeMap::new();
        for (code, text) in &self.rates {
            let key = format!("rates.{code}");
            let rate = text.parse::<Decimal>().map_err(|_| {
                invalid(
                    AT,
                    &key,
                    format!("\"{text}\""),
                    "is not a rate (a decimal string, e.g. \"0.0053\")",
                )
            })?;
            rates.insert(currency(&key, code)?.code().to_owned(), rate);
        }
        Ok(FloorPolicy {
            claim_minutes: self.claim_minutes,
            max_claim_minutes: self.max_claim_minutes,
            max_claims_per_agent: self.max_claims_per_agent,
            max_record_age_days: self.max_record_age_days,
            base_currency: self
                .base_currency
                .as_deref()
                .map(|c| currency("base_currency", c))
                .transpose()?,
            rates,
        })
    }
}
