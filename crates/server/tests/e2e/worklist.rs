//! The worklist as an agent starts the day with it: who may be called now, in what order and why;
//! and, over random books, that no entry is an account the contact rules forbid calling.

use std::sync::Arc;

use chrono::{DateTime, Days, Duration, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use recoup_domain::policy::Policy;
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_server::auth::Role;
use recoup_server::clock::Clock;
use recoup_server::server::ServeOptions;
use recoup_store::testkit::TestDb;

use crate::{TestServer, account, date, every_day, get_full, import, invoice, money, test_zone};

fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    recoup_server::convert::time_out(t)
}

async fn start(db: TestDb, policy: &Policy) -> TestServer {
    let options = ServeOptions {
        policy: Arc::new(policy.clone()),
        // The tests compute entries themselves, at the moments they choose.
        worklist_interval: std::time::Duration::from_secs(3600),
        ..ServeOptions::default()
    };
    TestServer::start_with(db, &options).await
}

/// Brings a past outbound call in as the CRM's history (never judged by the rules).
async fn call(
    server: &TestServer,
    parent: &str,
    id: &str,
    start: DateTime<Utc>,
    outcome: pb::call_record::Outcome,
) {
    let summary = crate::import_past_call(
        server,
        parent,
        pb::CallRecord {
            crm_call_id: id.into(),
            direction: pb::CallDirection::Outbound as i32,
            start_time: Some(ts(start)),
            outcome: Some(outcome),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(summary.created, 1, "call {id}: {summary:?}");
}

async fn worklist(server: &TestServer, page_size: i32, token: &str) -> pb::GetWorklistResponse {
    AccountServiceClient::new(server.as_role(Role::Agent))
        .get_worklist(pb::GetWorklistRequest {
            page_size,
            page_token: token.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

fn refs(w: &pb::GetWorklistResponse) -> Vec<String> {
    w.entries
        .iter()
        .map(|e| e.account.as_ref().unwrap().external_ref.clone())
        .collect()
}

#[tokio::test]
async fn who_to_call_now_in_order_with_reasons_and_never_whom_the_rules_forbid() {
    let policy = every_day();
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = start(db, &policy).await;
        let (zone, tz) = test_zone();
        let today = crate::now().with_timezone(&tz).date_naive();
        let owing = |r: &str, days: u64, units: i64| {
            let mut a = account(
                r,
                vec![invoice(
                    &format!("{r}-1"),
                    today - Days::new(days),
                    money("GBP", units, 0),
                )],
            );
            a.time_zone = zone.clone();
            a
        };
        let mut on_hold = owing("HOLD", 50, 9_000);
        on_hold.status = pb::AccountStatus::OnHold as i32;
        let mut agency = owing("AGENCY", 50, 9_000);
        agency.status = pb::AccountStatus::WithAgency as i32;
        let mut cease = owing("CEASE", 50, 9_000);
        cease.cease_calls = true;
        let mut disputed = owing("DISPUTED", 50, 9_000);
        disputed.invoices[0].disputed = true;
        disputed.invoices[0].dispute_reason = "wrong price".into();
        let mut not_due = owing("NOT-DUE", 0, 9_000);
        not_due.invoices[0].due_date = Some(date(today + Days::new(5)));
        let records = vec![
            owing("OLDEST", 40, 1_000),
            owing("BIGGER", 10, 5_000),
            owing("BROKEN", 20, 300),
            owing("CALLBACK", 5, 100),
            owing("CALLED", 60, 9_000),
            on_hold,
            agency,
            cease,
            disputed,
            not_due,
        ];
        let mut client = server.accounts();
        import(&mut client, "book", records).await.unwrap();
        let name = |r: &str| {
            let mut c = server.accounts();
            let r = r.to_owned();
            async move { crate::get(&mut c, &r).await.name }
        };
        let now = crate::now();
        // BIGGER was called yesterday; BROKEN promised 10 days ago to pay 5 days ago, and did not;
        // CALLED was called an hour ago; CALLBACK asked to be called back in two seconds.
        call(
            &server,
            &name("BIGGER").await,
            "b",
            now - Duration::days(1),
            pb::call_record::Outcome::NoAnswer(pb::NoAnswer {}),
        )
        .await;
        call(
            &server,
            &name("BROKEN").await,
            "p",
            now - Duration::days(10),
            pb::call_record::Outcome::PromiseToPay(pb::PromiseToPay {
                amount: Some(money("GBP", 300, 0)),
                promise_date: Some(date(today - Days::new(5))),
                ..Default::default()
            }),
        )
        .await;
        call(
            &server,
            &name("CALLED").await,
            "c",
            now - Duration::hours(1),
            pb::call_record::Outcome::NoAnswer(pb::NoAnswer {}),
        )
        .await;
        call(
            &server,
            &name("CALLBACK").await,
            "cb",
            now - Duration::minutes(1),
            pb::call_record::Outcome::CallbackRequested(pb::CallbackRequested {
                callback_time: Some(ts(now + Duration::seconds(2))),
            }),
        )
        .await;
        // The callback's time comes: the clock moves on, no sleeping.
        server.clock.advance(Duration::seconds(3));
        recoup_server::worklist::refresh_once(&server.store, &policy, server.clock.now())
            .await
            .unwrap();

        let w = worklist(&server, 0, "").await;
        assert_eq!(
            refs(&w),
            ["CALLBACK", "BROKEN", "OLDEST", "BIGGER"],
            "{backend}: callback due, broken promise, then 1,000 × 40 days doubled (never called) \
             before 5,000 × 10 days"
        );
        let reasons: Vec<Vec<String>> = w.entries.iter().map(|e| e.reasons.clone()).collect();
        assert!(
            reasons[0][0].starts_with("asked to be called back at"),
            "{reasons:?}"
        );
        assert_eq!(reasons[1][0], "1 promise broken in the last 90 days");
        assert_eq!(
            reasons[2],
            [
                "GBP 1,000.00 overdue on 1 invoice, the oldest 40 days",
                "never called by us"
            ]
        );
        assert_eq!(
            reasons[3],
            [
                "GBP 5,000.00 overdue on 1 invoice, the oldest 10 days",
                "last called yesterday"
            ]
        );
        // Each entry shows its account as GetAccount's BASIC view does (the summary saved with it).
        for e in &w.entries {
            let shown = e.account.clone().unwrap();
            let basic = server
                .accounts()
                .get_account(pb::GetAccountRequest {
                    account: Some(pb::get_account_request::Account::Name(shown.name.clone())),
                    view: pb::AccountView::Basic as i32,
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(shown, basic, "{backend}: {}", shown.external_ref);
        }
        let ranks: Vec<i32> = w.entries.iter().map(|e| e.rank).collect();
        assert_eq!(ranks, [1, 2, 3, 4]);
        assert!(w.next_page_token.is_empty());

        // Pages of one give the same order and ranks.
        let mut token = String::new();
        let mut paged = Vec::new();
        loop {
            let page = worklist(&server, 1, &token).await;
            paged.extend(
                page.entries
                    .iter()
                    .map(|e| (e.rank, e.account.as_ref().unwrap().external_ref.clone())),
            );
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let whole: Vec<(i32, String)> = w
            .entries
            .iter()
            .map(|e| (e.rank, e.account.as_ref().unwrap().external_ref.clone()))
            .collect();
        assert_eq!(paged, whole, "{backend}");

        // A call just recorded takes the account off the list at once, before any recomputation.
        call(
            &server,
            &name("OLDEST").await,
            "o",
            crate::now(),
            pb::call_record::Outcome::NoAnswer(pb::NoAnswer {}),
        )
        .await;
        assert_eq!(
            refs(&worklist(&server, 0, "").await),
            ["CALLBACK", "BROKEN", "BIGGER"],
            "{backend}"
        );
        server.stop().await;
    }
}

/// One random account: where it is, what it owes, and what happened lately.
#[derive(Debug, Clone)]
struct Random {
    zone: &'static str,
    status: pb::AccountStatus,
    cease_calls: bool,
    invoices: Vec<(i64, i64, bool)>,
    called_hours_ago: Option<i64>,
    callback_in_minutes: Option<i64>,
}

fn random_account() -> impl Strategy<Value = Random> {
    (
        prop::sample::select(vec![
            "Europe/London",
            "America/New_York",
            "Pacific/Auckland",
            "Asia/Tokyo",
            "America/Los_Angeles",
            "Asia/Kolkata",
            "Europe/Berlin",
            "Australia/Sydney",
        ]),
        prop::sample::select(vec![
            pb::AccountStatus::Active,
            pb::AccountStatus::Active,
            pb::AccountStatus::Active,
            pb::AccountStatus::OnHold,
            pb::AccountStatus::WithAgency,
        ]),
        prop::bool::weighted(0.1),
        prop::collection::vec((-20i64..120, 1i64..5_000, prop::bool::weighted(0.2)), 0..4),
        prop::option::weighted(0.4, 1i64..40),
        prop::option::weighted(0.15, 1i64..600),
    )
        .prop_map(
            |(zone, status, cease_calls, invoices, called_hours_ago, callback_in_minutes)| Random {
                zone,
                status,
                cease_calls,
                invoices,
                called_hours_ago,
                callback_in_minutes,
            },
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_worklist_entry_breaks_a_contact_rule() {
    // Calling hours 08:00–20:00 every day, so that at any hour some of the zones are open.
    let policy = every_day();
    let mut runner = TestRunner::new(Config {
        cases: 6,
        ..Config::default()
    });
    let books = prop::collection::vec(random_account(), 15..20);
    let mut cases = Vec::new();
    for _ in 0..runner.config().cases {
        cases.push(books.new_tree(&mut runner).unwrap().current());
    }
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = start(db, &policy).await;
        for (n, book) in cases.iter().enumerate() {
            let now = crate::now();
            let mut records = Vec::new();
            for (k, r) in book.iter().enumerate() {
                let tz: chrono_tz::Tz = r.zone.parse().unwrap();
                let today = now.with_timezone(&tz).date_naive();
                let invoices = r
                    .invoices
                    .iter()
                    .enumerate()
                    .map(|(i, (overdue, units, disputed))| {
                        let mut inv = invoice(
                            &format!("I{i}"),
                            today - chrono::Duration::days(*overdue),
                            money("GBP", *units, 0),
                        );
                        if *disputed {
                            inv.disputed = true;
                            inv.dispute_reason = "contested".into();
                        }
                        inv
                    })
                    .collect();
                let mut a = account(&format!("R{n}-{k}"), invoices);
                a.time_zone = r.zone.into();
                a.status = r.status as i32;
                a.cease_calls = r.cease_calls;
                records.push(a);
            }
            let mut client = server.accounts();
            import(&mut client, &format!("book-{n}"), records)
                .await
                .unwrap();
            let mut names = Vec::new();
            for (k, r) in book.iter().enumerate() {
                let name = crate::get(&mut client, &format!("R{n}-{k}")).await.name;
                if let Some(h) = r.called_hours_ago {
                    call(
                        &server,
                        &name,
                        &format!("c{n}-{k}"),
                        now - Duration::hours(h),
                        pb::call_record::Outcome::NoAnswer(pb::NoAnswer {}),
                    )
                    .await;
                }
                if let Some(m) = r.callback_in_minutes {
                    call(
                        &server,
                        &name,
                        &format!("cb{n}-{k}"),
                        now - Duration::minutes(1),
                        pb::call_record::Outcome::CallbackRequested(pb::CallbackRequested {
                            callback_time: Some(ts(now + Duration::minutes(m))),
                        }),
                    )
                    .await;
                }
                names.push(name);
            }
            recoup_server::worklist::refresh_once(&server.store, &policy, server.clock.now())
                .await
                .unwrap();
            let listed: Vec<String> = worklist(&server, 1000, "")
                .await
                .entries
                .into_iter()
                .map(|e| e.account.unwrap().name)
                .collect();
            for name in &names {
                let a = get_full(&server, name).await;
                let may_call = a.contact_status.as_ref().unwrap().may_call_now;
                let overdue = a.balance.as_ref().unwrap().overdue.as_ref().unwrap();
                let chaseable = overdue.units > 0 || overdue.nanos > 0;
                let on_list = listed.contains(name);
                assert!(
                    !on_list || (may_call && chaseable),
                    "{backend} book {n}: {name} is listed but may_call_now={may_call}, overdue={overdue:?}: {:?}",
                    a.contact_status
                );
                assert!(
                    on_list || !(may_call && chaseable),
                    "{backend} book {n}: {name} may be called and owes overdue but is not listed"
                );
            }
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn bad_worklist_requests_name_the_field() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let mut agent = AccountServiceClient::new(server.as_role(Role::Agent));
    for (request, field) in [
        (
            pb::GetWorklistRequest {
                page_size: -1,
                ..Default::default()
            },
            "page_size",
        ),
        (
            pb::GetWorklistRequest {
                page_token: "not-a-token".into(),
                ..Default::default()
            },
            "page_token",
        ),
    ] {
        let err = agent.get_worklist(request).await.unwrap_err();
        assert_eq!(crate::bad_fields(&err), [field]);
    }
    server.stop().await;
}
