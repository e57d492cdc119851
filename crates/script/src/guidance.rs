//! Call guidance: what the agent reads during the call. The caller builds a `CallContext` (every
//! figure and date already text) and chooses the tone (`tone::select`); the section templates of
//! that tone turn it into the structured guidance, and `pages` sets the sections out as plain text
//! and Markdown under the locale's headings (`guidance/headings.hbs`, rendered once). A section
//! template writes one item per line; objections are `Q:` / `A:` line pairs.

use crate::safe;
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
    /// Its terms in words, every amount stated.
    pub summary: String,
    /// The last payment's date, when there is more than one payment.
    pub end_date: String,
}

/// The limits the agent negotiates within.
#[derive(Debug, Clone, Serialize)]
pub struct Negotiation {
    pub floor: String,
    /// The longest plan, first payment to last (shorter after a broken plan).
    pub max_months: u32,
    /// The calling agent's settlement authority, in percent ("10").
    pub authority_percent: String,
    pub options: Vec<OptionLine>,
    /// What else the agent must know: stricter terms after a broken plan, or that nothing within
    /// policy fits what the customer can afford.
    pub notes: Vec<String>,
}

/// The live plan, when there is one.
#[derive(Debug, Clone, Serialize)]
pub struct PlanLine {
    pub next_due_date: String,
    pub next_amount: String,
    pub arrears: String,
}

/// A plan that broke recently, named as it was agreed.
#[derive(Debug, Clone, Serialize)]
pub struct BrokenPlanLine {
    pub agreed_on: String,
    /// Its terms in words ("6 monthly payments of GBP 500.00 from 1 October 2026").
    pub terms: String,
    pub broken_on: String,
    /// "2 instalments"; empty when not known.
    pub missed: String,
    /// What was due and unpaid when it broke; empty when not known.
    pub arrears: String,
}

/// A promise to pay broken (or only partly kept) recently.
#[derive(Debug, Clone, Serialize)]
pub struct BrokenPromiseLine {
    pub amount: String,
    pub date: String,
    /// What was paid towards it ("nothing" when nothing was).
    pub paid: String,
}

