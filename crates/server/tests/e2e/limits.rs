//! Limits: oversized messages, load shedding at the concurrency limit, and the call timeout.

use std::time::Duration;

use recoup_proto::v1 as pb;
use recoup_server::config::LimitArgs;
use recoup_server::server::ServeOptions;
use recoup_store::testkit::TestDb;
use tonic::Code;

use crate::{TestServer, account, date, get, import, invoice, london_today, money};

fn limited(f: impl Fn(&mut LimitArgs)) -> ServeOptions {
    let mut limits = LimitArgs::default();
    f(&mut limits);
    ServeOptions {
        limits,
        ..Default::default()
    }
}

#[tokio::test]
async fn messages_over_the_size_limit_are_refused() {
    let options = limited(|l| l.max_message_bytes = 64 * 1024);
    let server = TestServer::start_with(TestDb::sqlite(), &options).await;
    let mut client = server.accounts();
    let mut big = account("BIG-1", vec![]);
    big.legal_name = "x".repeat(100 * 1024);
    let err = import(&mut client, "", vec![big]).await.unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    // A normal record still goes through.
    assert_eq!(
        import(&mut client, "", vec![account("SMALL-1", vec![])])
            .await
            .unwrap()
            .created,
        1
    );
    server.stop().await;
}

#[tokio::test]
async fn calls_beyond_the_concurrency_limit_are_shed() {
    let options = limited(|l| l.max_concurrent_calls = 1);
    let server = TestServer::start_with(TestDb::sqlite(), &options).await;
    let mut importer = server.accounts();
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let open = tokio::spawn(async move {
        importer
            .import_accounts(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    tx.send(pb::ImportAccountsRequest {
        request_id: String::new(),
        account: Some(account("SHED-1", vec![])),
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut reader = server.accounts();
    let shed = reader
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(shed.code(), Code::ResourceExhausted, "{shed:?}");
    assert_eq!(crate::errors::reason(&shed), "OVERLOADED");
    drop(tx);
    assert_eq!(open.await.unwrap().unwrap().into_inner().created, 1);
    reader
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .expect("capacity is back");
    server.stop().await;
}

#[tokio::test]
async fn slow_calls_hit_the_call_timeout_and_write_nothing() {
    for db in TestDb::all().await {
        let options = limited(|l| l.call_timeout_secs = 1);
        let server = TestServer::start_with(db, &options).await;
        let mut client = server.accounts();
        import(
            &mut client,
            "",
            vec![account(
                "SLOW-1",
                vec![invoice("I", london_today(), money("GBP", 9, 0))],
            )],
        )
        .await
        .unwrap();
        let name = get(&mut client, "SLOW-1").await.name;
        let lock = server.db.lock_writes().await;
        let started = std::time::Instant::now();
        let err = client
            .record_payment(pb::RecordPaymentRequest {
                request_id: "slow-1".into(),
                parent: name,
                payment: Some(pb::Payment {
                    amount: Some(money("GBP", 9, 0)),
                    payment_date: Some(date(london_today())),
                    reference: "SLOW".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Code::DeadlineExceeded,
            "{}: {err:?}",
            server.db.backend
        );
        assert_eq!(crate::errors::reason(&err), "CALL_TIMEOUT");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "answered at the limit, not after the lock"
        );
        drop(lock);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            get(&mut client, "SLOW-1").await.recent_payments.is_empty(),
            "{}",
            server.db.backend
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn page_sizes_are_capped_by_configuration() {
    let options = limited(|l| l.max_page_size = 2);
    let server = TestServer::start_with(TestDb::sqlite(), &options).await;
    let mut client = server.accounts();
    import(
        &mut client,
        "",
        (0..5).map(|i| account(&format!("P-{i}"), vec![])).collect(),
    )
    .await
    .unwrap();
    let page = client
        .list_accounts(pb::ListAccountsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.accounts.len(), 2);
    assert!(!page.next_page_token.is_empty());
    server.stop().await;
}
