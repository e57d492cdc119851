//! Page sizes and opaque page tokens. A token carries the position after which the next page starts
//! (the last id returned, or a sort key and id) and a digest of the filters it was issued for, so it
//! cannot be replayed against other filters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use recoup_domain::fingerprint::Canonical;
use tonic::Status;

use crate::status::invalid_field;

pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// 0 means the default; larger than `max` is lowered to it (AIP-158); negative is refused.
pub fn page_size(raw: i32, max: u32) -> Result<u32, Status> {
    match raw {
        ..0 => Err(invalid_field("page_size", "must not be negative")),
        0 => Ok(DEFAULT_PAGE_SIZE.min(max)),
        n => Ok((n as u32).min(max)),
    }
}

fn filter_digest(filter_key: &str) -> String {
    let mut c = Canonical::new("page/v1");
    c.text(filter_key);
    c.finish()[..16].to_owned()
}

fn bad_token() -> Status {
    invalid_field("page_token", "is not a token this server issued")
}

/// A token to continue after `position` (text without '.') under `filter_key`.
pub fn encode_position(position: &str, filter_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{position}.{}", filter_digest(filter_key)))
}

/// The position a token continues after; `None` for an empty token.
pub fn decode_position(token: &str, filter_key: &str) -> Result<Option<String>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad_token())?;
    let text = String::from_utf8(raw).map_err(|_| bad_token())?;
    let (position, digest) = text.rsplit_once('.').ok_or_else(bad_token)?;
    if digest != filter_digest(filter_key) {
        return Err(invalid_field(
            "page_token",
            "was issued for other filters; repeat the request's filters or start from an empty token",
        ));
    }
    Ok(Some(position.to_owned()))
}

/// Trims `items` (read with one more than `size` asked for) to the page, and the token for the
/// next page: the last item's `position` under `filter_key`, or empty when nothing follows.
pub fn next_page<T>(
    items: &mut Vec<T>,
    size: u32,
    filter_key: &str,
    position: impl FnOnce(&T) -> String,
) -> String {
    if items.len() <= size as usize {
        return String::new();
    }
    items.truncate(size as usize);
    items
        .last()
        .map(|last| encode_position(&position(last), filter_key))
        .unwrap_or_default()
}

/// The id to continue after; 0 for an empty token.
pub fn decode_token(token: &str, filter_key: &str) -> Result<i64, Status> {
    match decode_position(token, filter_key)? {
        None => Ok(0),
        Some(id) => id
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(bad_token),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_bind_to_filters() {
        let t = encode_position("42", "status=1");
        assert_eq!(decode_token(&t, "status=1").unwrap(), 42);
        assert!(decode_token(&t, "status=2").is_err());
        assert!(decode_token("garbage!", "status=1").is_err());
        assert_eq!(decode_token("", "x").unwrap(), 0);
        let t = encode_position("1795388497291990:7", "calls of accounts/3");
        assert_eq!(
            decode_position(&t, "calls of accounts/3")
                .unwrap()
                .as_deref(),
            Some("1795388497291990:7")
        );
        assert!(decode_position(&t, "calls of accounts/4").is_err());
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(0, 1000).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(0, 10).unwrap(), 10);
        assert_eq!(page_size(5000, 1000).unwrap(), 1000);
        assert!(page_size(-1, 1000).is_err());
    }
}
