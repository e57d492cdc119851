//! Metrics as an operator scrapes them: per-RPC counts by status and latency histograms, in-flight,
//! pool and queue gauges, business counters — and no label carrying an account or a person.

use std::io::{Read, Write};

use chrono::Utc;
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_proto::v1::call_service_client::CallServiceClient;
use recoup_server::auth::{Role, keys};
use recoup_store::testkit::TestDb;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::binary::Daemon;
use crate::{Bearer, account, import, invoice, london_today, money};

/// GET http://addr/metrics, the body.
fn scrape(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_shows_rpc_pool_and_business_series_with_bounded_labels() {
    let db = TestDb::sqlite();
    let daemon = Daemon::start(&db, &["--metrics-addr", "127.0.0.1:0"]);
    let metrics_addr = daemon
        .stdout
        .iter()
        .find_map(|l| l.strip_prefix("metrics listening on "))
        .expect("the metrics address is printed")
        .to_owned();
    let store = db.store().await.unwrap();
    let key = keys::issue(&store, Role::Integration, "metrics-crm", None, Utc::now())
        .await
        .unwrap()
        .secret;
    let agent = keys::issue(&store, Role::Agent, "metrics-agent", None, Utc::now())
        .await
        .unwrap()
        .secret;
    let channel = |k: &str| {
        InterceptedService::new(
            Channel::from_shared(format!("http://{}", daemon.addr))
                .unwrap()
                .connect_lazy(),
            Bearer(k.to_owned()),
        )
    };
    let mut accounts = AccountServiceClient::new(channel(&key));
    import(
        &mut accounts,
        "metrics-import",
        vec![account(
            "SECRET-REF-77",
            vec![invoice("INV-M1", london_today(), money("GBP", 10, 0))],
        )],
    )
    .await
    .unwrap();
    let parent = crate::get(&mut accounts, "SECRET-REF-77").await.name;
    let missing = accounts
        .get_account(pb::GetAccountRequest {
            account: Some(pb::get_account_request::Account::Name(
                "accounts/987654".into(),
            )),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    CallServiceClient::new(channel(&agent))
        .record_call_outcome(pb::RecordCallOutcomeRequest {
            request_id: "metrics-call".into(),
            parent,
            call: Some(pb::CallRecord {
                direction: pb::CallDirection::Inbound as i32,
                start_time: Some(prost_types::Timestamp {
                    seconds: Utc::now().timestamp() - 60,
                    nanos: 0,
                }),
                contact_name: "Jo Private-Person".into(),
                outcome: Some(pb::call_record::Outcome::LeftMessage(pb::LeftMessage {
                    left_with: "voicemail".into(),
                })),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    // The gauges are read when scraped.
    let body = tokio::task::spawn_blocking(move || scrape(&metrics_addr))
        .await
        .unwrap();
    for series in [
        "recoup_rpc_requests_total{method=\"GetAccount\",code=\"NOT_FOUND\"} 1",
        "recoup_rpc_requests_total{method=\"ImportAccounts\",code=\"OK\"} 1",
        "recoup_rpc_requests_total{method=\"RecordCallOutcome\",code=\"OK\"} 1",
        "recoup_rpc_duration_seconds_bucket{method=\"GetAccount\",le=\"0.005\"}",
        "recoup_rpc_duration_seconds_count{method=\"RecordCallOutcome\"} 1",
        "recoup_rpc_in_flight",
        "recoup_db_connections{state=\"idle\"}",
        "recoup_db_connections{state=\"in_use\"}",
        "recoup_write_queue_depth",
        "recoup_calls_recorded_total{outcome=\"left_message\"} 1",
        "recoup_import_records_total{result=\"created\"} 1",
        "# HELP recoup_rpc_requests_total RPCs answered, by method and gRPC status code",
    ] {
        assert!(body.contains(series), "{series} missing from\n{body}");
    }
    for private in [
        "SECRET-REF-77",
        "accounts/",
        "Jo Private-Person",
        "INV-M1",
        "metrics-",
    ] {
        assert!(!body.contains(private), "{private} in the metrics:\n{body}");
    }
    daemon.terminate();
    store.close().await;
    db.cleanup().await;
}
