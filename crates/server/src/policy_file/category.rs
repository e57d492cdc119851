//! `[policy.category]`: the thresholds the debtor category is derived with (domain::category).

use recoup_domain::category::CategoryPolicy;
use serde::{Deserialize, Serialize};

use super::{PolicyError, invalid};

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

    pub(super) fn into_domain(self) -> Result<CategoryPolicy, PolicyError> {
        const AT: &str = "policy.category";
        let checks = [
            (
                "avoider_unanswered_calls",
                self.avoider_unanswered_calls,
                1,
                10,
            ),
            (
                "avoider_broken_promises",
                self.avoider_broken_promises,
                1,
                20,
            ),
            ("late_days", self.late_days, 1, 365),
            ("history_invoices", self.history_invoices, 1, 50),
            (
                "habitual_late_invoices",
                self.habitual_late_invoices,
                1,
                self.history_invoices,
            ),
            (
                "oversight_max_days_overdue",
                self.oversight_max_days_overdue,
                1,
                365,
            ),
        ];
        for (key, value, lo, hi) in checks {
            if !(lo..=hi).contains(&value) {
                let range = if key == "habitual_late_invoices" {
                    format!("must be from 1 to history_invoices ({hi})")
                } else {
                    format!("must be from {lo} to {hi}")
                };
                return Err(invalid(AT, key, value, &range));
            }
        }
        Ok(CategoryPolicy {
            avoider_unanswered_calls: self.avoider_unanswered_calls,
            avoider_broken_promises: self.avoider_broken_promises,
            late_days: self.late_days,
            habitual_late_invoices: self.habitual_late_invoices,
            history_invoices: self.history_invoices,
            oversight_max_days_overdue: self.oversight_max_days_overdue,
        })
    }
}
