//! The category an agent sets by hand: set once per request, in force until cleared.

use recoup_domain::category::Category;
use recoup_store::{AccountKey, StoreError};

use crate::{announced, each_backend, key, now, one_account, silent};

#[tokio::test]
async fn a_manual_category_is_set_once_and_cleared() {
    each_backend(|store, backend| async move {
        let id = one_account(&store, "K-1").await;
        let at = store.last_event_id().await.unwrap();
        let reason = "says cash is tight until the new year";
        assert!(
            store
                .set_category(
                    key("k-1"),
                    id,
                    Some(Category::CashFlowTrouble),
                    reason,
                    now()
                )
                .await
                .unwrap(),
            "{backend}: the first request writes"
        );
        let at = announced(&store, backend, "setting a category", at, id).await;
        assert!(
            !store
                .set_category(
                    key("k-1"),
                    id,
                    Some(Category::CashFlowTrouble),
                    reason,
                    now()
                )
                .await
                .unwrap(),
            "{backend}: a retry writes nothing"
        );
        assert!(matches!(
            store.set_category(key("k-1"), id, None, "", now()).await,
            Err(StoreError::RequestIdReused)
        ));
        assert!(matches!(
            store
                .set_category(key("k-2"), id + 1_000, None, "", now())
                .await,
            Err(StoreError::NotFound)
        ));
        silent(&store, backend, "a retry and refused categories", at).await;
        let a = store
            .get_account(AccountKey::Id(id))
            .await
            .unwrap()
            .unwrap();
        let manual = a.story.manual_category.expect("set");
        assert_eq!(manual.category, Category::CashFlowTrouble, "{backend}");
        assert_eq!(manual.reason, reason);

        assert!(
            store
                .set_category(key("k-3"), id, None, "", now())
                .await
                .unwrap()
        );
        announced(&store, backend, "clearing a category", at, id).await;
        let a = store
            .get_account(AccountKey::Id(id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a.story.manual_category, None, "{backend}");
    })
    .await;
}
