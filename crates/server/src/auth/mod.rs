//! Who is calling, and may they: API keys (and, when configured, JWTs) become an `Identity` with a
//! role; `gate` checks every call against the permission matrix in one place.

pub mod gate;
pub mod jwt;
pub mod keys;
pub mod permissions;

use std::fmt;

/// The role a credential acts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Role {
    /// Credit-control agent: reads accounts, guidance, plans within authority, records calls.
    Agent,
    /// Supervisor: what an agent may do, plus approvals beyond agent authority.
    Supervisor,
    /// System integration (CRM): imports accounts, records payments, watches events.
    Integration,
    /// Administrator: manages credentials.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Agent,
        Role::Supervisor,
        Role::Integration,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Integration => "integration",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The caller, as established from its credential. Services read it from the request extensions;
/// no request field can set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub role: Role,
    /// Who: the key's subject or the token's subject claim.
    pub subject: String,
    /// The queues the credential may work (`keys create --queue`); `None` means every queue.
    pub queues: Option<Vec<String>>,
}

/// A role's settlement authority: a supervisor's, or an agent's (every other role).
pub fn authority(role: Role) -> recoup_domain::plan::Authority {
    match role {
        Role::Supervisor => recoup_domain::plan::Authority::Supervisor,
        _ => recoup_domain::plan::Authority::Agent,
    }
}

/// The identity the gate attached to a request.
pub fn identity<T>(req: &tonic::Request<T>) -> Result<&Identity, tonic::Status> {
    req.extensions()
        .get::<Identity>()
        .ok_or_else(|| tonic::Status::unauthenticated("no verified identity on this call"))
}
