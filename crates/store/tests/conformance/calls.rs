//! Calls: recorded once per request, judged by the contact rules with the account held, and what an
//! outcome changes (a dispute, a referral) written with the call.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use recoup_domain::call::{Correction, Direction, NewCall, Outcome};
use recoup_domain::contact::BlockReason;
use recoup_domain::floor::Rule;
use recoup_domain::policy::Policy;
use recoup_store::{CallOutcome, Recorder, Store, StoreError};

use crate::{announced, date, each_backend, key, money, now, one_account, silent};

/// Friday 20 November 2026, 11:00 in London: inside the default calling hours.
fn friday() -> DateTime<Utc> {
    "2026-11-20T11:00:00Z".parse().unwrap()
}

fn call(direction: Direction, start: DateTime<Utc>, outcome: Outcome) -> NewCall {
    NewCall {
        direction,
        start_time: start,
        duration_ms: Some(60_000),
        contact_name: "Sam Payables".into(),
        right_party_contact: true,
        outcome,
        notes: String::new(),
        next_step: String::new(),
        override_reason: None,
        correction: None,
        claim_id: None,
        asked_not_to_call: None,
        imported: None,
    }
}

async fn record(
    store: &Store,
    request_id: &str,
    account_id: i64,
    c: &NewCall,
) -> Result<CallOutcome, StoreError> {
    let by = Recorder {
        key: key(request_id),
        override_by: None,
    };
    store
        .record_call(by, account_id, c, &Arc::new(Policy::default()), now())
        .await
}

