//! Call records between recoup.v1 and the domain.

use chrono::{DateTime, Utc};
use recoup_domain::Violations;
use recoup_domain::call::{Correction, Direction, NewCall, Outcome};
use recoup_domain::floor::{Claim, ClaimEnd, Rule};
use recoup_domain::promise::{PromiseState, TrackedPromise};
use recoup_proto::v1 as pb;
use recoup_proto::v1::call_record::Outcome as PbOutcome;
use recoup_store::StoredCall;

use super::{account_name, date_in, date_out, enum_in, money_in, money_out, time_out};
use crate::names;

/// A Timestamp as a time, or a violation.
pub fn time_in(
    v: &mut Violations,
    field: &str,
    t: Option<&prost_types::Timestamp>,
) -> Option<DateTime<Utc>> {
    let Some(t) = t else {
        v.push(field, "is required");
        return None;
    };
    let time = u32::try_from(t.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .and_then(|n| DateTime::from_timestamp(t.seconds, n));
    if time.is_none() {
        v.push(field, "is not a valid timestamp");
    }
    time
}

/// Reads the call of a RecordCallOutcomeRequest (field paths relative to the call); `account_id` is
/// the parent's, which a correction must share.
pub fn call_in(v: &mut Violations, c: &pb::CallRecord, account_id: Option<i64>) -> Option<NewCall> {
    let direction = enum_in(
        v,
        "direction",
        c.direction,
        None,
        |d: pb::CallDirection| match d {
            pb::CallDirection::Outbound => Some(Direction::Outbound),
            pb::CallDirection::Inbound => Some(Direction::Inbound),
            pb::CallDirection::Unspecified => None,
        },
    );
    let start_time = time_in(v, "start_time", c.start_time.as_ref());
    let duration_ms = c.duration.as_ref().and_then(|d| {
        let ms = d
            .seconds
            .checked_mul(1000)
            .and_then(|s| s.checked_add(i64::from(d.nanos / 1_000_000)));
        if ms.is_none() || d.nanos < 0 || d.seconds < 0 {
            v.push("duration", "must be a positive duration");
        }
        ms
    });
    let outcome = outcome_in(v, c.outcome.as_ref());
    let correction = if c.corrects.is_empty() {
        if !c.correction_reason.is_empty() {
            v.push(
                "correction_reason",
                "is only for a record that corrects another",
            );
        }
        None
    } else {
        match names::call_id(v, "corrects", &c.corrects) {
            Some((account, call_id)) => {
                if account_id.is_some_and(|a| a != account) {
                    v.push("corrects", "must name a call of the same account");
                }
                Some(Correction {
                    call_id,
                    reason: c.correction_reason.clone(),
                })
            }
            None => None,
        }
    };
    let override_reason = c.supervisor_override.as_ref().map(|o| o.reason.clone());
    let claim_id = if c.claim.is_empty() {
        None
    } else {
        match names::claim_id(v, "claim", &c.claim) {
            Some((account, claim)) => {
                if account_id.is_some_and(|a| a != account) {
                    v.push("claim", "must name a claim on the call's account");
                }
                Some(claim)
            }
            None => None,
        }
    };
    let asked_not_to_call = c.asked_not_to_call.as_ref().map(|a| a.words.clone());
    Some(NewCall {
        direction: direction?,
        start_time: start_time?,
        duration_ms,
        contact_name: c.contact_name.clone(),
        right_party_contact: c.right_party_contact,
        outcome: outcome?,
        notes: c.notes.clone(),
        next_step: c.next_step.clone(),
        override_reason,
        correction,
        claim_id,
        asked_not_to_call,
        imported: None,
    })
}

fn outcome_in(v: &mut Violations, o: Option<&PbOutcome>) -> Option<Outcome> {
    let Some(o) = o else {
        v.push("outcome", "is required: one of no_answer, left_message, …");
        return None;
    };
    Some(match o {
        PbOutcome::NoAnswer(_) => Outcome::NoAnswer,
        PbOutcome::LeftMessage(m) => Outcome::LeftMessage {
            left_with: m.left_with.clone(),
        },
        PbOutcome::WrongParty(_) => Outcome::WrongParty,
        PbOutcome::PromiseToPay(p) => {
            let amount = money_in(v, "promise_to_pay.amount", p.amount.as_ref());
            let date = date_in(v, "promise_to_pay.promise_date", p.promise_date.as_ref());
            Outcome::PromiseToPay {
                amount: amount?,
                date: date?,
            }
        }
        PbOutcome::PlanAgreed(p) => Outcome::PlanAgreed {
            plan: p.plan.clone(),
        },
        PbOutcome::AlreadyPaid(p) => Outcome::AlreadyPaid {
            reference: p.reference.clone(),
            payment_date: p
                .payment_date
                .as_ref()
                .and_then(|d| date_in(v, "already_paid.payment_date", Some(d))),
            amount: p
                .amount
                .as_ref()
                .and_then(|m| money_in(v, "already_paid.amount", Some(m))),
        },
        PbOutcome::DisputeRaised(d) => Outcome::DisputeRaised {
            invoice_numbers: d.invoice_numbers.clone(),
            reason: d.reason.clone(),
        },
        PbOutcome::HardshipClaimed(h) => Outcome::HardshipClaimed {
            statement: h.statement.clone(),
            claims_to_verify: h.claims_to_verify.clone(),
            affordable_monthly: h
                .affordable_monthly
                .as_ref()
                .and_then(|m| money_in(v, "hardship_claimed.affordable_monthly", Some(m))),
        },
        PbOutcome::InvoiceNotReceived(i) => Outcome::InvoiceNotReceived {
            invoice_numbers: i.invoice_numbers.clone(),
            resend_to: i.resend_to.clone(),
        },
        PbOutcome::RefusedToPay(r) => Outcome::RefusedToPay {
            reason: r.reason.clone(),
        },
        PbOutcome::CallbackRequested(c) => Outcome::CallbackRequested {
            time: time_in(
                v,
                "callback_requested.callback_time",
                c.callback_time.as_ref(),
            )?,
        },
        PbOutcome::ReferredToAgency(r) => Outcome::ReferredToAgency {
            agency: r.agency.clone(),
        },
    })
}

pub fn call_name(account_id: i64, call_id: i64) -> String {
    format!("accounts/{account_id}/calls/{call_id}")
}

/// A stored call as the contract shows it; `promise` is the judgement of its promise, if it made one.
pub fn call_out(s: &StoredCall, promise: Option<&TrackedPromise>) -> pb::CallRecord {
    let c = &s.call;
    pb::CallRecord {
        name: call_name(s.account_id, s.id),
        direction: match c.direction {
            Direction::Outbound => pb::CallDirection::Outbound,
            Direction::Inbound => pb::CallDirection::Inbound,
        } as i32,
        start_time: Some(time_out(c.start_time)),
        duration: c.duration_ms.map(|ms| prost_types::Duration {
            seconds: ms / 1000,
            nanos: ((ms % 1000) * 1_000_000) as i32,
        }),
        contact_name: c.contact_name.clone(),
        right_party_contact: c.right_party_contact,
        outcome: Some(outcome_out(&c.outcome, promise)),
        notes: c.notes.clone(),
        next_step: c.next_step.clone(),
        supervisor_override: match (&c.override_reason, &s.override_by) {
            (Some(reason), Some(by)) => Some(pb::SupervisorOverride {
                reason: reason.clone(),
                supervisor: by.clone(),
            }),
            _ => None,
        },
        corrects: c
            .correction
            .as_ref()
            .map(|x| call_name(s.account_id, x.call_id))
            .unwrap_or_default(),
        correction_reason: c
            .correction
            .as_ref()
            .map(|x| x.reason.clone())
            .unwrap_or_default(),
        agent: s.agent.clone(),
        create_time: Some(time_out(s.create_time)),
        claim: c
            .claim_id
            .map(|k| claim_name(s.account_id, k))
            .unwrap_or_default(),
        rule_breaches: s
            .breaches
            .iter()
            .map(|b| pb::RuleBreach {
                rule: rule_out(b.rule) as i32,
                detail: b.detail.clone(),
                time: Some(time_out(b.at)),
            })
            .collect(),
        origin: if c.imported.is_some() {
            pb::CallOrigin::Import
        } else {
            pb::CallOrigin::Live
        } as i32,
        crm_call_id: c
            .imported
            .as_ref()
            .map(|i| i.crm_id.clone())
            .unwrap_or_default(),
        asked_not_to_call: c
            .asked_not_to_call
            .as_ref()
            .map(|w| pb::AskedNotToCall { words: w.clone() }),
    }
}

pub fn claim_name(account_id: i64, claim_id: i64) -> String {
    format!("accounts/{account_id}/claims/{claim_id}")
}

/// A claim as the contract shows it, as it stands at `now`.
pub fn claim_out(c: &Claim, now: DateTime<Utc>) -> pb::Claim {
    pb::Claim {
        name: claim_name(c.account_id, c.id),
        account: account_name(c.account_id),
        agent: c.agent.clone(),
        claim_time: Some(time_out(c.claim_time)),
        expire_time: Some(time_out(c.expire_time)),
        state: match c.end_at(now) {
            None => pb::ClaimState::Live,
            Some(ClaimEnd::Recorded) => pb::ClaimState::Recorded,
            Some(ClaimEnd::Released) => pb::ClaimState::Released,
            Some(ClaimEnd::Expired) => pb::ClaimState::Expired,
        } as i32,
        override_reason: c.override_reason.clone().unwrap_or_default(),
    }
}

/// A breached rule as the contract names it.
pub fn rule_out(rule: Rule) -> pb::ContactBlockReason {
    match rule {
        Rule::Contact(reason) => super::block_reason_out(reason),
        Rule::Unclaimed => pb::ContactBlockReason::Unclaimed,
    }
}

pub fn promise_state_out(state: PromiseState) -> pb::PromiseState {
    match state {
        PromiseState::Open => pb::PromiseState::Open,
        PromiseState::Kept => pb::PromiseState::Kept,
        PromiseState::PartiallyKept => pb::PromiseState::PartiallyKept,
        PromiseState::Broken => pb::PromiseState::Broken,
        PromiseState::Superseded => pb::PromiseState::Superseded,
    }
}

fn outcome_out(o: &Outcome, promise: Option<&TrackedPromise>) -> PbOutcome {
    match o {
        Outcome::NoAnswer => PbOutcome::NoAnswer(pb::NoAnswer {}),
        Outcome::LeftMessage { left_with } => PbOutcome::LeftMessage(pb::LeftMessage {
            left_with: left_with.clone(),
        }),
        Outcome::WrongParty => PbOutcome::WrongParty(pb::WrongParty {}),
        Outcome::PromiseToPay { amount, date } => PbOutcome::PromiseToPay(pb::PromiseToPay {
            amount: Some(money_out(*amount)),
            promise_date: Some(date_out(*date)),
            state: promise.map_or(0, |j| promise_state_out(j.state) as i32),
            paid: promise.map(|j| money_out(j.paid)),
        }),
        Outcome::PlanAgreed { plan } => {
            PbOutcome::PlanAgreed(pb::PlanAgreed { plan: plan.clone() })
        }
        Outcome::AlreadyPaid {
            reference,
            payment_date,
            amount,
        } => PbOutcome::AlreadyPaid(pb::AlreadyPaid {
            reference: reference.clone(),
            payment_date: payment_date.map(date_out),
            amount: amount.map(money_out),
        }),
        Outcome::DisputeRaised {
            invoice_numbers,
            reason,
        } => PbOutcome::DisputeRaised(pb::DisputeRaised {
            invoice_numbers: invoice_numbers.clone(),
            reason: reason.clone(),
        }),
        Outcome::HardshipClaimed {
            statement,
            claims_to_verify,
            affordable_monthly,
        } => PbOutcome::HardshipClaimed(pb::HardshipClaimed {
            statement: statement.clone(),
            claims_to_verify: claims_to_verify.clone(),
            affordable_monthly: affordable_monthly.map(money_out),
        }),
        Outcome::InvoiceNotReceived {
            invoice_numbers,
            resend_to,
        } => PbOutcome::InvoiceNotReceived(pb::InvoiceNotReceived {
            invoice_numbers: invoice_numbers.clone(),
            resend_to: resend_to.clone(),
        }),
        Outcome::RefusedToPay { reason } => PbOutcome::RefusedToPay(pb::RefusedToPay {
            reason: reason.clone(),
        }),
        Outcome::CallbackRequested { time } => {
            PbOutcome::CallbackRequested(pb::CallbackRequested {
                callback_time: Some(time_out(*time)),
            })
        }
        Outcome::ReferredToAgency { agency } => PbOutcome::ReferredToAgency(pb::ReferredToAgency {
            agency: agency.clone(),
        }),
    }
}
