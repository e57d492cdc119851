//! A call record as the agent gives it, and the rules it must satisfy against its account. What a
//! call changes (an open promise, a callback, a referral, a dispute) follows from its outcome.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::account::check_amount;
use crate::ageing::local_today;
use crate::money::{Currency, Money};
use crate::policy::PromisePolicy;
use crate::violations::Violations;

/// Longest contact name, agency, "left with" and other short texts.
pub const MAX_SHORT_TEXT_CHARS: usize = 200;
/// Longest free text (what was said, a reason, a statement).
pub const MAX_NOTES_CHARS: usize = 4000;
/// Longest reason or statement on an outcome.
pub const MAX_OUTCOME_TEXT_CHARS: usize = 2000;
/// Longest next step and override or correction reason.
pub const MAX_STEP_CHARS: usize = 500;
/// Longest "resend to" address.
pub const MAX_RESEND_TO_CHARS: usize = 254;
/// Most invoices or claims one outcome may name.
pub const MAX_LISTED: usize = 100;
/// The furthest ahead a callback may be arranged.
pub const MAX_CALLBACK_DAYS: i64 = 90;
/// Longest CRM id of an imported call or letter.
pub const MAX_CRM_ID_CHARS: usize = 64;
/// The longest a call may have lasted.
pub const MAX_CALL_HOURS: i64 = 12;

/// Who started the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Outbound,
    Inbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outbound => "outbound",
            Self::Inbound => "inbound",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "outbound" => Some(Self::Outbound),
            "inbound" => Some(Self::Inbound),
            _ => None,
        }
    }
}

/// What came of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    NoAnswer,
    LeftMessage {
        left_with: String,
    },
    WrongParty,
    PromiseToPay {
        amount: Money,
        date: NaiveDate,
    },
    PlanAgreed {
        plan: String,
    },
    AlreadyPaid {
        reference: String,
        payment_date: Option<NaiveDate>,
        amount: Option<Money>,
    },
    DisputeRaised {
        invoice_numbers: Vec<String>,
        reason: String,
    },
    HardshipClaimed {
        statement: String,
        claims_to_verify: Vec<String>,
        affordable_monthly: Option<Money>,
    },
    InvoiceNotReceived {
        invoice_numbers: Vec<String>,
        resend_to: String,
    },
    RefusedToPay {
        reason: String,
    },
    CallbackRequested {
        time: DateTime<Utc>,
    },
    ReferredToAgency {
        agency: String,
    },
}

impl Outcome {
    /// The stable name stored with the record, also the contract's oneof field name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NoAnswer => "no_answer",
            Self::LeftMessage { .. } => "left_message",
            Self::WrongParty => "wrong_party",
            Self::PromiseToPay { .. } => "promise_to_pay",
            Self::PlanAgreed { .. } => "plan_agreed",
            Self::AlreadyPaid { .. } => "already_paid",
            Self::DisputeRaised { .. } => "dispute_raised",
            Self::HardshipClaimed { .. } => "hardship_claimed",
            Self::InvoiceNotReceived { .. } => "invoice_not_received",
            Self::RefusedToPay { .. } => "refused_to_pay",
            Self::CallbackRequested { .. } => "callback_requested",
            Self::ReferredToAgency { .. } => "referred_to_agency",
        }
    }
}

/// A call to record. Its Debug hides what was said and who said it (see below).
#[derive(Clone, PartialEq, Eq)]
pub struct NewCall {
    pub direction: Direction,
    pub start_time: DateTime<Utc>,
    pub duration_ms: Option<i64>,
    pub contact_name: String,
    pub right_party_contact: bool,
    pub outcome: Outcome,
    pub notes: String,
    pub next_step: String,
    /// A supervisor's reason for calling outside the contact rules.
    pub override_reason: Option<String>,
    /// The record this one corrects, and why.
    pub correction: Option<Correction>,
    /// The claim it was made under (`floor`): the agent's reservation of the account.
    pub claim_id: Option<i64>,
    /// The debtor asked not to be called again, in its words: a lasting cease-contact block.
    pub asked_not_to_call: Option<String>,
    /// Set when the call comes from the creditor's CRM history rather than an agent of recoup.
    pub imported: Option<ImportedCall>,
}

/// A past call brought in from the creditor's CRM: never judged for breaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedCall {
    /// The CRM's id for the call; a second import of it writes nothing.
    pub crm_id: String,
    /// The agent as the CRM names them.
    pub agent: String,
}

