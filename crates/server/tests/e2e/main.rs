//! End-to-end tests: a real recoupd server on an ephemeral loopback port, a real tonic client, and a
//! fresh SQLite file or PostgreSQL database per test.

mod accounts;
mod ageing;
mod bad_input;
mod binary;
mod browser;
mod calls;
mod categories;
mod contact;
mod credit;
mod deploy_files;
mod disputes;
mod errors;
mod events;
mod evidence;
mod faults;
mod floor;
mod floor_sim;
mod guidance;
mod health;
mod hostile;
mod idempotency;
mod import;
mod interest;
mod jwt;
mod limits;
mod matrix;
mod metrics;
mod otlp;
mod payments;
mod plan_records;
mod plans;
mod privacy;
mod rates;
mod reads;
mod replicas;
mod reporting;
mod service;
mod tls;
mod walkthrough;
mod webhooks;
mod wording;
mod words;
mod worklist;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_server::auth::{Role, keys};
use recoup_server::clock::ManualClock;
use recoup_server::server::{self, Running, ServeOptions};
use recoup_store::testkit::TestDb;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Adds `authorization: Bearer <key>` to every call (nothing for an empty key).
#[derive(Clone)]
pub struct Bearer(pub String);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if !self.0.is_empty() {
            let value = format!("Bearer {}", self.0).parse().expect("ascii header");
            req.metadata_mut().insert("authorization", value);
        }
        Ok(req)
    }
}

/// A channel that presents a credential.
pub type Authed = InterceptedService<Channel, Bearer>;
pub type Client = AccountServiceClient<Authed>;

/// The instant every in-process test server's clock starts at: noon in London on the most recent
/// weekday at or before the real time. Calling hours, working days and "today" then hold whenever
/// the suite runs, and it is never in the real future (tokens and payment dates are checked
/// against the real date elsewhere).
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{Datelike, Days, TimeZone, Weekday};
    static NOW: std::sync::LazyLock<chrono::DateTime<chrono::Utc>> =
        std::sync::LazyLock::new(|| {
            let london = chrono_tz::Europe::London;
            let real = chrono::Utc::now();
            let mut day = real.with_timezone(&london).date_naive();
            loop {
                let noon = london
                    .from_local_datetime(&day.and_hms_opt(12, 0, 0).expect("noon"))
                    .single()
                    .expect("noon is never ambiguous in London")
                    .with_timezone(&chrono::Utc);
                if noon <= real && !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                    return noon;
                }
                day = day - Days::new(1);
            }
        });
    *NOW
}

/// A server under test with its database, its clock (at `now()` until a test moves it) and one
/// API key per role.
pub struct TestServer {
    pub db: TestDb,
    running: Running,
    pub store: recoup_store::Store,
    pub channel: Channel,
    pub keys: HashMap<Role, String>,
    pub clock: Arc<ManualClock>,
}

impl TestServer {
    pub async fn start(db: TestDb) -> TestServer {
        Self::start_with(db, &ServeOptions::default()).await
    }

