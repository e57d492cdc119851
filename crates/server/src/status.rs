//! How failures reach clients: bad input as INVALID_ARGUMENT with google.rpc.BadRequest naming every
//! field; a call the contact rules forbid as FAILED_PRECONDITION with a PreconditionFailure per
//! rule; storage failures as INTERNAL with no driver or SQL text (that goes to the log only).

use chrono::{DateTime, Utc};
use recoup_domain::Violations;
use recoup_domain::contact::Block;
use recoup_domain::text::{British, Formats};
use recoup_store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::convert::{account_name, block_reason_out};

/// INVALID_ARGUMENT listing every violation in the details and the first few in the message.
pub fn invalid(v: Violations) -> Status {
    let mut details = ErrorDetails::new();
    let mut summary = Vec::new();
    for (i, x) in v.iter().enumerate() {
        if i < 5 {
            summary.push(format!("{}: {}", x.field, x.description));
        }
        details.add_bad_request_violation(x.field.clone(), x.description.clone());
    }
    let more = v.len().saturating_sub(summary.len());
    let mut message = format!("invalid request: {}", summary.join("; "));
    if more > 0 {
        message.push_str(&format!("; and {more} more (see BadRequest details)"));
    }
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// INVALID_ARGUMENT for one field.
pub fn invalid_field(field: &str, description: impl Into<String>) -> Status {
    let mut v = Violations::new();
    v.push(field, description);
    invalid(v)
}

/// Maps a store failure; `prefix` is the request path of the store's field names (e.g. "payment").
pub fn from_store(e: StoreError, prefix: &str, not_found: impl FnOnce() -> String) -> Status {
    match e {
        StoreError::NotFound => Status::not_found(not_found()),
        StoreError::Invalid(v) => {
            let mut prefixed = Violations::new();
            prefixed.extend_prefixed(prefix, v);
            invalid(prefixed)
        }
        StoreError::Refused {
            account_id,
            at,
            blocks,
        } => refused(account_id, at, &blocks),
        StoreError::Conflict(why) => Status::failed_precondition(why),
        StoreError::Forbidden(why) => Status::permission_denied(why),
        StoreError::RequestIdReused => invalid_field(
            "request_id",
            "was already used for a different request; use a new request_id",
        ),
        other => internal(&other),
    }
}

/// FAILED_PRECONDITION naming every contact rule a call on account `account_id`, made at `at`,
/// breaks, each as a PreconditionFailure violation (type CONTACT_RULE, subject the reason's name).
fn refused(account_id: i64, at: DateTime<Utc>, blocks: &[Block]) -> Status {
    let mut details = ErrorDetails::new();
    for b in blocks {
        details.add_precondition_failure_violation(
            "CONTACT_RULE",
            block_reason_out(b.reason).as_str_name(),
            &b.description,
        );
    }
    let summary: Vec<&str> = blocks.iter().map(|b| b.description.as_str()).collect();
    Status::with_error_details(
        Code::FailedPrecondition,
        format!(
            "the contact rules forbid the call to {} at {} {}: {}. A supervisor may record the \
             call with a supervisor_override and a reason",
            account_name(account_id),
            British.date(at.date_naive()),
            at.format("%H:%M UTC"),
            summary.join("; ")
        ),
        details,
    )
}

/// INTERNAL with a generic message; the detail is logged, never sent.
pub fn internal(e: &dyn std::fmt::Display) -> Status {
    tracing::error!(error = %e, "internal error");
    Status::internal("internal error; the server log has the details")
}
