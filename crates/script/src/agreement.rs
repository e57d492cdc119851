//! The model of a payment plan's written agreement: the parties, the invoices it covers, the
//! schedule, and the terms on a missed payment. Every amount and date is already text (`text`), so
//! a template only places them.

use serde::Serialize;

pub(crate) const TEMPLATE: &str = "plan_agreement.hbs";

/// The debtor, as the agreement names it.
#[derive(Debug, Clone, Serialize)]
pub struct Party {
    pub legal_name: String,
    pub external_ref: String,
}

/// An invoice the plan covers.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementInvoice {
    pub number: String,
    pub due_date: String,
    pub outstanding: String,
}

/// One payment of the schedule.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementLine {
    pub sequence: usize,
    pub due_date: String,
    pub amount: String,
}

/// What a written agreement says.
#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    /// The plan's resource name, quoted on payments.
    pub reference: String,
    /// The day it was drawn up, in the debtor's calendar.
    pub date: String,
    pub creditor: String,
    pub debtor: Party,
    /// What the plan settles.
    pub balance: String,
    pub invoices: Vec<AgreementInvoice>,
    /// Disputed invoices left out, as "number (amount)" text; empty when none.
    pub disputed: String,
    /// Statutory interest and compensation included; empty when none.
    pub interest: String,
    /// The arrangement in one sentence.
    pub summary: String,
    pub schedule: Vec<AgreementLine>,
    pub total: String,
    pub payment_count: usize,
    pub end_date: String,
    /// What a settlement forgoes; empty otherwise.
    pub discount: String,
    pub grace_days: u32,
    pub misses_to_break: u32,
    /// Who agreed it for the creditor.
    pub proposed_by: String,
}

impl Agreement {
    /// Sample data with every field set, for checking templates at start.
    pub fn sample() -> Agreement {
        Agreement {
            reference: "accounts/1/plans/1".into(),
            date: "1 February 2028".into(),
            creditor: "Example Supplies Ltd".into(),
            debtor: Party {
                legal_name: "Sample Trading Ltd".into(),
                external_ref: "CRM-1".into(),
            },
            balance: "GBP 900.00".into(),
            invoices: vec![AgreementInvoice {
                number: "INV-1".into(),
                due_date: "1 January 2028".into(),
                outstanding: "GBP 900.00".into(),
            }],
            disputed: "INV-2 (GBP 100.00)".into(),
            interest: "GBP 40.00".into(),
            summary: "Three monthly instalments of GBP 300.00 from 29 February 2028.".into(),
            schedule: vec![AgreementLine {
                sequence: 1,
                due_date: "29 February 2028".into(),
                amount: "GBP 300.00".into(),
            }],
            total: "GBP 900.00".into(),
            payment_count: 3,
            end_date: "30 April 2028".into(),
            discount: "GBP 90.00".into(),
            grace_days: 5,
            misses_to_break: 2,
            proposed_by: "agent".into(),
        }
    }
}
