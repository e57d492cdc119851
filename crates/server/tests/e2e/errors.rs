//! Errors a program can branch on: every non-OK status carries a google.rpc.ErrorInfo with domain
//! `recoup` and a reason from the proto's ErrorReason, each met here as a client meets it (the
//! floor's details are checked in floor.rs, the limits' in limits.rs, a reused request id in
//! idempotency.rs).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Days;
use recoup_domain::policy::Policy;
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_proto::v1::floor_service_client::FloorServiceClient;
use recoup_proto::v1::plan_service_client::PlanServiceClient;
use recoup_server::auth::{Role, keys};
use recoup_server::config::LimitArgs;
use recoup_server::server::ServeOptions;
use recoup_store::testkit::TestDb;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

use crate::{TestServer, account, date, get, import, invoice, london_today, money};

/// The ErrorInfo reason of `e`, checked to be one the proto documents, in recoup's domain.
pub fn reason(e: &tonic::Status) -> String {
    let info = e.get_details_error_info().unwrap_or_else(|| {
        panic!("{e:?} carries no ErrorInfo");
    });
    assert_eq!(info.domain, "recoup", "{e:?}");
    assert!(
        pb::ErrorReason::from_str_name(&format!("ERROR_REASON_{}", info.reason)).is_some(),
        "{} is not a documented ErrorReason",
        info.reason
    );
    info.reason
}

fn read(name: &str) -> pb::GetAccountRequest {
    pb::GetAccountRequest {
        account: Some(pb::get_account_request::Account::Name(name.into())),
        view: pb::AccountView::Basic as i32,
    }
}

#[tokio::test]
async fn every_refusal_names_its_reason() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let mut crm = server.accounts();
        import(
            &mut crm,
            "",
            vec![account(
                "ERR-1",
                vec![invoice("E-1", london_today(), money("GBP", 90, 0))],
            )],
        )
        .await
        .unwrap();
        let name = get(&mut crm, "ERR-1").await.name;

        let bad = crm.get_account(read("accounts/x")).await.unwrap_err();
        assert_eq!(
            (bad.code(), reason(&bad).as_str()),
            (Code::InvalidArgument, "BAD_REQUEST"),
            "{backend}"
        );
        let missing = crm.get_account(read("accounts/987654")).await.unwrap_err();
        assert_eq!(
            (missing.code(), reason(&missing).as_str()),
            (Code::NotFound, "RESOURCE_NOT_FOUND"),
            "{backend}"
        );
        let stranger = AccountServiceClient::new(server.with_key("rk_live_not-a-key"))
            .get_account(read(&name))
            .await
            .unwrap_err();
        assert_eq!(
            (stranger.code(), reason(&stranger).as_str()),
            (Code::Unauthenticated, "CREDENTIALS_REFUSED"),
            "{backend}"
        );
        let lift = |role: Role, request_id: &str| {
            let request = pb::LiftContactBlockRequest {
                request_id: request_id.into(),
                name: name.clone(),
                block: pb::ContactBlockReason::CeaseCalls as i32,
                reason: "asked in writing".into(),
            };
            let mut client = AccountServiceClient::new(server.as_role(role));
            async move { client.lift_contact_block(request).await.unwrap_err() }
        };
        let agent = lift(Role::Agent, "lift-1").await;
        assert_eq!(
            (agent.code(), reason(&agent).as_str()),
            (Code::PermissionDenied, "NOT_ALLOWED"),
            "{backend}"
        );
        // Nothing recoup set from a call to lift: a conflict with the account's state.
        let nothing = lift(Role::Supervisor, "lift-2").await;
        assert_eq!(
            (nothing.code(), reason(&nothing).as_str()),
            (Code::FailedPrecondition, "CONFLICT"),
            "{backend}"
        );
        server.stop().await;
    }
}

/// Provokes `reason` (checked against the status) and notes it as seen.
fn saw(seen: &mut BTreeSet<String>, e: &tonic::Status, code: Code, expected: &str, backend: &str) {
    assert_eq!(
        (e.code(), reason(e).as_str()),
        (code, expected),
        "{backend}: {e:?}"
    );
    seen.insert(expected.to_owned());
}

