//! Who is calling, and may they: API keys (and, when configured, JWTs) become an `Identity` with a
//! role; `gate` checks every call against the permission matrix in one place.

pub mod callers;
pub mod gate;
mod idle;
pub mod jwt;
pub mod keys;
pub mod permissions;

use std::fmt;

/// The longest subject a credential may carry.
pub const MAX_SUBJECT_CHARS: usize = 100;

/// What a token's subject is prefixed with: API keys and tokens name people in separate
/// namespaces, so a token whose subject equals a key's never acts as that key's holder (its
/// request ids, claims, four-eyes approvals). API key subjects may not start with it.
pub const TOKEN_SUBJECT_PREFIX: &str = "jwt:";

/// Why `subject` cannot name who acts, if it cannot: subjects are compared as they are (four eyes,
/// claims, the audit trail), so they are 1 to 100 printable ASCII characters without spaces at
/// either end. That leaves no invisible or look-alike character (a zero-width space, a Cyrillic
/// letter) with which one person could pass for another.
pub fn subject_problem(subject: &str) -> Option<String> {
    if subject.is_empty() || subject.len() > MAX_SUBJECT_CHARS {
        return Some(format!("must be 1 to {MAX_SUBJECT_CHARS} characters"));
    }
    if !subject.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Some("must be printable ASCII (letters, digits, punctuation, spaces)".into());
    }
    if subject.trim() != subject {
        return Some("must not start or end with a space".into());
    }
    if subject.starts_with(TOKEN_SUBJECT_PREFIX) {
        return Some(format!(
            "must not start with '{TOKEN_SUBJECT_PREFIX}' (the prefix of subjects from tokens)"
        ));
    }
    None
}

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
    /// Who: the key's subject, or `jwt:` and the token's subject claim.
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
