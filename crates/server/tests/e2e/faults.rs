//! The fault suite: recoupd killed with SIGKILL while clients write payments, calls, plans,
//! disputes and letters, its database cut off under load, and a SIGTERM drain; on SQLite and on
//! PostgreSQL with two replicas. Clients keep a journal and retry every write that got no answer
//! with its request_id, as the README tells them to. At the end: no acknowledged write lost, none
//! written twice, every balance equal to its records, every write in the feed exactly once, no
//! answer INTERNAL, and (PostgreSQL) no deadlock in the database's statistics.
//!
//! `RECOUP_FAULT_ROUNDS` (default 3) sets the number of kill rounds; a soak sets it high.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_proto::v1::call_service_client::CallServiceClient;
use recoup_proto::v1::event_service_client::EventServiceClient;
use recoup_proto::v1::guidance_service_client::GuidanceServiceClient;
use recoup_proto::v1::plan_service_client::PlanServiceClient;
use recoup_server::auth::{Role, keys};
use recoup_store::testkit::TestDb;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_types::StatusExt;

use crate::binary::Daemon;
use crate::{Authed, Bearer, account, date, invoice, money};

const ACCOUNTS: usize = 12;
const WRITERS: usize = 8;

fn channel(addr: &str, key: &str) -> Authed {
    InterceptedService::new(
        Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_timeout(Duration::from_secs(2))
            .connect_lazy(),
        Bearer(key.to_owned()),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Payment,
    Call,
    Plan,
    Dispute,
    Letter,
}

/// One write as the client sent it: retried with the same request and id until it is answered.
#[derive(Debug, Clone)]
struct Write {
    kind: Kind,
    request_id: String,
    account: usize,
    /// Payment amount in pounds, call start, invoice disputed, by kind.
    detail: i64,
}

/// What the server answered.
#[derive(Debug)]
enum Answer {
    /// Written: the resource's name.
    Written(String),
    /// Refused for a reason of the data (a dispute on a disputed invoice, a plan the rules
    /// refuse): a final answer, nothing written.
    Refused,
    /// No answer (the process died, the database was away): send again.
    Again,
}

#[derive(Default)]
struct Journal {
    /// Resource name -> the write acknowledged with it.
    written: BTreeMap<String, Write>,
    refused: usize,
    internal: Vec<String>,
    pending: Vec<Write>,
    retries: usize,
}

struct Keys {
    crm: String,
    agent: String,
}

struct Book {
    names: Vec<String>,
    keys: Keys,
    invoices_minor: i64,
}

async fn send(
    addr: &str,
    keys: &Keys,
    book_names: &[String],
    w: &Write,
) -> Result<String, tonic::Status> {
    let parent = book_names[w.account].clone();
    match w.kind {
        Kind::Payment => AccountServiceClient::new(channel(addr, &keys.crm))
            .record_payment(pb::RecordPaymentRequest {
                request_id: w.request_id.clone(),
                parent,
                payment: Some(pb::Payment {
                    amount: Some(money("GBP", w.detail, 0)),
                    payment_date: Some(date(Utc::now().date_naive())),
                    reference: format!("BACS {}", w.request_id),
                    ..Default::default()
                }),
            })
            .await
            .map(|r| r.into_inner().name),
        Kind::Call => CallServiceClient::new(channel(addr, &keys.agent))
            .record_call_outcome(pb::RecordCallOutcomeRequest {
                request_id: w.request_id.clone(),
                parent,
                call: Some(pb::CallRecord {
                    direction: pb::CallDirection::Outbound as i32,
                    start_time: Some(prost_types::Timestamp {
                        seconds: w.detail,
                        nanos: 0,
                    }),
                    contact_name: "Accounts payable".into(),
                    outcome: Some(pb::call_record::Outcome::NoAnswer(pb::NoAnswer {})),
                    ..Default::default()
                }),
            })
            .await
            .map(|r| r.into_inner().name),
        Kind::Plan => PlanServiceClient::new(channel(addr, &keys.agent))
            .create_plan(pb::CreatePlanRequest {
                request_id: w.request_id.clone(),
                parent,
                proposal: Some(pb::PlanProposal {
                    kind: pb::PlanKind::Instalments as i32,
                    instalment_count: 6,
                    frequency: pb::Frequency::Monthly as i32,
                    first_payment_date: Some(date(Utc::now().date_naive() + Days::new(7))),
                    ..Default::default()
                }),
                supersede_reason: "Renegotiated on the call".into(),
                etag: String::new(),
            })
            .await
            .map(|r| r.into_inner().name),
        Kind::Dispute => AccountServiceClient::new(channel(addr, &keys.agent))
            .raise_dispute(pb::RaiseDisputeRequest {
                request_id: w.request_id.clone(),
                parent,
                dispute: Some(pb::Dispute {
                    invoice_numbers: vec![format!("F-{}-{}", w.account, w.detail)],
                    reason: "Goods arrived damaged".into(),
                    ..Default::default()
                }),
            })
            .await
            .map(|r| r.into_inner().name),
        Kind::Letter => GuidanceServiceClient::new(channel(addr, &keys.agent))
            .render_letter(pb::RenderLetterRequest {
                request_id: w.request_id.clone(),
                parent,
                kind: pb::LetterKind::PreCallStatement as i32,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().name),
    }
}

/// The server's own statuses carry ErrorInfo; a status without one came from the transport (the
/// connection died with the process).
fn judge(result: Result<String, tonic::Status>, journal: &Mutex<Journal>) -> Answer {
    let status = match result {
        Ok(name) => return Answer::Written(name),
        Err(s) => s,
    };
    let info = status.get_error_details().error_info().cloned();
    match (status.code(), info) {
        (_, None) => Answer::Again,
        (Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted, Some(_)) => {
            Answer::Again
        }
        (Code::Internal | Code::Unknown, Some(_)) => {
            journal.lock().unwrap().internal.push(format!(
                "{:?}: {}",
                status.code(),
                status.message()
            ));
            Answer::Again
        }
        (Code::FailedPrecondition | Code::Aborted | Code::InvalidArgument, Some(_)) => {
            Answer::Refused
        }
        (code, Some(i)) => panic!("unexpected {code:?} {}: {}", i.reason, status.message()),
    }
}

fn note(journal: &Mutex<Journal>, w: Write, answer: Answer) {
    let mut j = journal.lock().unwrap();
    match answer {
        Answer::Written(name) => {
            if let Some(first) = j.written.get(&name) {
                // A retry answered with its first record is the same write; another request
                // answered with it would be one record acknowledged twice.
                assert_eq!(
                    first.request_id, w.request_id,
                    "{name} acknowledged to two requests"
                );
            }
            j.written.insert(name, w);
        }
        Answer::Refused => j.refused += 1,
        Answer::Again => j.pending.push(w),
    }
}

/// The next write a client makes: a mix weighted toward payments and calls.
fn next_write(n: usize, writer: usize) -> Write {
    let seed = n.wrapping_mul(2_654_435_761).wrapping_add(writer * 97);
    let kind = match seed % 10 {
        0..=3 => Kind::Payment,
        4..=6 => Kind::Call,
        7 => Kind::Plan,
        8 => Kind::Dispute,
        _ => Kind::Letter,
    };
    let account = (seed / 10) % ACCOUNTS;
    let detail = match kind {
        Kind::Payment => 1 + (seed % 7) as i64,
        Kind::Call => Utc::now().timestamp() - 60,
        Kind::Dispute => (seed % 3) as i64,
        _ => 0,
    };
    Write {
        kind,
        request_id: format!("w{writer}-{n}"),
        account,
        detail,
    }
}

async fn import_book(addr: &str, db: &TestDb) -> Book {
    let store = db.store().await.unwrap();
    let issue = |role, subject: &'static str| {
        let store = store.clone();
        async move {
            keys::issue(&store, role, subject, None, Utc::now())
                .await
                .unwrap()
                .secret
        }
    };
    let keys = Keys {
        crm: issue(Role::Integration, "fault-crm").await,
        agent: issue(Role::Agent, "fault-agent").await,
    };
    let today = Utc::now().date_naive();
    let records = (0..ACCOUNTS)
        .map(|a| {
            account(
                &format!("FAULT-{a}"),
                (0..3)
                    .map(|i| {
                        invoice(
                            &format!("F-{a}-{i}"),
                            today - Days::new(40 + 20 * i),
                            money("GBP", 10_000, 0),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let mut client = AccountServiceClient::new(channel(addr, &keys.crm));
    crate::import(&mut client, "fault-book", records)
        .await
        .unwrap();
    let mut names = Vec::new();
    for a in 0..ACCOUNTS {
        names.push(crate::get(&mut client, &format!("FAULT-{a}")).await.name);
    }
    Book {
        names,
        keys,
        invoices_minor: 3 * 1_000_000,
    }
}

/// Writers send new writes to `addrs` (round robin) until `until`; whatever got no answer waits in
/// the journal for the next round.
async fn write_until(
    addrs: &[String],
    book: &Arc<Book>,
    journal: &Arc<Mutex<Journal>>,
    counter: &Arc<std::sync::atomic::AtomicUsize>,
    until: Instant,
) {
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let addr = addrs[writer % addrs.len()].clone();
        let (book, journal, counter) = (book.clone(), journal.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let w = next_write(n, writer);
                let result = tokio::time::timeout(
                    Duration::from_secs(15),
                    send(&addr, &book.keys, &book.names, &w),
                )
                .await
                .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("client timeout")));
                let answer = judge(result, &journal);
                let again = matches!(answer, Answer::Again);
                note(&journal, w, answer);
                if again {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Sends every write that got no answer again, with its request_id, until each is answered.
async fn retry_pending(addr: &str, book: &Book, journal: &Mutex<Journal>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending = std::mem::take(&mut journal.lock().unwrap().pending);
        if pending.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "writes still unanswered: {pending:?}"
        );
        for w in pending {
            journal.lock().unwrap().retries += 1;
            let answer = judge(send(addr, &book.keys, &book.names, &w).await, journal);
            if matches!(answer, Answer::Again) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            note(journal, w, answer);
        }
    }
}

async fn listed(addr: &str, book: &Book, account: usize, kind: Kind) -> Vec<String> {
    let parent = book.names[account].clone();
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let (page, next) = match kind {
            Kind::Payment => {
                let r = AccountServiceClient::new(channel(addr, &book.keys.crm))
                    .list_payments(pb::ListPaymentsRequest {
                        parent: parent.clone(),
                        page_size: 100,
                        page_token: token.clone(),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                (
                    r.payments.into_iter().map(|p| p.name).collect::<Vec<_>>(),
                    r.next_page_token,
                )
            }
            Kind::Call => {
                let r = CallServiceClient::new(channel(addr, &book.keys.agent))
                    .list_calls(pb::ListCallsRequest {
                        parent: parent.clone(),
                        page_size: 100,
                        page_token: token.clone(),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                (
                    r.calls.into_iter().map(|c| c.name).collect(),
                    r.next_page_token,
                )
            }
            Kind::Letter => {
                let r = GuidanceServiceClient::new(channel(addr, &book.keys.agent))
                    .list_letters(pb::ListLettersRequest {
                        parent: parent.clone(),
                        page_size: 100,
                        page_token: token.clone(),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                (
                    r.letters.into_iter().map(|l| l.name).collect(),
                    r.next_page_token,
                )
            }
            Kind::Dispute => {
                let r = AccountServiceClient::new(channel(addr, &book.keys.agent))
                    .list_disputes(pb::ListDisputesRequest {
                        parent: parent.clone(),
                        page_size: 100,
                        page_token: token.clone(),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                (
                    r.disputes.into_iter().map(|d| d.name).collect(),
                    r.next_page_token,
                )
            }
            Kind::Plan => {
                let r = PlanServiceClient::new(channel(addr, &book.keys.agent))
                    .list_plans(pb::ListPlansRequest {
                        parent: parent.clone(),
                        page_size: 100,
                        page_token: token.clone(),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                (
                    r.plans.into_iter().map(|p| p.name).collect(),
                    r.next_page_token,
                )
            }
        };
        names.extend(page);
        if next.is_empty() {
            return names;
        }
        token = next;
    }
}

/// The feed from its start to its head (the first heartbeat): resource -> how many times.
async fn feed(addr: &str, book: &Book) -> BTreeMap<String, usize> {
    let mut stream = EventServiceClient::new(channel(addr, &book.keys.crm))
        .watch_events(pb::WatchEventsRequest {
            types: vec![
                pb::EventType::PaymentRecorded as i32,
                pb::EventType::CallRecorded as i32,
                pb::EventType::LetterRendered as i32,
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut seen = BTreeMap::new();
    loop {
        let e = tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .expect("the feed stalled")
            .unwrap()
            .expect("the feed ended");
        if e.r#type == pb::EventType::Heartbeat as i32 {
            return seen;
        }
        *seen.entry(e.resource).or_default() += 1;
    }
}

/// Everything acknowledged is there once, nothing else is, balances match, the feed has each once.
async fn check(addr: &str, book: &Book, journal: &Journal) {
    assert!(
        journal.internal.is_empty(),
        "INTERNAL answers: {:?}",
        journal.internal
    );
    let mut acknowledged: BTreeMap<(usize, Kind), BTreeSet<String>> = BTreeMap::new();
    for (name, w) in &journal.written {
        acknowledged
            .entry((w.account, w.kind))
            .or_default()
            .insert(name.clone());
    }
    let mut client = AccountServiceClient::new(channel(addr, &book.keys.crm));
    for account in 0..ACCOUNTS {
        for kind in [
            Kind::Payment,
            Kind::Call,
            Kind::Letter,
            Kind::Dispute,
            Kind::Plan,
        ] {
            let stored = listed(addr, book, account, kind).await;
            let unique: BTreeSet<String> = stored.iter().cloned().collect();
            assert_eq!(
                unique.len(),
                stored.len(),
                "{kind:?} listed twice on {account}"
            );
            let expected = acknowledged.remove(&(account, kind)).unwrap_or_default();
            assert_eq!(
                unique, expected,
                "{kind:?} on account {account}: stored vs acknowledged"
            );
        }
        let paid_minor: i64 = journal
            .written
            .values()
            .filter(|w| w.kind == Kind::Payment && w.account == account)
            .map(|w| w.detail * 100)
            .sum();
        let a = crate::get(&mut client, &format!("FAULT-{account}")).await;
        let outstanding = a.balance.unwrap().outstanding.unwrap();
        assert_eq!(
            outstanding.units * 100 + i64::from(outstanding.nanos) / 10_000_000,
            book.invoices_minor - paid_minor,
            "account {account}'s balance against its acknowledged payments"
        );
    }
    let seen = feed(addr, book).await;
    let fed: Vec<&String> = journal
        .written
        .iter()
        .filter(|(_, w)| matches!(w.kind, Kind::Payment | Kind::Call | Kind::Letter))
        .map(|(name, _)| name)
        .collect();
    for name in &fed {
        assert_eq!(seen.get(*name), Some(&1), "{name} in the feed");
    }
    assert_eq!(
        seen.len(),
        fed.len(),
        "the feed holds only acknowledged writes"
    );
}

fn rounds() -> usize {
    std::env::var("RECOUP_FAULT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// Runs the suite on `db` with `replicas` recoupd processes; returns the journal for the counts.
async fn run(db: &TestDb, replicas: usize) -> Journal {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        recoup_server::policy_file::render(&crate::every_day()),
    )
    .unwrap();
    let args = [
        "--config",
        policy.to_str().unwrap(),
        "--watch-heartbeat-secs",
        "1",
        "--shutdown-drain-secs",
        "0",
    ];
    let mut daemons: Vec<Daemon> = (0..replicas).map(|_| Daemon::start(db, &args)).collect();
    let book = Arc::new(import_book(&daemons[0].addr, db).await);
    let journal = Arc::new(Mutex::new(Journal::default()));
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let addrs = |d: &[Daemon]| d.iter().map(|d| d.addr.clone()).collect::<Vec<_>>();

    // Kill rounds: one process dies by SIGKILL mid-write, is started again, and what got no
    // answer is sent again.
    for round in 0..rounds() {
        let until = Instant::now() + Duration::from_millis(2_500);
        let writers = tokio::spawn({
            let (addrs, book, journal, counter) = (
                addrs(&daemons),
                book.clone(),
                journal.clone(),
                counter.clone(),
            );
            async move { write_until(&addrs, &book, &journal, &counter, until).await }
        });
        tokio::time::sleep(Duration::from_millis(700 + (round as u64 * 370) % 1_100)).await;
        let victim = round % replicas;
        // Dropping a Daemon kills it with SIGKILL.
        drop(daemons.remove(victim));
        writers.await.unwrap();
        daemons.insert(victim, Daemon::start(db, &args));
        retry_pending(&daemons[victim].addr, &book, &journal).await;
    }

    // PostgreSQL cut off under load (its connections ended, new ones refused), then back.
    if db.backend == "postgres" {
        let until = Instant::now() + Duration::from_millis(4_000);
        let writers = tokio::spawn({
            let (addrs, book, journal, counter) = (
                addrs(&daemons),
                book.clone(),
                journal.clone(),
                counter.clone(),
            );
            async move { write_until(&addrs, &book, &journal, &counter, until).await }
        });
        tokio::time::sleep(Duration::from_millis(800)).await;
        db.outage(true).await;
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        db.outage(false).await;
        writers.await.unwrap();
        retry_pending(&daemons[0].addr, &book, &journal).await;
    }

    // SIGTERM under load: what was answered is kept; what was not is sent again.
    let until = Instant::now() + Duration::from_millis(2_000);
    let writers = tokio::spawn({
        let (addrs, book, journal, counter) = (
            addrs(&daemons),
            book.clone(),
            journal.clone(),
            counter.clone(),
        );
        async move { write_until(&addrs, &book, &journal, &counter, until).await }
    });
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let draining = daemons.remove(0);
    tokio::task::spawn_blocking(move || draining.terminate())
        .await
        .unwrap();
    writers.await.unwrap();
    daemons.insert(0, Daemon::start(db, &args));
    retry_pending(&daemons[0].addr, &book, &journal).await;

    let journal = Arc::try_unwrap(journal).ok().unwrap().into_inner().unwrap();
    check(&daemons[0].addr, &book, &journal).await;
    report_rollup_holds(db).await;
    for kind in [Kind::Payment, Kind::Call, Kind::Plan, Kind::Letter] {
        assert!(
            journal.written.values().any(|w| w.kind == kind),
            "no {kind:?} was ever written: the mix did not exercise it"
        );
    }
    drop(daemons);
    journal
}

/// Every process folded the feed into the reporting rollup in the background while it was killed,
/// cut off and drained (two at once on PostgreSQL): the rollup, brought to the feed's head, equals
/// the facts recomputed from the records.
async fn report_rollup_holds(db: &TestDb) {
    let store = db.store().await.unwrap();
    let policy = crate::every_day().reporting;
    store.fold_report_all(&policy).await.unwrap();
    let stored = store.report_stored().await.unwrap();
    assert!(!stored.0.0.is_empty(), "the rollup counted nothing");
    assert_eq!(stored, store.report_recomputed(&policy).await.unwrap());
    store.close().await;
}

fn report(backend: &str, j: &Journal) {
    let count = |k: Kind| j.written.values().filter(|w| w.kind == k).count();
    eprintln!(
        "fault suite ({backend}): {} acknowledged writes ({} payments, {} calls, {} plans, {} \
         disputes, {} letters), {} refused, {} sent again; 0 lost, 0 duplicated",
        j.written.len(),
        count(Kind::Payment),
        count(Kind::Call),
        count(Kind::Plan),
        count(Kind::Dispute),
        count(Kind::Letter),
        j.refused,
        j.retries
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_loses_and_repeats_nothing_through_kills_and_a_drain() {
    let db = TestDb::sqlite();
    let journal = run(&db, 1).await;
    report("sqlite", &journal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_lose_and_repeat_nothing_through_kills_an_outage_and_a_drain() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let journal = run(&db, 2).await;
    report("postgres", &journal);
    assert_eq!(db.deadlocks().await, 0, "PostgreSQL counted deadlocks");
}
