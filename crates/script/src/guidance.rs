//! Call guidance: what the agent reads during the call. The caller builds a `CallContext` (every
//! figure and date already text) and chooses the tone (`tone::select`); the section templates of
//! that tone turn it into the structured guidance, and the page templates into plain text and
//! Markdown. A section template writes one item per line; objections are `Q:` / `A:` line pairs.

use serde::Serialize;

use crate::tone::Tone;

/// The debtor and the person to speak to.
#[derive(Debug, Clone, Serialize)]
pub struct Debtor {
    pub legal_name: String,
    pub external_ref: String,
    /// The preferred contact's name; empty when none is known.
    pub contact: String,
}

/// An invoice as the guidance names it.
#[derive(Debug, Clone, Serialize)]
pub struct InvoiceLine {
    pub number: String,
    pub due_date: String,
    pub outstanding: String,
    pub days_overdue: i64,
}

/// A payment received recently.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentLine {
    pub date: String,
    pub amount: String,
    pub reference: String,
}

/// A plan option, already checked against policy.
#[derive(Debug, Clone, Serialize)]
pub struct OptionLine {
    pub summary: String,
    pub end_date: String,
}

/// The limits the agent negotiates within.
#[derive(Debug, Clone, Serialize)]
pub struct Negotiation {
    pub floor: String,
    pub max_months: u32,
    /// The calling agent's settlement authority, in percent ("10").
    pub authority_percent: String,
    pub options: Vec<OptionLine>,
}

/// The live plan, when there is one.
#[derive(Debug, Clone, Serialize)]
pub struct PlanLine {
    pub next_due_date: String,
    pub next_amount: String,
    pub arrears: String,
}

/// Everything guidance is drawn from, as text.
#[derive(Debug, Clone, Serialize)]
pub struct CallContext {
    pub tone: String,
    pub tone_words: String,
    pub tone_reasons: Vec<String>,
    pub today: String,
    pub debtor: Debtor,
    pub category: String,
    pub category_reasons: Vec<String>,
    pub may_call_now: bool,
    /// When the account may be called, when it may not now; empty while a lasting block holds.
    pub next_call: String,
    /// Why it may not be called now.
    pub blocks: Vec<String>,
    /// Everything still owed (disputed included).
    pub outstanding: String,
    /// Undisputed and overdue.
    pub overdue: String,
    pub owed: bool,
    pub overdue_invoices: Vec<InvoiceLine>,
    pub disputed_invoices: Vec<InvoiceLine>,
    /// Payments received in the last fortnight, newest first.
    pub recent_payments: Vec<PaymentLine>,
    /// The debtor says it paid and it is not yet matched, or a payment arrived recently.
    pub payment_crossed: bool,
    /// The date a statement was last sent, if in the last fortnight.
    pub statement_sent: String,
    /// The open promise, as text ("GBP 500.00 by 4 December 2026"); empty when none.
    pub open_promise: String,
    pub broken_promises: usize,
    pub plan: Option<PlanLine>,
    /// Statutory interest and compensation that could be claimed; empty when none apply.
    pub interest: String,
    pub compensation: String,
    /// When the account would go to a collection agency after a final notice.
    pub agency_date: String,
    /// The debtor claimed hardship on a recent call.
    pub hardship: bool,
    /// Follow-ups still open, in plain words.
    pub follow_ups: Vec<String>,
    pub negotiation: Negotiation,
}

/// A likely objection and a way to answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Objection {
    pub objection: String,
    pub answer: String,
}

/// The guidance for one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Guidance {
    pub before_you_dial: Vec<String>,
    pub opening: String,
    pub talking_points: Vec<String>,
    pub questions: Vec<String>,
    pub objections: Vec<Objection>,
    pub must_not: Vec<String>,
    pub closing: String,
    pub text: String,
    pub markdown: String,
}

