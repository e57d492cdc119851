//! Keeping the stored worklist current: a background pass computes the entries that are stale (their
//! account changed) or due a fresh look (their call window ended, or the debtor's day changed), from
//! each account's view with `recoup_domain::worklist`, and saves them unless the account changed
//! meanwhile.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveTime, Utc};
use recoup_domain::ageing::local_today;
use recoup_domain::contact::local_instant;
use recoup_domain::plan::state::PlanState;
use recoup_domain::plan::track;
use recoup_domain::policy::Policy;
use recoup_domain::worklist::{self, Signals, Weighing, WorkItem};
use recoup_store::worklist::{ComputedEntry, Place};
use recoup_store::{AccountKey, AccountSnapshot, Store, StoreError};

use base64::Engine;
use prost::Message;
use recoup_proto::v1 as pb;

use crate::assess::{Assessment, call_history};
use crate::clock::SharedClock;

/// Entries computed per batch (one read each, one write per batch).
const BATCH: i64 = 500;
/// The longest an entry goes without a fresh look.
const MAX_AGE_HOURS: i64 = 6;

/// The assessed account's place on the worklist, if it has one.
pub fn place(x: &Assessment<'_>) -> Option<WorkItem> {
    let (a, policy, today) = (x.account, x.policy, x.today);
    let collectable: Vec<_> = a
        .open_invoices
        .iter()
        .filter(|i| !i.data.disputed)
        .map(|i| (i.data.due_date, i.outstanding))
        .collect();
    // Missed instalments on the live plan, and on plans that broke within the promise window (at
    // least as many as broke them; their payments are not in the view).
    let window = i64::from(policy.promises.broken_window_days);
    let missed_instalments = x.plan.as_ref().map_or(0, |(_, t)| t.missed)
        + a.story
            .plans
            .iter()
            .filter(|p| {
                p.state == PlanState::Broken
                    && p.end_time.is_some_and(|t| {
                        (today - t.with_timezone(&a.data.time_zone).date_naive()).num_days()
                            <= window
                    })
            })
            .map(|p| track::misses_to_break(&policy.plans, p.detail.schedule.len()))
            .sum::<usize>();
    worklist::assess(
        &x.contact_facts,
        &call_history(a),
        &policy.contact,
        &Signals {
            today,
            collectable: &collectable,
            broken_promises: x.broken_promises,
            promise_window_days: policy.promises.broken_window_days,
            missed_instalments,
            weigh_in: match (
                policy.floor.base_currency,
                policy.floor.rate(a.data.currency),
            ) {
                (None, _) => Weighing::Own,
                (Some(_), Some(rate)) => Weighing::Base(rate),
                (Some(_), None) => Weighing::NoRate,
            },
        },
        x.now,
    )
}

/// When an entry computed at `now` must be looked at again: its window's end, the debtor's next
/// midnight (days overdue change), or `MAX_AGE_HOURS` on, whichever comes first.
fn next_check(a: &AccountSnapshot, item: Option<&WorkItem>, now: DateTime<Utc>) -> DateTime<Utc> {
    let tz = a.data.time_zone;
    let midnight = local_instant(tz, local_today(tz, now) + Days::new(1), NaiveTime::MIN);
    let mut at = midnight.min(now + chrono::Duration::hours(MAX_AGE_HOURS));
    if let Some(i) = item {
        at = at.min(i.callable_until);
    }
    at.max(now + chrono::Duration::seconds(1))
}

/// Computes and saves every entry due at `now`; returns how many were saved.
pub async fn refresh_once(
    store: &Store,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut saved = 0;
    loop {
        let due = store.worklist_due(now, BATCH).await?;
        if due.is_empty() {
            return Ok(saved);
        }
        let mut computed = Vec::with_capacity(due.len());
        for d in &due {
            let Some(a) = store.get_account(AccountKey::Id(d.account_id)).await? else {
                continue;
            };
            let x = Assessment::of(&a, policy, now);
            let item = place(&x);
            computed.push(ComputedEntry {
                due: *d,
                next_check: next_check(&a, item.as_ref(), now),
                place: item.map(|i| Place {
                    score: i.score,
                    reasons: i.reasons,
                    callable_from: i.callable_from,
                    callable_until: i.callable_until,
                    summary: summary_out(&crate::convert::basic_out(&a, &x.balance)),
                }),
            });
        }
        saved += store.save_worklist(&computed).await?;
        if (due.len() as i64) < BATCH {
            return Ok(saved);
        }
    }
}

/// An entry's summary: the account's BASIC view as computed with the entry, as protobuf in
/// base64 (text, so it travels in the store's JSON parameters; decoding it costs a page a few
/// microseconds an entry, where decoding and judging the view cost ~60).
fn summary_out(account: &pb::Account) -> String {
    base64::engine::general_purpose::STANDARD.encode(account.encode_to_vec())
}

/// The account an entry's summary holds.
pub fn summary_in(summary: &str) -> Result<pb::Account, StoreError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(summary)
        .map_err(|e| StoreError::Corrupt(format!("worklist summary: {e}")))?;
    pb::Account::decode(bytes.as_slice())
        .map_err(|e| StoreError::Corrupt(format!("worklist summary: {e}")))
}

/// Runs `refresh_once` every `every` until the task is dropped.
pub async fn refresh_every(store: Store, policy: Arc<Policy>, every: Duration, clock: SharedClock) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match refresh_once(&store, &policy, clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(entries = n, "worklist refreshed"),
            Err(e) => tracing::warn!(error = %e, "worklist refresh failed; retrying"),
        }
    }
}
