//! Recording plans as a call centre does: an agreed plan is recorded with its written agreement,
//! signed, and tracked against payments; a settlement beyond an agent's authority waits for a
//! supervisor who did not propose it; an account has one live plan; missed instalments break it.

use std::sync::Arc;

use chrono::{Days, Duration};
use recoup_domain::Money;
use recoup_domain::ageing::local_today;
use recoup_domain::plan::Proposal;
use recoup_domain::policy::Policy;
use recoup_domain::schedule::{self, Frequency};
use recoup_proto::v1 as pb;
use recoup_proto::v1::event_service_client::EventServiceClient;
use recoup_proto::v1::plan_service_client::PlanServiceClient;
use recoup_server::auth::{Role, keys};
use recoup_server::server::ServeOptions;
use recoup_store::testkit::TestDb;
use recoup_store::{NewPlan, PlanDetail, RequestKey};
use tonic::Code;
use tonic_types::StatusExt;

use crate::{
    Authed, TestServer, account, bad_fields, date, get_full, import, invoice, london_today, money,
    text,
};

type Plans = PlanServiceClient<Authed>;

fn plans(server: &TestServer, role: Role) -> Plans {
    PlanServiceClient::new(server.as_role(role))
}

/// An account owing £6,000.00 collectable (P-1 £4,000.00 120 days overdue, P-2 £2,000.00 30 days)
/// and a disputed £1,000.00; its name.
async fn owing(server: &TestServer, external_ref: &str) -> String {
    let today = london_today();
    let mut disputed = invoice("D-1", today - Days::new(100), money("GBP", 1_000, 0));
    disputed.disputed = true;
    disputed.dispute_reason = "wrong rate".into();
    let mut client = server.accounts();
    import(
        &mut client,
        &format!("import-{external_ref}"),
        vec![account(
            external_ref,
            vec![
                invoice("P-1", today - Days::new(120), money("GBP", 4_000, 0)),
                invoice("P-2", today - Days::new(30), money("GBP", 2_000, 0)),
                disputed,
            ],
        )],
    )
    .await
    .unwrap();
    crate::get(&mut client, external_ref).await.name
}

fn monthly(units: i64, first_in_days: u64) -> pb::PlanProposal {
    pb::PlanProposal {
        kind: pb::PlanKind::Instalments as i32,
        instalment_amount: Some(money("GBP", units, 0)),
        frequency: pb::Frequency::Monthly as i32,
        first_payment_date: Some(date(london_today() + Days::new(first_in_days))),
        ..Default::default()
    }
}

fn settle(percent: &str) -> pb::PlanProposal {
    pb::PlanProposal {
        kind: pb::PlanKind::Settlement as i32,
        settlement_discount_percent: percent.into(),
        pay_by_date: Some(date(london_today() + Days::new(10))),
        ..Default::default()
    }
}

