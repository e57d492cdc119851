//! A payment as received, and the rules it must satisfy against its account.

use chrono::NaiveDate;

use crate::account::{MAX_REF_CHARS, check_amount};
use crate::fingerprint::Canonical;
use crate::money::{Currency, Money};
use crate::violations::Violations;

/// Longest payment reference (the SEPA remittance limit).
pub const MAX_PAYMENT_REFERENCE_CHARS: usize = 140;
/// Most invoices one payment may name.
pub const MAX_NAMED_INVOICES: usize = 100;

/// A payment to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub amount: Money,
    pub payment_date: NaiveDate,
    pub reference: String,
    pub invoice_numbers: Vec<String>,
}

impl NewPayment {
    /// Every rule the payment breaks for an account in `currency` whose local date is `today`.
    pub fn validate(&self, currency: Currency, today: NaiveDate) -> Violations {
        let mut v = Violations::new();
        check_amount(&mut v, "amount", self.amount, currency);
        if self.payment_date > today {
            v.push(
                "payment_date",
                format!(
                    "{} is in the future of the debtor's date {today}",
                    self.payment_date
                ),
            );
        }
        Self::validate_text(&mut v, &self.reference, &self.invoice_numbers);
        v
    }

    /// The rules on the payment's text fields, which need no account.
    pub fn validate_text(v: &mut Violations, reference: &str, invoice_numbers: &[String]) {
        v.required_line("reference", reference, MAX_PAYMENT_REFERENCE_CHARS);
        if invoice_numbers.len() > MAX_NAMED_INVOICES {
            v.push(
                "invoice_numbers",
                format!("at most {MAX_NAMED_INVOICES} invoices may be named"),
            );
        }
        for (i, n) in invoice_numbers.iter().enumerate() {
            v.identifier(&format!("invoice_numbers[{i}]"), n, MAX_REF_CHARS);
        }
    }

    /// Fingerprint of the request that carried this payment to `account`, for idempotency checks.
    pub fn fingerprint(&self, account: &str) -> String {
        let mut c = Canonical::new("payment/v1");
        c.text(account)
            .money(self.amount)
            .display(self.payment_date)
            .text(&self.reference)
            .display(self.invoice_numbers.len());
        for n in &self.invoice_numbers {
            c.text(n);
        }
        c.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_future_dates_foreign_currency_and_blank_references() {
        let gbp = Currency::from_code("GBP").unwrap();
        let eur = Currency::from_code("EUR").unwrap();
        let today: NaiveDate = "2026-11-22".parse().unwrap();
        let p = NewPayment {
            amount: Money::from_minor(100, eur),
            payment_date: "2026-11-23".parse().unwrap(),
            reference: " ".into(),
            invoice_numbers: vec![String::new()],
        };
        let fields: Vec<_> = p
            .validate(gbp, today)
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(
            fields,
            ["amount", "payment_date", "reference", "invoice_numbers[0]"]
        );
    }
}
