//! Call records as agents, supervisors and integrations use them: every outcome and its effect, the
//! contact rules, retries, corrections, and records the database will not let anyone change.

use std::sync::Arc;

use chrono::{Days, Duration, TimeZone, Utc};
use recoup_proto::v1 as pb;
use recoup_proto::v1::call_record::Outcome;
use recoup_proto::v1::call_service_client::CallServiceClient;
use recoup_proto::v1::floor_service_client::FloorServiceClient;
use recoup_server::auth::Role;
use recoup_server::server::ServeOptions;
use recoup_store::testkit::TestDb;

use crate::{
    Authed, TestServer, account, bad_fields, date, every_day, get, get_full, import, invoice,
    money, test_zone, text,
};

type Calls = CallServiceClient<Authed>;

fn ts(t: chrono::DateTime<Utc>) -> prost_types::Timestamp {
    recoup_server::convert::time_out(t)
}

async fn start(db: TestDb) -> TestServer {
    let options = ServeOptions {
        policy: Arc::new(every_day()),
        ..ServeOptions::default()
    };
    TestServer::start_with(db, &options).await
}

fn calls(server: &TestServer, role: Role) -> Calls {
    CallServiceClient::new(server.as_role(role))
}

/// Imports one account in a zone where it is midday, with two overdue invoices; returns its name.
async fn owing_account(server: &TestServer, external_ref: &str) -> String {
    let (zone, tz) = test_zone();
    let today = crate::now().with_timezone(&tz).date_naive();
    let mut a = account(
        external_ref,
        vec![
            invoice("INV-1", today - Days::new(20), money("GBP", 500, 0)),
            invoice("INV-2", today - Days::new(10), money("GBP", 250, 0)),
        ],
    );
    a.time_zone = zone;
    let mut client = server.accounts();
    import(&mut client, &format!("import-{external_ref}"), vec![a])
        .await
        .expect("import");
    get(&mut client, external_ref).await.name
}

fn call(direction: pb::CallDirection, outcome: Outcome) -> pb::CallRecord {
    pb::CallRecord {
        direction: direction as i32,
        start_time: Some(ts(crate::now() - Duration::minutes(5))),
        duration: Some(prost_types::Duration {
            seconds: 240,
            nanos: 0,
        }),
        contact_name: "Alex Ledger".into(),
        right_party_contact: true,
        outcome: Some(outcome),
        notes: "spoke to accounts payable".into(),
        next_step: "check on Friday".into(),
        ..Default::default()
    }
}

async fn record(
    client: &mut Calls,
    parent: &str,
    request_id: &str,
    call: pb::CallRecord,
) -> Result<pb::CallRecord, tonic::Status> {
    client
        .record_call_outcome(pb::RecordCallOutcomeRequest {
            request_id: request_id.into(),
            parent: parent.into(),
            call: Some(call),
        })
        .await
        .map(|r| r.into_inner())
}

async fn list_all(client: &mut Calls, parent: &str, page_size: i32) -> Vec<pb::CallRecord> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_calls(pb::ListCallsRequest {
                parent: parent.into(),
                page_size,
                page_token: token,
            })
            .await
            .expect("list calls")
            .into_inner();
        assert!(page.calls.len() <= page_size as usize);
        all.extend(page.calls);
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}

