//! The account view as one document: an account with its contacts, open invoices (with
//! adjustments) and recent payments (with allocations) as a single JSON value. It is kept in
//! `accounts.view_json` (migrations 0004, 0005: triggers clear it whenever what it shows changes), so a read is
//! one indexed row, and is built by the database (`document`) when it is missing. A later section of
//! the view (calls, promises, plans) is one more key in the document, never another query.
//!
//! Every sub-select runs on an index: contacts (account_id, position), invoices_open
//! (account_id, due_date) WHERE outstanding_minor <> 0, invoice_adjustments (invoice_id, reference),
//! payments_account (account_id, payment_date, id), payment_allocations (payment_id, position),
//! calls_account_start, disputes_open (account_id, id) WHERE state = 'open', dispute_invoices
//! (dispute_id, position).

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use recoup_domain::Money;
use recoup_domain::account::{
    AccountData, AccountStatus, Adjustment, AdjustmentKind, Contact, DebtorType, InvoiceData,
};
use serde::{Deserialize, Serialize};

use recoup_domain::promise::{Promise, Received};

use crate::StoreError;
use crate::calls::{CallRow, RULE_HISTORY};
use crate::disputes::StoredDispute;
use crate::model::{
    AccountSnapshot, ManualCategory, PAID_HISTORY, RECENT_CALLS, RECENT_LETTERS, RECENT_PAYMENTS,
    RECENT_PLANS, RECENT_PROMISES, SentLetter, StoredInvoice, StoredPayment, Story,
};
use crate::plans::{DetailJson, LIVE, StoredPlan, parse_state};
use crate::rows::{NUMBER_SEPARATOR, currency};
use recoup_domain::category::{Category, PaidInvoice};
use recoup_domain::dispute::DisputeState;
use recoup_domain::plan::track::Receipt;

