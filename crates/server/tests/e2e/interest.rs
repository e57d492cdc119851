//! Statutory late-payment interest in the FULL view, as an agent reads it before a call: per invoice,
//! with its rate and how it accrued, to today in the debtor's zone. The boundary cases are the
//! domain's hand-computed tests; here the figures are recomputed independently from the law's formula.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use recoup_domain::policy::Policy;
use recoup_proto::v1 as pb;
use recoup_server::server::ServeOptions;
use recoup_store::testkit::TestDb;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::{TestServer, account, date, get_full, import, invoice, money, text};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// principal × rate% × days / 365, summed over periods and rounded once, half away from zero.
fn law(periods: &[(&str, Decimal, i64)]) -> String {
    let exact: Decimal = periods
        .iter()
        .map(|(p, rate, days)| dec(p) * rate * Decimal::from(*days) / dec("100") / dec("365"))
        .sum();
    format!(
        "{:.2}",
        exact.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    )
}

/// The amount's digits, two decimals, no grouping ("1537.67"), as `expected` writes them.
fn amount(m: &Option<pb::Money>) -> String {
    let m = m.as_ref().expect("money");
    let money = recoup_domain::Money::from_parts(&m.currency_code, m.units, m.nanos).unwrap();
    format!("{:.2}", money.amount())
}

fn today_in(tz: chrono_tz::Tz) -> NaiveDate {
    crate::now().with_timezone(&tz).date_naive()
}

fn days(from: &str, to: NaiveDate) -> i64 {
    (to - d(from)).num_days() + 1
}

