//! Letters: the statement sent before a call, reminders, the final notice, the plan agreement, the
//! agency referral notice and the dispute acknowledgement. The caller builds a `LetterContext`; each
//! kind's template writes `Subject: …` on its first line and the body after it; the body is rendered
//! twice, as plain text and as Markdown (tables and the heading differ, the wording does not).

use serde::Serialize;

use crate::guidance::InvoiceLine;

/// The kinds of letter recoup writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LetterKind {
    PreCallStatement,
    FirstReminder,
    SecondReminder,
    FinalNotice,
    PlanAgreement,
    AgencyReferralNotice,
    DisputeAcknowledgement,
}

impl LetterKind {
    pub const ALL: [LetterKind; 7] = [
        LetterKind::PreCallStatement,
        LetterKind::FirstReminder,
        LetterKind::SecondReminder,
        LetterKind::FinalNotice,
        LetterKind::PlanAgreement,
        LetterKind::AgencyReferralNotice,
        LetterKind::DisputeAcknowledgement,
    ];

    /// The name stored and used by template files.
    pub fn key(self) -> &'static str {
        match self {
            LetterKind::PreCallStatement => "pre_call_statement",
            LetterKind::FirstReminder => "first_reminder",
            LetterKind::SecondReminder => "second_reminder",
            LetterKind::FinalNotice => "final_notice",
            LetterKind::PlanAgreement => "plan_agreement",
            LetterKind::AgencyReferralNotice => "agency_referral_notice",
            LetterKind::DisputeAcknowledgement => "dispute_acknowledgement",
        }
    }

    pub fn parse(s: &str) -> Option<LetterKind> {
        LetterKind::ALL.into_iter().find(|k| k.key() == s)
    }

    /// A reminder of some strength, for the escalation ladder.
    pub fn is_reminder(self) -> bool {
        matches!(
            self,
            LetterKind::FirstReminder | LetterKind::SecondReminder | LetterKind::FinalNotice
        )
    }

    pub(crate) fn template(self) -> String {
        format!("letters/{}.hbs", self.key())
    }
}

/// A payment as a letter lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentRow {
    pub date: String,
    pub amount: String,
    pub reference: String,
}

/// An open invoice as a statement lists it, with where it stands.
#[derive(Debug, Clone, Serialize)]
pub struct StatementLine {
    pub invoice: InvoiceLine,
    /// "overdue", "not yet due", or "under query, not being chased".
    pub status: String,
}

/// Everything a letter is drawn from, as text.
#[derive(Debug, Clone, Serialize)]
pub struct LetterContext {
    pub date: String,
    pub creditor: String,
    pub debtor: crate::guidance::Debtor,
    /// "Alex Ledger", or "Sir or Madam" when no contact is known.
    pub salutation: String,
    /// Every open invoice with its status (a statement).
    pub statement: Vec<StatementLine>,
    /// Under query: never demanded, shown apart as not being chased.
    pub disputed_invoices: Vec<InvoiceLine>,
    /// Overdue and not disputed: what a reminder asks to be paid.
    pub overdue_invoices: Vec<InvoiceLine>,
    pub payments: Vec<PaymentRow>,
    pub outstanding: String,
    pub overdue: String,
    /// Under query; empty when nothing is.
    pub disputed: String,
    /// Statutory interest and compensation; empty when none apply. `interest` is empty while it
    /// is provisional: it is then claimed in words, without a figure.
    pub interest: String,
    pub interest_provisional: bool,
    pub compensation: String,
    pub law: String,
    /// The date this letter asks payment by (a second reminder's or a final notice's); empty for
    /// the others.
    pub pay_by: String,
    /// What follows if nothing is paid by `pay_by`.
    pub next_step: Option<crate::guidance::NextStep>,
    /// For the plan agreement letter: the agreement as recorded with the plan.
    pub agreement: String,
}

/// A letter as rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub subject: String,
    pub text: String,
    pub markdown: String,
}

/// The most a letter may weigh, subject, text and Markdown together: every letter is kept, so one
/// account's data (or a replaced template) must not make each rendering store megabytes. The
/// shipped templates stay far below it up to `MAX_OPEN_INVOICES`.
pub const MAX_LETTER_BYTES: usize = 256 * 1024;

impl Letter {
    pub fn bytes(&self) -> usize {
        self.subject.len() + self.text.len() + self.markdown.len()
    }
}

