use recoup_domain::Currency;
use recoup_domain::account::{AccountStatus, Adjustment, AdjustmentKind};
use recoup_store::{AccountKey, ImportOutcome, ListFilter};

use crate::{TEST_KEY, account, date, each_backend, invoice, money, now};

#[tokio::test]
async fn import_creates_then_is_unchanged_then_updates() {
    each_backend(|store, backend| async move {
        let rec = account(
            "A-1",
            "GBP",
            vec![invoice("INV-1", "2026-10-01", 12_345, "GBP")],
        );
        let first = store
            .import_batch(std::slice::from_ref(&rec), TEST_KEY, now())
            .await
            .unwrap();
        let [ImportOutcome::Created(id)] = first[..] else {
            panic!("{backend}: {first:?}")
        };
        let again = store
            .import_batch(std::slice::from_ref(&rec), TEST_KEY, now())
            .await
            .unwrap();
        assert_eq!(
            again,
            [ImportOutcome::Unchanged(id)],
            "{backend}: the same account"
        );

        let mut changed = rec.clone();
        changed.invoices[0].adjustments.push(Adjustment {
            reference: "CN-1".into(),
            kind: AdjustmentKind::CreditNote,
            amount: money(345, "GBP"),
            date: date("2026-02-01"),
            reason: "short delivery".into(),
        });
        changed
            .invoices
            .push(invoice("INV-2", "2026-11-01", 100, "GBP"));
        let third = store
            .import_batch(&[changed], TEST_KEY, now())
            .await
            .unwrap();
        assert_eq!(third, [ImportOutcome::Updated(id)], "{backend}");

        let got = store
            .get_account(AccountKey::ExternalRef("A-1"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.data.legal_name, "A-1 Trading Ltd");
        assert_eq!(got.data.contacts, rec.contacts, "{backend}");
        let outstanding: Vec<_> = got
            .open_invoices
            .iter()
            .map(|i| (i.data.number.as_str(), i.outstanding.to_minor().unwrap()))
            .collect();
        assert_eq!(
            outstanding,
            [("INV-1", 12_000), ("INV-2", 100)],
            "{backend}"
        );
        assert_eq!(got.open_invoices[0].data.adjustments.len(), 1, "{backend}");
        assert_eq!(got.create_time, now().with_nanosecond_micros(), "{backend}");
    })
    .await;
}

trait Micros {
    fn with_nanosecond_micros(self) -> Self;
}

impl Micros for chrono::DateTime<chrono::Utc> {
    fn with_nanosecond_micros(self) -> Self {
        use chrono::SubsecRound;
        self.trunc_subsecs(6)
    }
}

#[tokio::test]
async fn amounts_round_trip_exactly_in_every_exponent() {
    each_backend(|store, backend| async move {
        let big = 999_999_999_999_999; // 9,999,999,999,GBP 999.99
        let recs = [
            account("GBP-1", "GBP", vec![invoice("I", "2026-10-01", big, "GBP")]),
            account(
                "JPY-1",
                "JPY",
                vec![invoice("I", "2026-10-01", 1_234_567, "JPY")],
            ),
            account(
                "KWD-1",
                "KWD",
                vec![invoice("I", "2026-10-01", 1_001, "KWD")],
            ),
        ];
        store.import_batch(&recs, TEST_KEY, now()).await.unwrap();
        for (r, expect) in [
            ("GBP-1", "9999999999999.99"),
            ("JPY-1", "1234567"),
            ("KWD-1", "1.001"),
        ] {
            let a = store
                .get_account(AccountKey::ExternalRef(r))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                a.open_invoices[0].outstanding.amount().to_string(),
                expect,
                "{backend} {r}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn currency_cannot_change_under_invoices() {
    each_backend(|store, backend| async move {
        let rec = account("A-1", "GBP", vec![invoice("INV-1", "2026-10-01", 100, "GBP")]);
        store.import_batch(&[rec], TEST_KEY, now()).await.unwrap();
        let euro = account("A-1", "EUR", vec![]);
        let out = store.import_batch(&[euro], TEST_KEY, now()).await.unwrap();
        assert!(matches!(&out[0], ImportOutcome::Rejected(v) if v.iter().any(|x| x.field == "currency_code")), "{backend}");
        let a = store.get_account(AccountKey::ExternalRef("A-1")).await.unwrap().unwrap();
        assert_eq!(a.data.currency, Currency::from_code("GBP").unwrap(), "{backend}");
    })
    .await;
}

#[tokio::test]
async fn list_filters_and_pages() {
    each_backend(|store, backend| async move {
        // now() is 2026-11-22 12:00 UTC: already 2026-11-23 in Auckland.
        let mut nz = account("NZ", "NZD", vec![invoice("I", "2026-11-22", 5_000, "NZD")]);
        nz.time_zone = chrono_tz::Pacific::Auckland;
        let uk = account("UK", "GBP", vec![invoice("I", "2026-11-22", 7_000, "GBP")]);
        let mut held = account(
            "HELD",
            "GBP",
            vec![invoice("I", "2026-08-01", 9_000, "GBP")],
        );
        held.status = AccountStatus::OnHold;
        let paid_up = account("NONE", "GBP", vec![]);
        store
            .import_batch(&[nz, uk, held, paid_up], TEST_KEY, now())
            .await
            .unwrap();

        let refs = |v: Vec<recoup_store::AccountSnapshot>| -> Vec<String> {
            v.into_iter().map(|a| a.data.external_ref).collect()
        };
        let all = store
            .list_accounts(&ListFilter::default(), 0, 10, now())
            .await
            .unwrap();
        assert_eq!(refs(all.clone()), ["NZ", "UK", "HELD", "NONE"], "{backend}");

        let overdue = ListFilter {
            min_days_overdue: 1,
            ..Default::default()
        };
        let got = store.list_accounts(&overdue, 0, 10, now()).await.unwrap();
        assert_eq!(
            refs(got),
            ["NZ", "HELD"],
            "{backend}: only Auckland's date has passed the due date"
        );

        let held_only = ListFilter {
            status: Some(AccountStatus::OnHold),
            ..Default::default()
        };
        assert_eq!(
            refs(store.list_accounts(&held_only, 0, 10, now()).await.unwrap()),
            ["HELD"]
        );

        let big_gbp = ListFilter {
            min_overdue: Some(money(9_000, "GBP")),
            ..Default::default()
        };
        assert_eq!(
            refs(store.list_accounts(&big_gbp, 0, 10, now()).await.unwrap()),
            ["HELD"]
        );
        let too_big = ListFilter {
            min_overdue: Some(money(9_001, "GBP")),
            ..Default::default()
        };
        assert!(
            store
                .list_accounts(&too_big, 0, 10, now())
                .await
                .unwrap()
                .is_empty()
        );

        let first = store
            .list_accounts(&ListFilter::default(), 0, 2, now())
            .await
            .unwrap();
        let rest = store
            .list_accounts(&ListFilter::default(), first[1].id, 10, now())
            .await
            .unwrap();
        assert_eq!(refs(first), ["NZ", "UK"], "{backend}");
        assert_eq!(refs(rest), ["HELD", "NONE"], "{backend}");
    })
    .await;
}

#[tokio::test]
async fn markers_are_set_once() {
    each_backend(|store, backend| async move {
        assert!(
            store.set_marker_once("demo", now()).await.unwrap(),
            "{backend}"
        );
        assert!(
            !store.set_marker_once("demo", now()).await.unwrap(),
            "{backend}"
        );
    })
    .await;
}

/// The stored account views always match the rows: after creating, re-importing (a changed
/// invoice, a lowered one that hands credit back, a new contact), and payments.
#[tokio::test]
async fn stored_views_match_the_rows_after_every_write() {
    use recoup_domain::call::{Correction, Direction, NewCall, Outcome};
    use recoup_domain::payment::NewPayment;
    use recoup_store::{CallOutcome, RequestKey};
    each_backend(|store, backend| async move {
        let mut rec = account(
            "V-1",
            "GBP",
            vec![
                invoice("A", "2026-09-01", 10_000, "GBP"),
                invoice("B", "2026-10-01", 5_000, "GBP"),
            ],
        );
        rec.invoices[1].adjustments.push(Adjustment {
            reference: "CN-1".into(),
            kind: AdjustmentKind::CreditNote,
            amount: money(500, "GBP"),
            date: date("2026-02-01"),
            reason: "short".into(),
        });
        let other = account("V-2", "EUR", vec![invoice("X", "2026-10-01", 700, "EUR")]);
        store
            .import_batch(&[rec.clone(), other], TEST_KEY, now())
            .await
            .unwrap();
        assert_eq!(
            store.stale_views().await.unwrap(),
            [],
            "{backend}: after create"
        );
        let key = RequestKey {
            subject: "test",
            request_id: "v-pay",
        };
        let pay = NewPayment {
            amount: money(12_000, "GBP"),
            payment_date: date("2026-11-20"),
            reference: "BACS".into(),
            invoice_numbers: vec![],
        };
        store.record_payment(key, 1, &pay, now()).await.unwrap();
        assert_eq!(
            store.stale_views().await.unwrap(),
            [],
            "{backend}: after a payment"
        );
        rec.invoices[0].amount = money(8_000, "GBP");
        rec.contacts[0].role = "Director".into();
        store.import_batch(&[rec], TEST_KEY, now()).await.unwrap();
        assert_eq!(
            store.stale_views().await.unwrap(),
            [],
            "{backend}: after an update"
        );
        let a = store.get_account(AccountKey::Id(1)).await.unwrap().unwrap();
        assert_eq!(
            a.credit.to_minor().unwrap(),
            2_000,
            "{backend}: A lowered below what was paid"
        );
        // A promise, a payment towards it and a correction: the story sections of the view.
        let key = |request_id| recoup_store::Recorder {
            key: RequestKey {
                subject: "test",
                request_id,
            },
            override_by: None,
        };
        let policy = std::sync::Arc::new(recoup_domain::policy::Policy::default());
        let mut promise = NewCall {
            direction: Direction::Inbound,
            start_time: now() - chrono::Duration::hours(2),
            duration_ms: Some(60_000),
            contact_name: "Alex".into(),
            right_party_contact: true,
            outcome: Outcome::PromiseToPay {
                amount: money(1_000, "GBP"),
                date: now().date_naive() + chrono::Days::new(5),
            },
            notes: String::new(),
            next_step: String::new(),
            override_reason: None,
            correction: None,
            claim_id: None,
            asked_not_to_call: None,
            imported: None,
        };
        let first = store
            .record_call(key("v-call-1"), 1, &promise, &policy, now())
            .await
            .unwrap();
        let CallOutcome::Recorded(first) = first else {
            panic!("{backend}: new call replayed")
        };
        assert_eq!(
            store.stale_views().await.unwrap(),
            [],
            "{backend}: after a call"
        );
        let towards = NewPayment {
            amount: money(500, "GBP"),
            payment_date: date("2026-11-22"),
            reference: "part".into(),
            invoice_numbers: vec![],
        };
        let key2 = RequestKey {
            subject: "test",
            request_id: "v-pay-2",
        };
        store
            .record_payment(key2, 1, &towards, now())
            .await
            .unwrap();
        promise.correction = Some(Correction {
            call_id: first.id,
            reason: "amount misheard".into(),
        });
        promise.outcome = Outcome::PromiseToPay {
            amount: money(1_500, "GBP"),
            date: now().date_naive() + chrono::Days::new(5),
        };
        store
            .record_call(key("v-call-2"), 1, &promise, &policy, now())
            .await
            .unwrap();
        assert_eq!(
            store.stale_views().await.unwrap(),
            [],
            "{backend}: after a correction"
        );
        let a = store.get_account(AccountKey::Id(1)).await.unwrap().unwrap();
        assert_eq!(
            a.story.recent_calls.len(),
            1,
            "{backend}: the correction only"
        );
        assert_eq!(a.story.promises.len(), 1);
        assert_eq!(a.story.promises[0].amount, money(1_500, "GBP"));
        assert_eq!(
            a.story.received.len(),
            1,
            "{backend}: only the payment made since the promise"
        );
    })
    .await;
}
