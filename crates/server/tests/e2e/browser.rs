//! Browsers on the same port: gRPC-Web spoken by a plain HTTP/1.1 client (no gRPC library), the
//! change feed streamed over it, CORS for allowed and refused origins, and the desktop's page.

use std::time::Duration;

use base64::Engine;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::Message;
use recoup_proto::v1 as pb;
use recoup_server::auth::Role;
use recoup_server::browser::{BrowserOptions, parse_origin};
use recoup_server::server::ServeOptions;
use recoup_store::testkit::TestDb;

use crate::{TestServer, account, import, invoice, london_today, money};

type Http = Client<HttpConnector, Full<Bytes>>;

fn http1() -> Http {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A gRPC-Web request body: one uncompressed message frame.
fn frame(message: &impl Message) -> Bytes {
    let bytes = message.encode_to_vec();
    let mut out = BytesMut::with_capacity(5 + bytes.len());
    out.put_u8(0);
    out.put_u32(bytes.len() as u32);
    out.put_slice(&bytes);
    out.freeze()
}

fn grpc_web(server: &TestServer, method: &str, key: &str, body: Bytes) -> Request<Full<Bytes>> {
    Request::builder()
        .method(Method::POST)
        .uri(format!(
            "http://{}/recoup.v1.{method}",
            server.running_addr()
        ))
        .header(header::CONTENT_TYPE, "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Full::new(body))
        .unwrap()
}

/// Splits a gRPC-Web response body into its messages and its trailers (the frame flagged 0x80).
fn unframe(mut body: Bytes) -> (Vec<Bytes>, String) {
    let (mut messages, mut trailers) = (Vec::new(), String::new());
    while body.remaining() >= 5 {
        let flag = body.get_u8();
        let len = body.get_u32() as usize;
        let payload = body.split_to(len);
        if flag & 0x80 != 0 {
            trailers.push_str(std::str::from_utf8(&payload).unwrap());
        } else {
            messages.push(payload);
        }
    }
    (messages, trailers)
}

#[tokio::test]
async fn a_plain_http1_client_speaks_grpc_web_with_the_same_keys_and_roles() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let today = london_today();
    let mut accounts = server.accounts();
    import(
        &mut accounts,
        "web-import",
        vec![account(
            "WEB-1",
            vec![invoice("W-1", today, money("GBP", 120, 0))],
        )],
    )
    .await
    .unwrap();
    let http = http1();

    let ask = pb::GetAccountRequest {
        account: Some(pb::get_account_request::Account::ExternalRef(
            "WEB-1".into(),
        )),
        view: pb::AccountView::Full as i32,
    };
    let agent = server.keys[&Role::Agent].clone();
    let response = http
        .request(grpc_web(
            &server,
            "AccountService/GetAccount",
            &agent,
            frame(&ask),
        ))
        .await
        .expect("an HTTP/1.1 answer");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), http::Version::HTTP_11);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/grpc-web"),
        "{:?}",
        response.headers()
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let (messages, trailers) = unframe(body);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    let got = pb::Account::decode(messages[0].clone()).unwrap();
    assert_eq!(got.external_ref, "WEB-1");
    assert_eq!(got.balance.unwrap().outstanding, Some(money("GBP", 120, 0)));

    // The text form (base64, as grpc-web's `grpcwebtext` mode sends it) is understood too.
    let mut text = grpc_web(
        &server,
        "AccountService/GetAccount",
        &agent,
        Bytes::from(base64::engine::general_purpose::STANDARD.encode(frame(&ask))),
    );
    text.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/grpc-web-text+proto".parse().unwrap(),
    );
    text.headers_mut()
        .insert(header::ACCEPT, "application/grpc-web-text".parse().unwrap());
    let answered = http.request(text).await.unwrap();
    let body = answered.into_body().collect().await.unwrap().to_bytes();
    // Each frame is encoded on its own, so padding may end a segment mid-body.
    let mut decoded = Vec::new();
    for segment in body
        .chunks(4)
        .collect::<Vec<_>>()
        .split_inclusive(|q| q.contains(&b'='))
    {
        let segment: Vec<u8> = segment.concat();
        decoded.extend(
            base64::engine::general_purpose::STANDARD
                .decode(&segment)
                .expect("base64 segments"),
        );
    }
    let (messages, trailers) = unframe(Bytes::from(decoded));
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    assert_eq!(
        pb::Account::decode(messages[0].clone())
            .unwrap()
            .external_ref,
        "WEB-1"
    );

    // The same matrix: a wrong key is UNAUTHENTICATED, an agent may not record payments.
    let refused = http
        .request(grpc_web(
            &server,
            "AccountService/GetAccount",
            "rk_wrong.key",
            frame(&ask),
        ))
        .await
        .unwrap();
    assert_eq!(
        refused.headers()["grpc-status"],
        "16",
        "{:?}",
        refused.headers()
    );
    let pay = pb::RecordPaymentRequest {
        request_id: "web-pay".into(),
        parent: got.name.clone(),
        payment: Some(pb::Payment {
            amount: Some(money("GBP", 10, 0)),
            payment_date: Some(crate::date(today)),
            reference: "W".into(),
            ..Default::default()
        }),
    };
    let denied = http
        .request(grpc_web(
            &server,
            "AccountService/RecordPayment",
            &agent,
            frame(&pay),
        ))
        .await
        .unwrap();
    assert_eq!(
        denied.headers()["grpc-status"],
        "7",
        "{:?}",
        denied.headers()
    );

    // The change feed streams over gRPC-Web: a payment recorded natively arrives on the open body.
    let watch = pb::WatchEventsRequest {
        after_cursor: String::new(),
        types: vec![pb::EventType::PaymentRecorded as i32],
        ..Default::default()
    };
    let integration = server.keys[&Role::Integration].clone();
    let mut stream = http
        .request(grpc_web(
            &server,
            "EventService/WatchEvents",
            &integration,
            frame(&watch),
        ))
        .await
        .unwrap()
        .into_body();
    accounts
        .record_payment(pay.clone())
        .await
        .expect("native payment");
    let mut seen = BytesMut::new();
    let event = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let chunk = stream.frame().await.expect("stream open").expect("frame");
            if let Ok(data) = chunk.into_data() {
                seen.extend_from_slice(&data);
            }
            let (messages, _) = unframe(seen.clone().freeze());
            if let Some(event) = messages
                .iter()
                .map(|m| pb::Event::decode(m.clone()).unwrap())
                .find(|e| e.r#type == pb::EventType::PaymentRecorded as i32)
            {
                return event;
            }
        }
    })
    .await
    .expect("the payment's event within 20 s");
    assert_eq!(event.account, got.name);
    drop(stream);
    server.stop().await;
}

