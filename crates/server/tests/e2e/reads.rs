//! A read for every resource the API names: payments, calls, disputes, invoices and letters are
//! each read back by their name exactly as the RPC that made them answered, and only under their
//! own account; the lists page newest first.

use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_proto::v1::call_service_client::CallServiceClient;
use recoup_proto::v1::guidance_service_client::GuidanceServiceClient;
use recoup_server::auth::Role;
use recoup_store::testkit::TestDb;
use tonic::Code;

use crate::{
    TestServer, account, bad_fields, date, get, import, invoice, london_today, money, now,
};

#[tokio::test]
async fn payments_calls_and_disputes_are_read_back_by_name() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let mut crm = server.accounts();
        let due = london_today() - chrono::Days::new(40);
        import(
            &mut crm,
            "",
            vec![
                account(
                    "READ-1",
                    vec![
                        invoice("R-1", due, money("GBP", 400, 0)),
                        invoice("R-2", due, money("GBP", 250, 0)),
                    ],
                ),
                account("READ-2", vec![invoice("S-1", due, money("GBP", 90, 0))]),
            ],
        )
        .await
        .unwrap();
        let parent = get(&mut crm, "READ-1").await.name;
        let other = get(&mut crm, "READ-2").await.name;

        let payment = crm
            .record_payment(pb::RecordPaymentRequest {
                request_id: "read-pay".into(),
                parent: parent.clone(),
                payment: Some(pb::Payment {
                    amount: Some(money("GBP", 150, 50_000_000)),
                    payment_date: Some(date(london_today())),
                    reference: "BACS 1".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner();
        let mut agent = AccountServiceClient::new(server.as_role(Role::Agent));
        let dispute = agent
            .raise_dispute(pb::RaiseDisputeRequest {
                request_id: "read-dispute".into(),
                parent: parent.clone(),
                dispute: Some(pb::Dispute {
                    invoice_numbers: vec!["R-2".into()],
                    reason: "price differs from the quote".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner();
        let mut calls = CallServiceClient::new(server.as_role(Role::Agent));
        let call = calls
            .record_call_outcome(pb::RecordCallOutcomeRequest {
                request_id: "read-call".into(),
                parent: parent.clone(),
                call: Some(pb::CallRecord {
                    direction: pb::CallDirection::Inbound as i32,
                    start_time: Some(recoup_server::convert::time_out(now())),
                    contact_name: "Dana Hale".into(),
                    outcome: Some(pb::call_record::Outcome::LeftMessage(pb::LeftMessage {
                        left_with: "reception".into(),
                    })),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner();

        // Each role that reads: the integration, the agent.
        let mut reader = AccountServiceClient::new(server.as_role(Role::Integration));
        let read = reader
            .get_payment(pb::GetPaymentRequest {
                name: payment.name.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(read, payment, "{backend}");
        let read = agent
            .get_dispute(pb::GetDisputeRequest {
                name: dispute.name.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(read, dispute, "{backend}");
        let read = CallServiceClient::new(server.as_role(Role::Integration))
            .get_call(pb::GetCallRequest {
                name: call.name.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(read, call, "{backend}");

        // Under another account, or not there at all: NOT_FOUND; a malformed name names the field.
        let elsewhere = |name: &str| name.replacen(&parent, &other, 1);
        let e = reader
            .get_payment(pb::GetPaymentRequest {
                name: elsewhere(&payment.name),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{backend}: {e:?}");
        let e = agent
            .get_dispute(pb::GetDisputeRequest {
                name: elsewhere(&dispute.name),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{backend}: {e:?}");
        let e = calls
            .get_call(pb::GetCallRequest {
                name: elsewhere(&call.name),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{backend}: {e:?}");
        let e = reader
            .get_payment(pb::GetPaymentRequest {
                name: format!("{parent}/calls/1"),
            })
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&e), ["name"], "{backend}");
        server.stop().await;
    }
}

/// BatchGetAccounts: by names or external refs, in the order asked, all or nothing.
#[tokio::test]
async fn accounts_are_read_in_batches_in_the_order_asked() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let mut crm = server.accounts();
        let due = london_today() - chrono::Days::new(10);
        import(
            &mut crm,
            "",
            (1..=5)
                .map(|n| {
                    account(
                        &format!("BATCH-{n}"),
                        vec![invoice(&format!("BI-{n}"), due, money("GBP", 100 * n, 0))],
                    )
                })
                .collect(),
        )
        .await
        .unwrap();
        let refs = ["BATCH-4", "BATCH-1", "BATCH-4", "BATCH-3"];
        let by_ref = crm
            .batch_get_accounts(pb::BatchGetAccountsRequest {
                external_refs: refs.iter().map(|r| r.to_string()).collect(),
                view: pb::AccountView::Basic as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .accounts;
        let got: Vec<&str> = by_ref.iter().map(|a| a.external_ref.as_str()).collect();
        assert_eq!(got, refs, "{backend}");
        assert!(
            by_ref[0].invoices.is_empty(),
            "{backend}: BASIC carries no invoices"
        );
        // By name, FULL: each as GetAccount returns it.
        let names: Vec<String> = by_ref.iter().rev().map(|a| a.name.clone()).collect();
        let full = crm
            .batch_get_accounts(pb::BatchGetAccountsRequest {
                names: names.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .accounts;
        for (a, name) in full.iter().zip(&names) {
            let one = crate::get_full(&server, name).await;
            assert_eq!(
                crate::without_read_time(a.clone()),
                crate::without_read_time(one),
                "{backend}"
            );
        }
        // All or nothing: one missing is NOT_FOUND naming it.
        let e = crm
            .batch_get_accounts(pb::BatchGetAccountsRequest {
                external_refs: vec!["BATCH-2".into(), "NO-SUCH".into()],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{backend}");
        assert!(
            e.message().contains("NO-SUCH"),
            "{backend}: {}",
            e.message()
        );
        // Bad requests name the field: neither list, both lists, too many, a bad name.
        for (req, field) in [
            (pb::BatchGetAccountsRequest::default(), "names"),
            (
                pb::BatchGetAccountsRequest {
                    names: vec![names[0].clone()],
                    external_refs: vec!["BATCH-1".into()],
                    ..Default::default()
                },
                "external_refs",
            ),
            (
                pb::BatchGetAccountsRequest {
                    external_refs: vec!["BATCH-1".into(); 1001],
                    ..Default::default()
                },
                "external_refs",
            ),
            (
                pb::BatchGetAccountsRequest {
                    names: vec![names[0].clone(), "accounts/x".into()],
                    ..Default::default()
                },
                "names[1]",
            ),
        ] {
            let e = crm.batch_get_accounts(req).await.unwrap_err();
            assert_eq!(bad_fields(&e), [field], "{backend}");
        }
        server.stop().await;
    }
}

/// ListPayments pages an account's payments newest first, each page continuing where the last
/// ended, every payment once.
#[tokio::test]
async fn payments_are_listed_newest_first_page_by_page() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let mut crm = server.accounts();
        let due = london_today() - chrono::Days::new(60);
        import(
            &mut crm,
            "",
            vec![account(
                "LIST-1",
                vec![invoice("L-1", due, money("GBP", 1_000, 0))],
            )],
        )
        .await
        .unwrap();
        let parent = get(&mut crm, "LIST-1").await.name;
        // Five payments, two on the same day, recorded out of date order.
        let mut made = Vec::new();
        for (n, days_ago) in [(1, 3u64), (2, 10), (3, 1), (4, 3), (5, 20)] {
            let p = crm
                .record_payment(pb::RecordPaymentRequest {
                    request_id: format!("list-{n}"),
                    parent: parent.clone(),
                    payment: Some(pb::Payment {
                        amount: Some(money("GBP", n, 0)),
                        payment_date: Some(date(london_today() - chrono::Days::new(days_ago))),
                        reference: format!("REF-{n}"),
                        ..Default::default()
                    }),
                })
                .await
                .unwrap()
                .into_inner();
            made.push((days_ago, p));
        }
        // Newest date first; the same day, the later recorded first.
        made.sort_by_key(|(days_ago, p)| (*days_ago, std::cmp::Reverse(p.name.clone())));
        let expected: Vec<pb::Payment> = made.into_iter().map(|(_, p)| p).collect();
        let mut listed = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = crm
                .list_payments(pb::ListPaymentsRequest {
                    parent: parent.clone(),
                    page_size: 2,
                    page_token: token.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            pages += 1;
            listed.extend(page.payments);
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(pages, 3, "{backend}");
        assert_eq!(listed, expected, "{backend}");
        let e = crm
            .list_payments(pb::ListPaymentsRequest {
                parent: "accounts/987654".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{backend}");
        let e = crm
            .list_payments(pb::ListPaymentsRequest {
                parent: parent.clone(),
                page_token: "bogus".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&e), ["page_token"], "{backend}");
        server.stop().await;
    }
}

/// Invoices (paid or not), disputes (open or resolved) and letters read back by name and listed
/// newest first, page by page; each only under its own account.
#[tokio::test]
async fn invoices_disputes_and_letters_are_read_and_listed() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let mut crm = server.accounts();
        let due = london_today() - chrono::Days::new(40);
        import(
            &mut crm,
            "",
            vec![
                account(
                    "DOCS-1",
                    vec![
                        invoice("D-1", due, money("GBP", 100, 0)),
                        invoice("D-2", due, money("GBP", 200, 0)),
                        invoice("D-3", due, money("GBP", 300, 0)),
                    ],
                ),
                account("DOCS-2", vec![]),
            ],
        )
        .await
        .unwrap();
        let full = crate::get_full(&server, &get(&mut crm, "DOCS-1").await.name).await;
        let parent = full.name.clone();
        let other = get(&mut crm, "DOCS-2").await.name;
        let mut reader = AccountServiceClient::new(server.as_role(Role::Integration));
        let get_invoice = |name: &str| {
            let mut c = reader.clone();
            let request = pb::GetInvoiceRequest { name: name.into() };
            async move { c.get_invoice(request).await.map(|r| r.into_inner()) }
        };
        // An open invoice reads as the account shows it; a paid one, no longer shown, still reads.
        let d1 = full.invoices.iter().find(|i| i.number == "D-1").unwrap();
        assert_eq!(&get_invoice(&d1.name).await.unwrap(), d1, "{backend}");
        crm.record_payment(pb::RecordPaymentRequest {
            request_id: "docs-pay".into(),
            parent: parent.clone(),
            payment: Some(pb::Payment {
                amount: Some(money("GBP", 100, 0)),
                payment_date: Some(date(london_today())),
                reference: "D-1 in full".into(),
                invoice_numbers: vec!["D-1".into()],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
        let paid = get_invoice(&d1.name).await.unwrap();
        assert_eq!(crate::text(&paid.outstanding), "GBP 0.00", "{backend}");
        assert_eq!(paid.number, "D-1");

        let mut agent = AccountServiceClient::new(server.as_role(Role::Agent));
        let mut disputes = Vec::new();
        for (n, number) in ["D-2", "D-3"].iter().enumerate() {
            let d = agent
                .raise_dispute(pb::RaiseDisputeRequest {
                    request_id: format!("docs-dispute-{n}"),
                    parent: parent.clone(),
                    dispute: Some(pb::Dispute {
                        invoice_numbers: vec![number.to_string()],
                        reason: "not what was ordered".into(),
                        ..Default::default()
                    }),
                })
                .await
                .unwrap()
                .into_inner();
            disputes.push(d);
        }
        let rejected = AccountServiceClient::new(server.as_role(Role::Supervisor))
            .resolve_dispute(pb::ResolveDisputeRequest {
                request_id: "docs-resolve".into(),
                name: disputes[0].name.clone(),
                outcome: pb::DisputeState::Rejected as i32,
                resolution: "matches the order form".into(),
            })
            .await
            .unwrap()
            .into_inner();
        // D-3 is paused by the open dispute, and says which.
        let d3 = full.invoices.iter().find(|i| i.number == "D-3").unwrap();
        let d3 = get_invoice(&d3.name).await.unwrap();
        assert_eq!((d3.disputed, &d3.dispute), (true, &disputes[1].name));

        let list_disputes = |page_token: String| {
            let mut c = reader.clone();
            let request = pb::ListDisputesRequest {
                parent: parent.clone(),
                page_size: 1,
                page_token,
            };
            async move { c.list_disputes(request).await.map(|r| r.into_inner()) }
        };
        let first = list_disputes(String::new()).await.unwrap();
        assert_eq!(
            first.disputes,
            [disputes[1].clone()],
            "{backend}: newest first"
        );
        let second = list_disputes(first.next_page_token).await.unwrap();
        assert_eq!(second.disputes, [rejected], "{backend}");
        assert!(second.next_page_token.is_empty(), "{backend}");

        let mut guidance = GuidanceServiceClient::new(server.as_role(Role::Agent));
        let mut letters = Vec::new();
        for (n, kind) in [
            pb::LetterKind::PreCallStatement,
            pb::LetterKind::FirstReminder,
        ]
        .into_iter()
        .enumerate()
        {
            letters.push(
                guidance
                    .render_letter(pb::RenderLetterRequest {
                        request_id: format!("docs-letter-{n}"),
                        parent: parent.clone(),
                        kind: kind as i32,
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner(),
            );
        }
        let mut letters_reader = GuidanceServiceClient::new(server.as_role(Role::Integration));
        let read = letters_reader
            .get_letter(pb::GetLetterRequest {
                name: letters[0].name.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(read, letters[0], "{backend}");
        let page = letters_reader
            .list_letters(pb::ListLettersRequest {
                parent: parent.clone(),
                page_size: 1,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            page.letters,
            [letters[1].clone()],
            "{backend}: newest first"
        );
        let rest = letters_reader
            .list_letters(pb::ListLettersRequest {
                parent: parent.clone(),
                page_size: 10,
                page_token: page.next_page_token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(rest.letters, [letters[0].clone()]);
        assert!(rest.next_page_token.is_empty());

        // Under another account, or no account: NOT_FOUND; a token of another list is refused.
        let elsewhere = |name: &str| name.replacen(&parent, &other, 1);
        let e = get_invoice(&elsewhere(&d1.name)).await.unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{backend}: {e:?}");
        let e = letters_reader
            .get_letter(pb::GetLetterRequest {
                name: elsewhere(&letters[0].name),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{backend}: {e:?}");
        assert!(
            reader
                .list_disputes(pb::ListDisputesRequest {
                    parent: other.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .disputes
                .is_empty()
        );
        let e = letters_reader
            .list_letters(pb::ListLettersRequest {
                parent: "accounts/987654".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{backend}: {e:?}");
        let e = reader
            .list_disputes(pb::ListDisputesRequest {
                parent: parent.clone(),
                page_size: 1,
                page_token: page.next_page_token,
            })
            .await
            .unwrap_err();
        assert_eq!(
            bad_fields(&e),
            ["page_token"],
            "{backend}: a letters token for disputes"
        );
        server.stop().await;
    }
}
