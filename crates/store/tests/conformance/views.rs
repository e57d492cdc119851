//! The stored views are only as honest as the writers' epilogue and the invalidation triggers
//! (migrations 0004 on), kept in step by hand between the two dialects. Every write test in this
//! suite checks that the views equal what the rows give (`announced`); this shows that check
//! catches a trigger gone missing.

use recoup_store::testkit::TestDb;

use crate::one_account;

/// The accounts `Store::stale_views` names.
fn ids(stale: Vec<(i64, String)>) -> Vec<i64> {
    stale.into_iter().map(|(id, _)| id).collect()
}

#[tokio::test]
async fn a_missing_invalidation_trigger_is_caught() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let store = db.store().await.expect("open store");
        let id = one_account(&store, "V-1").await;
        assert!(store.stale_views().await.unwrap().is_empty());

        // With its trigger, a change to an invoice behind the store's back clears the view (it is
        // rebuilt on the next read or by the background pass).
        let lower = format!(
            "UPDATE invoices SET outstanding_minor = outstanding_minor - 100 \
             WHERE account_id = {id} AND number = 'INV-1'"
        );
        db.execute(&lower).await;
        assert_eq!(ids(store.stale_views().await.unwrap()), [id], "{backend}");
        assert_eq!(store.rebuild_stale_views(10).await.unwrap(), 1, "{backend}");
        assert!(store.stale_views().await.unwrap().is_empty());

        // Without it the stale view would be served as it is: the check reports the account.
        let on = if backend == "postgres" {
            " ON invoices"
        } else {
            ""
        };
        db.execute(&format!("DROP TRIGGER invoices_stale_view_update{on}"))
            .await;
        db.execute(&lower).await;
        assert_eq!(
            ids(store.stale_views().await.unwrap()),
            [id],
            "{backend}: a view that no longer matches its rows"
        );
        assert_eq!(
            store.rebuild_stale_views(10).await.unwrap(),
            0,
            "{backend}: nothing marked it stale"
        );
        store.close().await;
        db.cleanup().await;
    }
}
