//! Resource names (`accounts/{id}`) and idempotency keys.

use recoup_domain::Violations;
use recoup_domain::account::MAX_REF_CHARS;

/// The id in `accounts/{id}`, or a violation against `field`.
pub fn account_id(v: &mut Violations, field: &str, name: &str) -> Option<i64> {
    if name.is_empty() {
        v.push(field, "is required");
        return None;
    }
    let id = name
        .strip_prefix("accounts/")
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0);
    if id.is_none() {
        v.push(field, "must be an account name: accounts/{account_id}");
    }
    id
}

/// Checks an idempotency key.
pub fn request_id(v: &mut Violations, field: &str, value: &str) {
    v.required_text(field, value, MAX_REF_CHARS);
}
