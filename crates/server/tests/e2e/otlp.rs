//! Traces as an operator's collector receives them: a loopback OTLP/gRPC collector started here
//! gets the span of each RPC, joined to the trace the caller named in `traceparent`.

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use recoup_proto::v1 as pb;
use recoup_store::testkit::TestDb;

use crate::binary::Daemon;

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            Value::StringValue(s) => s.clone(),
            other => format!("{other:?}"),
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_rpc_is_a_span_in_the_callers_trace() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let serving = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let db = TestDb::sqlite();
    let daemon = Daemon::start(&db, &["--demo", "--otlp-endpoint", &endpoint]);
    let mut client = daemon.client().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let mut request = tonic::Request::new(pb::GetAccountRequest {
        account: Some(pb::get_account_request::Account::ExternalRef(
            "DEMO-003".into(),
        )),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{caller_span}-01").parse().unwrap(),
    );
    client.get_account(request).await.unwrap();
    drop(client);
    // Stopping flushes the spans still batched.
    daemon.terminate();

    let spans = collector.0.lock().unwrap().clone();
    let rpc = spans
        .iter()
        .find(|s| s.name == "rpc" && hex(&s.trace_id) == trace_id)
        .unwrap_or_else(|| {
            panic!(
                "no rpc span in the caller's trace among {} spans",
                spans.len()
            )
        });
    assert_eq!(hex(&rpc.parent_span_id), caller_span);
    assert_eq!(attribute(rpc, "method").as_deref(), Some("GetAccount"));
    assert_eq!(attribute(rpc, "code").as_deref(), Some("OK"));
    assert_eq!(
        attribute(rpc, "subject").as_deref(),
        Some("demo-integration")
    );
    serving.abort();
    db.cleanup().await;
}