#[tokio::test]
async fn every_outcome_is_recorded_and_shows_its_effect_on_the_account() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = start(db).await;
        let parent = owing_account(&server, "STORY").await;
        let mut agent = calls(&server, Role::Agent);
        let (_, tz) = test_zone();
        let today = crate::now().with_timezone(&tz).date_naive();
        let inbound = pb::CallDirection::Inbound;
        let outcomes = vec![
            Outcome::NoAnswer(pb::NoAnswer {}),
            Outcome::LeftMessage(pb::LeftMessage {
                left_with: "switchboard".into(),
            }),
            Outcome::WrongParty(pb::WrongParty {}),
            Outcome::RefusedToPay(pb::RefusedToPay {
                reason: "says the work was late".into(),
            }),
            Outcome::AlreadyPaid(pb::AlreadyPaid {
                reference: "BACS-991".into(),
                payment_date: Some(date(today - Days::new(1))),
                amount: Some(money("GBP", 250, 0)),
            }),
            Outcome::InvoiceNotReceived(pb::InvoiceNotReceived {
                invoice_numbers: vec!["INV-2".into()],
                resend_to: "ap@ledger.example".into(),
            }),
            Outcome::HardshipClaimed(pb::HardshipClaimed {
                statement: "lost their largest customer".into(),
                claims_to_verify: vec!["bank letter".into()],
                affordable_monthly: Some(money("GBP", 100, 0)),
            }),
            Outcome::DisputeRaised(pb::DisputeRaised {
                invoice_numbers: vec!["INV-1".into()],
                reason: "goods arrived damaged".into(),
            }),
            Outcome::PromiseToPay(pb::PromiseToPay {
                amount: Some(money("GBP", 250, 0)),
                promise_date: Some(date(today + Days::new(7))),
                ..Default::default()
            }),
        ];
        let count = outcomes.len();
        for (i, outcome) in outcomes.into_iter().enumerate() {
            let mut c = call(inbound, outcome);
            // Later calls start later, so the history's order is the order recorded here.
            c.start_time = Some(ts(crate::now() - Duration::minutes(60 - i as i64)));
            let recorded = record(&mut agent, &parent, &format!("story-{i}"), c)
                .await
                .unwrap_or_else(|e| panic!("{backend}: outcome {i}: {e:?}"));
            assert!(recorded.name.starts_with(&format!("{parent}/calls/")));
            assert_eq!(recorded.agent, "test-agent");
        }

        let a = get_full(&server, &parent).await;
        assert_eq!(a.recent_calls.len(), count, "{backend}");
        assert!(
            matches!(a.recent_calls[0].outcome, Some(Outcome::PromiseToPay(_))),
            "newest first"
        );
        let promise = a.open_promise.expect("the promise is open");
        assert_eq!(text(&promise.amount), "GBP 250.00");
        assert_eq!(promise.state(), pb::PromiseState::Open);
        assert_eq!(text(&promise.paid), "GBP 0.00");
        let disputed: Vec<_> = a.invoices.iter().filter(|i| i.disputed).collect();
        assert_eq!(disputed.len(), 1);
        assert_eq!(disputed[0].number, "INV-1");
        assert_eq!(text(&a.balance.as_ref().unwrap().disputed), "GBP 500.00");
        let kinds: Vec<_> = a.follow_ups.iter().map(|f| f.kind()).collect();
        assert_eq!(
            kinds,
            [
                pb::FollowUpKind::VerifyHardship,
                pb::FollowUpKind::ResendInvoices,
                pb::FollowUpKind::VerifyPayment
            ],
            "{backend}"
        );
        assert!(a.follow_ups[2].description.contains("BACS-991"));

        // A payment towards the promise shows as paid on it.
        let mut integration = server.accounts();
        integration
            .record_payment(pb::RecordPaymentRequest {
                request_id: "pay-1".into(),
                parent: parent.clone(),
                payment: Some(pb::Payment {
                    amount: Some(money("GBP", 100, 0)),
                    payment_date: Some(date(today)),
                    reference: "part".into(),
                    ..Default::default()
                }),
            })
            .await
            .expect("payment");
        let promise = get_full(&server, &parent).await.open_promise.unwrap();
        assert_eq!(text(&promise.paid), "GBP 100.00");
        // ListCalls shows the promise judged the same way.
        let listed = list_all(&mut agent, &parent, 50).await;
        let Some(Outcome::PromiseToPay(p)) = listed.iter().find_map(|c| match &c.outcome {
            Some(o @ Outcome::PromiseToPay(_)) => Some(o.clone()),
            _ => None,
        }) else {
            panic!("{backend}: no promise in ListCalls")
        };
        assert_eq!(p.state(), pb::PromiseState::Open, "{backend}");
        assert_eq!(text(&p.paid), "GBP 100.00");

        // A callback is honoured by the contact rules.
        let later = crate::now() + Duration::hours(3);
        let mut c = call(
            inbound,
            Outcome::CallbackRequested(pb::CallbackRequested {
                callback_time: Some(ts(later)),
            }),
        );
        c.start_time = Some(ts(crate::now() - Duration::minutes(1)));
        record(&mut agent, &parent, "story-callback", c)
            .await
            .unwrap();
        let status = get_full(&server, &parent).await.contact_status.unwrap();
        assert!(!status.may_call_now);
        assert!(
            status
                .blocks
                .iter()
                .any(|b| b.reason() == pb::ContactBlockReason::CallbackScheduled),
            "{status:?}"
        );
        assert_eq!(status.next_allowed_time.unwrap().seconds, later.timestamp());

        // Referral to an agency ends our calls.
        record(
            &mut agent,
            &parent,
            "story-agency",
            call(
                inbound,
                Outcome::ReferredToAgency(pb::ReferredToAgency {
                    agency: "Northern Recoveries".into(),
                }),
            ),
        )
        .await
        .unwrap();
        let a = get_full(&server, &parent).await;
        assert_eq!(a.status(), pb::AccountStatus::WithAgency);
        let status = a.contact_status.unwrap();
        assert!(
            status
                .blocks
                .iter()
                .any(|b| b.reason() == pb::ContactBlockReason::WithAgency)
        );

        // ListCalls pages through every record, newest first, none twice.
        let listed = list_all(&mut agent, &parent, 3).await;
        assert_eq!(listed.len(), count + 2, "{backend}");
        let mut names: Vec<_> = listed.iter().map(|c| c.name.clone()).collect();
        let starts: Vec<_> = listed
            .iter()
            .map(|c| c.start_time.unwrap().seconds)
            .collect();
        assert!(starts.windows(2).all(|w| w[0] >= w[1]), "{starts:?}");
        names.dedup();
        assert_eq!(names.len(), count + 2);
        server.stop().await;
    }
}