async fn create(
    client: &mut Plans,
    parent: &str,
    request_id: &str,
    proposal: pb::PlanProposal,
    supersede_reason: &str,
) -> Result<pb::Plan, tonic::Status> {
    client
        .create_plan(pb::CreatePlanRequest {
            request_id: request_id.into(),
            parent: parent.into(),
            proposal: Some(proposal),
            supersede_reason: supersede_reason.into(),
            etag: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn sign(client: &mut Plans, name: &str, request_id: &str) -> Result<pb::Plan, tonic::Status> {
    client
        .record_plan_signature(pb::RecordPlanSignatureRequest {
            request_id: request_id.into(),
            name: name.into(),
            sign_time: Some(prost_types::Timestamp {
                seconds: crate::now().timestamp() - 60,
                nanos: 0,
            }),
            signatory: "Jo Bloggs, Finance Director".into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn approve(
    client: &mut Plans,
    name: &str,
    request_id: &str,
) -> Result<pb::Plan, tonic::Status> {
    client
        .approve_plan(pb::ApprovePlanRequest {
            request_id: request_id.into(),
            name: name.into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn pay(server: &TestServer, parent: &str, request_id: &str, units: i64) {
    pay_on(server, parent, request_id, units, london_today()).await;
}

async fn pay_on(
    server: &TestServer,
    parent: &str,
    request_id: &str,
    units: i64,
    on: chrono::NaiveDate,
) {
    server
        .accounts()
        .record_payment(pb::RecordPaymentRequest {
            request_id: request_id.into(),
            parent: parent.into(),
            payment: Some(pb::Payment {
                amount: Some(money("GBP", units, 0)),
                payment_date: Some(date(on)),
                reference: "BACS plan".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
}

fn blocks(a: &pb::Account) -> Vec<pb::ContactBlockReason> {
    a.contact_status
        .as_ref()
        .unwrap()
        .blocks
        .iter()
        .map(|b| b.reason())
        .collect()
}

#[tokio::test]
async fn an_agreed_plan_is_recorded_with_its_agreement_signed_and_tracked_against_payments() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let parent = owing(&server, "AGREED").await;
        let mut agent = plans(&server, Role::Agent);

        let plan = create(&mut agent, &parent, "plan-1", monthly(1_000, 10), "")
            .await
            .unwrap();
        assert_eq!(plan.state(), pb::PlanState::AwaitingSignature, "{backend}");
        assert_eq!(plan.schedule.len(), 6);
        assert_eq!(text(&plan.total), "GBP 6,000.00");
        assert_eq!(text(&plan.balance), "GBP 6,000.00");
        assert_eq!(plan.proposed_by, "test-agent");
        for part in [
            "PAYMENT PLAN AGREEMENT",
            &format!("Reference: {}", plan.name),
            "AGREED Holdings Ltd, account AGREED (the debtor)",
            "invoice P-1",
            "invoice P-2",
            "Invoices under dispute are not part of this agreement: D-1 (GBP 1,000.00).",
            "6. ",
            "GBP 1,000.00",
            "Total: GBP 6,000.00 in 6 payments",
            "within 5 days of its due date is missed",
            "Signed for the debtor:",
        ] {
            assert!(
                plan.agreement_text.contains(part),
                "{backend}: {part:?} missing from\n{}",
                plan.agreement_text
            );
        }
        // A retry answers with the same plan; the same id for another plan is refused.
        let again = create(&mut agent, &parent, "plan-1", monthly(1_000, 10), "")
            .await
            .unwrap();
        assert_eq!(again.name, plan.name);
        let reused = create(&mut agent, &parent, "plan-1", monthly(1_500, 10), "")
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&reused), ["request_id"]);

        // Signed: active, and collection calls wait for the courtesy window before the first
        // instalment (ten days away, two days of courtesy).
        let signed = sign(&mut agent, &plan.name, "sign-1").await.unwrap();
        assert_eq!(signed.state(), pb::PlanState::Active);
        assert_eq!(signed.signatory, "Jo Bloggs, Finance Director");
        assert!(signed.sign_time.is_some());
        let twice = sign(&mut agent, &plan.name, "sign-2").await.unwrap_err();
        assert_eq!(twice.code(), Code::FailedPrecondition);
        let a = get_full(&server, &parent).await;
        let live = a.active_plan.clone().expect("the live plan in the view");
        assert_eq!(live.name, plan.name);
        assert!(live.agreement_text.is_empty());
        assert_eq!(text(&live.next_instalment.unwrap().amount), "GBP 1,000.00");
        assert!(
            blocks(&a).contains(&pb::ContactBlockReason::PlanOnTrack),
            "{backend}: {:?}",
            a.contact_status
        );

        // £1,500.00 pays the first instalment and half the second, in order.
        pay(&server, &parent, "pay-1", 1_500).await;
        let got = agent
            .get_plan(pb::GetPlanRequest {
                name: plan.name.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        let states: Vec<_> = got.schedule.iter().map(|i| i.state()).collect();
        assert_eq!(states[0], pb::InstalmentState::Paid);
        assert_eq!(states[1], pb::InstalmentState::Pending);
        assert_eq!(text(&got.schedule[1].paid), "GBP 500.00");
        assert_eq!(text(&got.paid), "GBP 1,500.00");
        assert_eq!(text(&got.next_instalment.unwrap().amount), "GBP 500.00");
        assert!(!got.agreement_text.is_empty());

        let listed = agent
            .list_plans(pb::ListPlansRequest {
                parent: parent.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.plans.len(), 1);
        assert_eq!(listed.plans[0].state(), pb::PlanState::Active);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_plan_that_breaks_a_rule_is_refused_naming_each_rule_and_nothing_is_written() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let parent = owing(&server, "REFUSED").await;
        let mut agent = plans(&server, Role::Agent);
        let e = create(&mut agent, &parent, "low", monthly(100, 10), "")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{backend}");
        let details = e.get_details_bad_request().unwrap();
        let said: Vec<_> = details
            .field_violations
            .iter()
            .map(|v| (v.field.as_str(), v.description.as_str()))
            .collect();
        assert!(
            said.iter().any(|(f, d)| *f == "proposal.instalment_amount"
                && d.starts_with("INSTALMENT_BELOW_FLOOR")
                && d.contains("limit GBP 300.00, proposed GBP 100.00")),
            "{said:?}"
        );
        let e = create(&mut agent, "accounts/x", "", monthly(1_000, 10), "")
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&e), ["request_id", "parent"]);
        let listed = agent
            .list_plans(pb::ListPlansRequest {
                parent: parent.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(listed.plans.is_empty());
        assert!(get_full(&server, &parent).await.active_plan.is_none());
        server.stop().await;
    }
}

#[tokio::test]
async fn a_settlement_beyond_an_agents_authority_waits_for_a_supervisor_who_did_not_propose_it() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let mut policy = Policy::default();
        policy.plans.supervisor_max_discount_percent = 50.into();
        let options = ServeOptions {
            policy: Arc::new(policy),
            ..ServeOptions::default()
        };
        let server = TestServer::start_with(db, &options).await;
        let parent = owing(&server, "SETTLE").await;
        let mut agent = plans(&server, Role::Agent);
        let mut supervisor = plans(&server, Role::Supervisor);
        let other = keys::issue(
            &server.store,
            Role::Supervisor,
            "test-supervisor-2",
            None,
            crate::now(),
        )
        .await
        .unwrap();
        let mut second = PlanServiceClient::new(server.with_key(&other.secret));

        let plan = create(&mut agent, &parent, "s-1", settle("40"), "")
            .await
            .unwrap();
        assert_eq!(plan.state(), pb::PlanState::AwaitingApproval, "{backend}");
        assert_eq!(plan.approver_role(), pb::Role::Supervisor);
        assert_eq!(text(&plan.total), "GBP 3,600.00");
        assert_eq!(text(&plan.discount), "GBP 2,400.00");
        assert!(plan.agreement_text.contains("in full and final settlement"));
        let e = approve(&mut agent, &plan.name, "a-1").await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        let signing_early = sign(&mut agent, &plan.name, "sign-early")
            .await
            .unwrap_err();
        assert_eq!(signing_early.code(), Code::FailedPrecondition);

        // The supervisor proposes one of their own instead: another supervisor must approve it.
        let own = create(
            &mut supervisor,
            &parent,
            "s-2",
            settle("40"),
            "supervisor took over the negotiation",
        )
        .await
        .unwrap();
        assert_eq!(own.state(), pb::PlanState::AwaitingApproval);
        let e = approve(&mut supervisor, &own.name, "a-2")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
        assert!(e.message().contains("another supervisor"), "{e:?}");
        let approved = approve(&mut second, &own.name, "a-3").await.unwrap();
        assert_eq!(approved.state(), pb::PlanState::AwaitingSignature);
        assert_eq!(approved.approved_by, "test-supervisor-2");
        let again = approve(&mut second, &own.name, "a-3").await.unwrap();
        assert_eq!(again.approve_time, approved.approve_time);

        let first = agent
            .get_plan(pb::GetPlanRequest {
                name: plan.name.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(first.state(), pb::PlanState::Cancelled);
        assert_eq!(
            first.end_reason,
            "replaced by a new plan: supervisor took over the negotiation"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn an_account_has_one_live_plan_even_when_rival_plans_race() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let parent = owing(&server, "RACE").await;
        let tasks: Vec<_> = (0..10)
            .map(|k| {
                let mut client = plans(&server, Role::Agent);
                let parent = parent.clone();
                tokio::spawn(async move {
                    create(
                        &mut client,
                        &parent,
                        &format!("race-{k}"),
                        monthly(1_000 + k, 10),
                        "",
                    )
                    .await
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => assert_eq!(e.code(), Code::FailedPrecondition, "{backend}: {e:?}"),
            }
        }
        assert_eq!(ok, 1, "{backend}");
        let mut agent = plans(&server, Role::Agent);
        let e = create(&mut agent, &parent, "late", monthly(2_000, 10), "")
            .await
            .unwrap_err();
        assert!(e.message().contains("supersede_reason"), "{e:?}");
        let blank = create(&mut agent, &parent, "blank", monthly(2_000, 10), "   ")
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&blank), ["supersede_reason"]);
        server.stop().await;
    }
}

#[tokio::test]
async fn missed_instalments_break_the_plan_which_returns_the_account_to_collection() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let policy = Policy::default();
        let server = TestServer::start(db).await;
        let parent = owing(&server, "BROKEN").await;
        let account_id: i64 = parent.trim_start_matches("accounts/").parse().unwrap();
        let gbp = |units: i64| {
            Money::from_minor(
                units * 100,
                recoup_domain::Currency::from_code("GBP").unwrap(),
            )
        };
        // Agreed and signed 75 days ago: £2,000.00 a month from 70 days ago.
        let agreed = crate::now() - Duration::days(75);
        let first = local_today(chrono_tz::Europe::London, agreed) + Days::new(5);
        let proposal = Proposal::Instalments {
            amount: gbp(2_000),
            frequency: Frequency::Monthly,
            first,
        };
        let detail = PlanDetail {
            proposal,
            affordable_monthly: None,
            balance: gbp(6_000),
            interest: None,
            schedule: schedule::instalments(gbp(6_000), gbp(2_000), Frequency::Monthly, first)
                .unwrap(),
            total: gbp(6_000),
            discount: None,
        };
        let render = |reference: &str| Ok(format!("agreement {reference}"));
        let key = RequestKey {
            subject: "test-agent",
            request_id: "old-plan",
        };
        let outcome = server
            .store
            .create_plan(
                key,
                account_id,
                &NewPlan {
                    detail: &detail,
                    judged_balance: gbp(6_000),
                    approval_role: None,
                    supersede_reason: None,
                    fingerprint: "old-plan",
                    agreement: &render,
                },
                agreed,
            )
            .await
            .unwrap();
        let plan = match outcome {
            recoup_store::PlanOutcome::Recorded(p) => p,
            other => panic!("{other:?}"),
        };
        server
            .store
            .sign_plan(
                RequestKey {
                    subject: "test-agent",
                    request_id: "old-sign",
                },
                account_id,
                plan.id,
                ("Jo Bloggs", agreed),
                "old-sign",
                agreed,
            )
            .await
            .unwrap();
        // Only the first instalment was paid (on time); the second and third were missed.
        pay_on(&server, &parent, "paid-first", 2_000, first).await;

        let mut agent = plans(&server, Role::Agent);
        let got = agent
            .get_plan(pb::GetPlanRequest { name: plan.name() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.state(), pb::PlanState::Broken, "{backend}: {got:?}");
        assert_eq!(got.missed_count, 2);
        assert!(
            got.end_reason.starts_with("broken on "),
            "{}",
            got.end_reason
        );

        // The background pass records the end once, with its event.
        let ended =
            recoup_server::plan_tracking::announce_once(&server.store, &policy, crate::now())
                .await
                .unwrap();
        assert_eq!(ended, 1);
        let again =
            recoup_server::plan_tracking::announce_once(&server.store, &policy, crate::now())
                .await
                .unwrap();
        assert_eq!(again, 0);
        let a = get_full(&server, &parent).await;
        assert!(a.active_plan.is_none(), "{backend}");
        assert!(!blocks(&a).contains(&pb::ContactBlockReason::PlanOnTrack));
        let category = a.derived_category.unwrap();
        assert_eq!(category.category(), pb::DebtorCategory::Avoider);
        assert!(
            category
                .reasons
                .iter()
                .any(|r| r.starts_with("1 payment plan broken")),
            "{:?}",
            category.reasons
        );

        let mut events = EventServiceClient::new(server.as_role(Role::Integration))
            .watch_events(pb::WatchEventsRequest {
                types: vec![pb::EventType::PlanChanged as i32],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        // Each event carries the plan as its change left it, not as it stands now (broken).
        let mut seen = Vec::new();
        for _ in 0..3 {
            let e = events.message().await.unwrap().unwrap();
            assert_eq!(e.external_ref, "BROKEN", "{backend}");
            let Some(pb::event::Data::Plan(p)) = e.data else {
                panic!("{backend}: a plan event without its plan")
            };
            assert_eq!(p.name, e.resource);
            assert_eq!(p.agreement_text, format!("agreement {}", plan.name()));
            seen.push((e.resource, e.actor, p.state(), p.missed_count));
        }
        use pb::PlanState::{Active, AwaitingSignature, Broken};
        assert_eq!(
            seen,
            [
                (plan.name(), "test-agent".to_owned(), AwaitingSignature, 0),
                (plan.name(), "test-agent".to_owned(), Active, 0),
                (plan.name(), "recoup".to_owned(), Broken, 2),
            ],
            "{backend}"
        );
        server.stop().await;
    }
}

/// A creditor moving to recoup keeps its live plans: a plan agreed in the CRM comes in through
/// ImportHistory as the account's live plan, tracked against the payments dated from the day it was
/// agreed (one paid, one missed: in arrears), once by its CRM id; an account with a live plan refuses
/// another.
#[tokio::test]
async fn a_live_plan_from_the_crm_comes_in_with_its_arrears() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let parent = owing(&server, "MOVING").await;
        let today = london_today();
        // Agreed 50 days ago: £2,000.00 a month from 45 days ago; the first paid (recorded before
        // the import), the second (15 days ago) missed.
        let agreed = crate::now() - Duration::days(50);
        let first = today - Days::new(45);
        pay_on(
            &server,
            &parent,
            "before-agreed",
            500,
            today - Days::new(60),
        )
        .await;
        pay_on(
            &server,
            &parent,
            "first-instalment",
            2_000,
            today - Days::new(44),
        )
        .await;
        let plan = |crm_id: &str| pb::ImportHistoryRequest {
            external_ref: "MOVING".into(),
            record: Some(pb::import_history_request::Record::Plan(pb::PastPlan {
                crm_plan_id: crm_id.into(),
                proposal: Some(monthly(2_000, 0)).map(|mut p| {
                    p.first_payment_date = Some(date(first));
                    p
                }),
                total: Some(money("GBP", 5_500, 0)),
                agreed_time: Some(recoup_server::convert::time_out(agreed)),
                signatory: "Jo Bloggs, Finance Director".into(),
            })),
        };
        let mut bad = plan("CRM-PLAN-BAD");
        if let Some(pb::import_history_request::Record::Plan(p)) = &mut bad.record {
            p.total = Some(money("EUR", 100, 0));
        }
        let summary = server
            .accounts()
            .import_history(tokio_stream::iter(vec![plan("CRM-PLAN-1"), bad]))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (summary.created, summary.rejected),
            (1, 1),
            "{backend}: {summary:?}"
        );
        assert_eq!(
            summary.rejections[0].violations[0].field, "plan.total",
            "{backend}"
        );
        let a = get_full(&server, &parent).await;
        let live = a.active_plan.expect("the CRM's plan is live");
        assert_eq!(live.state(), pb::PlanState::Active, "{backend}");
        assert_eq!(live.signatory, "Jo Bloggs, Finance Director");
        assert_eq!(text(&live.total), "GBP 5,500.00");
        let states: Vec<_> = live.schedule.iter().map(|i| i.state()).collect();
        assert_eq!(
            states[0],
            pb::InstalmentState::Paid,
            "{backend}: {states:?}"
        );
        assert_eq!(
            text(&live.schedule[0].paid),
            "GBP 2,000.00",
            "{backend}: the £500 before it does not count"
        );
        assert_eq!(
            states[1],
            pb::InstalmentState::Missed,
            "{backend}: {states:?}"
        );
        assert_eq!(
            (live.missed_count, text(&live.arrears)),
            (1, "GBP 2,000.00".into())
        );
        assert_eq!(live.schedule.len(), 3);
        assert_eq!(text(&live.schedule[2].amount), "GBP 1,500.00");

        // Again: unchanged. Another plan from the CRM onto the account: refused, naming the live one.
        let again = server
            .accounts()
            .import_history(tokio_stream::iter(vec![
                plan("CRM-PLAN-1"),
                plan("CRM-PLAN-2"),
            ]))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (again.created, again.unchanged, again.rejected),
            (0, 1, 1),
            "{backend}"
        );
        assert!(
            again.rejections[0].violations[0]
                .description
                .contains(&live.name),
            "{backend}: {:?}",
            again.rejections
        );
        server.stop().await;
    }
}