    /// Starts with `options`, on a clock of its own at `now()`.
    pub async fn start_with(db: TestDb, options: &ServeOptions) -> TestServer {
        let clock = Arc::new(ManualClock::new(now()));
        let options = ServeOptions {
            clock: clock.clone(),
            ..options.clone()
        };
        let store = db.store().await.expect("open store");
        let mut keys = HashMap::new();
        for role in Role::ALL {
            let subject = format!("test-{role}");
            let key = keys::issue(&store, role, &subject, None, now())
                .await
                .expect("issue key");
            keys.insert(role, key.secret);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let running = server::start(store.clone(), listener, &options)
            .await
            .expect("start server");
        let channel = Channel::from_shared(format!("http://{}", running.addr))
            .unwrap()
            .connect_lazy();
        TestServer {
            db,
            running,
            store,
            channel,
            keys,
            clock,
        }
    }

    /// The channel presenting `role`'s key.
    pub fn as_role(&self, role: Role) -> Authed {
        self.with_key(&self.keys[&role])
    }

    /// The channel presenting any credential text (empty: none).
    pub fn with_key(&self, key: &str) -> Authed {
        InterceptedService::new(self.channel.clone(), Bearer(key.to_owned()))
    }

    pub fn running_addr(&self) -> String {
        self.running.addr.to_string()
    }

    /// AccountService as the integration role (which imports, records payments and reads).
    pub fn accounts(&self) -> Client {
        AccountServiceClient::new(self.as_role(Role::Integration))
    }

    pub async fn stop(self) {
        self.stop_after(Duration::ZERO).await;
    }

    /// Stops after a drain period during which health says NOT_SERVING and calls are still served.
    pub async fn stop_after(self, drain: Duration) {
        self.running
            .shutdown(drain, Duration::from_secs(5))
            .await
            .expect("shutdown");
        self.store.close().await;
        self.db.cleanup().await;
    }
}

/// Runs `body` against a fresh server on each backend.
pub async fn each_backend<F, Fut>(body: F)
where
    F: Fn(TestServer) -> Fut,
    Fut: std::future::Future<Output = TestServer>,
{
    for db in TestDb::all().await {
        let server = TestServer::start(db).await;
        body(server).await.stop().await;
    }
}

pub fn money(code: &str, units: i64, nanos: i32) -> pb::Money {
    pb::Money {
        currency_code: code.into(),
        units,
        nanos,
    }
}

pub fn date(d: chrono::NaiveDate) -> pb::Date {
    recoup_server::convert::date_out(d)
}

pub fn ymd(year: i32, month: i32, day: i32) -> pb::Date {
    pb::Date { year, month, day }
}

/// An invoice due on `due`, issued 30 days before.
pub fn invoice(number: &str, due: chrono::NaiveDate, amount: pb::Money) -> pb::Invoice {
    pb::Invoice {
        number: number.into(),
        issue_date: Some(date(due - chrono::Days::new(30))),
        due_date: Some(date(due)),
        amount: Some(amount),
        ..Default::default()
    }
}

/// A valid account record in GBP, London.
pub fn account(external_ref: &str, invoices: Vec<pb::Invoice>) -> pb::Account {
    pb::Account {
        external_ref: external_ref.into(),
        legal_name: format!("{external_ref} Holdings Ltd"),
        debtor_type: pb::DebtorType::Company as i32,
        country_code: "GB".into(),
        time_zone: "Europe/London".into(),
        currency_code: "GBP".into(),
        contacts: vec![pb::Contact {
            display_name: "Alex Ledger".into(),
            role: "Accounts payable".into(),
            phone: "+44 20 7946 0999".into(),
            email: "alex@ledger.example".into(),
            preferred: true,
        }],
        invoices,
        ..Default::default()
    }
}

/// Imports records in one stream.
/// Brings one past call in on account `parent` (its name) through ImportHistory.
pub async fn import_past_call(
    server: &TestServer,
    parent: &str,
    call: pb::CallRecord,
) -> pb::ImportHistoryResponse {
    let mut client = server.accounts();
    let external_ref = client
        .get_account(pb::GetAccountRequest {
            account: Some(pb::get_account_request::Account::Name(parent.into())),
            view: pb::AccountView::Basic as i32,
        })
        .await
        .expect("the account")
        .into_inner()
        .external_ref;
    client
        .import_history(tokio_stream::iter([pb::ImportHistoryRequest {
            external_ref,
            record: Some(pb::import_history_request::Record::Call(call)),
        }]))
        .await
        .expect("ImportHistory")
        .into_inner()
}

pub async fn import(
    client: &mut Client,
    request_id: &str,
    records: Vec<pb::Account>,
) -> Result<pb::ImportAccountsResponse, tonic::Status> {
    let msgs: Vec<pb::ImportAccountsRequest> = records
        .into_iter()
        .enumerate()
        .map(|(i, a)| pb::ImportAccountsRequest {
            request_id: if i == 0 {
                request_id.into()
            } else {
                String::new()
            },
            account: Some(a),
        })
        .collect();
    client
        .import_accounts(tokio_stream::iter(msgs))
        .await
        .map(|r| r.into_inner())
}

/// Fetches an account by external ref.
/// The account without what a read stamps with its own instant (`next_allowed_time` is the time of
/// the read while the account may be called), so two reads of an unchanged account compare equal
/// at any hour.
pub fn without_read_time(mut a: pb::Account) -> pb::Account {
    if let Some(status) = a.contact_status.as_mut()
        && status.may_call_now
    {
        status.next_allowed_time = None;
    }
    a
}

pub async fn get(client: &mut Client, external_ref: &str) -> pb::Account {
    client
        .get_account(pb::GetAccountRequest {
            account: Some(pb::get_account_request::Account::ExternalRef(
                external_ref.into(),
            )),
            view: 0,
        })
        .await
        .expect("get account")
        .into_inner()
}

/// A fixed-offset zone in which it is about midday by the real clock, for tests of spawned recoupd
/// processes (which tell the real time), so calling hours are predictable.
pub fn midday_zone() -> (String, chrono_tz::Tz) {
    use chrono::Timelike;
    let ahead = (12 - i64::from(chrono::Utc::now().hour())).clamp(-12, 14);
    // Etc/GMT-N is UTC+N (the sign is POSIX's, inverted).
    let name = match ahead {
        0 => "Etc/GMT".to_owned(),
        n if n > 0 => format!("Etc/GMT-{n}"),
        n => format!("Etc/GMT+{}", -n),
    };
    let tz = name.parse().expect("IANA zone");
    (name, tz)
}

/// The zone in-process tests put accounts in: London, where the test clock stands at noon on a
/// weekday (inside the default calling hours).
pub fn test_zone() -> (String, chrono_tz::Tz) {
    ("Europe/London".to_owned(), chrono_tz::Europe::London)
}

/// Fetches an account by name in the FULL view, as an agent's desktop does.
pub async fn get_full(server: &TestServer, name: &str) -> pb::Account {
    server
        .accounts()
        .get_account(pb::GetAccountRequest {
            account: Some(pb::get_account_request::Account::Name(name.into())),
            view: pb::AccountView::Full as i32,
        })
        .await
        .expect("get account")
        .into_inner()
}

/// The debtor's date today in London (where `account` lives), by the test clock.
pub fn london_today() -> chrono::NaiveDate {
    london_today_at(now())
}

/// The date in London at `t`.
pub fn london_today_at(t: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
    t.with_timezone(&chrono_tz::Europe::London).date_naive()
}

/// The field paths of an INVALID_ARGUMENT's BadRequest details.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("BadRequest details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

/// An amount in the service's one format, e.g. "GBP 12.50", for readable assertions.
pub fn text(m: &Option<pb::Money>) -> String {
    let m = m.as_ref().expect("money");
    recoup_domain::Money::from_parts(&m.currency_code, m.units, m.nanos)
        .expect("a valid amount")
        .to_string()
}

/// The built-in policy, but calls on every day from 08:00 to 20:00 (one outbound call a day), so that
/// tests in a zone where it is about midday may call whatever the weekday.
pub fn every_day() -> recoup_domain::policy::Policy {
    use recoup_domain::policy::{ContactPolicy, DayHours, Policy};
    let hours = Some(DayHours {
        start: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        end: chrono::NaiveTime::from_hms_opt(20, 0, 0).unwrap(),
    });
    Policy {
        contact: ContactPolicy {
            hours: [hours; 7],
            ..ContactPolicy::default()
        },
        ..Policy::default()
    }
}
