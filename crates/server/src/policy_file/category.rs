//! `[policy.category]`: the thresholds the debtor category is derived with (domain::category).

use recoup_domain::category::CategoryPolicy;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct CategoryDoc {
    avoider_unanswered_calls: u32,
    avoider_broken_promises: u32,
    late_days: u32,
    habitual_late_invoices: u32,
    history_invoices: u32,
    oversight_max_days_overdue: u32,
}

impl Default for CategoryDoc {
    fn default() -> Self {
        Self::from_domain(&CategoryPolicy::default())
    }
}

impl CategoryDoc {
    pub(super) fn from_domain(p: &CategoryPolicy) -> Self {
        Self {
            avoider_unanswered_calls: p.avoider_unanswered_calls,
            avoider_broken_promises: p.avoider_broken_promises,
            late_days: p.late_days,
            habitual_late_invoices: p.habitual_late_invoices,
            history_invoices: p.history_invoices,
            oversight_max_days_overdue: p.oversight_max_days_overdue,
        }
    }

    pub(super) fn into_domain(self) -> CategoryPolicy {
        CategoryPolicy {
            avoider_unanswered_calls: self.avoider_unanswered_calls,
            avoider_broken_promises: self.avoider_broken_promises,
            late_days: self.late_days,
            habitual_late_invoices: self.habitual_late_invoices,
            history_invoices: self.history_invoices,
            oversight_max_days_overdue: self.oversight_max_days_overdue,
        }
    }
}