async fn uk_book(server: &TestServer) -> String {
    let today = today_in(chrono_tz::Europe::London);
    let mut credited = invoice("B", d("2025-07-31"), money("GBP", 1_200, 0));
    credited.adjustments.push(pb::InvoiceAdjustment {
        reference: "CN-1".into(),
        kind: pb::AdjustmentKind::CreditNote as i32,
        amount: Some(money("GBP", 300, 0)),
        date: Some(date(d("2025-08-05"))),
        reason: "Short delivery".into(),
    });
    let mut disputed = invoice("C", d("2025-01-31"), money("GBP", 500, 0));
    disputed.disputed = true;
    disputed.dispute_reason = "Wrong goods".into();
    let not_due = invoice("D", today + chrono::Days::new(10), money("GBP", 80, 0));
    let mut client = server.accounts();
    import(
        &mut client,
        "uk",
        vec![account(
            "INT-UK",
            vec![
                invoice("A", d("2025-01-31"), money("GBP", 2_000, 0)),
                credited,
                disputed,
                not_due,
            ],
        )],
    )
    .await
    .unwrap();
    let name = crate::get(&mut client, "INT-UK").await.name;
    client
        .record_payment(pb::RecordPaymentRequest {
            request_id: "part".into(),
            parent: name.clone(),
            payment: Some(pb::Payment {
                amount: Some(money("GBP", 500, 0)),
                payment_date: Some(date(d("2025-03-03"))),
                reference: "BACS".into(),
                invoice_numbers: vec!["A".into()],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    name
}

#[tokio::test]
async fn uk_interest_per_invoice_with_its_fixed_rate_part_payments_and_credit_notes() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let name = uk_book(&server).await;
        let today = today_in(chrono_tz::Europe::London);
        let si = get_full(&server, &name)
            .await
            .statutory_interest
            .expect("interest on an overdue UK account");
        assert_eq!(
            si.jurisdiction,
            "UK Late Payment of Commercial Debts (Interest) Act 1998"
        );
        assert_eq!(si.computed_to, Some(date(today)));
        assert!(
            si.rate_source
                .starts_with("Bank of England Bank Rate + 8 points; history known to")
        );
        // Disputed C and not-yet-due D carry none.
        let numbers: Vec<&str> = si
            .invoices
            .iter()
            .map(|i| i.invoice_number.as_str())
            .collect();
        assert_eq!(numbers, ["A", "B"], "{backend}");

        // A: £2,000.00 due 31 Jan 2025 → 12.75% (base rate 4.75 on 31 Dec 2024) for life;
        // 30 days on 2,000 until the £500 payment of 3 Mar, then 1,500 to today.
        let a = &si.invoices[0];
        assert_eq!(a.annual_rate_percent, "12.75");
        let shape: Vec<(i32, String)> = a
            .periods
            .iter()
            .map(|p| (p.days, amount(&p.principal)))
            .collect();
        let rest = days("2025-03-03", today);
        assert_eq!(
            shape,
            [(30, "2000.00".into()), (rest as i32, "1500.00".into())]
        );
        let expected_a = law(&[("2000", dec("12.75"), 30), ("1500", dec("12.75"), rest)]);
        assert_eq!(amount(&a.interest), expected_a, "{backend}");
        assert_eq!(text(&a.compensation), "GBP 70.00");

        // B: £1,200.00 less a £300.00 credit note, due 31 Jul 2025 → 12.25% (4.25 on 30 Jun 2025).
        let b = &si.invoices[1];
        assert_eq!(b.annual_rate_percent, "12.25");
        let expected_b = law(&[("900", dec("12.25"), days("2025-08-01", today))]);
        assert_eq!(amount(&b.interest), expected_b);
        assert_eq!(
            text(&b.compensation),
            "GBP 40.00",
            "under £1,000 once credited"
        );

        let total = dec(&expected_a) + dec(&expected_b);
        assert_eq!(amount(&si.interest), format!("{total:.2}"));
        assert_eq!(text(&si.compensation), "GBP 110.00");
        server.stop().await;
    }
}

#[tokio::test]
async fn eu_interest_re_rates_each_half_year() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let mut a = account(
            "INT-FR",
            vec![invoice("F-1", d("2025-05-31"), money("EUR", 10_000, 0))],
        );
        a.country_code = "FR".into();
        a.time_zone = "Europe/Paris".into();
        a.currency_code = "EUR".into();
        let mut client = server.accounts();
        import(&mut client, "fr", vec![a]).await.unwrap();
        let name = crate::get(&mut client, "INT-FR").await.name;
        let today = today_in(chrono_tz::Europe::Paris);
        let si = get_full(&server, &name).await.statutory_interest.unwrap();
        assert_eq!(
            si.jurisdiction,
            "EU Directive 2011/7/EU on combating late payment"
        );
        let inv = &si.invoices[0];
        // June 2025 at the ECB rate of 1 Jan 2025 (3.15) + 8; from 1 Jul 2025 at 2.15 + 8; each
        // later half-year at the rate on its first day (2.15 while the history knows no change).
        let mut expected = vec![("10000", dec("11.15"), 30)];
        let mut start = d("2025-07-01");
        while start <= today {
            let next = if start.month() == 1 {
                NaiveDate::from_ymd_opt(start.year(), 7, 1).unwrap()
            } else {
                NaiveDate::from_ymd_opt(start.year() + 1, 1, 1).unwrap()
            };
            let end = (next - chrono::Days::new(1)).min(today);
            expected.push(("10000", dec("10.15"), (end - start).num_days() + 1));
            start = next;
        }
        let shape: Vec<(i32, String)> = inv
            .periods
            .iter()
            .map(|p| (p.days, p.annual_rate_percent.clone()))
            .collect();
        let want: Vec<(i32, String)> = expected
            .iter()
            .map(|(_, r, n)| (*n as i32, r.to_string()))
            .collect();
        assert_eq!(shape, want, "{backend}");
        assert_eq!(amount(&inv.interest), law(&expected));
        assert_eq!(text(&inv.compensation), "EUR 40.00");
        server.stop().await;
    }
}

