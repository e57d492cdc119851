//! The call-centre floor as agents work it: claim the next account, prepare the call, record it
//! under the claim, claim the next; a second agent never gets the same account; claims refused by
//! the contact rules or held by another; blocks recoup sets that an import never lifts; the CRM's
//! history brought in once.

use std::sync::Arc;

use chrono::{Days, Duration};
use recoup_domain::policy::Policy;
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_proto::v1::call_record::Outcome;
use recoup_proto::v1::call_service_client::CallServiceClient;
use recoup_proto::v1::floor_service_client::FloorServiceClient;
use recoup_server::auth::{Role, keys};
use recoup_server::clock::Clock;
use recoup_server::server::ServeOptions;
use recoup_store::testkit::TestDb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::{Authed, TestServer, account, bad_fields, get_full, import, invoice, money};

type Floor = FloorServiceClient<Authed>;

async fn start(db: TestDb, policy: Policy) -> TestServer {
    let options = ServeOptions {
        policy: Arc::new(policy),
        // The tests compute worklist entries at the moments they choose.
        worklist_interval: std::time::Duration::from_secs(3600),
        ..ServeOptions::default()
    };
    TestServer::start_with(db, &options).await
}

async fn refresh(server: &TestServer) {
    let policy = Policy::default();
    recoup_server::worklist::refresh_once(&server.store, &policy, server.clock.now())
        .await
        .unwrap();
}

fn floor(server: &TestServer, role: Role) -> Floor {
    FloorServiceClient::new(server.as_role(role))
}

/// An account owing `units` pounds, `days` overdue, in London (where the test clock is at noon).
fn owing(r: &str, days: u64, units: i64) -> pb::Account {
    let today = crate::london_today();
    let mut a = account(
        r,
        vec![invoice(
            &format!("{r}-1"),
            today - Days::new(days),
            money("GBP", units, 0),
        )],
    );
    a.time_zone = "Europe/London".into();
    a
}

