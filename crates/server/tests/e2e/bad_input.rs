//! Every kind of bad input is refused, names its field, and writes nothing.

use chrono::Days;
use recoup_proto::v1 as pb;
use tonic::Code;

use crate::{
    account, bad_fields, date, each_backend, get, import, invoice, london_today, money, ymd,
};

/// One import stream with one bad record per kind of mistake: each is rejected with its index and
/// field, nothing of it is stored, and the good record still goes through.
#[tokio::test]
async fn import_rejects_each_bad_record_on_its_own() {
    each_backend(|server| async move {
        let mut client = server.accounts();
        let due = london_today() - Days::new(5);
        let good_invoice = || invoice("I-1", due, money("GBP", 10, 0));
        let with_invoice = |r: &str, f: &dyn Fn(&mut pb::Invoice)| {
            let mut inv = good_invoice();
            f(&mut inv);
            account(r, vec![inv])
        };
        let mut cases: Vec<(pb::Account, &[&str])> = vec![
            (account("GOOD", vec![good_invoice()]), &[]),
            (
                with_invoice("B-MIXED", &|i| i.amount = Some(money("GBP", 1, -5))),
                &["account.invoices[0].amount"],
            ),
            (
                with_invoice("B-NANOS", &|i| {
                    i.amount = Some(money("GBP", 0, 1_000_000_000))
                }),
                &["account.invoices[0].amount"],
            ),
            (
                with_invoice("B-PRECISE", &|i| {
                    i.amount = Some(money("GBP", 1, 1_000_000))
                }),
                &["account.invoices[0].amount"],
            ),
            (
                with_invoice("B-NEG", &|i| i.amount = Some(money("GBP", -10, 0))),
                &["account.invoices[0].amount"],
            ),
            (
                with_invoice("B-EUR", &|i| i.amount = Some(money("EUR", 10, 0))),
                &["account.invoices[0].amount"],
            ),
            (
                with_invoice("B-DATE", &|i| i.due_date = Some(ymd(2026, 2, 30))),
                &["account.invoices[0].due_date"],
            ),
            (
                with_invoice("B-MONTH", &|i| i.issue_date = Some(ymd(2026, 13, 1))),
                &["account.invoices[0].issue_date"],
            ),
            (
                with_invoice("B-ORDER", &|i| i.due_date = Some(date(due - Days::new(60)))),
                &["account.invoices[0].due_date"],
            ),
            (
                with_invoice("B-DISPUTE", &|i| i.disputed = true),
                &["account.invoices[0].dispute_reason"],
            ),
        ];
        let mut tz = account("B-TZ", vec![]);
        tz.time_zone = "Mars/Olympus".into();
        cases.push((tz, &["account.time_zone"]));
        let mut jpy = account("B-JPY", vec![]);
        jpy.currency_code = "JPY".into();
        jpy.invoices = vec![invoice("J", due, money("JPY", 1, 500_000_000))];
        cases.push((jpy, &["account.invoices[0].amount"]));
        let mut empty = account("B-EMPTY", vec![]);
        empty.legal_name = String::new();
        cases.push((empty, &["account.legal_name"]));
        let long_ref = "X".repeat(65);
        cases.push((account(&long_ref, vec![]), &["account.external_ref"]));
        for code in ["UK", "ZZ"] {
            let mut country = account(&format!("B-{code}"), vec![]);
            country.country_code = code.into();
            cases.push((country, &["account.country_code"]));
        }
        cases.push((account(" B-SPACE", vec![]), &["account.external_ref"]));
        cases.push((
            with_invoice("B-NUMBER", &|i| i.number = "I-1 ".into()),
            &["account.invoices[0].number"],
        ));
        cases.push((
            with_invoice("B-OVERCREDIT", &|i| {
                i.adjustments = vec![pb::InvoiceAdjustment {
                    reference: "CN-1".into(),
                    kind: pb::AdjustmentKind::CreditNote as i32,
                    amount: Some(money("GBP", 10, 10_000_000)),
                    date: i.due_date,
                    reason: "returned".into(),
                }]
            }),
            &["account.invoices[0].adjustments"],
        ));
        let mut many = account("B-MANY", vec![]);
        many.legal_name = String::new();
        many.country_code = "gb".into();
        many.debtor_type = 0;
        many.currency_code = "XXX".into();
        cases.push((
            many,
            &[
                "account.debtor_type",
                "account.currency_code",
                "account.legal_name",
                "account.country_code",
            ],
        ));

        let records: Vec<pb::Account> = cases.iter().map(|(a, _)| a.clone()).collect();
        let summary = import(&mut client, "", records).await.unwrap();
        assert_eq!(
            (summary.created, summary.rejected),
            (1, cases.len() as i64 - 1),
            "{summary:?}"
        );
        for (index, (record, fields)) in cases.iter().enumerate().skip(1) {
            let r = summary
                .rejections
                .iter()
                .find(|r| r.index == index as i64)
                .unwrap_or_else(|| panic!("record {index} ({}) not rejected", record.external_ref));
            assert_eq!(r.external_ref, record.external_ref);
            let got: Vec<&str> = r.violations.iter().map(|v| v.field.as_str()).collect();
            assert_eq!(got, *fields, "record {index} ({})", record.external_ref);
            if record.external_ref.len() <= 64 && record.external_ref.trim() == record.external_ref
            {
                let err = client
                    .get_account(pb::GetAccountRequest {
                        account: Some(pb::get_account_request::Account::ExternalRef(
                            record.external_ref.clone(),
                        )),
                        view: 0,
                    })
                    .await
                    .unwrap_err();
                assert_eq!(
                    err.code(),
                    Code::NotFound,
                    "{}: nothing of a rejected record is written",
                    record.external_ref
                );
            }
        }
        server
    })
    .await;
}

