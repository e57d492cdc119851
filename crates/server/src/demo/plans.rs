//! The demo book's payment plan: DEMO-022 agreed a three-month plan eighty days ago, signed it, paid
//! the first instalment on time and missed the next two, so the plan shows as broken (and the
//! background pass records it, with its event) as soon as the service runs.

use chrono::{DateTime, Days, Duration, Utc};
use recoup_domain::ageing::local_today;
use recoup_domain::payment::NewPayment;
use recoup_domain::plan::{PlanPolicy, Proposal};
use recoup_domain::schedule::{self, Frequency};
use recoup_script::Templates;
use recoup_store::{AccountKey, NewPlan, PlanDetail, PlanOutcome, RequestKey, Store};

use crate::server::BoxError;
use crate::services::plans::agreement_model;

use super::DEMO_ACTOR;

pub(super) const ACCOUNT: &str = "DEMO-022";

/// Seeds the plan (idempotently, by fixed request ids); returns how many plans it holds.
pub(super) async fn seed(store: &Store, now: DateTime<Utc>) -> Result<usize, BoxError> {
    let Some(a) = store.get_account(AccountKey::ExternalRef(ACCOUNT)).await? else {
        return Err(format!("demo account {ACCOUNT} vanished").into());
    };
    let cur = a.data.currency;
    let agreed = now - Duration::days(80);
    let today_then = local_today(a.data.time_zone, agreed);
    let first = today_then + Days::new(5);
    let balance = a
        .open_invoices
        .iter()
        .filter(|i| !i.data.disputed && i.outstanding.is_positive())
        .fold(recoup_domain::Money::zero(cur), |s, i| {
            s.with_amount(s.amount() + i.outstanding.amount())
        });
    let instalment = balance.with_amount(balance.amount() / rust_decimal::Decimal::from(3));
    let schedule = schedule::instalments(balance, instalment, Frequency::Monthly, first)
        .map_err(|e| format!("demo plan schedule: {e:?}"))?;
    let detail = PlanDetail {
        proposal: Proposal::Instalments {
            amount: instalment,
            frequency: Frequency::Monthly,
            first,
        },
        affordable_monthly: Some(instalment),
        balance,
        interest: None,
        total: balance,
        schedule,
        discount: None,
    };
    let templates = Templates::new(&[])?;
    let policy = PlanPolicy::default();
    let render = |reference: &str| {
        let model = agreement_model(&a, &detail, &policy, today_then, DEMO_ACTOR, reference);
        templates.agreement(&model).map_err(|e| e.to_string())
    };
    let key = |request_id| RequestKey {
        subject: DEMO_ACTOR,
        request_id,
    };
    let plan = match store
        .create_plan(
            key("demo-plan-022"),
            a.id,
            &NewPlan {
                detail: &detail,
                judged_balance: balance,
                approval_role: None,
                supersede_reason: None,
                fingerprint: "demo-plan-022",
                agreement: &render,
            },
            agreed,
        )
        .await?
    {
        PlanOutcome::Recorded(p) | PlanOutcome::Replayed(p) => p,
    };
    store
        .sign_plan(
            key("demo-plan-022-signed"),
            a.id,
            plan.id,
            ("Dana Whitcombe, Director", agreed + Duration::days(1)),
            "demo-plan-022-signed",
            agreed + Duration::days(1),
        )
        .await?;
    let payment = NewPayment {
        amount: instalment,
        payment_date: first,
        reference: "WHITCOMBE PLAN 1/3".into(),
        invoice_numbers: Vec::new(),
    };
    store
        .record_payment(key("demo-plan-022-paid-1"), a.id, &payment, now)
        .await?;
    Ok(1)
}
