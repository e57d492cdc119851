//! Resource names (`accounts/{id}`) and idempotency keys.

use recoup_domain::Violations;
use recoup_domain::account::MAX_REF_CHARS;

/// The id in `accounts/{id}`, or a violation against `field`.
pub fn account_id(v: &mut Violations, field: &str, name: &str) -> Option<i64> {
    if name.is_empty() {
        v.push(field, "is required");
        return None;
    }
    // Canonical names only: "accounts/3", never "accounts/03" or "accounts/+3", so each account has
    // exactly one name that clients can compare and cache by.
    let id = name
        .strip_prefix("accounts/")
        .filter(|id| id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0'))
        .and_then(|id| id.parse::<i64>().ok());
    if id.is_none() {
        v.push(
            field,
            "must be an account name, accounts/{account_id}, with the id in digits as the server \
             gives it (no sign, no leading zeros)",
        );
    }
    id
}

/// The (account id, call id) in `accounts/{account_id}/calls/{call_id}`, or a violation.
pub fn call_id(v: &mut Violations, field: &str, name: &str) -> Option<(i64, i64)> {
    child_id(v, field, name, "calls", "call")
}

/// The (account id, payment id) in `accounts/{account_id}/payments/{payment_id}`, or a violation.
pub fn payment_id(v: &mut Violations, field: &str, name: &str) -> Option<(i64, i64)> {
    child_id(v, field, name, "payments", "payment")
}

/// The (account id, dispute id) in `accounts/{account_id}/disputes/{dispute_id}`, or a violation.
pub fn dispute_id(v: &mut Violations, field: &str, name: &str) -> Option<(i64, i64)> {
    child_id(v, field, name, "disputes", "dispute")
}

/// The (account id, letter id) in `accounts/{account_id}/letters/{letter_id}`, or a violation.
pub fn letter_id(v: &mut Violations, field: &str, name: &str) -> Option<(i64, i64)> {
    child_id(v, field, name, "letters", "letter")
}

/// The (account id, invoice id) in `accounts/{account_id}/invoices/{invoice_id}`, or a violation.
pub fn invoice_id(v: &mut Violations, field: &str, name: &str) -> Option<(i64, i64)> {
    child_id(v, field, name, "invoices", "invoice")
}

/// The (account id, claim id) in `accounts/{account_id}/claims/{claim_id}`, or a violation.
pub fn claim_id(v: &mut Violations, field: &str, name: &str) -> Option<(i64, i64)> {
    child_id(v, field, name, "claims", "claim")
}

/// The (account id, plan id) in `accounts/{account_id}/plans/{plan_id}`, or a violation.
pub fn plan_id(v: &mut Violations, field: &str, name: &str) -> Option<(i64, i64)> {
    child_id(v, field, name, "plans", "plan")
}

/// The ids in `accounts/{account_id}/{collection}/{id}`, canonical digits only, or a violation.
fn child_id(
    v: &mut Violations,
    field: &str,
    name: &str,
    collection: &str,
    what: &str,
) -> Option<(i64, i64)> {
    if name.is_empty() {
        v.push(field, "is required");
        return None;
    }
    let canonical =
        |id: &str| id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0') && !id.is_empty();
    let parsed = name
        .strip_prefix("accounts/")
        .and_then(|rest| rest.split_once(&format!("/{collection}/")))
        .filter(|(a, c)| canonical(a) && canonical(c))
        .and_then(|(a, c)| Some((a.parse::<i64>().ok()?, c.parse::<i64>().ok()?)));
    if parsed.is_none() {
        v.push(
            field,
            format!(
                "must be a {what} name, accounts/{{account_id}}/{collection}/{{{what}_id}}, as the \
                 server gives it"
            ),
        );
    }
    parsed
}

/// Checks an idempotency key, and puts a valid one on the call's span (metrics::Measured) so the
/// log line of the call names the request.
pub fn request_id(v: &mut Violations, field: &str, value: &str) {
    let before = v.len();
    v.identifier(field, value, MAX_REF_CHARS);
    if v.len() == before {
        tracing::Span::current().record("request_id", value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_account_names() {
        let id = |name: &str| account_id(&mut Violations::new(), "name", name);
        assert_eq!(id("accounts/3"), Some(3));
        assert_eq!(id("accounts/120"), Some(120));
        for bad in [
            "accounts/03",
            "accounts/+3",
            "accounts/-3",
            "accounts/0",
            "accounts/ 3",
            "accounts/3/",
            "Accounts/3",
            "accounts/99999999999999999999",
        ] {
            assert_eq!(id(bad), None, "{bad}");
        }
    }

    #[test]
    fn call_names() {
        let id = |name: &str| call_id(&mut Violations::new(), "corrects", name);
        assert_eq!(id("accounts/3/calls/14"), Some((3, 14)));
        for bad in [
            "accounts/3/calls/",
            "accounts/3/calls/014",
            "accounts/3",
            "calls/14",
        ] {
            assert_eq!(id(bad), None, "{bad}");
        }
    }

    #[test]
    fn dispute_names() {
        let mut v = Violations::new();
        assert_eq!(
            dispute_id(&mut v, "name", "accounts/3/disputes/2"),
            Some((3, 2))
        );
        assert_eq!(dispute_id(&mut v, "name", "accounts/3/calls/2"), None);
        assert_eq!(dispute_id(&mut v, "name", ""), None);
        let said: Vec<_> = v.iter().map(|x| x.description.clone()).collect();
        assert_eq!(
            said,
            [
                "must be a dispute name, accounts/{account_id}/disputes/{dispute_id}, as the \
                 server gives it",
                "is required"
            ]
        );
    }
}