#[tokio::test]
async fn cors_answers_allowed_origins_and_refuses_others() {
    let options = ServeOptions {
        browser: BrowserOptions {
            desktop: true,
            cors_origins: vec![parse_origin("https://desk.example.com").unwrap()],
        },
        ..ServeOptions::default()
    };
    let server = TestServer::start_with(TestDb::sqlite(), &options).await;
    let http = http1();
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri(format!(
                "http://{}/recoup.v1.AccountService/GetAccount",
                server.running_addr()
            ))
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization,content-type,x-grpc-web",
            )
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let allowed = http
        .request(preflight("https://desk.example.com"))
        .await
        .unwrap();
    let headers = allowed.headers();
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://desk.example.com"
    );
    let allow_headers = headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap();
    for needed in ["authorization", "content-type", "x-grpc-web"] {
        assert!(allow_headers.contains(needed), "{allow_headers}");
    }

    let refused = http
        .request(preflight("https://evil.example.net"))
        .await
        .unwrap();
    assert!(
        refused
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none(),
        "a refused origin gets no allow header: {:?}",
        refused.headers()
    );
    // The actual request from a refused origin carries no allow header either, so the browser
    // withholds the answer from the page.
    let mut call = grpc_web(
        &server,
        "AccountService/GetAccount",
        &server.keys[&Role::Agent],
        frame(&pb::GetAccountRequest::default()),
    );
    call.headers_mut()
        .insert(header::ORIGIN, "https://evil.example.net".parse().unwrap());
    let answered = http.request(call).await.unwrap();
    assert!(
        answered
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    server.stop().await;
}

#[tokio::test]
async fn the_desktop_is_served_at_the_root_with_a_strict_policy_unless_turned_off() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let http = http1();
    let page = http.request(get(&server, "/")).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        page.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let etag = page.headers()[header::ETAG].clone();
    let html = page.into_body().collect().await.unwrap().to_bytes();
    assert!(std::str::from_utf8(&html).unwrap().contains("app.js"));
    let script = http.request(get(&server, "/app.js")).await.unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let mut again = get(&server, "/");
    again.headers_mut().insert(header::IF_NONE_MATCH, etag);
    assert_eq!(
        http.request(again).await.unwrap().status(),
        StatusCode::NOT_MODIFIED
    );
    server.stop().await;

    let off = ServeOptions {
        browser: BrowserOptions::default(),
        ..ServeOptions::default()
    };
    let server = TestServer::start_with(TestDb::sqlite(), &off).await;
    let page = http1().request(get(&server, "/")).await.unwrap();
    assert_ne!(
        page.headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap()),
        Some("text/html; charset=utf-8"),
        "--no-desktop serves no page"
    );
    server.stop().await;
}

fn get(server: &TestServer, path: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .uri(format!("http://{}{path}", server.running_addr()))
        .body(Full::new(Bytes::new()))
        .unwrap()
}
