//! Content fingerprints: a short digest of a record's canonical form. Import compares them to tell an
//! unchanged record from a changed one without reloading it, and idempotency keys compare them to
//! tell a true retry from a different request that reuses an id.

use sha2::{Digest, Sha256};

use crate::account::{AccountData, InvoiceData};
use crate::money::Money;

/// Builds a canonical, unambiguous encoding: every field is length-prefixed, so no two different
/// field sequences encode alike.
#[derive(Default)]
pub struct Canonical(Sha256);

impl Canonical {
    pub fn new(kind: &str) -> Self {
        let mut c = Self(Sha256::new());
        c.text(kind);
        c
    }

    pub fn text(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
        self
    }

    pub fn money(&mut self, m: Money) -> &mut Self {
        // Amounts are canonical at the currency's scale (see Money::new), so text is exact.
        self.text(m.currency().code()).text(&m.amount().to_string())
    }

    pub fn display(&mut self, v: impl std::fmt::Display) -> &mut Self {
        self.text(&v.to_string())
    }

    /// Hex digest.
    pub fn finish(self) -> String {
        hex(&self.0.finalize())
    }
}

/// Bytes as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// The SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The account's profile and contacts (not its invoices, which are fingerprinted one by one).
pub fn profile(a: &AccountData) -> String {
    let mut c = Canonical::new("profile/v1");
    c.text(&a.external_ref)
        .text(&a.legal_name)
        .text(a.debtor_type.as_str())
        .text(&a.country_code)
        .text(a.time_zone.name())
        .text(a.currency.code())
        .text(a.status.as_str())
        .display(a.cease_calls)
        .display(a.contacts.len());
    // Only when set, so profiles stored before the waiver existed keep their digest.
    if a.interest_waived {
        c.text("interest_waived");
    }
    if a.queue != crate::account::DEFAULT_QUEUE {
        c.text("queue").text(&a.queue);
    }
    for k in &a.contacts {
        c.text(&k.display_name)
            .text(&k.role)
            .text(&k.phone)
            .text(&k.email)
            .display(k.preferred);
    }
    c.finish()
}

/// One invoice with its adjustments.
pub fn invoice(i: &InvoiceData) -> String {
    let mut c = Canonical::new("invoice/v1");
    c.text(&i.number)
        .display(i.issue_date)
        .display(i.due_date)
        .money(i.amount)
        .display(i.disputed)
        .text(&i.dispute_reason)
        .display(i.adjustments.len());
    for a in &i.adjustments {
        c.text(&a.reference)
            .text(a.kind.as_str())
            .money(a.amount)
            .display(a.date)
            .text(&a.reason);
    }
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_lower_case_hex() {
        let d = Canonical::new("t").finish();
        assert_eq!(d.len(), 64);
        assert!(
            d.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[test]
    fn length_prefixes_keep_field_boundaries() {
        let mut a = Canonical::new("t");
        a.text("ab").text("c");
        let mut b = Canonical::new("t");
        b.text("a").text("bc");
        assert_ne!(a.finish(), b.finish());
    }
}