#[tokio::test]
async fn retries_and_concurrent_duplicates_give_one_record() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = start(db).await;
        let parent = owing_account(&server, "TWINS").await;
        let agent = calls(&server, Role::Agent);
        let c = call(
            pb::CallDirection::Outbound,
            Outcome::LeftMessage(pb::LeftMessage {
                left_with: "voicemail".into(),
            }),
        );
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let mut client = agent.clone();
                let (parent, c) = (parent.clone(), c.clone());
                tokio::spawn(async move { record(&mut client, &parent, "twin-1", c).await })
            })
            .collect();
        let mut names = Vec::new();
        for t in tasks {
            names.push(t.await.unwrap().expect("each twin answered").name);
        }
        names.dedup();
        assert_eq!(names.len(), 1, "{backend}: {names:?}");
        let mut client = agent.clone();
        assert_eq!(
            list_all(&mut client, &parent, 50).await.len(),
            1,
            "{backend}"
        );

        // A later retry is answered with the same record; other content under the id is refused.
        let again = record(&mut client, &parent, "twin-1", c.clone())
            .await
            .unwrap();
        assert_eq!(again.name, names[0]);
        let mut other = c;
        other.notes = "different".into();
        let e = record(&mut client, &parent, "twin-1", other)
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&e), ["request_id"]);
        assert_eq!(list_all(&mut client, &parent, 50).await.len(), 1);
        server.stop().await;
    }
}

#[tokio::test]
async fn call_records_cannot_be_changed_or_deleted_at_the_database() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = start(db).await;
        let parent = owing_account(&server, "EVIDENCE").await;
        let mut agent = calls(&server, Role::Agent);
        record(
            &mut agent,
            &parent,
            "evidence-1",
            call(
                pb::CallDirection::Inbound,
                Outcome::NoAnswer(pb::NoAnswer {}),
            ),
        )
        .await
        .unwrap();
        for sql in [
            "UPDATE calls SET notes = 'nothing was said'",
            "DELETE FROM calls",
        ] {
            let refused = server.db.try_execute(sql).await.expect_err(sql);
            assert!(
                refused.contains("append-only"),
                "{backend}: {sql}: {refused}"
            );
        }
        let listed = list_all(&mut agent, &parent, 10).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].notes, "spoke to accounts payable");
        server.stop().await;
    }
}

/// The rules a recorded call broke, by name.
fn broken(c: &pb::CallRecord) -> Vec<pb::ContactBlockReason> {
    c.rule_breaches.iter().map(|b| b.rule()).collect()
}

