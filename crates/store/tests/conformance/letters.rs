//! Letters: each one kept once per request, with its event; the account's story lists it.

use recoup_store::{AccountKey, NewLetter, StoreError};

use crate::{announced, each_backend, key, now, one_account, silent};

fn letter<'a>(fingerprint: &'a str) -> NewLetter<'a> {
    NewLetter {
        kind: "first_reminder",
        locale: "en-GB",
        plan_id: None,
        subject: "Your account",
        body_text: "Dear Sam,\n\nINV-1 is overdue.",
        body_markdown: "Dear Sam,\n\n**INV-1** is overdue.",
        fingerprint,
    }
}

#[tokio::test]
async fn a_letter_is_kept_once() {
    each_backend(|store, backend| async move {
        let id = one_account(&store, "L-1").await;
        let at = store.last_event_id().await.unwrap();
        let kept = store
            .record_letter(key("l-1"), id, &letter("f-1"), now())
            .await
            .unwrap();
        assert_eq!(kept.account_id, id, "{backend}");
        assert_eq!(kept.created_by, "test");
        let at = announced(&store, backend, "a letter", at, id).await;
        assert_eq!(
            store
                .record_letter(key("l-1"), id, &letter("f-1"), now())
                .await
                .unwrap(),
            kept,
            "{backend}"
        );
        assert!(matches!(
            store
                .record_letter(key("l-1"), id, &letter("f-2"), now())
                .await,
            Err(StoreError::RequestIdReused)
        ));
        assert!(matches!(
            store
                .record_letter(key("l-2"), id + 1_000, &letter("f-1"), now())
                .await,
            Err(StoreError::NotFound)
        ));
        silent(&store, backend, "a retry and refused letters", at).await;
        let a = store
            .get_account(AccountKey::Id(id))
            .await
            .unwrap()
            .unwrap();
        let kinds: Vec<&str> = a.story.letters.iter().map(|l| l.kind.as_str()).collect();
        assert_eq!(kinds, ["first_reminder"], "{backend}");
    })
    .await;
}
