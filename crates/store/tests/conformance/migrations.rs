//! Upgrades of databases written by earlier releases.

use recoup_domain::payment::NewPayment;
use recoup_store::testkit::TestDb;
use recoup_store::{AccountKey, PaymentOutcome, RequestKey};

use crate::{date, money, now};

/// What release 0.1 (schema version 2) wrote for one account with one paid invoice: a payment with
/// its global request id (ids are 1: the database is new), its event (whose actor recorded the payment) and a completed import.
const V2_ROWS: &str = "
INSERT INTO accounts (external_ref, legal_name, debtor_type, country_code, time_zone,
    currency_code, status, cease_calls, credit_minor, profile_hash, create_time, update_time)
VALUES ('OLD-1', 'Old Ltd', 'company', 'GB', 'Europe/London', 'GBP', 'active', FALSE, 0, 'h',
    '2026-11-01T09:00:00Z', '2026-11-01T09:00:00Z');
INSERT INTO invoices (account_id, number, issue_date, due_date, amount_minor, adjusted_minor,
    paid_minor, outstanding_minor, disputed, dispute_reason, content_hash, create_time, update_time)
VALUES (1, 'A', '2026-09-01', '2026-10-01', 10000, 0, 2500, 7500, FALSE, '', 'h',
    '2026-11-01T09:00:00Z', '2026-11-01T09:00:00Z');
INSERT INTO payments (account_id, request_id, request_fingerprint, amount_minor, payment_date,
    reference, invoice_numbers, unallocated_minor, create_time)
VALUES (1, 'bank-1', 'FINGERPRINT', 2500, '2026-11-20', 'BACS 0042', '', 0,
    '2026-11-20T10:00:00Z');
INSERT INTO payment_allocations (payment_id, position, invoice_id, amount_minor) VALUES (1, 0, 1, 2500);
INSERT INTO events (create_time, event_type, account_id, resource, actor)
VALUES ('2026-11-20T10:00:00Z', 'payment_recorded', 1, 'accounts/1/payments/1', 'bank-feed');
INSERT INTO import_runs (request_id, fingerprint, summary, create_time)
VALUES ('nightly', 'f', X'', '2026-11-01T09:00:00Z');
";

#[tokio::test]
async fn version_3_keeps_old_payments_idempotent_for_the_caller_that_made_them() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let store = db.connect().await.unwrap();
        store.migrate_to(2).await.unwrap();
        let payment = NewPayment {
            amount: money(2_500, "GBP"),
            payment_date: date("2026-11-20"),
            reference: "BACS 0042".into(),
            invoice_numbers: vec![],
        };
        let rows = V2_ROWS.replace("FINGERPRINT", &payment.fingerprint("accounts/1"));
        let rows = if backend == "postgres" {
            rows.replace("X''", "''::bytea")
        } else {
            rows
        };
        db.execute(&rows).await;
        store.migrate().await.unwrap();
        store.check().await.unwrap();

        let key = |subject| RequestKey {
            subject,
            request_id: "bank-1",
        };
        let replay = store
            .record_payment(key("bank-feed"), 1, &payment, now())
            .await
            .unwrap();
        let PaymentOutcome::Replayed(p) = replay else {
            panic!("{backend}: the old payment's caller gets a replay: {replay:?}");
        };
        assert_eq!((p.id, p.allocations.len()), (1, 1), "{backend}");
        let other = store
            .record_payment(key("crm-sync"), 1, &payment, now())
            .await
            .unwrap();
        assert!(
            matches!(other, PaymentOutcome::Recorded(_)),
            "{backend}: {other:?}"
        );
        let a = store.get_account(AccountKey::Id(1)).await.unwrap().unwrap();
        assert_eq!(a.recent_payments.len(), 2, "{backend}");
        assert_eq!(
            a.open_invoices[0].outstanding.to_minor().unwrap(),
            5_000,
            "{backend}"
        );
        store.close().await;
        db.cleanup().await;
    }
}

/// An account as version 8 left it: one invoice marked disputed (by the CRM, or by a call before
/// disputes were records of their own).
const V8_ROWS: &str = "
INSERT INTO accounts (external_ref, legal_name, debtor_type, country_code, time_zone,
    currency_code, status, cease_calls, credit_minor, profile_hash, create_time, update_time)
VALUES ('OLD-9', 'Old Ltd', 'company', 'GB', 'Europe/London', 'GBP', 'active', FALSE, 0, 'h',
    '2026-11-01T09:00:00Z', '2026-11-01T09:00:00Z');
INSERT INTO invoices (account_id, number, issue_date, due_date, amount_minor, adjusted_minor,
    paid_minor, outstanding_minor, disputed, dispute_reason, content_hash, create_time, update_time)
VALUES (1, 'A', '2026-09-01', '2026-10-01', 10000, 0, 0, 10000, TRUE, 'Wrong price', 'h',
    '2026-11-01T09:00:00Z', '2026-11-01T09:00:00Z');
";

#[tokio::test]
async fn version_9_keeps_earlier_disputed_marks_through_a_dispute_rejected_in_recoup() {
    use recoup_domain::dispute::{DisputeState, NewDispute, Resolution};
    for db in TestDb::all().await {
        let backend = db.backend;
        let store = db.connect().await.unwrap();
        store.migrate_to(8).await.unwrap();
        db.execute(V8_ROWS).await;
        store.migrate().await.unwrap();
        store.check().await.unwrap();
        let key = |request_id| RequestKey {
            subject: "sup",
            request_id,
        };
        let disputed = |a: &recoup_store::AccountSnapshot| {
            let i = &a.open_invoices[0].data;
            (i.disputed, i.dispute_reason.clone())
        };
        let a = store.get_account(AccountKey::Id(1)).await.unwrap().unwrap();
        assert_eq!(disputed(&a), (true, "Wrong price".into()), "{backend}");
        // The old mark is the CRM's: a dispute raised and rejected here does not clear it.
        let raise = NewDispute {
            invoice_numbers: vec!["A".into()],
            reason: "Debtor repeats the price complaint".into(),
        };
        let recoup_store::DisputeOutcome::Recorded(d) = store
            .raise_dispute(key("r"), 1, &raise, now())
            .await
            .unwrap()
        else {
            panic!("{backend}: a new dispute");
        };
        let reject = Resolution {
            outcome: DisputeState::Rejected,
            resolution: "Price matches the contract".into(),
        };
        store
            .resolve_dispute(key("x"), 1, d.id, &reject, now())
            .await
            .unwrap();
        let a = store.get_account(AccountKey::Id(1)).await.unwrap().unwrap();
        assert_eq!(disputed(&a), (true, "Wrong price".into()), "{backend}");
        assert!(a.story.open_disputes.is_empty());
        assert!(store.stale_views().await.unwrap().is_empty(), "{backend}");
        store.close().await;
        db.cleanup().await;
    }
}
