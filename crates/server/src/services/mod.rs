//! The gRPC services: each maps requests to domain and store calls and back.

pub mod accounts;
pub mod calls;
pub mod events;
pub mod guidance;
pub mod plans;
