//! Webhooks as a CRM that cannot hold a stream open meets them: registered from the command line,
//! every event posted in feed order and signed, through a receiver that refuses connections, times
//! out and answers 500 before it recovers; an endpoint that never recovers gets each event
//! dead-lettered after its last try, listed by `recoupd webhooks deliveries`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use recoup_proto::v1 as pb;
use recoup_server::server::ServeOptions;
use recoup_server::webhooks::{WebhookOptions, signature};
use recoup_store::testkit::TestDb;

use crate::binary::run;
use crate::{TestServer, account, date, import, invoice, london_today, money};

/// What the receiver does with its next posts, in order; then it answers 200.
#[derive(Clone, Copy)]
enum Hiccup {
    /// Answers after the sender's timeout.
    Slow,
    /// Answers 500.
    Fails,
}

/// A post as received: its event id header, signature header and body.
pub type Post = (String, String, Vec<u8>);

#[derive(Clone, Default)]
pub struct Receiver {
    hiccups: Arc<Mutex<VecDeque<Hiccup>>>,
    /// Every post answered 200.
    pub got: Arc<Mutex<Vec<Post>>>,
}

impl Receiver {
    /// A receiver on a loopback port of its own, answering 200 to every post; its URL.
    pub async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: bytes::Bytes) -> StatusCode {
    let next = r.hiccups.lock().unwrap().pop_front();
    match next {
        Some(Hiccup::Slow) => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            StatusCode::OK
        }
        Some(Hiccup::Fails) => StatusCode::INTERNAL_SERVER_ERROR,
        None => {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            r.got.lock().unwrap().push((
                header("recoup-event-id"),
                header("recoup-signature"),
                body.to_vec(),
            ));
            StatusCode::OK
        }
    }
}

async fn broken() -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

/// Waits (up to 30 s) for `done`.
pub async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..300 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("waited 30 s for {what}");
}

pub fn secret_from(printed: &str) -> String {
    printed
        .split_whitespace()
        .find(|w| w.starts_with("whsec_"))
        .unwrap_or_else(|| panic!("no secret in {printed}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_signed_in_order_through_failures_and_dead_ends_are_listed() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let url = db.url.clone();
        let options = ServeOptions {
            webhooks: WebhookOptions {
                max_attempts: 6,
                timeout: Duration::from_secs(1),
                first_retry: Duration::from_millis(50),
                poll: Duration::from_millis(100),
            },
            ..ServeOptions::default()
        };
        let server = TestServer::start_with(db, &options).await;
        // A port with nothing listening yet: the first posts are refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (ok, added) = run(&[
            "--database-url",
            &url,
            "webhooks",
            "add",
            "--url",
            &format!("http://127.0.0.1:{port}/hook"),
        ]);
        assert!(ok, "{backend}: {added}");
        let secret = secret_from(&added);
        let stuck = axum::Router::new().route("/broken", axum::routing::post(broken));
        let stuck_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stuck_addr = stuck_listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(stuck_listener, stuck).await });
        let (ok, added) = run(&[
            "--database-url",
            &url,
            "webhooks",
            "add",
            "--url",
            &format!("http://{stuck_addr}/broken"),
            "--event",
            "payment_recorded",
        ]);
        assert!(ok, "{backend}: {added}");
        let stuck_id: i64 = added.split_whitespace().nth(1).unwrap().parse().unwrap();
        let (ok, refused) = run(&[
            "--database-url",
            &url,
            "webhooks",
            "add",
            "--url",
            "http://crm.example/hook",
        ]);
        assert!(!ok && refused.contains("must be https"), "{refused}");

        let mut crm = server.accounts();
        import(
            &mut crm,
            "hooks",
            vec![account(
                "HOOK-1",
                vec![invoice("H-1", london_today(), money("GBP", 300, 0))],
            )],
        )
        .await
        .unwrap();
        let parent = crate::get(&mut crm, "HOOK-1").await.name;
        for n in 1..=3 {
            crm.record_payment(pb::RecordPaymentRequest {
                request_id: format!("hook-pay-{n}"),
                parent: parent.clone(),
                payment: Some(pb::Payment {
                    amount: Some(money("GBP", n, 0)),
                    payment_date: Some(date(london_today())),
                    reference: format!("H{n}"),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
        }
        let feed = server.store.events_after(0, &[], None, 100).await.unwrap();
        assert_eq!(
            feed.len(),
            4,
            "{backend}: account_created and three payments"
        );

        // Refused while nothing listens; then the receiver comes up, times out once, fails once.
        until("a refused post", async || {
            let hooks = server.store.webhooks().await.unwrap();
            hooks[0].attempts >= 1
        })
        .await;
        let receiver = Receiver::default();
        receiver
            .hiccups
            .lock()
            .unwrap()
            .extend([Hiccup::Slow, Hiccup::Fails]);
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        until("every event at the receiver", async || {
            receiver.got.lock().unwrap().len() >= feed.len()
        })
        .await;

        assert!(
            receiver.hiccups.lock().unwrap().is_empty(),
            "{backend}: the timeout and the 500 were met"
        );
        let got = receiver.got.lock().unwrap().clone();
        assert_eq!(got.len(), feed.len(), "{backend}: nothing twice");
        for ((id, signed, body), event) in got.iter().zip(&feed) {
            let json: serde_json::Value = serde_json::from_slice(body).unwrap();
            assert_eq!(json["cursor"], serde_json::json!(id), "{backend}");
            assert_eq!(
                json["resource"],
                serde_json::json!(event.resource),
                "{backend}: in order"
            );
            assert_eq!(json["externalRef"], "HOOK-1");
            let (t, v1) = signed
                .strip_prefix("t=")
                .and_then(|s| s.split_once(",v1="))
                .unwrap_or_else(|| panic!("signature header {signed}"));
            assert_eq!(
                v1,
                signature(&secret, t.parse().unwrap(), body),
                "{backend}"
            );
        }
        let json: serde_json::Value = serde_json::from_slice(&got[1].2).unwrap();
        assert_eq!(json["type"], "EVENT_TYPE_PAYMENT_RECORDED");
        assert_eq!(
            json["payment"]["amount"]["units"], "1",
            "{backend}: proto3 JSON"
        );

        // The endpoint that never recovers: each payment dead-lettered after six tries, in order.
        until("three dead letters", async || {
            server.store.dead_letters(stuck_id, 10).await.unwrap().len() == 3
        })
        .await;
        let (ok, listed) = run(&[
            "--database-url",
            &url,
            "webhooks",
            "deliveries",
            &stuck_id.to_string(),
        ]);
        assert!(ok, "{backend}: {listed}");
        for event in &feed[1..] {
            assert!(
                listed.contains(&format!("{:<10}  6 ", event.id)),
                "{backend}: event {} not listed dead in\n{listed}",
                event.id
            );
        }
        assert!(listed.contains("answered 500"), "{listed}");
        let (ok, removed) = run(&[
            "--database-url",
            &url,
            "webhooks",
            "remove",
            &stuck_id.to_string(),
        ]);
        assert!(ok && removed.contains("removed"), "{removed}");
        server.stop().await;
    }
}