/// The SQL expression (over `accounts a`) that builds one account's document as text.
pub(crate) fn document(pg: bool) -> String {
    let arr = |items: &str| {
        if pg {
            format!("json_build_array({items})")
        } else {
            format!("json_array({items})")
        }
    };
    // An ordered array of `item` over the rows `from`; always an array, never NULL.
    let agg = |item: &str, order: &str, from: &str| {
        if pg {
            format!("COALESCE((SELECT json_agg({item} ORDER BY {order}) {from}), '[]'::json)")
        } else {
            // json(): a sub-select's result would otherwise be embedded as a string.
            format!("json((SELECT json_group_array({item} ORDER BY {order}) {from}))")
        }
    };
    let flag = |col: &str| {
        if pg {
            format!("{col}::int")
        } else {
            col.to_owned()
        }
    };
    let account = arr(&format!(
        "a.id, a.external_ref, a.legal_name, a.debtor_type, a.country_code, a.time_zone, \
         a.currency_code, a.status, {}, a.credit_minor, a.create_time, a.update_time, {}",
        flag("a.cease_calls"),
        flag("a.interest_waived")
    ));
    let contacts = agg(
        &arr(&format!(
            "k.display_name, k.role, k.phone, k.email, {}",
            flag("k.preferred")
        )),
        "k.position",
        "FROM contacts k WHERE k.account_id = a.id",
    );
    let adjustments = agg(
        &arr("j.reference, j.kind, j.amount_minor, j.date, j.reason"),
        "j.date, j.reference",
        "FROM invoice_adjustments j WHERE j.invoice_id = i.id",
    );
    let invoices = agg(
        &arr(&format!(
            "i.id, i.number, i.issue_date, i.due_date, i.amount_minor, i.outstanding_minor, {}, \
             i.dispute_reason, {adjustments}",
            flag("i.disputed")
        )),
        "i.due_date, i.issue_date, i.number",
        "FROM invoices i WHERE i.account_id = a.id AND i.outstanding_minor <> 0",
    );
    let allocations = agg(
        &arr("v.number, pa.amount_minor"),
        "pa.position",
        "FROM payment_allocations pa JOIN invoices v ON v.id = pa.invoice_id \
         WHERE pa.payment_id = p.id",
    );
    let payments = agg(
        &arr(&format!(
            "p.id, p.amount_minor, p.payment_date, p.reference, p.invoice_numbers, \
             p.unallocated_minor, p.create_time, {allocations}"
        )),
        "p.payment_date DESC, p.id DESC",
        &format!(
            "FROM (SELECT * FROM payments WHERE account_id = a.id \
             ORDER BY payment_date DESC, id DESC LIMIT {RECENT_PAYMENTS}) p"
        ),
    );
    // The account's story: current versions of calls only (a corrected record gives way to its
    // correction), newest first, each list bounded. `c` is the calls table, `n` the newest rows.
    let current = "NOT EXISTS (SELECT 1 FROM calls x WHERE x.corrects = c.id)";
    let newest = |columns: &str, filter: &str, limit: i64| {
        format!(
            "FROM (SELECT {columns} FROM calls c WHERE c.account_id = a.id {filter} AND {current} \
             ORDER BY c.start_time DESC, c.id DESC LIMIT {limit}) n"
        )
    };
    let calls = agg(
        &arr(&format!(
            "n.id, n.account_id, n.direction, n.start_time, n.duration_ms, n.contact_name, {}, \
             n.outcome, n.details, n.notes, n.next_step, n.override_reason, n.override_by, \
             n.corrects, n.correction_reason, n.agent, n.create_time",
            flag("n.right_party")
        )),
        "n.start_time DESC, n.id DESC",
        &newest("c.*", "", RECENT_CALLS),
    );
    let outbound = agg(
        "n.start_time",
        "n.start_time DESC, n.id DESC",
        &newest(
            "c.id, c.start_time",
            "AND c.direction = 'outbound'",
            RULE_HISTORY,
        ),
    );
    let promise_rows = newest(
        "c.id, c.start_time, c.promise_minor, c.promise_date",
        "AND c.outcome = 'promise_to_pay'",
        RECENT_PROMISES,
    );
    let promises = agg(
        &arr("n.id, n.start_time, n.promise_minor, n.promise_date"),
        "n.start_time DESC, n.id DESC",
        &promise_rows,
    );
    // Payments from the UTC day before the oldest of those promises (a debtor's date may be a day
    // behind UTC's); the rules then take those from each promise's own date.
    let since = if pg {
        format!("(SELECT (MIN(n.start_time) AT TIME ZONE 'UTC')::date - 1 {promise_rows})")
    } else {
        format!("(SELECT date(MIN(n.start_time), '-1 day') {promise_rows})")
    };
    let received = agg(
        &arr("rp.payment_date, rp.amount_minor"),
        "rp.payment_date, rp.id",
        &format!("FROM payments rp WHERE rp.account_id = a.id AND rp.payment_date >= {since}"),
    );
    // Open disputes (on the partial index disputes_open), each with its invoices in the order named.
    let dispute_numbers = agg(
        "dn.number",
        "di.position",
        "FROM dispute_invoices di JOIN invoices dn ON dn.id = di.invoice_id \
         WHERE di.dispute_id = d.id",
    );
    let disputes = agg(
        &arr(&format!(
            "d.id, d.reason, d.raised_by, d.raise_time, d.call_id, {dispute_numbers}"
        )),
        "d.id",
        "FROM disputes d WHERE d.account_id = a.id AND d.state = 'open'",
    );
    // What was paid on each open invoice and when (statutory interest runs on what was left).
    let paid_in = agg(
        &arr("ai.id, ap.payment_date, aa.amount_minor"),
        "ai.id, ap.payment_date, ap.id",
        "FROM invoices ai JOIN payment_allocations aa ON aa.invoice_id = ai.id \
         JOIN payments ap ON ap.id = aa.payment_id \
         WHERE ai.account_id = a.id AND ai.outstanding_minor <> 0",
    );
    // Invoices paid in full, newest due first, with the day their last payment came. Each
    // payment's date is looked up by its key: as a join, a planner without statistics of
    // `payment_allocations` (a table autovacuum has not reached) hashes the whole payments table.
    let paid_history = agg(
        &arr("h.due_date, h.settled_on"),
        "h.due_date DESC, h.id DESC",
        &format!(
            "FROM (SELECT hi.id, hi.due_date, \
             (SELECT MAX((SELECT hp.payment_date FROM payments hp WHERE hp.id = ha.payment_id)) \
              FROM payment_allocations ha WHERE ha.invoice_id = hi.id) AS settled_on \
             FROM invoices hi WHERE hi.account_id = a.id AND hi.outstanding_minor = 0 \
             AND hi.paid_minor > 0 ORDER BY hi.due_date DESC, hi.id DESC LIMIT {PAID_HISTORY}) h"
        ),
    );
    let manual =
        arr("a.manual_category, a.category_reason, a.category_set_by, a.category_set_time");
    // The newest plans (on plans_account), without their agreements; and the payments recorded
    // since the live one was agreed, which it is tracked against.
    let detail = if pg {
        "pl.detail::json"
    } else {
        "json(pl.detail)"
    };
    let plans = agg(
        &arr(&format!(
            "pl.id, pl.state, {detail}, pl.proposed_by, pl.approval_role, pl.approved_by, \
             pl.approve_time, pl.signatory, pl.sign_time, pl.create_time, pl.end_reason, \
             pl.end_time, pl.end_missed, pl.end_arrears_minor"
        )),
        "pl.id DESC",
        &format!(
            "FROM (SELECT * FROM plans WHERE account_id = a.id ORDER BY id DESC \
             LIMIT {RECENT_PLANS}) pl"
        ),
    );
    let plan_paid = agg(
        &arr("pp.payment_date, pp.amount_minor"),
        "pp.id",
        &format!(
            "FROM payments pp WHERE pp.account_id = a.id AND pp.id > \
             (SELECT lp.after_payment_id FROM plans lp WHERE lp.account_id = a.id \
              AND lp.state IN {LIVE})"
        ),
    );
    // The newest letters sent (on letters_account): which, and when.
    let letters = agg(
        &arr("lt.id, lt.kind, lt.subject, lt.create_time"),
        "lt.id DESC",
        &format!(
            "FROM (SELECT id, kind, subject, create_time FROM letters WHERE account_id = a.id \
             ORDER BY id DESC LIMIT {RECENT_LETTERS}) lt"
        ),
    );
    let parts = format!(
        "'a', {account}, 'c', {contacts}, 'i', {invoices}, 'p', {payments}, 'k', {calls}, \
         'o', {outbound}, 'pr', {promises}, 'rc', {received}, 'd', {disputes}, 'ia', {paid_in}, \
         'ph', {paid_history}, 'mc', {manual}, 'pl', {plans}, 'pp', {plan_paid}, 'lt', {letters}"
    );
    if pg {
        format!("json_build_object({parts})::text")
    } else {
        format!("json_object({parts})")
    }
}

type AccountRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    String,
    i64,
);
type ContactRow = (String, String, String, String, i64);
type AdjustmentRow = (String, String, i64, String, String);
type InvoiceRow = (
    i64,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    String,
    Vec<AdjustmentRow>,
);
type PaymentRow = (
    i64,
    i64,
    String,
    String,
    String,
    i64,
    String,
    Vec<(String, i64)>,
);

/// A call as the document holds it (a JSON array, read in field order).
#[derive(Serialize, Deserialize)]
struct CallJson {
    id: i64,
    account_id: i64,
    direction: String,
    start_time: String,
    duration_ms: Option<i64>,
    contact_name: String,
    right_party: i64,
    outcome: String,
    details: String,
    notes: String,
    next_step: String,
    override_reason: Option<String>,
    override_by: Option<String>,
    corrects: Option<i64>,
    correction_reason: Option<String>,
    agent: String,
    create_time: String,
}

type PromiseRow = (i64, String, i64, String);
type DisputeRow = (i64, String, String, String, Option<i64>, Vec<String>);

/// Documents stored before the story sections existed read with them empty (there were no calls).
#[derive(Serialize, Deserialize)]
struct Document {
    a: AccountRow,
    c: Vec<ContactRow>,
    i: Vec<InvoiceRow>,
    p: Vec<PaymentRow>,
    #[serde(default)]
    k: Vec<CallJson>,
    #[serde(default)]
    o: Vec<String>,
    #[serde(default)]
    pr: Vec<PromiseRow>,
    #[serde(default)]
    rc: Vec<(String, i64)>,
    #[serde(default)]
    d: Vec<DisputeRow>,
    #[serde(default)]
    ia: Vec<(i64, String, i64)>,
    #[serde(default)]
    ph: Vec<(String, String)>,
    #[serde(default)]
    mc: Option<ManualRow>,
    #[serde(default)]
    pl: Vec<PlanJson>,
    #[serde(default)]
    pp: Vec<(String, i64)>,
    #[serde(default)]
    lt: Vec<(i64, String, String, String)>,
}

