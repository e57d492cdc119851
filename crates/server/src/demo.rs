//! The demo book: twenty-two fictional business accounts, one for each situation a credit
//! controller meets, with dates relative to today so it always looks current. Loaded once (a marker
//! records it) and idempotently (import is by content, payments by fixed request ids), so a crash
//! half way is repaired by the next `serve --demo`.

mod calls;
mod plans;

use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use recoup_domain::account::{
    AccountData, AccountStatus, Adjustment, AdjustmentKind, Contact, DebtorType, InvoiceData,
};
use recoup_domain::ageing::local_today;
use recoup_domain::call::{ImportedCall, NewCall};
use recoup_domain::payment::NewPayment;
use recoup_domain::policy::Policy;
use recoup_domain::{Currency, Money};
use recoup_store::{AccountKey, ImportOutcome, Recorder, RequestKey, Store};

use crate::auth::{Role, keys};
use crate::server::BoxError;

const MARKER: &str = "demo_book_v4";
/// Recorded as the actor of the demo book's changes.
const DEMO_ACTOR: &str = "demo";

/// An invoice `due_ago` days past due (negative: not yet due), issued 30 days before its due date.
struct Inv {
    number: &'static str,
    due_ago: i64,
    minor: i64,
    dispute: Option<&'static str>,
    credit_note: Option<(&'static str, i64)>,
}

const fn inv(number: &'static str, due_ago: i64, minor: i64) -> Inv {
    Inv {
        number,
        due_ago,
        minor,
        dispute: None,
        credit_note: None,
    }
}

/// A payment received `ago` days ago, optionally naming invoices.
struct Pay {
    ago: i64,
    minor: i64,
    reference: &'static str,
    names: &'static [&'static str],
}

const fn pay(ago: i64, minor: i64, reference: &'static str) -> Pay {
    Pay {
        ago,
        minor,
        reference,
        names: &[],
    }
}

struct Demo {
    external_ref: &'static str,
    situation: &'static str,
    legal_name: &'static str,
    debtor_type: DebtorType,
    country: &'static str,
    tz: Tz,
    currency: &'static str,
    status: AccountStatus,
    cease_calls: bool,
    contact: (&'static str, &'static str, &'static str, &'static str),
    invoices: Vec<Inv>,
    payments: Vec<Pay>,
}

#[allow(clippy::too_many_arguments)]
fn demo(
    external_ref: &'static str,
    situation: &'static str,
    legal_name: &'static str,
    debtor_type: DebtorType,
    country: &'static str,
    tz: Tz,
    currency: &'static str,
    contact: (&'static str, &'static str, &'static str, &'static str),
    invoices: Vec<Inv>,
    payments: Vec<Pay>,
) -> Demo {
    Demo {
        external_ref,
        situation,
        legal_name,
        debtor_type,
        country,
        tz,
        currency,
        status: AccountStatus::Active,
        cease_calls: false,
        contact,
        invoices,
        payments,
    }
}

