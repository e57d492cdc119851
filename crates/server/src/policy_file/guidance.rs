//! `[policy.guidance]`: the dates call guidance and letters give (domain::policy::GuidancePolicy).

use recoup_domain::policy::GuidancePolicy;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct GuidanceDoc {
    final_notice_days: u32,
    /// Its earlier name (before firm call guidance used it too) is still read.
    #[serde(alias = "second_reminder_days")]
    firm_deadline_days: u32,
    recent_payment_days: u32,
}

impl Default for GuidanceDoc {
    fn default() -> Self {
        Self::from_domain(&GuidancePolicy::default())
    }
}

impl GuidanceDoc {
    pub(super) fn from_domain(p: &GuidancePolicy) -> Self {
        Self {
            final_notice_days: p.final_notice_days,
            firm_deadline_days: p.firm_deadline_days,
            recent_payment_days: p.recent_payment_days,
        }
    }

    pub(super) fn into_domain(self) -> GuidancePolicy {
        GuidancePolicy {
            final_notice_days: self.final_notice_days,
            firm_deadline_days: self.firm_deadline_days,
            recent_payment_days: self.recent_payment_days,
        }
    }
}
