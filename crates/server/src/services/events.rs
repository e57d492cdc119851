//! EventService: the change feed, from a cursor in commit order, then live.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use recoup_domain::ageing::local_today;
use recoup_domain::policy::Policy;
use recoup_proto::v1 as pb;
use recoup_proto::v1::event_service_server::EventService;
use recoup_store::{Payload, Store, StoreError, StoredEvent};
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::clock::SharedClock;
use crate::convert::call::call_out;
use crate::convert::dispute::dispute_out;
use crate::convert::guidance::letter_out;
use crate::convert::payment_out;
use crate::convert::plan::plan_out;
use crate::status::{invalid_field, store_failed};

/// The longest `types` list a watcher may send: every type, with room for repeats.
const MAX_TYPES: usize = 64;
/// Events read per query, and queued per stream at most: a slow reader holds this many, no more.
const PAGE: i64 = 256;
pub struct Events {
    store: Store,
    /// Turns true when the server begins to stop: open streams then end.
    closing: watch::Receiver<bool>,
    /// How often a stream sends a heartbeat.
    heartbeat: Duration,
    clock: SharedClock,
    /// What a plan's progress in a PLAN_CHANGED event is judged by.
    policy: Arc<Policy>,
}

impl Events {
    pub fn new(
        store: Store,
        closing: watch::Receiver<bool>,
        heartbeat: Duration,
        clock: SharedClock,
        policy: Arc<Policy>,
    ) -> Self {
        Self {
            store,
            closing,
            heartbeat,
            clock,
            policy,
        }
    }
}

/// A heartbeat: the stream's position (every event of its types up to it was sent), so a watcher
/// of a few types resumes past the events it never wanted, and idle proxies see traffic.
fn heartbeat_out(after: i64, now: chrono::DateTime<chrono::Utc>) -> pb::Event {
    pb::Event {
        cursor: if after > 0 {
            cursor_out(after)
        } else {
            String::new()
        },
        r#type: pb::EventType::Heartbeat as i32,
        create_time: Some(crate::convert::time_out(now)),
        ..Default::default()
    }
}

/// Each event type the feed carries with its stored name (later capabilities add theirs).
const TYPES: [(pb::EventType, &str); 11] = [
    (pb::EventType::AccountCreated, "account_created"),
    (pb::EventType::AccountUpdated, "account_updated"),
    (pb::EventType::PaymentRecorded, "payment_recorded"),
    (pb::EventType::CallRecorded, "call_recorded"),
    (pb::EventType::PromiseChanged, "promise_changed"),
    (pb::EventType::DisputeChanged, "dispute_changed"),
    (pb::EventType::PlanChanged, "plan_changed"),
    (pb::EventType::LetterRendered, "letter_rendered"),
    (pb::EventType::CategorySet, "category_set"),
    (pb::EventType::ContactRuleBreached, "contact_rule_breached"),
    (pb::EventType::ContactBlockLifted, "contact_block_lifted"),
];

/// The stored name of every event type the feed carries (webhooks are registered for these).
pub fn event_type_names() -> impl Iterator<Item = &'static str> {
    TYPES.iter().map(|(_, name)| *name)
}

fn stored_type(t: pb::EventType) -> Option<&'static str> {
    TYPES.iter().find(|(k, _)| *k == t).map(|(_, name)| *name)
}

fn type_out(stored: &str) -> pb::EventType {
    TYPES
        .iter()
        .find(|(_, name)| *name == stored)
        .map_or(pb::EventType::Unspecified, |(k, _)| *k)
}

fn cursor_out(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("ev1.{id}"))
}

fn cursor_in(cursor: &str) -> Result<i64, Status> {
    if cursor.is_empty() {
        return Ok(0);
    }
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| text.strip_prefix("ev1.")?.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| invalid_field("after_cursor", "is not a cursor this service issued"))
}

/// The last number in a resource name (`accounts/7/calls/31` -> 31).
fn last_id(resource: &str) -> Option<i64> {
    resource.rsplit('/').next()?.parse().ok()
}

/// An event as the contract shows it. Payments and plans come as their event kept them; calls and
/// letters (append-only) and disputes (one change, each step timed) are read as the change left them.
pub(crate) async fn event_out(
    store: &Store,
    policy: &Policy,
    e: &StoredEvent,
) -> Result<pb::Event, StoreError> {
    let id = last_id(&e.resource);
    let data = match (e.event_type.as_str(), &e.payload, id) {
        (_, Some(Payload::Payment(p)), _) => Some(pb::event::Data::Payment(payment_out(p))),
        (_, Some(Payload::Plan(p)), _) => {
            let today = local_today(p.time_zone, e.create_time);
            Some(pb::event::Data::Plan(plan_out(
                p,
                today,
                &policy.plans,
                true,
            )))
        }
        // Events kept before payloads were: the payment as it stands.
        ("payment_recorded", None, Some(id)) => store
            .get_payment(id)
            .await?
            .map(|p| pb::event::Data::Payment(payment_out(&p))),
        ("call_recorded" | "contact_rule_breached", _, Some(id)) => store
            .get_call(id)
            .await?
            .map(|c| pb::event::Data::Call(call_out(&c, None))),
        ("dispute_changed", _, Some(id)) => store
            .get_dispute(e.account_id, id)
            .await?
            .map(|d| pb::event::Data::Dispute(dispute_out(&d.as_of(e.create_time)))),
        ("letter_rendered", _, Some(id)) => store
            .letter(id)
            .await?
            .map(|l| pb::event::Data::Letter(letter_out(&l))),
        _ => None,
    };
    Ok(pb::Event {
        cursor: cursor_out(e.id),
        r#type: type_out(&e.event_type) as i32,
        resource: e.resource.clone(),
        account: format!("accounts/{}", e.account_id),
        external_ref: e.external_ref.clone(),
        create_time: Some(crate::convert::time_out(e.create_time)),
        actor: e.actor.clone(),
        request_id: e.request_id.clone(),
        data,
    })
}