async fn claim_next(client: &mut Floor, queue: &str) -> Option<pb::PreparedCall> {
    client
        .claim_next_account(pb::ClaimNextAccountRequest {
            queue: queue.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .prepared
}

fn outbound(claim: &str, outcome: Outcome) -> pb::CallRecord {
    pb::CallRecord {
        direction: pb::CallDirection::Outbound as i32,
        start_time: Some(recoup_server::convert::time_out(
            crate::now() - Duration::seconds(30),
        )),
        outcome: Some(outcome),
        claim: claim.into(),
        ..Default::default()
    }
}

async fn record(
    server: &TestServer,
    role: Role,
    parent: &str,
    id: &str,
    call: pb::CallRecord,
) -> Result<pb::CallRecord, tonic::Status> {
    CallServiceClient::new(server.as_role(role))
        .record_call_outcome(pb::RecordCallOutcomeRequest {
            request_id: id.into(),
            parent: parent.into(),
            call: Some(call),
        })
        .await
        .map(|r| r.into_inner())
}

/// The refusal's PreconditionFailure as (type, subject); its ErrorInfo reason is the first type.
fn precondition(e: &tonic::Status) -> Vec<(String, String)> {
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    let found: Vec<(String, String)> = e
        .get_details_precondition_failure()
        .expect("PreconditionFailure")
        .violations
        .into_iter()
        .map(|v| (v.r#type, v.subject))
        .collect();
    let info = e.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.domain, "recoup");
    assert_eq!(Some(&info.reason), found.first().map(|(t, _)| t), "{e:?}");
    found
}

#[tokio::test]
async fn agents_claim_prepare_record_and_never_share_an_account() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = start(db, Policy::default()).await;
        let records = vec![
            owing("TOP", 60, 9_000),
            owing("SECOND", 30, 5_000),
            owing("THIRD", 10, 100),
        ];
        import(&mut server.accounts(), "book", records)
            .await
            .unwrap();
        refresh(&server).await;
        let (mut ann, mut bob) = (
            floor(&server, Role::Agent),
            floor(&server, Role::Supervisor),
        );

        // Ann gets the top account, prepared: the account, its guidance (structured by default),
        // whether it may be called, and her claim.
        let first = claim_next(&mut ann, "").await.expect("an account to call");
        let account = first.account.clone().unwrap();
        assert_eq!(account.external_ref, "TOP", "{backend}");
        assert!(!account.invoices.is_empty(), "FULL view");
        let guidance = first.guidance.clone().unwrap();
        assert!(!guidance.must_not.is_empty());
        assert!(guidance.rendered_text.is_empty() && guidance.rendered_markdown.is_empty());
        assert!(first.contact_status.unwrap().may_call_now);
        let claim = first.claim.clone().unwrap();
        assert_eq!(claim.agent, "test-agent");
        assert_eq!(claim.state(), pb::ClaimState::Live);
        let expiry = claim.expire_time.unwrap().seconds - claim.claim_time.unwrap().seconds;
        assert_eq!(expiry, 5 * 60, "policy.floor.claim_minutes");

        // Bob is never offered Ann's account; the worklist shows it held by her.
        let second = claim_next(&mut bob, "").await.expect("another account");
        assert_eq!(second.account.unwrap().external_ref, "SECOND", "{backend}");
        let listed = server
            .accounts()
            .get_worklist(pb::GetWorklistRequest::default())
            .await;
        assert_eq!(listed.unwrap_err().code(), Code::PermissionDenied);
        let listed = AccountServiceClient::new(server.as_role(Role::Agent))
            .get_worklist(pb::GetWorklistRequest::default())
            .await
            .unwrap()
            .into_inner();
        let top = listed
            .entries
            .iter()
            .find(|e| e.account.as_ref().unwrap().external_ref == "TOP")
            .unwrap();
        assert_eq!(top.claim.as_ref().unwrap().agent, "test-agent");

        // One claim at a time: Ann must record or release first.
        let e = ann
            .claim_next_account(pb::ClaimNextAccountRequest::default())
            .await
            .unwrap_err();
        assert_eq!(
            precondition(&e),
            [("CLAIM_LIMIT".into(), claim.name.clone())]
        );
        // Bob cannot take TOP by name either; he is told who holds it and until when.
        let e = bob
            .claim_account(pb::ClaimAccountRequest {
                account: account.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            precondition(&e),
            [("CLAIM_HELD".into(), claim.name.clone())]
        );
        assert!(e.message().contains("test-agent"), "{}", e.message());
        // Nor record a call under Ann's claim: nothing is written.
        let e = record(
            &server,
            Role::Supervisor,
            &account.name,
            "bob-on-ann",
            outbound(&claim.name, Outcome::NoAnswer(pb::NoAnswer {})),
        )
        .await
        .unwrap_err();
        assert_eq!(
            precondition(&e),
            [("CLAIM_HELD".into(), claim.name.clone())]
        );
        let calls = get_full(&server, &account.name).await.recent_calls;
        assert!(calls.is_empty(), "{backend}: {calls:?}");

        // Ann records her call under the claim: no breach, and the claim has ended.
        let recorded = record(
            &server,
            Role::Agent,
            &account.name,
            "ann-1",
            outbound(&claim.name, Outcome::NoAnswer(pb::NoAnswer {})),
        )
        .await
        .unwrap();
        assert!(
            recorded.rule_breaches.is_empty(),
            "{:?}",
            recorded.rule_breaches
        );
        assert_eq!(recorded.claim, claim.name);
        let e = ann
            .extend_claim(pb::ExtendClaimRequest {
                name: claim.name.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            precondition(&e),
            [("CLAIM_ENDED".into(), claim.name.clone())]
        );
        // A second call under the same claim is refused, and nothing is written.
        let e = record(
            &server,
            Role::Agent,
            &account.name,
            "ann-2",
            outbound(&claim.name, Outcome::NoAnswer(pb::NoAnswer {})),
        )
        .await
        .unwrap_err();
        assert_eq!(
            precondition(&e),
            [("CLAIM_ENDED".into(), claim.name.clone())]
        );
        assert_eq!(get_full(&server, &account.name).await.recent_calls.len(), 1);

        // Next: the account just called is not offered again; the third one is.
        let next = claim_next(&mut ann, "").await.expect("the third account");
        assert_eq!(next.account.unwrap().external_ref, "THIRD", "{backend}");
        // Released, it goes back to the pool at once.
        let released = ann
            .release_claim(pb::ReleaseClaimRequest {
                name: next.claim.unwrap().name,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(released.state(), pb::ClaimState::Released);
        let again = claim_next(&mut ann, "").await.expect("THIRD again");
        assert_eq!(again.account.unwrap().external_ref, "THIRD");
        // An expired claim returns the account too: Bob's SECOND, once its five minutes pass.
        server.clock.advance(Duration::minutes(6));
        let taken = ann
            .release_claim(pb::ReleaseClaimRequest {
                name: again.claim.unwrap().name,
            })
            .await;
        assert!(taken.is_err(), "an expired claim cannot be released");
        let after_expiry = claim_next(&mut ann, "").await.expect("SECOND, expired");
        assert_eq!(after_expiry.account.unwrap().external_ref, "SECOND");
        server.stop().await;
    }
}

#[tokio::test]
async fn the_contact_rules_refuse_the_claim_and_a_lasting_block_cannot_be_overridden() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = start(db, Policy::default()).await;
        let mut ceased = owing("CEASED", 40, 1_000);
        ceased.cease_calls = true;
        import(
            &mut server.accounts(),
            "book",
            vec![owing("CALLED", 40, 1_000), ceased],
        )
        .await
        .unwrap();
        let name = |r: &'static str| {
            let mut c = server.accounts();
            async move { crate::get(&mut c, r).await.name }
        };
        let (called, ceased) = (name("CALLED").await, name("CEASED").await);
        let mut agent = floor(&server, Role::Agent);
        let mut supervisor = floor(&server, Role::Supervisor);
        let claim = |account: &str, reason: &str| pb::ClaimAccountRequest {
            account: account.into(),
            override_reason: reason.into(),
        };

        // Called once today already: the daily limit lapses tomorrow, so only a supervisor may
        // claim it, with a reason.
        record(
            &server,
            Role::Agent,
            &called,
            "earlier",
            outbound("", Outcome::NoAnswer(pb::NoAnswer {})),
        )
        .await
        .unwrap();
        let e = agent.claim_account(claim(&called, "")).await.unwrap_err();
        assert_eq!(
            precondition(&e),
            [(
                "CONTACT_RULE".into(),
                "CONTACT_BLOCK_REASON_CALL_LIMIT_REACHED".into()
            )],
            "{backend}"
        );
        let e = agent
            .claim_account(claim(&called, "debtor asked"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        let held = supervisor
            .claim_account(claim(
                &called,
                "debtor rang and asked us to call back today",
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            held.override_reason,
            "debtor rang and asked us to call back today"
        );
        // The call under an overriding claim breaks nothing it set aside.
        let c = record(
            &server,
            Role::Supervisor,
            &called,
            "sup-1",
            outbound(&held.name, Outcome::NoAnswer(pb::NoAnswer {})),
        )
        .await
        .unwrap();
        assert!(
            c.rule_breaches.is_empty(),
            "{backend}: {:?}",
            c.rule_breaches
        );

        // Cease-contact is lasting: nobody claims it, whatever the reason.
        for (client, reason) in [(&mut agent, ""), (&mut supervisor, "urgent")] {
            let e = client
                .claim_account(claim(&ceased, reason))
                .await
                .unwrap_err();
            assert_eq!(
                precondition(&e),
                [(
                    "CONTACT_RULE".into(),
                    "CONTACT_BLOCK_REASON_CEASE_CALLS".into()
                )],
                "{backend}"
            );
        }
        // Bad input names the field and writes nothing.
        let e = agent
            .claim_account(claim("accounts/x", ""))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&e), ["account"]);
        let e = agent
            .claim_account(claim("accounts/999999", ""))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        let e = agent
            .extend_claim(pb::ExtendClaimRequest {
                name: "accounts/1/claims/999999".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        let e = record(
            &server,
            Role::Agent,
            &called,
            "no-such-claim",
            outbound(
                &format!("{called}/claims/999999"),
                Outcome::NoAnswer(pb::NoAnswer {}),
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(bad_fields(&e), ["call.claim"]);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_claim_is_extended_up_to_the_longest_hold() {
    let mut policy = Policy::default();
    policy.floor.claim_minutes = 5;
    policy.floor.max_claim_minutes = 8;
    for db in TestDb::all().await {
        let server = start(db, policy.clone()).await;
        import(&mut server.accounts(), "book", vec![owing("LONG", 30, 500)])
            .await
            .unwrap();
        refresh(&server).await;
        let mut agent = floor(&server, Role::Agent);
        let claim = claim_next(&mut agent, "").await.unwrap().claim.unwrap();
        server.clock.advance(Duration::minutes(4));
        let extend = pb::ExtendClaimRequest {
            name: claim.name.clone(),
        };
        let extended = agent
            .extend_claim(extend.clone())
            .await
            .unwrap()
            .into_inner();
        // Asked for five more minutes from now (9 in all), held for the longest a claim may be.
        assert_eq!(
            extended.expire_time.unwrap().seconds - claim.claim_time.unwrap().seconds,
            8 * 60
        );
        let e = agent.extend_claim(extend).await.unwrap_err();
        assert_eq!(
            precondition(&e),
            [("CLAIM_MAX_HOLD".into(), claim.name.clone())]
        );
        // Another agent may not extend or release it; a supervisor may release it.
        let other = keys::issue(
            &server.store,
            Role::Agent,
            "other-agent",
            None,
            crate::now(),
        )
        .await
        .unwrap();
        let e = FloorServiceClient::new(server.with_key(&other.secret))
            .release_claim(pb::ReleaseClaimRequest {
                name: claim.name.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            precondition(&e),
            [("CLAIM_HELD".into(), claim.name.clone())]
        );
        floor(&server, Role::Supervisor)
            .release_claim(pb::ReleaseClaimRequest {
                name: claim.name.clone(),
            })
            .await
            .unwrap();
        server.stop().await;
    }
}

#[tokio::test]
async fn prepare_call_carries_only_the_formats_asked_for() {
    for db in TestDb::all().await {
        let server = start(db, Policy::default()).await;
        import(&mut server.accounts(), "book", vec![owing("PREP", 30, 500)])
            .await
            .unwrap();
        let name = crate::get(&mut server.accounts(), "PREP").await.name;
        let mut agent = floor(&server, Role::Agent);
        let prepare = |formats: Vec<pb::GuidanceFormat>| pb::PrepareCallRequest {
            account: name.clone(),
            guidance_format: formats.into_iter().map(|f| f as i32).collect(),
            ..Default::default()
        };
        let text = agent
            .prepare_call(prepare(vec![pb::GuidanceFormat::Text]))
            .await
            .unwrap()
            .into_inner();
        let g = text.guidance.unwrap();
        assert!(!g.rendered_text.is_empty());
        assert!(g.rendered_markdown.is_empty() && g.talking_points.is_empty());
        assert_ne!(g.tone, 0, "the tone always comes");
        assert!(text.claim.is_none(), "nobody holds it");
        let all = agent
            .prepare_call(prepare(vec![
                pb::GuidanceFormat::Structured,
                pb::GuidanceFormat::Markdown,
            ]))
            .await
            .unwrap()
            .into_inner();
        let g = all.guidance.unwrap();
        assert!(!g.rendered_markdown.is_empty() && !g.talking_points.is_empty());
        assert!(g.rendered_text.is_empty());
        assert_eq!(all.account.unwrap().name, name);
        let e = agent
            .prepare_call(pb::PrepareCallRequest {
                account: name.clone(),
                guidance_format: vec![9],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&e), ["guidance_format[0]"]);
        server.stop().await;
    }
}

#[tokio::test]
async fn queues_divide_the_book_and_keys_may_be_limited_to_them() {
    for db in TestDb::all().await {
        let server = start(db, Policy::default()).await;
        let mut north = owing("NORTH-1", 10, 100);
        north.queue = "north".into();
        let south = {
            let mut a = owing("SOUTH-1", 90, 9_000);
            a.queue = "south".into();
            a
        };
        let mut bad = owing("BAD-Q", 10, 100);
        bad.queue = "North Team".into();
        let summary = import(&mut server.accounts(), "book", vec![north, south, bad])
            .await
            .unwrap();
        assert_eq!(summary.rejected, 1);
        assert_eq!(summary.rejections[0].violations[0].field, "account.queue");
        refresh(&server).await;
        let key = keys::issue_limited(
            &server.store,
            Role::Agent,
            "north-agent",
            None,
            Some(vec!["north".into()]),
            crate::now(),
        )
        .await
        .unwrap();
        let mut northerner = FloorServiceClient::new(server.with_key(&key.secret));
        // Limited to north, the agent gets NORTH-1 though SOUTH-1 ranks higher.
        let got = claim_next(&mut northerner, "").await.unwrap();
        assert_eq!(got.account.unwrap().queue, "north");
        let e = northerner
            .claim_next_account(pb::ClaimNextAccountRequest {
                queue: "south".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        let mut anyone = floor(&server, Role::Agent);
        let e = anyone
            .claim_next_account(pb::ClaimNextAccountRequest {
                queue: "west".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&e), ["queue"]);
        let south = claim_next(&mut anyone, "south").await.unwrap();
        assert_eq!(south.account.unwrap().external_ref, "SOUTH-1");
        // Nothing left in north for anyone: an empty answer, not an error.
        let mut supervisor = floor(&server, Role::Supervisor);
        assert!(claim_next(&mut supervisor, "north").await.is_none());
        server.stop().await;
    }
}

#[tokio::test]
async fn blocks_recoup_sets_outlast_imports_until_lifted_with_a_reason() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = start(db, Policy::default()).await;
        import(
            &mut server.accounts(),
            "book",
            vec![owing("STOP", 30, 500), owing("REFER", 30, 500)],
        )
        .await
        .unwrap();
        let stop = crate::get(&mut server.accounts(), "STOP").await.name;
        let refer = crate::get(&mut server.accounts(), "REFER").await.name;
        let mut asked = pb::CallRecord {
            direction: pb::CallDirection::Inbound as i32,
            start_time: Some(recoup_server::convert::time_out(crate::now())),
            outcome: Some(Outcome::RefusedToPay(pb::RefusedToPay::default())),
            asked_not_to_call: Some(pb::AskedNotToCall {
                words: "stop ringing us, write instead".into(),
            }),
            ..Default::default()
        };
        let c = record(&server, Role::Agent, &stop, "stop-1", asked.clone())
            .await
            .unwrap();
        assert_eq!(
            c.asked_not_to_call.unwrap().words,
            "stop ringing us, write instead"
        );
        asked.asked_not_to_call = Some(pb::AskedNotToCall::default());
        let e = record(&server, Role::Agent, &stop, "stop-2", asked)
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&e), ["call.asked_not_to_call.words"]);
        record(
            &server,
            Role::Agent,
            &refer,
            "refer-1",
            pb::CallRecord {
                direction: pb::CallDirection::Inbound as i32,
                start_time: Some(recoup_server::convert::time_out(crate::now())),
                outcome: Some(Outcome::ReferredToAgency(pb::ReferredToAgency {
                    agency: "Northern Recoveries".into(),
                })),
                ..Default::default()
            },
        )
        .await
        .unwrap();

        // The CRM sends both again, changed (a new phone number), still active and callable.
        let mut again = vec![owing("STOP", 30, 500), owing("REFER", 30, 500)];
        for a in &mut again {
            a.contacts[0].phone = "+44 20 7946 0123".into();
        }
        let summary = import(&mut server.accounts(), "book-2", again)
            .await
            .unwrap();
        assert_eq!(summary.updated, 2, "{backend}");
        let s = get_full(&server, &stop).await;
        assert!(
            s.cease_calls,
            "{backend}: an import lifted recoup's cease-contact block"
        );
        assert_eq!(
            s.held_blocks().collect::<Vec<_>>(),
            [pb::ContactBlockReason::CeaseCalls]
        );
        let r = get_full(&server, &refer).await;
        assert_eq!(r.status(), pb::AccountStatus::WithAgency, "{backend}");
        assert_eq!(
            r.held_blocks().collect::<Vec<_>>(),
            [pb::ContactBlockReason::WithAgency]
        );
        assert!(!r.contact_status.unwrap().may_call_now);

        // Lifting is explicit, by a supervisor or the CRM, with a reason; agents may not.
        let lift =
            |name: &str, block: pb::ContactBlockReason, id: &str| pb::LiftContactBlockRequest {
                request_id: id.into(),
                name: name.into(),
                block: block as i32,
                reason: "debtor withdrew the request in writing".into(),
            };
        let e = AccountServiceClient::new(server.as_role(Role::Agent))
            .lift_contact_block(lift(&stop, pb::ContactBlockReason::CeaseCalls, "l-0"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        let lifted = AccountServiceClient::new(server.as_role(Role::Supervisor))
            .lift_contact_block(lift(&stop, pb::ContactBlockReason::CeaseCalls, "l-1"))
            .await
            .unwrap()
            .into_inner();
        assert!(
            !lifted.cease_calls && lifted.held_blocks.is_empty(),
            "{backend}"
        );
        let lifted = server
            .accounts()
            .lift_contact_block(lift(&refer, pb::ContactBlockReason::WithAgency, "l-2"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(lifted.status(), pb::AccountStatus::Active);
        // Nothing left to lift: a precondition, not a silent success.
        let e = server
            .accounts()
            .lift_contact_block(lift(&refer, pb::ContactBlockReason::WithAgency, "l-3"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition);
        let e = server
            .accounts()
            .lift_contact_block(lift(&refer, pb::ContactBlockReason::OnHold, "l-4"))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&e), ["block"]);
        server.stop().await;
    }
}

#[tokio::test]
async fn the_crms_history_comes_in_once_and_counts_like_any_other() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = start(db, Policy::default()).await;
        import(&mut server.accounts(), "book", vec![owing("OLD", 120, 800)])
            .await
            .unwrap();
        let name = crate::get(&mut server.accounts(), "OLD").await.name;
        let long_ago = crate::now() - Duration::days(400);
        let history = || {
            let call = |id: &str, days: i64| pb::ImportHistoryRequest {
                external_ref: "OLD".into(),
                record: Some(pb::import_history_request::Record::Call(pb::CallRecord {
                    crm_call_id: id.into(),
                    agent: "Jo in the old CRM".into(),
                    direction: pb::CallDirection::Outbound as i32,
                    start_time: Some(recoup_server::convert::time_out(
                        long_ago + Duration::days(days),
                    )),
                    outcome: Some(Outcome::NoAnswer(pb::NoAnswer {})),
                    ..Default::default()
                })),
            };
            vec![
                call("CRM-1", 0),
                call("CRM-2", 1),
                pb::ImportHistoryRequest {
                    external_ref: "OLD".into(),
                    record: Some(pb::import_history_request::Record::Letter(pb::PastLetter {
                        crm_letter_id: "L-1".into(),
                        kind: pb::LetterKind::FirstReminder as i32,
                        sent_time: Some(recoup_server::convert::time_out(long_ago)),
                        subject: "Overdue invoice".into(),
                    })),
                },
                pb::ImportHistoryRequest {
                    external_ref: "NOBODY".into(),
                    record: None,
                },
            ]
        };
        let first = server
            .accounts()
            .import_history(tokio_stream::iter(history()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (first.created, first.unchanged, first.rejected),
            (3, 0, 1),
            "{backend}: {first:?}"
        );
        assert_eq!(first.rejections[0].index, 3);
        assert_eq!(first.rejections[0].violations[0].field, "external_ref");
        let again = server
            .accounts()
            .import_history(tokio_stream::iter(history()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((again.created, again.unchanged), (0, 3), "{backend}");
        let a = get_full(&server, &name).await;
        let calls = &a.recent_calls;
        assert_eq!(calls.len(), 2, "{backend}");
        assert!(calls.iter().all(|c| c.origin() == pb::CallOrigin::Import
            && c.rule_breaches.is_empty()
            && c.agent == "Jo in the old CRM"));
        assert_eq!(calls[0].crm_call_id, "CRM-2");
        assert_eq!(a.recent_letters.len(), 1);
        assert_eq!(a.recent_letters[0].kind(), pb::LetterKind::FirstReminder);
        server.stop().await;
    }
}
