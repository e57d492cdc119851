//! Announcing the end of active plans on the change feed: a plan completes or breaks with payments
//! and with the passage of time, and every read already shows it so (`assess`); this pass
//! records the end once (the plan's state, why, and a `plan_changed` event), so the account
//! returns to normal collection and a CRM hears of it.

use chrono::{DateTime, Utc};
use recoup_domain::plan::state::PlanState;
use recoup_domain::plan::track::{self, Standing};
use recoup_domain::policy::Policy;
use recoup_domain::text::{British, Formats, plural};
use recoup_store::{AccountKey, PlanEnd, Store, StoreError};

use crate::assess::Assessment;

/// Accounts judged per read of the candidates.
const PAGE: i64 = 200;

/// Judges every account with an active plan and records the plans that ended; returns how many.
pub async fn announce_once(
    store: &Store,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let (mut after, mut ended) = (0, 0);
    loop {
        let ids = store.accounts_with_active_plans(after, PAGE).await?;
        let Some(last) = ids.last().copied() else {
            return Ok(ended);
        };
        for id in ids {
            let Some(a) = store.get_account(AccountKey::Id(id)).await? else {
                continue;
            };
            let Some((p, t)) = Assessment::of(&a, policy, now).plan else {
                continue;
            };
            if p.state != PlanState::Active {
                continue;
            }
            let (state, reason, broke) = match t.standing {
                Standing::Broken { on } => (
                    PlanState::Broken,
                    format!(
                        "broken on {}: {} of {} missed (the policy breaks a plan at {})",
                        British.date(on),
                        t.missed,
                        plural(t.instalments.len(), "instalment", "instalments"),
                        track::misses_to_break(&policy.plans, t.instalments.len())
                    ),
                    true,
                ),
                Standing::Completed { on } => (
                    PlanState::Completed,
                    format!("completed on {}: every instalment paid", British.date(on)),
                    false,
                ),
                Standing::OnTrack | Standing::InArrears => continue,
            };
            let end = PlanEnd {
                state,
                reason: &reason,
                missed: broke.then_some(t.missed as u32),
                arrears: broke.then_some(t.arrears),
            };
            if store.end_plan(id, p.id, &end, now).await? {
                metrics::counter!("recoup_plans_ended_total", "state" => state.as_str())
                    .increment(1);
                tracing::info!(
                    plan_id = p.id,
                    account_id = id,
                    state = state.as_str(),
                    "plan ended"
                );
                ended += 1;
            }
        }
        after = last;
    }
}
