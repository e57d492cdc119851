//! The FULL view's statutory interest, computed from the stored document at read time (so it is
//! always to today) with `domain::interest`, once per assessment (`crate::assess`).

use chrono::NaiveDate;
use recoup_domain::Money;
use recoup_domain::interest::{self, Accrued, Debt, InterestPolicy, Regime};
use recoup_proto::v1 as pb;
use recoup_store::AccountSnapshot;

use super::{date_out, money_out};

/// Interest and compensation accrued on each of an account's overdue, undisputed invoices to the
/// debtor's today, under the law that applies: computed once per assessment and read by the view,
/// plans and guidance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interest {
    regime: Regime,
    today: NaiveDate,
    /// (invoice number, what accrued on it), oldest due first.
    invoices: Vec<(String, Accrued)>,
}

/// What may be claimed under the law on late payment, to the debtor's today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub law: &'static str,
    /// Interest at known rates (provisional interest is left out: its rate is not known yet).
    pub interest: Money,
    pub compensation: Money,
    /// Some interest accrues at a rate not known yet: it is claimed in words, never as a figure.
    pub provisional: bool,
}

impl Claim {
    /// Interest and compensation added together.
    pub fn total(&self) -> Money {
        self.interest
            .with_amount(self.interest.amount() + self.compensation.amount())
    }
}

impl Interest {
    /// What accrued on `a` to `today`; `None` when no law applies, or the account or the policy
    /// waives it.
    pub fn accrued(
        a: &AccountSnapshot,
        policy: &InterestPolicy,
        today: NaiveDate,
    ) -> Option<Interest> {
        if !policy.enabled || a.data.interest_waived {
            return None;
        }
        let regime = Regime::for_country(&a.data.country_code)?;
        if a.data.currency.code() != regime.currency_code() {
            return None;
        }
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
            match interest::accrue(regime, &policy.rates, &debt, today) {
                Ok(Some(accrued)) => invoices.push((inv.data.number.clone(), accrued)),
                Ok(None) => {}
                Err(e) => {
                    // Only for debts older than the shipped history (2008 for the UK, 2011 for the
                    // EU).
                    tracing::warn!(account_id = a.id, invoice = %inv.data.number, ?e, "no reference rate");
                }
            }
        }
        Some(Interest {
            regime,
            today,
            invoices,
        })
    }

    /// What may be claimed in all, when something accrues.
    pub fn claim(&self) -> Option<Claim> {
        let first = self.invoices.first()?;
        let zero = first.1.compensation.with_amount(0.into());
        Some(self.invoices.iter().fold(
            Claim {
                law: self.regime.law(),
                interest: zero,
                compensation: zero,
                provisional: false,
            },
            |c, (_, x)| {
                Claim {
                    interest: if x.provisional {
                        c.interest
                    } else {
                        c.interest
                            .with_amount(c.interest.amount() + x.interest.amount())
                    },
                    compensation: c
                        .compensation
                        .with_amount(c.compensation.amount() + x.compensation.amount()),
                    provisional: c.provisional || x.provisional,
                    ..c
                }
            },
        ))
    }

    /// As the FULL view shows it, under `policy`; `None` when nothing is overdue.
    pub fn out(&self, policy: &InterestPolicy) -> Option<pb::StatutoryInterest> {
        let first = self.invoices.first()?;
        let zero = first.1.compensation.with_amount(0.into());
        let (mut interest, mut compensation) = (zero.amount(), zero.amount());
        let mut invoices = Vec::new();
        for (number, accrued) in &self.invoices {
            interest += accrued.interest.amount();
            compensation += accrued.compensation.amount();
            invoices.push(pb::InvoiceInterest {
                provisional: accrued.provisional,
                invoice_number: number.clone(),
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
                        provisional: p.provisional,
                    })
                    .collect(),
            });
        }
        let history = policy.rates.for_regime(self.regime);
        Some(pb::StatutoryInterest {
            provisional: self.invoices.iter().any(|(_, x)| x.provisional),
            jurisdiction: self.regime.law().to_owned(),
            annual_rate_percent: interest::annual_rate(self.regime, &policy.rates, self.today)
                .map(|r| r.annual.to_string())
                .unwrap_or_default(),
            interest: Some(money_out(zero.with_amount(interest))),
            compensation: Some(money_out(zero.with_amount(compensation))),
            invoices,
            computed_to: Some(date_out(self.today)),
            rate_source: format!(
                "{} + 8 points; history known to {} ({})",
                history.name, history.known_to, history.source
            ),
        })
    }
}
