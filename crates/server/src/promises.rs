//! Announcing promise states on the change feed: promises change state with time (a deadline passes)
//! and with payments, so a background pass judges the accounts whose promises may still change and
//! records each new state once (a `promise_changed` event naming the call that made the promise).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use recoup_domain::ageing::local_today;
use recoup_domain::policy::Policy;
use recoup_domain::promise;
use recoup_store::promises::state_text;
use recoup_store::{AccountKey, Store, StoreError};

use crate::clock::SharedClock;

/// Accounts judged per read of the candidates.
const PAGE: i64 = 200;

/// Judges every account with a promise still open (or never announced) and announces what changed;
/// returns how many promise states changed.
pub async fn announce_once(
    store: &Store,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let (mut after, mut changed) = (0, 0);
    loop {
        let ids = store.accounts_with_open_promises(after, PAGE).await?;
        let Some(last) = ids.last().copied() else {
            return Ok(changed);
        };
        for id in ids {
            let Some(a) = store.get_account(AccountKey::Id(id)).await? else {
                continue;
            };
            let today = local_today(a.data.time_zone, now);
            let judged = promise::judge(
                &a.story.promises,
                &a.story.received,
                today,
                &policy.promises,
            );
            let states: Vec<_> = judged
                .iter()
                .map(|j| {
                    let paid = j.paid.to_minor().unwrap_or_default();
                    (j.promise.call_id, j.state, paid)
                })
                .collect();
            for state in store.announce_promise_states(id, &states, now).await? {
                metrics::counter!("recoup_promises_total", "state" => state_text(state))
                    .increment(1);
                changed += 1;
            }
        }
        after = last;
    }
}

/// Runs `announce_once`, then the plans' (`plan_tracking::announce_once`), every `every` until the
/// task is dropped.
pub async fn announce_every(
    store: Store,
    policy: Arc<Policy>,
    every: Duration,
    clock: SharedClock,
) {
    loop {
        tokio::time::sleep(every).await;
        match announce_once(&store, &policy, clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(changed = n, "promise states announced"),
            Err(e) => tracing::warn!(error = %e, "announcing promise states failed; retrying"),
        }
        match crate::plan_tracking::announce_once(&store, &policy, clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(ended = n, "plan ends announced"),
            Err(e) => tracing::warn!(error = %e, "announcing plan ends failed; retrying"),
        }
    }
}
