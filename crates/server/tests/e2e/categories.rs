//! The debtor category as an agent sees it before a call: derived from the history with its signs,
//! and overridden by hand with a reason until returned to the derived one.

use chrono::{Days, Duration};
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_proto::v1::call_service_client::CallServiceClient;
use recoup_server::auth::Role;
use recoup_store::testkit::TestDb;

use crate::{
    TestServer, account, bad_fields, date, get_full, import, invoice, london_today, money,
};

fn assessed(a: &pb::Account) -> (pb::DebtorCategory, Vec<String>, bool) {
    let c = a.category.as_ref().expect("category");
    (c.category(), c.reasons.clone(), c.manual)
}

#[tokio::test]
async fn derived_from_the_history_with_its_signs_and_set_by_hand_until_cleared() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let today = london_today();
        let mut client = server.accounts();
        // Three earlier invoices, each paid 41–55 days late; one open invoice 12 days overdue.
        let past = [(200, 41), (160, 55), (130, 48)];
        let mut invoices: Vec<pb::Invoice> = past
            .iter()
            .enumerate()
            .map(|(k, (ago, _))| {
                invoice(
                    &format!("OLD-{k}"),
                    today - Days::new(*ago),
                    money("GBP", 300, 0),
                )
            })
            .collect();
        invoices.push(invoice(
            "NEW-1",
            today - Days::new(12),
            money("GBP", 900, 0),
        ));
        import(&mut client, "cat-1", vec![account("CAT-1", invoices)])
            .await
            .unwrap();
        let name = crate::get(&mut client, "CAT-1").await.name;
        for (k, (ago, late)) in past.iter().enumerate() {
            client
                .record_payment(pb::RecordPaymentRequest {
                    request_id: format!("old-{k}"),
                    parent: name.clone(),
                    payment: Some(pb::Payment {
                        amount: Some(money("GBP", 300, 0)),
                        payment_date: Some(date(today - Days::new(ago - late))),
                        reference: format!("BACS-{k}"),
                        invoice_numbers: vec![format!("OLD-{k}")],
                        ..Default::default()
                    }),
                })
                .await
                .unwrap();
        }
        let a = get_full(&server, &name).await;
        let derived = (
            pb::DebtorCategory::StrategicDelayer,
            vec![
                "paid 3 of the last 3 paid invoices 41–55 days late, always in full".to_owned(),
                "oldest overdue invoice 12 days late".to_owned(),
            ],
            false,
        );
        assert_eq!(assessed(&a), derived, "{backend}");
        assert_eq!(a.derived_category, a.category);

        // A call where the debtor claims hardship changes the picture.
        CallServiceClient::new(server.as_role(Role::Agent))
            .record_call_outcome(pb::RecordCallOutcomeRequest {
                request_id: "hardship".into(),
                parent: name.clone(),
                call: Some(pb::CallRecord {
                    direction: pb::CallDirection::Inbound as i32,
                    start_time: Some(recoup_server::convert::time_out(
                        crate::now() - Duration::minutes(5),
                    )),
                    outcome: Some(pb::call_record::Outcome::HardshipClaimed(
                        pb::HardshipClaimed {
                            statement: "Our main customer went into administration".into(),
                            claims_to_verify: vec!["customer in administration".into()],
                            affordable_monthly: None,
                        },
                    )),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
        let a = get_full(&server, &name).await;
        let (category, reasons, _) = assessed(&a);
        assert_eq!(category, pb::DebtorCategory::CashFlowTrouble, "{backend}");
        assert!(
            reasons[0].starts_with("claimed hardship on ")
                && reasons[0].ends_with("(1 claim to verify)"),
            "{reasons:?}"
        );

        // An agent sets it by hand, with a reason; the derived one stays visible.
        let mut agent = AccountServiceClient::new(server.as_role(Role::Agent));
        let set = |request_id: &str, category: pb::DebtorCategory, reason: &str| {
            pb::SetAccountCategoryRequest {
                request_id: request_id.into(),
                name: name.clone(),
                category: category as i32,
                reason: reason.into(),
            }
        };
        let answer = agent
            .set_account_category(set(
                "set-1",
                pb::DebtorCategory::StrategicDelayer,
                "Finance director admitted they pay suppliers last",
            ))
            .await
            .unwrap()
            .into_inner();
        let manual = answer.category.clone().unwrap();
        assert_eq!(manual.category(), pb::DebtorCategory::StrategicDelayer);
        assert!(manual.manual);
        assert_eq!(
            manual.reasons,
            ["Finance director admitted they pay suppliers last"]
        );
        assert_eq!(manual.set_by, "test-agent");
        assert!(manual.set_time.is_some());
        assert_eq!(
            answer.derived_category.unwrap().category(),
            pb::DebtorCategory::CashFlowTrouble
        );
        assert_eq!(
            get_full(&server, &name).await.category,
            Some(manual.clone())
        );
        // Retried: the same; the same id for something else: refused; nothing changes.
        let again = agent
            .set_account_category(set(
                "set-1",
                pb::DebtorCategory::StrategicDelayer,
                "Finance director admitted they pay suppliers last",
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.category, Some(manual));
        let reused = agent
            .set_account_category(set("set-1", pb::DebtorCategory::Avoider, "x"))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&reused), ["request_id"]);
        // UNSPECIFIED returns to the derived category.
        let cleared = agent
            .set_account_category(set(
                "clear-1",
                pb::DebtorCategory::Unspecified,
                "Plan agreed; back to the history",
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            cleared.category.unwrap().category(),
            pb::DebtorCategory::CashFlowTrouble,
            "{backend}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn bad_category_requests_name_each_field_and_change_nothing() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let mut client = server.accounts();
        import(
            &mut client,
            "cat-2",
            vec![account(
                "CAT-2",
                vec![invoice(
                    "A",
                    london_today() - Days::new(5),
                    money("GBP", 100, 0),
                )],
            )],
        )
        .await
        .unwrap();
        let name = crate::get(&mut client, "CAT-2").await.name;
        let mut agent = AccountServiceClient::new(server.as_role(Role::Agent));
        let err = agent
            .set_account_category(pb::SetAccountCategoryRequest {
                request_id: String::new(),
                name: "accounts/x".into(),
                category: 99,
                reason: " ".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            bad_fields(&err),
            ["request_id", "name", "category", "reason"],
            "{backend}"
        );
        let missing = agent
            .set_account_category(pb::SetAccountCategoryRequest {
                request_id: "m".into(),
                name: "accounts/999999".into(),
                category: pb::DebtorCategory::Avoider as i32,
                reason: "never answers".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(missing.code(), tonic::Code::NotFound);
        let a = get_full(&server, &name).await;
        let c = a.category.unwrap();
        assert!(!c.manual);
        assert_eq!(c.category(), pb::DebtorCategory::Oversight, "{backend}");
        assert_eq!(
            c.reasons,
            ["first overdue invoice, 5 days late, never contacted"]
        );
        server.stop().await;
    }
}
