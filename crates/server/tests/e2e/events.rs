//! The change feed as a CRM consumes it: every acknowledged change once, in commit order, live, and
//! resumable from a cursor after a disconnect.

use std::time::Duration;

use chrono::Days;
use recoup_proto::v1 as pb;
use recoup_proto::v1::call_service_client::CallServiceClient;
use recoup_proto::v1::event_service_client::EventServiceClient;
use recoup_proto::v1::guidance_service_client::GuidanceServiceClient;
use recoup_server::auth::Role;
use recoup_store::testkit::TestDb;
use tonic::Streaming;

use crate::{TestServer, account, date, get_full, import, invoice, london_today, money};

/// Long enough for any event to arrive on a loaded CI machine; only a missing event waits this long.
const PATIENCE: Duration = Duration::from_secs(20);

async fn watch(server: &TestServer, after: &str, types: &[pb::EventType]) -> Streaming<pb::Event> {
    EventServiceClient::new(server.as_role(Role::Integration))
        .watch_events(pb::WatchEventsRequest {
            after_cursor: after.into(),
            types: types.iter().map(|t| *t as i32).collect(),
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner()
}

async fn next(stream: &mut Streaming<pb::Event>) -> pb::Event {
    tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("an event within the patience")
        .expect("stream ok")
        .expect("stream open")
}

async fn pay(server: &TestServer, parent: &str, request_id: &str, units: i64) {
    server
        .accounts()
        .record_payment(pb::RecordPaymentRequest {
            request_id: request_id.into(),
            parent: parent.into(),
            payment: Some(pb::Payment {
                amount: Some(money("GBP", units, 0)),
                payment_date: Some(date(london_today())),
                reference: request_id.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("payment");
}

async fn inbound_call(server: &TestServer, parent: &str, request_id: &str) {
    CallServiceClient::new(server.as_role(Role::Agent))
        .record_call_outcome(pb::RecordCallOutcomeRequest {
            request_id: request_id.into(),
            parent: parent.into(),
            call: Some(pb::CallRecord {
                direction: pb::CallDirection::Inbound as i32,
                start_time: Some(recoup_server::convert::time_out(crate::now())),
                outcome: Some(pb::call_record::Outcome::NoAnswer(pb::NoAnswer {})),
                ..Default::default()
            }),
        })
        .await
        .expect("call");
}

#[tokio::test]
async fn every_change_arrives_once_in_commit_order_live_and_across_a_reconnect() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let today = london_today();
        let mut client = server.accounts();
        import(
            &mut client,
            "feed-1",
            vec![
                account(
                    "FEED-1",
                    vec![invoice("F-1", today - Days::new(9), money("GBP", 90, 0))],
                ),
                account("FEED-2", vec![]),
            ],
        )
        .await
        .unwrap();
        // From the start: what happened before the watch began.
        let mut stream = watch(&server, "", &[]).await;
        let created = [next(&mut stream).await, next(&mut stream).await];
        for e in &created {
            assert_eq!(e.r#type(), pb::EventType::AccountCreated, "{backend}");
            assert_eq!(e.actor, "test-integration");
            assert_eq!(e.request_id, "feed-1", "the audit names the request");
            assert_eq!(e.resource, e.account);
        }
        let parent = created[0].account.clone();

        // Live: changes made while watching arrive as they commit, carrying what was recorded.
        pay(&server, &parent, "feed-pay-1", 10).await;
        let paid = next(&mut stream).await;
        assert_eq!(paid.r#type(), pb::EventType::PaymentRecorded, "{backend}");
        let Some(pb::event::Data::Payment(p)) = &paid.data else {
            panic!("{backend}: payment event without the payment: {paid:?}")
        };
        assert_eq!(p.amount.as_ref().unwrap().units, 10);
        assert_eq!(p.name, paid.resource);
        assert_eq!(paid.request_id, "feed-pay-1");
        inbound_call(&server, &parent, "feed-call-1").await;
        let called = next(&mut stream).await;
        assert_eq!(called.r#type(), pb::EventType::CallRecorded);
        let Some(pb::event::Data::Call(c)) = &called.data else {
            panic!("{backend}: call event without the call")
        };
        assert_eq!(c.name, called.resource);
        assert_eq!(c.agent, "test-agent");
        assert_eq!(
            (called.actor.as_str(), called.request_id.as_str()),
            ("test-agent", "feed-call-1")
        );
        let last_seen = called.cursor.clone();
        drop(stream);

        // While disconnected: more changes. The resumed stream starts right after the last one seen.
        pay(&server, &parent, "feed-pay-2", 20).await;
        inbound_call(&server, &parent, "feed-call-2").await;
        pay(&server, &parent, "feed-pay-3", 30).await;
        let mut resumed = watch(&server, &last_seen, &[]).await;
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(next(&mut resumed).await);
        }
        let kinds: Vec<_> = got.iter().map(|e| e.r#type()).collect();
        assert_eq!(
            kinds,
            [
                pb::EventType::PaymentRecorded,
                pb::EventType::CallRecorded,
                pb::EventType::PaymentRecorded
            ],
            "{backend}"
        );
        let amounts: Vec<_> = got
            .iter()
            .filter_map(|e| match &e.data {
                Some(pb::event::Data::Payment(p)) => Some(p.amount.as_ref().unwrap().units),
                _ => None,
            })
            .collect();
        assert_eq!(amounts, [20, 30], "{backend}: in commit order, none twice");
        // Nothing else is pending: a new change is the very next event.
        pay(&server, &parent, "feed-pay-4", 40).await;
        let e = next(&mut resumed).await;
        let Some(pb::event::Data::Payment(p)) = &e.data else {
            panic!("{backend}: expected the fourth payment, got {e:?}")
        };
        assert_eq!(p.amount.as_ref().unwrap().units, 40);

        // A filter by type, and cursors that are not ours.
        let mut calls_only = watch(&server, "", &[pb::EventType::CallRecorded]).await;
        assert_eq!(next(&mut calls_only).await.cursor, called.cursor);
        assert_eq!(
            next(&mut calls_only).await.r#type(),
            pb::EventType::CallRecorded
        );
        let e = EventServiceClient::new(server.as_role(Role::Integration))
            .watch_events(pb::WatchEventsRequest {
                after_cursor: "42".into(),
                types: vec![],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(crate::bad_fields(&e), ["after_cursor"]);
        server.stop().await;
    }
}

/// On PostgreSQL an event id is drawn at insert and seen at commit. A transaction that inserted an
/// event and is still open must not let a later one's event be read first, or a reader that moved
/// past it would skip the earlier event for good.
#[tokio::test]
async fn an_event_committed_late_is_not_skipped_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let server = TestServer::start(db).await;
    let mut client = server.accounts();
    import(
        &mut client,
        "late-1",
        vec![account("LATE-1", vec![]), account("LATE-2", vec![])],
    )
    .await
    .unwrap();
    let mut stream = watch(&server, "", &[]).await;
    let parent = next(&mut stream).await.account;
    let other = next(&mut stream).await.account;
    let other_id: i64 = other.trim_start_matches("accounts/").parse().unwrap();

    // One transaction inserts an event (on another account, so no row lock is shared) and stays
    // open; a payment starts after it and would otherwise commit first.
    let held = server
        .db
        .hold_transaction(&format!(
            "INSERT INTO events (create_time, event_type, account_id, resource, actor) \
             VALUES (now(), 'account_updated', {other_id}, '{other}', 'held-open')"
        ))
        .await;
    let payment = {
        let (channel, parent) = (server.as_role(Role::Integration), parent.clone());
        tokio::spawn(async move {
            recoup_proto::v1::account_service_client::AccountServiceClient::new(channel)
                .record_payment(pb::RecordPaymentRequest {
                    request_id: "late-pay".into(),
                    parent,
                    payment: Some(pb::Payment {
                        amount: Some(money("GBP", 5, 0)),
                        payment_date: Some(date(london_today())),
                        reference: "late".into(),
                        ..Default::default()
                    }),
                })
                .await
        })
    };
    // While the first is open, the feed shows neither: the later event waits for the earlier.
    let early = tokio::time::timeout(Duration::from_secs(2), stream.message()).await;
    assert!(
        early.is_err(),
        "an event was delivered past an open one: {early:?}"
    );
    held.commit().await;
    payment
        .await
        .unwrap()
        .expect("the payment commits once the other has");

    let first = next(&mut stream).await;
    assert_eq!(
        first.actor, "held-open",
        "the earlier event first: {first:?}"
    );
    let second = next(&mut stream).await;
    assert_eq!(second.r#type(), pb::EventType::PaymentRecorded);
    server.stop().await;
}

/// WatchEvents is served and refuses malformed filters before streaming.
#[tokio::test]
async fn unknown_event_types_and_endless_type_lists_are_refused() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let e = EventServiceClient::new(server.as_role(Role::Integration))
        .watch_events(pb::WatchEventsRequest {
            after_cursor: String::new(),
            types: vec![0, 99],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(crate::bad_fields(&e), ["types[0]"]);
    // A list longer than any watcher needs is refused before anything is read.
    let e = EventServiceClient::new(server.as_role(Role::Integration))
        .watch_events(pb::WatchEventsRequest {
            after_cursor: String::new(),
            types: vec![pb::EventType::PaymentRecorded as i32; 8_000],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(crate::bad_fields(&e), ["types"]);
    server.stop().await;
}

/// A server that stops ends open feeds cleanly instead of holding shutdown for the grace period; the
/// client resumes from its cursor elsewhere.
#[tokio::test]
async fn shutdown_ends_open_feeds_cleanly() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let mut stream = watch(&server, "", &[]).await;
    let stopping = tokio::spawn(server.stop());
    let end = tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("the stream ends");
    assert!(matches!(end, Ok(None)), "a clean end of stream: {end:?}");
    stopping.await.unwrap();
}

/// A call that changes the account (a referral, a dispute) is followed by an account update event.
#[tokio::test]
async fn a_call_that_changes_the_account_also_updates_it_in_the_feed() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let mut client = server.accounts();
        import(&mut client, "refer-1", vec![account("REFER-1", vec![])])
            .await
            .unwrap();
        let mut stream = watch(&server, "", &[]).await;
        let parent = next(&mut stream).await.account;
        CallServiceClient::new(server.as_role(Role::Agent))
            .record_call_outcome(pb::RecordCallOutcomeRequest {
                request_id: "refer-call".into(),
                parent: parent.clone(),
                call: Some(pb::CallRecord {
                    direction: pb::CallDirection::Inbound as i32,
                    start_time: Some(recoup_server::convert::time_out(crate::now())),
                    outcome: Some(pb::call_record::Outcome::ReferredToAgency(
                        pb::ReferredToAgency {
                            agency: "Harbour Recoveries".into(),
                        },
                    )),
                    ..Default::default()
                }),
            })
            .await
            .expect("call");
        let call = next(&mut stream).await;
        assert_eq!(call.r#type(), pb::EventType::CallRecorded, "{backend}");
        let update = next(&mut stream).await;
        assert_eq!(update.r#type(), pb::EventType::AccountUpdated, "{backend}");
        assert_eq!(update.resource, parent);
        server.stop().await;
    }
}

/// Promises change state with time and payments; each change is announced once, naming the call
/// that made the promise.
#[tokio::test]
async fn promise_state_changes_are_announced_once() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let options = recoup_server::server::ServeOptions {
            promise_interval: Duration::from_millis(200),
            ..Default::default()
        };
        let server = TestServer::start_with(db, &options).await;
        let mut client = server.accounts();
        let today = london_today();
        import(
            &mut client,
            "promise-1",
            vec![account(
                "PROMISE-1",
                vec![invoice("P-1", today - Days::new(30), money("GBP", 900, 0))],
            )],
        )
        .await
        .unwrap();
        let mut stream = watch(&server, "", &[pb::EventType::PromiseChanged]).await;
        let parent = {
            let a = crate::get(&mut client, "PROMISE-1").await;
            a.name
        };
        // A promise made six days ago for that day (grace 3): broken already; one made now: open.
        let record = |request_id: &'static str, ago: i64, due_in: i64| {
            let (channel, parent) = (server.as_role(Role::Agent), parent.clone());
            async move {
                let start = crate::now() - chrono::Duration::days(ago);
                let made = start.with_timezone(&chrono_tz::Europe::London).date_naive();
                CallServiceClient::new(channel)
                    .record_call_outcome(pb::RecordCallOutcomeRequest {
                        request_id: request_id.into(),
                        parent,
                        call: Some(pb::CallRecord {
                            direction: pb::CallDirection::Inbound as i32,
                            start_time: Some(recoup_server::convert::time_out(start)),
                            outcome: Some(pb::call_record::Outcome::PromiseToPay(
                                pb::PromiseToPay {
                                    amount: Some(money("GBP", 300, 0)),
                                    promise_date: Some(date(made + Days::new(due_in as u64))),
                                    ..Default::default()
                                },
                            )),
                            ..Default::default()
                        }),
                    })
                    .await
                    .expect("promise")
                    .into_inner()
            }
        };
        let old = record("promise-old", 6, 0).await;
        let first = next(&mut stream).await;
        assert_eq!(first.resource, old.name, "{backend}");
        assert_eq!(first.actor, "recoup");
        let new = record("promise-new", 0, 5).await;
        let second = next(&mut stream).await;
        assert_eq!(second.resource, new.name, "{backend}");
        let a = get_full(&server, &parent).await;
        assert_eq!(a.broken_promise_count, 1, "{backend}");
        assert_eq!(a.open_promise.unwrap().state(), pb::PromiseState::Open);
        // Announced once: with nothing changing, nothing more arrives.
        let quiet = tokio::time::timeout(Duration::from_secs(1), stream.message()).await;
        assert!(quiet.is_err(), "{backend}: announced again: {quiet:?}");
        server.stop().await;
    }
}

/// The next message that is not a heartbeat.
async fn next_change(stream: &mut Streaming<pb::Event>) -> pb::Event {
    loop {
        let e = next(stream).await;
        if e.r#type() != pb::EventType::Heartbeat {
            return e;
        }
    }
}

/// A watcher of one type hears a heartbeat while it waits, and the heartbeat's cursor is past the
/// events it filtered out: resuming from it, the next change is the one it wanted.
#[tokio::test]
async fn heartbeats_carry_a_filtered_watchers_position_past_what_it_skipped() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let options = recoup_server::server::ServeOptions {
            watch_heartbeat: Duration::from_millis(200),
            ..Default::default()
        };
        let server = TestServer::start_with(db, &options).await;
        let mut payments = watch(&server, "", &[pb::EventType::PaymentRecorded]).await;
        let quiet = next(&mut payments).await;
        assert_eq!(quiet.r#type(), pb::EventType::Heartbeat, "{backend}");
        assert_eq!(quiet.cursor, "", "{backend}: the feed is empty");
        assert!(quiet.create_time.is_some() && quiet.resource.is_empty());

        let mut client = server.accounts();
        let due = london_today() - Days::new(30);
        import(
            &mut client,
            "beat-1",
            (1..=3)
                .map(|n| {
                    account(
                        &format!("BEAT-{n}"),
                        vec![invoice(&format!("B-{n}"), due, money("GBP", 300, 0))],
                    )
                })
                .collect(),
        )
        .await
        .unwrap();
        // Heartbeats until one carries the position past the three accounts created.
        let position = loop {
            let e = next(&mut payments).await;
            assert_eq!(e.r#type(), pb::EventType::Heartbeat, "{backend}: {e:?}");
            if !e.cursor.is_empty() {
                break e.cursor;
            }
        };
        let mut resumed = watch(&server, &position, &[]).await;
        let parent = get_full(&server, "accounts/1").await.name;
        pay(&server, &parent, "beat-pay", 10).await;
        let wanted = next_change(&mut payments).await;
        assert_eq!(wanted.r#type(), pb::EventType::PaymentRecorded, "{backend}");
        let first = next_change(&mut resumed).await;
        assert_eq!(
            (first.r#type(), first.cursor.as_str()),
            (pb::EventType::PaymentRecorded, wanted.cursor.as_str()),
            "{backend}: resuming from the heartbeat replayed what the watcher skipped"
        );
        server.stop().await;
    }
}

/// An event says what its change did, whatever happens later: a payment's event keeps the
/// allocation it was recorded with after an import takes part of it back, a letter's event carries
/// the letter, and every event names the account by the CRM's reference too.
#[tokio::test]
async fn events_keep_what_their_change_left_and_name_the_crms_reference() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let due = london_today() - Days::new(20);
        let mut client = server.accounts();
        let owed = |units| {
            vec![account(
                "KEPT-1",
                vec![invoice("K-1", due, money("GBP", units, 0))],
            )]
        };
        import(&mut client, "kept-1", owed(90)).await.unwrap();
        let parent = crate::get(&mut client, "KEPT-1").await.name;
        pay(&server, &parent, "kept-pay", 90).await;
        let letter = GuidanceServiceClient::new(server.as_role(Role::Agent))
            .render_letter(pb::RenderLetterRequest {
                request_id: "kept-letter".into(),
                parent: parent.clone(),
                kind: pb::LetterKind::PreCallStatement as i32,
                ..Default::default()
            })
            .await
            .expect("letter")
            .into_inner();
        // The CRM now says the invoice was for £50.00: £40.00 of the payment goes back to credit.
        import(&mut client, "kept-2", owed(50)).await.unwrap();
        let now = server
            .accounts()
            .get_payment(pb::GetPaymentRequest {
                name: format!("{parent}/payments/1"),
            })
            .await
            .expect("payment")
            .into_inner();
        assert_eq!(crate::text(&now.unallocated), "GBP 40.00", "{backend}");

        let mut stream = watch(&server, "", &[]).await;
        let mut seen = Vec::new();
        for _ in 0..4 {
            let e = next(&mut stream).await;
            assert_eq!(e.external_ref, "KEPT-1", "{backend}: {e:?}");
            seen.push(e);
        }
        let kinds: Vec<_> = seen.iter().map(|e| e.r#type()).collect();
        use pb::EventType::{AccountCreated, AccountUpdated, LetterRendered, PaymentRecorded};
        assert_eq!(
            kinds,
            [
                AccountCreated,
                PaymentRecorded,
                LetterRendered,
                AccountUpdated
            ],
            "{backend}"
        );
        let Some(pb::event::Data::Payment(then)) = &seen[1].data else {
            panic!("{backend}: payment event without its payment")
        };
        assert_eq!(then.name, now.name);
        assert_eq!(crate::text(&then.unallocated), "GBP 0.00", "{backend}");
        let allocated: Vec<_> = then
            .allocations
            .iter()
            .map(|a| (a.invoice_number.as_str(), crate::text(&a.amount)))
            .collect();
        assert_eq!(allocated, [("K-1", "GBP 90.00".to_owned())], "{backend}");
        let Some(pb::event::Data::Letter(l)) = &seen[2].data else {
            panic!("{backend}: letter event without its letter")
        };
        assert_eq!((&l.name, &l.body_text), (&letter.name, &letter.body_text));
        server.stop().await;
    }
}

/// A desktop showing one account watches from now: nothing older is replayed, a heartbeat with the
/// starting position comes at once, and resuming from it loses nothing.
#[tokio::test]
async fn a_watch_from_now_skips_the_past_and_starts_with_its_position() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let mut client = server.accounts();
        import(
            &mut client,
            "now-1",
            vec![
                account(
                    "NOW-1",
                    vec![invoice("N-1", london_today(), money("GBP", 90, 0))],
                ),
                account(
                    "NOW-2",
                    vec![invoice("N-2", london_today(), money("GBP", 90, 0))],
                ),
            ],
        )
        .await
        .unwrap();
        let parent = crate::get(&mut client, "NOW-1").await.name;
        let other = crate::get(&mut client, "NOW-2").await.name;
        pay(&server, &parent, "before", 1).await;
        // An agent watches the one account it is calling.
        let mut events = EventServiceClient::new(server.as_role(Role::Agent));
        let everything = events
            .watch_events(pb::WatchEventsRequest {
                from_now: true,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            everything.code(),
            tonic::Code::PermissionDenied,
            "{backend}"
        );
        let mut stream = events
            .watch_events(pb::WatchEventsRequest {
                from_now: true,
                account: parent.clone(),
                ..Default::default()
            })
            .await
            .expect("watch from now")
            .into_inner();
        let start = next(&mut stream).await;
        assert_eq!(start.r#type(), pb::EventType::Heartbeat, "{backend}");
        assert!(
            !start.cursor.is_empty(),
            "{backend}: the position to resume from"
        );
        pay(&server, &other, "elsewhere", 3).await;
        pay(&server, &parent, "after", 2).await;
        let live = next(&mut stream).await;
        assert_eq!(live.r#type(), pb::EventType::PaymentRecorded, "{backend}");
        assert_eq!(
            live.request_id, "after",
            "{backend}: nothing older and no other account's came first"
        );
        // Resuming from the heartbeat's position loses nothing: the other account's payment, then
        // this one.
        let mut resumed = watch(&server, &start.cursor, &[]).await;
        assert_eq!(
            next(&mut resumed).await.request_id,
            "elsewhere",
            "{backend}"
        );
        assert_eq!(next(&mut resumed).await.cursor, live.cursor, "{backend}");

        let e = events
            .watch_events(pb::WatchEventsRequest {
                from_now: true,
                account: parent.clone(),
                after_cursor: start.cursor.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(crate::bad_fields(&e), ["from_now"], "{backend}");
        let e = events
            .watch_events(pb::WatchEventsRequest {
                account: "accounts/007".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(crate::bad_fields(&e), ["account"], "{backend}");
        drop((stream, resumed));
        server.stop().await;
    }
}
