//! The account view as one document: an account with its contacts, open invoices (with
//! adjustments) and recent payments (with allocations) as a single JSON value. It is kept in
//! `accounts.view_json` (migrations 0004, 0005: triggers clear it whenever what it shows changes), so a read is
//! one indexed row, and is built by the database (`document`) when it is missing. A later section of
//! the view (calls, promises, plans) is one more key in the document, never another query. Its
//! shape (keys, and each row's fields with their SQL) is defined once, in `rows`; `codec` turns a
//! snapshot into it and back.
//!
//! Every sub-select runs on an index: contacts (account_id, position), invoices_open
//! (account_id, due_date) WHERE outstanding_minor <> 0, invoice_adjustments (invoice_id, reference),
//! payments_account (account_id, payment_date, id), payment_allocations (payment_id, position),
//! calls_account_start, disputes_open (account_id, id) WHERE state = 'open', dispute_invoices
//! (dispute_id, position).

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};

use crate::StoreError;
use crate::calls::RULE_HISTORY;
use crate::model::{
    PAID_HISTORY, RECENT_CALLS, RECENT_LETTERS, RECENT_PAYMENTS, RECENT_PLANS, RECENT_PROMISES,
};
use crate::plans::LIVE;

mod codec;
mod rows;

pub(crate) use codec::{
    decode, encode, invoice_payload, payment_payload, plan_payload, split_numbers,
};
use rows::*;

/// A row's columns as one JSON array, each `{name}` in them replaced by its nested section.
pub(crate) fn array(pg: bool, columns: &[&str], nested: &[(&str, &str)]) -> String {
    let mut items = columns.join(", ");
    for (name, sql) in nested {
        items = items.replace(&format!("{{{name}}}"), sql);
    }
    if pg {
        format!("json_build_array({items})")
    } else {
        format!("json_array({items})")
    }
}

/// An ordered JSON array of `item` over the rows `from`; always an array, never NULL.
pub(crate) fn list(pg: bool, item: &str, order: &str, from: &str) -> String {
    if pg {
        format!("COALESCE((SELECT json_agg({item} ORDER BY {order}) {from}), '[]'::json)")
    } else {
        // json(): a sub-select's result would otherwise be embedded as a string.
        format!("json((SELECT json_group_array({item} ORDER BY {order}) {from}))")
    }
}

