//! Bulk upsert of account records by external ref, set-based: each batch reads what is stored for
//! its records in two queries, decides in memory what is new, changed or unchanged (by content
//! digest), and writes all of it with a fixed number of statements whose rows travel as JSON.
//! New accounts get their view built here; changed ones have it rebuilt by the database.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use recoup_domain::account::{AccountData, InvoiceData, MAX_OPEN_INVOICES, MAX_REASON_CHARS};
use recoup_domain::allocation::{Allocated, release};
use recoup_domain::{Money, Violations, fingerprint};
use serde_json::{Value, json};

use crate::change::{Change, Event, begin_change};
use crate::disputes;
use crate::model::{AccountSnapshot, ImportOutcome, StoredInvoice};
use crate::requests::RequestKey;
use crate::retrying;
use crate::rows::RowExt;
use crate::sets::{date, flag, ids, int, rows, scalar, text, time};
use crate::view::{self, date_text, time_text};
use crate::{
    ConflictKind, Store, StoreError, minor, next_ids, run_all, store_time, with_reader, with_writer,
};

/// Takes `excess` (minor units) back from the allocations to invoice `invoice_id`, newest payment
/// first (`allocation::release`), and adds it to those payments' and the account's credit. Rare:
/// run statement by statement.
macro_rules! release_excess {
    ($tx:expr, $account_id:expr, $invoice_id:expr, $excess:expr, $currency:expr) => {{
        let currency: recoup_domain::Currency = $currency;
        let excess: i64 = $excess;
        let allocated = sqlx::query(
            "SELECT payment_id, CAST(position AS BIGINT) AS position, amount_minor \
             FROM payment_allocations \
             WHERE invoice_id = $1 ORDER BY payment_id DESC, position DESC",
        )
        .bind($invoice_id)
        .fetch_all(&mut *$tx)
        .await?
        .iter()
        .map(|r| {
            Ok(Allocated {
                payment_id: r.int("payment_id")?,
                position: r.int("position")?,
                amount: Money::from_minor(r.int("amount_minor")?, currency),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        for r in release(Money::from_minor(excess, currency), &allocated) {
            if r.remaining.is_zero() {
                sqlx::query("DELETE FROM payment_allocations WHERE payment_id = $1 AND position = $2")
                    .bind(r.payment_id)
                    .bind(r.position)
                    .execute(&mut *$tx)
                    .await?;
            } else {
                sqlx::query(
                    "UPDATE payment_allocations SET amount_minor = $3 WHERE payment_id = $1 AND position = $2",
                )
                .bind(r.payment_id)
                .bind(r.position)
                .bind(minor(r.remaining)?)
                .execute(&mut *$tx)
                .await?;
            }
            sqlx::query("UPDATE payments SET unallocated_minor = unallocated_minor + $2 WHERE id = $1")
                .bind(r.payment_id)
                .bind(minor(r.amount)?)
                .execute(&mut *$tx)
                .await?;
        }
        sqlx::query("UPDATE accounts SET credit_minor = credit_minor + $2 WHERE id = $1")
            .bind($account_id)
            .bind(excess)
            .execute(&mut *$tx)
            .await?;
    }};
}

/// An account already stored, as import needs it.
struct StoredAccount {
    id: i64,
    currency: String,
    profile_hash: String,
}

/// An invoice already stored, as import needs it.
struct KnownInvoice {
    id: i64,
    paid: i64,
    hash: String,
    open: bool,
}

/// What recoup itself keeps on a stored invoice, which an import carries over rather than replaces.
#[derive(Default)]
struct Kept {
    /// Credit notes of upheld disputes: reference and amount (minor units).
    notes: Vec<(String, i64)>,
    /// The reason of the open dispute holding the invoice.
    open_dispute: Option<String>,
}

impl Kept {
    /// recoup's credit notes that `inv` does not send itself, as a signed sum (minor units), and the
    /// references of those it does send (the CRM has booked them: its own take their place).
    fn carried<'a>(&'a self, inv: &InvoiceData) -> (i64, Vec<&'a str>) {
        let mut sum = 0;
        let mut superseded = Vec::new();
        for (reference, amount) in &self.notes {
            if inv.adjustments.iter().any(|a| a.reference == *reference) {
                superseded.push(reference.as_str());
            } else {
                sum -= amount;
            }
        }
        (sum, superseded)
    }
}

/// What to do with one record.
enum Decision {
    Create,
    Update {
        id: i64,
        profile: bool,
        /// The record's invoices to write: (index in the record, the stored one it replaces).
        invoices: Vec<(usize, Option<(i64, i64)>)>,
    },
    Unchanged,
    Rejected(Violations),
}

fn decide(
    rec: &AccountData,
    stored: Option<&StoredAccount>,
    known: Option<&HashMap<String, KnownInvoice>>,
) -> Decision {
    let Some(stored) = stored else {
        return Decision::Create;
    };
    let known_invoices = known.is_some_and(|k| !k.is_empty());
    if stored.currency != rec.currency.code() && known_invoices {
        let mut v = Violations::new();
        v.push(
            "currency_code",
            format!(
                "cannot change from {}: the account already has invoices",
                stored.currency
            ),
        );
        return Decision::Rejected(v);
    }
    if let Some(v) = too_many_open(rec, known) {
        return Decision::Rejected(v);
    }
    let profile = stored.profile_hash != fingerprint::profile(rec);
    let invoices: Vec<(usize, Option<(i64, i64)>)> = rec
        .invoices
        .iter()
        .enumerate()
        .filter_map(|(k, inv)| match known.and_then(|m| m.get(&inv.number)) {
            None => Some((k, None)),
            Some(s) if s.hash == fingerprint::invoice(inv) => None,
            Some(s) => Some((k, Some((s.id, s.paid)))),
        })
        .collect();
    if !profile && invoices.is_empty() {
        Decision::Unchanged
    } else {
        Decision::Update {
            id: stored.id,
            profile,
            invoices,
        }
    }
}

/// The account would hold more than `MAX_OPEN_INVOICES` open invoices after `rec`, and more than it
/// holds now (an account already past it is not kept from updates that do not add to it).
fn too_many_open(
    rec: &AccountData,
    known: Option<&HashMap<String, KnownInvoice>>,
) -> Option<Violations> {
    let known = known?;
    let named: HashSet<&str> = rec.invoices.iter().map(|i| i.number.as_str()).collect();
    let open_now = known.values().filter(|k| k.open).count();
    let kept_open = known
        .iter()
        .filter(|(number, k)| k.open && !named.contains(number.as_str()))
        .count();
    let sent_open = rec
        .invoices
        .iter()
        .filter(|inv| {
            let paid = known.get(&inv.number).map_or(0, |k| k.paid);
            // An amount finer than the currency is refused by validation before this.
            minor(inv.amount.with_amount(inv.billed())).map_or(true, |billed| billed > paid)
        })
        .count();
    let open_after = kept_open + sent_open;
    if open_after <= MAX_OPEN_INVOICES || open_after <= open_now {
        return None;
    }
    let mut v = Violations::new();
    v.push(
        "invoices",
        format!(
            "would leave the account with {open_after} open invoices; an account holds at most \
             {MAX_OPEN_INVOICES} (imports never remove invoices: send settled ones as paid or \
             credited, or split the customer's accounts)"
        ),
    );
    Some(v)
}

/// Every invoice of an update that recoup's own credit notes (upheld disputes) would take below
/// zero with the amounts the record sends: the CRM must credit less, or book our notes itself.
fn over_credited(
    rec: &AccountData,
    invoices: &[(usize, Option<(i64, i64)>)],
    kept: &HashMap<i64, Kept>,
) -> Result<Violations, StoreError> {
    let mut v = Violations::new();
    for (k, existing) in invoices {
        let (Some((inv_id, _)), inv) = (existing, &rec.invoices[*k]) else {
            continue;
        };
        let Some(kept) = kept.get(inv_id) else {
            continue;
        };
        let (carried, _) = kept.carried(inv);
        if minor(inv.amount.with_amount(inv.billed()))? + carried < 0 {
            v.push(
                format!("invoices[{k}].amount"),
                format!(
                    "with the credit notes recoup issued on upheld disputes ({}), the invoice \
                     would be credited below zero",
                    kept.notes
                        .iter()
                        .map(|(r, _)| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
    Ok(v)
}

/// Signed sum of an invoice's adjustments, in minor units.
fn adjusted_minor(inv: &InvoiceData) -> Result<i64, StoreError> {
    let billed = inv.amount.with_amount(inv.billed());
    Ok(minor(billed)? - minor(inv.amount)?)
}

/// The rows a chunk writes, one JSON array per statement.
#[derive(Default)]
struct Rows {
    new_accounts: Vec<Value>,
    profiles: Vec<Value>,
    contacts_replaced: Vec<i64>,
    contacts: Vec<Value>,
    new_invoices: Vec<Value>,
    changed_invoices: Vec<Value>,
    adjustments_replaced: Vec<i64>,
    /// [invoice id, reference] of recoup's credit notes the CRM now sends itself.
    notes_superseded: Vec<Value>,
    adjustments: Vec<Value>,
    /// (account, invoice, excess minor units) of invoices lowered below what was paid.
    releases: Vec<(i64, i64, i64)>,
}

fn profile_row(id: i64, r: &AccountData, now: &str) -> Value {
    json!([
        id,
        r.external_ref,
        r.legal_name,
        r.debtor_type.as_str(),
        r.country_code,
        r.time_zone.name(),
        r.currency.code(),
        r.status.as_str(),
        r.cease_calls,
        fingerprint::profile(r),
        now,
        r.interest_waived,
        r.queue
    ])
}

/// An invoice's row; `kept` is what recoup keeps on it (nothing for a new invoice): its credit
/// notes count in what is billed, and an open dispute keeps it paused whatever the CRM says.
fn invoice_row(
    id: i64,
    account_id: i64,
    inv: &InvoiceData,
    paid: i64,
    now: &str,
    kept: Option<&Kept>,
) -> Result<Value, StoreError> {
    let amount = minor(inv.amount)?;
    let adjusted = adjusted_minor(inv)? + kept.map_or(0, |k| k.carried(inv).0);
    let open_dispute = kept.and_then(|k| k.open_dispute.as_deref());
    let reason = match open_dispute {
        Some(r) if !inv.disputed => r.chars().take(MAX_REASON_CHARS).collect(),
        _ => inv.dispute_reason.clone(),
    };
    Ok(json!([
        id,
        account_id,
        inv.number,
        date_text(inv.issue_date),
        date_text(inv.due_date),
        amount,
        adjusted,
        paid,
        amount + adjusted - paid,
        inv.disputed || open_dispute.is_some(),
        reason,
        fingerprint::invoice(inv),
        now,
        inv.disputed
    ]))
}

impl Rows {
    /// Rows of accounts, contacts, invoices and adjustments written: what changes the statistics.
    fn written(&self) -> u64 {
        (self.new_accounts.len()
            + self.profiles.len()
            + self.contacts.len()
            + self.new_invoices.len()
            + self.changed_invoices.len()
            + self.adjustments.len()) as u64
    }

    fn adjustments_of(&mut self, invoice_id: i64, inv: &InvoiceData) -> Result<(), StoreError> {
        for a in &inv.adjustments {
            self.adjustments.push(json!([
                invoice_id,
                a.reference,
                a.kind.as_str(),
                minor(a.amount)?,
                date_text(a.date),
                a.reason
            ]));
        }
        Ok(())
    }

    fn contacts_of(&mut self, account_id: i64, rec: &AccountData) {
        for (pos, c) in rec.contacts.iter().enumerate() {
            self.contacts.push(json!([
                account_id,
                pos,
                c.display_name,
                c.role,
                c.phone,
                c.email,
                c.preferred
            ]));
        }
    }
}

/// Splits records into runs without a repeated external ref: a record later in the stream must see
/// what an earlier one with the same ref wrote, so a repeat starts a new run (same transaction).
fn runs(records: &[AccountData]) -> Vec<&[AccountData]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut seen = HashSet::new();
    for (k, r) in records.iter().enumerate() {
        if !seen.insert(r.external_ref.as_str()) {
            out.push(&records[start..k]);
            start = k;
            seen.clear();
            seen.insert(r.external_ref.as_str());
        }
    }
    if start < records.len() {
        out.push(&records[start..]);
    }
    out
}

/// The statements that write a chunk's rows, in order, with their JSON rows (statements without
/// rows are left out).
fn statements(pg: bool, r: Rows) -> Vec<(String, String)> {
    let overriding = if pg { " OVERRIDING SYSTEM VALUE" } else { "" };
    let src = rows(pg, 1);
    let out = vec![
        (
            format!(
                "INSERT INTO accounts (id, external_ref, legal_name, debtor_type, country_code, \
                 time_zone, currency_code, status, cease_calls, credit_minor, profile_hash, \
                 create_time, update_time, interest_waived, queue, crm_status, \
                 crm_cease_calls){overriding} \
                 SELECT {}, {}, {}, {}, {}, {}, {}, {}, {}, 0, {}, {}, {}, {}, {}, {}, {} FROM {src}",
                int(0),
                text(1),
                text(2),
                text(3),
                text(4),
                text(5),
                text(6),
                text(7),
                flag(pg, 8),
                text(9),
                time(pg, 10),
                time(pg, 10),
                flag(pg, 11),
                text(12),
                text(7),
                flag(pg, 8)
            ),
            Value::Array(r.new_accounts),
        ),
        (
            // The CRM's status and cease_calls are kept as sent; those in force keep recoup's
            // lasting blocks over them (a referral or a stop-calling request from a call), which
            // only LiftContactBlock lifts.
            format!(
                "UPDATE accounts SET legal_name = d.legal_name, debtor_type = d.debtor_type, \
                 country_code = d.country_code, time_zone = d.time_zone, \
                 currency_code = d.currency_code, crm_status = d.status, \
                 crm_cease_calls = d.cease_calls, \
                 status = CASE WHEN accounts.held_agency THEN 'with_agency' ELSE d.status END, \
                 cease_calls = (d.cease_calls OR accounts.held_cease), \
                 profile_hash = d.profile_hash, interest_waived = d.interest_waived, \
                 queue = d.queue \
                 FROM (SELECT {} AS id, {} AS legal_name, {} AS debtor_type, {} AS country_code, \
                 {} AS time_zone, {} AS currency_code, {} AS status, {} AS cease_calls, \
                 {} AS profile_hash, {} AS interest_waived, {} AS queue FROM {src}) d \
                 WHERE accounts.id = d.id",
                int(0),
                text(2),
                text(3),
                text(4),
                text(5),
                text(6),
                text(7),
                flag(pg, 8),
                text(9),
                flag(pg, 11),
                text(12)
            ),
            Value::Array(r.profiles),
        ),
        (
            format!("DELETE FROM contacts WHERE account_id IN ({})", ids(pg, 1)),
            json!(r.contacts_replaced),
        ),
        (
            format!(
                "INSERT INTO contacts (account_id, position, display_name, role, phone, email, \
                 preferred) SELECT {}, {}, {}, {}, {}, {}, {} FROM {src}",
                int(0),
                int(1),
                text(2),
                text(3),
                text(4),
                text(5),
                flag(pg, 6)
            ),
            Value::Array(r.contacts),
        ),
        (
            format!(
                "INSERT INTO invoices (id, account_id, number, issue_date, due_date, amount_minor, \
                 adjusted_minor, paid_minor, outstanding_minor, disputed, dispute_reason, \
                 content_hash, create_time, update_time, crm_disputed){overriding} \
                 SELECT {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {} FROM {src}",
                int(0),
                int(1),
                text(2),
                date(pg, 3),
                date(pg, 4),
                int(5),
                int(6),
                int(7),
                int(8),
                flag(pg, 9),
                text(10),
                text(11),
                time(pg, 12),
                time(pg, 12),
                flag(pg, 13)
            ),
            Value::Array(r.new_invoices),
        ),
        (
            format!(
                "UPDATE invoices SET issue_date = d.issue_date, due_date = d.due_date, \
                 amount_minor = d.amount_minor, adjusted_minor = d.adjusted_minor, \
                 paid_minor = d.paid_minor, outstanding_minor = d.outstanding_minor, \
                 disputed = d.disputed, dispute_reason = d.dispute_reason, \
                 content_hash = d.content_hash, update_time = d.update_time, \
                 crm_disputed = d.crm_disputed \
                 FROM (SELECT {} AS id, {} AS issue_date, {} AS due_date, {} AS amount_minor, \
                 {} AS adjusted_minor, {} AS paid_minor, {} AS outstanding_minor, {} AS disputed, \
                 {} AS dispute_reason, {} AS content_hash, {} AS update_time, \
                 {} AS crm_disputed FROM {src}) d \
                 WHERE invoices.id = d.id",
                int(0),
                date(pg, 3),
                date(pg, 4),
                int(5),
                int(6),
                int(7),
                int(8),
                flag(pg, 9),
                text(10),
                text(11),
                time(pg, 12),
                flag(pg, 13)
            ),
            Value::Array(r.changed_invoices),
        ),
        (
            format!(
                "DELETE FROM invoice_adjustments WHERE dispute_id IS NULL AND invoice_id IN ({})",
                ids(pg, 1)
            ),
            json!(r.adjustments_replaced),
        ),
        (
            disputes::superseded_notes_sql(pg),
            Value::Array(r.notes_superseded),
        ),
        (
            format!(
                "INSERT INTO invoice_adjustments (invoice_id, reference, kind, amount_minor, date, \
                 reason) SELECT {}, {}, {}, {}, {}, {} FROM {src}",
                int(0),
                text(1),
                text(2),
                int(3),
                date(pg, 4),
                text(5)
            ),
            Value::Array(r.adjustments),
        ),
    ];
    out.into_iter()
        .filter(|(_, rows)| rows.as_array().is_some_and(|a| !a.is_empty()))
        .map(|(sql, rows)| (sql, rows.to_string()))
        .collect()
}

/// The stored accounts of a batch's refs (`$1`: JSON array of external refs).
pub(crate) fn stored_accounts_sql(pg: bool) -> String {
    format!(
        "SELECT a.id, a.external_ref, a.currency_code, a.profile_hash FROM {} \
         JOIN accounts a ON a.external_ref = {}",
        rows(pg, 1),
        scalar(pg)
    )
}

/// The stored invoices of a batch's accounts (`$1`: JSON array of ids).
pub(crate) fn known_invoices_sql(pg: bool) -> String {
    format!(
        "SELECT id, account_id, number, paid_minor, content_hash, outstanding_minor FROM invoices \
         WHERE account_id IN ({})",
        ids(pg, 1)
    )
}

/// Where an import under a request id got: the index of its next record, and its summary so far
/// (the caller's, opaque here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProgress {
    pub next_index: i64,
    pub summary: Vec<u8>,
}

/// How a batch records its import's progress: where the import was before it (None: this is the
/// import's first batch), and the progress after it, made from the batch's outcomes.
pub struct Progress<'a> {
    pub before: Option<i64>,
    pub after: &'a (dyn Fn(&[ImportOutcome]) -> ImportProgress + Send + Sync),
}

/// Records `after` for the import `key`, which must still be at `before` (else another stream
/// under the same request id moved it: `Conflict`, and the batch's transaction rolls back).
macro_rules! record_progress {
    ($conn:expr, $key:expr, $before:expr, $after:expr, $now:expr) => {{
        let done = match $before {
            None => sqlx::query(
                "INSERT INTO import_progress (subject, request_id, next_index, summary, \
                 update_time) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind($key.subject)
            .bind($key.request_id)
            .bind($after.next_index)
            .bind(&$after.summary)
            .bind($now)
            .execute($conn)
            .await?
            .rows_affected(),
            Some(before) => sqlx::query(
                "UPDATE import_progress SET next_index = $3, summary = $4, update_time = $5 \
                 WHERE subject = $1 AND request_id = $2 AND next_index = $6",
            )
            .bind($key.subject)
            .bind($key.request_id)
            .bind($after.next_index)
            .bind(&$after.summary)
            .bind($now)
            .bind(before)
            .execute($conn)
            .await?
            .rows_affected(),
        };
        if done != 1 {
            return Err(StoreError::conflict(
                ConflictKind::Contended,
                format!("request_id {}", $key.request_id),
                "another stream is importing under this request_id; when it ends, send again",
            ));
        }
    }};
}

impl Store {
    /// Upserts already-validated records in one transaction, in order (a record later in the batch
    /// sees what an earlier one with the same external ref wrote). Returns one outcome per record.
    /// `by` (the credential's subject and the stream's request id, possibly empty) is recorded on
    /// each change's event.
    pub async fn import_batch(
        &self,
        records: &[AccountData],
        by: RequestKey<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        self.import_batch_tracked(records, by, now, None).await
    }

    /// The progress recorded by import `key`'s last batch, if it recorded any.
    pub async fn import_progress(
        &self,
        key: RequestKey<'_>,
    ) -> Result<Option<ImportProgress>, StoreError> {
        Ok(with_reader!(&self.backend, |pool, pg| {
            sqlx::query_as::<_, (i64, Vec<u8>)>(
                "SELECT next_index, summary FROM import_progress \
                 WHERE subject = $1 AND request_id = $2",
            )
            .bind(key.subject)
            .bind(key.request_id)
            .fetch_optional(pool)
            .await?
        })
        .map(|(next_index, summary)| ImportProgress {
            next_index,
            summary,
        }))
    }

    /// `import_batch`, recording the import's progress (`by` names it) with the batch: in its
    /// transaction when it changed anything; otherwise on its own (a batch that changed nothing
    /// gives the same outcomes when sent again).
    pub async fn import_batch_tracked(
        &self,
        records: &[AccountData],
        by: RequestKey<'_>,
        now: DateTime<Utc>,
        progress: Option<Progress<'_>>,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        let now = store_time(now);
        let at = time_text(now);
        let mut outcomes = Vec::with_capacity(records.len());
        let mut written = 0;
        // A unique violation: another stream created one of the batch's accounts or invoices after
        // this transaction read them (PostgreSQL); run again, it finds them and updates instead.
        retrying!(
            &self.backend,
            async {
                outcomes.clear();
                written = 0;
                with_writer!(&self.backend, |pool, pg| {
                    let mut tx = begin_change!(pool, pg, &self.feed, "import");
                    let mut change = None;
                    for run in runs(records) {
                        let refs: Vec<&str> = run.iter().map(|r| r.external_ref.as_str()).collect();
                        let stored: HashMap<String, StoredAccount> =
                            sqlx::query(sqlx::AssertSqlSafe(stored_accounts_sql(pg)))
                                .bind(json!(refs).to_string())
                                .fetch_all(&mut *tx)
                                .await?
                                .iter()
                                .map(|r| {
                                    Ok((
                                        r.text("external_ref")?,
                                        StoredAccount {
                                            id: r.int("id")?,
                                            currency: r.text("currency_code")?,
                                            profile_hash: r.text("profile_hash")?,
                                        },
                                    ))
                                })
                                .collect::<Result<_, StoreError>>()?;
                        let mut known: HashMap<i64, HashMap<String, KnownInvoice>> = HashMap::new();
                        if !stored.is_empty() {
                            let account_ids: Vec<i64> = stored.values().map(|s| s.id).collect();
                            for r in sqlx::query(sqlx::AssertSqlSafe(known_invoices_sql(pg)))
                                .bind(json!(account_ids).to_string())
                                .fetch_all(&mut *tx)
                                .await?
                            {
                                known.entry(r.int("account_id")?).or_default().insert(
                                    r.text("number")?,
                                    KnownInvoice {
                                        id: r.int("id")?,
                                        paid: r.int("paid_minor")?,
                                        hash: r.text("content_hash")?,
                                        open: r.int("outstanding_minor")? > 0,
                                    },
                                );
                            }
                        }
                        let mut kept: HashMap<i64, Kept> = HashMap::new();
                        if !stored.is_empty() {
                            let account_ids: Vec<i64> = stored.values().map(|s| s.id).collect();
                            for r in sqlx::query(sqlx::AssertSqlSafe(disputes::kept_sql(pg)))
                                .bind(json!(account_ids).to_string())
                                .fetch_all(&mut *tx)
                                .await?
                            {
                                let k = kept.entry(r.int("invoice_id")?).or_default();
                                match r.opt_text("reason")? {
                                    // Only credit notes carry a dispute: the amount is a credit.
                                    None => {
                                        k.notes.push((r.text("reference")?, r.int("amount_minor")?))
                                    }
                                    Some(reason) => k.open_dispute = Some(reason),
                                }
                            }
                        }
                        let decisions: Vec<Decision> = run
                            .iter()
                            .map(|rec| {
                                let s = stored.get(&rec.external_ref);
                                decide(rec, s, s.and_then(|s| known.get(&s.id)))
                            })
                            .collect();
                        let new_accounts = decisions
                            .iter()
                            .filter(|d| matches!(d, Decision::Create))
                            .count();
                        let new_invoices: usize = run
                            .iter()
                            .zip(&decisions)
                            .map(|(rec, d)| match d {
                                Decision::Create => rec.invoices.len(),
                                Decision::Update { invoices, .. } => {
                                    invoices.iter().filter(|(_, s)| s.is_none()).count()
                                }
                                _ => 0,
                            })
                            .sum();
                        let mut account_ids =
                            next_ids!(tx, pg, "accounts", new_accounts).into_iter();
                        let mut invoice_ids =
                            next_ids!(tx, pg, "invoices", new_invoices).into_iter();
                        let mut w = Rows::default();
                        for (rec, decision) in run.iter().zip(decisions) {
                            match decision {
                                Decision::Create => {
                                    let id = account_ids.next().expect("an id per new account");
                                    w.new_accounts.push(profile_row(id, rec, &at));
                                    w.contacts_of(id, rec);
                                    let mut open = Vec::with_capacity(rec.invoices.len());
                                    for inv in &rec.invoices {
                                        let inv_id =
                                            invoice_ids.next().expect("an id per new invoice");
                                        w.new_invoices
                                            .push(invoice_row(inv_id, id, inv, 0, &at, None)?);
                                        w.adjustments_of(inv_id, inv)?;
                                        open.push(StoredInvoice {
                                            id: inv_id,
                                            account_id: id,
                                            data: inv.clone(),
                                            outstanding: inv.amount.with_amount(inv.billed()),
                                            payments: Vec::new(),
                                        });
                                    }
                                    let snapshot = AccountSnapshot {
                                        id,
                                        data: AccountData {
                                            invoices: Vec::new(),
                                            ..rec.clone()
                                        },
                                        credit: Money::zero(rec.currency),
                                        held: Default::default(),
                                        create_time: now,
                                        update_time: now,
                                        open_invoices: open,
                                        recent_payments: Vec::new(),
                                        story: Default::default(),
                                    };
                                    Change::record(
                                        &mut change,
                                        Event::by(
                                            by,
                                            now,
                                            "account_created",
                                            id,
                                            format!("accounts/{id}"),
                                        ),
                                    )
                                    .view(id, view::encode(&snapshot)?);
                                    outcomes.push(ImportOutcome::Created(id));
                                }
                                Decision::Update {
                                    id,
                                    profile,
                                    invoices,
                                } => {
                                    let v = over_credited(rec, &invoices, &kept)?;
                                    if !v.is_empty() {
                                        outcomes.push(ImportOutcome::Rejected(v));
                                        continue;
                                    }
                                    if profile {
                                        w.profiles.push(profile_row(id, rec, &at));
                                        w.contacts_replaced.push(id);
                                        w.contacts_of(id, rec);
                                    }
                                    for (k, existing) in invoices {
                                        let inv = &rec.invoices[k];
                                        match existing {
                                            None => {
                                                let inv_id = invoice_ids
                                                    .next()
                                                    .expect("an id per new invoice");
                                                w.new_invoices.push(invoice_row(
                                                    inv_id, id, inv, 0, &at, None,
                                                )?);
                                                w.adjustments_of(inv_id, inv)?;
                                            }
                                            Some((inv_id, paid)) => {
                                                let k = kept.get(&inv_id);
                                                let (carried, superseded) =
                                                    k.map(|k| k.carried(inv)).unwrap_or_default();
                                                for reference in superseded {
                                                    w.notes_superseded
                                                        .push(json!([inv_id, reference]));
                                                }
                                                let billed =
                                                    minor(inv.amount.with_amount(inv.billed()))?
                                                        + carried;
                                                // Lowered below what was paid: the payments give the
                                                // excess back as credit.
                                                if paid > billed {
                                                    w.releases.push((id, inv_id, paid - billed));
                                                }
                                                let paid = paid.min(billed);
                                                w.changed_invoices.push(invoice_row(
                                                    inv_id, id, inv, paid, &at, k,
                                                )?);
                                                w.adjustments_replaced.push(inv_id);
                                                w.adjustments_of(inv_id, inv)?;
                                            }
                                        }
                                    }
                                    Change::record(
                                        &mut change,
                                        Event::by(
                                            by,
                                            now,
                                            "account_updated",
                                            id,
                                            format!("accounts/{id}"),
                                        ),
                                    )
                                    .touch(id, now);
                                    outcomes.push(ImportOutcome::Updated(id));
                                }
                                Decision::Unchanged => {
                                    let id = stored
                                        .get(&rec.external_ref)
                                        .map(|s| s.id)
                                        .ok_or_else(|| {
                                            StoreError::Corrupt(
                                                "an unchanged account that is not stored".into(),
                                            )
                                        })?;
                                    outcomes.push(ImportOutcome::Unchanged(id));
                                }
                                Decision::Rejected(v) => outcomes.push(ImportOutcome::Rejected(v)),
                            }
                        }
                        for (account_id, invoice_id, excess) in std::mem::take(&mut w.releases) {
                            let currency = run
                                .iter()
                                .find(|r| {
                                    stored
                                        .get(&r.external_ref)
                                        .is_some_and(|s| s.id == account_id)
                                })
                                .map(|r| r.currency)
                                .ok_or_else(|| {
                                    StoreError::Corrupt("released account not in run".into())
                                })?;
                            release_excess!(tx, account_id, invoice_id, excess, currency);
                        }
                        written += w.written();
                        run_all!(tx, pg, statements(pg, w));
                    }
                    let after = progress.as_ref().map(|p| (p.before, (p.after)(&outcomes)));
                    // Nothing created or updated: nothing written, and the transaction rolls back.
                    match (change, after) {
                        (Some(change), Some((before, after))) => {
                            record_progress!(&mut *tx, by, before, after, now);
                            tx.commit(change).await?;
                        }
                        (Some(change), None) => tx.commit(change).await?,
                        (None, Some((before, after))) => {
                            drop(tx);
                            record_progress!(pool, by, before, after, now);
                        }
                        (None, None) => {}
                    }
                });
                Ok(())
            },
            |e: &StoreError| e.is_unique_violation()
        )?;
        self.imported(written);
        Ok(outcomes)
    }
}
