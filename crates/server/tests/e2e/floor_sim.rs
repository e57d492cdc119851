//! A call-centre floor simulated: 200 agents claim, prepare and record for a bounded time on a
//! 10,000-account book, on SQLite, on PostgreSQL, and on two replicas of one PostgreSQL database.
//! No account is held by two agents at once or called twice in one debtor-day, every claim ends
//! with its call, every call is listed exactly once, and no claimed call broke a rule.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_proto::v1::call_service_client::CallServiceClient;
use recoup_proto::v1::floor_service_client::FloorServiceClient;
use recoup_server::auth::{Role, keys};
use recoup_server::server::ServeOptions;
use recoup_store::Store;
use recoup_store::testkit::TestDb;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::binary::Daemon;
use crate::{Authed, Bearer, TestServer, account, every_day, invoice, midday_zone, money};

const AGENTS: usize = 200;
const BOOK: usize = 10_000;
/// How long the agents work.
const SHIFT: Duration = Duration::from_secs(4);

fn authed(channel: &Channel, key: &str) -> Authed {
    InterceptedService::new(channel.clone(), Bearer(key.to_owned()))
}

/// One claimed call as an agent saw it.
struct Worked {
    account: String,
    claim: String,
    call: pb::CallRecord,
}

/// The book, in `zone` (where the server's clock is inside calling hours), imported through `crm`.
async fn import_book(crm: Authed, zone: &str, today: chrono::NaiveDate) {
    let records: Vec<pb::ImportAccountsRequest> = (0..BOOK)
        .map(|i| {
            let mut a = account(
                &format!("SIM-{i:05}"),
                vec![invoice(
                    &format!("S-{i}"),
                    today - chrono::Days::new(10 + (i % 80) as u64),
                    money("GBP", 100 + (i as i64 * 37) % 9_000, 0),
                )],
            );
            a.time_zone = zone.to_owned();
            pb::ImportAccountsRequest {
                request_id: if i == 0 {
                    "sim-book".into()
                } else {
                    String::new()
                },
                account: Some(a),
            }
        })
        .collect();
    let summary = AccountServiceClient::new(crm)
        .import_accounts(tokio_stream::iter(records))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.created, BOOK as i64, "{summary:?}");
}

