//! Nothing personal reaches the logs, and hostile-looking text is stored exactly as sent.

use std::collections::HashMap;

use recoup_proto::v1 as pb;
use recoup_proto::v1::call_record;
use recoup_proto::v1::call_service_client::CallServiceClient;
use recoup_proto::v1::guidance_service_client::GuidanceServiceClient;
use recoup_server::auth::Role;
use recoup_store::testkit::TestDb;

use crate::binary::Daemon;
use crate::matrix::{call, every_rpc};
use crate::{account, date, get, import, invoice, london_today, money};

const CANARY_NAME: &str = "Zebedee Quillfeather-Canary";
const CANARY_PHONE: &str = "+44 7700 900417";
const CANARY_EMAIL: &str = "zebedee.canary@quill.example";
const CANARY_ROLE: &str = "Canary Payables Lead";

fn canary_account(external_ref: &str) -> pb::Account {
    let mut a = account(
        external_ref,
        vec![invoice("C-1", london_today(), money("GBP", 250, 0))],
    );
    a.contacts = vec![pb::Contact {
        display_name: CANARY_NAME.into(),
        role: CANARY_ROLE.into(),
        phone: CANARY_PHONE.into(),
        email: CANARY_EMAIL.into(),
        preferred: true,
    }];
    a
}