#[tokio::test]
async fn bad_payments_name_every_field_and_write_nothing() {
    each_backend(|server| async move {
        let mut client = server.accounts();
        let today = london_today();
        import(
            &mut client,
            "",
            vec![account(
                "P-1",
                vec![invoice("I-1", today, money("GBP", 100, 0))],
            )],
        )
        .await
        .unwrap();
        let name = get(&mut client, "P-1").await.name;
        let pay =
            |amount: pb::Money, payment_date: pb::Date, reference: &str| pb::RecordPaymentRequest {
                request_id: "bad-1".into(),
                parent: name.clone(),
                payment: Some(pb::Payment {
                    amount: Some(amount),
                    payment_date: Some(payment_date),
                    reference: reference.into(),
                    ..Default::default()
                }),
            };
        let cases: Vec<(pb::RecordPaymentRequest, Vec<&str>)> = vec![
            (
                pay(money("GBP", 1, -1), date(today), "x"),
                vec!["payment.amount"],
            ),
            (
                pay(money("GBP", 0, -1_000_000_000), date(today), "x"),
                vec!["payment.amount"],
            ),
            (
                pay(money("GBP", 0, 5_000_000), date(today), "x"),
                vec!["payment.amount"],
            ),
            (
                pay(money("GBP", -5, 0), date(today), "x"),
                vec!["payment.amount"],
            ),
            (
                pay(money("GBP", 0, 0), date(today), "x"),
                vec!["payment.amount"],
            ),
            (
                pay(money("EUR", 5, 0), date(today), "x"),
                vec!["payment.amount"],
            ),
            (
                pay(money("GBP", 5, 0), ymd(2026, 2, 29), "x"),
                vec!["payment.payment_date"],
            ),
            (
                pay(money("GBP", 5, 0), date(today + Days::new(2)), "x"),
                vec!["payment.payment_date"],
            ),
            (
                pay(money("GBP", 5, 0), date(today), ""),
                vec!["payment.reference"],
            ),
            (
                pay(money("GBP", 5, 0), date(today), &"r".repeat(141)),
                vec!["payment.reference"],
            ),
            (
                pay(money("GBP", 1, -1), ymd(0, 0, 0), ""),
                vec![
                    "payment.amount",
                    "payment.payment_date",
                    "payment.reference",
                ],
            ),
        ];
        for (req, fields) in cases {
            let err = client.record_payment(req.clone()).await.unwrap_err();
            assert_eq!(bad_fields(&err), fields, "{}: {req:?}", server.db.backend);
            assert!(
                !err.message().to_lowercase().contains("select"),
                "no SQL in errors: {}",
                err.message()
            );
        }
        let mut named = pay(money("GBP", 5, 0), date(today), "x");
        named.payment.as_mut().unwrap().invoice_numbers = vec!["NOPE".into()];
        assert_eq!(
            bad_fields(&client.record_payment(named).await.unwrap_err()),
            ["payment.invoice_numbers[0]"]
        );
        let mut blank = pay(money("GBP", 5, 0), date(today), "x");
        blank.request_id = String::new();
        blank.parent = "customers/1".into();
        assert_eq!(
            bad_fields(&client.record_payment(blank).await.unwrap_err()),
            ["request_id", "parent"]
        );

        let after = get(&mut client, "P-1").await;
        assert!(
            after.recent_payments.is_empty(),
            "{}: nothing written",
            server.db.backend
        );
        server
    })
    .await;
}

