//! The FULL view's debtor category: derived at read time from the stored document (so "days late"
//! is always to today) with `domain::category`, and the manual one if an agent set it.

use chrono::NaiveDate;
use recoup_domain::category::{self, CallFact, Category, History, OpenDebt, PlanOnTrack};
use recoup_domain::plan::state::PlanState;
use recoup_domain::plan::track::{InstalmentState, Standing};
use recoup_domain::policy::Policy;
use recoup_domain::text::Formats;
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

/// The live plan, when it is active and on track, as the category names it.
fn plan_on_track(a: &AccountSnapshot, policy: &Policy, today: NaiveDate) -> Option<PlanOnTrack> {
    let (p, t) = super::live_plan(a, &policy.plans, today)?;
    if p.state != PlanState::Active || t.standing != Standing::OnTrack {
        return None;
    }
    Some(PlanOnTrack {
        agreed_on: p.create_time.with_timezone(&p.time_zone).date_naive(),
        paid_instalments: t
            .instalments
            .iter()
            .filter(|i| i.state == InstalmentState::Paid)
            .count(),
        instalments: t.instalments.len(),
        next: t.next().map(|n| {
            (
                n.amount.with_amount(n.amount.amount() - n.paid.amount()),
                n.due,
            )
        }),
    })
}

/// The category derived from the account's history as of the debtor's `today`, its reasons
/// writing figures in `fmt`.
pub fn derived(
    a: &AccountSnapshot,
    policy: &Policy,
    broken_promises: usize,
    today: NaiveDate,
    fmt: &dyn Formats,
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
            plan_on_track: plan_on_track(a, policy, today),
        },
        &policy.category,
        fmt,
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
