//! `[policy.interest]`: statutory late-payment interest on or off, and reference-rate changes added
//! to the history recoup ships (`crates/domain/data/reference_rates.toml`).

use recoup_domain::interest::{InterestPolicy, RateHistory, ReferenceRates};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{LocalDate, PolicyError, invalid};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct InterestDoc {
    enabled: bool,
    uk_base_rate: Vec<RateChangeDoc>,
    ecb_main_refinancing_rate: Vec<RateChangeDoc>,
}

/// A change of a reference rate: from a date, a rate in percent a year (a decimal string, so that
/// "4.75" is exactly 4.75).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateChangeDoc {
    from: LocalDate,
    percent: String,
}

impl Default for InterestDoc {
    fn default() -> Self {
        Self::from_domain(&InterestPolicy::default())
    }
}

/// The changes in `now` that the shipped history does not hold as they are.
fn amendments(shipped: &RateHistory, now: &RateHistory) -> Vec<RateChangeDoc> {
    now.changes()
        .filter(|(from, rate)| !shipped.changes().any(|(d, r)| d == *from && r == *rate))
        .map(|(from, rate)| RateChangeDoc {
            from: LocalDate(from),
            percent: rate.to_string(),
        })
        .collect()
}

fn amend(
    history: &mut RateHistory,
    key: &str,
    changes: Vec<RateChangeDoc>,
) -> Result<(), PolicyError> {
    let mut parsed = Vec::with_capacity(changes.len());
    for (i, c) in changes.into_iter().enumerate() {
        let rate: Decimal = c.percent.parse().map_err(|_| {
            invalid(
                "policy.interest",
                &format!("{key}[{i}].percent"),
                format!("\"{}\"", c.percent),
                "is not a rate in percent a year from -5 to 50 (e.g. \"4.75\")",
            )
        })?;
        parsed.push((c.from.0, rate));
    }
    history.amend(parsed);
    Ok(())
}

impl InterestDoc {
    pub(super) fn from_domain(p: &InterestPolicy) -> Self {
        let shipped = ReferenceRates::shipped();
        Self {
            enabled: p.enabled,
            uk_base_rate: amendments(&shipped.uk_base_rate, &p.rates.uk_base_rate),
            ecb_main_refinancing_rate: amendments(
                &shipped.ecb_main_refinancing_rate,
                &p.rates.ecb_main_refinancing_rate,
            ),
        }
    }

    pub(super) fn into_domain(self) -> Result<InterestPolicy, PolicyError> {
        let mut rates = ReferenceRates::shipped();
        amend(&mut rates.uk_base_rate, "uk_base_rate", self.uk_base_rate)?;
        amend(
            &mut rates.ecb_main_refinancing_rate,
            "ecb_main_refinancing_rate",
            self.ecb_main_refinancing_rate,
        )?;
        Ok(InterestPolicy {
            enabled: self.enabled,
            rates,
        })
    }
}