/// A plan as the document holds it (a JSON array, read in field order).
#[derive(Serialize, Deserialize)]
struct PlanJson {
    id: i64,
    state: String,
    detail: DetailJson,
    proposed_by: String,
    approval_role: Option<String>,
    approved_by: Option<String>,
    approve_time: Option<String>,
    signatory: Option<String>,
    sign_time: Option<String>,
    create_time: String,
    end_reason: Option<String>,
    end_time: Option<String>,
    #[serde(default)]
    end_missed: Option<i64>,
    #[serde(default)]
    end_arrears: Option<i64>,
}

/// The manual category columns: all set, or all null.
type ManualRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

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

pub(crate) fn minor(m: Money) -> Result<i64, StoreError> {
    m.to_minor()
        .map_err(|e| StoreError::Corrupt(format!("amount {m}: {e}")))
}

/// The document of an account the writer has in hand (e.g. one it just created), as `document`
/// would build it: invoices with something outstanding, oldest due first; adjustments by date and
/// reference; at most the `RECENT_PAYMENTS` newest payments.
pub(crate) fn encode(s: &AccountSnapshot) -> Result<String, StoreError> {
    let d = &s.data;
    let mut invoices: Vec<&StoredInvoice> = s
        .open_invoices
        .iter()
        .filter(|i| !i.outstanding.is_zero())
        .collect();
    invoices.sort_by(|x, y| {
        (x.data.due_date, x.data.issue_date, &x.data.number).cmp(&(
            y.data.due_date,
            y.data.issue_date,
            &y.data.number,
        ))
    });
    let i = invoices
        .into_iter()
        .map(|inv| {
            let mut adjustments: Vec<_> = inv.data.adjustments.iter().collect();
            adjustments.sort_by(|x, y| (x.date, &x.reference).cmp(&(y.date, &y.reference)));
            Ok((
                inv.id,
                inv.data.number.clone(),
                date_text(inv.data.issue_date),
                date_text(inv.data.due_date),
                minor(inv.data.amount)?,
                minor(inv.outstanding)?,
                i64::from(inv.data.disputed),
                inv.data.dispute_reason.clone(),
                adjustments
                    .into_iter()
                    .map(|j| {
                        Ok((
                            j.reference.clone(),
                            j.kind.as_str().to_owned(),
                            minor(j.amount)?,
                            date_text(j.date),
                            j.reason.clone(),
                        ))
                    })
                    .collect::<Result<_, StoreError>>()?,
            ))
        })
        .collect::<Result<_, StoreError>>()?;
    let mut payments: Vec<&StoredPayment> = s.recent_payments.iter().collect();
    payments.sort_by_key(|p| std::cmp::Reverse((p.payment_date, p.id)));
    let p = payments
        .into_iter()
        .take(RECENT_PAYMENTS as usize)
        .map(|p| {
            Ok((
                p.id,
                minor(p.amount)?,
                date_text(p.payment_date),
                p.reference.clone(),
                p.invoice_numbers.join(&NUMBER_SEPARATOR.to_string()),
                minor(p.unallocated)?,
                time_text(p.create_time),
                p.allocations
                    .iter()
                    .map(|(n, m)| Ok((n.clone(), minor(*m)?)))
                    .collect::<Result<_, StoreError>>()?,
            ))
        })
        .collect::<Result<_, StoreError>>()?;
    let doc = Document {
        a: (
            s.id,
            d.external_ref.clone(),
            d.legal_name.clone(),
            d.debtor_type.as_str().to_owned(),
            d.country_code.clone(),
            d.time_zone.name().to_owned(),
            d.currency.code().to_owned(),
            d.status.as_str().to_owned(),
            i64::from(d.cease_calls),
            minor(s.credit)?,
            time_text(s.create_time),
            time_text(s.update_time),
            i64::from(d.interest_waived),
        ),
        c: d.contacts
            .iter()
            .map(|c| {
                (
                    c.display_name.clone(),
                    c.role.clone(),
                    c.phone.clone(),
                    c.email.clone(),
                    i64::from(c.preferred),
                )
            })
            .collect(),
        i,
        p,
        k: Vec::new(),
        o: Vec::new(),
        pr: Vec::new(),
        rc: Vec::new(),
        d: Vec::new(),
        ia: Vec::new(),
        ph: Vec::new(),
        mc: None,
        pl: Vec::new(),
        pp: Vec::new(),
        lt: Vec::new(),
    };
    serde_json::to_string(&doc).map_err(|e| StoreError::Corrupt(format!("account document: {e}")))
}

