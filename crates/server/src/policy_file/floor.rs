//! `[policy.floor]`: claims and how late a call may be recorded (domain::policy::FloorPolicy).

use recoup_domain::policy::FloorPolicy;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct FloorDoc {
    claim_minutes: u32,
    max_claim_minutes: u32,
    max_claims_per_agent: u32,
    max_record_age_days: u32,
}

impl Default for FloorDoc {
    fn default() -> Self {
        Self::from_domain(&FloorPolicy::default())
    }
}

impl FloorDoc {
    pub(super) fn from_domain(p: &FloorPolicy) -> Self {
        Self {
            claim_minutes: p.claim_minutes,
            max_claim_minutes: p.max_claim_minutes,
            max_claims_per_agent: p.max_claims_per_agent,
            max_record_age_days: p.max_record_age_days,
        }
    }

    pub(super) fn into_domain(self) -> FloorPolicy {
        FloorPolicy {
            claim_minutes: self.claim_minutes,
            max_claim_minutes: self.max_claim_minutes,
            max_claims_per_agent: self.max_claims_per_agent,
            max_record_age_days: self.max_record_age_days,
        }
    }
}