/// Names, notes and what the debtor said are personal data: Debug shows the shape only, so a stray
/// `{:?}` can never put them in a log.
impl std::fmt::Debug for NewCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCall")
            .field("direction", &self.direction)
            .field("start_time", &self.start_time)
            .field("duration_ms", &self.duration_ms)
            .field("outcome", &self.outcome.kind())
            .field("notes_chars", &self.notes.chars().count())
            .field("overridden", &self.override_reason.is_some())
            .field("corrects", &self.correction.as_ref().map(|c| c.call_id))
            .field("claim_id", &self.claim_id)
            .field("asked_not_to_call", &self.asked_not_to_call.is_some())
            .field("imported", &self.imported.is_some())
            .finish_non_exhaustive()
    }
}

/// A correction names the record it corrects and says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    pub call_id: i64,
    pub reason: String,
}

/// What the rules need to know about the account a call is recorded on.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    pub currency: Currency,
    pub time_zone: chrono_tz::Tz,
    /// The numbers of the account's invoices.
    pub invoice_numbers: &'a [String],
    pub promises: &'a PromisePolicy,
    /// How many days back an agent may record a call; `None` for history a CRM imports.
    pub max_record_age_days: Option<u32>,
    pub now: DateTime<Utc>,
}

impl NewCall {
    /// Every rule the call breaks (field paths are relative to the call).
    pub fn validate(&self, cx: &CallContext<'_>) -> Violations {
        let mut v = Violations::new();
        if self.start_time > cx.now {
            v.push("start_time", "is in the future");
        }
        if let Some(days) = cx.max_record_age_days
            && self.start_time < cx.now - Duration::days(i64::from(days))
        {
            v.push(
                "start_time",
                format!("is more than {days} days ago: past calls come in with ImportHistory"),
            );
        }
        if let Some(words) = &self.asked_not_to_call {
            v.required_text("asked_not_to_call.words", words, MAX_OUTCOME_TEXT_CHARS);
        }
        if let Some(i) = &self.imported {
            v.required_text("crm_call_id", &i.crm_id, MAX_CRM_ID_CHARS);
            v.optional_line("agent", &i.agent, MAX_SHORT_TEXT_CHARS);
        }
        if let Some(ms) = self.duration_ms
            && !(0..=MAX_CALL_HOURS * 3_600_000).contains(&ms)
        {
            v.push(
                "duration",
                format!("must be from zero to {MAX_CALL_HOURS} hours"),
            );
        }
        v.optional_line("contact_name", &self.contact_name, MAX_SHORT_TEXT_CHARS);
        v.optional_text("notes", &self.notes, MAX_NOTES_CHARS);
        v.optional_text("next_step", &self.next_step, MAX_STEP_CHARS);
        if let Some(reason) = &self.override_reason {
            v.required_text("supervisor_override.reason", reason, MAX_STEP_CHARS);
        }
        if let Some(c) = &self.correction {
            v.required_text("correction_reason", &c.reason, MAX_STEP_CHARS);
        }
        self.validate_outcome(&mut v, cx);
        v
    }