#[tokio::test]
async fn a_call_is_recorded_once_and_a_reused_key_is_refused() {
    each_backend(|store, backend| async move {
        let id = one_account(&store, "C-1").await;
        let at = store.last_event_id().await.unwrap();
        let promise = call(
            Direction::Inbound,
            friday(),
            Outcome::PromiseToPay {
                amount: money(50_000, "GBP"),
                date: date("2026-11-27"),
            },
        );
        let CallOutcome::Recorded(first) = record(&store, "c-1", id, &promise).await.unwrap()
        else {
            panic!("{backend}: a new call must be recorded");
        };
        assert_eq!(first.call.outcome, promise.outcome, "{backend}");
        let at = announced(&store, backend, "a call", at, id).await;
        let events = store.events_after(at - 1, &[], None, 10).await.unwrap();
        assert_eq!(events[0].event_type, "call_recorded", "{backend}");
        assert_eq!(
            events[0].resource,
            format!("accounts/{id}/calls/{}", first.id)
        );

        let again = record(&store, "c-1", id, &promise).await.unwrap();
        assert_eq!(again, CallOutcome::Replayed(first.clone()), "{backend}");
        let other = call(Direction::Inbound, friday(), Outcome::NoAnswer);
        let reused = record(&store, "c-1", id, &other).await;
        assert!(
            matches!(reused, Err(StoreError::RequestIdReused)),
            "{backend}"
        );
        silent(&store, backend, "a retry and a reused key", at).await;

        let listed = store.list_calls(id, None, 10).await.unwrap().unwrap();
        assert_eq!(listed, vec![first], "{backend}");
        assert!(
            matches!(
                record(&store, "c-2", id + 1_000, &other).await,
                Err(StoreError::NotFound)
            ),
            "{backend}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_call_that_broke_the_rules_is_recorded_with_what_it_broke() {
    each_backend(|store, backend| async move {
        let id = one_account(&store, "C-2").await;
        let at = store.last_event_id().await.unwrap();
        let rules = |c: &recoup_store::StoredCall| -> Vec<Rule> {
            c.breaches.iter().map(|b| b.rule).collect()
        };
        // Sunday: no calling hours; and no claim held the account.
        let sunday = call(Direction::Outbound, now(), Outcome::NoAnswer);
        let Ok(CallOutcome::Recorded(on_sunday)) = record(&store, "out-1", id, &sunday).await
        else {
            panic!("{backend}: a call that happened was not recorded");
        };
        assert_eq!(
            rules(&on_sunday),
            [
                Rule::Contact(BlockReason::OutsideCallingHours),
                Rule::Unclaimed
            ],
            "{backend}"
        );
        let events = store.events_after(at, &[], None, 100).await.unwrap();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(
            types,
            ["call_recorded", "contact_rule_breached"],
            "{backend}"
        );
        let at = announced(&store, backend, "a call that broke a rule", at, id).await;

        // One outbound call a day: the second on Friday breaks the daily limit; both stand.
        let first = call(Direction::Outbound, friday(), Outcome::NoAnswer);
        let Ok(CallOutcome::Recorded(first)) = record(&store, "out-2", id, &first).await else {
            panic!("{backend}");
        };
        assert_eq!(rules(&first), [Rule::Unclaimed], "{backend}");
        let later = call(
            Direction::Outbound,
            friday() + chrono::Duration::hours(2),
            Outcome::NoAnswer,
        );
        let Ok(CallOutcome::Recorded(later)) = record(&store, "out-3", id, &later).await else {
            panic!("{backend}");
        };
        assert!(
            rules(&later).contains(&Rule::Contact(BlockReason::CallLimitReached)),
            "{backend}: {:?}",
            later.breaches
        );
        announced(&store, backend, "a second call the same day", at, id).await;
        assert_eq!(
            store.list_calls(id, None, 10).await.unwrap().unwrap().len(),
            3
        );
        // Supervisors list them newest first; an inbound call is never judged.
        let inbound = call(Direction::Inbound, friday(), Outcome::NoAnswer);
        let Ok(CallOutcome::Recorded(inbound)) = record(&store, "in-1", id, &inbound).await else {
            panic!("{backend}");
        };
        assert!(inbound.breaches.is_empty(), "{backend}");
        let listed: Vec<i64> = store
            .list_breaches(None, None, 10)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(listed, [later.id, first.id, on_sunday.id], "{backend}");
        let page = store
            .list_breaches(Some("someone else"), None, 10)
            .await
            .unwrap();
        assert!(page.is_empty(), "{backend}");
    })
    .await;
}

#[tokio::test]
async fn what_a_call_changes_is_written_with_it() {
    each_backend(|store, backend| async move {
        let id = one_account(&store, "C-3").await;
        let at = store.last_event_id().await.unwrap();
        let disputed = call(
            Direction::Inbound,
            friday(),
            Outcome::DisputeRaised {
                invoice_numbers: vec!["INV-2".into()],
                reason: "goods returned".into(),
            },
        );
        let CallOutcome::Recorded(c) = record(&store, "d-1", id, &disputed).await.unwrap() else {
            panic!("{backend}");
        };
        let next = announced(&store, backend, "a dispute raised on a call", at, id).await;
        let kinds: Vec<String> = store
            .events_after(at, &[], None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event_type)
            .collect();
        assert_eq!(
            kinds,
            ["call_recorded", "dispute_changed", "account_updated"],
            "{backend}"
        );
        let a = store
            .get_account(recoup_store::AccountKey::Id(id))
            .await
            .unwrap()
            .unwrap();
        let open = &a.story.open_disputes;
        assert_eq!(open.len(), 1, "{backend}");
        assert_eq!(open[0].invoice_numbers, ["INV-2"]);
        assert_eq!(open[0].call_id, Some(c.id));
        assert!(
            a.open_invoices
                .iter()
                .any(|i| i.data.number == "INV-2" && i.data.disputed),
            "{backend}"
        );

        // A correction replaces the record; the replaced one cannot be corrected again.
        let fixed = NewCall {
            correction: Some(Correction {
                call_id: c.id,
                reason: "wrong invoice noted".into(),
            }),
            ..call(Direction::Inbound, friday(), Outcome::NoAnswer)
        };
        assert!(matches!(
            record(&store, "fix-1", id, &fixed).await,
            Ok(CallOutcome::Recorded(_))
        ));
        let next = announced(&store, backend, "a correction", next, id).await;
        match record(&store, "fix-2", id, &fixed).await {
            Err(StoreError::Invalid(v)) => assert_eq!(v.iter().next().unwrap().field, "corrects"),
            other => panic!("{backend}: {other:?}"),
        }
        silent(&store, backend, "correcting a corrected record", next).await;

        let referred = call(
            Direction::Inbound,
            friday(),
            Outcome::ReferredToAgency {
                agency: "Northern Recoveries".into(),
            },
        );
        record(&store, "agency-1", id, &referred).await.unwrap();
        announced(&store, backend, "a referral", next, id).await;
        let a = store
            .get_account(recoup_store::AccountKey::Id(id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            a.data.status,
            recoup_domain::account::AccountStatus::WithAgency,
            "{backend}"
        );
        assert_eq!(a.update_time, recoup_store_time(now()), "{backend}");
    })
    .await;
}

/// Times as the store keeps them: to the microsecond.
fn recoup_store_time(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(6)
}