fn book() -> Vec<Demo> {
    use DebtorType::{Company, Partnership, SoleTrader};
    use chrono_tz::{America, Asia, Australia, Europe, Pacific};
    let mut b = vec![
        demo(
            "DEMO-001",
            "fresh oversight: first invoice ever overdue, 4 days",
            "Harbourside Joinery Ltd",
            Company,
            "GB",
            Europe::London,
            "GBP",
            (
                "Megan Ashworth",
                "Accounts payable",
                "+44 20 7946 0101",
                "megan.ashworth@harbourside.example",
            ),
            vec![
                inv("HJ-1001", 64, 84_000),
                inv("HJ-1002", 34, 84_000),
                inv("HJ-1003", 4, 126_050),
            ],
            vec![
                pay(66, 84_000, "HARBOURSIDE HJ-1001"),
                pay(36, 84_000, "HARBOURSIDE HJ-1002"),
            ],
        ),
        demo(
            "DEMO-002",
            "oversight: says the invoice never arrived, 12 days",
            "Liffey Print Works Ltd",
            Company,
            "IE",
            Europe::Dublin,
            "EUR",
            (
                "Ciarán Byrne",
                "Finance manager",
                "+353 1 555 0102",
                "accounts@liffeyprint.example",
            ),
            vec![inv("LPW-220", 12, 312_500)],
            vec![],
        ),
        demo(
            "DEMO-003",
            "cash-flow trouble: part payments on 40- and 55-day invoices",
            "Northgate Catering Supplies Ltd",
            Company,
            "GB",
            Europe::London,
            "GBP",
            (
                "Priya Natarajan",
                "Director",
                "+44 161 496 0103",
                "priya@northgate-catering.example",
            ),
            vec![
                inv("NCS-881", 55, 460_000),
                inv("NCS-902", 40, 275_000),
                inv("NCS-930", 10, 98_000),
            ],
            vec![
                pay(30, 100_000, "NORTHGATE PART"),
                pay(15, 75_000, "NORTHGATE PART 2"),
            ],
        ),
        demo(
            "DEMO-004",
            "cash-flow trouble: pays small amounts, answers calls",
            "Spreewald Metallbau GmbH",
            Company,
            "DE",
            Europe::Berlin,
            "EUR",
            (
                "Jonas Keller",
                "Buchhaltung",
                "+49 30 5550 0104",
                "j.keller@spreewald-metall.example",
            ),
            vec![
                inv("SM-2024-17", 48, 1_150_000),
                inv("SM-2024-21", 18, 640_000),
            ],
            vec![
                pay(20, 200_000, "SPREEWALD RATE 1"),
                pay(6, 200_000, "SPREEWALD RATE 2"),
            ],
        ),
        demo(
            "DEMO-005",
            "habitual late payer: every past invoice paid 40+ days late",
            "Grachten Logistics B.V.",
            Company,
            "NL",
            Europe::Amsterdam,
            "EUR",
            (
                "Femke de Vries",
                "Crediteurenadministratie",
                "+31 20 555 0105",
                "crediteuren@grachten-log.example",
            ),
            vec![
                inv("GL-501", 130, 990_000),
                inv("GL-517", 100, 990_000),
                inv("GL-533", 70, 990_000),
                inv("GL-549", 45, 1_080_000),
            ],
            vec![
                pay(88, 990_000, "GRACHTEN 501"),
                pay(57, 990_000, "GRACHTEN 517"),
                pay(26, 990_000, "GRACHTEN 533"),
            ],
        ),
        demo(
            "DEMO-006",
            "strategic delayer: large invoice 35 days, promises slip",
            "Hudson Fixture Group Inc.",
            Company,
            "US",
            America::New_York,
            "USD",
            (
                "Dana Whitfield",
                "Controller",
                "+1 212 555 0106",
                "ap@hudsonfixture.example",
            ),
            vec![inv("HFG-7710", 35, 4_875_000)],
            vec![],
        ),
        demo(
            "DEMO-007",
            "avoider: 97 days overdue, never paid, never answers",
            "Quayside Events Ltd",
            Company,
            "GB",
            Europe::London,
            "GBP",
            (
                "Lee Brannigan",
                "Owner",
                "+44 117 496 0107",
                "lee@quayside-events.example",
            ),
            vec![inv("QE-301", 97, 342_000), inv("QE-322", 67, 188_000)],
            vec![],
        ),
        demo(
            "DEMO-008",
            "avoider: 124 days overdue in Sydney",
            "Coral Coast Fitouts Pty Ltd",
            Company,
            "AU",
            Australia::Sydney,
            "AUD",
            (
                "Mick Dwyer",
                "Director",
                "+61 2 5550 0108",
                "accounts@coralcoast.example",
            ),
            vec![inv("CCF-0451", 124, 2_210_000)],
            vec![],
        ),
        demo(
            "DEMO-009",
            "disputed invoice beside an undisputed overdue one",
            "Pennine Dairy Co-operative Ltd",
            Company,
            "GB",
            Europe::London,
            "GBP",
            (
                "Ruth Oldroyd",
                "Purchase ledger",
                "+44 113 496 0109",
                "ledger@penninedairy.example",
            ),
            vec![
                Inv {
                    dispute: Some("Says 40 of the 120 crates arrived damaged"),
                    ..inv("PD-7781", 33, 720_000)
                },
                inv("PD-7799", 21, 240_000),
            ],
            vec![],
        ),
        demo(
            "DEMO-010",
            "disputed: everything owed is disputed (no chasing)",
            "Atelier Lumière SARL",
            Company,
            "FR",
            Europe::Paris,
            "EUR",
            (
                "Camille Laurent",
                "Gérante",
                "+33 1 55 50 01 10",
                "compta@atelier-lumiere.example",
            ),
            vec![Inv {
                dispute: Some("Disputes the rate: quoted per day, billed per hour"),
                ..inv("AL-0092", 28, 515_000)
            }],
            vec![],
        ),
        demo(
            "DEMO-011",
            "payment already made: it crossed with the reminder",
            "Tamar Valley Nurseries Ltd",
            Company,
            "GB",
            Europe::London,
            "GBP",
            (
                "Owen Trewin",
                "Accounts",
                "+44 1752 496 011",
                "owen@tamarvalley.example",
            ),
            vec![inv("TVN-145", 9, 186_000)],
            vec![Pay {
                names: &["TVN-145"],
                ..pay(1, 186_000, "TAMAR TVN-145")
            }],
        ),
        demo(
            "DEMO-012",
            "overpaid: a payment left credit on the account",
            "Kestrel Software Ltd",
            Company,
            "GB",
            Europe::London,
            "GBP",
            (
                "Aisha Rahman",
                "Finance",
                "+44 20 7946 0112",
                "finance@kestrelsoft.example",
            ),
            vec![inv("KS-2201", 15, 60_000)],
            vec![pay(3, 75_000, "KESTREL Q3 LICENCES")],
        ),
        demo(
            "DEMO-013",
            "credit note reduces an overdue invoice",
            "Bodensee Verpackung GmbH",
            Company,
            "AT",
            Europe::Vienna,
            "EUR",
            (
                "Lukas Maier",
                "Einkauf",
                "+43 1 555 0113",
                "einkauf@bodensee-verpackung.example",
            ),
            vec![Inv {
                credit_note: Some(("CN-4410", 85_000)),
                ..inv("BV-9912", 26, 430_000)
            }],
            vec![],
        ),
        demo(
            "DEMO-014",
            "not yet due: nothing to chase",
            "Sakura Components K.K.",
            Company,
            "JP",
            Asia::Tokyo,
            "JPY",
            (
                "Haruto Sato",
                "経理部",
                "+81 3 5550 0114",
                "keiri@sakura-comp.example",
            ),
            vec![inv("SC-3301", -10, 1_250_000), inv("SC-3302", -25, 480_000)],
            vec![],
        ),
        demo(
            "DEMO-015",
            "sole trader: small invoices, 20 days",
            "Bryn Morgan (trading as Morgan Plumbing)",
            SoleTrader,
            "GB",
            Europe::London,
            "GBP",
            (
                "Bryn Morgan",
                "Proprietor",
                "+44 29 2018 0115",
                "bryn@morganplumbing.example",
            ),
            vec![inv("MP-77", 20, 18_500), inv("MP-81", 6, 9_900)],
            vec![],
        ),
        demo(
            "DEMO-016",
            "partnership: exactly 61 days overdue",
            "Lakeshore Dental Partners",
            Partnership,
            "CA",
            America::Toronto,
            "CAD",
            (
                "Dr. Nia Okafor",
                "Managing partner",
                "+1 416 555 0116",
                "office@lakeshoredental.example",
            ),
            vec![inv("LDP-1207", 61, 329_900)],
            vec![],
        ),
        demo(
            "DEMO-017",
            "far time zone: 31 days overdue in Auckland",
            "Kauri Coast Timber Ltd",
            Company,
            "NZ",
            Pacific::Auckland,
            "NZD",
            (
                "Tane Walker",
                "Accounts payable",
                "+64 9 555 0117",
                "ap@kauricoast.example",
            ),
            vec![inv("KCT-660", 31, 1_470_000), inv("KCT-671", 1, 265_000)],
            vec![],
        ),
        demo(
            "DEMO-018",
            "Singapore: 90 days overdue, on the bucket boundary",
            "Merlion Trading Pte. Ltd.",
            Company,
            "SG",
            Asia::Singapore,
            "SGD",
            (
                "Wei Ling Tan",
                "Finance executive",
                "+65 6555 0118",
                "finance@merlion-trading.example",
            ),
            vec![inv("MT-5501", 90, 805_000), inv("MT-5530", 30, 402_500)],
            vec![],
        ),
    ];
    let mut agency = demo(
        "DEMO-019",
        "referred to a collection agency: no calls",
        "Crag End Quarry Ltd",
        Company,
        "GB",
        Europe::London,
        "GBP",
        (
            "Gareth Pryce",
            "Director",
            "+44 1539 496 019",
            "gareth@cragend.example",
        ),
        vec![inv("CEQ-118", 154, 1_964_000)],
        vec![],
    );
    agency.status = AccountStatus::WithAgency;
    let mut cease = demo(
        "DEMO-020",
        "asked not to be called: letters only",
        "Fenland Growers Ltd",
        Company,
        "GB",
        Europe::London,
        "GBP",
        (
            "Helen Fairbairn",
            "Company secretary",
            "+44 1354 496 020",
            "secretary@fenlandgrowers.example",
        ),
        vec![inv("FG-0907", 42, 230_000)],
        vec![],
    );
    cease.cease_calls = true;
    let mut hold = demo(
        "DEMO-021",
        "on hold: account manager renegotiating the contract",
        "Solent Marine Services Ltd",
        Company,
        "GB",
        Europe::London,
        "GBP",
        (
            "Tom Hale",
            "Operations director",
            "+44 23 8049 6021",
            "tom.hale@solentmarine.example",
        ),
        vec![inv("SMS-3120", 50, 1_120_000)],
        vec![],
    );
    hold.status = AccountStatus::OnHold;
    let plan = demo(
        plans::ACCOUNT,
        "payment plan broken: first of three instalments paid, the next two missed",
        "Whitcombe Bakery Ltd",
        Company,
        "GB",
        Europe::London,
        "GBP",
        (
            "Dana Whitcombe",
            "Director",
            "+44 117 496 0022",
            "dana@whitcombebakery.example",
        ),
        vec![inv("WB-1104", 95, 480_000)],
        vec![],
    );
    b.extend([agency, cease, hold, plan]);
    b
}

