use chrono::Days;
use recoup_proto::v1 as pb;

use crate::{
    TestServer, account, each_backend, get, import, invoice, london_today, money, text,
    without_read_time,
};

#[tokio::test]
async fn the_same_stream_twice_changes_nothing() {
    each_backend(|server| async move {
        let mut client = server.accounts();
        let due = london_today() - Days::new(3);
        let records = || {
            (0..25)
                .map(|i| {
                    account(
                        &format!("S-{i}"),
                        vec![
                            invoice("A", due, money("GBP", 10, 0)),
                            invoice("B", due, money("GBP", 20, 500_000_000)),
                        ],
                    )
                })
                .collect::<Vec<_>>()
        };
        let first = import(&mut client, "", records()).await.unwrap();
        assert_eq!(
            (
                first.created,
                first.updated,
                first.unchanged,
                first.rejected
            ),
            (25, 0, 0, 0)
        );
        let before = get(&mut client, "S-7").await;
        let second = import(&mut client, "", records()).await.unwrap();
        assert_eq!(
            (
                second.created,
                second.updated,
                second.unchanged,
                second.rejected
            ),
            (0, 0, 25, 0),
            "{}",
            server.db.backend
        );
        let after = get(&mut client, "S-7").await;
        assert_eq!(
            without_read_time(before),
            without_read_time(after),
            "{}: an unchanged record is not touched (update_time too)",
            server.db.backend
        );

        let mut changed = records();
        changed[7].legal_name = "S-7 Renamed Ltd".into();
        changed[8].invoices[1].amount = Some(money("GBP", 21, 0));
        let third = import(&mut client, "", changed).await.unwrap();
        assert_eq!((third.created, third.updated, third.unchanged), (0, 2, 23));
        assert_eq!(get(&mut client, "S-7").await.legal_name, "S-7 Renamed Ltd");
        assert_eq!(
            text(&get(&mut client, "S-8").await.balance.unwrap().outstanding),
            "GBP 31.00"
        );
        server
    })
    .await;
}

#[tokio::test]
async fn a_repeated_request_id_returns_the_first_summary() {
    each_backend(|server| async move {
        let mut client = server.accounts();
        let first = import(
            &mut client,
            "imp-1",
            vec![account("R-1", vec![]), account("R-2", vec![])],
        )
        .await
        .unwrap();
        assert_eq!(first.created, 2);
        // Same id, same stream: the first summary comes back (not "unchanged" counts).
        let again = import(
            &mut client,
            "imp-1",
            vec![account("R-1", vec![]), account("R-2", vec![])],
        )
        .await
        .unwrap();
        assert_eq!(again, first);
        // Same id, another stream: refused, and nothing of it is written.
        let other = import(&mut client, "imp-1", vec![account("R-3", vec![])])
            .await
            .unwrap_err();
        assert_eq!(crate::bad_fields(&other), ["request_id"]);
        let missing = client
            .get_account(pb::GetAccountRequest {
                account: Some(pb::get_account_request::Account::ExternalRef("R-3".into())),
                view: 0,
            })
            .await
            .unwrap_err();
        assert_eq!(missing.code(), tonic::Code::NotFound);
        server
    })
    .await;
}

/// Large imports stream through in batches and leave the planner's statistics current. The count
/// here keeps the suite fast; set RECOUP_IMPORT_ACCOUNTS (e.g. 100000) to run the full-scale check.
#[tokio::test]
async fn a_large_stream_imports_in_batches() {
    let n: usize = std::env::var("RECOUP_IMPORT_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    each_backend(|server| async move {
        let mut client = server.accounts();
        let due = london_today() - Days::new(10);
        let stream = tokio_stream::iter((0..n).map(move |i| {
            pb::ImportAccountsRequest {
                request_id: String::new(),
                account: Some(account(
                    &format!("BULK-{i:06}"),
                    (0..5)
                        .map(|k| invoice(&format!("INV-{k}"), due, money("GBP", 100 + k, 0)))
                        .collect(),
                )),
            }
        }));
        assert_eq!(server.db.analysed_tables().await, Vec::<String>::new());
        let summary = client.import_accounts(stream).await.unwrap().into_inner();
        assert_eq!(summary.created, n as i64, "{}", server.db.backend);
        assert_eq!(summary.rejected, 0);
        // More than 10,000 rows: the import refreshed the planner's statistics before answering
        // (adjustments: none were sent, so SQLite keeps no statistics of an empty table).
        let analysed = server.db.analysed_tables().await;
        for table in ["accounts", "contacts", "invoices", "worklist", "events"] {
            assert!(
                analysed.iter().any(|t| t == table),
                "{}: {table} not analysed after a large import: {analysed:?}",
                server.db.backend
            );
        }
        let last = get(&mut client, &format!("BULK-{:06}", n - 1)).await;
        assert_eq!(last.invoices.len(), 5);
        assert_eq!(text(&last.balance.unwrap().overdue), "GBP 510.00");
        server
    })
    .await;
}

