//! Random secrets (session and API tokens) and the hashes stored in their place.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

/// API tokens start with this, so a leaked one is recognisable (and sessions are told apart).
pub const TOKEN_PREFIX: &str = "limen_";

/// 256 random bits as hex.
fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex(&bytes)
}

/// A session's secret, or the setup token: 256 random bits as hex.
pub fn new_random_secret() -> String {
    random_hex()
}

pub fn new_token_secret() -> String {
    format!("{TOKEN_PREFIX}{}", random_hex())
}

/// What the database keeps instead of a secret. A fast hash is enough: the secrets are 256
/// random bits, not something a person chose.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Lower-case hex (on every authenticated request: no allocation per byte).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_distinct_and_hashes_stable() {
        let (a, b) = (new_random_secret(), new_random_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(new_token_secret().starts_with(TOKEN_PREFIX));
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), a);
        // SHA-256 of "abc", the standard test vector.
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
