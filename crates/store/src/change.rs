//! The one way a write to an account ends. A write transaction is a `ChangeTx`: its statements run
//! on it like on any transaction, but it commits only through `commit`, which takes the `Change`
//! the write made, and a `Change` cannot be made without an event. So every committed write has
//! its event, and every one ends with the same epilogue, in this order:
//!
//! 1. the accounts whose own data changed get their update time;
//! 2. the request ledger rows (retries and twins find the first answer there);
//! 3. the stored views of the accounts the write changed, rebuilt (or set, when the writer has the
//!    document in hand);
//! 4. the events, last: on PostgreSQL inserting events takes the lock that makes event ids commit
//!    order (migration 0006), so it is held only from here to the commit.
//!
//! Each step is one set-based statement however many rows it writes (`sets`). After the commit the
//! store's change-feed watchers are woken.
//!
//! A `ChangeTx` is the only write transaction there is. Writes that no client follows (API keys, the
//! worklist's computed entries, upkeep) are single statements on the pool.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::ops::{Deref, DerefMut};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{Database, Postgres, Sqlite, Transaction};

use crate::events::Feed;
use crate::phases::Phases;
use crate::requests::RequestKey;
use crate::sets::{int, ordered_rows, rows, text, time};
use crate::view::time_text;
use crate::{Store, StoreError, run_all};

/// One entry of the change feed.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub at: DateTime<Utc>,
    /// `payment_recorded`, `call_recorded`, `account_updated`, ...
    pub kind: &'static str,
    pub account_id: i64,
    /// The changed resource's name, e.g. `accounts/7/payments/31`.
    pub resource: String,
    pub actor: String,
    /// The request that made the change (empty for the server's own passes).
    pub request_id: String,
}

impl Event {
    /// An event of `kind` on `resource` of account `account_id`, made at `at` by the request `key`.
    pub fn by(
        key: RequestKey<'_>,
        at: DateTime<Utc>,
        kind: &'static str,
        account_id: i64,
        resource: impl Into<String>,
    ) -> Event {
        Event {
            at,
            kind,
            account_id,
            resource: resource.into(),
            actor: key.subject.to_owned(),
            request_id: key.request_id.to_owned(),
        }
    }

    /// An event the server's own background passes make (actor `recoup`, no request).
    pub fn by_recoup(
        at: DateTime<Utc>,
        kind: &'static str,
        account_id: i64,
        resource: impl Into<String>,
    ) -> Event {
        Event {
            at,
            kind,
            account_id,
            resource: resource.into(),
            actor: "recoup".to_owned(),
            request_id: String::new(),
        }
    }
}

/// What one write (or one batch of writes) changed, and so what its epilogue writes.
#[derive(Debug)]
pub(crate) struct Change {
    /// Never empty: the constructors take the first event.
    events: Vec<Event>,
    /// [subject, request_id, method, fingerprint, resource, time]
    ledger: Vec<Value>,
    /// Account id -> the latest time its own data changed.
    touched: BTreeMap<i64, DateTime<Utc>>,
    /// Accounts whose view is rebuilt by the database.
    rebuilt: BTreeSet<i64>,
    /// [account id, document]: views the writer built itself.
    views: Vec<Value>,
}

impl Change {
    /// A change whose first event is `first`.
    pub fn new(first: Event) -> Change {
        Change {
            events: vec![first],
            ledger: Vec::new(),
            touched: BTreeMap::new(),
            rebuilt: BTreeSet::new(),
            views: Vec::new(),
        }
    }

    /// Adds `e` to the batch's change in `slot`, starting it with `e` when there is none yet.
    pub fn record(slot: &mut Option<Change>, e: Event) -> &mut Change {
        match slot {
            Some(c) => {
                c.events.push(e);
                c
            }
            None => slot.insert(Change::new(e)),
        }
    }

    pub fn event(&mut self, e: Event) -> &mut Change {
        self.events.push(e);
        self
    }

