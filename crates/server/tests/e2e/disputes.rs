//! Disputes as agents and supervisors use them: raising one pauses its invoices, upholding it issues
//! an exact credit note, rejecting it makes them collectable again; a CRM import keeps both; retries
//! and races give one dispute.

use chrono::Days;
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_proto::v1::call_service_client::CallServiceClient;
use recoup_proto::v1::event_service_client::EventServiceClient;
use recoup_server::auth::Role;
use recoup_store::testkit::TestDb;
use tonic::Code;

use crate::{
    Authed, TestServer, account, bad_fields, date, get_full, import, invoice, london_today, money,
    text,
};

type Accounts = AccountServiceClient<Authed>;

fn as_role(server: &TestServer, role: Role) -> Accounts {
    AccountServiceClient::new(server.as_role(role))
}

/// An account with INV-1 (500.00, 20 days overdue) and INV-2 (250.00, 10 days overdue); its name.
async fn owing(server: &TestServer, external_ref: &str) -> String {
    let today = london_today();
    let mut client = server.accounts();
    import(
        &mut client,
        &format!("import-{external_ref}"),
        vec![account(external_ref, invoices(today))],
    )
    .await
    .expect("import");
    crate::get(&mut client, external_ref).await.name
}

fn invoices(today: chrono::NaiveDate) -> Vec<pb::Invoice> {
    vec![
        invoice("INV-1", today - Days::new(20), money("GBP", 500, 0)),
        invoice("INV-2", today - Days::new(10), money("GBP", 250, 0)),
    ]
}

async fn raise(
    client: &mut Accounts,
    parent: &str,
    request_id: &str,
    numbers: &[&str],
) -> Result<pb::Dispute, tonic::Status> {
    client
        .raise_dispute(pb::RaiseDisputeRequest {
            request_id: request_id.into(),
            parent: parent.into(),
            dispute: Some(pb::Dispute {
                invoice_numbers: numbers.iter().map(|n| n.to_string()).collect(),
                reason: "Goods arrived damaged; delivery note signed as such".into(),
                ..Default::default()
            }),
        })
        .await
        .map(|r| r.into_inner())
}

