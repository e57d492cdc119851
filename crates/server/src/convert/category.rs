//! The FULL view's debtor category as the contract shows it: derived at read time by the assessment
//! (`crate::assess`, so "days late" is always to today), and the manual one if an agent set it.

use recoup_domain::category::{self, Category};
use recoup_proto::v1 as pb;
use recoup_store::{AccountSnapshot, ManualCategory};

use super::time_out;

pub fn category_in(c: pb::DebtorCategory) -> Option<Category> {
    Some(match c {
        pb::DebtorCategory::Unspecified => return None,
        pb::DebtorCategory::Unknown => Category::Unknown,
        pb::DebtorCategory::Oversight => Category::Oversight,
        pb::DebtorCategory::CashFlowTrouble => Category::CashFlowTrouble,
        pb::DebtorCategory::StrategicDelayer => Category::StrategicDelayer,
        pb::DebtorCategory::Avoider => Category::Avoider,
        pb::DebtorCategory::Disputed => Category::Disputed,
        pb::DebtorCategory::NothingOwed => Category::NothingOwed,
        pb::DebtorCategory::OnPlan => Category::OnPlan,
    })
}

fn category_out(c: Category) -> pb::DebtorCategory {
    match c {
        Category::Unknown => pb::DebtorCategory::Unknown,
        Category::Oversight => pb::DebtorCategory::Oversight,
        Category::CashFlowTrouble => pb::DebtorCategory::CashFlowTrouble,
        Category::StrategicDelayer => pb::DebtorCategory::StrategicDelayer,
        Category::Avoider => pb::DebtorCategory::Avoider,
        Category::Disputed => pb::DebtorCategory::Disputed,
        Category::NothingOwed => pb::DebtorCategory::NothingOwed,
        Category::OnPlan => pb::DebtorCategory::OnPlan,
    }
}

/// A derived category as the contract shows it.
pub fn assessment_out(d: &category::Assessment) -> pb::CategoryAssessment {
    pb::CategoryAssessment {
        category: category_out(d.category) as i32,
        reasons: d.reasons.clone(),
        ..Default::default()
    }
}

pub fn manual(m: &ManualCategory) -> pb::CategoryAssessment {
    pb::CategoryAssessment {
        category: category_out(m.category) as i32,
        reasons: vec![m.reason.clone()],
        manual: true,
        set_by: m.set_by.clone(),
        set_time: Some(time_out(m.set_time)),
    }
}

/// The manual category if one is set, else the derived one.
pub fn in_force(a: &AccountSnapshot, derived: &pb::CategoryAssessment) -> pb::CategoryAssessment {
    a.story
        .manual_category
        .as_ref()
        .map_or_else(|| derived.clone(), manual)
}
