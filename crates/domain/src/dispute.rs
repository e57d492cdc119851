//! Disputes: the debtor says invoices are wrong. While a dispute is open its invoices are paused —
//! not chased, not in the collectable balance. A supervisor resolves it: upheld, a credit note clears
//! what each invoice still owes; rejected, the invoices are collectable again.

use std::collections::HashSet;

use chrono::NaiveDate;

use crate::account::{Adjustment, AdjustmentKind, MAX_REASON_CHARS, MAX_REF_CHARS, stored_enum};
use crate::call::{MAX_LISTED, MAX_OUTCOME_TEXT_CHARS};
use crate::fingerprint::Canonical;
use crate::money::Money;
use crate::violations::Violations;

stored_enum!(
    /// Where a dispute stands.
    DisputeState { Open = "open", Upheld = "upheld", Rejected = "rejected" }
);

/// A dispute as raised: the invoices and what the debtor says is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDispute {
    pub invoice_numbers: Vec<String>,
    pub reason: String,
}

impl NewDispute {
    /// The dispute's own rules (field paths relative to it); the invoices are checked against the
    /// account by `check_invoices`.
    pub fn validate(&self) -> Violations {
        let mut v = Violations::new();
        numbers_shape(&mut v, "invoice_numbers", &self.invoice_numbers);
        v.required_text("reason", &self.reason, MAX_OUTCOME_TEXT_CHARS);
        v
    }

    /// The digest that tells a retry from another request reusing its key.
    pub fn fingerprint(&self, account_id: i64) -> String {
        let mut c = Canonical::new("dispute/v1");
        c.display(account_id);
        c.display(self.invoice_numbers.len());
        for n in &self.invoice_numbers {
            c.text(n);
        }
        c.text(&self.reason);
        c.finish()
    }
}

/// A non-empty list of distinct invoice numbers, at most `MAX_LISTED`.
fn numbers_shape(v: &mut Violations, field: &str, numbers: &[String]) {
    if numbers.is_empty() {
        v.push(field, "at least one invoice number is required");
    }
    if numbers.len() > MAX_LISTED {
        v.push(field, format!("at most {MAX_LISTED} invoices"));
    }
    let mut seen = HashSet::new();
    for (i, n) in numbers.iter().enumerate() {
        v.identifier(&format!("{field}[{i}]"), n, MAX_REF_CHARS);
        if !seen.insert(n.as_str()) {
            v.push(format!("{field}[{i}]"), format!("'{n}' is named twice"));
        }
    }
}

/// An invoice of the account, as a dispute sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disputable {
    pub number: String,
    pub outstanding: Money,
    /// The open dispute that already holds it, if any.
    pub open_dispute: Option<i64>,
}

/// Why each named invoice may not be disputed now (at `field[i]`): not an invoice of the account,
/// nothing outstanding on it, or already held by an open dispute (resolve that one first).
pub fn check_invoices(
    v: &mut Violations,
    field: &str,
    numbers: &[String],
    account_id: i64,
    invoices: &[Disputable],
) {
    for (i, n) in numbers.iter().enumerate() {
        let at = format!("{field}[{i}]");
        match invoices.iter().find(|x| x.number == *n) {
            None => v.push(at, format!("'{n}' is not an invoice of this account")),
            Some(x) if !x.outstanding.is_positive() => v.push(
                at,
                format!("nothing is outstanding on '{n}': nothing to dispute"),
            ),
            Some(Disputable {
                open_dispute: Some(d),
                ..
            }) => v.push(
                at,
                format!("'{n}' is already disputed by accounts/{account_id}/disputes/{d}"),
            ),
            Some(_) => {}
        }
    }
}

/// Of the invoices a debtor disputed on a call, those a new dispute takes: the ones with something
/// outstanding and no open dispute. The call is recorded either way; what is already paused or
/// settled needs no second dispute.
pub fn disputable_on_call(numbers: &[String], invoices: &[Disputable]) -> Vec<String> {
    numbers
        .iter()
        .filter(|n| {
            invoices
                .iter()
                .any(|x| x.number == **n && x.outstanding.is_positive() && x.open_dispute.is_none())
        })
        .cloned()
        .collect()
}

/// How a supervisor resolves a dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// `Upheld` or `Rejected`.
    pub outcome: DisputeState,
    pub resolution: String,
}

impl Resolution {
    pub fn validate(&self) -> Violations {
        let mut v = Violations::new();
        if self.outcome == DisputeState::Open {
            v.push("outcome", "must be UPHELD or REJECTED");
        }
        v.required_text("resolution", &self.resolution, MAX_OUTCOME_TEXT_CHARS);
        v
    }

    /// The digest that tells a retry from another request reusing its key.
    pub fn fingerprint(&self, dispute: &str) -> String {
        let mut c = Canonical::new("resolution/v1");
        c.text(dispute);
        c.text(self.outcome.as_str());
        c.text(&self.resolution);
        c.finish()
    }
}

/// The reference of the credit note an upheld dispute leaves on each of its invoices.
pub fn credit_note_reference(dispute_id: i64) -> String {
    format!("DISPUTE-{dispute_id}")
}

/// The credit note that clears `outstanding` on an invoice of upheld dispute `dispute_id`, dated the
/// debtor's `today`, saying who upheld it and why; none when nothing is outstanding (paid meanwhile).
pub fn credit_note(
    dispute_id: i64,
    outstanding: Money,
    today: NaiveDate,
    upheld_by: &str,
    resolution: &str,
) -> Option<Adjustment> {
    if !outstanding.is_positive() {
        return None;
    }
    let reason: String = format!("Dispute {dispute_id} upheld by {upheld_by}: {resolution}")
        .chars()
        .take(MAX_REASON_CHARS)
        .collect();
    Some(Adjustment {
        reference: credit_note_reference(dispute_id),
        kind: AdjustmentKind::CreditNote,
        amount: outstanding,
        date: today,
        reason,
    })
}

#[cfg(test)]
mod tests;