/// The sections, by template path; `{tone}` is replaced by the tone's key.
pub(crate) const BEFORE: &str = "guidance/before_you_dial.hbs";
pub(crate) const OPENING: &str = "guidance/opening/{tone}.hbs";
pub(crate) const POINTS: &str = "guidance/talking_points/{tone}.hbs";
pub(crate) const QUESTIONS: &str = "guidance/questions.hbs";
pub(crate) const OBJECTIONS: &str = "guidance/objections.hbs";
pub(crate) const MUST_NOT: &str = "guidance/must_not.hbs";
pub(crate) const CLOSING: &str = "guidance/closing/{tone}.hbs";
pub(crate) const PAGE_TEXT: &str = "guidance/page.txt.hbs";
pub(crate) const PAGE_MARKDOWN: &str = "guidance/page.md.hbs";

/// One item per non-empty line, trimmed.
pub(crate) fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `Q:` / `A:` pairs.
pub(crate) fn objections(text: &str) -> Vec<Objection> {
    let mut out: Vec<Objection> = Vec::new();
    for line in lines(text) {
        if let Some(q) = line.strip_prefix("Q:") {
            out.push(Objection {
                objection: q.trim().to_owned(),
                answer: String::new(),
            });
        } else if let (Some(a), Some(last)) = (line.strip_prefix("A:"), out.last_mut()) {
            if !last.answer.is_empty() {
                last.answer.push(' ');
            }
            last.answer.push_str(a.trim());
        }
    }
    out
}

/// The page templates see the context and the sections.
#[derive(Serialize)]
pub(crate) struct Page<'a> {
    #[serde(flatten)]
    pub context: &'a CallContext,
    pub before_you_dial: &'a [String],
    pub opening: &'a str,
    pub talking_points: &'a [String],
    pub questions: &'a [String],
    pub objections: &'a [Objection],
    pub must_not: &'a [String],
    pub closing: &'a str,
}

impl CallContext {
    /// Sample data with every field set, in `tone`, for checking templates at start.
    pub fn sample(tone: Tone) -> CallContext {
        let invoice = |n: &str, days: i64| InvoiceLine {
            number: n.into(),
            due_date: "1 October 2026".into(),
            outstanding: "GBP 1,200.00".into(),
            days_overdue: days,
        };
        CallContext {
            tone: tone.key().into(),
            tone_words: tone.words().into(),
            tone_reasons: vec!["a sample reason".into()],
            today: "23 November 2026".into(),
            debtor: Debtor {
                legal_name: "Sample Trading Ltd".into(),
                external_ref: "CRM-1".into(),
                contact: "Alex Ledger".into(),
            },
            category: "strategic delayer".into(),
            category_reasons: vec!["paid 3 of the last 5 invoices 40 days late".into()],
            may_call_now: tone != Tone::DoNotCall,
            next_call: "Mon 2026-11-23 09:00 GMT".into(),
            blocks: vec!["outside calling hours".into()],
            outstanding: "GBP 2,400.00".into(),
            overdue: "GBP 1,200.00".into(),
            owed: true,
            overdue_invoices: vec![invoice("INV-1", 53)],
            disputed_invoices: vec![invoice("INV-2", 20)],
            recent_payments: vec![PaymentLine {
                date: "20 November 2026".into(),
                amount: "GBP 100.00".into(),
                reference: "BACS 1".into(),
            }],
            payment_crossed: true,
            statement_sent: "21 November 2026".into(),
            open_promise: "GBP 500.00 by 4 December 2026".into(),
            broken_promises: 1,
            plan: Some(PlanLine {
                next_due_date: "1 December 2026".into(),
                next_amount: "GBP 300.00".into(),
                arrears: "GBP 0.00".into(),
            }),
            interest: "GBP 31.20".into(),
            compensation: "GBP 70.00".into(),
            agency_date: "7 December 2026".into(),
            hardship: true,
            follow_ups: vec!["send copies of INV-1".into()],
            negotiation: Negotiation {
                floor: "GBP 60.00".into(),
                max_months: 12,
                authority_percent: "10".into(),
                options: vec![OptionLine {
                    summary: "GBP 400.00 a month from 1 December 2026, 3 payments".into(),
                    end_date: "1 February 2027".into(),
                }],
            },
        }
    }
}
