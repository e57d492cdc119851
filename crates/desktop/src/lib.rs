//! The reference agent desktop, as built into `dist/` by `scripts/web` and committed: recoupd
//! serves these files at `/` (the server decides the HTTP headers).

/// One file of the bundle.
#[derive(Debug)]
pub struct Asset {
    /// The path it is served at, e.g. `/app.js`.
    pub path: &'static str,
    pub bytes: &'static [u8],
    /// The `content-type` header value.
    pub media_type: &'static str,
    /// A strong entity tag (quoted) from the content.
    pub etag: &'static str,
}

static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The file served at `path`; `/` is the page itself.
pub fn asset(path: &str) -> Option<&'static Asset> {
    let path = if path == "/" { "/index.html" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_script_are_embedded() {
        let page = asset("/").expect("index.html is embedded");
        assert_eq!(page.media_type, "text/html; charset=utf-8");
        let html = std::str::from_utf8(page.bytes).unwrap();
        assert!(html.contains("/app.js"), "the page loads the bundle");
        assert!(asset("/app.js").is_some());
        assert!(asset("/../Cargo.toml").is_none());
    }
}
