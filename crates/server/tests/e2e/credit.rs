//! An invoice lowered below what was already paid on it (re-imported smaller, or credited after
//! payment): the invoice is settled, the excess goes back to the payments as account credit, and
//! invoices, allocations, credit and balance still agree.

use chrono::Days;
use recoup_proto::v1 as pb;

use crate::{account, date, each_backend, get, import, invoice, london_today, money, text};

fn pay(parent: &str, request_id: &str, units: i64, names: &[&str]) -> pb::RecordPaymentRequest {
    pb::RecordPaymentRequest {
        request_id: request_id.into(),
        parent: parent.into(),
        payment: Some(pb::Payment {
            amount: Some(money("GBP", units, 0)),
            payment_date: Some(date(london_today())),
            reference: "BACS".into(),
            invoice_numbers: names.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }),
    }
}

fn allocations(p: &pb::Payment) -> Vec<(String, String)> {
    p.allocations
        .iter()
        .map(|a| (a.invoice_number.clone(), text(&a.amount)))
        .collect()
}

#[tokio::test]
async fn lowering_a_paid_invoice_moves_the_excess_to_credit() {
    each_backend(|server| async move {
        let backend = server.db.backend;
        let mut client = server.accounts();
        let today = london_today();
        let a = || invoice("A", today - Days::new(40), money("GBP", 100, 0));
        let b = invoice("B", today - Days::new(10), money("GBP", 50, 0));
        import(&mut client, "", vec![account("CR-1", vec![a(), b.clone()])])
            .await
            .unwrap();
        let name = get(&mut client, "CR-1").await.name;
        client
            .record_payment(pay(&name, "p-1", 100, &["A"]))
            .await
            .unwrap();
        client
            .record_payment(pay(&name, "p-2", 30, &[]))
            .await
            .unwrap();

        // The CRM re-issues A at 80.00: 20.00 of the first payment no longer has anything to pay.
        let mut lowered = a();
        lowered.amount = Some(money("GBP", 80, 0));
        let summary = import(
            &mut client,
            "",
            vec![account("CR-1", vec![lowered.clone(), b.clone()])],
        )
        .await
        .unwrap();
        assert_eq!(summary.updated, 1, "{backend}");
        let view = get(&mut client, "CR-1").await;
        let balance = view.balance.clone().unwrap();
        assert_eq!(
            text(&balance.outstanding),
            "GBP 20.00",
            "{backend}: B still owes 20"
        );
        assert_eq!(text(&balance.overdue), "GBP 20.00", "{backend}");
        assert_eq!(text(&balance.unallocated_credit), "GBP 20.00", "{backend}");
        let open: Vec<_> = view
            .invoices
            .iter()
            .map(|i| (i.number.clone(), text(&i.outstanding)))
            .collect();
        assert_eq!(
            open,
            [("B".to_string(), "GBP 20.00".to_string())],
            "{backend}: A is settled, never negative"
        );

        // The payment that paid A now shows the part given back as unallocated.
        let first = client
            .record_payment(pay(&name, "p-1", 100, &["A"]))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            allocations(&first),
            [("A".to_string(), "GBP 80.00".to_string())],
            "{backend}"
        );
        assert_eq!(text(&first.unallocated), "GBP 20.00", "{backend}");

        // A credit note on A after it is paid: the whole note becomes credit.
        lowered.adjustments = vec![pb::InvoiceAdjustment {
            reference: "CN-7".into(),
            kind: pb::AdjustmentKind::CreditNote as i32,
            amount: Some(money("GBP", 30, 0)),
            date: Some(date(today)),
            reason: "damaged pallet".into(),
        }];
        import(&mut client, "", vec![account("CR-1", vec![lowered, b])])
            .await
            .unwrap();
        let balance = get(&mut client, "CR-1").await.balance.unwrap();
        assert_eq!(text(&balance.outstanding), "GBP 20.00", "{backend}");
        assert_eq!(text(&balance.unallocated_credit), "GBP 50.00", "{backend}");
        let first = client
            .record_payment(pay(&name, "p-1", 100, &["A"]))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            allocations(&first),
            [("A".to_string(), "GBP 50.00".to_string())],
            "{backend}"
        );
        assert_eq!(text(&first.unallocated), "GBP 50.00", "{backend}");

        // Every penny received is on an invoice or in credit: 130.00 = 50.00 (A) + 30.00 (B) + 50.00.
        let second = client
            .record_payment(pay(&name, "p-2", 30, &[]))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            allocations(&second),
            [("B".to_string(), "GBP 30.00".to_string())],
            "{backend}"
        );
        server
    })
    .await;
}

