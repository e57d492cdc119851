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

/// An import stream held open with nothing sent holds its call: the attack's shape.
fn held_import(
    server: &TestServer,
) -> (
    tokio::sync::mpsc::Sender<pb::ImportAccountsRequest>,
    tokio::task::JoinHandle<Result<tonic::Response<pb::ImportAccountsResponse>, tonic::Status>>,
) {
    let mut importer = server.accounts();
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let open = tokio::spawn(async move {
        importer
            .import_accounts(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    (tx, open)
}

fn retry_delay(status: &tonic::Status) -> Duration {
    use tonic_types::StatusExt;
    let d = status
        .get_error_details()
        .retry_info()
        .and_then(|r| r.retry_delay)
        .unwrap_or_else(|| panic!("no RetryInfo in {status:?}"));
    assert_eq!(crate::errors::reason(status), "OVERLOADED");
    d
}

/// One key holding calls open takes at most its own share: the server's other callers are
/// served, and the key's extra calls are refused RESOURCE_EXHAUSTED with RetryInfo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_caller_cannot_take_every_call_slot() {
    let options = limited(|l| {
        l.max_concurrent_calls = 8;
        l.max_calls_per_caller = 3;
    });
    let server = TestServer::start_with(TestDb::sqlite(), &options).await;
    import(&mut server.accounts(), "", vec![account("SLOT-1", vec![])])
        .await
        .unwrap();
    let held: Vec<_> = (0..12).map(|_| held_import(&server)).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut agent = pb::account_service_client::AccountServiceClient::new(
        server.as_role(recoup_server::auth::Role::Agent),
    );
    for _ in 0..5 {
        get(&mut agent, "SLOT-1").await;
    }
    // The integration key's own extra call is refused, with when to retry.
    let refused = server
        .accounts()
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(retry_delay(&refused) > Duration::ZERO);
    let mut refused_streams = 0;
    for (tx, open) in held {
        drop(tx);
        match open.await.unwrap() {
            Ok(_) => {}
            Err(s) if s.code() == Code::ResourceExhausted => refused_streams += 1,
            Err(s) => panic!("{s:?}"),
        }
    }
    assert_eq!(refused_streams, 9, "3 of the 12 streams were admitted");
    server.stop().await;
}

/// A caller starting calls faster than its rate is refused with the delay after which one more is
/// allowed; after it, it is served again.
#[tokio::test]
async fn a_caller_over_its_rate_is_told_when_to_retry() {
    let options = limited(|l| {
        l.caller_rate = 5;
        l.caller_burst = 5;
    });
    let server = TestServer::start_with(TestDb::sqlite(), &options).await;
    let mut client = server.accounts();
    let list = pb::ListAccountsRequest::default();
    for _ in 0..5 {
        client.list_accounts(list.clone()).await.unwrap();
    }
    let refused = client.list_accounts(list.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let wait = retry_delay(&refused);
    assert!(wait <= Duration::from_millis(200), "{wait:?}");
    tokio::time::sleep(wait).await;
    client
        .list_accounts(list)
        .await
        .expect("served after the delay");
    server.stop().await;
}

/// Sockets left silent cannot keep clients out: at the cap a client takes the place of the oldest
/// socket that has not spoken, and a silent socket is closed after the handshake timeout anyway.
/// Only when every open connection has spoken is a new one closed as it arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_cannot_keep_clients_out() {
    use tokio::io::AsyncReadExt;
    async fn closed_within(s: &mut tokio::net::TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 256];
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0) | Err(_)) => return true,
                // The server's HTTP/2 preface: read on.
                Ok(Ok(_)) => {}
            }
        }
    }
    let options = limited(|l| {
        l.max_connections = 3;
        l.handshake_timeout_secs = 30;
    });
    let server = TestServer::start_with(TestDb::sqlite(), &options).await;
    let addr = server.running_addr();
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let client = |addr: String, key: String| async move {
        let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut c = pb::account_service_client::AccountServiceClient::new(
            tonic::service::interceptor::InterceptedService::new(channel, crate::Bearer(key)),
        );
        c.list_accounts(pb::ListAccountsRequest::default())
            .await
            .expect("served at the cap");
        c
    };
    let key = server.keys[&recoup_server::auth::Role::Integration].clone();
    // Three clients in turn, each taking a silent socket's place, oldest first.
    let mut clients = Vec::new();
    for (n, s) in silent.iter_mut().enumerate() {
        clients.push(client(addr.clone(), key.clone()).await);
        assert!(
            closed_within(s, Duration::from_secs(2)).await,
            "silent socket {n} made room"
        );
    }
    // Every open connection has spoken: one more is closed as it arrives.
    let mut extra = tokio::net::TcpStream::connect(&addr).await.unwrap();
    assert!(closed_within(&mut extra, Duration::from_secs(2)).await);
    for c in &mut clients {
        c.list_accounts(pb::ListAccountsRequest::default())
            .await
            .expect("the clients keep their connections");
    }
    drop(clients);
    server.stop().await;

    // A silent socket is closed after the handshake timeout, cap or not.
    let options = limited(|l| l.handshake_timeout_secs = 1);
    let server = TestServer::start_with(TestDb::sqlite(), &options).await;
    let mut s = tokio::net::TcpStream::connect(server.running_addr())
        .await
        .unwrap();
    assert!(closed_within(&mut s, Duration::from_secs(3)).await);
    server.stop().await;
}

/// A call whose request sends nothing (an import stream held open with no record) ends
/// DEADLINE_EXCEEDED after `--stream-idle-secs` and gives its slot back; a stream that keeps
/// sending is not cut however long it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_sends_nothing_ends_and_gives_its_slot_back() {
    let options = limited(|l| {
        l.max_calls_per_caller = 1;
        l.stream_idle_secs = 1;
    });
    let server = TestServer::start_with(TestDb::sqlite(), &options).await;
    let (tx, held) = held_import(&server);
    let ended = tokio::time::timeout(Duration::from_secs(5), held)
        .await
        .expect("a quiet stream ends")
        .unwrap()
        .unwrap_err();
    assert_eq!(ended.code(), Code::DeadlineExceeded, "{ended:?}");
    drop(tx);
    server
        .accounts()
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .expect("the slot was given back");
    // A stream sending a record every half second for three seconds is served to its end.
    let (tx, open) = held_import(&server);
    for n in 0..6 {
        tx.send(pb::ImportAccountsRequest {
            request_id: String::new(),
            account: Some(account(&format!("SLOW-{n}"), vec![])),
        })
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(tx);
    assert_eq!(open.await.unwrap().unwrap().into_inner().created, 6);
    server.stop().await;
}

/// A role may have limits of its own: the agents' tight rate refuses an agent's second call at
/// once while the integration, on the defaults, is served.
#[tokio::test]
async fn a_role_has_limits_of_its_own() {
    let options = limited(|l| {
        l.role_limits = vec![recoup_server::config::RoleLimit {
            role: recoup_server::auth::Role::Agent,
            calls: 8,
            rate: 1,
            burst: 1,
        }]
    });
    let server = TestServer::start_with(TestDb::sqlite(), &options).await;
    let list = pb::ListAccountsRequest::default();
    let mut agent = pb::account_service_client::AccountServiceClient::new(
        server.as_role(recoup_server::auth::Role::Agent),
    );
    agent.list_accounts(list.clone()).await.unwrap();
    let refused = agent.list_accounts(list.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(retry_delay(&refused) <= Duration::from_secs(1));
    let mut crm = server.accounts();
    for _ in 0..5 {
        crm.list_accounts(list.clone()).await.expect("the defaults");
    }
    server.stop().await;
}