fn owing(r: &str, days: u64, units: i64) -> pb::Account {
    let mut a = account(
        r,
        vec![invoice(
            &format!("{r}-1"),
            london_today() - Days::new(days),
            money("GBP", units, 0),
        )],
    );
    a.time_zone = "Europe/London".into();
    a
}

fn payment(parent: &str, request_id: &str, units: i64) -> pb::RecordPaymentRequest {
    pb::RecordPaymentRequest {
        request_id: request_id.into(),
        parent: parent.into(),
        payment: Some(pb::Payment {
            amount: Some(money("GBP", units, 0)),
            payment_date: Some(date(london_today())),
            reference: request_id.into(),
            ..Default::default()
        }),
    }
}

fn monthly(units: i64) -> pb::PlanProposal {
    pb::PlanProposal {
        kind: pb::PlanKind::Instalments as i32,
        instalment_amount: Some(money("GBP", units, 0)),
        frequency: pb::Frequency::Monthly as i32,
        first_payment_date: Some(date(london_today() + Days::new(7))),
        ..Default::default()
    }
}

fn create(parent: &str, request_id: &str, proposal: pb::PlanProposal) -> pb::CreatePlanRequest {
    pb::CreatePlanRequest {
        request_id: request_id.into(),
        parent: parent.into(),
        proposal: Some(proposal),
        ..Default::default()
    }
}