    fn validate_outcome(&self, v: &mut Violations, cx: &CallContext<'_>) {
        let today = local_today(cx.time_zone, cx.now);
        let known = |v: &mut Violations, field: &str, numbers: &[String]| {
            if numbers.is_empty() {
                v.push(field, "at least one invoice number is required");
            }
            if numbers.len() > MAX_LISTED {
                v.push(field, format!("at most {MAX_LISTED} invoices"));
            }
            for (i, n) in numbers.iter().enumerate() {
                // History may name invoices long since paid or gone from the CRM.
                if self.imported.is_none() && !cx.invoice_numbers.contains(n) {
                    v.push(
                        format!("{field}[{i}]"),
                        format!("'{n}' is not an invoice of this account"),
                    );
                }
            }
        };
        match &self.outcome {
            Outcome::NoAnswer | Outcome::WrongParty => {}
            Outcome::LeftMessage { left_with } => {
                v.optional_line("left_message.left_with", left_with, MAX_SHORT_TEXT_CHARS)
            }
            Outcome::PromiseToPay { amount, date } => {
                check_amount(v, "promise_to_pay.amount", *amount, cx.currency);
                // Judged from the day of the call, so a call recorded after the event (or from
                // history) keeps the promise as it was made.
                let made_on = local_today(cx.time_zone, self.start_time);
                let latest = made_on + Duration::days(i64::from(cx.promises.max_days_ahead));
                if *date < made_on {
                    v.push(
                        "promise_to_pay.promise_date",
                        format!("{date} is before the debtor's date of the call, {made_on}"),
                    );
                } else if *date > latest {
                    v.push(
                        "promise_to_pay.promise_date",
                        format!(
                            "{date} is more than {} days ahead: agree a plan instead",
                            cx.promises.max_days_ahead
                        ),
                    );
                }
            }
            Outcome::PlanAgreed { plan } => {
                v.required_text("plan_agreed.plan", plan, MAX_SHORT_TEXT_CHARS)
            }
            Outcome::AlreadyPaid {
                reference,
                payment_date,
                amount,
            } => {
                v.optional_line("already_paid.reference", reference, 140);
                if payment_date.is_some_and(|d| d > today) {
                    v.push("already_paid.payment_date", "is in the future");
                }
                if let Some(amount) = amount {
                    check_amount(v, "already_paid.amount", *amount, cx.currency);
                }
            }
            Outcome::DisputeRaised {
                invoice_numbers,
                reason,
            } => {
                known(v, "dispute_raised.invoice_numbers", invoice_numbers);
                v.required_text("dispute_raised.reason", reason, MAX_OUTCOME_TEXT_CHARS);
            }
            Outcome::HardshipClaimed {
                statement,
                claims_to_verify,
                affordable_monthly,
            } => {
                v.optional_text(
                    "hardship_claimed.statement",
                    statement,
                    MAX_OUTCOME_TEXT_CHARS,
                );
                if claims_to_verify.len() > MAX_LISTED {
                    v.push(
                        "hardship_claimed.claims_to_verify",
                        format!("at most {MAX_LISTED} claims"),
                    );
                }
                for (i, claim) in claims_to_verify.iter().enumerate() {
                    v.required_text(
                        &format!("hardship_claimed.claims_to_verify[{i}]"),
                        claim,
                        MAX_STEP_CHARS,
                    );
                }
                if let Some(m) = affordable_monthly {
                    check_amount(v, "hardship_claimed.affordable_monthly", *m, cx.currency);
                }
            }
            Outcome::InvoiceNotReceived {
                invoice_numbers,
                resend_to,
            } => {
                known(v, "invoice_not_received.invoice_numbers", invoice_numbers);
                v.optional_text(
                    "invoice_not_received.resend_to",
                    resend_to,
                    MAX_RESEND_TO_CHARS,
                );
            }
            Outcome::RefusedToPay { reason } => {
                v.optional_text("refused_to_pay.reason", reason, MAX_OUTCOME_TEXT_CHARS)
            }
            Outcome::CallbackRequested { time } if self.imported.is_some() => {
                if *time <= self.start_time {
                    v.push(
                        "callback_requested.callback_time",
                        "must be after the call's start",
                    );
                }
            }
            Outcome::CallbackRequested { time } => {
                if *time <= cx.now {
                    v.push("callback_requested.callback_time", "must be in the future");
                } else if *time > cx.now + Duration::days(MAX_CALLBACK_DAYS) {
                    v.push(
                        "callback_requested.callback_time",
                        format!("must be within {MAX_CALLBACK_DAYS} days"),
                    );
                }
            }
            Outcome::ReferredToAgency { agency } => {
                v.optional_line("referred_to_agency.agency", agency, MAX_SHORT_TEXT_CHARS)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_what_was_said() {
        let call = NewCall {
            direction: Direction::Inbound,
            start_time: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            duration_ms: None,
            contact_name: "Zebedee Canary".into(),
            right_party_contact: true,
            outcome: Outcome::HardshipClaimed {
                statement: "the bank froze our account".into(),
                claims_to_verify: vec!["letter from Canary Bank".into()],
                affordable_monthly: None,
            },
            notes: "call Zebedee on his mobile".into(),
            next_step: String::new(),
            override_reason: None,
            correction: None,
            claim_id: None,
            asked_not_to_call: Some("never ring Zebedee again".into()),
            imported: None,
        };
        let shown = format!("{call:?}");
        assert!(shown.contains("hardship_claimed"), "{shown}");
        assert!(
            !shown.contains("Zebedee") && !shown.contains("bank") && !shown.contains("ring"),
            "{shown}"
        );
    }
}
