//! Payment plans: one live plan per account, recorded once per request, moved through approval and
//! signature by someone other than its proposer, and ended once.

use chrono::Days;
use recoup_domain::plan::Proposal;
use recoup_domain::plan::state::PlanState;
use recoup_domain::schedule::Payment;
use recoup_store::{
    ConflictKind, NewPlan, PlanDetail, PlanEnd, PlanOutcome, RequestKey, StoreError,
};

use crate::{announced, date, each_backend, key, money, now, one_account, silent};

/// Everything (£1,500.00, what `one_account` owes) on 4 December 2026.
fn in_full() -> PlanDetail {
    let by = date("2026-12-04");
    PlanDetail {
        proposal: Proposal::PayInFull { by },
        affordable_monthly: None,
        balance: money(150_000, "GBP"),
        interest: None,
        schedule: vec![Payment {
            due: by,
            amount: money(150_000, "GBP"),
        }],
        total: money(150_000, "GBP"),
        discount: None,
    }
}

fn agreement(name: &str) -> Result<String, String> {
    Ok(format!("The agreement of {name}."))
}

fn plan<'a>(detail: &'a PlanDetail, fingerprint: &'a str) -> NewPlan<'a> {
    NewPlan {
        detail,
        judged_balance: money(150_000, "GBP"),
        approval_role: Some("supervisor"),
        supersede_reason: None,
        fingerprint,
        agreement: &agreement,
    }
}

#[tokio::test]
async fn a_plan_is_agreed_approved_by_another_signed_and_ended_once() {
    each_backend(|store, backend| async move {
        let id = one_account(&store, "P-1").await;
        let at = store.last_event_id().await.unwrap();
        let detail = in_full();
        let PlanOutcome::Recorded(p) = store
            .create_plan(key("p-1"), id, &plan(&detail, "f-1"), now())
            .await
            .unwrap()
        else {
            panic!("{backend}: a new plan must be recorded");
        };
        assert_eq!(p.state, PlanState::AwaitingApproval, "{backend}");
        assert_eq!(p.agreement, format!("The agreement of {}.", p.name()));
        assert_eq!(p.detail, detail, "{backend}");
        let at = announced(&store, backend, "agreeing a plan", at, id).await;
        assert_eq!(
            store
                .create_plan(key("p-1"), id, &plan(&detail, "f-1"), now())
                .await
                .unwrap(),
            PlanOutcome::Replayed(p.clone()),
            "{backend}"
        );
        match store
            .create_plan(key("p-2"), id, &plan(&detail, "f-2"), now())
            .await
        {
            Err(StoreError::Conflict(c)) => {
                assert_eq!(c.kind, ConflictKind::PlanLive, "{c:?}");
                assert!(c.message.contains("still live"), "{c:?}");
            }
            other => panic!("{backend}: {other:?}"),
        }
        let stale = NewPlan {
            judged_balance: money(140_000, "GBP"),
            supersede_reason: Some("a better offer"),
            ..plan(&detail, "f-3")
        };
        match store.create_plan(key("p-3"), id, &stale, now()).await {
            Err(StoreError::Conflict(c)) => {
                assert_eq!(c.kind, ConflictKind::BalanceChanged, "{c:?}");
                assert!(c.message.contains("balance changed"), "{c:?}");
            }
            other => panic!("{backend}: {other:?}"),
        }
        assert!(matches!(
            store
                .approve_plan(key("a-1"), id, p.id, "fa-1", now())
                .await,
            Err(StoreError::Conflict(c)) if c.kind == ConflictKind::SelfApproval
        ));
        silent(&store, backend, "a retry and refused plan changes", at).await;

        let supervisor = RequestKey {
            subject: "supervisor",
            request_id: "a-2",
        };
        let PlanOutcome::Recorded(approved) = store
            .approve_plan(supervisor, id, p.id, "fa-2", now())
            .await
            .unwrap()
        else {
            panic!("{backend}");
        };
        assert_eq!(approved.state, PlanState::AwaitingSignature, "{backend}");
        assert_eq!(approved.approved_by.as_deref(), Some("supervisor"));
        let at = announced(&store, backend, "approving a plan", at, id).await;
        let signed_at = now() - Days::new(1);
        let PlanOutcome::Recorded(signed) = store
            .sign_plan(
                key("s-1"),
                id,
                p.id,
                ("Sam Payables", signed_at),
                "fs-1",
                now(),
            )
            .await
            .unwrap()
        else {
            panic!("{backend}");
        };
        assert_eq!(signed.state, PlanState::Active, "{backend}");
        let at = announced(&store, backend, "signing a plan", at, id).await;
        assert!(matches!(
            store
                .sign_plan(
                    key("s-2"),
                    id,
                    p.id,
                    ("Sam Payables", signed_at),
                    "fs-2",
                    now()
                )
                .await,
            Err(StoreError::Conflict(c)) if c.kind == ConflictKind::State
        ));

        let end = PlanEnd {
            state: PlanState::Broken,
            reason: "broken on 7 December 2026",
            missed: Some(1),
            arrears: Some(money(150_000, "GBP")),
        };
        assert!(
            store.end_plan(id, p.id, &end, now()).await.unwrap(),
            "{backend}"
        );
        let at = announced(&store, backend, "ending a plan", at, id).await;
        assert!(
            !store.end_plan(id, p.id, &end, now()).await.unwrap(),
            "{backend}"
        );
        silent(&store, backend, "ending an ended plan", at).await;
        let ended = store.get_plan(id, p.id).await.unwrap().unwrap();
        assert_eq!(ended.state, PlanState::Broken, "{backend}");
        assert_eq!(ended.end_missed, Some(1));
        assert_eq!(ended.end_arrears, Some(money(150_000, "GBP")));
    })
    .await;
}