#[tokio::test]
async fn outbound_calls_that_break_the_rules_are_recorded_with_what_they_broke() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = start(db).await;
        let parent = owing_account(&server, "RULES").await;
        let mut agent = calls(&server, Role::Agent);
        let outbound = || {
            call(
                pb::CallDirection::Outbound,
                Outcome::NoAnswer(pb::NoAnswer {}),
            )
        };
        // Made without a claim: nothing kept another agent from dialling too.
        let first = record(&mut agent, &parent, "rules-1", outbound())
            .await
            .unwrap();
        assert_eq!(
            broken(&first),
            [pb::ContactBlockReason::Unclaimed],
            "{backend}"
        );

        // A second call today breaks the daily limit: recorded all the same, with the breach at
        // the call's own time.
        let second = outbound();
        let at = second.start_time;
        let second = record(&mut agent, &parent, "rules-2", second)
            .await
            .expect("a call that happened is recorded");
        assert_eq!(
            broken(&second),
            [
                pb::ContactBlockReason::CallLimitReached,
                pb::ContactBlockReason::Unclaimed
            ],
            "{backend}"
        );
        assert!(second.rule_breaches.iter().all(|b| b.time == at));
        assert!(
            second.rule_breaches[0].detail.contains("limit 1 a day"),
            "{}",
            second.rule_breaches[0].detail
        );

        let (_, tz) = test_zone();
        let tomorrow = crate::now().with_timezone(&tz).date_naive() + Days::new(1);
        let status = get_full(&server, &parent).await.contact_status.unwrap();
        assert!(!status.may_call_now);
        assert_eq!(
            status.next_allowed_time.unwrap().seconds,
            tz.from_local_datetime(&tomorrow.and_hms_opt(8, 0, 0).unwrap())
                .unwrap()
                .timestamp()
        );

        // Only a supervisor's credential carries an override; it sets the lapsing rule aside.
        let mut overridden = outbound();
        overridden.supervisor_override = Some(pb::SupervisorOverride {
            reason: "debtor asked us to ring back today".into(),
            ..Default::default()
        });
        let e = record(&mut agent, &parent, "rules-3", overridden.clone())
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
        let mut supervisor = calls(&server, Role::Supervisor);
        let recorded = record(&mut supervisor, &parent, "rules-3", overridden)
            .await
            .expect("a supervisor may override");
        let o = recorded.supervisor_override.clone().expect("override kept");
        assert_eq!(o.supervisor, "test-supervisor");
        assert_eq!(broken(&recorded), [pb::ContactBlockReason::Unclaimed]);

        // Inbound calls are never judged.
        let inbound = record(
            &mut agent,
            &parent,
            "rules-4",
            call(
                pb::CallDirection::Inbound,
                Outcome::NoAnswer(pb::NoAnswer {}),
            ),
        )
        .await
        .expect("inbound");
        assert!(inbound.rule_breaches.is_empty());
        assert_eq!(list_all(&mut agent, &parent, 10).await.len(), 4);

        // Supervisors see them, newest first.
        let listed = FloorServiceClient::new(server.as_role(Role::Supervisor))
            .list_rule_breaches(pb::ListRuleBreachesRequest {
                agent: "test-agent".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let names: Vec<&str> = listed.calls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [second.name.as_str(), first.name.as_str()],
            "{backend}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn a_correction_takes_the_place_of_the_record_it_corrects() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = start(db).await;
        let parent = owing_account(&server, "FIX").await;
        let other = owing_account(&server, "OTHER").await;
        let mut agent = calls(&server, Role::Agent);
        let original = record(
            &mut agent,
            &parent,
            "fix-1",
            call(
                pb::CallDirection::Inbound,
                Outcome::WrongParty(pb::WrongParty {}),
            ),
        )
        .await
        .unwrap();
        let mut fixed = call(
            pb::CallDirection::Inbound,
            Outcome::RefusedToPay(pb::RefusedToPay {
                reason: "disputes the rate".into(),
            }),
        );
        fixed.corrects = original.name.clone();
        fixed.correction_reason = "picked the wrong outcome".into();
        let correction = record(&mut agent, &parent, "fix-2", fixed.clone())
            .await
            .unwrap();
        assert_eq!(correction.corrects, original.name);

        let a = get_full(&server, &parent).await;
        let shown: Vec<_> = a.recent_calls.iter().map(|c| c.name.clone()).collect();
        assert_eq!(shown, std::slice::from_ref(&correction.name), "{backend}");
        assert_eq!(
            list_all(&mut agent, &parent, 10).await.len(),
            2,
            "history keeps both"
        );

        let e = record(&mut agent, &parent, "fix-3", fixed.clone())
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&e), ["call.corrects"], "already corrected");
        let mut elsewhere = fixed.clone();
        elsewhere.corrects = correction.name.clone();
        let e = record(&mut agent, &other, "fix-4", elsewhere)
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&e), ["call.corrects"], "another account's call");
        let mut unexplained = fixed;
        unexplained.corrects = correction.name;
        unexplained.correction_reason = String::new();
        let e = record(&mut agent, &parent, "fix-5", unexplained)
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&e), ["call.correction_reason"]);
        server.stop().await;
    }
}

