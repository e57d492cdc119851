//! The FULL view's debtor category: derived at read time from the stored document (so "days late"
//! is always to today) with `domain::category`, and the manual one if an agent set it.

use chrono::NaiveDate;
use recoup_domain::category::{self, CallFact, Category, History, OpenDebt};
use recoup_domain::policy::Policy;
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
    }
}

/// The category derived from the account's history as of the debtor's `today`.
pub fn derived(
    a: &AccountSnapshot,
    policy: &Policy,
    broken_promises: usize,
    today: NaiveDate,
) -> pb::CategoryAssessment {
    let open: Vec<OpenDebt> = a
        .open_invoices
        .iter()
        .map(|i| OpenDebt {
            number: i.data.number.clone(),
            due_date: i.data.due_date,
            outstanding: i.outstanding,
            paid: i
                .payments
                .iter()
                .fold(i.outstanding.with_amount(0.into()), |sum, (_, m)| {
                    sum.with_amount(sum.amount() + m.amount())
                }),
            disputed: i.data.disputed,
        })
        .collect();
    let calls: Vec<CallFact<'_>> = a
        .story
        .recent_calls
        .iter()
        .map(|c| CallFact {
            on: c
                .call
                .start_time
                .with_timezone(&a.data.time_zone)
                .date_naive(),
            direction: c.call.direction,
            outcome: &c.call.outcome,
        })
        .collect();
    let (broken_plans, completed_plans) = super::plan::ended_recently(
        &a.story.plans,
        &policy.plans,
        policy.promises.broken_window_days,
        today,
    );
    let assessed = category::derive(
        &History {
            today,
            open: &open,
            paid: &a.story.paid_history,
            calls: &calls,
            broken_promises,
            promise_window_days: policy.promises.broken_window_days,
            broken_plans,
            completed_plans,
        },
        &policy.category,
    );
    pb::CategoryAssessment {
        category: category_out(assessed.category) as i32,
        reasons: assessed.reasons,
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
