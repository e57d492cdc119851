//! An account snapshot to and from the document's JSON (`rows` defines its shape).

use std::str::FromStr;

use chrono::NaiveDate;
use chrono_tz::Tz;
use recoup_domain::account::{
    AccountData, AccountStatus, Adjustment, AdjustmentKind, Contact, DebtorType, InvoiceData,
};
use recoup_domain::category::{Category, PaidInvoice};
use recoup_domain::dispute::DisputeState;
use recoup_domain::plan::track::Receipt;
use recoup_domain::promise::{Promise, Received};
use recoup_domain::{Currency, Money};

use super::rows::*;
use super::{corrupt, date, date_text, time, time_text};
use crate::calls::CallRow;
use crate::disputes::StoredDispute;
use crate::model::{
    AccountSnapshot, ManualCategory, RECENT_PAYMENTS, SentLetter, StoredInvoice, StoredPayment,
    Story,
};
use crate::plans::{StoredPlan, parse_state};
use crate::rows::{NUMBER_SEPARATOR, currency};
use crate::{StoreError, minor};

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
    let invoices = invoices
        .into_iter()
        .map(|inv| {
            let mut adjustments: Vec<_> = inv.data.adjustments.iter().collect();
            adjustments.sort_by(|x, y| (x.date, &x.reference).cmp(&(y.date, &y.reference)));
            Ok(InvoiceJson {
                id: inv.id,
                number: inv.data.number.clone(),
                issue_date: date_text(inv.data.issue_date),
                due_date: date_text(inv.data.due_date),
                amount: minor(inv.data.amount)?,
                outstanding: minor(inv.outstanding)?,
                disputed: i64::from(inv.data.disputed),
                dispute_reason: inv.data.dispute_reason.clone(),
                adjustments: adjustments
                    .into_iter()
                    .map(|j| {
                        Ok(AdjustmentJson {
                            reference: j.reference.clone(),
                            kind: j.kind.as_str().to_owned(),
                            amount: minor(j.amount)?,
                            date: date_text(j.date),
                            reason: j.reason.clone(),
                        })
                    })
                    .collect::<Result<_, StoreError>>()?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let mut payments: Vec<&StoredPayment> = s.recent_payments.iter().collect();
    payments.sort_by_key(|p| std::cmp::Reverse((p.payment_date, p.id)));
    let payments = payments
        .into_iter()
        .take(RECENT_PAYMENTS as usize)
        .map(|p| {
            Ok(PaymentJson {
                id: p.id,
                amount: minor(p.amount)?,
                payment_date: date_text(p.payment_date),
                reference: p.reference.clone(),
                invoice_numbers: p.invoice_numbers.join(&NUMBER_SEPARATOR.to_string()),
                unallocated: minor(p.unallocated)?,
                create_time: time_text(p.create_time),
                allocations: p
                    .allocations
                    .iter()
                    .map(|(n, m)| {
                        Ok(AllocationJson {
                            number: n.clone(),
                            amount: minor(*m)?,
                        })
                    })
                    .collect::<Result<_, StoreError>>()?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let doc = Document {
        account: AccountJson {
            id: s.id,
            external_ref: d.external_ref.clone(),
            legal_name: d.legal_name.clone(),
            debtor_type: d.debtor_type.as_str().to_owned(),
            country_code: d.country_code.clone(),
            time_zone: d.time_zone.name().to_owned(),
            currency: d.currency.code().to_owned(),
            status: d.status.as_str().to_owned(),
            cease_calls: i64::from(d.cease_calls),
            credit: minor(s.credit)?,
            create_time: time_text(s.create_time),
            update_time: time_text(s.update_time),
            interest_waived: i64::from(d.interest_waived),
            queue: d.queue.clone(),
            held: i64::from(s.held.agency) + 2 * i64::from(s.held.cease),
        },
        contacts: d
            .contacts
            .iter()
            .map(|c| ContactJson {
                display_name: c.display_name.clone(),
                role: c.role.clone(),
                phone: c.phone.clone(),
                email: c.email.clone(),
                preferred: i64::from(c.preferred),
            })
            .collect(),
        invoices,
        payments,
        calls: Vec::new(),
        outbound: Vec::new(),
        promises: Vec::new(),
        received: Vec::new(),
        disputes: Vec::new(),
        paid_in: Vec::new(),
        paid_history: Vec::new(),
        manual: None,
        plans: Vec::new(),
        plan_paid: Vec::new(),
        letters: Vec::new(),
    };
    serde_json::to_string(&doc).map_err(|e| StoreError::Corrupt(format!("account document: {e}")))
}

/// Reads a document built by `document` back into an account snapshot.
pub(crate) fn decode(text: &str) -> Result<AccountSnapshot, StoreError> {
    let doc: Document = serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("account document: {e}")))?;
    let a = doc.account;
    let id = a.id;
    let cur = currency(&a.currency)?;
    let money = |minor| Money::from_minor(minor, cur);
    let contacts = doc
        .contacts
        .into_iter()
        .map(|c| Contact {
            display_name: c.display_name,
            role: c.role,
            phone: c.phone,
            email: c.email,
            preferred: c.preferred != 0,
        })
        .collect();
    let mut open_invoices: Vec<StoredInvoice> = doc
        .invoices
        .into_iter()
        .map(|inv| invoice(inv, id, cur))
        .collect::<Result<_, StoreError>>()?;
    for part in doc.paid_in {
        if let Some(inv) = open_invoices.iter_mut().find(|i| i.id == part.invoice_id) {
            inv.payments.push((date(&part.date)?, money(part.amount)));
        }
    }
    let recent_payments = doc
        .payments
        .into_iter()
        .map(|p| payment(p, id, cur))
        .collect::<Result<_, StoreError>>()?;
    let time_zone =
        chrono_tz::Tz::from_str(&a.time_zone).map_err(|_| corrupt("time zone", &a.time_zone))?;
    let receipts = |rows: Vec<ReceivedJson>| received(rows, cur);
    let story = Story {
        recent_calls: doc
            .calls
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
                    claim_id: c.claim_id,
                    breaches: c.breaches,
                    origin: c.origin,
                    crm_id: c.crm_id,
                    asked_not_to_call: c.asked_not_to_call,
                }
                .resolve(cur)
            })
            .collect::<Result<_, StoreError>>()?,
        outbound: doc
            .outbound
            .iter()
            .map(|t| time(t))
            .collect::<Result<_, _>>()?,
        promises: doc
            .promises
            .into_iter()
            .map(|p| {
                Ok(Promise {
                    call_id: p.call_id,
                    made_on: time(&p.made)?.with_timezone(&time_zone).date_naive(),
                    amount: money(p.amount),
                    date: date(&p.date)?,
                })
            })
            .collect::<Result<_, StoreError>>()?,
        received: receipts(doc.received)?
            .into_iter()
            .map(|(payment_date, amount)| Received {
                payment_date,
                amount,
            })
            .collect(),
        open_disputes: doc
            .disputes
            .into_iter()
            .map(|d| {
                Ok(StoredDispute {
                    id: d.id,
                    account_id: id,
                    invoice_numbers: d.invoice_numbers,
                    reason: d.reason,
                    state: DisputeState::Open,
                    raised_by: d.raised_by,
                    raise_time: time(&d.raise_time)?,
                    call_id: d.call_id,
                    resolved_by: None,
                    resolution: None,
                    resolve_time: None,
                    credit_notes: Vec::new(),
                })
            })
            .collect::<Result<_, StoreError>>()?,
        paid_history: doc
            .paid_history
            .iter()
            .map(|h| {
                Ok(PaidInvoice {
                    due_date: date(&h.due_date)?,
                    settled_on: date(&h.settled_on)?,
                })
            })
            .collect::<Result<_, StoreError>>()?,
        manual_category: match doc.manual {
            Some(ManualJson {
                category: Some(c),
                reason: Some(reason),
                set_by: Some(set_by),
                set_time: Some(at),
            }) => Some(ManualCategory {
                category: Category::parse(&c).ok_or_else(|| corrupt("category", &c))?,
                reason,
                set_by,
                set_time: time(&at)?,
            }),
            _ => None,
        },
        letters: doc
            .letters
            .into_iter()
            .map(|l| {
                Ok(SentLetter {
                    id: l.id,
                    time: time(&l.create_time)?,
                    kind: l.kind,
                    subject: l.subject,
                })
            })
            .collect::<Result<_, StoreError>>()?,
        plans: {
            // The payments since the live plan was agreed belong to it (the newest plans come
            // first, and only one is live).
            let mut paid = Some(
                receipts(doc.plan_paid)?
                    .into_iter()
                    .map(|(date, amount)| Receipt { date, amount })
                    .collect::<Vec<_>>(),
            );
            doc.plans
                .into_iter()
                .map(|p| {
                    let live = parse_state(&p.state)?.live();
                    let receipts = if live {
                        paid.take().unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    plan(p, id, cur, time_zone, receipts)
                })
                .collect::<Result<_, StoreError>>()?
        },
    };
    Ok(AccountSnapshot {
        id,
        data: AccountData {
            external_ref: a.external_ref,
            legal_name: a.legal_name,
            debtor_type: DebtorType::parse(&a.debtor_type)
                .ok_or_else(|| corrupt("debtor type", &a.debtor_type))?,
            country_code: a.country_code,
            time_zone,
            currency: cur,
            status: AccountStatus::parse(&a.status).ok_or_else(|| corrupt("status", &a.status))?,
            cease_calls: a.cease_calls != 0,
            interest_waived: a.interest_waived != 0,
            queue: if a.queue.is_empty() {
                recoup_domain::account::DEFAULT_QUEUE.to_owned()
            } else {
                a.queue
            },
            contacts,
            invoices: Vec::new(),
        },
        credit: money(a.credit),
        create_time: time(&a.create_time)?,
        update_time: time(&a.update_time)?,
        held: crate::model::HeldBlocks {
            agency: a.held & 1 != 0,
            cease: a.held & 2 != 0,
        },
        open_invoices,
        recent_payments,
        story,
    })
}

fn received(rows: Vec<ReceivedJson>, cur: Currency) -> Result<Vec<(NaiveDate, Money)>, StoreError> {
    rows.into_iter()
        .map(|r| Ok((date(&r.date)?, Money::from_minor(r.amount, cur))))
        .collect()
}

fn invoice(inv: InvoiceJson, account_id: i64, cur: Currency) -> Result<StoredInvoice, StoreError> {
    let money = |minor| Money::from_minor(minor, cur);
    let adjustments = inv
        .adjustments
        .into_iter()
        .map(|j| {
            Ok(Adjustment {
                kind: AdjustmentKind::parse(&j.kind)
                    .ok_or_else(|| corrupt("adjustment kind", &j.kind))?,
                reference: j.reference,
                amount: money(j.amount),
                date: date(&j.date)?,
                reason: j.reason,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(StoredInvoice {
        id: inv.id,
        account_id,
        data: InvoiceData {
            number: inv.number,
            issue_date: date(&inv.issue_date)?,
            due_date: date(&inv.due_date)?,
            amount: money(inv.amount),
            adjustments,
            disputed: inv.disputed != 0,
            dispute_reason: inv.dispute_reason,
        },
        outstanding: money(inv.outstanding),
        payments: Vec::new(),
    })
}

/// An invoice read on its own (`view::invoice_row`).
pub(crate) fn invoice_payload(
    text: &str,
    account_id: i64,
    cur: Currency,
) -> Result<StoredInvoice, StoreError> {
    let inv: InvoiceJson =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("invoice: {e}")))?;
    invoice(inv, account_id, cur)
}

fn payment(p: PaymentJson, account_id: i64, cur: Currency) -> Result<StoredPayment, StoreError> {
    let money = |minor| Money::from_minor(minor, cur);
    Ok(StoredPayment {
        id: p.id,
        account_id,
        amount: money(p.amount),
        payment_date: date(&p.payment_date)?,
        reference: p.reference,
        invoice_numbers: split_numbers(&p.invoice_numbers),
        allocations: p
            .allocations
            .into_iter()
            .map(|x| (x.number, money(x.amount)))
            .collect(),
        unallocated: money(p.unallocated),
        create_time: time(&p.create_time)?,
    })
}

fn plan(
    p: PlanJson,
    account_id: i64,
    cur: Currency,
    time_zone: Tz,
    receipts: Vec<Receipt>,
) -> Result<StoredPlan, StoreError> {
    let opt_time = |t: Option<String>| t.as_deref().map(time).transpose();
    Ok(StoredPlan {
        id: p.id,
        account_id,
        time_zone,
        state: parse_state(&p.state)?,
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
        receipts,
    })
}

/// A payment as its event kept it (`view::payment_row`).
pub(crate) fn payment_payload(
    text: &str,
    account_id: i64,
    cur: Currency,
) -> Result<StoredPayment, StoreError> {
    let p: PaymentJson = serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("payment in an event: {e}")))?;
    payment(p, account_id, cur)
}

/// A plan as its event kept it (`view::plan_event_row`).
pub(crate) fn plan_payload(
    text: &str,
    account_id: i64,
    cur: Currency,
    time_zone: Tz,
) -> Result<StoredPlan, StoreError> {
    let p: PlanEventJson = serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("plan in an event: {e}")))?;
    let receipts = received(p.receipts, cur)?
        .into_iter()
        .map(|(date, amount)| Receipt { date, amount })
        .collect();
    Ok(StoredPlan {
        agreement: p.agreement,
        ..plan(p.plan, account_id, cur, time_zone, receipts)?
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
