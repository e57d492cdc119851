use chrono::Days;
use recoup_proto::v1 as pb;

use crate::{account, each_backend, get, import, invoice, london_today, money, text};

/// Invoices due 0, 1, 30, 31, 60, 61, 90 and 91 days ago land in the right buckets.
#[tokio::test]
async fn buckets_at_their_boundaries() {
    each_backend(|server| async move {
        let mut client = server.accounts();
        let days = [0u64, 1, 30, 31, 60, 61, 90, 91];
        // The debtor's date could roll over between import and read; retry once if it does.
        let (got, today) = loop {
            let today = london_today();
            let invoices = days
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    invoice(
                        &format!("D{d}"),
                        today - Days::new(*d),
                        money("GBP", 10i64.pow(i as u32), 0),
                    )
                })
                .collect();
            import(&mut client, "", vec![account("AGE-1", invoices)])
                .await
                .unwrap();
            let got = get(&mut client, "AGE-1").await;
            if london_today() == today {
                break (got, today);
            }
        };
        let by_number: Vec<(String, i32, i32)> = got
            .invoices
            .iter()
            .map(|i| (i.number.clone(), i.days_overdue, i.ageing_bucket))
            .collect();
        use pb::AgeingBucket as B;
        let expect = [
            ("D91", 91, B::DaysOver90),
            ("D90", 90, B::Days61To90),
            ("D61", 61, B::Days61To90),
            ("D60", 60, B::Days31To60),
            ("D31", 31, B::Days31To60),
            ("D30", 30, B::Days1To30),
            ("D1", 1, B::Days1To30),
            ("D0", 0, B::Current),
        ];
        let expect: Vec<(String, i32, i32)> = expect
            .iter()
            .map(|(n, d, b)| (n.to_string(), *d, *b as i32))
            .collect();
        assert_eq!(by_number, expect, "{}: oldest due first", server.db.backend);

        // Amounts are powers of ten by position (D0 = 1, D1 = 10, … D91 = 10^7), so each bucket's sum
        // shows exactly which invoices it holds.
        let b = got.balance.unwrap();
        assert_eq!(text(&b.current), "GBP 1.00");
        assert_eq!(text(&b.overdue_1_to_30_days), "GBP 110.00");
        assert_eq!(text(&b.overdue_31_to_60_days), "GBP 11,000.00");
        assert_eq!(text(&b.overdue_61_to_90_days), "GBP 1,100,000.00");
        assert_eq!(text(&b.overdue_over_90_days), "GBP 10,000,000.00");
        assert_eq!(text(&b.overdue), "GBP 11,111,110.00");
        assert_eq!(text(&b.outstanding), "GBP 11,111,111.00");
        assert_eq!(b.max_days_overdue, 91);
        assert_eq!(
            b.oldest_overdue_due_date,
            Some(crate::date(today - Days::new(91)))
        );
        assert_eq!(b.open_invoice_count, 8);
        assert_eq!(b.as_of_date, Some(crate::date(today)));
        server
    })
    .await;
}
