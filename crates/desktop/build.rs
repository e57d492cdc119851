//! Embeds every file of `dist/` (the committed bundle `scripts/web` builds): a table of path,
//! bytes, media type and an entity tag from the content, so `cargo build` needs no npm.

use std::fmt::Write as _;
use std::path::Path;

fn media_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// FNV-1a: a stable digest for the entity tag (not a security boundary).
fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist");
    println!("cargo::rerun-if-changed={}", dist.display());
    let mut files: Vec<_> = std::fs::read_dir(&dist)
        .expect("crates/desktop/dist holds the built desktop (scripts/web)")
        .map(|e| e.expect("dist entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut table = String::from("&[\n");
    for file in files {
        println!("cargo::rerun-if-changed={}", file.display());
        let name = file.file_name().unwrap().to_str().expect("UTF-8 file name");
        let bytes = std::fs::read(&file).expect("readable dist file");
        writeln!(
            table,
            "    Asset {{ path: \"/{name}\", bytes: include_bytes!({:?}), media_type: \"{}\", etag: \"\\\"{:016x}\\\"\" }},",
            file.display().to_string(),
            media_type(name),
            digest(&bytes)
        )
        .unwrap();
    }
    table.push(']');
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("assets.rs");
    std::fs::write(out, table).expect("writable OUT_DIR");
}
