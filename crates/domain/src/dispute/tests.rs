use super::*;
use crate::money::Currency;

fn gbp(minor: i64) -> Money {
    Money::from_minor(minor, Currency::from_code("GBP").unwrap())
}

fn book() -> Vec<Disputable> {
    vec![
        Disputable {
            number: "INV-1".into(),
            outstanding: gbp(12_000),
            open_dispute: None,
        },
        Disputable {
            number: "INV-2".into(),
            outstanding: gbp(0),
            open_dispute: None,
        },
        Disputable {
            number: "INV-3".into(),
            outstanding: gbp(5_000),
            open_dispute: Some(4),
        },
    ]
}

fn fields(v: &Violations) -> Vec<String> {
    v.iter()
        .map(|x| format!("{}: {}", x.field, x.description))
        .collect()
}

#[test]
fn a_dispute_names_distinct_invoices_and_says_why() {
    let d = NewDispute {
        invoice_numbers: vec![],
        reason: " ".into(),
    };
    assert_eq!(
        fields(&d.validate()),
        [
            "invoice_numbers: at least one invoice number is required",
            "reason: is required"
        ]
    );
    let d = NewDispute {
        invoice_numbers: vec!["INV-1".into(), " INV-2".into(), "INV-1".into()],
        reason: "Goods arrived damaged".into(),
    };
    assert_eq!(
        fields(&d.validate()),
        [
            "invoice_numbers[1]: must not begin or end with whitespace",
            "invoice_numbers[2]: 'INV-1' is named twice"
        ]
    );
}

#[test]
fn only_open_undisputed_invoices_of_the_account_may_be_disputed() {
    let mut v = Violations::new();
    let named: Vec<String> = ["INV-1", "INV-2", "INV-3", "INV-9"]
        .map(String::from)
        .to_vec();
    check_invoices(&mut v, "dispute.invoice_numbers", &named, 7, &book());
    assert_eq!(
        fields(&v),
        [
            "dispute.invoice_numbers[1]: nothing is outstanding on 'INV-2': nothing to dispute",
            "dispute.invoice_numbers[2]: 'INV-3' is already disputed by accounts/7/disputes/4",
            "dispute.invoice_numbers[3]: 'INV-9' is not an invoice of this account",
        ]
    );
    assert_eq!(disputable_on_call(&named, &book()), ["INV-1"]);
}

#[test]
fn a_resolution_is_upheld_or_rejected_with_a_reason() {
    let r = Resolution {
        outcome: DisputeState::Open,
        resolution: String::new(),
    };
    assert_eq!(
        fields(&r.validate()),
        [
            "outcome: must be UPHELD or REJECTED",
            "resolution: is required"
        ]
    );
    let upheld = Resolution {
        outcome: DisputeState::Upheld,
        resolution: "Delivery note confirms damage".into(),
    };
    assert!(upheld.validate().is_empty());
    let rejected = Resolution {
        outcome: DisputeState::Rejected,
        ..upheld.clone()
    };
    assert_ne!(
        upheld.fingerprint("accounts/1/disputes/2"),
        rejected.fingerprint("accounts/1/disputes/2")
    );
}

#[test]
fn an_upheld_dispute_credits_exactly_what_is_outstanding() {
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let note = credit_note(12, gbp(123_456), today, "sup-sam", "Price was wrong").unwrap();
    assert_eq!(note.reference, "DISPUTE-12");
    assert_eq!(note.kind, AdjustmentKind::CreditNote);
    assert_eq!(note.amount, gbp(123_456));
    assert_eq!(note.date, today);
    assert_eq!(note.reason, "Dispute 12 upheld by sup-sam: Price was wrong");
    assert_eq!(credit_note(12, gbp(0), today, "sup-sam", "x"), None);
    let long = "x".repeat(3000);
    let note = credit_note(12, gbp(1), today, "sup-sam", &long).unwrap();
    assert_eq!(note.reason.chars().count(), MAX_REASON_CHARS);
}
