//! How failures reach clients: bad input as INVALID_ARGUMENT with google.rpc.BadRequest naming every
//! field; a claim the contact rules or another agent's claim forbid as FAILED_PRECONDITION with a
//! PreconditionFailure per reason; storage failures as INTERNAL with no driver or SQL text (that goes to the log only).
//! Every non-OK status carries a google.rpc.ErrorInfo (domain `recoup`, a reason from the proto's
//! `ErrorReason`): the specific ones are set where the status is made, the rest by its code as
//! the gate passes the response out (`response_with_reason`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use recoup_domain::Violations;
use recoup_domain::floor::{Claim, ClaimEnd, NotCovered};
use recoup_domain::plan::Broken;
use recoup_domain::text::{British, Formats};
use recoup_store::{ClaimProblem, Conflict, ConflictKind, StoreError};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::convert::call::claim_name;
use crate::convert::{account_name, block_reason_out};

/// The most text (field paths and descriptions) one error's BadRequest carries: status details
/// travel in a trailer, and clients cap metadata (grpcio at 8 KiB, with everything else in it),
/// so a longer list would reach them as RESOURCE_EXHAUSTED instead of the error.
const DETAILS_BUDGET: usize = 2048;
/// The longest description one violation carries in the details or the message.
const DESCRIPTION_CHARS: usize = 300;

