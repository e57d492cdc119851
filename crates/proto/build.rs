//! Compiles proto/recoup/v1 with protox (pure Rust), so the build needs no system `protoc`.
use std::path::PathBuf;

use prost::Message;

const REDACTED: [&str; 6] = [
    ".recoup.v1.Contact",
    ".recoup.v1.CallRecord",
    ".recoup.v1.HardshipClaimed",
    ".recoup.v1.InvoiceNotReceived",
    ".recoup.v1.RecordPlanSignatureRequest",
    ".recoup.v1.SupervisorOverride",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "account", "call", "claim", "common", "contact", "event", "floor", "guidance", "letter",
        "plan", "report",
    ]
    .map(|f| root.join(format!("recoup/v1/{f}.proto")));
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // Reflection serves this set, imports (google/protobuf/*) included, with source comments.
    std::fs::write(out.join("recoup_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .emit_rerun_if_changed(false)
        // Messages holding personal data get a redacting Debug (src/redact.rs) instead of the derived one.
        .skip_debug(REDACTED)
        // Undecodable requests are INVALID_ARGUMENT, not INTERNAL (src/codec.rs).
        .codec_path("crate::codec::ProtoCodec")
        .compile_fds(fds)?;
    Ok(())
}
