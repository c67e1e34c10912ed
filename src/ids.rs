//! Random identifiers and secrets, all drawn from the operating system's CSPRNG.
//!
//! The seed derived its preview "token" from the project id (enumerable) and its other ids from
//! `Math.random`; everything here is unpredictable instead.

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Hex characters in one preview token: 48 bits, so a leaked URL reveals nothing about others.
pub const PREVIEW_TOKEN_LEN: usize = 12;

/// Prefix of workspace tokens, so a leaked one is recognisable (and greppable by scanners).
pub const WORKSPACE_TOKEN_PREFIX: &str = "dvp_";

fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::internal(format!("operating system random source failed: {e}")))?;
    Ok(bytes)
}

/// One preview token per slot, lowercase hex (a DNS label fragment).
pub fn preview_token() -> Result<String, Error> {
    Ok(hex::encode(random_bytes::<{ PREVIEW_TOKEN_LEN / 2 }>()?))
}

/// A 24-character lowercase alphanumeric id, the shape Coolify uses for uuids. It names a
/// creation attempt (an intent) and, on the docker orchestrator, the service itself.
pub fn service_uuid() -> Result<String, Error> {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(24);
    while out.len() < 24 {
        for b in random_bytes::<32>()? {
            // Rejection sampling keeps every character equally likely.
            if b < 252 && out.len() < 24 {
                out.push(ALPHABET[usize::from(b % 36)] as char);
            }
        }
    }
    Ok(out)
}

/// A new workspace token: shown once, stored only as its hash.
pub fn workspace_token() -> Result<String, Error> {
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    Ok(format!("{WORKSPACE_TOKEN_PREFIX}{secret}"))
}

/// SHA-256 of a bearer token. Tokens carry 256 bits of entropy, so a fast hash is enough.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Compares two digests without an early exit.
pub fn digests_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_uuids_have_coolifys_shape_and_differ() {
        let a = service_uuid().unwrap();
        let b = service_uuid().unwrap();
        assert_eq!(a.len(), 24);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn preview_tokens_are_hex_of_the_documented_length() {
        let t = preview_token().unwrap();
        assert_eq!(t.len(), PREVIEW_TOKEN_LEN);
        assert!(
            t.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(t, preview_token().unwrap());
    }

    #[test]
    fn token_hashes_compare_by_value() {
        let t = workspace_token().unwrap();
        assert!(t.starts_with(WORKSPACE_TOKEN_PREFIX));
        assert!(digests_equal(&token_hash(&t), &token_hash(&t)));
        assert!(!digests_equal(&token_hash(&t), &token_hash("other")));
    }
}
