//! API keys: `rk_<key id>.<secret>`. The key id is public (listed, logged); the secret is shown once
//! at creation and only its SHA-256 digest is stored. Secrets are 256 random bits, so a fast digest
//! is enough (there is nothing to brute-force), and digests are compared in constant time.

use chrono::{DateTime, Utc};
use recoup_store::{Store, StoreError, StoredKey};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Identity, Role};

const PREFIX: &str = "rk_";

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A newly issued key: the full secret, shown once.
pub struct IssuedKey {
    pub key_id: String,
    pub secret: String,
    pub stored: StoredKey,
}

/// Creates and stores a key.
pub async fn issue(
    store: &Store,
    role: Role,
    subject: &str,
    expire_time: Option<DateTime<Utc>>,
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

/// Checks a presented key against the store.
pub async fn verify(
    store: &Store,
    presented: &str,
    now: DateTime<Utc>,
) -> Result<Result<Identity, (Rejection, String)>, StoreError> {
    let Some((key_id, secret)) = parse(presented) else {
        return Ok(Err((Rejection::Malformed, String::new())));
    };
    let Some(key) = store.find_key(key_id).await? else {
        return Ok(Err((Rejection::Unknown, key_id.into())));
    };
    let matches: bool = digest(secret)
        .as_bytes()
        .ct_eq(key.secret_hash.as_bytes())
        .into();
    let rejection = if !matches {
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
    match Role::parse(&key.role) {
        Some(role) => Ok(Ok(Identity {
            role,
            subject: key.subject,
        })),
        None => Ok(Err((Rejection::BadRole, key_id.into()))),
    }
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