/// The SQL expression (over `accounts a`) that builds one account's document as text.
pub(crate) fn document(pg: bool) -> String {
    let arr = |columns: &[&str], nested: &[(&str, &str)]| array(pg, columns, nested);
    let agg = |item: &str, order: &str, from: &str| list(pg, item, order, from);
    // The account's story: current versions of calls only (a corrected record gives way to its
    // correction), newest first, each list bounded. `c` is the calls table, `n` the newest rows.
    let current = "NOT EXISTS (SELECT 1 FROM calls x WHERE x.corrects = c.id)";
    let newest = |columns: &str, filter: &str, limit: i64| {
        format!(
            "FROM (SELECT {columns} FROM calls c WHERE c.account_id = a.id {filter} AND {current} \
             ORDER BY c.start_time DESC, c.id DESC LIMIT {limit}) n"
        )
    };
    let promise_rows = newest(
        "c.id, c.start_time, c.promise_minor, c.promise_date",
        "AND c.outcome = 'promise_to_pay'",
        RECENT_PROMISES,
    );
    // Payments from the UTC day before the oldest of those promises (a debtor's date may be a day
    // behind UTC's); the rules then take those from each promise's own date.
    let since = if pg {
        format!("(SELECT (MIN(n.start_time) AT TIME ZONE 'UTC')::date - 1 {promise_rows})")
    } else {
        format!("(SELECT date(MIN(n.start_time), '-1 day') {promise_rows})")
    };
    // Open disputes (on the partial index disputes_open), each with its invoices in the order named.
    let dispute_numbers = agg(
        "dn.number",
        "di.position",
        "FROM dispute_invoices di JOIN invoices dn ON dn.id = di.invoice_id \
         WHERE di.dispute_id = d.id",
    );
    let sections = Sections {
        account: arr(AccountJson::COLUMNS, &[]),
        contacts: agg(
            &arr(ContactJson::COLUMNS, &[]),
            "k.position",
            "FROM contacts k WHERE k.account_id = a.id",
        ),
        invoices: agg(
            &invoice_row(pg),
            "i.due_date, i.issue_date, i.number",
            "FROM invoices i WHERE i.account_id = a.id AND i.outstanding_minor <> 0",
        ),
        payments: agg(
            &payment_row(pg),
            "p.payment_date DESC, p.id DESC",
            &format!(
                "FROM (SELECT * FROM payments WHERE account_id = a.id \
                 ORDER BY payment_date DESC, id DESC LIMIT {RECENT_PAYMENTS}) p"
            ),
        ),
        calls: agg(
            &arr(CallJson::COLUMNS, &[]),
            "n.start_time DESC, n.id DESC",
            &newest("c.*", "", RECENT_CALLS),
        ),
        outbound: agg(
            "n.start_time",
            "n.start_time DESC, n.id DESC",
            &newest(
                "c.id, c.start_time",
                "AND c.direction = 'outbound'",
                RULE_HISTORY,
            ),
        ),
        promises: agg(
            &arr(PromiseJson::COLUMNS, &[]),
            "n.start_time DESC, n.id DESC",
            &promise_rows,
        ),
        received: agg(
            &arr(ReceivedJson::COLUMNS, &[]).replace("{table}", "rp"),
            "rp.payment_date, rp.id",
            &format!("FROM payments rp WHERE rp.account_id = a.id AND rp.payment_date >= {since}"),
        ),
        disputes: agg(
            &arr(DisputeJson::COLUMNS, &[("numbers", &dispute_numbers)]),
            "d.id",
            "FROM disputes d WHERE d.account_id = a.id AND d.state = 'open'",
        ),
        // What was paid on each open invoice and when (statutory interest runs on what was left).
        paid_in: agg(
            &arr(PaidInJson::COLUMNS, &[]),
            "ai.id, ap.payment_date, ap.id",
            &paid_in_rows(pg),
        ),
        // Invoices paid in full, newest due first, with the day their last payment came. Each
        // payment's date is looked up by its key: as a join, a planner without statistics of
        // `payment_allocations` (a table autovacuum has not reached) hashes the whole payments table.
        paid_history: agg(
            &arr(PaidHistoryJson::COLUMNS, &[]),
            "h.due_date DESC, h.id DESC",
            &format!(
                "FROM (SELECT hi.id, hi.due_date, \
                 (SELECT MAX((SELECT hp.payment_date FROM payments hp WHERE hp.id = ha.payment_id)) \
                  FROM payment_allocations ha WHERE ha.invoice_id = hi.id) AS settled_on \
                 FROM invoices hi WHERE hi.account_id = a.id AND hi.outstanding_minor = 0 \
                 AND hi.paid_minor > 0 ORDER BY hi.due_date DESC, hi.id DESC LIMIT {PAID_HISTORY}) h"
            ),
        ),
        manual: arr(ManualJson::COLUMNS, &[]),
        // The newest plans (on plans_account) carry their detail, not their agreements.
        plans: agg(
            &plan_row(pg),
            "pl.id DESC",
            &format!(
                "FROM (SELECT * FROM plans WHERE account_id = a.id ORDER BY id DESC \
                 LIMIT {RECENT_PLANS}) pl"
            ),
        ),
        // The payments recorded since the live plan was agreed, which it is tracked against.
        plan_paid: agg(
            &arr(ReceivedJson::COLUMNS, &[]).replace("{table}", "pp"),
            "pp.id",
            &format!(
                "FROM payments pp WHERE pp.account_id = a.id AND pp.id > \
                 (SELECT lp.after_payment_id FROM plans lp WHERE lp.account_id = a.id \
                  AND lp.state IN {LIVE})"
            ),
        ),
        // The newest letters sent, by when they were sent (a CRM's past letters come in late).
        letters: agg(
            &arr(LetterJson::COLUMNS, &[]),
            "lt.create_time DESC, lt.id DESC",
            &format!(
                "FROM (SELECT id, kind, subject, create_time FROM letters WHERE account_id = a.id \
                 ORDER BY create_time DESC, id DESC LIMIT {RECENT_LETTERS}) lt"
            ),
        ),
    };
    sections.object(pg)
}

/// The rows of the `paid_in` section: each open invoice (`ai`) of account `a`, each allocation to
/// it (`aa`) and its payment (`ap`). On PostgreSQL each step is a lateral sub-select fenced by
/// `OFFSET 0`, so it is always an index probe per row: as plain joins, a planner without
/// statistics of `payment_allocations` (autovacuum off, the table grown by payments since the
/// last import's ANALYZE) hashed the whole table for every account, 4 ms each on a 100k book.
/// SQLite only loops over indexes.
fn paid_in_rows(pg: bool) -> String {
    let open = "WHERE ai.account_id = a.id AND ai.outstanding_minor <> 0";
    if pg {
        format!(
            "FROM invoices ai CROSS JOIN LATERAL (SELECT x.payment_id, x.amount_minor \
             FROM payment_allocations x WHERE x.invoice_id = ai.id OFFSET 0) aa \
             CROSS JOIN LATERAL (SELECT y.id, y.payment_date FROM payments y \
             WHERE y.id = aa.payment_id OFFSET 0) ap {open}"
        )
    } else {
        format!(
            "FROM invoices ai JOIN payment_allocations aa ON aa.invoice_id = ai.id \
             JOIN payments ap ON ap.id = aa.payment_id {open}"
        )
    }
}

