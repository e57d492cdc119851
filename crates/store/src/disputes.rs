//! Disputes (migration 0009). Raising one pauses its invoices (`invoices.disputed`); resolving it
//! upheld writes a credit note per invoice that clears what it still owes, rejected makes them
//! collectable again. Each change is one transaction holding the account (SQLite's write lock;
//! PostgreSQL's row lock), ended by the write epilogue (`change`). The database holds
//! every invoice to one open dispute (a unique partial index).

use chrono::{DateTime, Utc};
use recoup_domain::Money;
use recoup_domain::Violations;
use recoup_domain::account::Adjustment;
use recoup_domain::ageing::local_today;
use recoup_domain::dispute::{
    self, Disputable, DisputeState, NewDispute, Resolution, check_invoices,
};

use crate::ConflictKind;
use crate::change::{Change, Event, Written, begin_change, hold_account, seen};
use crate::minor;
use crate::requests::{RequestKey, last_id};
use crate::rows::{RowExt, currency};
use crate::sets::{ids, int, rows};
use crate::{Store, StoreError, retrying, store_time, with_reader, with_writer};

const RAISE: &str = "RaiseDispute";
const RESOLVE: &str = "ResolveDispute";

/// A dispute as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDispute {
    pub id: i64,
    pub account_id: i64,
    pub invoice_numbers: Vec<String>,
    pub reason: String,
    pub state: DisputeState,
    pub raised_by: String,
    pub raise_time: DateTime<Utc>,
    /// The call it was raised on, if it came from one.
    pub call_id: Option<i64>,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
    pub resolve_time: Option<DateTime<Utc>>,
    /// For an upheld dispute, the credit note issued on each invoice that still owed something.
    pub credit_notes: Vec<(String, Adjustment)>,
}

impl StoredDispute {
    pub fn name(&self) -> String {
        format!("accounts/{}/disputes/{}", self.account_id, self.id)
    }

    /// The dispute as it stood at `at`: before its resolution, still open.
    pub fn as_of(&self, at: DateTime<Utc>) -> StoredDispute {
        match self.resolve_time {
            Some(t) if at < t => StoredDispute {
                state: DisputeState::Open,
                resolved_by: None,
                resolution: None,
                resolve_time: None,
                credit_notes: Vec::new(),
                ..self.clone()
            },
            _ => self.clone(),
        }
    }
}

/// A dispute change, or the retry of one.
pub type DisputeOutcome = Written<StoredDispute>;

/// The invoices of account `$1` named in the JSON array `$2`, with the open dispute holding each.
pub(crate) fn disputable_sql(pg: bool) -> String {
    format!(
        "SELECT i.id, i.number, i.outstanding_minor, \
         (SELECT di.dispute_id FROM dispute_invoices di WHERE di.invoice_id = i.id AND di.open) \
         AS open_dispute FROM invoices i WHERE i.account_id = $1 AND i.number IN \
         (SELECT {} FROM {})",
        crate::sets::scalar(pg),
        rows(pg, 2)
    )
}

/// Reads `disputable_sql` rows: (invoice id, what a dispute sees of it).
macro_rules! disputable {
    ($tx:expr, $pg:expr, $account_id:expr, $numbers:expr, $currency:expr) => {{
        let currency: recoup_domain::Currency = $currency;
        sqlx::query(sqlx::AssertSqlSafe($crate::disputes::disputable_sql($pg)))
            .bind($account_id)
            .bind(serde_json::json!($numbers).to_string())
            .fetch_all(&mut *$tx)
            .await?
            .iter()
            .map(|r| {
                use $crate::rows::RowExt;
                Ok((
                    r.int("id")?,
                    recoup_domain::dispute::Disputable {
                        number: r.text("number")?,
                        outstanding: recoup_domain::Money::from_minor(
                            r.int("outstanding_minor")?,
                            currency,
                        ),
                        open_dispute: r.opt_int("open_dispute")?,
                    },
                ))
            })
            .collect::<Result<Vec<(i64, recoup_domain::dispute::Disputable)>, StoreError>>()?
    }};
}
pub(crate) use disputable;