    /// The ledger row of the request `key` (RPC `method`, content `fingerprint`), naming what it
    /// wrote.
    pub fn request(
        &mut self,
        key: RequestKey<'_>,
        method: &str,
        fingerprint: &str,
        resource: &str,
        at: DateTime<Utc>,
    ) -> &mut Change {
        self.ledger.push(json!([
            key.subject,
            key.request_id,
            method,
            fingerprint,
            resource,
            time_text(at)
        ]));
        self
    }

    /// Whether this change already holds a ledger row for `key` (a twin earlier in the batch).
    pub fn has_request(&self, key: RequestKey<'_>) -> bool {
        self.ledger
            .iter()
            .any(|r| r[0] == key.subject && r[1] == key.request_id)
    }

    /// Account `account_id`'s own data changed at `at`: its update time, and its view.
    pub fn touch(&mut self, account_id: i64, at: DateTime<Utc>) -> &mut Change {
        let t = self.touched.entry(account_id).or_insert(at);
        *t = (*t).max(at);
        self.rebuild(account_id)
    }

    /// Something account `account_id`'s view shows changed: the database rebuilds it.
    pub fn rebuild(&mut self, account_id: i64) -> &mut Change {
        self.rebuilt.insert(account_id);
        self
    }

    /// The view of a new account, built by the writer from what it wrote (`view::encode`).
    pub fn view(&mut self, account_id: i64, document: String) -> &mut Change {
        self.views.push(json!([account_id, document]));
        self
    }

    /// The epilogue's statements with their rows, in the order the module describes.
    fn statements(&self, pg: bool) -> Vec<(String, String)> {
        let touched: Vec<Value> = self
            .touched
            .iter()
            .map(|(id, at)| json!([id, time_text(*at)]))
            .collect();
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|e| {
                json!([
                    time_text(e.at),
                    e.kind,
                    e.account_id,
                    e.resource,
                    e.actor,
                    e.request_id,
                    crate::requests::last_id(&e.resource)
                ])
            })
            .collect();
        let rows = [
            Value::Array(touched),
            Value::Array(self.ledger.clone()),
            Value::Array(self.views.clone()),
            json!(self.rebuilt.iter().collect::<Vec<_>>()),
            Value::Array(events),
        ];
        epilogue_sql(pg)
            .into_iter()
            .zip(rows.iter().map(Value::to_string))
            .collect()
    }
}

/// The epilogue's statements, each taking its rows as `$1`: update times `[id, time]`, ledger rows
/// `[subject, request_id, method, fingerprint, resource, time]`, views `[id, document]`, views to
/// rebuild (ids), events `[time, type, account id, resource, actor, request_id, resource id]` (in
/// order, each with its payload: `payload_sql`).
pub(crate) fn epilogue_sql(pg: bool) -> [String; 5] {
    let src = rows(pg, 1);
    let (ordered, order) = ordered_rows(pg, 1);
    [
        format!(
            "UPDATE accounts SET update_time = d.at FROM \
             (SELECT {} AS id, {} AS at FROM {src}) d WHERE accounts.id = d.id",
            int(0),
            time(pg, 1)
        ),
        format!(
            "INSERT INTO requests (subject, request_id, method, fingerprint, resource, response, \
             create_time) SELECT {}, {}, {}, {}, {}, NULL, {} FROM {src}",
            text(0),
            text(1),
            text(2),
            text(3),
            text(4),
            time(pg, 5)
        ),
        format!(
            "UPDATE accounts SET view_json = d.doc FROM \
             (SELECT {} AS id, {} AS doc FROM {src}) d WHERE accounts.id = d.id",
            int(0),
            text(1)
        ),
        crate::view::refresh_sql(pg),
        format!(
            "INSERT INTO events (create_time, event_type, account_id, resource, actor, \
             request_id, payload) SELECT {}, {}, {}, {}, {}, {}, {} FROM {ordered} ORDER BY {order}",
            time(pg, 0),
            text(1),
            int(2),
            text(3),
            text(4),
            text(5),
            payload_sql(pg, &text(1), &int(6))
        ),
    ]
}

