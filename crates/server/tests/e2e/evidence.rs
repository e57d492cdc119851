//! The evidence pack of a demo account, checked against the account's records as the API gives
//! them: every part present with its digest, the JSON parts equal to the RPCs' answers, each letter
//! as sent, the document holding the records as text (hostile text inert), the manifest true to
//! the parts; the same pack from `recoupd evidence`; who may ask, and bad names.

use recoup_proto::v1 as pb;
use recoup_proto::v1::call_record::Outcome;
use recoup_proto::v1::call_service_client::CallServiceClient;
use recoup_proto::v1::guidance_service_client::GuidanceServiceClient;
use recoup_proto::v1::reporting_service_client::ReportingServiceClient;
use recoup_server::auth::Role;
use recoup_server::convert::json::from_json;
use recoup_store::testkit::TestDb;
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::{TestServer, bad_fields, date, money};

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A JSON array part read back as contract messages.
fn messages<M: prost::Message + Default>(name: &str, content: &[u8]) -> Vec<M> {
    let values: Vec<serde_json::Value> = serde_json::from_slice(content).expect("a JSON array");
    values
        .iter()
        .map(|v| from_json(name, v.to_string().as_bytes()).expect("a contract message"))
        .collect()
}

fn at(t: &Option<prost_types::Timestamp>) -> Option<(i64, i32)> {
    t.as_ref().map(|t| (t.seconds, t.nanos))
}

