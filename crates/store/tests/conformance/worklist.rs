//! The stored worklist: an entry is computed from the version of the account's view it was read
//! with, saved only while that version stands, and listed in rank order while not stale.

use chrono::Duration;
use recoup_domain::payment::NewPayment;
use recoup_store::worklist::{ComputedEntry, Place};

use crate::{date, each_backend, key, money, now, one_account};

fn place(score: i64) -> Place {
    Place {
        score,
        reasons: vec![format!("score {score}")],
        callable_from: now() - Duration::hours(1),
        callable_until: now() + Duration::hours(4),
        summary: format!("account scored {score}"),
    }
}

#[tokio::test]
async fn entries_follow_their_accounts_views() {
    each_backend(|store, backend| async move {
        let low = one_account(&store, "W-1").await;
        let high = one_account(&store, "W-2").await;
        let due = store.worklist_due(now(), 10).await.unwrap();
        let mut ids: Vec<i64> = due.iter().map(|d| d.account_id).collect();
        ids.sort_unstable();
        assert_eq!(ids, [low, high], "{backend}: new accounts are due");
        let computed: Vec<ComputedEntry> = due
            .iter()
            .map(|d| ComputedEntry {
                due: *d,
                place: Some(place(if d.account_id == high { 20 } else { 10 })),
                next_check: now() + Duration::hours(4),
            })
            .collect();
        assert_eq!(
            store.save_worklist(&computed).await.unwrap(),
            2,
            "{backend}"
        );
        assert!(
            store.worklist_due(now(), 10).await.unwrap().is_empty(),
            "{backend}"
        );
        let page = store.worklist_page(now(), None, 10, None).await.unwrap();
        let ranked: Vec<(i64, i64)> = page.iter().map(|e| (e.account_id, e.score)).collect();
        assert_eq!(ranked, [(high, 20), (low, 10)], "{backend}");
        assert_eq!(page[0].reasons, ["score 20"]);
        assert_eq!(page[0].summary, "account scored 20", "{backend}: as saved");

        // A payment changes the view: the entry is stale, off the list, and due again; an entry
        // computed from the old version is not saved.
        let paid = NewPayment {
            amount: money(10_000, "GBP"),
            payment_date: date("2026-11-20"),
            reference: "BACS 7".into(),
            invoice_numbers: vec![],
        };
        store
            .record_payment(key("pay-1"), high, &paid, now())
            .await
            .unwrap();
        let page = store.worklist_page(now(), None, 10, None).await.unwrap();
        let listed: Vec<i64> = page.iter().map(|e| e.account_id).collect();
        assert_eq!(listed, [low], "{backend}");
        let again = store.worklist_due(now(), 10).await.unwrap();
        assert_eq!(again.len(), 1, "{backend}");
        assert_eq!(again[0].account_id, high);
        let old = computed.iter().find(|c| c.due.account_id == high).unwrap();
        assert_eq!(
            store
                .save_worklist(std::slice::from_ref(old))
                .await
                .unwrap(),
            0
        );
        let fresh = ComputedEntry {
            due: again[0],
            place: None,
            next_check: now() + Duration::hours(4),
        };
        assert_eq!(store.save_worklist(&[fresh]).await.unwrap(), 1, "{backend}");
        let page = store.worklist_page(now(), None, 10, None).await.unwrap();
        assert_eq!(page.len(), 1, "{backend}: no place, not listed");
        // Entries due a fresh look come back when their time does.
        let later = store
            .worklist_due(now() + Duration::hours(5), 10)
            .await
            .unwrap();
        assert_eq!(later.len(), 2, "{backend}");
    })
    .await;
}
