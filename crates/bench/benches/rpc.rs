//! Per-call latency of recoup RPCs beside a bare tonic call (grpc.health.v1 Check: no credential, no
//! database) on the same server, connection and run. `scripts/bench` prints each as a ratio to it.

use criterion::{Criterion, criterion_group, criterion_main};
use recoup_bench::Fixture;
use recoup_proto::v1 as pb;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const BOOK: usize = 2_000;

fn rpcs(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fixture = rt.block_on(Fixture::start(BOOK));
    let mut group = c.benchmark_group("rpc");

    let health = HealthClient::new(fixture.channel.clone());
    group.bench_function("baseline_health_check", |b| {
        b.to_async(&rt).iter(|| {
            let mut h = health.clone();
            async move { h.check(HealthCheckRequest::default()).await.unwrap() }
        })
    });

    let agent = fixture.agent.clone();
    group.bench_function("get_account_full", |b| {
        let mut n = 0usize;
        b.to_async(&rt).iter(|| {
            let mut a = agent.clone();
            n = (n + 7919) % BOOK;
            let external_ref = format!("BENCH-{n:06}");
            async move {
                a.get_account(pb::GetAccountRequest {
                    account: Some(pb::get_account_request::Account::ExternalRef(external_ref)),
                    view: 0,
                })
                .await
                .unwrap()
            }
        })
    });

    group.bench_function("list_accounts_50_overdue_60d", |b| {
        b.to_async(&rt).iter(|| {
            let mut a = agent.clone();
            async move {
                a.list_accounts(pb::ListAccountsRequest {
                    min_days_overdue: 60,
                    ..Default::default()
                })
                .await
                .unwrap()
            }
        })
    });

    let integration = fixture.integration.clone();
    group.bench_function("record_payment", |b| {
        let mut n = 0u64;
        b.to_async(&rt).iter(|| {
            let mut c = integration.clone();
            n += 1;
            let today = chrono::Utc::now().date_naive();
            let req = pb::RecordPaymentRequest {
                request_id: format!("bench-{}-{n}", std::process::id()),
                parent: format!("accounts/{}", n % BOOK as u64 + 1),
                payment: Some(pb::Payment {
                    amount: Some(pb::Money {
                        currency_code: "GBP".into(),
                        units: 0,
                        nanos: 10_000_000,
                    }),
                    payment_date: Some(recoup_server::convert::date_out(today)),
                    reference: "BENCH".into(),
                    ..Default::default()
                }),
            };
            async move { c.record_payment(req).await.unwrap() }
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = rpcs
}
criterion_main!(benches);