/// DEMO-001 (two invoices paid in full, one open) with a reminder sent, a promise taken on a call
/// whose notes hold markup, and a dispute raised and rejected; its name.
async fn history(server: &TestServer) -> String {
    recoup_server::demo::load(&server.store, crate::now())
        .await
        .expect("the demo book");
    let mut client = server.accounts();
    let name = crate::get(&mut client, "DEMO-001").await.name;
    GuidanceServiceClient::new(server.as_role(Role::Agent))
        .render_letter(pb::RenderLetterRequest {
            request_id: "evidence-letter".into(),
            parent: name.clone(),
            kind: pb::LetterKind::FirstReminder as i32,
            locale: String::new(),
            plan: String::new(),
        })
        .await
        .expect("a reminder");
    CallServiceClient::new(server.as_role(Role::Agent))
        .record_call_outcome(pb::RecordCallOutcomeRequest {
            request_id: "evidence-call".into(),
            parent: name.clone(),
            call: Some(pb::CallRecord {
                direction: pb::CallDirection::Inbound as i32,
                start_time: Some(recoup_server::convert::time_out(
                    crate::now() - chrono::Duration::minutes(10),
                )),
                contact_name: "Megan Ashworth".into(),
                right_party_contact: true,
                outcome: Some(Outcome::PromiseToPay(pb::PromiseToPay {
                    amount: Some(money("GBP", 500, 0)),
                    promise_date: Some(date(crate::london_today() + chrono::Days::new(5))),
                    ..Default::default()
                })),
                notes: "<script>alert('notes')</script> & <b>bold</b>".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("a call");
    let dispute = crate::AccountServiceClient::new(server.as_role(Role::Agent))
        .raise_dispute(pb::RaiseDisputeRequest {
            request_id: "evidence-dispute".into(),
            parent: name.clone(),
            dispute: Some(pb::Dispute {
                invoice_numbers: vec!["HJ-1003".into()],
                reason: "Joinery not fitted <img src=x onerror=alert(1)>".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("a dispute")
        .into_inner();
    crate::AccountServiceClient::new(server.as_role(Role::Supervisor))
        .resolve_dispute(pb::ResolveDisputeRequest {
            request_id: "evidence-resolve".into(),
            name: dispute.name,
            outcome: pb::DisputeState::Rejected as i32,
            resolution: "Fitted on the 3rd; signed off by the site manager".into(),
        })
        .await
        .expect("resolved");
    name
}

async fn pack(
    server: &TestServer,
    role: Role,
    account: &str,
) -> Result<pb::EvidencePack, tonic::Status> {
    ReportingServiceClient::new(server.as_role(role))
        .get_evidence_pack(pb::GetEvidencePackRequest {
            account: account.into(),
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn a_demo_accounts_pack_holds_its_records_with_their_digests() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let name = history(&server).await;
        let p = pack(&server, Role::Supervisor, &name)
            .await
            .expect("the pack");
        assert_eq!(p.account, name);
        let part = |n: &str| {
            p.parts
                .iter()
                .find(|x| x.name == n)
                .unwrap_or_else(|| panic!("{backend}: no part {n}"))
        };

        // Every part's digest is its content's, and the manifest lists each part as it is.
        let manifest: serde_json::Value = serde_json::from_str(&p.manifest_json).unwrap();
        assert_eq!(manifest["external_ref"], "DEMO-001");
        let listed = manifest["parts"].as_array().unwrap();
        assert_eq!(listed.len(), p.parts.len());
        for (x, m) in p.parts.iter().zip(listed) {
            assert_eq!(x.sha256, hex(&x.content), "{backend}: {}", x.name);
            assert_eq!(m["name"], x.name.as_str());
            assert_eq!(m["sha256"], x.sha256.as_str());
            assert_eq!(m["bytes"], x.content.len());
        }
        assert_eq!(p.parts[0].name, "evidence.html", "the document first");

        // The JSON parts are the RPCs' answers.
        let mut accounts = server.accounts();
        let mut payments = accounts
            .list_payments(pb::ListPaymentsRequest {
                parent: name.clone(),
                page_size: 100,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .payments;
        payments.sort_by_key(|x| {
            (
                x.payment_date.as_ref().map(|d| (d.year, d.month, d.day)),
                at(&x.create_time),
            )
        });
        assert_eq!(payments.len(), 2, "{backend}: the demo's two payments");
        assert_eq!(
            messages::<pb::Payment>("recoup.v1.Payment", &part("payments.json").content),
            payments
        );
        let invoices: Vec<pb::Invoice> =
            messages("recoup.v1.Invoice", &part("invoices.json").content);
        let numbers: Vec<_> = invoices.iter().map(|i| i.number.as_str()).collect();
        assert_eq!(
            numbers,
            ["HJ-1001", "HJ-1002", "HJ-1003"],
            "{backend}: paid invoices too"
        );
        for i in &invoices {
            let one = accounts
                .get_invoice(pb::GetInvoiceRequest {
                    name: i.name.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(&one, i, "{backend}: as GetInvoice shows it");
        }
        assert_eq!(crate::text(&invoices[0].outstanding), "GBP 0.00");
        let calls = CallServiceClient::new(server.as_role(Role::Supervisor))
            .list_calls(pb::ListCallsRequest {
                parent: name.clone(),
                page_size: 100,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .calls;
        let mut calls = calls;
        calls.sort_by_key(|c| at(&c.start_time));
        assert_eq!(
            messages::<pb::CallRecord>("recoup.v1.CallRecord", &part("calls.json").content),
            calls
        );
        let disputes = accounts
            .list_disputes(pb::ListDisputesRequest {
                parent: name.clone(),
                page_size: 100,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .disputes;
        assert_eq!(disputes.len(), 1);
        assert_eq!(
            messages::<pb::Dispute>("recoup.v1.Dispute", &part("disputes.json").content),
            disputes
        );
        let full = crate::get_full(&server, &name).await;
        let in_pack: pb::Account =
            from_json("recoup.v1.Account", &part("account.json").content).unwrap();
        assert_eq!(
            in_pack.statutory_interest, full.statutory_interest,
            "{backend}: the interest claimed, with its rates"
        );
        assert!(full.statutory_interest.is_some(), "HJ-1003 is overdue");

        // Each letter as it was sent.
        let letters = GuidanceServiceClient::new(server.as_role(Role::Supervisor))
            .list_letters(pb::ListLettersRequest {
                parent: name.clone(),
                page_size: 100,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .letters;
        assert_eq!(letters.len(), 1);
        let id = letters[0].name.rsplit('/').next().unwrap();
        assert_eq!(
            String::from_utf8(part(&format!("letters/{id}.txt")).content.clone()).unwrap(),
            format!("{}\n\n{}", letters[0].subject, letters[0].body_text)
        );

        // The document: the records as text, markup from records never markup.
        let html = String::from_utf8(part("evidence.html").content.clone()).unwrap();
        for expected in [
            "HJ-1001",
            "HARBOURSIDE HJ-1001",
            "Harbourside Joinery Ltd",
            "GBP 840.00",
            "Fitted on the 3rd; signed off by the site manager",
            "promise to pay GBP 500.00",
            "&lt;script&gt;alert(&#39;notes&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;",
            "&lt;img src=x onerror=alert(1)&gt;",
        ] {
            assert!(
                html.contains(expected),
                "{backend}: the document lacks {expected:?}"
            );
        }
        assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("<b>"));
        let interest = full.statutory_interest.as_ref().unwrap();
        assert!(html.contains(&format!("{}%", interest.invoices[0].annual_rate_percent)));
        let subject = recoup_server::evidence::esc(&letters[0].subject);
        assert!(html.contains(&subject), "{backend}: the letter's subject");

        // Who may ask, and bad names.
        for role in [Role::Agent, Role::Integration, Role::Admin] {
            let e = pack(&server, role, &name).await.unwrap_err();
            assert_eq!(e.code(), Code::PermissionDenied, "{role}");
        }
        let e = pack(&server, Role::Supervisor, "accounts/999999")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        let e = pack(&server, Role::Supervisor, "DEMO-001")
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&e), ["account"]);

        // `recoupd evidence` writes the same parts, each file true to the manifest beside it.
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pack");
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_recoupd"))
            .args([
                "evidence",
                "DEMO-001",
                "--database-url",
                &server.db.url,
                "--out",
            ])
            .arg(&out)
            .env("RECOUP_LOG", "warn")
            .output()
            .expect("run recoupd evidence");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
        let names: Vec<_> = written["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let file = std::fs::read(out.join(m["name"].as_str().unwrap())).unwrap();
                assert_eq!(m["sha256"], hex(&file).as_str());
                m["name"].as_str().unwrap().to_owned()
            })
            .collect();
        let rpc_names: Vec<_> = p.parts.iter().map(|x| x.name.clone()).collect();
        assert_eq!(names, rpc_names);
        for stable in [
            "disputes.json",
            "payments.json",
            &format!("letters/{id}.txt"),
        ] {
            assert_eq!(
                std::fs::read(out.join(stable)).unwrap(),
                part(stable).content,
                "{backend}: {stable}"
            );
        }
        let again = std::process::Command::new(env!("CARGO_BIN_EXE_recoupd"))
            .args([
                "evidence",
                "DEMO-001",
                "--database-url",
                &server.db.url,
                "--out",
            ])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            !again.status.success(),
            "a pack is never written over another"
        );
        server.stop().await;
    }
}