/// Opens a dispute on `$invoice_ids` (in the order named) inside the write transaction `$tx` and
/// pauses them; evaluates to its id. The invoice keeps a short reason (the CRM's own, if it has
/// one); the dispute keeps the whole.
macro_rules! open_dispute {
    ($tx:expr, $pg:expr, $account_id:expr, $call_id:expr, $invoice_ids:expr, $reason:expr, $by:expr, $now:expr) => {{
        let invoice_ids: &[i64] = $invoice_ids;
        let reason: &str = $reason;
        let now: chrono::DateTime<chrono::Utc> = $now;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO disputes (account_id, reason, state, raised_by, raise_time, call_id) \
             VALUES ($1, $2, 'open', $3, $4, $5) RETURNING id",
        )
        .bind($account_id)
        .bind(reason)
        .bind($by)
        .bind(now)
        .bind($call_id)
        .fetch_one(&mut *$tx)
        .await?;
        let positions: Vec<serde_json::Value> = invoice_ids
            .iter()
            .enumerate()
            .map(|(k, i)| serde_json::json!([k, i]))
            .collect();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO dispute_invoices (dispute_id, position, invoice_id, open) \
             SELECT $2, {}, {}, TRUE FROM {}",
            $crate::sets::int(0),
            $crate::sets::int(1),
            $crate::sets::rows($pg, 1)
        )))
        .bind(serde_json::Value::Array(positions).to_string())
        .bind(id)
        .execute(&mut *$tx)
        .await?;
        let short: String = reason
            .chars()
            .take(recoup_domain::account::MAX_REASON_CHARS)
            .collect();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE invoices SET disputed = TRUE, \
             dispute_reason = CASE WHEN crm_disputed THEN dispute_reason ELSE $2 END, \
             update_time = $3 WHERE id IN ({})",
            $crate::sets::ids($pg, 1)
        )))
        .bind(serde_json::json!(invoice_ids).to_string())
        .bind(short)
        .bind(now)
        .execute(&mut *$tx)
        .await?;
        id
    }};
}
pub(crate) use open_dispute;

/// The change a dispute write made: `dispute_changed`, and `account_updated` (what the account owes
/// or may be chased for changed), with its ledger row and the account's update time and view.
fn dispute_change(
    key: RequestKey<'_>,
    method: &str,
    fingerprint: &str,
    account_id: i64,
    dispute_id: i64,
    now: DateTime<Utc>,
) -> (Change, String) {
    let resource = format!("accounts/{account_id}/disputes/{dispute_id}");
    let mut change = Change::new(Event::by(
        key,
        now,
        "dispute_changed",
        account_id,
        &resource,
    ));
    change
        .event(Event::by(
            key,
            now,
            "account_updated",
            account_id,
            format!("accounts/{account_id}"),
        ))
        .request(key, method, fingerprint, &resource, now)
        .touch(account_id, now);
    (change, resource)
}

impl Store {
    /// Raises a dispute on invoices of account `account_id`, idempotently by `key`.
    ///
    /// Errors: `NotFound` (no such account), `Invalid` (an invoice that is not the account's, has
    /// nothing outstanding, or is held by another open dispute; field paths relative to the
    /// dispute), `RequestIdReused`.
    pub async fn raise_dispute(
        &self,
        key: RequestKey<'_>,
        account_id: i64,
        d: &NewDispute,
        now: DateTime<Utc>,
    ) -> Result<DisputeOutcome, StoreError> {
        let fingerprint = d.fingerprint(account_id);
        if let Some(found) = self.replay_dispute(key, RAISE, &fingerprint).await? {
            return Ok(DisputeOutcome::Replayed(found));
        }
        let now = store_time(now);
        let written: Result<Option<String>, StoreError> = retrying!(&self.backend, async {
            Ok(with_writer!(&self.backend, |pool, pg| {
                let mut tx = begin_change!(pool, pg, &self.feed, "dispute");
                let (cur, _) = hold_account!(tx, pg, account_id);
                if seen!(tx, key) {
                    None
                } else {
                    let found = disputable!(tx, pg, account_id, &d.invoice_numbers, cur);
                    let mut v = Violations::new();
                    let known: Vec<Disputable> = found.iter().map(|(_, x)| x.clone()).collect();
                    check_invoices(
                        &mut v,
                        "invoice_numbers",
                        &d.invoice_numbers,
                        account_id,
                        &known,
                    );
                    if !v.is_empty() {
                        return Err(StoreError::Invalid(v));
                    }
                    let invoice_ids: Vec<i64> = d
                        .invoice_numbers
                        .iter()
                        .filter_map(|n| {
                            found
                                .iter()
                                .find(|(_, x)| x.number == *n)
                                .map(|(id, _)| *id)
                        })
                        .collect();
                    let no_call: Option<i64> = None;
                    let id = open_dispute!(
                        tx,
                        pg,
                        account_id,
                        no_call,
                        &invoice_ids,
                        &d.reason,
                        key.subject,
                        now
                    );
                    let (change, resource) =
                        dispute_change(key, RAISE, &fingerprint, account_id, id, now);
                    tx.commit(change).await?;
                    Some(resource)
                }
            }))
        });
        self.after_write(written, key, RAISE, &fingerprint).await
    }

