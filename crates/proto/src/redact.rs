//! Debug for messages that hold personal data or call notes: structure and sizes are shown, the text
//! is not, so a stray `{:?}` in a log line cannot leak a debtor's details.

use std::fmt::{self, Debug, Formatter};

use crate::v1::call_record::Outcome;
use crate::v1::{
    CallRecord, Contact, HardshipClaimed, InvoiceNotReceived, RecordPlanSignatureRequest,
    SupervisorOverride,
};

/// Shows that a text was there, and how long, but not what it said.
struct Redacted<'a>(&'a str);

impl Debug for Redacted<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            write!(f, "<redacted {} chars>", self.0.chars().count())
        }
    }
}

impl Debug for Contact {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contact")
            .field("display_name", &Redacted(&self.display_name))
            .field("role", &Redacted(&self.role))
            .field("phone", &Redacted(&self.phone))
            .field("email", &Redacted(&self.email))
            .field("preferred", &self.preferred)
            .finish()
    }
}

impl Debug for CallRecord {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallRecord")
            .field("name", &self.name)
            .field("direction", &self.direction)
            .field("start_time", &self.start_time)
            .field("duration", &self.duration)
            .field("contact_name", &Redacted(&self.contact_name))
            .field("right_party_contact", &self.right_party_contact)
            .field("outcome", &self.outcome.as_ref().map(outcome_kind))
            .field("notes", &Redacted(&self.notes))
            .field("next_step", &Redacted(&self.next_step))
            .field("supervisor_override", &self.supervisor_override)
            .field("corrects", &self.corrects)
            .field("agent", &self.agent)
            .field("create_time", &self.create_time)
            .finish()
    }
}

/// The outcome's kind only: its fields may hold what the debtor said.
fn outcome_kind(o: &Outcome) -> &'static str {
    match o {
        Outcome::NoAnswer(_) => "NoAnswer",
        Outcome::LeftMessage(_) => "LeftMessage",
        Outcome::WrongParty(_) => "WrongParty",
        Outcome::PromiseToPay(_) => "PromiseToPay",
        Outcome::PlanAgreed(_) => "PlanAgreed",
        Outcome::AlreadyPaid(_) => "AlreadyPaid",
        Outcome::DisputeRaised(_) => "DisputeRaised",
        Outcome::HardshipClaimed(_) => "HardshipClaimed",
        Outcome::InvoiceNotReceived(_) => "InvoiceNotReceived",
        Outcome::RefusedToPay(_) => "RefusedToPay",
        Outcome::CallbackRequested(_) => "CallbackRequested",
        Outcome::ReferredToAgency(_) => "ReferredToAgency",
    }
}

impl Debug for HardshipClaimed {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.debug_struct("HardshipClaimed")
            .field("statement", &Redacted(&self.statement))
            .field("claims_to_verify", &self.claims_to_verify.len())
            .field("affordable_monthly", &self.affordable_monthly)
            .finish()
    }
}

impl Debug for InvoiceNotReceived {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvoiceNotReceived")
            .field("invoice_numbers", &self.invoice_numbers)
            .field("resend_to", &Redacted(&self.resend_to))
            .finish()
    }
}

impl Debug for RecordPlanSignatureRequest {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordPlanSignatureRequest")
            .field("request_id", &self.request_id)
            .field("name", &self.name)
            .field("sign_time", &self.sign_time)
            .field("signatory", &Redacted(&self.signatory))
            .finish()
    }
}

impl Debug for SupervisorOverride {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorOverride")
            .field("reason", &Redacted(&self.reason))
            .field("supervisor", &self.supervisor)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{Account, ImportAccountsRequest};

    #[test]
    fn nested_debug_output_hides_contact_details() {
        let req = ImportAccountsRequest {
            request_id: "r".into(),
            account: Some(Account {
                contacts: vec![Contact {
                    display_name: "Pat Secretname".into(),
                    phone: "+44 7700 900999".into(),
                    email: "pat@secret.example".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        };
        let shown = format!("{req:?} {req:#?}");
        for secret in ["Secretname", "900999", "secret.example"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("<redacted 14 chars>"));
    }

    #[test]
    fn call_notes_are_hidden() {
        let call = CallRecord {
            notes: "said the director is ill".into(),
            ..Default::default()
        };
        assert!(!format!("{call:?}").contains("director"));
    }
}
