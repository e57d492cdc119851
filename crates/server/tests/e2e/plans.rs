//! ValidatePlan as an agent uses it with the customer on the line: every rule broken with its limit,
//! the exact schedule, approval by authority, and plans that would be accepted.

use chrono::Days;
use recoup_proto::v1 as pb;
use recoup_proto::v1::plan_service_client::PlanServiceClient;
use recoup_server::auth::Role;
use recoup_store::testkit::TestDb;

use crate::{TestServer, account, bad_fields, date, import, invoice, london_today, money, text};

async fn book(server: &TestServer) -> String {
    let today = london_today();
    let mut disputed = invoice("D-1", today - Days::new(100), money("GBP", 4_000, 0));
    disputed.disputed = true;
    disputed.dispute_reason = "wrong rate".into();
    let mut client = server.accounts();
    import(
        &mut client,
        "plans",
        vec![account(
            "PLAN-1",
            vec![
                invoice("P-1", today - Days::new(120), money("GBP", 4_000, 0)),
                invoice("P-2", today - Days::new(30), money("GBP", 2_000, 0)),
                disputed,
            ],
        )],
    )
    .await
    .unwrap();
    crate::get(&mut client, "PLAN-1").await.name
}

async fn validate(
    server: &TestServer,
    role: Role,
    parent: &str,
    proposal: pb::PlanProposal,
) -> Result<pb::ValidatePlanResponse, tonic::Status> {
    PlanServiceClient::new(server.as_role(role))
        .validate_plan(pb::ValidatePlanRequest {
            parent: parent.into(),
            proposal: Some(proposal),
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn below_the_floor_is_refused_with_its_limit_and_offers_that_would_be_accepted() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let parent = book(&server).await;
        let first = london_today() + Days::new(7);
        // £6,000.00 collectable (the disputed £4,000.00 is set aside): the floor is 5%, £300.00.
        let r = validate(
            &server,
            Role::Agent,
            &parent,
            pb::PlanProposal {
                kind: pb::PlanKind::Instalments as i32,
                instalment_amount: Some(money("GBP", 100, 0)),
                frequency: pb::Frequency::Monthly as i32,
                first_payment_date: Some(date(first)),
                affordable_monthly: Some(money("GBP", 800, 0)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(!r.valid, "{backend}");
        let codes: Vec<&str> = r.violations.iter().map(|v| v.code.as_str()).collect();
        assert_eq!(codes, ["INSTALMENT_BELOW_FLOOR", "PLAN_TOO_LONG"]);
        assert_eq!(r.violations[0].limit, "GBP 300.00");
        assert_eq!(r.violations[0].value, "GBP 100.00");
        assert_eq!(r.schedule.len(), 60);
        assert_eq!(text(&r.total), "GBP 6,000.00");
        // Each offer is valid on its own, fastest to full payment first.
        assert!(!r.counters.is_empty());
        for c in &r.counters {
            let again = validate(&server, Role::Agent, &parent, c.proposal.clone().unwrap())
                .await
                .unwrap();
            assert!(
                again.valid,
                "{backend}: {:?} -> {:?}",
                c.proposal, again.violations
            );
            assert_eq!(again.end_date, c.end_date);
            assert_eq!(again.total, c.total);
            assert_eq!(again.schedule.len() as i32, c.payment_count);
        }
        let ends: Vec<_> = r.counters.iter().map(|c| c.end_date.unwrap()).collect();
        let mut sorted = ends.clone();
        sorted.sort_by_key(|d| (d.year, d.month, d.day));
        assert_eq!(ends, sorted);
        assert_eq!(r.counter_proposals.len(), r.counters.len());
        assert!(
            r.counters
                .iter()
                .any(|c| c.description.contains("can afford"))
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn settlements_follow_the_callers_authority() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let parent = book(&server).await;
        let settle = |pct: &str| pb::PlanProposal {
            kind: pb::PlanKind::Settlement as i32,
            settlement_discount_percent: pct.into(),
            pay_by_date: Some(date(london_today() + Days::new(10))),
            ..Default::default()
        };
        let r = validate(&server, Role::Agent, &parent, settle("40"))
            .await
            .unwrap();
        assert_eq!(r.violations[0].code, "DISCOUNT_BEYOND_POLICY", "{backend}");
        assert_eq!(r.violations[0].limit, "25%");
        let r = validate(&server, Role::Agent, &parent, settle("20"))
            .await
            .unwrap();
        assert!(r.valid && r.approval_required, "{backend}: {r:?}");
        assert_eq!(r.approver_role(), pb::Role::Supervisor);
        assert_eq!(text(&r.discount), "GBP 1,200.00");
        assert_eq!(text(&r.total), "GBP 4,800.00");
        // Four eyes: a supervisor's own settlement beyond an agent's authority needs another
        // supervisor; within it, none.
        let r = validate(&server, Role::Supervisor, &parent, settle("20"))
            .await
            .unwrap();
        assert!(r.valid && r.approval_required);
        let r = validate(&server, Role::Supervisor, &parent, settle("10"))
            .await
            .unwrap();
        assert!(r.valid && !r.approval_required);
        server.stop().await;
    }
}

#[tokio::test]
async fn bad_proposals_name_each_field() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let parent = book(&server).await;
        let err = validate(
            &server,
            Role::Agent,
            "accounts/x",
            pb::PlanProposal::default(),
        )
        .await
        .unwrap_err();
        assert_eq!(bad_fields(&err), ["parent"], "{backend}");
        let err = validate(
            &server,
            Role::Agent,
            &parent,
            pb::PlanProposal {
                kind: pb::PlanKind::Instalments as i32,
                instalment_amount: Some(money("EUR", 100, 0)),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(
            bad_fields(&err),
            [
                "proposal.instalment_amount",
                "proposal.frequency",
                "proposal.first_payment_date"
            ]
        );
        let missing = validate(
            &server,
            Role::Agent,
            "accounts/999999",
            pb::PlanProposal {
                kind: pb::PlanKind::PayInFull as i32,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(missing.code(), tonic::Code::NotFound);
        server.stop().await;
    }
}

/// "Over six months": a proposal by instalment count spreads the collectable balance (less a down
/// payment) in whole minor units, the last instalment taking the remainder; the negotiation box
/// states what each option it offers comes to.
#[tokio::test]
async fn proposals_by_count_spread_the_balance_and_options_state_their_amounts() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let parent = book(&server).await;
        let first = london_today() + Days::new(7);
        let by_count = |count: i32, down: Option<i64>| pb::PlanProposal {
            kind: if down.is_some() {
                pb::PlanKind::DownPaymentAndInstalments
            } else {
                pb::PlanKind::Instalments
            } as i32,
            instalment_count: count,
            down_payment: down.map(|units| money("GBP", units, 0)),
            frequency: pb::Frequency::Monthly as i32,
            first_payment_date: Some(date(first)),
            ..Default::default()
        };
        // £6,000.00 collectable over six months: six of £1,000.00.
        let r = validate(&server, Role::Agent, &parent, by_count(6, None))
            .await
            .unwrap();
        assert!(r.valid, "{backend}: {r:?}");
        let amounts: Vec<_> = r.schedule.iter().map(|i| text(&i.amount)).collect();
        assert_eq!(amounts, vec!["GBP 1,000.00"; 6], "{backend}");
        // £6,000.00 less £1,000.00 down over seven: £714.29 six times, then £714.26.
        let r = validate(&server, Role::Agent, &parent, by_count(7, Some(1_000)))
            .await
            .unwrap();
        assert!(r.valid, "{backend}: {r:?}");
        let amounts: Vec<_> = r.schedule.iter().map(|i| text(&i.amount)).collect();
        let mut expected = vec!["GBP 1,000.00".to_owned()];
        expected.extend(vec!["GBP 714.29".to_owned(); 6]);
        expected.push("GBP 714.26".to_owned());
        assert_eq!(amounts, expected, "{backend}");
        assert_eq!(text(&r.total), "GBP 6,000.00");

        // Guidance: each option offered comes with its total and words stating its amount — the
        // whole balance in a fortnight first.
        let guidance = recoup_proto::v1::guidance_service_client::GuidanceServiceClient::new(
            server.as_role(Role::Agent),
        )
        .get_call_guidance(pb::GetCallGuidanceRequest {
            account: parent.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
        let negotiation = guidance.negotiation.unwrap();
        assert_eq!(
            negotiation.checked_options.len(),
            negotiation.options.len(),
            "{backend}"
        );
        for (checked, option) in negotiation.checked_options.iter().zip(&negotiation.options) {
            assert_eq!(checked.proposal.as_ref(), Some(option));
        }
        let in_full = &negotiation.checked_options[0];
        assert_eq!(
            in_full.proposal.as_ref().unwrap().kind(),
            pb::PlanKind::PayInFull,
            "{backend}"
        );
        assert_eq!(text(&in_full.total), "GBP 6,000.00");
        assert!(
            in_full
                .description
                .starts_with("the whole balance, GBP 6,000.00, by "),
            "{}",
            in_full.description
        );

        // Recorded with the instalment it came to.
        let plan = PlanServiceClient::new(server.as_role(Role::Agent))
            .create_plan(pb::CreatePlanRequest {
                request_id: "by-count".into(),
                parent: parent.clone(),
                proposal: Some(by_count(6, None)),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let proposal = plan.proposal.unwrap();
        assert_eq!(
            text(&proposal.instalment_amount),
            "GBP 1,000.00",
            "{backend}"
        );

        // An amount and a count, or a count out of range: the field is named.
        let mut both = by_count(6, None);
        both.instalment_amount = Some(money("GBP", 500, 0));
        let e = validate(&server, Role::Agent, &parent, both)
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&e), ["proposal.instalment_count"], "{backend}");
        let e = validate(&server, Role::Agent, &parent, by_count(521, None))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&e), ["proposal.instalment_count"], "{backend}");

        server.stop().await;
    }
}
