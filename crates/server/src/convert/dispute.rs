//! Disputes in and out of recoup.v1.

use recoup_domain::Violations;
use recoup_domain::dispute::{DisputeState, NewDispute, Resolution};
use recoup_proto::v1 as pb;
use recoup_store::StoredDispute;

use super::{adjustment_out, time_out};

pub fn dispute_in(d: &pb::Dispute) -> Result<NewDispute, Violations> {
    let d = NewDispute {
        invoice_numbers: d.invoice_numbers.clone(),
        reason: d.reason.clone(),
    };
    d.validate().into_result(d)
}

pub fn resolution_in(outcome: i32, resolution: &str) -> Result<Resolution, Violations> {
    let r = Resolution {
        outcome: match pb::DisputeState::try_from(outcome) {
            Ok(pb::DisputeState::Upheld) => DisputeState::Upheld,
            Ok(pb::DisputeState::Rejected) => DisputeState::Rejected,
            // Validation names it: only UPHELD and REJECTED resolve a dispute.
            _ => DisputeState::Open,
        },
        resolution: resolution.to_owned(),
    };
    r.validate().into_result(r)
}

pub fn state_out(s: DisputeState) -> pb::DisputeState {
    match s {
        DisputeState::Open => pb::DisputeState::Open,
        DisputeState::Upheld => pb::DisputeState::Upheld,
        DisputeState::Rejected => pb::DisputeState::Rejected,
    }
}

pub fn dispute_out(d: &StoredDispute) -> pb::Dispute {
    pb::Dispute {
        name: d.name(),
        invoice_numbers: d.invoice_numbers.clone(),
        reason: d.reason.clone(),
        state: state_out(d.state) as i32,
        raised_by: d.raised_by.clone(),
        raise_time: Some(time_out(d.raise_time)),
        resolved_by: d.resolved_by.clone().unwrap_or_default(),
        resolution: d.resolution.clone().unwrap_or_default(),
        resolve_time: d.resolve_time.map(time_out),
        credit_notes: d
            .credit_notes
            .iter()
            .map(|(number, note)| pb::DisputeCreditNote {
                invoice_number: number.clone(),
                credit_note: Some(adjustment_out(note)),
            })
            .collect(),
        call: d
            .call_id
            .map(|c| format!("accounts/{}/calls/{c}", d.account_id))
            .unwrap_or_default(),
    }
}
