//! Which invoices a payment settles: the ones it names first, in the order named, then the oldest due
//! undisputed invoices. Disputed invoices are only paid when the payment names them, because a debtor
//! who disputes an invoice has not meant to pay it.

use std::collections::HashSet;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::money::Money;
use crate::violations::Violations;

/// An invoice as allocation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceBalance {
    pub id: i64,
    pub number: String,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    /// What is still owed; zero or negative once settled or over-credited.
    pub outstanding: Money,
    pub disputed: bool,
}

/// The part of a payment applied to one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationLine {
    pub invoice_id: i64,
    pub invoice_number: String,
    pub amount: Money,
}

/// How a payment was spread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub lines: Vec<AllocationLine>,
    /// Left over once every eligible invoice is settled: credit on the account.
    pub unallocated: Money,
}

/// Allocates `amount` across the account's invoices. Naming an invoice the account does not have,
/// or naming one twice, is refused (field `invoice_numbers[i]`); naming a settled invoice is not an
/// error (the payment may have crossed a credit note) and simply applies nothing to it.
pub fn allocate(
    amount: Money,
    named: &[String],
    invoices: &[InvoiceBalance],
) -> Result<Allocation, Violations> {
    let mut v = Violations::new();
    let mut seen = HashSet::new();
    let mut order: Vec<&InvoiceBalance> = Vec::with_capacity(invoices.len());
    for (i, number) in named.iter().enumerate() {
        let field = format!("invoice_numbers[{i}]");
        if !seen.insert(number.as_str()) {
            v.push(field, format!("invoice '{number}' is named twice"));
        } else if let Some(inv) = invoices.iter().find(|inv| &inv.number == number) {
            order.push(inv);
        } else {
            v.push(field, format!("the account has no invoice '{number}'"));
        }
    }
    let mut oldest_first: Vec<&InvoiceBalance> = invoices
        .iter()
        .filter(|inv| !inv.disputed && !seen.contains(inv.number.as_str()))
        .collect();
    oldest_first.sort_by(|a, b| {
        (a.due_date, a.issue_date, &a.number).cmp(&(b.due_date, b.issue_date, &b.number))
    });
    order.extend(oldest_first);
    let mut left = amount.amount();
    let mut lines = Vec::new();
    for inv in order {
        if left <= Decimal::ZERO {
            break;
        }
        let owed = inv.outstanding.amount();
        if owed <= Decimal::ZERO {
            continue;
        }
        let applied = owed.min(left);
        left -= applied;
        lines.push(AllocationLine {
            invoice_id: inv.id,
            invoice_number: inv.number.clone(),
            amount: amount.with_amount(applied),
        });
    }
    v.into_result(Allocation {
        lines,
        unallocated: amount.with_amount(left),
    })
}

/// One earlier payment's allocation to an invoice, as `release` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocated {
    pub payment_id: i64,
    pub position: i64,
    pub amount: Money,
}

/// What `release` takes back from one allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    pub payment_id: i64,
    pub position: i64,
    /// Taken back from the allocation: it becomes credit on the account.
    pub amount: Money,
    /// What the allocation keeps (zero: it goes).
    pub remaining: Money,
}

/// When an invoice is lowered below what has been paid on it (a re-import with a smaller amount or
/// a new credit note), the payments that paid it now overpay it: `excess` is taken back from its
/// allocations, newest payment first, and becomes unallocated credit of those payments. The
/// invoice is then exactly paid, and invoices, allocations and credit still add up.
pub fn release(excess: Money, newest_first: &[Allocated]) -> Vec<Released> {
    let mut left = excess.amount();
    let mut released = Vec::new();
    for a in newest_first {
        if left <= Decimal::ZERO {
            break;
        }
        let taken = a.amount.amount().min(left);
        left -= taken;
        released.push(Released {
            payment_id: a.payment_id,
            position: a.position,
            amount: a.amount.with_amount(taken),
            remaining: a.amount.with_amount(a.amount.amount() - taken),
        });
    }
    released
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn gbp(minor: i64) -> Money {
        Money::from_minor(minor, Currency::from_code("GBP").unwrap())
    }

    fn inv(id: i64, number: &str, due: &str, minor: i64, disputed: bool) -> InvoiceBalance {
        InvoiceBalance {
            id,
            number: number.into(),
            issue_date: "2026-01-01".parse().unwrap(),
            due_date: due.parse().unwrap(),
            outstanding: gbp(minor),
            disputed,
        }
    }

    fn book() -> Vec<InvoiceBalance> {
        vec![
            inv(1, "A", "2026-03-01", 1_000, false),
            inv(2, "B", "2026-01-15", 500, false),
            inv(3, "C", "2026-01-01", 700, true),
            inv(4, "D", "2026-02-01", 0, false),
        ]
    }

    fn lines(a: &Allocation) -> Vec<(&str, i64)> {
        a.lines
            .iter()
            .map(|l| (l.invoice_number.as_str(), l.amount.to_minor().unwrap()))
            .collect()
    }

    #[test]
    fn oldest_due_first_skipping_disputed_and_settled() {
        let a = allocate(gbp(1_200), &[], &book()).unwrap();
        assert_eq!(lines(&a), [("B", 500), ("A", 700)]);
        assert!(a.unallocated.is_zero());
    }

    #[test]
    fn named_invoices_first_then_oldest_then_credit() {
        let named = vec!["C".to_string(), "A".to_string()];
        let a = allocate(gbp(2_500), &named, &book()).unwrap();
        assert_eq!(lines(&a), [("C", 700), ("A", 1_000), ("B", 500)]);
        assert_eq!(a.unallocated.to_minor().unwrap(), 300);
    }

    #[test]
    fn naming_unknown_or_repeated_invoices_is_refused() {
        let named = vec!["A".to_string(), "Z".to_string(), "A".to_string()];
        let err = allocate(gbp(100), &named, &book()).unwrap_err();
        let fields: Vec<_> = err.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["invoice_numbers[1]", "invoice_numbers[2]"]);
    }

    #[test]
    fn release_takes_back_from_the_newest_payments_first() {
        let allocated = |payment_id, minor| Allocated {
            payment_id,
            position: 0,
            amount: gbp(minor),
        };
        let newest_first = [allocated(9, 300), allocated(4, 500)];
        let r = release(gbp(450), &newest_first);
        let taken: Vec<_> = r
            .iter()
            .map(|x| {
                (
                    x.payment_id,
                    x.amount.to_minor().unwrap(),
                    x.remaining.to_minor().unwrap(),
                )
            })
            .collect();
        assert_eq!(taken, [(9, 300, 0), (4, 150, 350)]);
        assert!(release(gbp(0), &newest_first).is_empty());
    }

    #[test]
    fn a_settled_named_invoice_takes_nothing() {
        let a = allocate(gbp(100), &["D".to_string()], &book()).unwrap();
        assert_eq!(lines(&a), [("B", 100)]);
    }
}
