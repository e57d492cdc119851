//! How failures reach clients: bad input as INVALID_ARGUMENT with google.rpc.BadRequest naming every
//! field; a claim the contact rules or another agent's claim forbid as FAILED_PRECONDITION with a
//! PreconditionFailure per reason; storage failures as INTERNAL with no driver or SQL text (that goes to the log only).

use chrono::{DateTime, Utc};
use recoup_domain::Violations;
use recoup_domain::floor::{Claim, ClaimEnd, NotCovered};
use recoup_domain::text::{British, Formats};
use recoup_store::{ClaimProblem, StoreError};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::convert::call::claim_name;
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

/// The `domain` of every ErrorInfo recoup sends (AIP-193).
pub const ERROR_DOMAIN: &str = "recoup";

/// INVALID_ARGUMENT for a `request_id` the ledger holds for a different request (within
/// `policy.requests.keep_days` of its first use), with ErrorInfo `IDEMPOTENCY_MISMATCH` so a
/// program can tell a key clash from bad content.
pub fn idempotency_mismatch() -> Status {
    let description = "was already used for a different request; use a new request_id";
    let mut details = ErrorDetails::new();
    details.add_bad_request_violation("request_id", description);
    details.set_error_info(
        "IDEMPOTENCY_MISMATCH",
        ERROR_DOMAIN,
        std::collections::HashMap::new(),
    );
    Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid request: request_id: {description}"),
        details,
    )
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
        StoreError::Claim(problem) => claim_refused(&problem),
        StoreError::Conflict(why) => Status::failed_precondition(why),
        StoreError::Forbidden(why) => Status::permission_denied(why),
        StoreError::RequestIdReused => idempotency_mismatch(),
        other => internal(&other),
    }
}

/// FAILED_PRECONDITION for a claim that may not be made, extended or released, or that does not
/// cover a call, with a PreconditionFailure a program can branch on: `CONTACT_RULE` (subject the
/// ContactBlockReason name) per rule, `CLAIM_HELD` (subject the holder's claim), `CLAIM_LIMIT`
/// (one per claim held), `CLAIM_ENDED`, `CLAIM_MAX_HOLD`. Another agent's claim named on a call,
/// or extended or released by an agent, is `CLAIM_HELD` too.
pub fn claim_refused(p: &ClaimProblem) -> Status {
    let mut details = ErrorDetails::new();
    let when = |t: DateTime<Utc>| {
        format!(
            "{} {}",
            British.date(t.date_naive()),
            t.format("%H:%M:%S UTC")
        )
    };
    let name = |c: &Claim| claim_name(c.account_id, c.id);
    let message = match p {
        ClaimProblem::Rules {
            account_id,
            blocks,
            lasting,
        } => {
            for b in blocks {
                details.add_precondition_failure_violation(
                    "CONTACT_RULE",
                    block_reason_out(b.reason).as_str_name(),
                    &b.description,
                );
            }
            let summary: Vec<&str> = blocks.iter().map(|b| b.description.as_str()).collect();
            let advice = if *lasting {
                "a lasting rule: no claim may set it aside"
            } else {
                "a supervisor may claim it with an override_reason"
            };
            format!(
                "the contact rules forbid calling {} now: {} ({advice})",
                account_name(*account_id),
                summary.join("; ")
            )
        }
        ClaimProblem::Held(c) | ClaimProblem::NotYours(c) => {
            let held = format!("held by {} until {}", c.agent, when(c.expire_time));
            details.add_precondition_failure_violation("CLAIM_HELD", name(c), &held);
            format!("{} is {held}", account_name(c.account_id))
        }
        ClaimProblem::Limit { held, max } => {
            for c in held {
                details.add_precondition_failure_violation(
                    "CLAIM_LIMIT",
                    name(c),
                    format!("held until {}", when(c.expire_time)),
                );
            }
            let names: Vec<String> = held.iter().map(name).collect();
            format!(
                "you already hold {} (at most {max} at once): record its call or release it first",
                names.join(", ")
            )
        }
        ClaimProblem::Ended(c, how) => {
            let what = format!("{} has {}", name(c), ended_words(*how));
            details.add_precondition_failure_violation("CLAIM_ENDED", name(c), &what);
            what
        }
        ClaimProblem::MaxHold { claim, max_minutes } => {
            let what = format!(
                "{} is held until {}, the longest a claim may be held ({max_minutes} minutes)",
                name(claim),
                when(claim.expire_time)
            );
            details.add_precondition_failure_violation("CLAIM_MAX_HOLD", name(claim), &what);
            what
        }
        ClaimProblem::NotCovered { claim, why } => {
            let (kind, what) = match why {
                NotCovered::NotYours { holder } => {
                    ("CLAIM_HELD", format!("{} is {holder}'s claim", name(claim)))
                }
                NotCovered::Ended(how) => (
                    "CLAIM_ENDED",
                    format!("{} had {} before the call", name(claim), ended_words(*how)),
                ),
                NotCovered::OutsideClaim {
                    claim_time,
                    expire_time,
                } => (
                    "CLAIM_ENDED",
                    format!(
                        "the call's start is outside {} (held from {} until {})",
                        name(claim),
                        when(*claim_time),
                        when(*expire_time)
                    ),
                ),
            };
            details.add_precondition_failure_violation(kind, name(claim), &what);
            format!("call.claim: {what}")
        }
    };
    Status::with_error_details(Code::FailedPrecondition, message, details)
}

fn ended_words(how: ClaimEnd) -> &'static str {
    match how {
        ClaimEnd::Recorded => "ended: a call was recorded under it",
        ClaimEnd::Released => "ended: it was released",
        ClaimEnd::Expired => "expired",
    }
}

/// INTERNAL with a generic message; the detail is logged, never sent.
pub fn internal(e: &dyn std::fmt::Display) -> Status {
    tracing::error!(error = %e, "internal error");
    Status::internal("internal error; the server log has the details")
}
