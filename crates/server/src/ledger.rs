//! The idempotency ledger's window: request keys first used more than `policy.requests.keep_days`
//! ago are forgotten, so the ledger keeps what a retry can still need and stops growing with the
//! book's history.

use std::sync::Arc;
use std::time::Duration;

use recoup_domain::policy::Policy;
use recoup_store::Store;

use crate::clock::SharedClock;

/// Forgets the keys past the window every `every` until the task is dropped.
pub async fn forget_every(store: Store, policy: Arc<Policy>, every: Duration, clock: SharedClock) {
    let keep = chrono::Duration::days(i64::from(policy.requests.keep_days));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match store.forget_requests(clock.now() - keep).await {
            Ok(0) => {}
            Ok(n) => {
                metrics::counter!("recoup_request_keys_forgotten_total").increment(n);
                tracing::info!(
                    forgotten = n,
                    keep_days = policy.requests.keep_days,
                    "request keys past the idempotency window forgotten"
                );
            }
            Err(e) => tracing::warn!(error = %e, "forgetting old request keys failed; retrying"),
        }
    }
}