/// Every RPC runs against a real recoupd logging at TRACE; no contact detail and no key secret
/// appears anywhere in the log, on either backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_hold_no_personal_data_or_secrets() {
    // Text on both backends; JSON (as log collectors take it) on SQLite.
    let mut runs: Vec<(TestDb, &str)> = TestDb::all()
        .await
        .into_iter()
        .map(|db| (db, "text"))
        .collect();
    runs.push((TestDb::sqlite(), "json"));
    for (db, format) in runs {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("recoupd.log");
        let daemon = Daemon::start_logging(&db, &["--demo", "--log-format", format], Some(&log));
        let mut client = daemon.client().await;

        // Good and bad records carrying the canaries; the bad one fails on the email and phone.
        let mut bad = canary_account("PRIV-BAD");
        bad.contacts[0].email = format!("{CANARY_EMAIL} @@");
        bad.contacts[0].phone = format!("{CANARY_PHONE} ext. canary");
        let summary = import(&mut client, "", vec![canary_account("PRIV-1"), bad])
            .await
            .unwrap();
        assert_eq!((summary.created, summary.rejected), (1, 1));
        let text = format!("{summary:?}");
        assert!(
            !text.contains(CANARY_EMAIL) && !text.contains(CANARY_PHONE),
            "errors echo no contact data"
        );

        let got = get(&mut client, "PRIV-1").await;
        assert_eq!(got.contacts[0].display_name, CANARY_NAME);
        client
            .list_accounts(pb::ListAccountsRequest {
                view: pb::AccountView::Full as i32,
                ..Default::default()
            })
            .await
            .unwrap();
        client
            .record_payment(pb::RecordPaymentRequest {
                request_id: "priv-pay-1".into(),
                parent: got.name.clone(),
                payment: Some(pb::Payment {
                    amount: Some(money("GBP", 100, 0)),
                    payment_date: Some(date(london_today())),
                    reference: "BACS PRIV".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();

        // Every RPC as every role and with no credential.
        let channel = tonic::transport::Channel::from_shared(format!("http://{}", daemon.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let keys: HashMap<Role, String> = Role::ALL
            .iter()
            .map(|r| (*r, daemon.demo_key(r.as_str())))
            .collect();
        // A call whose free text carries the canaries, recorded and refused (a bad invoice named).
        let mut calls =
            CallServiceClient::new(tonic::service::interceptor::InterceptedService::new(
                channel.clone(),
                crate::Bearer(keys[&Role::Agent].clone()),
            ));
        let said = pb::CallRecord {
            direction: pb::CallDirection::Inbound as i32,
            start_time: Some(recoup_server::convert::time_out(chrono::Utc::now())),
            contact_name: CANARY_NAME.into(),
            notes: format!("rang from {CANARY_PHONE}, write to {CANARY_EMAIL}"),
            outcome: Some(call_record::Outcome::HardshipClaimed(pb::HardshipClaimed {
                statement: format!("{CANARY_ROLE} says the bank froze the account"),
                ..Default::default()
            })),
            ..Default::default()
        };
        calls
            .record_call_outcome(pb::RecordCallOutcomeRequest {
                request_id: "priv-call-1".into(),
                parent: got.name.clone(),
                call: Some(said.clone()),
            })
            .await
            .expect("call recorded");
        let mut refused = said;
        refused.outcome = Some(call_record::Outcome::InvoiceNotReceived(
            pb::InvoiceNotReceived {
                invoice_numbers: vec![format!("{CANARY_NAME}-1")],
                resend_to: CANARY_EMAIL.into(),
            },
        ));
        assert!(
            calls
                .record_call_outcome(pb::RecordCallOutcomeRequest {
                    request_id: "priv-call-2".into(),
                    parent: got.name.clone(),
                    call: Some(refused),
                })
                .await
                .is_err()
        );
        // Guidance and a letter drawn from the canary account: the template engine sees every
        // name and amount, and must log none of them.
        let agent = tonic::service::interceptor::InterceptedService::new(
            channel.clone(),
            crate::Bearer(keys[&Role::Agent].clone()),
        );
        GuidanceServiceClient::new(agent.clone())
            .get_call_guidance(pb::GetCallGuidanceRequest {
                account: got.name.clone(),
                ..Default::default()
            })
            .await
            .expect("guidance");
        GuidanceServiceClient::new(agent)
            .render_letter(pb::RenderLetterRequest {
                request_id: "priv-letter-1".into(),
                parent: got.name.clone(),
                kind: pb::LetterKind::PreCallStatement as i32,
                ..Default::default()
            })
            .await
            .expect("letter");
        for rpc in every_rpc() {
            call(&channel, &rpc, "").await;
            for role in Role::ALL {
                call(&channel, &rpc, &keys[&role]).await;
            }
        }
        drop(channel);
        drop(client);
        daemon.terminate();

        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(
            logged.contains("TRACE"),
            "{}: the log was captured at TRACE ({} bytes)",
            db.backend,
            logged.len()
        );
        if format == "json" {
            // One JSON object per line; each call's line carries its span: method, status,
            // duration, request_id and the caller's subject.
            let lines: Vec<serde_json::Value> = logged
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect();
            let payment = lines
                .iter()
                .find(|l| {
                    l["fields"]["message"] == "rpc" && l["span"]["request_id"] == "priv-pay-1"
                })
                .expect("the payment's rpc line");
            assert_eq!(payment["span"]["method"], "RecordPayment");
            assert_eq!(payment["span"]["code"], "OK");
            assert_eq!(payment["span"]["subject"], "demo-integration");
            assert!(payment["span"]["duration_ms"].as_f64().unwrap() > 0.0);
        }
        for canary in [
            CANARY_NAME,
            CANARY_PHONE,
            CANARY_EMAIL,
            CANARY_ROLE,
            "Quillfeather",
            // The phone's digits, spaced as given or run together; six digits alone also turn up by chance
            // in the log's timestamps and durations.
            "7700900417",
            "7700 900417",
            "zebedee.canary",
        ] {
            assert!(
                !logged.contains(canary),
                "{}: '{canary}' appears in the TRACE log",
                db.backend
            );
        }
        for (role, key) in &keys {
            let secret = key.split_once('.').unwrap().1;
            assert!(
                !logged.contains(secret),
                "{}: the {role} key's secret appears in the log",
                db.backend
            );
        }
        db.cleanup().await;
    }
}

/// Text that looks like SQL is data: stored and returned byte for byte.
#[tokio::test]
async fn sql_looking_input_round_trips_byte_identical() {
    crate::each_backend(|server| async move {
        let mut client = server.accounts();
        let hostile = "'); DROP TABLE accounts;--";
        let mut a = account(
            "SQL-1",
            vec![invoice(hostile, london_today(), money("GBP", 1, 0))],
        );
        a.legal_name = format!("{hostile} \u{e9}\u{1F4B7} \"quoted\" \\ back\\slash");
        a.contacts[0].display_name = hostile.into();
        a.contacts[0].role = "Robert'); DROP TABLE contacts;--".into();
        a.invoices[0].disputed = true;
        a.invoices[0].dispute_reason = "1' OR '1'='1".into();
        let summary = import(&mut client, "", vec![a.clone()]).await.unwrap();
        assert_eq!(summary.created, 1, "{summary:?}");
        let got = get(&mut client, "SQL-1").await;
        assert_eq!(got.legal_name.as_bytes(), a.legal_name.as_bytes());
        assert_eq!(got.contacts[0].display_name, hostile);
        assert_eq!(got.contacts[0].role, a.contacts[0].role);
        assert_eq!(got.invoices[0].number, hostile);
        assert_eq!(got.invoices[0].dispute_reason, "1' OR '1'='1");
        let all = client
            .list_accounts(pb::ListAccountsRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            all.accounts.len(),
            1,
            "{}: the accounts table is still there",
            server.db.backend
        );
        server
    })
    .await;
}
