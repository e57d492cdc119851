use recoup_domain::payment::NewPayment;
use recoup_store::{AccountKey, PaymentOutcome, StoreError};

use crate::{TEST_KEY, account, date, each_backend, invoice, key, money, now};

fn payment(minor: i64, named: &[&str]) -> NewPayment {
    NewPayment {
        amount: money(minor, "GBP"),
        payment_date: date("2026-11-20"),
        reference: "BACS 0042".into(),
        invoice_numbers: named.iter().map(|s| s.to_string()).collect(),
    }
}

#[tokio::test]
async fn allocates_oldest_first_and_replays_retries() {
    each_backend(|store, backend| async move {
        let rec = account(
            "A-1",
            "GBP",
            vec![
                invoice("NEW", "2026-11-01", 1_000, "GBP"),
                invoice("OLD", "2026-09-01", 500, "GBP"),
            ],
        );
        store.import_batch(&[rec], TEST_KEY, now()).await.unwrap();
        let id = store
            .get_account(AccountKey::ExternalRef("A-1"))
            .await
            .unwrap()
            .unwrap()
            .id;

        let PaymentOutcome::Recorded(first) = store
            .record_payment(key("req-1"), id, &payment(1_200, &[]), now())
            .await
            .unwrap()
        else {
            panic!("{backend}: first attempt must record");
        };
        let lines: Vec<_> = first
            .allocations
            .iter()
            .map(|(n, m)| (n.as_str(), m.to_minor().unwrap()))
            .collect();
        assert_eq!(lines, [("OLD", 500), ("NEW", 700)], "{backend}");
        assert!(first.unallocated.is_zero());

        let again = store
            .record_payment(key("req-1"), id, &payment(1_200, &[]), now())
            .await
            .unwrap();
        assert_eq!(again, PaymentOutcome::Replayed(first.clone()), "{backend}");

        let reused = store
            .record_payment(key("req-1"), id, &payment(1_300, &[]), now())
            .await;
        assert!(
            matches!(reused, Err(StoreError::RequestIdReused)),
            "{backend}"
        );

        let PaymentOutcome::Recorded(over) = store
            .record_payment(key("req-2"), id, &payment(400, &["NEW"]), now())
            .await
            .unwrap()
        else {
            panic!("{backend}");
        };
        assert_eq!(over.unallocated.to_minor().unwrap(), 100, "{backend}");

        let a = store
            .get_account(AccountKey::Id(id))
            .await
            .unwrap()
            .unwrap();
        assert!(
            a.open_invoices.is_empty(),
            "{backend}: both invoices are settled"
        );
        assert_eq!(a.credit.to_minor().unwrap(), 100, "{backend}");
        let refs: Vec<_> = a.recent_payments.iter().map(|p| p.id).collect();
        assert_eq!(refs, [over.id, first.id], "{backend}: newest first");
    })
    .await;
}

#[tokio::test]
async fn refuses_payments_that_break_rules_and_writes_nothing() {
    each_backend(|store, backend| async move {
        store.import_batch(&[account("A-1", "GBP", vec![invoice("I", "2026-11-01", 1_000, "GBP")])], TEST_KEY, now()).await.unwrap();
        let id = store.get_account(AccountKey::ExternalRef("A-1")).await.unwrap().unwrap().id;

        let unknown = store.record_payment(key("r1"), id, &payment(100, &["NOPE"]), now()).await;
        assert!(matches!(&unknown, Err(StoreError::Invalid(v)) if v.iter().any(|x| x.field == "invoice_numbers[0]")), "{backend}");
        let mut euro = payment(100, &[]);
        euro.amount = money(100, "EUR");
        let wrong = store.record_payment(key("r2"), id, &euro, now()).await;
        assert!(matches!(&wrong, Err(StoreError::Invalid(v)) if v.iter().any(|x| x.field == "amount")), "{backend}");
        let missing = store.record_payment(key("r3"), id + 1000, &payment(100, &[]), now()).await;
        assert!(matches!(missing, Err(StoreError::NotFound)), "{backend}");

        let a = store.get_account(AccountKey::Id(id)).await.unwrap().unwrap();
        assert!(a.recent_payments.is_empty(), "{backend}");
        assert_eq!(a.open_invoices[0].outstanding.to_minor().unwrap(), 1_000, "{backend}");
        // The refused ids stay free for a corrected request.
        assert!(matches!(store.record_payment(key("r1"), id, &payment(100, &[]), now()).await, Ok(PaymentOutcome::Recorded(_))));
    })
    .await;
}

/// Payments sent at once are committed together (group commit), each answered for itself: bad ones
/// are refused with their own error, duplicates give one payment, the rest are all recorded.
#[tokio::test]
async fn concurrent_payments_commit_together_and_each_gets_its_answer() {
    each_backend(|store, backend| async move {
        let records: Vec<_> = (0..4)
            .map(|k| {
                account(
                    &format!("G-{k}"),
                    "GBP",
                    vec![invoice("I", "2026-10-01", 100_000, "GBP")],
                )
            })
            .collect();
        store.import_batch(&records, TEST_KEY, now()).await.unwrap();
        let mut calls = Vec::new();
        for n in 0..40u32 {
            let store = store.clone();
            calls.push(tokio::spawn(async move {
                let account = i64::from(n % 4) + 1;
                let (id, p) = match n {
                    // One names an invoice the account does not have, one pays in euros, one goes
                    // to an account that does not exist; four are twins of request "dup".
                    7 => (format!("r{n}"), payment(100, &["NOPE"])),
                    8 => {
                        let mut euro = payment(100, &[]);
                        euro.amount = money(100, "EUR");
                        (format!("r{n}"), euro)
                    }
                    9..=12 => ("dup".to_owned(), payment(100, &[])),
                    _ => (format!("r{n}"), payment(100, &[])),
                };
                let account = match n {
                    9..=12 => 1,
                    13 => 999,
                    _ => account,
                };
                let id: &'static str = Box::leak(id.into_boxed_str());
                (n, store.record_payment(key(id), account, &p, now()).await)
            }));
        }
        let mut recorded = 0;
        let mut dup_payments = std::collections::BTreeSet::new();
        for call in calls {
            let (n, outcome) = call.await.unwrap();
            match n {
                7 | 8 => assert!(
                    matches!(outcome, Err(StoreError::Invalid(_))),
                    "{backend} {n}: {outcome:?}"
                ),
                13 => assert!(
                    matches!(outcome, Err(StoreError::NotFound)),
                    "{backend}: {outcome:?}"
                ),
                9..=12 => match outcome.unwrap() {
                    PaymentOutcome::Recorded(p) | PaymentOutcome::Replayed(p) => {
                        dup_payments.insert(p.id);
                    }
                },
                _ => {
                    assert!(
                        matches!(outcome, Ok(PaymentOutcome::Recorded(_))),
                        "{backend} {n}: {outcome:?}"
                    );
                    recorded += 1;
                }
            }
        }
        assert_eq!(recorded, 33, "{backend}");
        assert_eq!(dup_payments.len(), 1, "{backend}: twins give one payment");
        // 34 payments of 1.00 in all, spread over four accounts of 1000.00.
        let mut owed = 0;
        for k in 1..=4 {
            let a = store.get_account(AccountKey::Id(k)).await.unwrap().unwrap();
            owed += a.open_invoices[0].outstanding.to_minor().unwrap();
        }
        assert_eq!(owed, 4 * 100_000 - 34 * 100, "{backend}");
        assert_eq!(store.stale_views().await.unwrap(), [], "{backend}");
    })
    .await;
}