#[tokio::test]
async fn bad_reads_are_refused() {
    each_backend(|server| async move {
        let mut client = server.accounts();
        let list = |f: &dyn Fn(&mut pb::ListAccountsRequest)| {
            let mut r = pb::ListAccountsRequest::default();
            f(&mut r);
            r
        };
        let cases: Vec<(pb::ListAccountsRequest, &str)> = vec![
            (list(&|r| r.page_size = -1), "page_size"),
            (list(&|r| r.page_token = "not-a-token".into()), "page_token"),
            (list(&|r| r.min_days_overdue = -3), "min_days_overdue"),
            (list(&|r| r.status = 42), "status"),
            (
                list(&|r| r.min_overdue_amount = Some(money("GBP", 1, 5))),
                "min_overdue_amount",
            ),
            (list(&|r| r.view = 9), "view"),
        ];
        for (req, field) in cases {
            let err = client.list_accounts(req).await.unwrap_err();
            assert_eq!(bad_fields(&err), [field]);
        }
        for name in [
            "",
            "accounts/",
            "accounts/abc",
            "accounts/-1",
            "invoices/1",
            "accounts/03",
            "accounts/+1",
        ] {
            let err = client
                .get_account(pb::GetAccountRequest {
                    account: Some(pb::get_account_request::Account::Name(name.into())),
                    view: 0,
                })
                .await
                .unwrap_err();
            assert_eq!(bad_fields(&err), ["name"], "{name:?}");
        }
        let err = client
            .get_account(pb::GetAccountRequest::default())
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&err), ["name"]);
        for external_ref in [String::new(), "R".repeat(65), " R-1".into(), "R-1\t".into()] {
            let err = client
                .get_account(pb::GetAccountRequest {
                    account: Some(pb::get_account_request::Account::ExternalRef(external_ref)),
                    view: 0,
                })
                .await
                .unwrap_err();
            assert_eq!(bad_fields(&err), ["external_ref"]);
        }
        let missing = client
            .get_account(pb::GetAccountRequest {
                account: Some(pb::get_account_request::Account::Name(
                    "accounts/424242".into(),
                )),
                view: 0,
            })
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound);
        server
    })
    .await;
}

/// A storage failure is INTERNAL with a generic message: no SQL or driver text reaches the client.
#[tokio::test]
async fn storage_failures_do_not_leak_sql() {
    each_backend(|server| async move {
        let mut client = server.accounts();
        import(&mut client, "", vec![account("LEAK-1", vec![])])
            .await
            .unwrap();
        server.db.break_table("payments").await;
        let err = client
            .get_account(pb::GetAccountRequest {
                account: Some(pb::get_account_request::Account::ExternalRef(
                    "LEAK-1".into(),
                )),
                view: 0,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Internal, "{err:?}");
        let msg = err.message().to_lowercase();
        for word in [
            "payments", "select", "table", "relation", "sqlite", "postgres",
        ] {
            assert!(
                !msg.contains(word),
                "{}: '{word}' leaked in {msg:?}",
                server.db.backend
            );
        }
        server
    })
    .await;
}
