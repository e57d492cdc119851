//! One assessment of an account: everything judged from its stored view at one instant under the
//! policy — what it owes (the balance and the collectable amount), its promises judged, the live
//! plan's progress and any plan broken recently, the contact rules' facts and verdict, the category
//! derived from its history, and statutory interest — computed once. The account view, call
//! guidance and letters, the worklist, plan tracking, ValidatePlan/CreatePlan and RecordCallOutcome
//! all read it, so no two of their answers can disagree.

use chrono::{DateTime, NaiveDate, Utc};
use recoup_domain::ageing::{self, Balance, OpenItem};
use recoup_domain::category::{self, CallFact, History, OpenDebt, PlanOnTrack};
use recoup_domain::contact::{self, CallHistory, ContactFacts, ContactStatus};
use recoup_domain::plan::state::PlanState;
use recoup_domain::plan::track::{InstalmentState, Progress, Standing};
use recoup_domain::plan::{Authority, Situation};
use recoup_domain::policy::Policy;
use recoup_domain::promise::{self, TrackedPromise};
use recoup_domain::text::Formats;
use recoup_domain::{Money, call::Outcome};
use recoup_store::{AccountSnapshot, StoredPlan};

use crate::convert::interest::{Claim, Interest};
use crate::convert::plan::{BrokenPlan, broken_plan, ended_recently, progress};

/// Everything judged about one account at one instant.
pub struct Assessment<'a> {
    pub account: &'a AccountSnapshot,
    pub policy: &'a Policy,
    pub now: DateTime<Utc>,
    /// The debtor's date at `now`.
    pub today: NaiveDate,
    pub balance: Balance,
    /// What may be collected: the outstanding balance less what is disputed.
    pub collectable: Money,
    /// The account's recent promises, judged from its payments.
    pub promises: Vec<TrackedPromise>,
    /// Promises broken (or partly kept) within the promise window.
    pub broken_promises: usize,
    /// The live plan and its progress.
    pub plan: Option<(&'a StoredPlan, Progress)>,
    /// Plans broken and completed within the promise window.
    pub broken_plans: usize,
    pub completed_plans: usize,
    /// The latest of them that broke.
    pub broken_plan: Option<BrokenPlan>,
    pub contact_facts: ContactFacts,
    /// May the account be called at `now`, and if not why and when.
    pub contact: ContactStatus,
    /// Statutory interest accrued to `today`, when a law applies.
    pub interest: Option<Interest>,
}

