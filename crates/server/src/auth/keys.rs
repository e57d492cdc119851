//! API keys: `rk_<key id>.<secret>`. The key id is public (listed, logged); the secret is shown once
//! at creation and only its SHA-256 digest is stored. Secrets are 256 random bits, so a fast digest
//! is enough (there is nothing to brute-force), and digests are compared in constant time.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use recoup_store::{Store, StoreError, StoredKey};
use subtle::ConstantTimeEq;

use super::{Identity, Role};

const PREFIX: &str = "rk_";

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(secret: &str) -> String {
    recoup_domain::fingerprint::sha256_hex(secret.as_bytes())
}

/// A newly issued key: the full secret, shown once.
pub struct IssuedKey {
    pub key_id: String,
    pub secret: String,
    pub stored: StoredKey,
}

/// Creates and stores a key for every queue.
pub async fn issue(
    store: &Store,
    role: Role,
    subject: &str,
    expire_time: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<IssuedKey, StoreError> {
    issue_limited(store, role, subject, expire_time, None, now).await
}

/// Creates and stores a key limited to `queues` (`None`: every queue).
pub async fn issue_limited(
    store: &Store,
    role: Role,
    subject: &str,
    expire_time: Option<DateTime<Utc>>,
    queues: Option<Vec<String>>,
    now: DateTime<Utc>,
) -> Result<IssuedKey, StoreError> {
    let key_id = random_hex(8);
    let secret_part = random_hex(32);
    let stored = StoredKey {
        key_id: key_id.clone(),
        secret_hash: digest(&secret_part),
        role: role.as_str().into(),
        subject: subject.into(),
        create_time: now,
        expire_time,
        revoke_time: None,
        queues,
    };
    store.create_key(&stored).await?;
    Ok(IssuedKey {
        secret: format!("{PREFIX}{key_id}.{secret_part}"),
        key_id,
        stored,
    })
}

/// Why a key was not accepted (for the server log; clients get one generic answer).
#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    Malformed,
    Unknown,
    WrongSecret,
    Revoked,
    Expired,
    BadRole,
}

/// `(key id, secret part)` of a presented key, if it has the key shape.
pub fn parse(presented: &str) -> Option<(&str, &str)> {
    let (id, secret) = presented.strip_prefix(PREFIX)?.split_once('.')?;
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, 16) && hex(secret, 64)).then_some((id, secret))
}

/// A key verified against the store a moment ago.
struct Verified {
    secret_hash: String,
    identity: Identity,
    expire_time: Option<DateTime<Utc>>,
    at: Instant,
}

/// Keys verified recently, by key id, so the hot path needs no database read per call. Only keys
/// that verified are kept, with their digest (a wrong secret still fails) and expiry (checked on
/// every use). A revocation through this process (`revoke`, `revoke_subject`) drops the key at
/// once; one made by another process (`recoupd keys revoke`) takes effect within the TTL.
static VERIFIED: LazyLock<RwLock<HashMap<String, Verified>>> = LazyLock::new(Default::default);
/// Keys remembered at most; beyond it the cache starts afresh (a flood of keys cannot grow memory).
const MAX_CACHED_KEYS: usize = 10_000;

fn cached(key_id: &str, ttl: Duration) -> Option<(String, Identity, Option<DateTime<Utc>>)> {
    let verified = VERIFIED.read().unwrap_or_else(|e| e.into_inner());
    let v = verified.get(key_id).filter(|v| v.at.elapsed() < ttl)?;
    Some((v.secret_hash.clone(), v.identity.clone(), v.expire_time))
}

fn remember(key_id: &str, v: Verified) {
    let mut verified = VERIFIED.write().unwrap_or_else(|e| e.into_inner());
    if verified.len() >= MAX_CACHED_KEYS {
        verified.clear();
    }
    verified.insert(key_id.to_owned(), v);
}

fn forget(which: impl Fn(&str, &Verified) -> bool) {
    VERIFIED
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|id, v| !which(id, v));
}

/// Revokes a key, at once for this process's calls too; false when no such key is active.
pub async fn revoke(store: &Store, key_id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let revoked = store.revoke_key(key_id, now).await?;
    forget(|id, _| id == key_id);
    Ok(revoked)
}

/// Revokes every active key of `subject`; returns how many.
pub async fn revoke_subject(
    store: &Store,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let n = store.revoke_subject_keys(subject, now).await?;
    forget(|_, v| v.identity.subject == subject);
    Ok(n)
}

fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    digest(secret)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

/// Checks a presented key: against a key verified within `ttl` (zero: always the store), else
/// against the store.
pub async fn verify(
    store: &Store,
    presented: &str,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<Result<Identity, (Rejection, String)>, StoreError> {
    let Some((key_id, secret)) = parse(presented) else {
        return Ok(Err((Rejection::Malformed, String::new())));
    };
    if let Some((hash, identity, expire_time)) = cached(key_id, ttl) {
        return Ok(if !secret_matches(secret, &hash) {
            Err((Rejection::WrongSecret, key_id.into()))
        } else if expire_time.is_some_and(|t| t <= now) {
            Err((Rejection::Expired, key_id.into()))
        } else {
            Ok(identity)
        });
    }
    let Some(key) = store.find_key(key_id).await? else {
        return Ok(Err((Rejection::Unknown, key_id.into())));
    };
    let rejection = if !secret_matches(secret, &key.secret_hash) {
        Some(Rejection::WrongSecret)
    } else if key.revoke_time.is_some() {
        Some(Rejection::Revoked)
    } else if key.expire_time.is_some_and(|t| t <= now) {
        Some(Rejection::Expired)
    } else {
        None
    };
    if let Some(r) = rejection {
        return Ok(Err((r, key_id.into())));
    }
    let Some(role) = Role::parse(&key.role) else {
        return Ok(Err((Rejection::BadRole, key_id.into())));
    };
    let identity = Identity {
        role,
        subject: key.subject,
        queues: key.queues,
    };
    if !ttl.is_zero() {
        remember(
            key_id,
            Verified {
                secret_hash: key.secret_hash,
                identity: identity.clone(),
                expire_time: key.expire_time,
                at: Instant::now(),
            },
        );
    }
    Ok(Ok(identity))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_the_key_shape() {
        let id = "0123456789abcdef";
        let secret = "ab".repeat(32);
        let key = format!("rk_{id}.{secret}");
        assert_eq!(parse(&key), Some((id, secret.as_str())));
        assert_eq!(parse("rk_short.abc"), None);
        assert_eq!(parse(&format!("xx_{id}.{secret}")), None);
        assert_eq!(parse(&format!("rk_{id}{secret}")), None);
    }

    #[test]
    fn secrets_are_random_and_digested() {
        assert_ne!(random_hex(32), random_hex(32));
        assert_eq!(digest("abc").len(), 64);
    }
}