#[tokio::test]
async fn bad_calls_are_refused_naming_each_field_and_nothing_is_written() {
    for db in TestDb::all().await {
        let server = start(db).await;
        let parent = owing_account(&server, "BAD").await;
        let mut agent = calls(&server, Role::Agent);
        let (_, tz) = test_zone();
        let today = crate::now().with_timezone(&tz).date_naive();
        let cases: Vec<(pb::CallRecord, &[&str])> = vec![
            (
                call(
                    pb::CallDirection::Inbound,
                    Outcome::PromiseToPay(pb::PromiseToPay {
                        amount: Some(money("EUR", 0, 0)),
                        promise_date: Some(date(today - Days::new(1))),
                        ..Default::default()
                    }),
                ),
                &[
                    "call.promise_to_pay.amount",
                    "call.promise_to_pay.promise_date",
                ],
            ),
            (
                call(
                    pb::CallDirection::Inbound,
                    Outcome::DisputeRaised(pb::DisputeRaised {
                        invoice_numbers: vec!["NOPE".into()],
                        reason: String::new(),
                    }),
                ),
                &[
                    "call.dispute_raised.invoice_numbers[0]",
                    "call.dispute_raised.reason",
                ],
            ),
            (
                call(
                    pb::CallDirection::Inbound,
                    Outcome::CallbackRequested(pb::CallbackRequested {
                        callback_time: Some(ts(crate::now() - Duration::hours(1))),
                    }),
                ),
                &["call.callback_requested.callback_time"],
            ),
            (
                pb::CallRecord {
                    start_time: Some(ts(crate::now() + Duration::hours(1))),
                    ..Default::default()
                },
                &["call.direction", "call.outcome"],
            ),
        ];
        for (i, (c, fields)) in cases.into_iter().enumerate() {
            let e = record(&mut agent, &parent, &format!("bad-{i}"), c)
                .await
                .unwrap_err();
            let mut got = bad_fields(&e);
            got.sort();
            let mut want: Vec<_> = fields.iter().map(|f| f.to_string()).collect();
            want.sort();
            assert_eq!(got, want, "case {i}");
        }
        let e = record(
            &mut agent,
            "accounts/999999",
            "bad-x",
            call(
                pb::CallDirection::Inbound,
                Outcome::NoAnswer(pb::NoAnswer {}),
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), tonic::Code::NotFound);
        assert!(list_all(&mut agent, &parent, 10).await.is_empty());
        server.stop().await;
    }
}

/// Calls arriving together are committed together, yet each is judged against the ones before it
/// and answered for itself: of ten agents dialling one account at once, all ten calls are
/// recorded and nine of them broke the daily limit; a bad call among good ones fails alone.
#[tokio::test]
async fn concurrent_calls_are_judged_one_after_another_and_answered_each() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = start(db).await;
        let parent = owing_account(&server, "RUSH").await;
        let agent = calls(&server, Role::Agent);
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let mut client = agent.clone();
                let parent = parent.clone();
                tokio::spawn(async move {
                    let c = call(
                        pb::CallDirection::Outbound,
                        Outcome::NoAnswer(pb::NoAnswer {}),
                    );
                    record(&mut client, &parent, &format!("rush-{i}"), c).await
                })
            })
            .collect();
        let mut within_limit = 0;
        for t in tasks {
            let c = t
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{backend}: {e:?}"));
            if !broken(&c).contains(&pb::ContactBlockReason::CallLimitReached) {
                within_limit += 1;
            }
        }
        assert_eq!(within_limit, 1, "{backend}");

        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let mut client = agent.clone();
                let parent = parent.clone();
                tokio::spawn(async move {
                    let numbers = if i == 3 { "NOPE" } else { "INV-2" };
                    let c = call(
                        pb::CallDirection::Inbound,
                        Outcome::InvoiceNotReceived(pb::InvoiceNotReceived {
                            invoice_numbers: vec![numbers.into()],
                            resend_to: String::new(),
                        }),
                    );
                    record(&mut client, &parent, &format!("mixed-{i}"), c).await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap().map(|_| ()).map_err(|e| e.code()));
        }
        let failed: Vec<_> = outcomes.iter().filter(|o| o.is_err()).collect();
        assert_eq!(failed, [&Err(tonic::Code::InvalidArgument)], "{backend}");
        let mut client = agent.clone();
        assert_eq!(
            list_all(&mut client, &parent, 50).await.len(),
            10 + 5,
            "{backend}"
        );
        server.stop().await;
    }
}