impl<'a> Assessment<'a> {
    /// Judges `a` at `now` under `policy`.
    pub fn of(a: &'a AccountSnapshot, policy: &'a Policy, now: DateTime<Utc>) -> Assessment<'a> {
        let today = ageing::local_today(a.data.time_zone, now);
        let balance = balance_of(a, today);
        let collectable = balance
            .outstanding
            .with_amount(balance.outstanding.amount() - balance.disputed.amount());
        let promises = promise::judge(
            &a.story.promises,
            &a.story.received,
            today,
            &policy.promises,
        );
        let broken_promises = promise::broken_recently(&promises, today, &policy.promises);
        let plan = a
            .story
            .live_plan()
            .and_then(|p| Some((p, progress(p, today, &policy.plans)?)));
        let quiet = plan.as_ref().and_then(|(p, t)| {
            (p.state == PlanState::Active)
                .then(|| t.quiet_until(&policy.plans))
                .flatten()
        });
        let contact_facts = ContactFacts::new(
            a.data.status,
            a.data.cease_calls,
            a.data.time_zone,
            a.open_invoices
                .iter()
                .map(|i| (i.outstanding.amount(), i.data.disputed)),
        )
        .with_plan_quiet_until(quiet);
        let contact =
            contact::contact_status(&contact_facts, &call_history(a), &policy.contact, now);
        let (broken_plans, completed_plans) = ended_recently(
            &a.story.plans,
            &policy.plans,
            policy.promises.broken_window_days,
            today,
        );
        Assessment {
            account: a,
            policy,
            now,
            today,
            balance,
            collectable,
            broken_promises,
            promises,
            broken_plans,
            completed_plans,
            broken_plan: broken_plan(a, policy, today),
            plan,
            contact_facts,
            contact,
            interest: Interest::accrued(a, &policy.interest, today),
        }
    }

    /// The promise still open, if any.
    pub fn open_promise(&self) -> Option<&TrackedPromise> {
        promise::open_promise(&self.promises)
    }

    /// The live plan, when it is active and on track.
    pub fn plan_on_track(&self) -> Option<&(&'a StoredPlan, Progress)> {
        self.plan
            .as_ref()
            .filter(|(p, t)| p.state == PlanState::Active && t.standing == Standing::OnTrack)
    }

    /// What may be claimed under the law on late payment.
    pub fn claim(&self) -> Option<Claim> {
        self.interest.as_ref().and_then(Interest::claim)
    }

    /// The category the history gives, its reasons writing figures in `fmt`.
    pub fn derived_category(&self, fmt: &dyn Formats) -> category::Assessment {
        let a = self.account;
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
        let on_track = self.plan_on_track().map(|(p, t)| PlanOnTrack {
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
        });
        category::derive(
            &History {
                today: self.today,
                open: &open,
                paid: &a.story.paid_history,
                calls: &calls,
                broken_promises: self.broken_promises,
                promise_window_days: self.policy.promises.broken_window_days,
                broken_plans: self.broken_plans,
                completed_plans: self.completed_plans,
                plan_on_track: on_track,
            },
            &self.policy.category,
            fmt,
        )
    }

    /// What a plan for this account is judged against, for `asker`: the collectable balance (with
    /// statutory interest and compensation when policy adds them), what the customer can afford
    /// (`stated`, else what it said on its latest hardship call), and stricter terms after a broken
    /// plan. The one situation ValidatePlan, CreatePlan and guidance's negotiation box share.
    pub fn situation(&self, asker: Authority, stated: Option<Money>) -> Priced {
        let interest = self
            .policy
            .plans
            .interest_in_balance
            .then(|| self.claim().map(|c| c.total()))
            .flatten();
        Priced {
            situation: Situation {
                balance: interest.map_or(self.collectable, |i| {
                    self.collectable
                        .with_amount(self.collectable.amount() + i.amount())
                }),
                oldest_overdue_days: self.balance.max_days_overdue,
                today: self.today,
                asker,
                affordable_monthly: stated.or_else(|| self.said_affordable()),
                after_broken_plan: self.broken_plans > 0,
            },
            collectable: self.collectable,
            interest,
        }
    }

    /// What the debtor said it can afford a month on its latest hardship call.
    pub fn said_affordable(&self) -> Option<Money> {
        self.account
            .story
            .recent_calls
            .iter()
            .find_map(|c| match &c.call.outcome {
                Outcome::HardshipClaimed {
                    affordable_monthly, ..
                } => *affordable_monthly,
                _ => None,
            })
    }
}

/// A plan's situation with what makes up its balance.
#[derive(Debug, Clone, Copy)]
pub struct Priced {
    pub situation: Situation,
    /// The collectable balance before statutory interest.
    pub collectable: Money,
    /// Statutory interest and compensation in the balance, when policy adds them.
    pub interest: Option<Money>,
}

/// What the account owes as of the debtor's `today`: the balance, its buckets and the oldest overdue
/// invoice. Over-credited invoices (negative outstanding) are money owed back: they count as credit.
pub fn balance_of(a: &AccountSnapshot, today: NaiveDate) -> Balance {
    let mut credit = a.credit.amount();
    let mut items = Vec::with_capacity(a.open_invoices.len());
    for inv in &a.open_invoices {
        if inv.outstanding.is_negative() {
            credit -= inv.outstanding.amount();
        } else {
            items.push(OpenItem {
                due_date: inv.data.due_date,
                outstanding: inv.outstanding,
                disputed: inv.data.disputed,
            });
        }
    }
    ageing::summarise(a.data.currency, today, &items, a.credit.with_amount(credit))
}

/// The calls the contact rules look at.
pub fn call_history(a: &AccountSnapshot) -> CallHistory<'_> {
    CallHistory {
        outbound: &a.story.outbound,
        callback: a.story.callback(),
    }
}
