//! The recoup.v1 contract as Rust: prost messages, tonic clients and servers, and the encoded
//! file descriptor set that server reflection publishes.

/// Package `recoup.v1`.
pub mod v1 {
    #![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]
    tonic::include_proto!("recoup.v1");
}

pub mod codec;
mod redact;

/// Encoded `FileDescriptorSet` of recoup.v1 and its imports, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/recoup_descriptor.bin"));