/// The payload of an event of type `kind` on the resource with id `id` (SQL expressions): the
/// resource as the change left it, read in the change's own transaction, for the resources a later
/// change can alter — a payment (an import may take its allocations back) and a plan (its state).
/// NULL for the rest: calls and letters are append-only, and a dispute changes once, keeping the
/// time of each step (`StoredDispute::as_of`).
fn payload_sql(pg: bool, kind: &str, id: &str) -> String {
    let cast = if pg { "::text" } else { "" };
    format!(
        "CASE {kind} \
         WHEN 'payment_recorded' THEN (SELECT ({}){cast} FROM payments p WHERE p.id = {id}) \
         WHEN 'plan_changed' THEN (SELECT ({}){cast} FROM plans pl WHERE pl.id = {id}) END",
        crate::view::payment_row(pg),
        crate::view::plan_event_row(pg)
    )
}

/// A write transaction on an account's data. Queries run on it as on the transaction it holds
/// (`&mut *tx`); it commits only through `commit`. Dropped, it rolls back.
pub(crate) struct ChangeTx<'c, DB: Database> {
    tx: Transaction<'c, DB>,
    feed: Feed,
    phases: Phases,
}

impl<'c, DB: Database> ChangeTx<'c, DB> {
    /// `phases` was started before `tx` began: its first phase is `begin`.
    pub(crate) fn new(tx: Transaction<'c, DB>, feed: &Feed, mut phases: Phases) -> Self {
        phases.mark("begin");
        ChangeTx {
            tx,
            feed: feed.clone(),
            phases,
        }
    }
}

impl<DB: Database> Deref for ChangeTx<'_, DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        &self.tx
    }
}

impl<DB: Database> DerefMut for ChangeTx<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }
}

/// `commit` for one backend (the statements are the same; the connection types differ).
macro_rules! commit_on {
    ($db:ty, $pg:expr) => {
        impl ChangeTx<'_, $db> {
            /// Runs `statements` (the write's own set-based rows, if any), the epilogue of
            /// `change`, and commits; then wakes the change feed's watchers.
            pub(crate) async fn commit_with(
                mut self,
                statements: Vec<(String, String)>,
                change: Change,
            ) -> Result<(), StoreError> {
                self.phases.mark("work");
                let all = statements.into_iter().chain(change.statements($pg));
                run_all!(self.tx, $pg, all);
                self.phases.mark("epilogue");
                self.tx.commit().await?;
                self.phases.mark("commit");
                self.feed.committed();
                Ok(())
            }

            /// The epilogue of `change`, and the commit.
            pub(crate) async fn commit(self, change: Change) -> Result<(), StoreError> {
                self.commit_with(Vec::new(), change).await
            }
        }
    };
}
commit_on!(Sqlite, false);
commit_on!(Postgres, true);

/// Begins a write transaction of kind `$write` (its phases are timed under that name: `phases`) on
/// an account's data, held as a `ChangeTx` that wakes `$feed`'s watchers when it commits. On SQLite
/// it takes the write lock at once (`BEGIN IMMEDIATE`): a deferred transaction that reads and then
/// writes can fail with SQLITE_BUSY, without waiting for the busy timeout, when another process
/// holds the lock.
macro_rules! begin_change {
    ($pool:ident, $pg:ident, $feed:expr, $write:literal) => {{
        let phases = $crate::phases::Phases::start($write);
        $crate::change::ChangeTx::new(
            if $pg {
                $pool.begin().await?
            } else {
                $pool.begin_with("BEGIN IMMEDIATE").await?
            },
            $feed,
            phases,
        )
    }};
}
pub(crate) use begin_change;