/// What follows when nothing is paid by the deadline.
#[derive(Debug, Clone, Serialize)]
pub struct NextStep {
    /// "a final notice", "referral to a collection agency".
    pub what: String,
    pub date: String,
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
    /// A payment arrived (or the debtor says it paid) after we chased: a reminder may have
    /// crossed it.
    pub crossed_chasing: bool,
    /// The date a statement was last sent, if in the last fortnight.
    pub statement_sent: String,
    /// The open promise, as text ("GBP 500.00 by 4 December 2026"); empty when none.
    pub open_promise: String,
    pub broken_promises: Vec<BrokenPromiseLine>,
    pub plan: Option<PlanLine>,
    pub broken_plan: Option<BrokenPlanLine>,
    /// Statutory interest and compensation that could be claimed, and the law that gives them;
    /// empty when none apply. `interest` is empty while it is provisional (its rate not yet
    /// known): it is then claimed in words, without a figure.
    pub law: String,
    pub interest: String,
    pub interest_provisional: bool,
    pub compensation: String,
    /// The date to ask payment by on a firm or final call; empty otherwise.
    pub pay_by: String,
    /// What follows if nothing is paid by `pay_by`.
    pub next_step: Option<NextStep>,
    /// The debtor claimed hardship on a recent call.
    pub hardship: bool,
    /// Follow-ups still open, in plain words.
    pub follow_ups: Vec<String>,
    /// A new plan may be offered (something is owed and the call is not a courtesy call).
    pub negotiate: bool,
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
pub(crate) const NEGOTIATION: &str = "guidance/negotiation.hbs";
/// The words of the page around the sections, `key: text` per line; rendered once per locale.
pub(crate) const HEADINGS: &str = "guidance/headings.hbs";

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

/// The words of the page around the sections, in a locale.
#[derive(Debug, Clone, Default)]
pub(crate) struct Headings {
    title: String,
    title_upper: String,
    tone: String,
    category: String,
    may_call: String,
    may_not_call: String,
    earliest: String,
    before_you_dial: String,
    opening: String,
    talking_points: String,
    questions: String,
    objections: String,
    negotiation: String,
    must_not: String,
    closing: String,
}

impl Headings {
    /// Reads `key: text` lines; every key must be there.
    pub(crate) fn parse(text: &str) -> Result<Headings, String> {
        let mut h = Headings::default();
        for line in lines(text) {
            let Some((key, value)) = line.split_once(':') else {
                return Err(format!("'{line}' is not `key: text`"));
            };
            let slot = match key.trim() {
                "title" => &mut h.title,
                "tone" => &mut h.tone,
                "category" => &mut h.category,
                "may_call" => &mut h.may_call,
                "may_not_call" => &mut h.may_not_call,
                "earliest" => &mut h.earliest,
                "before_you_dial" => &mut h.before_you_dial,
                "opening" => &mut h.opening,
                "talking_points" => &mut h.talking_points,
                "questions" => &mut h.questions,
                "objections" => &mut h.objections,
                "negotiation" => &mut h.negotiation,
                "must_not" => &mut h.must_not,
                "closing" => &mut h.closing,
                other => return Err(format!("'{other}' is not a heading")),
            };
            *slot = value.trim().to_owned();
        }
        let missing = [
            ("title", &h.title),
            ("tone", &h.tone),
            ("category", &h.category),
            ("may_call", &h.may_call),
            ("may_not_call", &h.may_not_call),
            ("earliest", &h.earliest),
            ("before_you_dial", &h.before_you_dial),
            ("opening", &h.opening),
            ("talking_points", &h.talking_points),
            ("questions", &h.questions),
            ("objections", &h.objections),
            ("negotiation", &h.negotiation),
            ("must_not", &h.must_not),
            ("closing", &h.closing),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(k, _)| k)
        .collect::<Vec<_>>();
        h.title_upper = h.title.to_uppercase();
        if missing.is_empty() {
            Ok(h)
        } else {
            Err(format!("missing headings: {}", missing.join(", ")))
        }
    }
}

/// Appends each reason as a sentence: "a. b."
fn sentences(out: &mut String, items: &[String]) {
    for (k, r) in items.iter().enumerate() {
        if k > 0 {
            out.push(' ');
        }
        out.push_str(r.trim_end_matches('.'));
        out.push('.');
    }
}

/// The whole guidance as plain text and as Markdown: the header, then each section.
pub(crate) fn pages(
    h: &Headings,
    c: &CallContext,
    g: &Guidance,
    negotiation: &[String],
) -> (String, String) {
    let sections: [(&str, Section<'_>); 8] = [
        (&h.before_you_dial, Section::List(&g.before_you_dial)),
        (&h.opening, Section::Text(&g.opening)),
        (&h.talking_points, Section::List(&g.talking_points)),
        (&h.questions, Section::List(&g.questions)),
        (&h.objections, Section::Pairs(&g.objections)),
        (&h.negotiation, Section::List(negotiation)),
        (&h.must_not, Section::List(&g.must_not)),
        (&h.closing, Section::Text(&g.closing)),
    ];
    let mut text = String::with_capacity(4096);
    let mut md = String::with_capacity(4096);
    for (out, markdown) in [(&mut text, false), (&mut md, true)] {
        let (strong, end_strong) = if markdown { ("**", "**") } else { ("", "") };
        // The account's data, one line of text (in Markdown, never markup).
        let value = |s: &str| {
            if markdown {
                safe::markdown(s)
            } else {
                safe::line(s).into_owned()
            }
        };
        // Rendered template text: its values are safe already; in Markdown, its characters are
        // text too (the templates write no markup), line by line.
        let rendered = |s: &str| {
            if markdown {
                s.lines().map(safe::escape).collect::<Vec<_>>().join("\n")
            } else {
                s.to_owned()
            }
        };
        out.push_str(if markdown { "# " } else { "" });
        out.push_str(if markdown { &h.title } else { &h.title_upper });
        out.push_str(": ");
        out.push_str(&value(&c.debtor.legal_name));
        out.push_str(" (");
        out.push_str(&value(&c.debtor.external_ref));
        out.push_str(")\n");
        for (label, words, reasons) in [
            (&h.tone, &c.tone_words, &c.tone_reasons),
            (&h.category, &c.category, &c.category_reasons),
        ] {
            if markdown {
                out.push('\n');
            }
            out.push_str(strong);
            out.push_str(label);
            out.push_str(": ");
            out.push_str(&value(words));
            out.push('.');
            out.push_str(end_strong);
            out.push(' ');
            let reasons: Vec<String> = reasons.iter().map(|r| value(r)).collect();
            sentences(out, &reasons);
            out.push('\n');
        }
        if markdown {
            out.push_str("\n*");
        }
        if c.may_call_now {
            out.push_str(&h.may_call);
        } else {
            out.push_str(&h.may_not_call);
            if !c.next_call.is_empty() {
                out.push(' ');
                out.push_str(&h.earliest);
                out.push_str(": ");
                out.push_str(&value(&c.next_call));
                out.push('.');
            }
        }
        out.push_str(if markdown { "*\n" } else { "\n" });
        for (heading, section) in &sections {
            if section.is_empty() {
                continue;
            }
            if markdown {
                out.push_str("\n## ");
                out.push_str(heading);
            } else {
                out.push('\n');
                out.push_str(&heading.to_uppercase());
            }
            out.push('\n');
            match section {
                Section::Text(t) => {
                    out.push_str(&rendered(t));
                    out.push('\n');
                }
                Section::List(items) => {
                    for i in *items {
                        out.push_str("- ");
                        out.push_str(&rendered(i));
                        out.push('\n');
                    }
                }
                Section::Pairs(pairs) => {
                    for o in *pairs {
                        out.push_str("- ");
                        out.push_str(strong);
                        out.push_str(&rendered(&o.objection));
                        out.push_str(end_strong);
                        out.push_str(if markdown { " " } else { "\n  " });
                        out.push_str(&rendered(&o.answer));
                        out.push('\n');
                    }
                }
            }
        }
    }
    (text, md)
}

enum Section<'a> {
    Text(&'a str),
    List(&'a [String]),
    Pairs(&'a [Objection]),
}

impl Section<'_> {
    fn is_empty(&self) -> bool {
        match self {
            Section::Text(t) => t.is_empty(),
            Section::List(items) => items.is_empty(),
            Section::Pairs(pairs) => pairs.is_empty(),
        }
    }
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
            next_call: "Mon 23 November 2026 09:00 GMT".into(),
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
            crossed_chasing: true,
            statement_sent: "21 November 2026".into(),
            open_promise: "GBP 500.00 by 4 December 2026".into(),
            broken_promises: vec![BrokenPromiseLine {
                amount: "GBP 500.00".into(),
                date: "6 November 2026".into(),
                paid: "GBP 100.00".into(),
            }],
            plan: Some(PlanLine {
                next_due_date: "1 December 2026".into(),
                next_amount: "GBP 300.00".into(),
                arrears: "GBP 0.00".into(),
            }),
            broken_plan: Some(BrokenPlanLine {
                agreed_on: "1 September 2026".into(),
                terms: "4 monthly payments of GBP 300.00 from 1 October 2026".into(),
                broken_on: "6 November 2026".into(),
                missed: "2 instalments".into(),
                arrears: "GBP 600.00".into(),
            }),
            law: "UK Late Payment of Commercial Debts (Interest) Act 1998".into(),
            interest: "GBP 31.20".into(),
            interest_provisional: false,
            compensation: "GBP 70.00".into(),
            pay_by: "30 November 2026".into(),
            next_step: Some(NextStep {
                what: "a final notice".into(),
                date: "1 December 2026".into(),
            }),
            hardship: true,
            follow_ups: vec!["send copies of INV-1".into()],
            negotiate: true,
            negotiation: Negotiation {
                floor: "GBP 60.00".into(),
                max_months: 12,
                authority_percent: "10".into(),
                options: vec![OptionLine {
                    summary: "3 monthly payments of GBP 400.00 from 1 December 2026".into(),
                    end_date: "1 February 2027".into(),
                }],
                notes: vec!["after the broken plan: a down payment of at least 25%".into()],
            },
        }
    }
}