/// Every reason `ErrorReason` documents, provoked the way a client would meet it, except OTHER (a
/// code recoup does not send) and UNAVAILABLE (a database outage: the next test).
#[tokio::test]
async fn every_documented_reason_is_met_as_documented() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let mut policy = Policy::default();
        policy.floor.claim_minutes = 5;
        policy.floor.max_claim_minutes = 5;
        policy.plans.supervisor_max_discount_percent = 50.into();
        let limits = LimitArgs {
            max_concurrent_calls: 4,
            call_timeout_secs: 3,
            ..LimitArgs::default()
        };
        let options = ServeOptions {
            policy: Arc::new(policy),
            limits,
            worklist_interval: Duration::from_secs(3600),
            ..ServeOptions::default()
        };
        let server = TestServer::start_with(db, &options).await;
        let mut seen = BTreeSet::new();
        let mut crm = server.accounts();
        let mut nothing_owed = account("WALK-PAID", vec![]);
        nothing_owed.time_zone = "Europe/London".into();
        import(
            &mut crm,
            "walk",
            vec![
                owing("WALK-1", 120, 6_000),
                owing("WALK-2", 30, 500),
                owing("WALK-3", 30, 500),
                nothing_owed,
            ],
        )
        .await
        .unwrap();
        let [a1, a2, a3, paid] = [
            get(&mut crm, "WALK-1").await.name,
            get(&mut crm, "WALK-2").await.name,
            get(&mut crm, "WALK-3").await.name,
            get(&mut crm, "WALK-PAID").await.name,
        ];

        // Input, identity and role.
        let e = crm.get_account(read("accounts/x")).await.unwrap_err();
        saw(&mut seen, &e, Code::InvalidArgument, "BAD_REQUEST", backend);
        crm.record_payment(payment(&a2, "walk-pay", 10))
            .await
            .unwrap();
        let e = crm
            .record_payment(payment(&a2, "walk-pay", 11))
            .await
            .unwrap_err();
        saw(
            &mut seen,
            &e,
            Code::InvalidArgument,
            "IDEMPOTENCY_MISMATCH",
            backend,
        );
        let e = crm
            .get_payment(pb::GetPaymentRequest {
                name: format!("{a2}/payments/987654"),
            })
            .await
            .unwrap_err();
        saw(&mut seen, &e, Code::NotFound, "RESOURCE_NOT_FOUND", backend);
        let info = e.get_details_resource_info().expect("ResourceInfo");
        assert_eq!(
            (info.resource_type.as_str(), info.resource_name.as_str()),
            (
                "recoup.v1.Payment",
                format!("{a2}/payments/987654").as_str()
            )
        );
        let by_ref = pb::GetAccountRequest {
            account: Some(pb::get_account_request::Account::ExternalRef("NOPE".into())),
            view: pb::AccountView::Basic as i32,
        };
        let e = crm.get_account(by_ref).await.unwrap_err();
        let info = e.get_details_resource_info().expect("ResourceInfo");
        assert_eq!(
            (info.resource_type.as_str(), info.resource_name.as_str()),
            ("recoup.v1.Account", "external_ref=NOPE")
        );
        let e = AccountServiceClient::new(server.with_key("rk_live_not-a-key"))
            .get_account(read(&a1))
            .await
            .unwrap_err();
        saw(
            &mut seen,
            &e,
            Code::Unauthenticated,
            "CREDENTIALS_REFUSED",
            backend,
        );
        let lift = |role: Role, request_id: &str| {
            let request = pb::LiftContactBlockRequest {
                request_id: request_id.into(),
                name: a1.clone(),
                block: pb::ContactBlockReason::CeaseCalls as i32,
                reason: "asked in writing".into(),
            };
            let mut client = AccountServiceClient::new(server.as_role(role));
            async move { client.lift_contact_block(request).await.unwrap_err() }
        };
        let e = lift(Role::Agent, "walk-lift-1").await;
        saw(
            &mut seen,
            &e,
            Code::PermissionDenied,
            "NOT_ALLOWED",
            backend,
        );
        let e = lift(Role::Supervisor, "walk-lift-2").await;
        saw(&mut seen, &e, Code::FailedPrecondition, "CONFLICT", backend);
        let mut raw = tonic::client::Grpc::new(server.as_role(Role::Admin));
        raw.ready().await.unwrap();
        let e = raw
            .unary(
                tonic::Request::new(()),
                http::uri::PathAndQuery::from_static("/recoup.v1.AccountService/NoSuchMethod"),
                tonic_prost::ProstCodec::<(), ()>::default(),
            )
            .await
            .unwrap_err();
        saw(
            &mut seen,
            &e,
            Code::Unimplemented,
            "METHOD_UNKNOWN",
            backend,
        );

        // The floor.
        recoup_server::worklist::refresh_once(&server.store, &Policy::default(), crate::now())
            .await
            .unwrap();
        let claim = |client: &mut FloorServiceClient<crate::Authed>, name: &str| {
            let request = pb::ClaimAccountRequest {
                account: name.into(),
                ..Default::default()
            };
            let mut client = client.clone();
            async move { client.claim_account(request).await }
        };
        let mut agent = FloorServiceClient::new(server.as_role(Role::Agent));
        let other = keys::issue(
            &server.store,
            Role::Agent,
            "walk-agent-2",
            None,
            crate::now(),
        )
        .await
        .unwrap();
        let mut second = FloorServiceClient::new(server.with_key(&other.secret));
        let e = claim(&mut agent, &paid).await.unwrap_err();
        saw(
            &mut seen,
            &e,
            Code::FailedPrecondition,
            "CONTACT_RULE",
            backend,
        );
        let held = claim(&mut agent, &a3).await.unwrap().into_inner();
        let e = claim(&mut second, &a3).await.unwrap_err();
        saw(
            &mut seen,
            &e,
            Code::FailedPrecondition,
            "CLAIM_HELD",
            backend,
        );
        let e = claim(&mut agent, &a2).await.unwrap_err();
        saw(
            &mut seen,
            &e,
            Code::FailedPrecondition,
            "CLAIM_LIMIT",
            backend,
        );
        let extend = pb::ExtendClaimRequest {
            name: held.name.clone(),
        };
        let e = agent.extend_claim(extend.clone()).await.unwrap_err();
        saw(
            &mut seen,
            &e,
            Code::FailedPrecondition,
            "CLAIM_MAX_HOLD",
            backend,
        );
        agent
            .release_claim(pb::ReleaseClaimRequest {
                name: held.name.clone(),
            })
            .await
            .unwrap();
        let e = agent.extend_claim(extend).await.unwrap_err();
        saw(
            &mut seen,
            &e,
            Code::FailedPrecondition,
            "CLAIM_ENDED",
            backend,
        );

        // Plans and disputes.
        let mut plans = PlanServiceClient::new(server.as_role(Role::Agent));
        let mut supervisor = PlanServiceClient::new(server.as_role(Role::Supervisor));
        let e = plans
            .create_plan(create(&a1, "walk-low", monthly(10)))
            .await
            .unwrap_err();
        saw(&mut seen, &e, Code::InvalidArgument, "PLAN_RULE", backend);
        let fields: Vec<_> = e
            .get_details_bad_request()
            .unwrap()
            .field_violations
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert!(
            fields.contains(&"proposal.instalment_amount".to_owned()),
            "{fields:?}"
        );
        let validated = plans
            .validate_plan(pb::ValidatePlanRequest {
                parent: a2.clone(),
                proposal: Some(monthly(100)),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(validated.valid, "{backend}: {validated:?}");
        crm.record_payment(payment(&a2, "walk-mid-call", 50))
            .await
            .unwrap();
        let bound = pb::CreatePlanRequest {
            etag: validated.etag.clone(),
            ..create(&a2, "walk-bound", monthly(100))
        };
        let e = plans.create_plan(bound).await.unwrap_err();
        saw(&mut seen, &e, Code::Aborted, "BALANCE_CHANGED", backend);
        // An etag given for another proposal, or not one ValidatePlan gave: the field is named.
        for (etag, proposal) in [
            (validated.etag.clone(), monthly(200)),
            ("x".into(), monthly(100)),
        ] {
            let other = pb::CreatePlanRequest {
                etag,
                ..create(&a2, "walk-other", proposal)
            };
            let e = plans.create_plan(other).await.unwrap_err();
            assert_eq!(crate::bad_fields(&e), ["etag"], "{backend}");
        }
        assert!(
            crate::get_full(&server, &a2).await.active_plan.is_none(),
            "{backend}: nothing recorded"
        );
        let settle = pb::PlanProposal {
            kind: pb::PlanKind::Settlement as i32,
            settlement_discount_percent: "40".into(),
            pay_by_date: Some(date(london_today() + Days::new(10))),
            ..Default::default()
        };
        let waiting = supervisor
            .create_plan(create(&a1, "walk-settle", settle))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            waiting.state(),
            pb::PlanState::AwaitingApproval,
            "{backend}"
        );
        let e = supervisor
            .approve_plan(pb::ApprovePlanRequest {
                request_id: "walk-approve".into(),
                name: waiting.name.clone(),
            })
            .await
            .unwrap_err();
        saw(
            &mut seen,
            &e,
            Code::PermissionDenied,
            "SELF_APPROVAL",
            backend,
        );
        let e = plans
            .create_plan(create(&a1, "walk-second", monthly(1_000)))
            .await
            .unwrap_err();
        saw(
            &mut seen,
            &e,
            Code::FailedPrecondition,
            "PLAN_LIVE",
            backend,
        );
        let raised = AccountServiceClient::new(server.as_role(Role::Agent))
            .raise_dispute(pb::RaiseDisputeRequest {
                request_id: "walk-dispute".into(),
                parent: a3.clone(),
                dispute: Some(pb::Dispute {
                    invoice_numbers: vec!["WALK-3-1".into()],
                    reason: "never delivered".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner();
        let resolve = |request_id: &str| pb::ResolveDisputeRequest {
            request_id: request_id.into(),
            name: raised.name.clone(),
            outcome: pb::DisputeState::Rejected as i32,
            resolution: "delivery note signed".into(),
        };
        let mut sup_accounts = AccountServiceClient::new(server.as_role(Role::Supervisor));
        sup_accounts
            .resolve_dispute(resolve("walk-resolve-1"))
            .await
            .unwrap();
        let e = sup_accounts
            .resolve_dispute(resolve("walk-resolve-2"))
            .await
            .unwrap_err();
        saw(
            &mut seen,
            &e,
            Code::FailedPrecondition,
            "ALREADY_RESOLVED",
            backend,
        );

        // Capacity and time.
        let lock = server.db.lock_writes().await;
        let e = crm
            .record_payment(payment(&a3, "walk-slow", 5))
            .await
            .unwrap_err();
        saw(
            &mut seen,
            &e,
            Code::DeadlineExceeded,
            "CALL_TIMEOUT",
            backend,
        );
        drop(lock);
        let mut open = Vec::new();
        for _ in 0..4 {
            let (tx, rx) = tokio::sync::mpsc::channel::<pb::ImportAccountsRequest>(1);
            let mut importer = server.accounts();
            open.push((
                tx,
                tokio::spawn(async move {
                    importer
                        .import_accounts(tokio_stream::wrappers::ReceiverStream::new(rx))
                        .await
                }),
            ));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let e = crm.get_account(read(&a1)).await.unwrap_err();
        saw(
            &mut seen,
            &e,
            Code::ResourceExhausted,
            "OVERLOADED",
            backend,
        );
        for (tx, task) in open {
            drop(tx);
            task.await.unwrap().unwrap();
        }

        // A fault: the payments table gone behind the server's back.
        server.db.break_table("payment_allocations").await;
        let e = crm
            .get_payment(pb::GetPaymentRequest {
                name: format!("{a2}/payments/1"),
            })
            .await
            .unwrap_err();
        saw(&mut seen, &e, Code::Internal, "INTERNAL", backend);
        assert!(!e.message().contains("payment_allocations"), "{e:?}");

        let documented: BTreeSet<String> = (1..)
            .map_while(|i| pb::ErrorReason::try_from(i).ok())
            .map(|r| {
                r.as_str_name()
                    .trim_start_matches("ERROR_REASON_")
                    .to_owned()
            })
            .filter(|r| r != "OTHER" && r != "UNAVAILABLE")
            .collect();
        assert_eq!(seen, documented, "{backend}");
        server.stop().await;
    }
}

/// A database that stops serving answers UNAVAILABLE (retry), not INTERNAL (a fault); health turns
/// NOT_SERVING within 2 s (the default interval) and SERVING again by itself when it is back, and
/// then the very first requests succeed: connections made before the outage are replaced, not
/// each failing a request. PostgreSQL: a SQLite file cannot be cut off from its server.
#[tokio::test]
async fn a_database_outage_is_unavailable_until_it_ends() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let server = TestServer::start(db).await;
    let mut crm = server.accounts();
    import(&mut crm, "", vec![account("DOWN-1", vec![])])
        .await
        .unwrap();
    let name = get(&mut crm, "DOWN-1").await.name;
    let health = |want: ServingStatus, within: Duration| {
        let channel = server.channel.clone();
        async move {
            let deadline = std::time::Instant::now() + within;
            loop {
                let got = HealthClient::new(channel.clone())
                    .check(HealthCheckRequest::default())
                    .await
                    .unwrap()
                    .into_inner()
                    .status;
                if got == want as i32 {
                    return;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "health stayed {got} for {within:?}, wanted {want:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    health(ServingStatus::Serving, Duration::from_secs(5)).await;
    server.db.outage(true).await;
    health(ServingStatus::NotServing, Duration::from_secs(2)).await;
    let e = crm.get_account(read(&name)).await.unwrap_err();
    assert_eq!(
        (e.code(), reason(&e).as_str()),
        (Code::Unavailable, "UNAVAILABLE"),
        "{e:?}"
    );
    server.db.outage(false).await;
    health(ServingStatus::Serving, Duration::from_secs(10)).await;
    for n in 0..8 {
        crm.get_account(read(&name))
            .await
            .unwrap_or_else(|e| panic!("read {n} after the outage: {e:?}"));
    }
    import(&mut crm, "after-outage", vec![account("DOWN-2", vec![])])
        .await
        .expect("the first write after the outage");
    server.stop().await;
}
