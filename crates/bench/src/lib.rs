//! A benchmark fixture: a real recoupd on loopback with a SQLite book of accounts, and clients.

use chrono::{Days, Utc};
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_server::auth::{Role, keys};
use recoup_server::convert::date_out;
use recoup_server::server::{self, Running, ServeOptions};
use recoup_store::testkit::TestDb;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Adds the bearer credential to every call.
#[derive(Clone)]
pub struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

pub type Accounts = AccountServiceClient<InterceptedService<Channel, Bearer>>;

/// The server under measurement and what is needed to call it.
pub struct Fixture {
    pub channel: Channel,
    pub agent: Accounts,
    pub integration: Accounts,
    _running: Running,
    _db: TestDb,
}

fn account(i: usize, today: chrono::NaiveDate) -> pb::Account {
    pb::Account {
        external_ref: format!("BENCH-{i:06}"),
        legal_name: format!("Bench Trading {i} Ltd"),
        debtor_type: pb::DebtorType::Company as i32,
        country_code: "GB".into(),
        time_zone: "Europe/London".into(),
        currency_code: "GBP".into(),
        contacts: vec![pb::Contact {
            display_name: "Ana Ledger".into(),
            phone: "+44 20 7946 0000".into(),
            email: "ap@bench.example".into(),
            preferred: true,
            ..Default::default()
        }],
        invoices: (0..5u64)
            .map(|k| {
                let due = today - Days::new(k * 25);
                pb::Invoice {
                    number: format!("INV-{k}"),
                    issue_date: Some(date_out(due - Days::new(30))),
                    due_date: Some(date_out(due)),
                    amount: Some(pb::Money {
                        currency_code: "GBP".into(),
                        units: 100 + k as i64,
                        nanos: 0,
                    }),
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    }
}

impl Fixture {
    /// Starts a server on a fresh SQLite file with `accounts` accounts of five invoices each.
    pub async fn start(accounts: usize) -> Fixture {
        let db = TestDb::sqlite();
        let store = db.store().await.expect("store");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client_keys = Vec::new();
        for role in [Role::Agent, Role::Integration] {
            let key = keys::issue(&store, role, "bench", None, Utc::now())
                .await
                .unwrap();
            client_keys.push(format!("Bearer {}", key.secret).parse().unwrap());
        }
        let running = server::start(store, listener, &ServeOptions::default())
            .await
            .unwrap();
        let channel = Channel::from_shared(format!("http://{}", running.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let client = |k: &tonic::metadata::MetadataValue<_>| {
            AccountServiceClient::new(InterceptedService::new(channel.clone(), Bearer(k.clone())))
        };
        let agent = client(&client_keys[0]);
        let mut integration = client(&client_keys[1]);
        let today = Utc::now().date_naive();
        let stream = tokio_stream::iter((0..accounts).map(move |i| pb::ImportAccountsRequest {
            request_id: String::new(),
            account: Some(account(i, today)),
        }));
        integration.import_accounts(stream).await.expect("import");
        Fixture {
            channel,
            agent,
            integration,
            _running: running,
            _db: db,
        }
    }
}
