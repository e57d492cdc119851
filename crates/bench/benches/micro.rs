//! Micro-benchmarks of pure rules on the hot paths (criterion). RPC speed is measured by the
//! `recoup-bench run` harness against an echo baseline, not here.

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use recoup_domain::ageing::{OpenItem, summarise};
use recoup_domain::allocation::{InvoiceBalance, allocate};
use recoup_domain::plan::{self, Authority, PlanPolicy, Proposal, Situation};
use recoup_domain::schedule::Frequency;
use recoup_domain::{Currency, Money};

fn rules(c: &mut Criterion) {
    let gbp = Currency::from_code("GBP").unwrap();
    let today: NaiveDate = "2026-11-22".parse().unwrap();
    let invoices: Vec<InvoiceBalance> = (0..20)
        .map(|k| InvoiceBalance {
            id: k,
            number: format!("INV-{k}"),
            issue_date: today - chrono::Days::new(60 + k as u64),
            due_date: today - chrono::Days::new(30 + k as u64),
            outstanding: Money::from_minor(10_000 + k, gbp),
            disputed: k % 7 == 0,
        })
        .collect();
    c.bench_function("allocate_payment_over_20_invoices", |b| {
        b.iter(|| allocate(Money::from_minor(123_456, gbp), &[], &invoices).unwrap())
    });
    let items: Vec<OpenItem> = invoices
        .iter()
        .map(|i| OpenItem {
            due_date: i.due_date,
            outstanding: i.outstanding,
            disputed: i.disputed,
        })
        .collect();
    c.bench_function("summarise_20_open_invoices", |b| {
        b.iter(|| summarise(gbp, today, &items, Money::zero(gbp)))
    });
    // A 12-instalment plan on £6,000.00, judged with its counter-proposals, as ValidatePlan does.
    let situation = Situation {
        balance: Money::from_minor(600_000, gbp),
        oldest_overdue_days: 120,
        today,
        asker: Authority::Agent,
        affordable_monthly: Some(Money::from_minor(80_000, gbp)),
        after_broken_plan: false,
    };
    let proposal = Proposal::Instalments {
        amount: Money::from_minor(50_000, gbp),
        frequency: Frequency::Monthly,
        first: today + chrono::Days::new(7),
    };
    let policy = PlanPolicy::default();
    c.bench_function("validate_12_instalment_plan_with_counter_proposals", |b| {
        b.iter(|| {
            let judged = plan::judge(&proposal, &situation, &policy);
            let counters = plan::counter_proposals(&proposal, &situation, &policy);
            (judged, counters)
        })
    });
    // The written agreement with a 12-line schedule, as CreatePlan renders it.
    let templates = recoup_script::Templates::new(&[]).expect("shipped templates");
    let mut agreement = recoup_script::Agreement::sample();
    agreement.schedule = (1..=12)
        .map(|k| recoup_script::AgreementLine {
            sequence: k,
            due_date: format!("{k} March 2028"),
            amount: "GBP 500.00".into(),
        })
        .collect();
    c.bench_function("render_plan_agreement_12_instalments", |b| {
        b.iter(|| templates.agreement(&agreement).expect("renders"))
    });
    // The whole guidance for a call: every section, then the plain-text and Markdown pages.
    let tone = recoup_script::Tone::Firm;
    let context = recoup_script::CallContext::sample(tone);
    c.bench_function("render_call_guidance_text_and_markdown", |b| {
        b.iter(|| {
            templates
                .guidance(recoup_script::DEFAULT_LOCALE, &context, tone)
                .expect("renders")
        })
    });
}

criterion_group!(benches, rules);
criterion_main!(benches);
