//! Two recoupd replicas on one PostgreSQL database, as they are deployed: a retried request sent to
//! both at once is recorded once; a call recorded through one is seen at once by the other's contact
//! rules; the change feed of one delivers changes made through the other, once each, in commit order.

use chrono::{Duration, Utc};
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_proto::v1::call_service_client::CallServiceClient;
use recoup_proto::v1::event_service_client::EventServiceClient;
use recoup_server::auth::{Role, keys};
use recoup_store::testkit::TestDb;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::binary::Daemon;
use crate::{Authed, Bearer, account, import, invoice, midday_zone, money};

fn channel(d: &Daemon, key: &str) -> Authed {
    InterceptedService::new(
        Channel::from_shared(format!("http://{}", d.addr))
            .unwrap()
            .connect_lazy(),
        Bearer(key.to_owned()),
    )
}

fn outbound(start: chrono::DateTime<Utc>) -> pb::CallRecord {
    pb::CallRecord {
        direction: pb::CallDirection::Outbound as i32,
        start_time: Some(prost_types::Timestamp {
            seconds: start.timestamp(),
            nanos: 0,
        }),
        contact_name: "Accounts payable".into(),
        outcome: Some(pb::call_record::Outcome::NoAnswer(pb::NoAnswer {})),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_database_behave_as_one_service() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("NOTICE: PostgreSQL not reachable; skipping the two-replica test");
        return;
    };
    // Calls every day 08:00–20:00, and an account where it is about midday.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        recoup_server::policy_file::render(&crate::every_day()),
    )
    .unwrap();
    let config = ["--config", policy.to_str().unwrap()];
    let a = Daemon::start(&db, &config);
    let b = Daemon::start(&db, &config);
    let store = db.store().await.unwrap();
    let key = |role: Role, subject: &'static str| {
        let store = store.clone();
        async move {
            keys::issue(&store, role, subject, None, Utc::now())
                .await
                .unwrap()
                .secret
        }
    };
    let agent = key(Role::Agent, "replica-agent").await;
    let crm = key(Role::Integration, "replica-crm").await;

    let (zone, tz) = midday_zone();
    let today = Utc::now().with_timezone(&tz).date_naive();
    let mut record = account(
        "TWO-1",
        vec![invoice(
            "T-1",
            today - chrono::Days::new(20),
            money("GBP", 900, 0),
        )],
    );
    record.time_zone = zone;
    let mut import_a = AccountServiceClient::new(channel(&a, &crm));
    import(&mut import_a, "two-import", vec![record])
        .await
        .unwrap();
    let parent = crate::get(&mut import_a, "TWO-1").await.name;

    // The feed on B, from the start: it must carry what A and B write, once each, in order.
    let mut feed = EventServiceClient::new(channel(&b, &crm))
        .watch_events(pb::WatchEventsRequest::default())
        .await
        .unwrap()
        .into_inner();

    // The same request to both at once: one record.
    let now = Utc::now() - Duration::minutes(1);
    let same = |d: &Daemon| {
        let mut client = CallServiceClient::new(channel(d, &agent));
        let parent = parent.clone();
        async move {
            client
                .record_call_outcome(pb::RecordCallOutcomeRequest {
                    request_id: "two-call-1".into(),
                    parent,
                    call: Some(outbound(now)),
                })
                .await
                .map(|r| r.into_inner())
        }
    };
    let (on_a, on_b) = tokio::join!(same(&a), same(&b));
    let (on_a, on_b) = (on_a.unwrap(), on_b.unwrap());
    assert_eq!(on_a.name, on_b.name, "one record for one request");
    let listed = CallServiceClient::new(channel(&b, &agent))
        .list_calls(pb::ListCallsRequest {
            parent: parent.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.calls.len(), 1);

    // A second outbound call today, through the other replica: recorded, and judged against the
    // first (the daily limit).
    let second = CallServiceClient::new(channel(&b, &agent))
        .record_call_outcome(pb::RecordCallOutcomeRequest {
            request_id: "two-call-2".into(),
            parent: parent.clone(),
            call: Some(outbound(Utc::now())),
        })
        .await
        .unwrap()
        .into_inner();
    let rules: Vec<_> = second.rule_breaches.iter().map(|b| b.rule()).collect();
    assert!(
        rules.contains(&pb::ContactBlockReason::CallLimitReached),
        "{rules:?}"
    );

    // A payment through A, then the feed on B: the import, the call, the payment, in order, once.
    AccountServiceClient::new(channel(&a, &crm))
        .record_payment(pb::RecordPaymentRequest {
            request_id: "two-pay-1".into(),
            parent: parent.clone(),
            payment: Some(pb::Payment {
                amount: Some(money("GBP", 100, 0)),
                payment_date: Some(crate::date(today)),
                reference: "BACS".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 6 {
        let e = tokio::time::timeout(std::time::Duration::from_secs(10), feed.message())
            .await
            .expect("the feed on B delivers within the poll interval")
            .unwrap()
            .unwrap();
        seen.push((e.r#type(), e.request_id, e.cursor));
    }
    let kinds: Vec<_> = seen.iter().map(|(t, id, _)| (*t, id.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (pb::EventType::AccountCreated, "two-import"),
            (pb::EventType::CallRecorded, "two-call-1"),
            (pb::EventType::ContactRuleBreached, "two-call-1"),
            (pb::EventType::CallRecorded, "two-call-2"),
            (pb::EventType::ContactRuleBreached, "two-call-2"),
            (pb::EventType::PaymentRecorded, "two-pay-1"),
        ]
    );
    // Nothing more (no duplicate of the call recorded twice) within a poll interval.
    let more = tokio::time::timeout(std::time::Duration::from_millis(1500), feed.message()).await;
    assert!(more.is_err(), "no further events: {more:?}");
    drop(feed);
    a.terminate();
    b.terminate();
    store.close().await;
    db.cleanup().await;
}
