//! End-to-end encryption of a message's text between the customer and its device
//! (`docs/device-protocol.md`, "End-to-end encryption of the text"). The gateway never holds a
//! key: it relays the customer's `ciphertext` to the device unchanged. This module is the one
//! implementation of the scheme, used by the reference agent to open what it is given and by
//! customers' clients (and tests) written in Rust to seal.
//!
//! A block is base64 (standard alphabet, padded) of
//! `version (0x01) || ephemeral X25519 public key (32) || nonce (12) || ChaCha20-Poly1305 sealed text`,
//! under the key HKDF-SHA256 derives from the X25519 shared secret (no salt, `info` =
//! `"apisendsms e2e v1"`). A `ciphertext` for several devices is their blocks joined with `.`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use x25519_dalek::{EphemeralSecret, PublicKey, StaticSecret};

/// The version byte every block starts with.
const VERSION: u8 = 0x01;
/// The HKDF `info` of this version.
const INFO: &[u8] = b"apisendsms e2e v1";
const HEADER: usize = 1 + 32 + 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum E2eError {
    #[error("an end-to-end key must be 32 bytes in base64")]
    BadKey,
    #[error("the ciphertext is not base64 blocks of this scheme (version 1)")]
    Malformed,
    #[error("no block of the ciphertext opens with this device's key")]
    NotForThisKey,
    #[error("the decrypted text is not UTF-8")]
    NotText,
}

/// A device's secret key; the customer's client keeps the matching [`DevicePublicKey`].
pub struct DeviceKey(StaticSecret);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret itself.
        write!(f, "DeviceKey(public {})", self.public().to_base64())
    }
}

impl DeviceKey {
    /// A new random key pair.
    pub fn generate() -> DeviceKey {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        DeviceKey(StaticSecret::from(bytes))
    }

    /// The secret key as stored (base64 of its 32 bytes).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.to_bytes())
    }

    pub fn from_base64(s: &str) -> Result<DeviceKey, E2eError> {
        Ok(DeviceKey(StaticSecret::from(key_bytes(s)?)))
    }

    pub fn public(&self) -> DevicePublicKey {
        DevicePublicKey(PublicKey::from(&self.0))
    }

    /// The text of the block of `ciphertext` sealed for this key.
    pub fn open(&self, ciphertext: &str) -> Result<String, E2eError> {
        let mut any = false;
        for block in ciphertext.trim().split('.') {
            let raw = STANDARD.decode(block).map_err(|_| E2eError::Malformed)?;
            if raw.len() < HEADER + 16 || raw[0] != VERSION {
                return Err(E2eError::Malformed);
            }
            any = true;
            let ephemeral: [u8; 32] = raw[1..33].try_into().expect("32 bytes");
            let shared = self.0.diffie_hellman(&PublicKey::from(ephemeral));
            let cipher = cipher(shared.as_bytes());
            if let Ok(text) = cipher.decrypt(Nonce::from_slice(&raw[33..HEADER]), &raw[HEADER..]) {
                return String::from_utf8(text).map_err(|_| E2eError::NotText);
            }
        }
        if any {
            Err(E2eError::NotForThisKey)
        } else {
            Err(E2eError::Malformed)
        }
    }
}

/// A device's public key, as the customer's client keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevicePublicKey(PublicKey);

impl DevicePublicKey {
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_bytes())
    }

    pub fn from_base64(s: &str) -> Result<DevicePublicKey, E2eError> {
        Ok(DevicePublicKey(PublicKey::from(key_bytes(s)?)))
    }

    /// One block: `text` sealed for this device.
    pub fn seal(&self, text: &str) -> String {
        let ephemeral = EphemeralSecret::random_from_rng(rand::rngs::OsRng);
        let ephemeral_public = PublicKey::from(&ephemeral);
        let shared = ephemeral.diffie_hellman(&self.0);
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher(shared.as_bytes())
            .encrypt(Nonce::from_slice(&nonce), text.as_bytes())
            .expect("ChaCha20-Poly1305 encrypts any message under 256 GiB");
        let mut raw = Vec::with_capacity(HEADER + sealed.len());
        raw.push(VERSION);
        raw.extend_from_slice(ephemeral_public.as_bytes());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        STANDARD.encode(raw)
    }
}

