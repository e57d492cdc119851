use chrono::Days;
use recoup_proto::v1 as pb;
use tonic::Code;

use crate::{
    account, bad_fields, date, each_backend, get, import, invoice, london_today, money, text,
};

fn payment(parent: &str, request_id: &str, units: i64, names: &[&str]) -> pb::RecordPaymentRequest {
    pb::RecordPaymentRequest {
        request_id: request_id.into(),
        parent: parent.into(),
        payment: Some(pb::Payment {
            amount: Some(money("GBP", units, 0)),
            payment_date: Some(date(london_today())),
            reference: "BACS 7781".into(),
            invoice_numbers: names.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }),
    }
}

/// Imports an account owing OLD (300.00, 40 days overdue) and NEW (500.00, 10 days); returns its name.
async fn two_overdue_invoices(client: &mut crate::Client, external_ref: &str) -> String {
    let today = london_today();
    let invoices = vec![
        invoice("OLD", today - Days::new(40), money("GBP", 300, 0)),
        invoice("NEW", today - Days::new(10), money("GBP", 500, 0)),
    ];
    import(client, "", vec![account(external_ref, invoices)])
        .await
        .unwrap();
    get(client, external_ref).await.name
}

#[tokio::test]
async fn a_retry_returns_the_first_result_and_writes_nothing() {
    each_backend(|server| async move {
        let mut client = server.accounts();
        let name = two_overdue_invoices(&mut client, "PAY-1").await;

        let first = client
            .record_payment(payment(&name, "r-1", 400, &[]))
            .await
            .unwrap()
            .into_inner();
        let allocated: Vec<_> = first
            .allocations
            .iter()
            .map(|a| (a.invoice_number.clone(), text(&a.amount)))
            .collect();
        assert_eq!(
            allocated,
            [
                ("OLD".to_string(), "GBP 300.00".to_string()),
                ("NEW".into(), "GBP 100.00".into())
            ]
        );

        let retry = client
            .record_payment(payment(&name, "r-1", 400, &[]))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            retry, first,
            "{}: a retry answers exactly as the first call",
            server.db.backend
        );

        let reused = client
            .record_payment(payment(&name, "r-1", 401, &[]))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&reused), ["request_id"]);

        let after = get(&mut client, "PAY-1").await;
        assert_eq!(
            after.recent_payments.len(),
            1,
            "{}: one payment, however many retries",
            server.db.backend
        );
        assert_eq!(text(&after.balance.unwrap().outstanding), "GBP 400.00");
        server
    })
    .await;
}

#[tokio::test]
async fn named_invoices_are_paid_first_and_the_rest_is_credit() {
    each_backend(|server| async move {
        let mut client = server.accounts();
        let name = two_overdue_invoices(&mut client, "PAY-2").await;
        let p = client
            .record_payment(payment(&name, "r-2", 900, &["NEW"]))
            .await
            .unwrap()
            .into_inner();
        let allocated: Vec<_> = p
            .allocations
            .iter()
            .map(|a| a.invoice_number.as_str())
            .collect();
        assert_eq!(allocated, ["NEW", "OLD"]);
        assert_eq!(text(&p.unallocated), "GBP 100.00");
        let b = get(&mut client, "PAY-2").await.balance.unwrap();
        assert_eq!(text(&b.outstanding), "GBP 0.00");
        assert_eq!(text(&b.unallocated_credit), "GBP 100.00");
        server
    })
    .await;
}

#[tokio::test]
async fn payments_to_unknown_accounts_are_not_found() {
    each_backend(|server| async move {
        let mut client = server.accounts();
        let err = client
            .record_payment(payment("accounts/999999", "r-3", 1, &[]))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{err:?}");
        server
    })
    .await;
}