/// A stream cut mid-way (here the client goes away after 2,100 of 2,500 records) resumes when it
/// is sent again under its request_id: what the cut stream committed is read past, the summary
/// covers the whole import, and every account is created once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_cut_mid_stream_resumes_and_counts_every_record_once() {
    for db in recoup_store::testkit::TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let due = london_today() - Days::new(30);
        let messages: Vec<pb::ImportAccountsRequest> = (0..2_500)
            .map(|i| {
                let mut a = account(
                    &format!("CUT-{i:05}"),
                    vec![invoice("C-1", due, money("GBP", 100, 0))],
                );
                if i == 7 || i == 2_300 {
                    a.legal_name = String::new();
                }
                pb::ImportAccountsRequest {
                    request_id: if i == 0 {
                        "cut-1".into()
                    } else {
                        String::new()
                    },
                    account: Some(a),
                }
            })
            .collect();
        let key = recoup_store::RequestKey {
            subject: "test-integration",
            request_id: "cut-1",
        };

        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let mut client = server.accounts();
        let cut = tokio::spawn(async move {
            client
                .import_accounts(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
        });
        for m in &messages[..2_100] {
            tx.send(m.clone()).await.unwrap();
        }
        crate::webhooks::until("two batches committed", async || {
            server
                .store
                .import_progress(key)
                .await
                .unwrap()
                .is_some_and(|p| p.next_index >= 2_000)
        })
        .await;
        cut.abort();
        drop(tx);
        let created = |store: recoup_store::Store| async move {
            store
                .events_after(0, &["account_created"], None, 10_000)
                .await
                .unwrap()
                .len()
        };
        let before = created(server.store.clone()).await;
        assert!(
            (1_999..2_100).contains(&before),
            "{backend}: {before} written before the cut"
        );

        // As the README tells a client: ABORTED while the cut stream's last batch is still being
        // written ("when it ends, send again").
        let mut client = server.accounts();
        let mut tries = 0;
        let summary = loop {
            tries += 1;
            match client
                .import_accounts(tokio_stream::iter(messages.clone()))
                .await
            {
                Ok(r) => break r.into_inner(),
                Err(s) if s.code() == tonic::Code::Aborted && tries < 50 => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(s) => panic!("{backend}: {s:?}"),
            }
        };
        assert_eq!(
            (
                summary.created,
                summary.updated,
                summary.unchanged,
                summary.rejected
            ),
            (2_498, 0, 0, 2),
            "{backend}: {summary:?}"
        );
        let rejected: Vec<i64> = summary.rejections.iter().map(|r| r.index).collect();
        assert_eq!(rejected, [7, 2_300], "{backend}");
        assert_eq!(
            created(server.store.clone()).await,
            2_498,
            "{backend}: each once"
        );
        // The completed import, sent again: its summary, nothing written.
        let again = client
            .import_accounts(tokio_stream::iter(messages))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again, summary, "{backend}");
        assert_eq!(created(server.store.clone()).await, 2_498);
        server.stop().await;
    }
}

/// ImportAccountsWithResults: a result per record — the account's name and what became of it, or
/// every bad field — for more records than the summary lists, then the summary.
#[tokio::test]
async fn every_record_gets_its_result_and_name() {
    for db in recoup_store::testkit::TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let due = london_today() - Days::new(30);
        // 1,500 records: every third refused, more than the summary's list of 1,000 rejections
        // would hold were there more; the first also sent again later in the stream.
        let mut records: Vec<pb::ImportAccountsWithResultsRequest> = (0..1_500)
            .map(|i| {
                let mut a = account(
                    &format!("RES-{i:05}"),
                    vec![invoice("R-1", due, money("GBP", 10, 0))],
                );
                if i % 3 == 2 {
                    a.country_code = "UK".into();
                }
                pb::ImportAccountsWithResultsRequest {
                    request_id: String::new(),
                    account: Some(a),
                }
            })
            .collect();
        records.push(records[0].clone());
        let mut results = server
            .accounts()
            .import_accounts_with_results(tokio_stream::iter(records))
            .await
            .unwrap()
            .into_inner();
        let mut by_index = std::collections::BTreeMap::new();
        let mut summary = None;
        while let Some(m) = results.message().await.unwrap() {
            match m.result.unwrap() {
                pb::import_accounts_result::Result::Record(r) => {
                    assert!(
                        by_index.insert(r.index, r).is_none(),
                        "{backend}: one result each"
                    );
                }
                pb::import_accounts_result::Result::Summary(s) => summary = Some(s),
            }
        }
        let summary = summary.expect("the summary comes last");
        assert_eq!(by_index.len(), 1_501, "{backend}");
        assert_eq!(
            (summary.created, summary.unchanged, summary.rejected),
            (1_000, 1, 500)
        );
        use pb::ImportRecordOutcome::{Created, Rejected, Unchanged};
        for (index, r) in &by_index {
            match index % 3 {
                _ if *index == 1_500 => assert_eq!(r.outcome(), Unchanged),
                2 => {
                    assert_eq!(r.outcome(), Rejected, "{backend}: {r:?}");
                    assert!(r.account.is_empty());
                    assert_eq!(r.violations[0].field, "account.country_code");
                }
                _ => assert_eq!(r.outcome(), Created, "{backend}: {r:?}"),
            }
        }
        // Each name reads back as the account sent.
        assert_eq!(by_index[&1_500].account, by_index[&0].account);
        let read = crate::get(&mut server.accounts(), "RES-01000").await;
        assert_eq!(read.name, by_index[&1_000].account, "{backend}");
        server.stop().await;
    }
}