    /// Resolves dispute `dispute_id` of account `account_id`, idempotently by `key`: upheld writes a
    /// credit note (reference `DISPUTE-{id}`, dated the debtor's today) clearing what each of its
    /// invoices still owes; rejected makes them collectable again (unless the CRM marks them
    /// disputed itself).
    ///
    /// Errors: `NotFound` (no such dispute on the account), `Conflict` (already resolved, or the
    /// credit note's reference is taken on an invoice), `Invalid`, `RequestIdReused`.
    pub async fn resolve_dispute(
        &self,
        key: RequestKey<'_>,
        account_id: i64,
        dispute_id: i64,
        r: &Resolution,
        now: DateTime<Utc>,
    ) -> Result<DisputeOutcome, StoreError> {
        let fingerprint = r.fingerprint(&format!("accounts/{account_id}/disputes/{dispute_id}"));
        if let Some(found) = self.replay_dispute(key, RESOLVE, &fingerprint).await? {
            return Ok(DisputeOutcome::Replayed(found));
        }
        let now = store_time(now);
        let written: Result<Option<String>, StoreError> = retrying!(&self.backend, async {
            Ok(with_writer!(&self.backend, |pool, pg| {
                let mut tx = begin_change!(pool, pg, &self.feed, "dispute");
                let (cur, tz) = hold_account!(tx, pg, account_id);
                if seen!(tx, key) {
                    None
                } else {
                    let state: Option<String> = sqlx::query_scalar(
                        "SELECT state FROM disputes WHERE id = $1 AND account_id = $2",
                    )
                    .bind(dispute_id)
                    .bind(account_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    match state.as_deref() {
                        None => return Err(StoreError::NotFound),
                        Some("open") => {}
                        Some(s) => {
                            let name = format!("accounts/{account_id}/disputes/{dispute_id}");
                            return Err(StoreError::conflict(
                                ConflictKind::AlreadyResolved,
                                &name,
                                format!("{name} was already resolved ({s})"),
                            ));
                        }
                    }
                    if r.outcome == DisputeState::Upheld {
                        let today = local_today(tz, now);
                        let invoices: Vec<(i64, String, i64)> = sqlx::query_as(
                            "SELECT i.id, i.number, i.outstanding_minor FROM dispute_invoices di \
                             JOIN invoices i ON i.id = di.invoice_id WHERE di.dispute_id = $1 \
                             ORDER BY di.position",
                        )
                        .bind(dispute_id)
                        .fetch_all(&mut *tx)
                        .await?;
                        for (invoice_id, number, outstanding) in invoices {
                            let Some(note) = dispute::credit_note(
                                dispute_id,
                                Money::from_minor(outstanding, cur),
                                today,
                                key.subject,
                                &r.resolution,
                            ) else {
                                continue;
                            };
                            let taken: Option<i64> = sqlx::query_scalar(
                                "SELECT invoice_id FROM invoice_adjustments \
                                 WHERE invoice_id = $1 AND reference = $2",
                            )
                            .bind(invoice_id)
                            .bind(&note.reference)
                            .fetch_optional(&mut *tx)
                            .await?;
                            if taken.is_some() {
                                return Err(StoreError::conflict(
                                    ConflictKind::State,
                                    format!("accounts/{account_id}/disputes/{dispute_id}"),
                                    format!(
                                        "invoice '{number}' already has an adjustment '{}'; \
                                         credit it in the CRM instead",
                                        note.reference
                                    ),
                                ));
                            }
                            let amount = minor(note.amount)?;
                            sqlx::query(
                                "INSERT INTO invoice_adjustments (invoice_id, reference, kind, \
                                 amount_minor, date, reason, dispute_id) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                            )
                            .bind(invoice_id)
                            .bind(&note.reference)
                            .bind(note.kind.as_str())
                            .bind(amount)
                            .bind(note.date)
                            .bind(&note.reason)
                            .bind(dispute_id)
                            .execute(&mut *tx)
                            .await?;
                            sqlx::query(
                                "UPDATE dispute_invoices SET credit_minor = $3, credit_date = $4 \
                                 WHERE dispute_id = $1 AND invoice_id = $2",
                            )
                            .bind(dispute_id)
                            .bind(invoice_id)
                            .bind(amount)
                            .bind(note.date)
                            .execute(&mut *tx)
                            .await?;
                            sqlx::query(
                                "UPDATE invoices SET adjusted_minor = adjusted_minor - $2, \
                                 outstanding_minor = outstanding_minor - $2, update_time = $3 \
                                 WHERE id = $1",
                            )
                            .bind(invoice_id)
                            .bind(amount)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                    sqlx::query(
                        "UPDATE invoices SET disputed = crm_disputed, \
                         dispute_reason = CASE WHEN crm_disputed THEN dispute_reason ELSE '' END, \
                         update_time = $2 \
                         WHERE id IN (SELECT invoice_id FROM dispute_invoices WHERE dispute_id = $1)",
                    )
                    .bind(dispute_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE dispute_invoices SET open = FALSE WHERE dispute_id = $1")
                        .bind(dispute_id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE disputes SET state = $2, resolved_by = $3, resolution = $4, \
                         resolve_time = $5 WHERE id = $1",
                    )
                    .bind(dispute_id)
                    .bind(r.outcome.as_str())
                    .bind(key.subject)
                    .bind(&r.resolution)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    let (change, resource) =
                        dispute_change(key, RESOLVE, &fingerprint, account_id, dispute_id, now);
                    tx.commit(change).await?;
                    Some(resource)
                }
            }))
        });
        self.after_write(written, key, RESOLVE, &fingerprint).await
    }

    /// Answers a dispute write: the dispute it wrote, or the one the first request with its key
    /// wrote.
    async fn after_write(
        &self,
        written: Result<Option<String>, StoreError>,
        key: RequestKey<'_>,
        method: &str,
        fingerprint: &str,
    ) -> Result<DisputeOutcome, StoreError> {
        self.settle(written, key, method, fingerprint, |r| self.dispute_named(r))
            .await
    }

    async fn replay_dispute(
        &self,
        key: RequestKey<'_>,
        method: &str,
        fingerprint: &str,
    ) -> Result<Option<StoredDispute>, StoreError> {
        self.replay(key, method, fingerprint, |r| self.dispute_named(r))
            .await
    }

    /// The dispute named by `resource` (`accounts/{a}/disputes/{id}`).
    async fn dispute_named(&self, resource: String) -> Result<Option<StoredDispute>, StoreError> {
        match last_id(&resource) {
            Some(id) => self.dispute(id).await,
            None => Ok(None),
        }
    }

    /// Dispute `dispute_id` of account `account_id`.
    pub async fn get_dispute(
        &self,
        account_id: i64,
        dispute_id: i64,
    ) -> Result<Option<StoredDispute>, StoreError> {
        Ok(self
            .dispute(dispute_id)
            .await?
            .filter(|d| d.account_id == account_id))
    }

    /// Account `account_id`'s disputes, open and resolved, before id `before` (all when None),
    /// newest first, at most `limit`; None when there is no such account. A dispute is read with
    /// its invoices in a query each: an account has a handful.
    pub async fn list_disputes(
        &self,
        account_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Option<Vec<StoredDispute>>, StoreError> {
        let ids: Vec<i64> = with_reader!(&self.backend, |pool, pg| {
            sqlx::query_scalar(
                "SELECT id FROM disputes WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            )
            .bind(account_id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        if ids.is_empty() && !self.account_exists(account_id).await? {
            return Ok(None);
        }
        let mut disputes = Vec::with_capacity(ids.len());
        for id in ids {
            disputes.extend(self.dispute(id).await?);
        }
        Ok(Some(disputes))
    }

    async fn dispute(&self, id: i64) -> Result<Option<StoredDispute>, StoreError> {
        with_reader!(&self.backend, |pool, pg| {
            let Some(r) = sqlx::query(
                "SELECT d.id, d.account_id, a.currency_code, d.reason, d.state, d.raised_by, \
                 d.raise_time, d.call_id, d.resolved_by, d.resolution, d.resolve_time \
                 FROM disputes d JOIN accounts a ON a.id = d.account_id WHERE d.id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
            else {
                return Ok(None);
            };
            let invoices = sqlx::query(
                "SELECT i.number, di.credit_minor, di.credit_date FROM dispute_invoices di \
                 JOIN invoices i ON i.id = di.invoice_id WHERE di.dispute_id = $1 \
                 ORDER BY di.position",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            let cur = currency(&r.text("currency_code")?)?;
            let state = r.text("state")?;
            let resolved_by = r.opt_text("resolved_by")?;
            let resolution = r.opt_text("resolution")?;
            let mut numbers = Vec::with_capacity(invoices.len());
            let mut credit_notes = Vec::new();
            for i in &invoices {
                let number = i.text("number")?;
                if let (Some(amount), Some(on)) =
                    (i.opt_int("credit_minor")?, i.opt_date("credit_date")?)
                    && let Some(note) = dispute::credit_note(
                        id,
                        Money::from_minor(amount, cur),
                        on,
                        resolved_by.as_deref().unwrap_or_default(),
                        resolution.as_deref().unwrap_or_default(),
                    )
                {
                    credit_notes.push((number.clone(), note));
                }
                numbers.push(number);
            }
            Ok(Some(StoredDispute {
                id: r.int("id")?,
                account_id: r.int("account_id")?,
                invoice_numbers: numbers,
                reason: r.text("reason")?,
                state: DisputeState::parse(&state)
                    .ok_or_else(|| StoreError::Corrupt(format!("dispute state '{state}'")))?,
                raised_by: r.text("raised_by")?,
                raise_time: r.time("raise_time")?,
                call_id: r.opt_int("call_id")?,
                resolved_by,
                resolution,
                resolve_time: r.opt_time("resolve_time")?,
                credit_notes,
            }))
        })
    }
}

/// The statement that frees a batch's invoices (JSON array of ids, `$1`) of the credit notes recoup
/// wrote whose reference the CRM now sends itself: the CRM's note takes their place.
pub(crate) fn superseded_notes_sql(pg: bool) -> String {
    format!(
        "DELETE FROM invoice_adjustments WHERE dispute_id IS NOT NULL AND (invoice_id, reference) \
         IN (SELECT {}, {} FROM {})",
        int(0),
        crate::sets::text(1),
        rows(pg, 1)
    )
}

/// What recoup itself keeps on the invoices of accounts `$1` (JSON array of ids), which an import
/// must carry over: its credit notes (reference, signed minor units) and the reason of the open
/// dispute holding each invoice.
pub(crate) fn kept_sql(pg: bool) -> String {
    let accounts = ids(pg, 1);
    format!(
        "SELECT j.invoice_id, j.reference, j.amount_minor, NULL AS reason FROM invoice_adjustments j \
         JOIN invoices i ON i.id = j.invoice_id \
         WHERE i.account_id IN ({accounts}) AND j.dispute_id IS NOT NULL \
         UNION ALL \
         SELECT di.invoice_id, NULL, NULL, d.reason FROM dispute_invoices di \
         JOIN disputes d ON d.id = di.dispute_id \
         WHERE di.open AND d.account_id IN ({accounts})"
    )
}
