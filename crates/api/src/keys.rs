//! API keys: 32 random bytes, shown once as `ask_` + hex; stored as the SHA-256 of the key.
//! A fast hash is right here: the key has 256 bits of entropy, so nothing can be guessed from
//! the hash, and every request must be checked cheaply.

use rand::RngCore;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "ask_";

/// A new key, in the form shown to the customer.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{PREFIX}{}", hex::encode(bytes))
}

/// The stored form of a key.
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The part of a key that may be shown in lists ("ask_1a2b3c…").
pub fn display_prefix(key: &str) -> String {
    key.chars().take(PREFIX.len() + 6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_hash_stably() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 64);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        assert!(!hash(&a).contains(&a[PREFIX.len()..]));
        assert_eq!(display_prefix(&a).len(), 10);
    }
}
