//! The manager's report: every figure on a hand-built history, computed by hand, on both backends
//! and in each grouping; the export (`recoupd report`) equal to the RPC; bad requests named by
//! field; and the rollup equal to a recomputation from the records after randomized histories
//! folded at random moments. (After SIGKILLs mid-write: the fault suite, `faults.rs`.)

use std::sync::Arc;

use chrono::{Days, Duration, NaiveDate};
use recoup_proto::v1 as pb;
use recoup_proto::v1::call_record::Outcome;
use recoup_proto::v1::call_service_client::CallServiceClient;
use recoup_proto::v1::plan_service_client::PlanServiceClient;
use recoup_proto::v1::reporting_service_client::ReportingServiceClient;
use recoup_server::auth::Role;
use recoup_server::clock::Clock;
use recoup_server::server::ServeOptions;
use recoup_store::testkit::TestDb;
use tonic::Code;

use crate::{TestServer, account, bad_fields, date, every_day, get, import, invoice, money};

fn ts(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    recoup_server::convert::time_out(t)
}

/// A server whose own reporting keeper is off: reports fold when asked, and the tests take the
/// books (a keeper on the test clock would take one whenever the clock is moved past midnight).
async fn start(db: TestDb) -> TestServer {
    let options = ServeOptions {
        policy: Arc::new(every_day()),
        report_interval: std::time::Duration::ZERO,
        ..ServeOptions::default()
    };
    TestServer::start_with(db, &options).await
}

fn day() -> NaiveDate {
    crate::london_today()
}

async fn owing(
    server: &TestServer,
    external_ref: &str,
    currency: &str,
    queue: &str,
    invoices: Vec<pb::Invoice>,
) -> String {
    let mut a = account(external_ref, invoices);
    a.currency_code = currency.into();
    a.queue = queue.into();
    let mut client = server.accounts();
    import(&mut client, &format!("import-{external_ref}"), vec![a])
        .await
        .expect("import");
    get(&mut client, external_ref).await.name
}