#[tokio::test]
async fn a_credit_note_beyond_its_invoice_is_refused_and_nothing_changes() {
    each_backend(|server| async move {
        let mut client = server.accounts();
        let due = london_today() - Days::new(5);
        import(
            &mut client,
            "",
            vec![account(
                "CR-2",
                vec![invoice("A", due, money("GBP", 100, 0))],
            )],
        )
        .await
        .unwrap();
        let mut over = invoice("A", due, money("GBP", 100, 0));
        over.adjustments = vec![pb::InvoiceAdjustment {
            reference: "CN-1".into(),
            kind: pb::AdjustmentKind::CreditNote as i32,
            amount: Some(money("GBP", 150, 0)),
            date: over.due_date,
            reason: String::new(),
        }];
        let summary = import(&mut client, "", vec![account("CR-2", vec![over])])
            .await
            .unwrap();
        assert_eq!(summary.rejected, 1, "{}", server.db.backend);
        let fields: Vec<_> = summary.rejections[0]
            .violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["account.invoices[0].adjustments"]);
        let balance = get(&mut client, "CR-2").await.balance.unwrap();
        assert_eq!(text(&balance.outstanding), "GBP 100.00");
        assert_eq!(text(&balance.unallocated_credit), "GBP 0.00");
        server
    })
    .await;
}

/// Disputed amounts are not overdue: an account whose only overdue invoice is disputed shows
/// nothing overdue and is not found by the overdue filters.
#[tokio::test]
async fn disputed_amounts_are_not_overdue() {
    each_backend(|server| async move {
        let backend = server.db.backend;
        let mut client = server.accounts();
        let today = london_today();
        let mut disputed = invoice("D", today - Days::new(45), money("GBP", 900, 0));
        disputed.disputed = true;
        disputed.dispute_reason = "wrong rate".into();
        let current = invoice("C", today + Days::new(5), money("GBP", 100, 0));
        import(
            &mut client,
            "",
            vec![account("DIS-1", vec![disputed, current])],
        )
        .await
        .unwrap();
        let b = get(&mut client, "DIS-1").await.balance.unwrap();
        assert_eq!(text(&b.outstanding), "GBP 1,000.00", "{backend}");
        assert_eq!(text(&b.disputed), "GBP 900.00", "{backend}");
        assert_eq!(text(&b.overdue), "GBP 0.00", "{backend}");
        assert_eq!(text(&b.overdue_31_to_60_days), "GBP 0.00", "{backend}");
        assert_eq!(text(&b.current), "GBP 100.00", "{backend}");
        assert_eq!(
            (b.max_days_overdue, b.oldest_overdue_due_date),
            (0, None),
            "{backend}"
        );
        for req in [
            pb::ListAccountsRequest {
                min_days_overdue: 30,
                ..Default::default()
            },
            pb::ListAccountsRequest {
                min_overdue_amount: Some(money("GBP", 1, 0)),
                ..Default::default()
            },
        ] {
            let page = client.list_accounts(req).await.unwrap().into_inner();
            assert!(page.accounts.is_empty(), "{backend}: {:?}", page.accounts);
        }
        server
    })
    .await;
}