/// Waits until the worklist lists most of the book (the background pass computes it).
async fn wait_for_worklist(agent: Authed) {
    let started = Instant::now();
    loop {
        let page = AccountServiceClient::new(agent.clone())
            .get_worklist(pb::GetWorklistRequest {
                page_size: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        if page.entries.len() == 1000 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the worklist was not computed in time"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn agent_keys(store: &Store) -> Vec<String> {
    let mut out = Vec::with_capacity(AGENTS);
    for i in 0..AGENTS {
        out.push(
            keys::issue(
                store,
                Role::Agent,
                &format!("sim-agent-{i}"),
                None,
                Utc::now(),
            )
            .await
            .unwrap()
            .secret,
        );
    }
    out
}

/// One agent's shift: claim the next account, record the call under the claim, again.
async fn shift(channel: Authed, until: Instant) -> Vec<Worked> {
    let mut floor = FloorServiceClient::new(channel.clone());
    let mut calls = CallServiceClient::new(channel);
    let mut worked = Vec::new();
    let mut n = 0;
    while Instant::now() < until {
        let prepared = floor
            .claim_next_account(pb::ClaimNextAccountRequest {
                guidance_format: vec![pb::GuidanceFormat::Text as i32],
                ..Default::default()
            })
            .await
            .expect("ClaimNextAccount")
            .into_inner()
            .prepared;
        let Some(prepared) = prepared else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let claim = prepared.claim.expect("the claim");
        let account = prepared.account.expect("the account").name;
        assert_eq!(claim.account, account);
        n += 1;
        let call = calls
            .record_call_outcome(pb::RecordCallOutcomeRequest {
                request_id: format!("{}-{n}", claim.name),
                parent: account.clone(),
                call: Some(pb::CallRecord {
                    direction: pb::CallDirection::Outbound as i32,
                    start_time: claim.claim_time,
                    outcome: Some(pb::call_record::Outcome::NoAnswer(pb::NoAnswer {})),
                    claim: claim.name.clone(),
                    ..Default::default()
                }),
            })
            .await
            .expect("RecordCallOutcome")
            .into_inner();
        worked.push(Worked {
            account,
            claim: claim.name,
            call,
        });
    }
    worked
}

/// Runs the shift over `channels` (agents spread over them) and checks what the floor did.
async fn run_floor(channels: &[Channel], keys: &[String], label: &str) {
    let until = Instant::now() + SHIFT;
    let tasks: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let channel = authed(&channels[i % channels.len()], key);
            tokio::spawn(shift(channel, until))
        })
        .collect();
    let mut worked = Vec::new();
    for t in tasks {
        worked.extend(t.await.unwrap());
    }
    assert!(
        worked.len() >= AGENTS,
        "{label}: only {} calls in the shift",
        worked.len()
    );
    // Each account claimed once: a second claim would be two agents on one account, or a second
    // outbound call in the debtor's day (a call takes it off the list until tomorrow).
    let mut by_account: HashMap<&str, usize> = HashMap::new();
    for w in &worked {
        *by_account.entry(&w.account).or_default() += 1;
    }
    let twice: Vec<_> = by_account.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{label}: accounts worked twice: {twice:?}"
    );
    let claims: HashSet<&str> = worked.iter().map(|w| w.claim.as_str()).collect();
    assert_eq!(claims.len(), worked.len(), "{label}: a claim used twice");
    for w in &worked {
        assert!(
            w.call.rule_breaches.is_empty(),
            "{label}: a claimed call broke a rule: {:?}",
            w.call.rule_breaches
        );
        assert_eq!(w.call.claim, w.claim);
    }
    // Every call listed exactly once, and no claim left holding its account.
    let reader = authed(&channels[0], &keys[0]);
    for w in worked.iter().step_by(7) {
        let listed = CallServiceClient::new(reader.clone())
            .list_calls(pb::ListCallsRequest {
                parent: w.account.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .calls;
        let names: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, [w.call.name.as_str()], "{label}");
        let prepared = FloorServiceClient::new(reader.clone())
            .prepare_call(pb::PrepareCallRequest {
                account: w.account.clone(),
                guidance_format: vec![pb::GuidanceFormat::Text as i32],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(
            prepared.claim.is_none(),
            "{label}: a claim outlived its call"
        );
    }
    println!(
        "{label}: {} calls by {AGENTS} agents in {SHIFT:?}",
        worked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_agents_work_one_book() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let options = ServeOptions {
            policy: Arc::new(every_day()),
            worklist_interval: Duration::from_millis(500),
            ..ServeOptions::default()
        };
        let server = TestServer::start_with(db, &options).await;
        let today = crate::london_today();
        import_book(server.as_role(Role::Integration), "Europe/London", today).await;
        wait_for_worklist(server.as_role(Role::Agent)).await;
        let keys = agent_keys(&server.store).await;
        run_floor(std::slice::from_ref(&server.channel), &keys, backend).await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_agents_on_two_replicas() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("NOTICE: PostgreSQL not reachable; skipping the two-replica floor");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, recoup_server::policy_file::render(&every_day())).unwrap();
    let config = ["--config", policy.to_str().unwrap()];
    let (a, b) = (Daemon::start(&db, &config), Daemon::start(&db, &config));
    let store = db.store().await.unwrap();
    let channel = |d: &Daemon| {
        Channel::from_shared(format!("http://{}", d.addr))
            .unwrap()
            .connect_lazy()
    };
    let channels = [channel(&a), channel(&b)];
    let crm = keys::issue(&store, Role::Integration, "sim-crm", None, Utc::now())
        .await
        .unwrap()
        .secret;
    let (zone, tz) = midday_zone();
    let today = Utc::now().with_timezone(&tz).date_naive();
    import_book(authed(&channels[0], &crm), &zone, today).await;
    let keys = agent_keys(&store).await;
    wait_for_worklist(authed(&channels[1], &keys[0])).await;
    run_floor(&channels, &keys, "two replicas").await;
    a.terminate();
    b.terminate();
    store.close().await;
    db.cleanup().await;
}
