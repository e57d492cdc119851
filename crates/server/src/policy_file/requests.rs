//! `[policy.requests]`: how long the idempotency ledger remembers a request
//! (domain::policy::RequestsPolicy).

use recoup_domain::policy::RequestsPolicy;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RequestsDoc {
    keep_days: u32,
}

impl Default for RequestsDoc {
    fn default() -> Self {
        Self::from_domain(&RequestsPolicy::default())
    }
}

impl RequestsDoc {
    pub(super) fn from_domain(p: &RequestsPolicy) -> Self {
        Self {
            keep_days: p.keep_days,
        }
    }

    pub(super) fn into_domain(self) -> RequestsPolicy {
        RequestsPolicy {
            keep_days: self.keep_days,
        }
    }
}
