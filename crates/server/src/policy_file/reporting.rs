//! `[policy.reporting]`: the calendar the manager's figures count days in, and how long after a
//! promise a payment is credited to the agent who took it (domain::policy::ReportingPolicy).

use recoup_domain::policy::ReportingPolicy;
use serde::{Deserialize, Serialize};

use super::{PolicyError, invalid};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct ReportingDoc {
    time_zone: String,
    attribution_days: u32,
}

impl Default for ReportingDoc {
    fn default() -> Self {
        Self::from_domain(&ReportingPolicy::default())
    }
}

impl ReportingDoc {
    pub(super) fn from_domain(p: &ReportingPolicy) -> Self {
        Self {
            time_zone: p.time_zone.name().to_owned(),
            attribution_days: p.attribution_days,
        }
    }

    pub(super) fn into_domain(self) -> Result<ReportingPolicy, PolicyError> {
        let time_zone = self.time_zone.parse().map_err(|_| {
            invalid(
                "policy.reporting",
                "time_zone",
                format!("\"{}\"", self.time_zone),
                "is not an IANA time zone (e.g. \"Europe/London\")",
            )
        })?;
        Ok(ReportingPolicy {
            time_zone,
            attribution_days: self.attribution_days,
        })
    }
}
