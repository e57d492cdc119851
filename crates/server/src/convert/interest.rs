//! The FULL view's statutory interest, computed from the stored document at read time (so it is
//! always to today) with `domain::interest`.

use chrono::NaiveDate;
use recoup_domain::Money;
use recoup_domain::interest::{self, Accrued, Debt, InterestPolicy, Regime};
use recoup_proto::v1 as pb;
use recoup_store::AccountSnapshot;

use super::{date_out, money_out};

/// Interest and compensation accrued on each of the account's overdue, undisputed invoices to
/// `today` (the debtor's date), with the law that applies; `None` when no law applies or the account
/// or the policy waives it. The one computation the view, plans and guidance read.
fn accrued(
    a: &AccountSnapshot,
    policy: &InterestPolicy,
    today: NaiveDate,
) -> Option<(Regime, Vec<(String, Accrued)>)> {
    if !policy.enabled || a.data.interest_waived {
        return None;
    }
    let regime = Regime::for_country(&a.data.country_code)?;
    if a.data.currency.code() != regime.currency_code() {
        return None;
    }
    let mut out = Vec::new();
    for inv in &a.open_invoices {
        if inv.data.disputed || !inv.outstanding.is_positive() {
            continue;
        }
        let debt = Debt {
            number: &inv.data.number,
            due_date: inv.data.due_date,
            billed: inv.data.amount.with_amount(inv.data.billed()),
            payments: &inv.payments,
        };
        match interest::accrue(regime, &policy.rates, &debt, today) {
            Ok(Some(accrued)) => out.push((inv.data.number.clone(), accrued)),
            Ok(None) => {}
            Err(e) => {
                // Only for debts older than the shipped history (2008 for the UK, 2011 for the EU).
                tracing::warn!(account_id = a.id, invoice = %inv.data.number, ?e, "no reference rate");
            }
        }
    }
    Some((regime, out))
}

/// Statutory interest and fixed compensation in all, with the law that gives them, as (law,
/// interest, compensation), when something accrues (see `statutory_interest_out`).
pub fn statutory_amounts(
    a: &AccountSnapshot,
    policy: &InterestPolicy,
    today: NaiveDate,
) -> Option<(&'static str, Money, Money)> {
    let (regime, accrued) = accrued(a, policy, today)?;
    let zero = Money::zero(a.data.currency);
    (!accrued.is_empty()).then(|| {
        let (i, c) = accrued.iter().fold((zero, zero), |(i, c), (_, x)| {
            (
                i.with_amount(i.amount() + x.interest.amount()),
                c.with_amount(c.amount() + x.compensation.amount()),
            )
        });
        (regime.law(), i, c)
    })
}

/// Interest and compensation on the account's overdue, undisputed invoices to `today` (the debtor's
/// date), or `None` when no law applies, the account or the policy waives it, or nothing is overdue.
pub fn statutory_interest_out(
    a: &AccountSnapshot,
    policy: &InterestPolicy,
    today: NaiveDate,
) -> Option<pb::StatutoryInterest> {
    let (regime, accrued) = accrued(a, policy, today)?;
    let zero = Money::zero(a.data.currency);
    let (mut interest, mut compensation) = (zero.amount(), zero.amount());
    let mut invoices = Vec::new();
    for (number, accrued) in accrued {
        interest += accrued.interest.amount();
        compensation += accrued.compensation.amount();
        invoices.push(pb::InvoiceInterest {
            invoice_number: number,
            interest: Some(money_out(accrued.interest)),
            compensation: Some(money_out(accrued.compensation)),
            annual_rate_percent: accrued.annual_rate.to_string(),
            periods: accrued
                .periods
                .iter()
                .map(|p| pb::InterestPeriod {
                    start_date: Some(date_out(p.from)),
                    end_date: Some(date_out(p.to)),
                    days: i32::try_from(p.days()).unwrap_or(i32::MAX),
                    principal: Some(money_out(p.principal)),
                    annual_rate_percent: p.annual_rate.to_string(),
                })
                .collect(),
        });
    }
    if invoices.is_empty() {
        return None;
    }
    let history = match regime {
        Regime::UkLatePayment => &policy.rates.uk_base_rate,
        Regime::EuDirective => &policy.rates.ecb_main_refinancing_rate,
    };
    Some(pb::StatutoryInterest {
        jurisdiction: regime.law().to_owned(),
        annual_rate_percent: interest::annual_rate(regime, &policy.rates, today)
            .map(|r| r.to_string())
            .unwrap_or_default(),
        interest: Some(money_out(zero.with_amount(interest))),
        compensation: Some(money_out(zero.with_amount(compensation))),
        invoices,
        computed_to: Some(date_out(today)),
        rate_source: format!(
            "{} + 8 points; history known to {} ({})",
            history.name, history.known_to, history.source
        ),
    })
}

/// Statutory interest and compensation added together, as of `today`, when the view would show them.
pub fn statutory_total(
    a: &AccountSnapshot,
    policy: &InterestPolicy,
    today: NaiveDate,
) -> Option<Money> {
    statutory_amounts(a, policy, today).map(|(_, i, c)| i.with_amount(i.amount() + c.amount()))
}
