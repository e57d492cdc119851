//! The store conformance suite: every test runs against SQLite and against PostgreSQL, and both
//! must give the same answers.

mod accounts;
mod calls;
mod categories;
mod disputes;
mod letters;
mod migrations;
mod payments;
mod plans;
mod scale;
mod views;
mod worklist;

use chrono::{DateTime, NaiveDate, Utc};
use recoup_domain::Currency;
use recoup_domain::Money;
use recoup_domain::account::{AccountData, AccountStatus, Contact, DebtorType, InvoiceData};
use recoup_store::Store;
use recoup_store::testkit::TestDb;

/// Runs `body` once per backend, each on its own fresh database.
async fn each_backend<F, Fut>(body: F)
where
    F: Fn(Store, &'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in TestDb::all().await {
        let store = db.store().await.expect("open store");
        body(store.clone(), db.backend).await;
        store.close().await;
        db.cleanup().await;
    }
}

/// The credential and request every conformance import is made under.
const TEST_KEY: recoup_store::RequestKey<'static> = recoup_store::RequestKey {
    subject: "test",
    request_id: "",
};

fn now() -> DateTime<Utc> {
    "2026-11-22T12:00:00.123456789Z".parse().unwrap()
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn money(minor: i64, code: &str) -> Money {
    Money::from_minor(minor, Currency::from_code(code).unwrap())
}

fn invoice(number: &str, due: &str, minor: i64, code: &str) -> InvoiceData {
    InvoiceData {
        number: number.into(),
        issue_date: date("2026-01-01"),
        due_date: date(due),
        amount: money(minor, code),
        adjustments: vec![],
        disputed: false,
        dispute_reason: String::new(),
    }
}

fn account(external_ref: &str, code: &str, invoices: Vec<InvoiceData>) -> AccountData {
    AccountData {
        external_ref: external_ref.into(),
        legal_name: format!("{external_ref} Trading Ltd"),
        debtor_type: DebtorType::Company,
        country_code: "GB".into(),
        time_zone: chrono_tz::Europe::London,
        currency: Currency::from_code(code).unwrap(),
        status: AccountStatus::Active,
        cease_calls: false,
        interest_waived: false,
        queue: recoup_domain::account::DEFAULT_QUEUE.into(),
        contacts: vec![Contact {
            display_name: "Sam Payables".into(),
            role: "Accounts payable".into(),
            phone: "+44 20 7946 0001".into(),
            email: "ap@example.test".into(),
            preferred: true,
        }],
        invoices,
    }
}

/// A request key of the test subject.
fn key(request_id: &str) -> recoup_store::RequestKey<'_> {
    recoup_store::RequestKey {
        subject: "test",
        request_id,
    }
}

/// Imports one GBP account with two overdue invoices (INV-1 £1,000.00, INV-2 £500.00) and returns
/// its id.
async fn one_account(store: &Store, external_ref: &str) -> i64 {
    let rec = account(
        external_ref,
        "GBP",
        vec![
            invoice("INV-1", "2026-09-01", 100_000, "GBP"),
            invoice("INV-2", "2026-10-01", 50_000, "GBP"),
        ],
    );
    store.import_batch(&[rec], TEST_KEY, now()).await.unwrap();
    store
        .get_account(recoup_store::AccountKey::ExternalRef(external_ref))
        .await
        .unwrap()
        .unwrap()
        .id
}

/// What every write must leave behind: at least one event on the change feed for `account_id` after
/// position `before`, and every stored view equal to the document the rows give (a write that
/// skipped its view, or a missing invalidation trigger, fails here). Returns the feed's position.
async fn announced(store: &Store, backend: &str, what: &str, before: i64, account_id: i64) -> i64 {
    let events = store.events_after(before, &[], None, 1_000).await.unwrap();
    assert!(
        events.iter().any(|e| e.account_id == account_id),
        "{backend}: {what} put no event on the feed"
    );
    assert_eq!(
        store.stale_views().await.unwrap(),
        [],
        "{backend}: {what} left a view unlike its rows"
    );
    store.last_event_id().await.unwrap()
}

/// A write that was refused or answered as a retry wrote nothing: no event after `before`.
async fn silent(store: &Store, backend: &str, what: &str, before: i64) {
    assert_eq!(
        store.last_event_id().await.unwrap(),
        before,
        "{backend}: {what} put an event on the feed"
    );
}
