//! Optional JWT bearer tokens, for agent desktops behind an identity provider. The algorithm is
//! pinned by configuration (no `none`, no HMAC, no switching by the token's header); issuer,
//! audience and expiry are required and checked; role and subject come from configured claims.

use std::collections::HashMap;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

use super::{Identity, Role};
use crate::server::BoxError;

/// Public-key algorithms a token may be pinned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JwtAlgorithm {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "RS384")]
    Rs384,
    #[value(name = "RS512")]
    Rs512,
    #[value(name = "PS256")]
    Ps256,
    #[value(name = "ES256")]
    Es256,
    #[value(name = "ES384")]
    Es384,
    #[value(name = "EdDSA")]
    EdDsa,
}

impl JwtAlgorithm {
    fn algorithm(self) -> Algorithm {
        match self {
            JwtAlgorithm::Rs256 => Algorithm::RS256,
            JwtAlgorithm::Rs384 => Algorithm::RS384,
            JwtAlgorithm::Rs512 => Algorithm::RS512,
            JwtAlgorithm::Ps256 => Algorithm::PS256,
            JwtAlgorithm::Es256 => Algorithm::ES256,
            JwtAlgorithm::Es384 => Algorithm::ES384,
            JwtAlgorithm::EdDsa => Algorithm::EdDSA,
        }
    }
}

/// What is needed to verify tokens.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: String,
    pub algorithm: JwtAlgorithm,
    /// A PEM public key, or a JWKS document (JSON) whose keys are chosen by the token's `kid`.
    pub key_material: Vec<u8>,
    pub role_claim: String,
    pub subject_claim: String,
}

enum Keys {
    Single(DecodingKey),
    /// By key id.
    Set(HashMap<String, DecodingKey>),
}

/// Verifies tokens against the configured keys.
pub struct JwtVerifier {
    keys: Keys,
    validation: Validation,
    role_claim: String,
    subject_claim: String,
}

impl JwtVerifier {
    pub fn new(s: &JwtSettings) -> Result<JwtVerifier, BoxError> {
        let alg = s.algorithm.algorithm();
        let keys = if s.key_material.trim_ascii_start().starts_with(b"{") {
            let set: JwkSet = serde_json::from_slice(&s.key_material)
                .map_err(|e| format!("--jwt-key is not a JWKS document: {e}"))?;
            let mut by_id = HashMap::new();
            for jwk in &set.keys {
                let kid = jwk
                    .common
                    .key_id
                    .clone()
                    .ok_or("every JWKS key needs a kid")?;
                by_id.insert(kid, DecodingKey::from_jwk(jwk)?);
            }
            Keys::Set(by_id)
        } else {
            let pem = &s.key_material;
            Keys::Single(match s.algorithm {
                JwtAlgorithm::Es256 | JwtAlgorithm::Es384 => DecodingKey::from_ec_pem(pem)?,
                JwtAlgorithm::EdDsa => DecodingKey::from_ed_pem(pem)?,
                _ => DecodingKey::from_rsa_pem(pem)?,
            })
        };
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.set_issuer(&[&s.issuer]);
        validation.set_audience(&[&s.audience]);
        validation.required_spec_claims = ["exp", "iss", "aud"].map(String::from).into();
        validation.validate_nbf = true;
        Ok(JwtVerifier {
            keys,
            validation,
            role_claim: s.role_claim.clone(),
            subject_claim: s.subject_claim.clone(),
        })
    }

    /// Whether a bearer credential has a JWT's shape (three dot-separated parts).
    pub fn looks_like_jwt(token: &str) -> bool {
        token.split('.').count() == 3
    }

    /// The identity a valid token carries, or why it was refused (for the log).
    pub fn verify(&self, token: &str) -> Result<Identity, String> {
        let key = match &self.keys {
            Keys::Single(k) => k,
            Keys::Set(by_id) => {
                let header = decode_header(token).map_err(|e| e.to_string())?;
                let kid = header.kid.ok_or("token has no kid")?;
                by_id
                    .get(&kid)
                    .ok_or_else(|| format!("unknown kid {kid}"))?
            }
        };
        let claims = decode::<HashMap<String, serde_json::Value>>(token, key, &self.validation)
            .map_err(|e| e.to_string())?
            .claims;
        let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let role = text(&self.role_claim)
            .as_deref()
            .and_then(Role::parse)
            .ok_or_else(|| format!("claim {} is not a recoup role", self.role_claim))?;
        let subject = text(&self.subject_claim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("claim {} is missing", self.subject_claim))?;
        if let Some(why) = super::subject_problem(&subject) {
            return Err(format!("claim {} {why}", self.subject_claim));
        }
        Ok(Identity {
            role,
            subject: format!("{}{subject}", super::TOKEN_SUBJECT_PREFIX),
            queues: None,
        })
    }
}