/// INVALID_ARGUMENT listing the violations in the details (as many as `DETAILS_BUDGET` holds, then
/// one saying how many more) and the first few in the message.
pub fn invalid(v: Violations) -> Status {
    let mut details = ErrorDetails::new();
    let mut summary = Vec::new();
    let mut spent = 0;
    for (i, x) in v.iter().enumerate() {
        let description = clip(&x.description);
        if i < 5 {
            summary.push(format!("{}: {description}", x.field));
        }
        spent += x.field.len() + description.len();
        if spent > DETAILS_BUDGET && i > 0 {
            details.add_bad_request_violation(
                x.field.clone(),
                format!(
                    "and {} more problems not listed here (fix these and send again)",
                    v.len() - i
                ),
            );
            break;
        }
        details.add_bad_request_violation(x.field.clone(), description);
    }
    let more = v.len().saturating_sub(summary.len());
    let mut message = format!("invalid request: {}", summary.join("; "));
    if more > 0 {
        message.push_str(&format!("; and {more} more (see BadRequest details)"));
    }
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// `text` cut to `DESCRIPTION_CHARS` characters, marked when cut.
fn clip(text: &str) -> String {
    match text.char_indices().nth(DESCRIPTION_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// INVALID_ARGUMENT for one field.
pub fn invalid_field(field: &str, description: impl Into<String>) -> Status {
    let mut v = Violations::new();
    v.push(field, description);
    invalid(v)
}

/// The `domain` of every ErrorInfo recoup sends (AIP-193).
pub const ERROR_DOMAIN: &str = "recoup";

/// The ErrorInfo reason (proto `ErrorReason`, without its prefix) of a status made without a more
/// specific one.
fn reason_for(code: Code) -> &'static str {
    match code {
        Code::InvalidArgument | Code::OutOfRange => "BAD_REQUEST",
        Code::NotFound => "RESOURCE_NOT_FOUND",
        Code::Unauthenticated => "CREDENTIALS_REFUSED",
        Code::PermissionDenied => "NOT_ALLOWED",
        Code::ResourceExhausted => "OVERLOADED",
        Code::DeadlineExceeded => "CALL_TIMEOUT",
        Code::FailedPrecondition | Code::Aborted | Code::AlreadyExists => "CONFLICT",
        Code::Unimplemented => "METHOD_UNKNOWN",
        Code::Unavailable => "UNAVAILABLE",
        Code::Internal | Code::DataLoss | Code::Unknown => "INTERNAL",
        _ => "OTHER",
    }
}

/// Whether `status` is a failure without an ErrorInfo.
fn lacks_reason(status: &Status) -> bool {
    status.code() != Code::Ok && status.get_details_error_info().is_none()
}

/// `status` with an ErrorInfo: its own when it has one, else the reason its code implies.
fn with_reason(status: Status) -> Status {
    if !lacks_reason(&status) {
        return status;
    }
    let mut details = status.get_error_details();
    details.set_error_info(reason_for(status.code()), ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(status.code(), status.message(), details)
}

/// A gRPC response whose status travels in its headers (every unary failure, and the gate's own
/// refusals) given an ErrorInfo when it lacks one, so every non-OK status a program sees carries a
/// reason.
pub fn response_with_reason<B>(mut response: http::Response<B>) -> http::Response<B> {
    let Some(status) = Status::from_header_map(response.headers()).filter(lacks_reason) else {
        return response;
    };
    if let Err(e) = with_reason(status).add_header(response.headers_mut()) {
        tracing::warn!(error = %e, "could not add an error reason to a response");
    }
    response
}

/// INVALID_ARGUMENT for a `request_id` the ledger holds for a different request (within
/// `policy.requests.keep_days` of its first use), with ErrorInfo `IDEMPOTENCY_MISMATCH` so a
/// program can tell a key clash from bad content.
pub fn idempotency_mismatch() -> Status {
    let description = "was already used for a different request; use a new request_id";
    let mut details = ErrorDetails::new();
    details.add_bad_request_violation("request_id", description);
    details.set_error_info("IDEMPOTENCY_MISMATCH", ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid request: request_id: {description}"),
        details,
    )
}

/// Maps a store failure; `prefix` is the request path of the store's field names (e.g. "payment"),
/// `missing` the resource named by the request that `NotFound` means.
pub fn from_store(e: StoreError, prefix: &str, missing: &str) -> Status {
    match e {
        StoreError::NotFound => not_found(missing),
        StoreError::Invalid(v) => {
            let mut prefixed = Violations::new();
            prefixed.extend_prefixed(prefix, v);
            invalid(prefixed)
        }
        StoreError::Claim(problem) => claim_refused(&problem),
        StoreError::Conflict(c) => conflict(&c),
        StoreError::RequestIdReused => idempotency_mismatch(),
        other => store_failed(other),
    }
}

/// A store failure that is no fault of the request: UNAVAILABLE when the database could not serve
/// (retry with backoff), INTERNAL otherwise. Either way the detail goes to the log only.
pub fn store_failed(e: StoreError) -> Status {
    if e.is_outage() {
        tracing::warn!(error = %e, "database unavailable");
        Status::unavailable("the database cannot serve now; try again shortly")
    } else {
        internal(&e)
    }
}

/// The resource type of an account in ResourceInfo.
pub const ACCOUNT_TYPE: &str = "recoup.v1.Account";

/// The resource type (AIP-193 ResourceInfo) of a resource name: its last collection's message.
fn resource_type(name: &str) -> &'static str {
    let collection = name
        .rsplit('/')
        .nth(1)
        .filter(|_| name.contains('/'))
        .unwrap_or("");
    match collection {
        "accounts" => ACCOUNT_TYPE,
        "payments" => "recoup.v1.Payment",
        "calls" => "recoup.v1.CallRecord",
        "disputes" => "recoup.v1.Dispute",
        "plans" => "recoup.v1.Plan",
        "letters" => "recoup.v1.Letter",
        "claims" => "recoup.v1.Claim",
        "invoices" => "recoup.v1.Invoice",
        _ => "",
    }
}

/// NOT_FOUND for the resource `name`, with ResourceInfo and ErrorInfo `RESOURCE_NOT_FOUND`
/// (metadata `resource`).
pub fn not_found(name: &str) -> Status {
    not_found_as(resource_type(name), name, format!("{name} does not exist"))
}

/// NOT_FOUND for a resource of `resource_type` looked up as `looked_up` (a name, or e.g.
/// `external_ref=ACME-1`), saying `message`.
pub fn not_found_as(resource_type: &str, looked_up: &str, message: String) -> Status {
    let mut details = ErrorDetails::new();
    details.set_resource_info(resource_type, looked_up, "", &message);
    details.set_error_info(
        "RESOURCE_NOT_FOUND",
        ERROR_DOMAIN,
        HashMap::from([("resource".to_owned(), looked_up.to_owned())]),
    );
    Status::with_error_details(Code::NotFound, message, details)
}

/// A change the stored state refuses: FAILED_PRECONDITION (ABORTED when trying again may work:
/// the balance changed, or a concurrent change won; PERMISSION_DENIED for four eyes), with
/// ErrorInfo (metadata `resource`) and a PreconditionFailure naming the resource.
fn conflict(c: &Conflict) -> Status {
    let (code, reason) = match c.kind {
        ConflictKind::State => (Code::FailedPrecondition, "CONFLICT"),
        ConflictKind::AlreadyResolved => (Code::FailedPrecondition, "ALREADY_RESOLVED"),
        ConflictKind::PlanLive => (Code::FailedPrecondition, "PLAN_LIVE"),
        ConflictKind::BalanceChanged => (Code::Aborted, "BALANCE_CHANGED"),
        ConflictKind::SelfApproval => (Code::PermissionDenied, "SELF_APPROVAL"),
        ConflictKind::Contended => (Code::Aborted, "CONFLICT"),
    };
    let mut details = ErrorDetails::new();
    details.set_error_info(
        reason,
        ERROR_DOMAIN,
        HashMap::from([("resource".to_owned(), c.resource.clone())]),
    );
    details.add_precondition_failure_violation(reason, &c.resource, &c.message);
    Status::with_error_details(code, c.message.clone(), details)
}

/// ABORTED for a plan whose account's collectable balance (or statutory interest, or the plan
/// policy) changed since it was validated: `BALANCE_CHANGED`, metadata `resource` (the account).
pub fn balance_changed(account: &str) -> Status {
    conflict(&Conflict {
        kind: ConflictKind::BalanceChanged,
        resource: account.to_owned(),
        message: format!(
            "{account}'s balance changed since the plan was validated; validate it again and agree \
             the new schedule"
        ),
    })
}

/// INVALID_ARGUMENT for a plan proposal that breaks policy: each rule as a BadRequest violation of
/// the field it is about (its description starts with the rule's code), and ErrorInfo `PLAN_RULE`
/// (metadata `account`, and `rules`: the codes, comma-separated).
pub fn plan_rules_broken(account: &str, broken: &[Broken]) -> Status {
    let mut v = Violations::new();
    for b in broken {
        let mut text = format!("{}: {}", b.code, b.message);
        if !b.limit.is_empty() {
            text.push_str(&format!(" (limit {}, proposed {})", b.limit, b.value));
        }
        v.push(b.field, text);
    }
    let status = invalid(v);
    let mut details = status.get_error_details();
    let codes: Vec<&str> = broken.iter().map(|b| b.code).collect();
    details.set_error_info(
        "PLAN_RULE",
        ERROR_DOMAIN,
        HashMap::from([
            ("account".to_owned(), account.to_owned()),
            ("rules".to_owned(), codes.join(",")),
        ]),
    );
    Status::with_error_details(status.code(), status.message(), details)
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
    let (reason, key, subject) = match p {
        ClaimProblem::Rules { account_id, .. } => {
            ("CONTACT_RULE", "account", account_name(*account_id))
        }
        ClaimProblem::Held(c) | ClaimProblem::NotYours(c) => ("CLAIM_HELD", "claim", name(c)),
        ClaimProblem::Limit { held, .. } => (
            "CLAIM_LIMIT",
            "claim",
            held.first().map(name).unwrap_or_default(),
        ),
        ClaimProblem::Ended(c, _) => ("CLAIM_ENDED", "claim", name(c)),
        ClaimProblem::MaxHold { claim, .. } => ("CLAIM_MAX_HOLD", "claim", name(claim)),
        ClaimProblem::NotCovered { claim, why } => (
            match why {
                NotCovered::NotYours { .. } => "CLAIM_HELD",
                _ => "CLAIM_ENDED",
            },
            "claim",
            name(claim),
        ),
    };
    details.set_error_info(
        reason,
        ERROR_DOMAIN,
        HashMap::from([(key.to_owned(), subject)]),
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use recoup_proto::v1 as pb;

    /// However many problems a request has, its error stays small enough for any client's
    /// metadata limit, and says how many it did not list.
    #[test]
    fn long_violation_lists_are_cut_to_fit_a_trailer() {
        let mut v = Violations::new();
        for i in 0..1000 {
            v.push(
                format!("payment.invoice_numbers[{i}]"),
                format!(
                    "no invoice 'INV-{i:06}' on this account; {}",
                    "x".repeat(400)
                ),
            );
        }
        let status = invalid(v);
        assert!(
            status.details().len() < 4096,
            "{} bytes",
            status.details().len()
        );
        let listed = status.get_details_bad_request().unwrap().field_violations;
        let last = listed.last().unwrap();
        assert!(
            last.description
                .starts_with(&format!("and {} more problems", 1000 - (listed.len() - 1))),
            "{}",
            last.description
        );
        assert!(status.message().len() < 2048);
    }

    /// Every reason a status can be given by its code is one the proto documents.
    #[test]
    fn every_reason_by_code_is_documented() {
        for code in (0..=16).map(Code::from_i32).filter(|c| *c != Code::Ok) {
            let status = with_reason(Status::new(code, "x"));
            let info = status.get_details_error_info().expect("ErrorInfo");
            assert_eq!(info.domain, ERROR_DOMAIN);
            assert!(
                pb::ErrorReason::from_str_name(&format!("ERROR_REASON_{}", info.reason)).is_some(),
                "{code:?}: {} is not in ErrorReason",
                info.reason
            );
        }
        let kept = with_reason(idempotency_mismatch());
        assert_eq!(
            kept.get_details_error_info().unwrap().reason,
            "IDEMPOTENCY_MISMATCH"
        );
        assert_eq!(
            kept.get_details_bad_request()
                .unwrap()
                .field_violations
                .len(),
            1
        );
    }
}