/// An invoice (`i`) as a row of the document, with its adjustments by date and reference.
pub(crate) fn invoice_row(pg: bool) -> String {
    let adjustments = list(
        pg,
        &array(pg, AdjustmentJson::COLUMNS, &[]),
        "j.date, j.reference",
        "FROM invoice_adjustments j WHERE j.invoice_id = i.id",
    );
    array(pg, InvoiceJson::COLUMNS, &[("adjustments", &adjustments)])
}

/// A payment (`p`) as a row of the document, with its allocations in order.
pub(crate) fn payment_row(pg: bool) -> String {
    let allocations = list(
        pg,
        &array(pg, AllocationJson::COLUMNS, &[]),
        "pa.position",
        "FROM payment_allocations pa JOIN invoices v ON v.id = pa.invoice_id \
         WHERE pa.payment_id = p.id",
    );
    array(pg, PaymentJson::COLUMNS, &[("allocations", &allocations)])
}

/// A plan (`pl`) as a row of the document: its detail, not its agreement.
pub(crate) fn plan_row(pg: bool) -> String {
    let detail = if pg {
        "pl.detail::json"
    } else {
        "json(pl.detail)"
    };
    array(pg, PlanJson::COLUMNS, &[("detail", detail)])
}

/// A plan (`pl`) as an event keeps it: the document's row, its agreement, and the payments it is
/// tracked against as they stand (after it was agreed, up to its end).
pub(crate) fn plan_event_row(pg: bool) -> String {
    let receipts = list(
        pg,
        &array(pg, ReceivedJson::COLUMNS, &[]).replace("{table}", "pp"),
        "pp.id",
        "FROM payments pp WHERE pp.account_id = pl.account_id AND pp.id > pl.after_payment_id \
         AND (pl.end_payment_id IS NULL OR pp.id <= pl.end_payment_id)",
    );
    array(
        pg,
        PlanEventJson::COLUMNS,
        &[("plan", &plan_row(pg)), ("receipts", &receipts)],
    )
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} '{value}'"))
}

fn date(s: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::from_str(s).map_err(|_| corrupt("date", s))
}

/// Times as either backend writes them: RFC 3339 ("T"), or with a space (PostgreSQL's text form).
pub(crate) fn time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| corrupt("time", s))
}

/// The stored view of an account, or (when the view is missing) the document built on the spot.
pub(crate) fn stored_or_built(pg: bool) -> String {
    format!("COALESCE(a.view_json, {})", document(pg))
}

/// Rebuilds the stored views of the accounts whose ids are the bound array `$1` (a JSON array of
/// ids). Writers run it last in their transaction, after every row the views show is written.
pub(crate) fn refresh_sql(pg: bool) -> String {
    format!(
        "UPDATE accounts AS a SET view_json = {} WHERE a.id IN ({})",
        document(pg),
        crate::sets::ids(pg, 1)
    )
}

/// ISO 8601 (`Display` is ISO, and cheaper than a strftime pattern parsed on every call).
pub(crate) fn date_text(d: NaiveDate) -> String {
    d.to_string()
}

pub(crate) fn time_text(t: DateTime<Utc>) -> String {
    // As sqlx writes times into SQLite, so rows written either way read back alike.
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

#[cfg(feature = "testkit")]
impl crate::Store {
    /// Every account whose stored view is missing or differs from the document built from its
    /// rows now: (id, why). Empty when every view is current.
    pub async fn stale_views(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let rows: Vec<(i64, Option<String>, String)> =
            crate::with_reader!(&self.backend, |pool, pg| {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT a.id, a.view_json, {} FROM accounts a ORDER BY a.id",
                    document(pg)
                )))
                .fetch_all(pool)
                .await?
            });
        let mut stale = Vec::new();
        for (id, stored, built) in rows {
            match stored {
                None => stale.push((id, "no stored view".to_owned())),
                Some(s) => {
                    let (stored, built) = (decode(&s)?, decode(&built)?);
                    if stored != built {
                        stale.push((id, format!("stored {stored:?}\nbuilt {built:?}")));
                    }
                }
            }
        }
        Ok(stale)
    }
}