fn days_from(today: NaiveDate, ago: i64) -> NaiveDate {
    if ago >= 0 {
        today - Days::new(ago as u64)
    } else {
        today + Days::new((-ago) as u64)
    }
}

fn account(d: &Demo, today: NaiveDate) -> Result<AccountData, BoxError> {
    let currency = Currency::from_code(d.currency)?;
    let money = |minor| Money::from_minor(minor, currency);
    let invoices = d
        .invoices
        .iter()
        .map(|i| {
            let due_date = days_from(today, i.due_ago);
            let issue_date = due_date - Days::new(30);
            InvoiceData {
                number: i.number.into(),
                issue_date,
                due_date,
                amount: money(i.minor),
                adjustments: i
                    .credit_note
                    .iter()
                    .map(|(reference, minor)| Adjustment {
                        reference: (*reference).into(),
                        kind: AdjustmentKind::CreditNote,
                        amount: money(*minor),
                        date: issue_date + Days::new(7),
                        reason: "Goods returned".into(),
                    })
                    .collect(),
                disputed: i.dispute.is_some(),
                dispute_reason: i.dispute.unwrap_or_default().into(),
            }
        })
        .collect();
    let (name, role, phone, email) = d.contact;
    Ok(AccountData {
        external_ref: d.external_ref.into(),
        legal_name: d.legal_name.into(),
        debtor_type: d.debtor_type,
        country_code: d.country.into(),
        time_zone: d.tz,
        currency,
        status: d.status,
        cease_calls: d.cease_calls,
        interest_waived: false,
        queue: recoup_domain::account::DEFAULT_QUEUE.into(),
        contacts: vec![Contact {
            display_name: name.into(),
            role: role.into(),
            phone: phone.into(),
            email: email.into(),
            preferred: true,
        }],
        invoices,
    })
}

