//! Idempotency keys belong to the caller that sent them: the same request_id from two integrations
//! is two requests, and neither is ever answered with the other's result.

use std::sync::Arc;
use std::time::Duration;

use chrono::Days;
use recoup_domain::policy::Policy;
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_server::auth::{Role, keys};
use recoup_server::server::ServeOptions;
use recoup_store::testkit::TestDb;
use tonic_types::StatusExt;

use crate::{
    TestServer, account, bad_fields, date, each_backend, get, import, invoice, london_today, money,
    text,
};

fn pay(parent: &str, units: i64) -> pb::RecordPaymentRequest {
    pb::RecordPaymentRequest {
        request_id: "bank-0001".into(),
        parent: parent.into(),
        payment: Some(pb::Payment {
            amount: Some(money("GBP", units, 0)),
            payment_date: Some(date(london_today())),
            reference: "BACS".into(),
            ..Default::default()
        }),
    }
}

/// An AccountService client for a new integration key of `subject`.
async fn integration(server: &TestServer, subject: &str) -> crate::Client {
    let key = keys::issue(
        &server.store,
        Role::Integration,
        subject,
        None,
        crate::now(),
    )
    .await
    .unwrap();
    AccountServiceClient::new(server.with_key(&key.secret))
}

#[tokio::test]
async fn request_ids_are_scoped_to_the_caller() {
    each_backend(|server| async move {
        let backend = server.db.backend;
        let mut bank = integration(&server, "bank-feed").await;
        let mut crm = integration(&server, "crm-sync").await;
        let due = london_today() - Days::new(20);
        import(
            &mut bank,
            "",
            vec![account(
                "ID-1",
                vec![invoice("A", due, money("GBP", 500, 0))],
            )],
        )
        .await
        .unwrap();
        let name = get(&mut bank, "ID-1").await.name;

        let from_bank = bank
            .record_payment(pay(&name, 100))
            .await
            .unwrap()
            .into_inner();
        // Another caller's identical id with other content: its own, new payment.
        let from_crm = crm
            .record_payment(pay(&name, 70))
            .await
            .unwrap()
            .into_inner();
        assert_ne!(from_bank.name, from_crm.name, "{backend}");
        assert_eq!(text(&from_crm.amount), "GBP 70.00", "{backend}");
        // And an identical request from the other caller is not handed the first caller's result.
        let mut other = integration(&server, "erp-export").await;
        let third = other
            .record_payment(pay(&name, 100))
            .await
            .unwrap()
            .into_inner();
        assert_ne!(third.name, from_bank.name, "{backend}");

        // A second key of the same subject (a rotated key) is the same caller: a true retry.
        let mut rotated = integration(&server, "bank-feed").await;
        let retry = rotated
            .record_payment(pay(&name, 100))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(retry, from_bank, "{backend}");
        let reuse = rotated.record_payment(pay(&name, 99)).await.unwrap_err();
        assert_eq!(crate::bad_fields(&reuse), ["request_id"], "{backend}");

        let b = get(&mut bank, "ID-1").await.balance.unwrap();
        assert_eq!(
            text(&b.outstanding),
            "GBP 230.00",
            "{backend}: three payments, no more"
        );
        server
    })
    .await;
}

#[tokio::test]
async fn import_request_ids_are_scoped_to_the_caller() {
    each_backend(|server| async move {
        let mut a = integration(&server, "crm-a").await;
        let mut b = integration(&server, "crm-b").await;
        let first = import(&mut a, "nightly", vec![account("IMP-A", vec![])])
            .await
            .unwrap();
        assert_eq!(first.created, 1);
        // Same id from another caller with another stream: imported, not refused or replayed.
        let other = import(&mut b, "nightly", vec![account("IMP-B", vec![])])
            .await
            .unwrap();
        assert_eq!(other.created, 1, "{}", server.db.backend);
        assert_eq!(get(&mut a, "IMP-B").await.external_ref, "IMP-B");
        server
    })
    .await;
}

#[tokio::test]
async fn a_request_id_is_remembered_for_the_window_and_then_forgotten() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let mut policy = Policy::default();
        policy.requests.keep_days = 10;
        let options = ServeOptions {
            policy: Arc::new(policy),
            ledger_interval: Duration::from_millis(50),
            ..ServeOptions::default()
        };
        let server = TestServer::start_with(db, &options).await;
        let mut bank = integration(&server, "bank-feed").await;
        let due = london_today() - Days::new(20);
        import(
            &mut bank,
            "",
            vec![account(
                "WIN-1",
                vec![invoice("A", due, money("GBP", 500, 0))],
            )],
        )
        .await
        .unwrap();
        let name = get(&mut bank, "WIN-1").await.name;
        let first = bank
            .record_payment(pay(&name, 100))
            .await
            .unwrap()
            .into_inner();

        // Inside the window: a retry is answered with the first payment, and the key with other
        // content is refused with a reason a program can branch on, writing nothing.
        server.clock.advance(chrono::Duration::days(9));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let retry = bank
            .record_payment(pay(&name, 100))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(retry.name, first.name, "{backend}");
        let clash = bank
            .record_payment(pay(&name, 70))
            .await
            .expect_err("the key was used for another payment");
        assert_eq!(bad_fields(&clash), ["request_id"], "{backend}");
        let info = clash.get_details_error_info().expect("ErrorInfo");
        assert_eq!(
            (info.reason.as_str(), info.domain.as_str()),
            ("IDEMPOTENCY_MISMATCH", "recoup"),
            "{backend}"
        );

        // Past it, the key is forgotten by the background pass: the same request is a new one.
        server.clock.advance(chrono::Duration::days(2));
        let mut waited = 0;
        let again = loop {
            let again = bank
                .record_payment(pay(&name, 100))
                .await
                .unwrap()
                .into_inner();
            if again.name != first.name || waited == 100 {
                break again;
            }
            waited += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_ne!(
            again.name, first.name,
            "{backend}: the key outlived its window"
        );
        // ... and is remembered again from its new first use.
        let retry = bank
            .record_payment(pay(&name, 100))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(retry.name, again.name, "{backend}");
        server.stop().await;
    }
}