#[tokio::test]
async fn no_interest_where_no_law_applies_or_it_is_waived() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let overdue = || vec![invoice("X-1", d("2025-01-31"), money("GBP", 700, 0))];
        let mut waived = account("WAIVED", overdue());
        waived.statutory_interest_waived = true;
        let mut american = account(
            "US-1",
            vec![invoice("X-1", d("2025-01-31"), money("USD", 700, 0))],
        );
        american.country_code = "US".into();
        american.time_zone = "America/New_York".into();
        american.currency_code = "USD".into();
        let mut in_euros = account(
            "GB-EUR",
            vec![invoice("X-1", d("2025-01-31"), money("EUR", 700, 0))],
        );
        in_euros.currency_code = "EUR".into();
        let mut client = server.accounts();
        import(
            &mut client,
            "none",
            vec![waived, american, in_euros, account("PLAIN", overdue())],
        )
        .await
        .unwrap();
        for r in ["WAIVED", "US-1", "GB-EUR"] {
            let a = crate::get(&mut client, r).await;
            assert!(a.statutory_interest.is_none(), "{backend}: {r}");
        }
        let plain = crate::get(&mut client, "PLAIN").await;
        assert!(plain.statutory_interest.is_some(), "{backend}");
        assert!(
            crate::get(&mut client, "WAIVED")
                .await
                .statutory_interest_waived
        );
        server.stop().await;
    }
    // Off in the policy: no account shows it.
    let mut policy = Policy::default();
    policy.interest.enabled = false;
    let server = TestServer::start_with(
        TestDb::sqlite(),
        &ServeOptions {
            policy: Arc::new(policy),
            ..ServeOptions::default()
        },
    )
    .await;
    let name = uk_book(&server).await;
    assert!(get_full(&server, &name).await.statutory_interest.is_none());
    server.stop().await;
}

/// 2026: a debt overdue from January takes Bank Rate on 31 December 2025 (3.75%, cut on 18
/// December) + 8 = 11.75%, known; a debt overdue from July takes the rate of 30 June 2026, after
/// the shipped history: the view marks it provisional, and guidance and letters claim the
/// compensation and the law's rate in words, never a figure for it.
#[tokio::test]
async fn interest_in_2026_and_provisional_interest_stated_without_a_figure() {
    use recoup_proto::v1::guidance_service_client::GuidanceServiceClient;
    use recoup_server::auth::Role;
    // Only while the shipped history ends before 30 June 2026 (as shipped in December 2026).
    let history_ends = recoup_domain::interest::ReferenceRates::shipped()
        .uk_base_rate
        .known_to;
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let mut client = server.accounts();
        import(
            &mut client,
            "",
            vec![
                account(
                    "INT-2026-A",
                    vec![invoice("J-1", d("2026-01-15"), money("GBP", 1_000, 0))],
                ),
                account(
                    "INT-2026-B",
                    vec![invoice("L-1", d("2026-07-15"), money("GBP", 9_000, 0))],
                ),
            ],
        )
        .await
        .unwrap();
        let today = today_in(chrono_tz::Europe::London);
        let known = get_full(&server, "accounts/1")
            .await
            .statutory_interest
            .unwrap();
        let j = &known.invoices[0];
        assert_eq!(j.annual_rate_percent, "11.75", "{backend}");
        assert!(!j.provisional && !known.provisional);
        // 1000 × 11.75 / 100 × days / 365, from 16 January 2026 to today.
        assert_eq!(
            amount(&j.interest),
            law(&[("1000", dec("11.75"), days("2026-01-16", today))])
        );
        let later = get_full(&server, "accounts/2")
            .await
            .statutory_interest
            .unwrap();
        let l = &later.invoices[0];
        assert_eq!(l.provisional, d("2026-06-30") > history_ends, "{backend}");
        assert_eq!(later.provisional, l.provisional);
        if !l.provisional {
            server.stop().await;
            continue;
        }
        assert!(l.periods.iter().all(|p| p.provisional));
        let figure = text(&l.interest);
        let mut guidance = GuidanceServiceClient::new(server.as_role(Role::Agent));
        let letter = guidance
            .render_letter(pb::RenderLetterRequest {
                request_id: "provisional".into(),
                parent: "accounts/2".into(),
                kind: pb::LetterKind::FinalNotice as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!letter.body_text.contains(&figure), "{}", letter.body_text);
        assert!(
            letter.body_text.contains("fixed compensation of GBP 70.00")
                && letter
                    .body_text
                    .contains("statutory interest at the rate the law sets"),
            "{}",
            letter.body_text
        );
        let g = guidance
            .get_call_guidance(pb::GetCallGuidanceRequest {
                account: "accounts/2".into(),
                locale: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!g.rendered_text.contains(&figure), "{}", g.rendered_text);
        server.stop().await;
    }
}
