//! The FULL view's statutory interest, computed from the stored document at read time (so it is
//! always to today) with `domain::interest`.

use chrono::NaiveDate;
use recoup_domain::Money;
use recoup_domain::interest::{self, Debt, InterestPolicy, Regime};
use recoup_proto::v1 as pb;
use recoup_store::AccountSnapshot;

use super::{date_out, money_out};

/// Interest and compensation on the account's overdue, undisputed invoices to `today` (the debtor's
/// date), or `None` when no law applies, the account or the policy waives it, or nothing is overdue.
pub fn statutory_interest_out(
    a: &AccountSnapshot,
    policy: &InterestPolicy,
    today: NaiveDate,
) -> Option<pb::StatutoryInterest> {
    if !policy.enabled || a.data.interest_waived {
        return None;
    }
    let regime = Regime::for_country(&a.data.country_code)?;
    if a.data.currency.code() != regime.currency_code() {
        return None;
    }
    let zero = Money::zero(a.data.currency);
    let (mut interest, mut compensation) = (zero.amount(), zero.amount());
    let mut invoices = Vec::new();
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
        let accrued = match interest::accrue(regime, &policy.rates, &debt, today) {
            Ok(Some(accrued)) => accrued,
            Ok(None) => continue,
            Err(e) => {
                // Only for debts older than the shipped history (2008 for the UK, 2011 for the EU).
                tracing::warn!(account_id = a.id, invoice = %inv.data.number, ?e, "no reference rate");
                continue;
            }
        };
        interest += accrued.interest.amount();
        compensation += accrued.compensation.amount();
        invoices.push(pb::InvoiceInterest {
            invoice_number: inv.data.number.clone(),
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

/// Statutory interest and compensation in all, as of `today`, when the view would show them.
pub fn statutory_total(
    a: &AccountSnapshot,
    policy: &InterestPolicy,
    today: NaiveDate,
) -> Option<Money> {
    let s = statutory_interest_out(a, policy, today)?;
    let mut total = Money::zero(a.data.currency);
    for m in [s.interest, s.compensation].into_iter().flatten() {
        let m = Money::from_parts(&m.currency_code, m.units, m.nanos).ok()?;
        total = total.with_amount(total.amount() + m.amount());
    }
    Some(total)
}