async fn resolve(
    client: &mut Accounts,
    name: &str,
    request_id: &str,
    outcome: pb::DisputeState,
) -> Result<pb::Dispute, tonic::Status> {
    client
        .resolve_dispute(pb::ResolveDisputeRequest {
            request_id: request_id.into(),
            name: name.into(),
            outcome: outcome as i32,
            resolution: "Checked the delivery note with the warehouse".into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn pay(server: &TestServer, parent: &str, request_id: &str, units: i64, named: &[&str]) {
    server
        .accounts()
        .record_payment(pb::RecordPaymentRequest {
            request_id: request_id.into(),
            parent: parent.into(),
            payment: Some(pb::Payment {
                amount: Some(money("GBP", units, 0)),
                payment_date: Some(date(london_today())),
                reference: request_id.into(),
                invoice_numbers: named.iter().map(|n| n.to_string()).collect(),
                ..Default::default()
            }),
        })
        .await
        .expect("payment");
}

fn balance(a: &pb::Account) -> (String, String, String) {
    let b = a.balance.as_ref().unwrap();
    (text(&b.outstanding), text(&b.overdue), text(&b.disputed))
}

#[tokio::test]
async fn an_upheld_dispute_pauses_its_invoices_then_credits_exactly_what_they_owed() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let parent = owing(&server, "DSP-1").await;
        // Part paid before the dispute: the credit note is for what is left, to the penny.
        pay(&server, &parent, "pay-1", 120, &["INV-1"]).await;
        let mut agent = as_role(&server, Role::Agent);
        let raised = raise(&mut agent, &parent, "raise-1", &["INV-1"])
            .await
            .unwrap();
        assert!(
            raised.name.starts_with(&format!("{parent}/disputes/")),
            "{backend}"
        );
        assert_eq!(raised.state(), pb::DisputeState::Open);
        assert_eq!(raised.raised_by, "test-agent");
        assert!(raised.raise_time.is_some() && raised.resolve_time.is_none());
        assert_eq!(raised.invoice_numbers, ["INV-1"]);

        let a = get_full(&server, &parent).await;
        assert_eq!(
            balance(&a),
            (
                "GBP 630.00".into(),
                "GBP 250.00".into(),
                "GBP 380.00".into()
            ),
            "{backend}: the disputed 380.00 is set aside, not overdue"
        );
        let inv1 = a.invoices.iter().find(|i| i.number == "INV-1").unwrap();
        assert!(inv1.disputed);
        assert_eq!(inv1.dispute, raised.name);
        assert_eq!(inv1.dispute_reason, raised.reason);
        assert!(
            a.invoices
                .iter()
                .any(|i| i.number == "INV-2" && i.dispute.is_empty())
        );
        assert_eq!(a.open_disputes, std::slice::from_ref(&raised));

        // A retry is the same dispute; the same id for something else is refused.
        assert_eq!(
            raise(&mut agent, &parent, "raise-1", &["INV-1"])
                .await
                .unwrap(),
            raised
        );
        let reused = raise(&mut agent, &parent, "raise-1", &["INV-2"])
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&reused), ["request_id"]);
        // An invoice is held by one open dispute at a time.
        let twice = raise(&mut agent, &parent, "raise-2", &["INV-2", "INV-1"])
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&twice), ["dispute.invoice_numbers[1]"]);
        assert!(
            twice.message().contains(&raised.name),
            "{}",
            twice.message()
        );

        // Unallocated money does not go to a paused invoice.
        pay(&server, &parent, "pay-2", 300, &[]).await;
        let a = get_full(&server, &parent).await;
        assert_eq!(
            balance(&a),
            ("GBP 380.00".into(), "GBP 0.00".into(), "GBP 380.00".into()),
            "{backend}"
        );
        assert_eq!(
            text(&a.balance.as_ref().unwrap().unallocated_credit),
            "GBP 50.00"
        );

        // Only a supervisor resolves.
        let denied = resolve(&mut agent, &raised.name, "up-1", pb::DisputeState::Upheld)
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        let mut supervisor = as_role(&server, Role::Supervisor);
        let upheld = resolve(
            &mut supervisor,
            &raised.name,
            "up-1",
            pb::DisputeState::Upheld,
        )
        .await
        .unwrap();
        assert_eq!(upheld.state(), pb::DisputeState::Upheld, "{backend}");
        assert_eq!(upheld.resolved_by, "test-supervisor");
        assert_eq!(
            upheld.resolution,
            "Checked the delivery note with the warehouse"
        );
        assert!(upheld.resolve_time.is_some());
        let id = raised.name.rsplit('/').next().unwrap();
        assert_eq!(upheld.credit_notes.len(), 1);
        let note = &upheld.credit_notes[0];
        assert_eq!(note.invoice_number, "INV-1");
        let cn = note.credit_note.as_ref().unwrap();
        assert_eq!(cn.reference, format!("DISPUTE-{id}"));
        assert_eq!(cn.kind(), pb::AdjustmentKind::CreditNote);
        assert_eq!(
            text(&cn.amount),
            "GBP 380.00",
            "{backend}: exactly what INV-1 owed"
        );
        assert_eq!(cn.date, Some(date(london_today())));
        assert_eq!(
            cn.reason,
            format!(
                "Dispute {id} upheld by test-supervisor: Checked the delivery note with the warehouse"
            )
        );
        // Retried, the same answer; resolved again under another id, refused.
        assert_eq!(
            resolve(
                &mut supervisor,
                &raised.name,
                "up-1",
                pb::DisputeState::Upheld
            )
            .await
            .unwrap(),
            upheld
        );
        let again = resolve(
            &mut supervisor,
            &raised.name,
            "up-2",
            pb::DisputeState::Rejected,
        )
        .await
        .unwrap_err();
        assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
        assert!(again.message().contains("already resolved (upheld)"));

        let a = get_full(&server, &parent).await;
        assert_eq!(
            balance(&a),
            ("GBP 0.00".into(), "GBP 0.00".into(), "GBP 0.00".into()),
            "{backend}: the credit note cleared INV-1"
        );
        assert!(a.invoices.is_empty() && a.open_disputes.is_empty());
        assert_eq!(
            text(&a.balance.as_ref().unwrap().unallocated_credit),
            "GBP 50.00"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn a_dispute_raised_on_a_call_and_rejected_makes_the_invoices_collectable_again() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let parent = owing(&server, "DSP-2").await;
        let mut feed = EventServiceClient::new(server.as_role(Role::Integration))
            .watch_events(pb::WatchEventsRequest {
                after_cursor: String::new(),
                types: vec![pb::EventType::DisputeChanged as i32],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let call = CallServiceClient::new(server.as_role(Role::Agent))
            .record_call_outcome(pb::RecordCallOutcomeRequest {
                request_id: "call-1".into(),
                parent: parent.clone(),
                call: Some(pb::CallRecord {
                    direction: pb::CallDirection::Inbound as i32,
                    start_time: Some(recoup_server::convert::time_out(crate::now())),
                    outcome: Some(pb::call_record::Outcome::DisputeRaised(pb::DisputeRaised {
                        invoice_numbers: vec!["INV-2".into(), "INV-1".into()],
                        reason: "Says the price was not what was quoted".into(),
                    })),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner();
        let a = get_full(&server, &parent).await;
        assert_eq!(a.open_disputes.len(), 1, "{backend}");
        let d = &a.open_disputes[0];
        assert_eq!(d.invoice_numbers, ["INV-2", "INV-1"]);
        assert_eq!(d.call, call.name);
        assert_eq!(d.raised_by, "test-agent");
        assert_eq!(
            balance(&a),
            ("GBP 750.00".into(), "GBP 0.00".into(), "GBP 750.00".into())
        );
        let cs = a.contact_status.unwrap();
        assert!(
            cs.blocks
                .iter()
                .any(|b| b.reason() == pb::ContactBlockReason::Disputed),
            "{backend}: nothing collectable left to call about: {cs:?}"
        );

        // Resolved later than raised, as it always is off a standing test clock: the feed shows
        // each event's dispute as of the event's time, which cannot tell apart two changes made
        // in one instant (a slow feed read after the rejection then showed the raise rejected).
        server.clock.advance(chrono::Duration::seconds(1));
        let mut supervisor = as_role(&server, Role::Supervisor);
        let rejected = resolve(
            &mut supervisor,
            &d.name,
            "reject-1",
            pb::DisputeState::Rejected,
        )
        .await
        .unwrap();
        assert_eq!(rejected.state(), pb::DisputeState::Rejected);
        assert!(rejected.credit_notes.is_empty());
        let a = get_full(&server, &parent).await;
        assert_eq!(
            balance(&a),
            ("GBP 750.00".into(), "GBP 750.00".into(), "GBP 0.00".into()),
            "{backend}: collectable again"
        );
        assert!(
            a.invoices
                .iter()
                .all(|i| !i.disputed && i.dispute_reason.is_empty())
        );

        // The feed shows the dispute as each change left it: raised open, then rejected.
        let first = feed.message().await.unwrap().unwrap();
        let second = feed.message().await.unwrap().unwrap();
        let state = |e: &pb::Event| match &e.data {
            Some(pb::event::Data::Dispute(d)) => (e.resource.clone(), d.state()),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            state(&first),
            (d.name.clone(), pb::DisputeState::Open),
            "{backend}"
        );
        assert_eq!(state(&second), (d.name.clone(), pb::DisputeState::Rejected));
        assert_eq!(first.request_id, "call-1");
        assert_eq!(second.actor, "test-supervisor");
        server.stop().await;
    }
}

#[tokio::test]
async fn an_import_keeps_what_recoup_paused_and_credited() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let parent = owing(&server, "DSP-3").await;
        let mut agent = as_role(&server, Role::Agent);
        let mut supervisor = as_role(&server, Role::Supervisor);
        let on_inv1 = raise(&mut agent, &parent, "r-1", &["INV-1"]).await.unwrap();
        let on_inv2 = raise(&mut agent, &parent, "r-2", &["INV-2"]).await.unwrap();
        resolve(
            &mut supervisor,
            &on_inv2.name,
            "u-2",
            pb::DisputeState::Upheld,
        )
        .await
        .unwrap();
        let id2 = on_inv2.name.rsplit('/').next().unwrap();

        // The CRM re-sends both invoices changed (a later issue date), neither marked disputed
        // and without our credit note: INV-1 stays paused, INV-2 stays credited.
        let today = london_today();
        let mut changed = invoices(today);
        for i in &mut changed {
            i.issue_date = Some(date(today - Days::new(40)));
        }
        let mut client = server.accounts();
        let summary = import(
            &mut client,
            "again-1",
            vec![account("DSP-3", changed.clone())],
        )
        .await
        .unwrap();
        assert_eq!(summary.updated, 1, "{backend}");
        let a = get_full(&server, &parent).await;
        assert_eq!(
            balance(&a),
            ("GBP 500.00".into(), "GBP 0.00".into(), "GBP 500.00".into()),
            "{backend}"
        );
        assert_eq!(a.invoices[0].dispute, on_inv1.name);

        // The CRM cannot credit INV-2 below zero on top of our note.
        let mut over = changed.clone();
        over[1].adjustments.push(pb::InvoiceAdjustment {
            reference: "CN-9".into(),
            kind: pb::AdjustmentKind::CreditNote as i32,
            amount: Some(money("GBP", 100, 0)),
            date: Some(date(today)),
            reason: "Goodwill".into(),
        });
        let summary = import(&mut client, "again-2", vec![account("DSP-3", over)])
            .await
            .unwrap();
        assert_eq!(summary.rejected, 1, "{backend}");
        let fields: Vec<_> = summary.rejections[0]
            .violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, ["account.invoices[1].amount"]);
        let outstanding = |a: pb::Account| text(&a.balance.unwrap().outstanding);
        assert_eq!(outstanding(get_full(&server, &parent).await), "GBP 500.00");

        // The CRM books our credit note itself: its note takes the place of ours, counted once.
        changed[1].adjustments.push(pb::InvoiceAdjustment {
            reference: format!("DISPUTE-{id2}"),
            kind: pb::AdjustmentKind::CreditNote as i32,
            amount: Some(money("GBP", 250, 0)),
            date: Some(date(today)),
            reason: "Booked from recoup".into(),
        });
        import(
            &mut client,
            "again-3",
            vec![account("DSP-3", changed.clone())],
        )
        .await
        .unwrap();
        assert_eq!(
            outstanding(get_full(&server, &parent).await),
            "GBP 500.00",
            "{backend}"
        );
        // From then on the CRM's ledger is the record: a note it later withdraws is withdrawn,
        // while the dispute keeps the credit it issued.
        changed[1].adjustments.clear();
        import(&mut client, "again-4", vec![account("DSP-3", changed)])
            .await
            .unwrap();
        assert_eq!(
            outstanding(get_full(&server, &parent).await),
            "GBP 750.00",
            "{backend}"
        );
        let kept = supervisor
            .resolve_dispute(pb::ResolveDisputeRequest {
                request_id: "u-2".into(),
                name: on_inv2.name.clone(),
                outcome: pb::DisputeState::Upheld as i32,
                resolution: "Checked the delivery note with the warehouse".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(kept.credit_notes.len(), 1, "{backend}");
        server.stop().await;
    }
}

#[tokio::test]
async fn bad_disputes_are_refused_naming_each_field_and_nothing_is_written() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let parent = owing(&server, "DSP-4").await;
        pay(&server, &parent, "pay-all", 250, &["INV-2"]).await;
        let mut agent = as_role(&server, Role::Agent);
        let empty = agent
            .raise_dispute(pb::RaiseDisputeRequest::default())
            .await
            .unwrap_err();
        assert_eq!(
            bad_fields(&empty),
            ["request_id", "parent", "dispute"],
            "{backend}"
        );
        let err = agent
            .raise_dispute(pb::RaiseDisputeRequest {
                request_id: "bad-1".into(),
                parent: parent.clone(),
                dispute: Some(pb::Dispute::default()),
            })
            .await
            .unwrap_err();
        assert_eq!(
            bad_fields(&err),
            ["dispute.invoice_numbers", "dispute.reason"]
        );
        let err = raise(&mut agent, &parent, "bad-2", &["INV-9", "INV-2", "INV-1"])
            .await
            .unwrap_err();
        assert_eq!(
            bad_fields(&err),
            ["dispute.invoice_numbers[0]", "dispute.invoice_numbers[1]"],
            "{backend}: unknown, and settled"
        );
        let missing = raise(&mut agent, "accounts/999999", "bad-3", &["INV-1"])
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound);

        let mut supervisor = as_role(&server, Role::Supervisor);
        let err = supervisor
            .resolve_dispute(pb::ResolveDisputeRequest {
                request_id: "res-1".into(),
                name: format!("{parent}/calls/1"),
                outcome: pb::DisputeState::Open as i32,
                resolution: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&err), ["name", "outcome", "resolution"]);
        let err = resolve(
            &mut supervisor,
            &format!("{parent}/disputes/999999"),
            "res-2",
            pb::DisputeState::Upheld,
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{backend}");

        let a = get_full(&server, &parent).await;
        assert!(a.open_disputes.is_empty() && a.invoices.iter().all(|i| !i.disputed));
        // A request id a refused request used is still free.
        raise(&mut agent, &parent, "bad-2", &["INV-1"])
            .await
            .unwrap();
        server.stop().await;
    }
}

#[tokio::test]
async fn concurrent_raises_give_one_dispute_per_invoice() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let parent = owing(&server, "DSP-5").await;
        // 25 copies of one request, and 25 other requests for the same invoice, all at once.
        let mut tasks = Vec::new();
        for k in 0..50 {
            let mut agent = as_role(&server, Role::Agent);
            let parent = parent.clone();
            let request_id = if k % 2 == 0 {
                "same".to_owned()
            } else {
                format!("other-{k}")
            };
            tasks.push(tokio::spawn(async move {
                (
                    request_id.clone(),
                    raise(&mut agent, &parent, &request_id, &["INV-1"]).await,
                )
            }));
        }
        let mut names = std::collections::BTreeSet::new();
        let mut winners = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                (id, Ok(d)) => {
                    names.insert(d.name);
                    winners.push(id);
                }
                (_, Err(e)) => {
                    assert_eq!(bad_fields(&e), ["dispute.invoice_numbers[0]"], "{backend}");
                }
            }
        }
        // Either the shared request won (and each copy of it is answered with its dispute) or
        // one of the others did, alone.
        assert!(
            winners.len() == 25 && winners.iter().all(|w| w == "same") || winners.len() == 1,
            "{backend}: {winners:?}"
        );
        assert_eq!(names.len(), 1, "{backend}: one dispute: {names:?}");
        let a = get_full(&server, &parent).await;
        assert_eq!(a.open_disputes.len(), 1);
        server.stop().await;
    }
}