/// Loads the demo book unless it was loaded before; returns a report for the console.
pub async fn load(store: &Store, now: DateTime<Utc>) -> Result<String, BoxError> {
    if store.has_marker(MARKER).await? {
        return Ok("demo book already loaded; nothing to do".into());
    }
    let book = book();
    let records = book
        .iter()
        .map(|d| account(d, local_today(d.tz, now)))
        .collect::<Result<Vec<_>, _>>()?;
    for (d, r) in book.iter().zip(&records) {
        let problems = recoup_domain::account::validate_account(r);
        if !problems.is_empty() {
            return Err(format!("demo account {} is invalid: {problems:?}", d.external_ref).into());
        }
    }
    let by = RequestKey {
        subject: DEMO_ACTOR,
        request_id: MARKER,
    };
    let outcomes = store.import_batch(&records, by, now).await?;
    let created = outcomes
        .iter()
        .filter(|o| matches!(o, ImportOutcome::Created(_)))
        .count();
    // Calls first, as they happened before the payments that came after them (a reminder a payment
    // crossed is made while something is owed). Histories are judged by the built-in contact rules
    // (whatever the running policy says), so the book loads the same everywhere.
    let rules = Arc::new(Policy::default());
    let mut recorded = 0;
    for d in &book {
        let history = calls::history(d.external_ref);
        if history.is_empty() {
            continue;
        }
        let Some(account) = store
            .get_account(AccountKey::ExternalRef(d.external_ref))
            .await?
        else {
            return Err(format!("demo account {} vanished", d.external_ref).into());
        };
        let today = local_today(d.tz, now);
        for (n, past) in history.iter().enumerate() {
            let request_id = format!("demo-call-{}-{n}", d.external_ref);
            // The book's calls are its history, as a CRM would bring it in: never judged for
            // breaches.
            let call = NewCall {
                imported: Some(ImportedCall {
                    crm_id: request_id.clone(),
                    agent: DEMO_ACTOR.into(),
                }),
                ..calls::new_call(past, d.tz, today, account.data.currency, now)
            };
            let by = Recorder {
                key: RequestKey {
                    subject: DEMO_ACTOR,
                    request_id: &request_id,
                },
                override_by: None,
            };
            store
                .record_call(by, account.id, &call, &rules, now)
                .await
                .map_err(|e| format!("demo call {request_id}: {e}"))?;
            recorded += 1;
        }
    }
    let mut payments = 0;
    for d in &book {
        let Some(account) = store
            .get_account(AccountKey::ExternalRef(d.external_ref))
            .await?
        else {
            return Err(format!("demo account {} vanished", d.external_ref).into());
        };
        let today = local_today(d.tz, now);
        for (n, p) in d.payments.iter().enumerate() {
            let payment = NewPayment {
                amount: Money::from_minor(p.minor, account.data.currency),
                payment_date: days_from(today, p.ago),
                reference: p.reference.into(),
                invoice_numbers: p.names.iter().map(|s| (*s).into()).collect(),
            };
            let request_id = format!("demo-{}-{n}", d.external_ref);
            let key = RequestKey {
                subject: DEMO_ACTOR,
                request_id: &request_id,
            };
            store.record_payment(key, account.id, &payment, now).await?;
            payments += 1;
        }
    }
    let plans = plans::seed(store, now).await?;
    store.set_marker_once(MARKER, now).await?;
    let mut report = format!(
        "demo book loaded: {} accounts ({created} new), {payments} payments, {recorded} calls, \
         {plans} payment plan",
        records.len()
    );
    for d in &book {
        report.push_str(&format!("\n  {:<9} {}", d.external_ref, d.situation));
    }
    Ok(report)
}

/// Replaces the demo keys (one per role, subject `demo-<role>`) and returns them with a grpcurl
/// example. The old ones are revoked, so only the keys printed by the latest start work.
pub async fn issue_keys(
    store: &Store,
    listen: &str,
    now: DateTime<Utc>,
) -> Result<String, BoxError> {
    let mut out = String::from("demo API keys (shown once; a restart with --demo replaces them):");
    let mut agent_key = String::new();
    for role in Role::ALL {
        let subject = format!("demo-{role}");
        keys::revoke_subject(store, &subject, now).await?;
        let key = keys::issue(store, role, &subject, None, now).await?;
        out.push_str(&format!("\n  {:<11} {}", role.as_str(), key.secret));
        if role == Role::Agent {
            agent_key = key.secret;
        }
    }
    out.push_str(&format!(
        "\ntry: grpcurl -plaintext -H 'authorization: Bearer {agent_key}' -d '{{\"external_ref\": \"DEMO-003\"}}' \
         {listen} recoup.v1.AccountService/GetAccount"
    ));
    Ok(out)
}
