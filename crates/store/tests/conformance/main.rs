//! The store conformance suite: every test runs against SQLite and against PostgreSQL, and both
//! must give the same answers.

mod accounts;
mod migrations;
mod payments;
mod scale;

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