/// A `ciphertext` for several devices: one block per key, joined with `.`.
pub fn seal_for(devices: &[DevicePublicKey], text: &str) -> String {
    devices
        .iter()
        .map(|d| d.seal(text))
        .collect::<Vec<_>>()
        .join(".")
}

fn key_bytes(s: &str) -> Result<[u8; 32], E2eError> {
    STANDARD
        .decode(s.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or(E2eError::BadKey)
}

fn cipher(shared: &[u8; 32]) -> ChaCha20Poly1305 {
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(None, shared)
        .expand(INFO, &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 length");
    ChaCha20Poly1305::new(Key::from_slice(&key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_text_opens_with_the_device_key_only() {
        let device = DeviceKey::generate();
        let other = DeviceKey::generate();
        let c = device.public().seal("Váš kód je 1234 €");
        assert_eq!(device.open(&c).unwrap(), "Váš kód je 1234 €");
        assert_eq!(other.open(&c), Err(E2eError::NotForThisKey));
        // Two seals of one text differ (fresh ephemeral key and nonce).
        assert_ne!(c, device.public().seal("Váš kód je 1234 €"));
    }

    #[test]
    fn each_device_opens_its_own_block_of_a_joined_ciphertext() {
        let a = DeviceKey::generate();
        let b = DeviceKey::generate();
        let c = seal_for(&[a.public(), b.public()], "Ahoj");
        assert_eq!(c.split('.').count(), 2);
        assert_eq!(a.open(&c).unwrap(), "Ahoj");
        assert_eq!(b.open(&c).unwrap(), "Ahoj");
    }

    #[test]
    fn keys_round_trip_and_bad_input_is_named() {
        let k = DeviceKey::generate();
        let again = DeviceKey::from_base64(&k.to_base64()).unwrap();
        assert_eq!(again.public(), k.public());
        let p = DevicePublicKey::from_base64(&k.public().to_base64()).unwrap();
        assert_eq!(p, k.public());
        assert_eq!(
            DeviceKey::from_base64("c2hvcnQ=").err(),
            Some(E2eError::BadKey)
        );
        assert_eq!(k.open("not base64!"), Err(E2eError::Malformed));
        assert_eq!(k.open("AXg5c2VhbGVk"), Err(E2eError::Malformed));
        let mut raw = STANDARD.decode(k.public().seal("x")).unwrap();
        raw[0] = 2;
        assert_eq!(k.open(&STANDARD.encode(raw)), Err(E2eError::Malformed));
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let k = DeviceKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        let raw = STANDARD.decode(k.public().seal("abc")).unwrap();
        assert_eq!(raw[0], 0x01);
        // version, ephemeral key, nonce, the text and the 16-byte tag.
        assert_eq!(raw.len(), 1 + 32 + 12 + 3 + 16);
    }

    #[test]
    fn a_block_sealed_by_another_implementation_opens() {
        // Sealed with Python's `cryptography` (X25519, HKDF-SHA256, ChaCha20Poly1305) by the
        // documented steps: device key 32 x 0x07, ephemeral key 32 x 0x09, nonce 12 x 0x03.
        let k = DeviceKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        assert_eq!(
            k.public().to_base64(),
            "E75P6uryBMf9M1j8nAByGIHRdCeBKCJ+xnTzf3/pe20="
        );
        let block = "AVfbSzWfI65eFG5OJRIFZwRyJQY0jBUMFHU9DJM9BNQhAwMDAwMDAwMDAwMDNJuxfjCAi02BwCYq3G2KV5lR+G9MkCkiCe2qVmVsKvriHg==";
        assert_eq!(k.open(block).unwrap(), "Váš kód je 1234");
    }
}