/// The account `$1` held for the transaction (SQLite's write lock; PostgreSQL's row lock): its
/// currency and time zone; `NotFound` without it.
macro_rules! hold_account {
    ($tx:expr, $pg:expr, $account_id:expr) => {{
        let lock = if $pg { " FOR UPDATE" } else { "" };
        let row: Option<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT currency_code, time_zone FROM accounts WHERE id = $1{lock}"
        )))
        .bind($account_id)
        .fetch_optional(&mut *$tx)
        .await?;
        let Some((code, tz)) = row else {
            return Err($crate::StoreError::NotFound);
        };
        let tz: chrono_tz::Tz = tz
            .parse()
            .map_err(|_| $crate::StoreError::Corrupt(format!("time zone '{tz}'")))?;
        ($crate::rows::currency(&code)?, tz)
    }};
}
pub(crate) use hold_account;

/// Whether the ledger already holds `$key` (then the write writes nothing: it is answered by
/// `Store::settle` from what the first request wrote).
macro_rules! seen {
    ($tx:expr, $key:expr) => {{
        let key: $crate::RequestKey<'_> = $key;
        let seen: Option<String> = sqlx::query_scalar(
            "SELECT fingerprint FROM requests WHERE subject = $1 AND request_id = $2",
        )
        .bind(key.subject)
        .bind(key.request_id)
        .fetch_optional(&mut *$tx)
        .await?;
        seen.is_some()
    }};
}
pub(crate) use seen;

/// What a write answered: what it recorded, or, for a retry (the same request under the same key),
/// what the first request recorded. Nothing is written twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<T> {
    Recorded(T),
    /// The request id was seen before with the same content: the first result, nothing written.
    Replayed(T),
}

impl<T> Written<T> {
    /// What was recorded, either way.
    pub fn into_inner(self) -> T {
        match self {
            Written::Recorded(t) | Written::Replayed(t) => t,
        }
    }
}

impl Store {
    /// What an earlier request with `key` wrote, when the ledger holds it for the same RPC
    /// (`method`) and content (`fingerprint`): `load` reads it by the resource name the ledger
    /// kept. `RequestIdReused` when the key was used for something else.
    pub(crate) async fn replay<T, F, Fut>(
        &self,
        key: RequestKey<'_>,
        method: &str,
        fingerprint: &str,
        load: F,
    ) -> Result<Option<T>, StoreError>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<Option<T>, StoreError>>,
    {
        let Some(seen) = self.find_request(key).await? else {
            return Ok(None);
        };
        seen.retried_by(method, fingerprint)?;
        let resource = seen.resource.clone();
        load(seen.resource).await?.map(Some).ok_or_else(|| {
            StoreError::Corrupt(format!("the ledger names {resource}, which is not stored"))
        })
    }

    /// Answers a single write: `Ok(Some(resource))` is what it recorded; `Ok(None)` (the ledger
    /// held its key when it looked) and a unique violation with the key now in the ledger (a twin
    /// committed first) are answered with what the first request wrote. Any other unique
    /// violation is returned for the caller to name.
    pub(crate) async fn settle<T, F, Fut>(
        &self,
        written: Result<Option<String>, StoreError>,
        key: RequestKey<'_>,
        method: &str,
        fingerprint: &str,
        load: F,
    ) -> Result<Written<T>, StoreError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<Option<T>, StoreError>>,
    {
        let replayed = || async {
            self.replay(key, method, fingerprint, &load)
                .await?
                .map(Written::Replayed)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("{method}: a retry found no ledger row"))
                })
        };
        match written {
            Ok(Some(resource)) => load(resource.clone())
                .await?
                .map(Written::Recorded)
                .ok_or_else(|| StoreError::Corrupt(format!("{resource} vanished after its write"))),
            Ok(None) => replayed().await,
            Err(e) if e.is_unique_violation() => match self.find_request(key).await? {
                Some(_) => replayed().await,
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}