/// Reads a document built by `document` back into an account snapshot.
pub(crate) fn decode(text: &str) -> Result<AccountSnapshot, StoreError> {
    let doc: Document = serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("account document: {e}")))?;
    let (
        id,
        external_ref,
        legal_name,
        debtor,
        country_code,
        tz,
        code,
        status,
        cease,
        credit,
        created,
        updated,
        waived,
    ) = doc.a;
    let cur = currency(&code)?;
    let money = |minor| Money::from_minor(minor, cur);
    let contacts = doc
        .c
        .into_iter()
        .map(|(display_name, role, phone, email, preferred)| Contact {
            display_name,
            role,
            phone,
            email,
            preferred: preferred != 0,
        })
        .collect();
    let mut open_invoices: Vec<StoredInvoice> = doc
        .i
        .into_iter()
        .map(
            |(inv_id, number, issued, due, amount, outstanding, disputed, reason, adjustments)| {
                let adjustments = adjustments
                    .into_iter()
                    .map(|(reference, kind, amount, on, reason)| {
                        Ok(Adjustment {
                            reference,
                            kind: AdjustmentKind::parse(&kind)
                                .ok_or_else(|| corrupt("adjustment kind", &kind))?,
                            amount: money(amount),
                            date: date(&on)?,
                            reason,
                        })
                    })
                    .collect::<Result<_, StoreError>>()?;
                Ok(StoredInvoice {
                    id: inv_id,
                    account_id: id,
                    data: InvoiceData {
                        number,
                        issue_date: date(&issued)?,
                        due_date: date(&due)?,
                        amount: money(amount),
                        adjustments,
                        disputed: disputed != 0,
                        dispute_reason: reason,
                    },
                    outstanding: money(outstanding),
                    payments: Vec::new(),
                })
            },
        )
        .collect::<Result<_, StoreError>>()?;
    for (invoice_id, on, amount) in doc.ia {
        if let Some(inv) = open_invoices.iter_mut().find(|i| i.id == invoice_id) {
            inv.payments.push((date(&on)?, money(amount)));
        }
    }
    let recent_payments = doc
        .p
        .into_iter()
        .map(
            |(pay_id, amount, paid_on, reference, named, unallocated, created, allocations)| {
                Ok(StoredPayment {
                    id: pay_id,
                    account_id: id,
                    amount: money(amount),
                    payment_date: date(&paid_on)?,
                    reference,
                    invoice_numbers: split_numbers(&named),
                    allocations: allocations
                        .into_iter()
                        .map(|(number, minor)| (number, money(minor)))
                        .collect(),
                    unallocated: money(unallocated),
                    create_time: time(&created)?,
                })
            },
        )
        .collect::<Result<_, StoreError>>()?;
    let time_zone = chrono_tz::Tz::from_str(&tz).map_err(|_| corrupt("time zone", &tz))?;
    let story = Story {
        recent_calls: doc
            .k
            .into_iter()
            .map(|c| {
                CallRow {
                    id: c.id,
                    account_id: c.account_id,
                    direction: c.direction,
                    start_time: time(&c.start_time)?,
                    duration_ms: c.duration_ms,
                    contact_name: c.contact_name,
                    right_party: c.right_party != 0,
                    outcome: c.outcome,
                    details: c.details,
                    notes: c.notes,
                    next_step: c.next_step,
                    override_reason: c.override_reason,
                    override_by: c.override_by,
                    corrects: c.corrects,
                    correction_reason: c.correction_reason,
                    agent: c.agent,
                    create_time: time(&c.create_time)?,
                }
                .resolve(cur)
            })
            .collect::<Result<_, StoreError>>()?,
        outbound: doc.o.iter().map(|t| time(t)).collect::<Result<_, _>>()?,
        promises: doc
            .pr
            .into_iter()
            .map(|(call_id, made, amount, on)| {
                Ok(Promise {
                    call_id,
                    made_on: time(&made)?.with_timezone(&time_zone).date_naive(),
                    amount: money(amount),
                    date: date(&on)?,
                })
            })
            .collect::<Result<_, StoreError>>()?,
        received: doc
            .rc
            .into_iter()
            .map(|(on, amount)| {
                Ok(Received {
                    payment_date: date(&on)?,
                    amount: money(amount),
                })
            })
            .collect::<Result<_, StoreError>>()?,
        open_disputes: doc
            .d
            .into_iter()
            .map(
                |(dispute_id, reason, raised_by, raised, call_id, numbers)| {
                    Ok(StoredDispute {
                        id: dispute_id,
                        account_id: id,
                        invoice_numbers: numbers,
                        reason,
                        state: DisputeState::Open,
                        raised_by,
                        raise_time: time(&raised)?,
                        call_id,
                        resolved_by: None,
                        resolution: None,
                        resolve_time: None,
                        credit_notes: Vec::new(),
                    })
                },
            )
            .collect::<Result<_, StoreError>>()?,
        paid_history: doc
            .ph
            .iter()
            .map(|(due, settled)| {
                Ok(PaidInvoice {
                    due_date: date(due)?,
                    settled_on: date(settled)?,
                })
            })
            .collect::<Result<_, StoreError>>()?,
        manual_category: match doc.mc {
            Some((Some(c), Some(reason), Some(set_by), Some(at))) => Some(ManualCategory {
                category: Category::parse(&c).ok_or_else(|| corrupt("category", &c))?,
                reason,
                set_by,
                set_time: time(&at)?,
            }),
            _ => None,
        },
        letters: doc
            .lt
            .iter()
            .map(|(letter_id, kind, subject, at)| {
                Ok(SentLetter {
                    id: *letter_id,
                    kind: kind.clone(),
                    subject: subject.clone(),
                    time: time(at)?,
                })
            })
            .collect::<Result<_, StoreError>>()?,
        plans: {
            let mut paid = Some(
                doc.pp
                    .iter()
                    .map(|(on, m)| {
                        Ok(Receipt {
                            date: date(on)?,
                            amount: money(*m),
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?,
            );
            let opt_time = |t: Option<String>| t.as_deref().map(time).transpose();
            doc.pl
                .into_iter()
                .map(|p| {
                    let state = parse_state(&p.state)?;
                    Ok(StoredPlan {
                        id: p.id,
                        account_id: id,
                        time_zone,
                        state,
                        detail: p.detail.into_detail(cur)?,
                        agreement: String::new(),
                        proposed_by: p.proposed_by,
                        approval_role: p.approval_role,
                        approved_by: p.approved_by,
                        approve_time: opt_time(p.approve_time)?,
                        signatory: p.signatory,
                        sign_time: opt_time(p.sign_time)?,
                        create_time: time(&p.create_time)?,
                        end_reason: p.end_reason,
                        end_time: opt_time(p.end_time)?,
                        end_missed: p.end_missed.map(|n| n as u32),
                        end_arrears: p.end_arrears.map(|m| Money::from_minor(m, cur)),
                        receipts: if state.live() {
                            paid.take().unwrap_or_default()
                        } else {
                            Vec::new()
                        },
                    })
                })
                .collect::<Result<_, StoreError>>()?
        },
    };
    Ok(AccountSnapshot {
        id,
        data: AccountData {
            external_ref,
            legal_name,
            debtor_type: DebtorType::parse(&debtor)
                .ok_or_else(|| corrupt("debtor type", &debtor))?,
            country_code,
            time_zone,
            currency: cur,
            status: AccountStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
            cease_calls: cease != 0,
            interest_waived: waived != 0,
            contacts,
            invoices: Vec::new(),
        },
        credit: money(credit),
        create_time: time(&created)?,
        update_time: time(&updated)?,
        open_invoices,
        recent_payments,
        story,
    })
}

/// The invoice numbers a payment named, as stored (joined by `NUMBER_SEPARATOR`).
pub(crate) fn split_numbers(named: &str) -> Vec<String> {
    if named.is_empty() {
        Vec::new()
    } else {
        named.split(NUMBER_SEPARATOR).map(str::to_owned).collect()
    }
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