async fn call(
    server: &TestServer,
    role: Role,
    parent: &str,
    minutes_ago: i64,
    right_party: bool,
    outcome: Outcome,
) -> pb::CallRecord {
    CallServiceClient::new(server.as_role(role))
        .record_call_outcome(pb::RecordCallOutcomeRequest {
            request_id: format!("call-{parent}-{minutes_ago}"),
            parent: parent.into(),
            call: Some(pb::CallRecord {
                direction: pb::CallDirection::Outbound as i32,
                start_time: Some(ts(crate::now() - Duration::minutes(minutes_ago))),
                duration: Some(prost_types::Duration {
                    seconds: 120,
                    nanos: 0,
                }),
                contact_name: "Alex Ledger".into(),
                right_party_contact: right_party,
                outcome: Some(outcome),
                notes: "reporting test".into(),
                next_step: "see the report".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("call recorded")
        .into_inner()
}

async fn pay(server: &TestServer, parent: &str, code: &str, units: i64, invoice: &str) {
    server
        .accounts()
        .record_payment(pb::RecordPaymentRequest {
            request_id: format!("pay-{parent}-{units}"),
            parent: parent.into(),
            payment: Some(pb::Payment {
                amount: Some(money(code, units, 0)),
                payment_date: Some(date(day())),
                reference: "BACS".into(),
                invoice_numbers: vec![invoice.into()],
                ..Default::default()
            }),
        })
        .await
        .expect("payment");
}

async fn dispute(server: &TestServer, parent: &str, number: &str) -> String {
    crate::AccountServiceClient::new(server.as_role(Role::Agent))
        .raise_dispute(pb::RaiseDisputeRequest {
            request_id: format!("dispute-{parent}"),
            parent: parent.into(),
            dispute: Some(pb::Dispute {
                invoice_numbers: vec![number.into()],
                reason: "Goods arrived damaged".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("dispute raised")
        .into_inner()
        .name
}

async fn resolve(server: &TestServer, name: &str, outcome: pb::DisputeState) {
    crate::AccountServiceClient::new(server.as_role(Role::Supervisor))
        .resolve_dispute(pb::ResolveDisputeRequest {
            request_id: format!("resolve-{name}"),
            name: name.into(),
            outcome: outcome as i32,
            resolution: "Checked with the warehouse".into(),
        })
        .await
        .expect("dispute resolved");
}

pub async fn kpis(
    server: &TestServer,
    from: NaiveDate,
    to: NaiveDate,
    group_by: pb::KpiGrouping,
) -> pb::GetKpisResponse {
    ReportingServiceClient::new(server.as_role(Role::Supervisor))
        .get_kpis(pb::GetKpisRequest {
            from_date: Some(date(from)),
            to_date: Some(date(to)),
            group_by: group_by as i32,
            time_zone: String::new(),
        })
        .await
        .expect("GetKpis")
        .into_inner()
}

/// `[(currency, amount, count)]` of a list of counted amounts, amounts as the service writes them.
fn counted(list: &[pb::CountedAmount]) -> Vec<(String, String, i64)> {
    list.iter()
        .map(|c| {
            let m = c.amount.as_ref().expect("amount");
            (m.currency_code.clone(), crate::text(&c.amount), c.count)
        })
        .collect()
}

fn one(code: &str, amount: &str, count: i64) -> Vec<(String, String, i64)> {
    vec![(code.into(), amount.into(), count)]
}

fn breaches(g: &pb::KpiGroup) -> Vec<(pb::ContactBlockReason, i64)> {
    g.rule_breaches
        .iter()
        .map(|b| (b.rule(), b.count))
        .collect()
}

fn group<'a>(r: &'a pb::GetKpisResponse, key: &str) -> &'a pb::KpiGroup {
    r.groups.iter().find(|g| g.key == key).unwrap_or_else(|| {
        panic!(
            "no group {key:?} in {:?}",
            r.groups.iter().map(|g| &g.key).collect::<Vec<_>>()
        )
    })
}

/// The history every figure below is computed from, by hand. Day D is today in London, the
/// reporting time zone; N is noon on it (the test clock).
///
/// - R-A (GBP, queue default): INV-1 £500 due D−20, INV-2 £250 due D−10 (issued 30 days before).
/// - R-B (GBP, queue north): P-1 £4,000 due D−120, P-2 £2,000 due D−30.
/// - R-C (EUR, queue default): E-1 €800 due D−40, E-2 €200 due D+10.
/// - R-D (USD, queue default): D-1 $600 due D−15.
/// - R-E (GBP, queue north, with an agency): A-1 £900 due D−70 (issued D−100), A-2 £100 due D−5,
///   disputed in the CRM.
/// - R-F (CHF, queue default): F-1 CHF 400 due D−20.
///
/// 1. the agent calls R-A at N−60m, right party, promise of £300 by D+7; takes inbound calls from
///    R-D at N−45m (promise of $200 by D) and R-F at N−25m (CHF 150 by D); calls R-C at N−30m,
///    wrong party; the supervisor calls R-B at N−20m, no answer (the three outbound calls without
///    a claim: `unclaimed`; inbound calls are not judged);
/// 2. £300 paid on R-A: after the agent's promise, so earned by it, and the promise is kept; €100
///    on R-C: no promise, no plan, nobody's; $50 on R-D: the agent's promise's;
/// 3. the agent proposes a 20% settlement on R-B (beyond an agent's 10%), the supervisor approves
///    it, it is signed; £1,000 paid on R-B while it is live: the agent's, on the plan;
/// 4. the agent disputes R-A's INV-2; the supervisor rejects it at once (0 days);
/// 5. the book at D's end is taken;
/// 6. the agent disputes R-C's E-1; three days later the supervisor upholds it (3 days);
/// 7. on D+4 R-D's promise is judged partly kept ($50 of $200) and R-F's broken.
async fn history(server: &TestServer) {
    let d = day();
    let a = owing(
        server,
        "R-A",
        "GBP",
        "default",
        vec![
            invoice("INV-1", d - Days::new(20), money("GBP", 500, 0)),
            invoice("INV-2", d - Days::new(10), money("GBP", 250, 0)),
        ],
    )
    .await;
    let b = owing(
        server,
        "R-B",
        "GBP",
        "north",
        vec![
            invoice("P-1", d - Days::new(120), money("GBP", 4_000, 0)),
            invoice("P-2", d - Days::new(30), money("GBP", 2_000, 0)),
        ],
    )
    .await;
    let c = owing(
        server,
        "R-C",
        "EUR",
        "default",
        vec![
            invoice("E-1", d - Days::new(40), money("EUR", 800, 0)),
            invoice("E-2", d + Days::new(10), money("EUR", 200, 0)),
        ],
    )
    .await;
    let usd = owing(
        server,
        "R-D",
        "USD",
        "default",
        vec![invoice("D-1", d - Days::new(15), money("USD", 600, 0))],
    )
    .await;
    let mut agency = account(
        "R-E",
        vec![
            invoice("A-1", d - Days::new(70), money("GBP", 900, 0)),
            pb::Invoice {
                disputed: true,
                dispute_reason: "wrong rate".into(),
                ..invoice("A-2", d - Days::new(5), money("GBP", 100, 0))
            },
        ],
    );
    agency.queue = "north".into();
    agency.status = pb::AccountStatus::WithAgency as i32;
    import(&mut server.accounts(), "import-R-E", vec![agency])
        .await
        .expect("import");
    let chf = owing(
        server,
        "R-F",
        "CHF",
        "default",
        vec![invoice("F-1", d - Days::new(20), money("CHF", 400, 0))],
    )
    .await;
    let promise = |code, units, by| {
        Outcome::PromiseToPay(pb::PromiseToPay {
            amount: Some(money(code, units, 0)),
            promise_date: Some(date(by)),
            ..Default::default()
        })
    };
    let first = call(
        server,
        Role::Agent,
        &a,
        60,
        true,
        promise("GBP", 300, d + Days::new(7)),
    )
    .await;
    // Inbound: not judged by the contact rules, not an outbound attempt.
    inbound(server, &usd, 45, promise("USD", 200, d)).await;
    inbound(server, &chf, 25, promise("CHF", 150, d)).await;
    let unclaimed: Vec<_> = first.rule_breaches.iter().map(|b| b.rule).collect();
    assert_eq!(
        unclaimed,
        [pb::ContactBlockReason::Unclaimed as i32],
        "{first:?}"
    );
    call(
        server,
        Role::Agent,
        &c,
        30,
        false,
        Outcome::WrongParty(pb::WrongParty {}),
    )
    .await;
    call(
        server,
        Role::Supervisor,
        &b,
        20,
        false,
        Outcome::NoAnswer(pb::NoAnswer {}),
    )
    .await;
    // Records are apart in time, as they are on a floor (attribution reads what was recorded
    // strictly before a payment).
    server.clock.advance(Duration::minutes(1));
    pay(server, &a, "GBP", 300, "INV-1").await;
    pay(server, &c, "EUR", 100, "E-1").await;
    pay(server, &usd, "USD", 50, "D-1").await;
    let policy = every_day();
    let judged = recoup_server::promises::announce_once(&server.store, &policy, server.clock.now())
        .await
        .unwrap();
    assert_eq!(judged, 3, "R-A's kept, R-D's and R-F's open");

    let mut plans = PlanServiceClient::new(server.as_role(Role::Agent));
    let plan = plans
        .create_plan(pb::CreatePlanRequest {
            request_id: "plan-b".into(),
            parent: b.clone(),
            proposal: Some(pb::PlanProposal {
                kind: pb::PlanKind::Settlement as i32,
                settlement_discount_percent: "20".into(),
                pay_by_date: Some(date(d + Days::new(10))),
                ..Default::default()
            }),
            supersede_reason: String::new(),
            etag: String::new(),
        })
        .await
        .expect("plan created")
        .into_inner();
    assert_eq!(
        plan.state,
        pb::PlanState::AwaitingApproval as i32,
        "beyond the agent's authority"
    );
    PlanServiceClient::new(server.as_role(Role::Supervisor))
        .approve_plan(pb::ApprovePlanRequest {
            request_id: "approve-b".into(),
            name: plan.name.clone(),
        })
        .await
        .expect("approved");
    plans
        .record_plan_signature(pb::RecordPlanSignatureRequest {
            request_id: "sign-b".into(),
            name: plan.name.clone(),
            sign_time: Some(ts(server.clock.now())),
            signatory: "Jo Bloggs, Finance Director".into(),
        })
        .await
        .expect("signed");
    server.clock.advance(Duration::minutes(1));
    pay(server, &b, "GBP", 1_000, "P-1").await;

    let rejected = dispute(server, &a, "INV-2").await;
    resolve(server, &rejected, pb::DisputeState::Rejected).await;
    // The keeper takes the book of the day that ended last, once, whichever pass finds it first.
    let tomorrow = server.clock.now() + Duration::days(1);
    let kept = |at| recoup_server::report::keep_once(&server.store, &policy.reporting, at);
    let (_, taken) = kept(tomorrow).await.expect("a keeper's pass");
    let (_, again) = kept(tomorrow).await.expect("the next pass");
    assert_eq!((taken, again), (true, false), "D's book is taken once");
    let upheld = dispute(server, &c, "E-1").await;
    server.clock.advance(Duration::days(3));
    resolve(server, &upheld, pb::DisputeState::Upheld).await;
    // A day later R-D's and R-F's promises are past their date and grace (3 days).
    server.clock.advance(Duration::days(1));
    let judged = recoup_server::promises::announce_once(&server.store, &policy, server.clock.now())
        .await
        .unwrap();
    assert_eq!(judged, 2, "R-D's partly kept, R-F's broken");
}

async fn inbound(server: &TestServer, parent: &str, minutes_ago: i64, outcome: Outcome) {
    CallServiceClient::new(server.as_role(Role::Agent))
        .record_call_outcome(pb::RecordCallOutcomeRequest {
            request_id: format!("inbound-{parent}"),
            parent: parent.into(),
            call: Some(pb::CallRecord {
                direction: pb::CallDirection::Inbound as i32,
                start_time: Some(ts(crate::now() - Duration::minutes(minutes_ago))),
                contact_name: "Alex Ledger".into(),
                right_party_contact: true,
                outcome: Some(outcome),
                ..Default::default()
            }),
        })
        .await
        .expect("inbound call recorded");
}

#[tokio::test]
async fn every_figure_matches_the_hand_computed_history_on_both_backends() {
    for db in TestDb::all().await {
        let server = start(db).await;
        history(&server).await;
        let d = day();
        let week = d + Days::new(6);
        let m = |x: &Option<pb::Money>| crate::text(x);
        let c3 = |a: (&str, &str, i64)| (a.0.to_owned(), a.1.to_owned(), a.2);

        let r = kpis(&server, d, week, pb::KpiGrouping::None).await;
        assert_eq!(r.time_zone, "Europe/London");
        assert_eq!(r.attribution_days, 7);
        assert!(r.groups.is_empty());
        let t = r.total.as_ref().unwrap();
        assert_eq!(t.period_start, Some(date(d)));
        assert_eq!(t.period_end, Some(date(week)));
        assert_eq!(
            counted(&t.collected),
            [
                c3(("EUR", "EUR 100.00", 1)),
                c3(("GBP", "GBP 1,300.00", 2)),
                c3(("USD", "USD 50.00", 1))
            ]
        );
        assert_eq!(
            counted(&t.collected_on_promise),
            [c3(("GBP", "GBP 300.00", 1)), c3(("USD", "USD 50.00", 1))]
        );
        assert_eq!(counted(&t.collected_on_plan), one("GBP", "GBP 1,000.00", 1));
        assert_eq!((t.outbound_attempts, t.right_party_contacts), (3, 1));
        assert_eq!(t.right_party_contact_rate, "0.3333");
        // The agent's day: 4 calls, N−60m to N−25m (2,100 s); the supervisor's: one call, no
        // time. 2,100 / 3,600 = 0.5833 hours; 5 calls / 0.58333… hours = 8.5714.
        assert_eq!(t.calls_worked, 5);
        assert_eq!(t.hours_worked, "0.5833");
        assert_eq!(t.calls_per_agent_hour, "8.5714");
        assert_eq!(
            counted(&t.promises_made),
            [
                c3(("CHF", "CHF 150.00", 1)),
                c3(("GBP", "GBP 300.00", 1)),
                c3(("USD", "USD 200.00", 1))
            ]
        );
        assert_eq!(counted(&t.promises_kept), one("GBP", "GBP 300.00", 1));
        assert_eq!(
            counted(&t.promises_partly_kept),
            one("USD", "USD 200.00", 1)
        );
        assert_eq!(counted(&t.promises_broken), one("CHF", "CHF 150.00", 1));
        assert_eq!(t.promise_kept_rate, "0.3333", "1 kept of 3 judged");
        let by_amount: Vec<_> = t
            .promise_kept_rate_by_amount
            .iter()
            .map(|r| (r.currency_code.as_str(), r.rate.as_str()))
            .collect();
        // Paid towards them: CHF 0 of 150, GBP 300 of 300, USD 50 of 200.
        assert_eq!(
            by_amount,
            [("CHF", "0.0000"), ("GBP", "1.0000"), ("USD", "0.2500")]
        );
        assert_eq!(
            (
                t.plans_created,
                t.plans_approved,
                t.plans_signed,
                t.plans_completed,
                t.plans_broken
            ),
            (1, 1, 1, 0, 0)
        );
        assert_eq!(
            (t.disputes_raised, t.disputes_upheld, t.disputes_rejected),
            (2, 1, 1)
        );
        assert_eq!(t.median_days_to_resolve, "1.5", "(0 + 3) / 2");
        assert_eq!(breaches(t), [(pb::ContactBlockReason::Unclaimed, 3)]);

        // The book at D's end (taken after step 4). GBP: R-A £200 + £250 in 1–30; R-B £3,000
        // over 90 and £2,000 in 1–30, all under plan; R-E £900 in 61–90 and £100 disputed, all
        // with an agency. Sales, invoices issued since D−89: £500 + £250 + £2,000 + £100 (A-1 was
        // issued on D−100). EUR: €700 in 31–60, €200 current; sales €1,000. USD: $550 in 1–30,
        // sales $600. CHF: CHF 400 in 1–30, sales CHF 400.
        let book = t.book.as_ref().expect("the book at D's end");
        assert_eq!(book.as_of, Some(date(d)));
        let [chf, eur, gbp, usd] = &book.currencies[..] else {
            panic!("four currencies: {book:?}")
        };
        assert_eq!(
            [
                &gbp.receivables,
                &gbp.current,
                &gbp.days_1_to_30,
                &gbp.days_31_to_60,
                &gbp.days_61_to_90,
                &gbp.days_over_90,
                &gbp.disputed,
                &gbp.with_agency,
                &gbp.under_plan,
                &gbp.sales_90_days
            ]
            .map(m),
            [
                "GBP 6,450.00",
                "GBP 0.00",
                "GBP 2,450.00",
                "GBP 0.00",
                "GBP 900.00",
                "GBP 3,000.00",
                "GBP 100.00",
                "GBP 1,000.00",
                "GBP 5,000.00",
                "GBP 2,850.00"
            ]
        );
        // 6,450 / 2,850 × 90 = 203.684…; current 0; ADD = DSO − 0.
        assert_eq!(
            (
                gbp.dso.as_str(),
                gbp.best_possible_dso.as_str(),
                gbp.average_days_delinquent.as_str()
            ),
            ("203.68", "0.00", "203.68")
        );
        assert_eq!(
            [
                &eur.receivables,
                &eur.current,
                &eur.days_31_to_60,
                &eur.sales_90_days
            ]
            .map(m),
            ["EUR 900.00", "EUR 200.00", "EUR 700.00", "EUR 1,000.00"]
        );
        // 900 / 1,000 × 90 = 81; 200 / 1,000 × 90 = 18; 81 − 18 = 63.
        assert_eq!(
            (
                eur.dso.as_str(),
                eur.best_possible_dso.as_str(),
                eur.average_days_delinquent.as_str()
            ),
            ("81.00", "18.00", "63.00")
        );
        // 550 / 600 × 90 = 82.5; 400 / 400 × 90 = 90.
        assert_eq!(
            (m(&usd.days_1_to_30), usd.dso.as_str()),
            ("USD 550.00".into(), "82.50")
        );
        assert_eq!(
            (m(&chf.days_1_to_30), chf.dso.as_str()),
            ("CHF 400.00".into(), "90.00")
        );

        let r = kpis(&server, d, week, pb::KpiGrouping::Agent).await;
        let keys: Vec<_> = r.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["", "test-agent", "test-supervisor"]);
        let nobody = group(&r, "");
        assert_eq!(counted(&nobody.collected), one("EUR", "EUR 100.00", 1));
        assert_eq!(nobody.outbound_attempts, 0);
        let agent = group(&r, "test-agent");
        assert_eq!(
            counted(&agent.collected),
            [c3(("GBP", "GBP 1,300.00", 2)), c3(("USD", "USD 50.00", 1))]
        );
        assert_eq!(
            (agent.outbound_attempts, agent.right_party_contacts),
            (2, 1)
        );
        assert_eq!(agent.right_party_contact_rate, "0.5000");
        // 4 calls / 0.58333… hours.
        assert_eq!(
            (agent.calls_worked, agent.calls_per_agent_hour.as_str()),
            (4, "6.8571")
        );
        assert_eq!(
            (
                agent.plans_created,
                agent.plans_approved,
                agent.plans_signed,
                agent.disputes_raised
            ),
            (1, 0, 1, 2)
        );
        assert_eq!(agent.promise_kept_rate, "0.3333");
        assert_eq!(breaches(agent), [(pb::ContactBlockReason::Unclaimed, 2)]);
        assert!(agent.book.is_none(), "no book by agent");
        let supervisor = group(&r, "test-supervisor");
        assert_eq!(supervisor.right_party_contact_rate, "0.0000");
        assert_eq!(
            (supervisor.calls_worked, supervisor.hours_worked.as_str()),
            (1, "0.0000")
        );
        assert_eq!(supervisor.calls_per_agent_hour, "", "no hours, no rate");
        assert_eq!(supervisor.plans_approved, 1);
        assert_eq!(
            (supervisor.disputes_upheld, supervisor.disputes_rejected),
            (1, 1)
        );
        assert_eq!(supervisor.median_days_to_resolve, "1.5");
        assert_eq!(
            breaches(supervisor),
            [(pb::ContactBlockReason::Unclaimed, 1)]
        );

        let r = kpis(&server, d, week, pb::KpiGrouping::Queue).await;
        let north = group(&r, "north");
        assert_eq!(
            counted(&north.collected_on_plan),
            one("GBP", "GBP 1,000.00", 1)
        );
        assert_eq!((north.outbound_attempts, north.plans_created), (1, 1));
        assert_eq!(north.calls_worked, 0, "agent days are not by queue");
        let north_book = north.book.as_ref().unwrap();
        assert_eq!(north_book.currencies.len(), 1);
        // R-B £5,000 and R-E £1,000.
        assert_eq!(
            [
                &north_book.currencies[0].receivables,
                &north_book.currencies[0].with_agency
            ]
            .map(m),
            ["GBP 6,000.00", "GBP 1,000.00"]
        );
        let default = group(&r, "default");
        assert_eq!(
            counted(&default.collected_on_promise),
            [c3(("GBP", "GBP 300.00", 1)), c3(("USD", "USD 50.00", 1))]
        );
        assert_eq!(default.outbound_attempts, 2);

        let r = kpis(&server, d, week, pb::KpiGrouping::Currency).await;
        let eur = group(&r, "EUR");
        assert_eq!(
            (
                eur.outbound_attempts,
                eur.disputes_raised,
                eur.disputes_upheld
            ),
            (1, 1, 1)
        );
        assert_eq!(eur.median_days_to_resolve, "3.0");
        assert_eq!(group(&r, "GBP").median_days_to_resolve, "0.0");
        assert_eq!(group(&r, "CHF").promise_kept_rate, "0.0000");
        assert_eq!(
            group(&r, "USD").promise_kept_rate,
            "0.0000",
            "partly is not kept"
        );

        let r = kpis(&server, d, week, pb::KpiGrouping::Day).await;
        assert_eq!(r.groups.len(), 7, "every day of the period, empty ones too");
        assert_eq!(r.groups[0].key, d.to_string());
        assert_eq!(r.groups[0].outbound_attempts, 3);
        assert_eq!(counted(&r.groups[0].promises_kept).len(), 1);
        assert_eq!(r.groups[0].book.as_ref().unwrap().as_of, Some(date(d)));
        let resolved = &r.groups[3];
        assert_eq!(resolved.key, (d + Days::new(3)).to_string());
        assert_eq!(
            (resolved.disputes_upheld, resolved.outbound_attempts),
            (1, 0)
        );
        assert_eq!(
            resolved.book.as_ref().unwrap().as_of,
            Some(date(d)),
            "the latest book"
        );
        let judged = &r.groups[4];
        assert_eq!(
            (
                judged.promises_partly_kept.len(),
                judged.promises_broken.len(),
                judged.promise_kept_rate.as_str()
            ),
            (1, 1, "0.0000")
        );

        // A period that ends before anything happened has nothing, and no book.
        let before = kpis(
            &server,
            d - Days::new(10),
            d - Days::new(1),
            pb::KpiGrouping::None,
        )
        .await;
        let t = before.total.unwrap();
        assert!(t.collected.is_empty() && t.outbound_attempts == 0 && t.book.is_none());

        // The report folded what the feed holds: the rollup equals the records.
        let policy = every_day().reporting;
        assert_eq!(
            server.store.report_stored().await.unwrap(),
            server.store.report_recomputed(&policy).await.unwrap()
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn the_export_prints_the_rpcs_figures() {
    let db = TestDb::sqlite();
    let server = start(db).await;
    history(&server).await;
    let (from, to) = (day() - Days::new(3), day() + Days::new(10));
    for (grouping, flag) in [
        (pb::KpiGrouping::Agent, "agent"),
        (pb::KpiGrouping::Week, "week"),
    ] {
        let mut rpc = kpis(&server, from, to, grouping).await;
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_recoupd"))
            .args(["report", "--database-url", &server.db.url])
            .args(["--from", &from.to_string(), "--to", &to.to_string()])
            .args(["--group-by", flag, "--format", "json"])
            .env("RECOUP_LOG", "warn")
            .output()
            .expect("run recoupd report");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut printed: pb::GetKpisResponse =
            recoup_server::convert::json::from_json("recoup.v1.GetKpisResponse", &out.stdout)
                .expect("proto3 JSON");
        printed.as_of = None;
        rpc.as_of = None;
        assert_eq!(printed, rpc);

        let csv = std::process::Command::new(env!("CARGO_BIN_EXE_recoupd"))
            .args(["report", "--database-url", &server.db.url])
            .args(["--from", &from.to_string(), "--to", &to.to_string()])
            .args(["--group-by", flag])
            .output()
            .expect("run recoupd report");
        assert!(csv.status.success());
        let csv = String::from_utf8(csv.stdout).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "group,period_start,period_end,figure,currency,value"
        );
        let total = recoup_server::report::csv(&rpc);
        assert_eq!(csv, total, "the CSV is the RPC's figures");
        let period = format!("{from},{to}");
        assert!(
            lines.contains(&format!("total,{period},collected,GBP,1300.00").as_str()),
            "{csv}"
        );
        assert!(lines.contains(&format!("total,{period},collected_count,GBP,2").as_str()));
        assert!(
            lines.contains(&format!("total,{period},rule_breaches.unclaimed,,3").as_str()),
            "{csv}"
        );
    }
    // The RPC's rules, named as flags.
    for (from, to, says) in [
        (to, from, "--to is before --from"),
        (
            from,
            from + Days::new(4000),
            "--to is more than 3660 days after --from",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_recoupd"))
            .args(["report", "--database-url", &server.db.url])
            .args(["--from", &from.to_string(), "--to", &to.to_string()])
            .output()
            .expect("run recoupd report");
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{says}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_name_each_field_and_agents_may_not_ask() {
    let server = start(TestDb::sqlite()).await;
    let mut client = ReportingServiceClient::new(server.as_role(Role::Supervisor));
    let ask = |from: Option<pb::Date>, to: Option<pb::Date>, zone: &str, group_by: i32| {
        pb::GetKpisRequest {
            from_date: from,
            to_date: to,
            group_by,
            time_zone: zone.into(),
        }
    };
    let d = date(day());
    let cases = [
        (ask(None, Some(d), "", 0), vec!["from_date"]),
        (
            ask(Some(d), Some(crate::ymd(2026, 2, 30)), "", 0),
            vec!["to_date"],
        ),
        (
            ask(Some(d), Some(date(day() - Days::new(1))), "", 0),
            vec!["to_date"],
        ),
        (
            ask(Some(d), Some(date(day() + Days::new(4000))), "", 0),
            vec!["to_date"],
        ),
        (
            ask(Some(d), Some(d), "America/New_York", 0),
            vec!["time_zone"],
        ),
        (ask(Some(d), Some(d), "", 99), vec!["group_by"]),
    ];
    for (request, fields) in cases {
        let status = client.get_kpis(request).await.unwrap_err();
        assert_eq!(bad_fields(&status), fields);
    }
    // Naming the reporting zone is fine.
    client
        .get_kpis(ask(Some(d), Some(d), "Europe/London", 0))
        .await
        .expect("the reporting zone");
    for role in [Role::Agent, Role::Integration] {
        let status = ReportingServiceClient::new(server.as_role(role))
            .get_kpis(ask(Some(d), Some(d), "", 0))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{role}");
    }
    ReportingServiceClient::new(server.as_role(Role::Admin))
        .get_kpis(ask(Some(d), Some(d), "", 0))
        .await
        .expect("admins read the report");
    server.stop().await;
}

/// A small deterministic generator, so a failing history can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Random histories (calls with and without promises by two people, corrections, payments,
/// disputes raised and resolved, plans agreed and signed, promise and plan judgements, days
/// passing), with the rollup folded at random moments between them: at the end it equals the
/// facts recomputed from the records, on both backends.
#[tokio::test]
async fn the_rollup_equals_a_recomputation_after_randomized_histories() {
    let policy = every_day();
    for (seed, db) in [0x9e37_79b9_u64, 0x2545_f491]
        .into_iter()
        .zip(TestDb::all().await)
    {
        let backend = db.backend;
        // The server's own keeper is off; a task here folds in its place, racing the folds the
        // history makes, and stops before the settings change below.
        let options = ServeOptions {
            policy: Arc::new(every_day()),
            report_interval: std::time::Duration::ZERO,
            ..ServeOptions::default()
        };
        let server = TestServer::start_with(db, &options).await;
        let keeper = tokio::spawn({
            let store = server.store.clone();
            let policy = policy.reporting;
            async move {
                loop {
                    store.fold_report(&policy).await.unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis(7)).await;
                }
            }
        });
        let mut rng = Rng(seed);
        let d = day();
        let mut accounts = Vec::new();
        for (i, (code, queue)) in [
            ("GBP", "default"),
            ("GBP", "north"),
            ("EUR", "default"),
            ("EUR", "north"),
        ]
        .into_iter()
        .enumerate()
        {
            let invoices = (0..3)
                .map(|n| {
                    invoice(
                        &format!("I{n}"),
                        d - Days::new(10 + 25 * n),
                        money(code, 400 + 100 * n as i64, 0),
                    )
                })
                .collect();
            let name = owing(&server, &format!("RND-{i}"), code, queue, invoices).await;
            accounts.push((name, code));
        }
        let mut calls: Vec<(usize, String)> = Vec::new();
        let mut disputes: Vec<String> = Vec::new();
        let mut plans: Vec<String> = Vec::new();
        let mut folds = 0;
        for step in 0..90 {
            let n = rng.below(accounts.len() as u64) as usize;
            let (parent, code) = accounts[n].clone();
            let role = if rng.below(3) == 0 {
                Role::Supervisor
            } else {
                Role::Agent
            };
            match rng.below(10) {
                0 | 1 => {
                    let outcome = if rng.below(2) == 0 {
                        Outcome::PromiseToPay(pb::PromiseToPay {
                            amount: Some(money(code, 10 + rng.below(200) as i64, 0)),
                            promise_date: Some(date(
                                crate::london_today_at(server.clock.now())
                                    + Days::new(rng.below(5)),
                            )),
                            ..Default::default()
                        })
                    } else {
                        Outcome::NoAnswer(pb::NoAnswer {})
                    };
                    let direction = if rng.below(4) == 0 {
                        pb::CallDirection::Inbound
                    } else {
                        pb::CallDirection::Outbound
                    };
                    let record = CallServiceClient::new(server.as_role(role))
                        .record_call_outcome(pb::RecordCallOutcomeRequest {
                            request_id: format!("rnd-call-{step}"),
                            parent: parent.clone(),
                            call: Some(pb::CallRecord {
                                direction: direction as i32,
                                start_time: Some(ts(server.clock.now()
                                    - Duration::minutes(1 + rng.below(120) as i64))),
                                contact_name: "Alex Ledger".into(),
                                right_party_contact: rng.below(2) == 0,
                                outcome: Some(outcome),
                                ..Default::default()
                            }),
                        })
                        .await;
                    if let Ok(r) = record {
                        calls.push((n, r.into_inner().name));
                    }
                }
                2 if !calls.is_empty() => {
                    let (n, original) = calls[rng.below(calls.len() as u64) as usize].clone();
                    let fixed = CallServiceClient::new(server.as_role(role))
                        .record_call_outcome(pb::RecordCallOutcomeRequest {
                            request_id: format!("rnd-fix-{step}"),
                            parent: accounts[n].0.clone(),
                            call: Some(pb::CallRecord {
                                direction: pb::CallDirection::Outbound as i32,
                                start_time: Some(ts(server.clock.now() - Duration::minutes(3))),
                                contact_name: "Alex Ledger".into(),
                                right_party_contact: true,
                                outcome: Some(Outcome::WrongParty(pb::WrongParty {})),
                                corrects: original,
                                correction_reason: "wrong outcome picked".into(),
                                ..Default::default()
                            }),
                        })
                        .await;
                    if let Ok(r) = fixed {
                        calls.push((n, r.into_inner().name));
                    }
                }
                3 | 4 => {
                    let _ = server
                        .accounts()
                        .record_payment(pb::RecordPaymentRequest {
                            request_id: format!("rnd-pay-{step}"),
                            parent,
                            payment: Some(pb::Payment {
                                amount: Some(money(code, 1 + rng.below(150) as i64, 0)),
                                payment_date: Some(date(crate::london_today_at(
                                    server.clock.now(),
                                ))),
                                reference: "BACS".into(),
                                ..Default::default()
                            }),
                        })
                        .await;
                }
                5 => {
                    let raised = crate::AccountServiceClient::new(server.as_role(Role::Agent))
                        .raise_dispute(pb::RaiseDisputeRequest {
                            request_id: format!("rnd-dispute-{step}"),
                            parent,
                            dispute: Some(pb::Dispute {
                                invoice_numbers: vec![format!("I{}", rng.below(3))],
                                reason: "wrong rate".into(),
                                ..Default::default()
                            }),
                        })
                        .await;
                    if let Ok(r) = raised {
                        disputes.push(r.into_inner().name);
                    }
                }
                6 if !disputes.is_empty() => {
                    let name = disputes.swap_remove(rng.below(disputes.len() as u64) as usize);
                    let outcome = if rng.below(2) == 0 {
                        pb::DisputeState::Upheld
                    } else {
                        pb::DisputeState::Rejected
                    };
                    let _ = crate::AccountServiceClient::new(server.as_role(Role::Supervisor))
                        .resolve_dispute(pb::ResolveDisputeRequest {
                            request_id: format!("rnd-resolve-{step}"),
                            name,
                            outcome: outcome as i32,
                            resolution: "checked".into(),
                        })
                        .await;
                }
                7 => {
                    let mut client = PlanServiceClient::new(server.as_role(Role::Agent));
                    let created = client
                        .create_plan(pb::CreatePlanRequest {
                            request_id: format!("rnd-plan-{step}"),
                            parent,
                            proposal: Some(pb::PlanProposal {
                                kind: pb::PlanKind::Instalments as i32,
                                instalment_amount: Some(money(code, 150, 0)),
                                frequency: pb::Frequency::Weekly as i32,
                                first_payment_date: Some(date(
                                    crate::london_today_at(server.clock.now()) + Days::new(1),
                                )),
                                ..Default::default()
                            }),
                            supersede_reason: "terms changed".into(),
                            etag: String::new(),
                        })
                        .await;
                    if let Ok(p) = created {
                        plans.push(p.into_inner().name);
                    }
                    if !plans.is_empty() && rng.below(2) == 0 {
                        let name = plans[rng.below(plans.len() as u64) as usize].clone();
                        let _ = client
                            .record_plan_signature(pb::RecordPlanSignatureRequest {
                                request_id: format!("rnd-sign-{step}"),
                                name,
                                sign_time: Some(ts(server.clock.now() - Duration::minutes(1))),
                                signatory: "Jo Bloggs".into(),
                            })
                            .await;
                    }
                }
                8 => {
                    let now = server.clock.now();
                    recoup_server::promises::announce_once(&server.store, &policy, now)
                        .await
                        .unwrap();
                    recoup_server::plan_tracking::announce_once(&server.store, &policy, now)
                        .await
                        .unwrap();
                    server
                        .clock
                        .advance(Duration::hours(1 + rng.below(40) as i64));
                }
                _ => {
                    folds +=
                        usize::from(server.store.fold_report(&policy.reporting).await.unwrap() > 0);
                }
            }
        }
        keeper.abort();
        let _ = keeper.await;
        server
            .store
            .fold_report_all(&policy.reporting)
            .await
            .unwrap();
        let (stored, recomputed) = (
            server.store.report_stored().await.unwrap(),
            server
                .store
                .report_recomputed(&policy.reporting)
                .await
                .unwrap(),
        );
        let measures: std::collections::BTreeSet<_> =
            stored.0.0.keys().map(|k| k.measure.as_str()).collect();
        eprintln!(
            "{backend}: seed {seed:#x}, {} facts, {} agent days, {folds} folds mid-history, measures {measures:?}",
            stored.0.0.len(),
            stored.1.len()
        );
        assert!(
            measures.len() >= 8,
            "the history exercised few measures: {measures:?}"
        );
        let differ: Vec<_> = stored
            .0
            .0
            .iter()
            .filter(|(k, t)| recomputed.0.0.get(k) != Some(t))
            .chain(
                recomputed
                    .0
                    .0
                    .iter()
                    .filter(|(k, _)| !stored.0.0.contains_key(k)),
            )
            .collect();
        assert!(
            differ.is_empty(),
            "{backend}, seed {seed:#x}: differ at {differ:?}"
        );
        assert_eq!(stored.1, recomputed.1, "{backend}: agent days");

        // New reporting settings count the rollup again, from the first event, under them.
        let other = recoup_domain::policy::ReportingPolicy {
            time_zone: chrono_tz::Asia::Tokyo,
            attribution_days: 2,
        };
        let events = server.store.report_lag(&other).await.unwrap();
        assert!(events > 0);
        assert_eq!(
            server.store.fold_report_all(&other).await.unwrap() as i64,
            events
        );
        let again = server.store.report_stored().await.unwrap();
        assert_ne!(again, stored, "{backend}: Tokyo's days are not London's");
        assert_eq!(
            again,
            server.store.report_recomputed(&other).await.unwrap(),
            "{backend}"
        );
        server.stop().await;
    }
}

/// Plans that end: on D the agent agrees a plan of one £300 payment on each of two accounts, P-A's
/// due D+3 and P-B's due D, and both are signed; £300 is paid on P-A, which the tracking pass then
/// records completed on D; P-B's payment never comes, so six days on (past D and the 5 days' grace)
/// the pass records it broken, on D+6. Both backends.
#[tokio::test]
async fn plans_that_end_are_counted_on_the_day_they_end() {
    for db in TestDb::all().await {
        let server = start(db).await;
        let d = day();
        let policy = every_day();
        let mut plans = PlanServiceClient::new(server.as_role(Role::Agent));
        let mut names = Vec::new();
        for (reference, by) in [("P-A", d + Days::new(3)), ("P-B", d)] {
            let parent = owing(
                &server,
                reference,
                "GBP",
                "default",
                vec![invoice("S-1", d - Days::new(10), money("GBP", 300, 0))],
            )
            .await;
            let plan = plans
                .create_plan(pb::CreatePlanRequest {
                    request_id: format!("plan-{reference}"),
                    parent: parent.clone(),
                    proposal: Some(pb::PlanProposal {
                        kind: pb::PlanKind::Instalments as i32,
                        instalment_amount: Some(money("GBP", 300, 0)),
                        frequency: pb::Frequency::Weekly as i32,
                        first_payment_date: Some(date(by)),
                        ..Default::default()
                    }),
                    supersede_reason: String::new(),
                    etag: String::new(),
                })
                .await
                .expect("plan created")
                .into_inner();
            assert_eq!(
                (crate::text(&plan.total), plan.schedule.len()),
                ("GBP 300.00".to_owned(), 1)
            );
            plans
                .record_plan_signature(pb::RecordPlanSignatureRequest {
                    request_id: format!("sign-{reference}"),
                    name: plan.name.clone(),
                    sign_time: Some(ts(server.clock.now())),
                    signatory: "Jo Bloggs".into(),
                })
                .await
                .expect("signed");
            names.push(parent);
        }
        server.clock.advance(Duration::minutes(1));
        pay(&server, &names[0], "GBP", 300, "S-1").await;
        let ended =
            recoup_server::plan_tracking::announce_once(&server.store, &policy, server.clock.now())
                .await
                .unwrap();
        assert_eq!(ended, 1, "P-A completed");
        server.clock.advance(Duration::days(6));
        let ended =
            recoup_server::plan_tracking::announce_once(&server.store, &policy, server.clock.now())
                .await
                .unwrap();
        assert_eq!(ended, 1, "P-B broken");

        let week = d + Days::new(6);
        let r = kpis(&server, d, week, pb::KpiGrouping::None).await;
        let t = r.total.unwrap();
        assert_eq!(
            (
                t.plans_created,
                t.plans_approved,
                t.plans_signed,
                t.plans_completed,
                t.plans_broken
            ),
            (2, 0, 2, 1, 1)
        );
        assert_eq!(counted(&t.collected_on_plan), one("GBP", "GBP 300.00", 1));
        let r = kpis(&server, d, week, pb::KpiGrouping::Day).await;
        let on = |i: usize| (r.groups[i].plans_completed, r.groups[i].plans_broken);
        assert_eq!((on(0), on(6)), ((1, 0), (0, 1)), "each on the day it ended");
        assert_eq!(
            server.store.report_stored().await.unwrap(),
            server
                .store
                .report_recomputed(&policy.reporting)
                .await
                .unwrap()
        );
        server.stop().await;
    }
}