/// What the templates see: the context, with the tables and heading in the output's format.
#[derive(Serialize)]
pub(crate) struct Rendering<'a> {
    #[serde(flatten)]
    pub context: &'a LetterContext,
    pub heading: &'static str,
    /// The invoices a reminder demands: overdue, not disputed.
    pub invoice_table: String,
    pub disputed_table: String,
    /// Every open invoice with its status.
    pub statement_table: String,
    pub payment_table: String,
}

pub(crate) fn rendering(c: &LetterContext, markdown: bool) -> Rendering<'_> {
    let invoices = |rows: &[InvoiceLine]| {
        table(
            markdown,
            &["Invoice", "Due", "Outstanding"],
            rows.iter()
                .map(|i| vec![i.number.clone(), i.due_date.clone(), i.outstanding.clone()])
                .collect(),
        )
    };
    Rendering {
        context: c,
        heading: if markdown { "# " } else { "" },
        invoice_table: invoices(&c.overdue_invoices),
        disputed_table: invoices(&c.disputed_invoices),
        statement_table: table(
            markdown,
            &["Invoice", "Due", "Outstanding", "Status"],
            c.statement
                .iter()
                .map(|l| {
                    vec![
                        l.invoice.number.clone(),
                        l.invoice.due_date.clone(),
                        l.invoice.outstanding.clone(),
                        l.status.clone(),
                    ]
                })
                .collect(),
        ),
        payment_table: table(
            markdown,
            &["Date", "Amount", "Reference"],
            c.payments
                .iter()
                .map(|p| vec![p.date.clone(), p.amount.clone(), p.reference.clone()])
                .collect(),
        ),
    }
}

/// A table: Markdown's pipe table, or columns padded with spaces.
fn table(markdown: bool, head: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut out = String::new();
    // Cells hold the account's data (invoice numbers, references): one line each, and in
    // Markdown text, so a `|` cannot add a column.
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            r.iter()
                .map(|cell| {
                    if markdown {
                        crate::safe::markdown(cell)
                    } else {
                        crate::safe::line(cell).into_owned()
                    }
                })
                .collect()
        })
        .collect();
    if markdown {
        out.push_str(&format!("| {} |\n", head.join(" | ")));
        out.push_str(&format!("|{}\n", "---|".repeat(head.len())));
        for r in rows {
            out.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        return out;
    }
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    out.push_str(&line(head.iter().map(|h| (*h).to_owned()).collect()));
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

/// Splits a rendered letter into its subject (the first line, `Subject: …`) and body.
pub(crate) fn split(rendered: &str) -> (String, String) {
    let (first, body) = rendered.split_once('\n').unwrap_or((rendered, ""));
    let subject = first.strip_prefix("Subject:").unwrap_or(first).trim();
    (subject.to_owned(), body.trim_start_matches('\n').to_owned())
}

impl LetterContext {
    /// Sample data with every field set, for checking templates at start.
    pub fn sample() -> LetterContext {
        let g = crate::guidance::CallContext::sample(crate::tone::Tone::Firm);
        LetterContext {
            date: g.today.clone(),
            creditor: "Example Supplies Ltd".into(),
            debtor: g.debtor.clone(),
            salutation: "Alex Ledger".into(),
            statement: g
                .overdue_invoices
                .iter()
                .map(|i| StatementLine {
                    invoice: i.clone(),
                    status: "overdue".into(),
                })
                .chain(g.disputed_invoices.iter().map(|i| StatementLine {
                    invoice: i.clone(),
                    status: "under query, not being chased".into(),
                }))
                .collect(),
            disputed_invoices: g.disputed_invoices.clone(),
            overdue_invoices: g.overdue_invoices.clone(),
            payments: vec![PaymentRow {
                date: "20 November 2026".into(),
                amount: "GBP 100.00".into(),
                reference: "BACS 1".into(),
            }],
            outstanding: g.outstanding.clone(),
            overdue: g.overdue.clone(),
            disputed: "GBP 1,200.00".into(),
            interest: g.interest.clone(),
            interest_provisional: g.interest_provisional,
            compensation: g.compensation.clone(),
            law: g.law.clone(),
            pay_by: g.pay_by.clone(),
            next_step: g.next_step.clone(),
            agreement: "PAYMENT PLAN AGREEMENT\n(sample)".into(),
        }
    }
}
