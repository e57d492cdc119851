//! Disputes: raising one pauses its invoices, an invoice is held by one open dispute at a time,
//! and resolving it upheld credits what the invoices still owe.

use recoup_domain::dispute::{DisputeState, NewDispute, Resolution};
use recoup_store::{AccountKey, ConflictKind, DisputeOutcome, StoreError};

use crate::{announced, each_backend, key, now, one_account, silent};

fn dispute(numbers: &[&str]) -> NewDispute {
    NewDispute {
        invoice_numbers: numbers.iter().map(|n| n.to_string()).collect(),
        reason: "the goods arrived damaged".into(),
    }
}

#[tokio::test]
async fn raised_once_held_alone_and_resolved_once() {
    each_backend(|store, backend| async move {
        let id = one_account(&store, "D-1").await;
        let at = store.last_event_id().await.unwrap();
        let raised = dispute(&["INV-1"]);
        let DisputeOutcome::Recorded(d) = store
            .raise_dispute(key("r-1"), id, &raised, now())
            .await
            .unwrap()
        else {
            panic!("{backend}: a new dispute must be recorded");
        };
        assert_eq!(d.state, DisputeState::Open, "{backend}");
        let at = announced(&store, backend, "raising a dispute", at, id).await;
        assert_eq!(
            store
                .raise_dispute(key("r-1"), id, &raised, now())
                .await
                .unwrap(),
            DisputeOutcome::Replayed(d.clone()),
            "{backend}"
        );
        // Another request on the same invoice: held by the open dispute.
        match store.raise_dispute(key("r-2"), id, &raised, now()).await {
            Err(StoreError::Invalid(v)) => {
                assert_eq!(
                    v.iter().next().unwrap().field,
                    "invoice_numbers[0]",
                    "{backend}"
                )
            }
            other => panic!("{backend}: {other:?}"),
        }
        assert!(matches!(
            store
                .raise_dispute(key("r-3"), id + 1_000, &raised, now())
                .await,
            Err(StoreError::NotFound)
        ));
        silent(&store, backend, "a retry and refused disputes", at).await;

        let upheld = Resolution {
            outcome: DisputeState::Upheld,
            resolution: "credit agreed".into(),
        };
        let DisputeOutcome::Recorded(r) = store
            .resolve_dispute(key("v-1"), id, d.id, &upheld, now())
            .await
            .unwrap()
        else {
            panic!("{backend}");
        };
        assert_eq!(r.state, DisputeState::Upheld, "{backend}");
        assert_eq!(r.credit_notes.len(), 1, "{backend}");
        let at = announced(&store, backend, "resolving a dispute", at, id).await;
        let a = store
            .get_account(AccountKey::Id(id))
            .await
            .unwrap()
            .unwrap();
        let numbers: Vec<&str> = a
            .open_invoices
            .iter()
            .map(|i| i.data.number.as_str())
            .collect();
        assert_eq!(numbers, ["INV-2"], "{backend}: INV-1 credited in full");
        assert!(a.story.open_disputes.is_empty(), "{backend}");
        match store
            .resolve_dispute(key("v-2"), id, d.id, &upheld, now())
            .await
        {
            Err(StoreError::Conflict(c)) => {
                assert_eq!(c.kind, ConflictKind::AlreadyResolved, "{c:?}");
                assert!(c.message.contains("already resolved"), "{c:?}");
            }
            other => panic!("{backend}: {other:?}"),
        }
        silent(&store, backend, "resolving twice", at).await;
    })
    .await;
}