/// One stream's settings.
struct Watch {
    types: Vec<&'static str>,
    /// Only this account's events.
    account: Option<i64>,
    heartbeat: Duration,
    clock: SharedClock,
    policy: Arc<Policy>,
}

/// Feeds one stream until its reader goes: pages of events after `after`, then waits for the next
/// commit (or the poll), sending a heartbeat every `heartbeat` while it waits. `send` waits while
/// the stream's queue is full, so a slow reader holds at most `PAGE` events here.
async fn feed(
    store: Store,
    mut after: i64,
    watch: Watch,
    tx: mpsc::Sender<Result<pb::Event, Status>>,
    mut closing: watch::Receiver<bool>,
) {
    let Watch {
        types,
        account,
        heartbeat,
        clock,
        policy,
    } = watch;
    let mut wake = store.watch_events();
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *closing.borrow_and_update() {
            return;
        }
        // Marked seen before reading, so a commit during the read wakes the next wait.
        wake.borrow_and_update();
        // With a type or account filter, the head before the read: once the read is caught up,
        // no event the stream wants up to it is left unsent.
        let head = if types.is_empty() && account.is_none() {
            Ok(0)
        } else {
            store.last_event_id().await
        };
        let head = match head {
            Ok(head) => head,
            Err(e) => {
                let _ = tx.send(Err(store_failed(e))).await;
                return;
            }
        };
        let page = match store.events_after(after, &types, account, PAGE).await {
            Ok(page) => page,
            Err(e) => {
                let _ = tx.send(Err(store_failed(e))).await;
                return;
            }
        };
        for e in &page {
            let event = match event_out(&store, &policy, e).await {
                Ok(event) => event,
                Err(e) => {
                    let _ = tx.send(Err(store_failed(e))).await;
                    return;
                }
            };
            if tx.send(Ok(event)).await.is_err() {
                return;
            }
            after = e.id;
        }
        if page.len() as i64 == PAGE {
            continue;
        }
        after = after.max(head);
        // A gone sender (the store or the server dropped) ends the stream too.
        tokio::select! {
            // This process's commits, and other replicas' through the store's one poll.
            woken = wake.changed() => if woken.is_err() { return },
            _ = beat.tick() => {
                if tx.send(Ok(heartbeat_out(after, clock.now()))).await.is_err() {
                    return;
                }
            }
            stopping = closing.changed() => if stopping.is_err() { return },
            _ = tx.closed() => return,
        }
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

#[tonic::async_trait]
impl EventService for Events {
    type WatchEventsStream = EventStream;

    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let role = crate::auth::identity(&request)?.role;
        let req = request.into_inner();
        let account = if req.account.is_empty() {
            if role == crate::auth::Role::Agent {
                return Err(Status::permission_denied(
                    "an agent watches one account at a time: name it in `account`",
                ));
            }
            None
        } else {
            let mut v = recoup_domain::Violations::new();
            let id = crate::names::account_id(&mut v, "account", &req.account);
            match id {
                Some(id) => Some(id),
                None => return Err(crate::status::invalid(v)),
            }
        };
        let mut after = cursor_in(&req.after_cursor)?;
        if req.from_now && after > 0 {
            return Err(invalid_field(
                "from_now",
                "must not be set with after_cursor: resume from the cursor, or start from now",
            ));
        }
        if req.types.len() > MAX_TYPES {
            return Err(invalid_field(
                "types",
                format!("must list at most {MAX_TYPES} types (there are fewer than that)"),
            ));
        }
        let mut types = Vec::new();
        for (i, raw) in req.types.iter().enumerate() {
            match pb::EventType::try_from(*raw) {
                Ok(pb::EventType::Unspecified) | Err(_) => {
                    return Err(invalid_field(
                        &format!("types[{i}]"),
                        "must be an EventType other than UNSPECIFIED",
                    ));
                }
                // A type no capability writes yet simply has no events.
                Ok(t) => types.push(stored_type(t).unwrap_or("none")),
            }
        }
        // Each type once: every poll binds them.
        types.sort_unstable();
        types.dedup();
        let (tx, rx) = mpsc::channel(PAGE as usize);
        if req.from_now {
            after = self.store.last_event_id().await.map_err(store_failed)?;
            tx.try_send(Ok(heartbeat_out(after, self.clock.now())))
                .expect("a new stream's queue has room");
        }
        let watch = Watch {
            types,
            account,
            heartbeat: self.heartbeat,
            clock: self.clock.clone(),
            policy: self.policy.clone(),
        };
        tokio::spawn(feed(
            self.store.clone(),
            after,
            watch,
            tx,
            self.closing.clone(),
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(cursor_in(&cursor_out(42)).unwrap(), 42);
        assert_eq!(cursor_in("").unwrap(), 0);
        for bad in ["42", "ZXYx", &URL_SAFE_NO_PAD.encode("ev1.-3")] {
            assert!(cursor_in(bad).is_err(), "{bad}");
        }
    }
}
