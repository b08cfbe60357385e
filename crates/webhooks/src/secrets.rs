//! Webhook signing secrets and the key that encrypts them at rest.
//!
//! A receiver verifies a signature with the secret it was shown, so the service must be able to
//! compute the same HMAC later: the secret cannot be stored as a hash. It is stored encrypted
//! with ChaCha20-Poly1305 (RustCrypto `chacha20poly1305`) under the service's 256-bit secrets
//! key, with a random 96-bit nonce per secret and the webhook id as associated data, so a
//! ciphertext copied to another webhook's row does not decrypt. The stored form is the hex of
//! `nonce || ciphertext`.
//!
//! Where the key comes from (see the gateway's settings):
//! 1. `secrets_key` (environment `APISENDSMS_SECRETS_KEY`): 64 hex digits. Every node sharing a
//!    database must have the same one; this is how PostgreSQL deployments are configured.
//! 2. Otherwise, for the embedded SQLite default, a key file `secrets.key` next to the database,
//!    created on first start with mode 0600 ([`SecretsKey::load_or_create`]). Back it up with
//!    the database: without it the stored secrets cannot be used (webhooks must then be
//!    created anew).
//!
//! Secrets and the key are never logged; `Debug` of [`SecretsKey`] shows nothing.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the secrets key must be 64 hex digits (32 bytes)")]
    BadKey,
    #[error("the secrets key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("a stored webhook secret does not decrypt with this key")]
    Undecryptable,
}

/// The 256-bit key that encrypts webhook secrets.
#[derive(Clone)]
pub struct SecretsKey {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsKey(***)")
    }
}

/// A new signing secret: `whsec_` and 32 random bytes in hex.
pub fn generate_secret() -> String {
    format!("whsec_{}", hex::encode(rand::random::<[u8; 32]>()))
}

impl SecretsKey {
    /// From 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(hex_key: &str) -> Result<Self, SecretsError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| SecretsError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SecretsError::BadKey);
        }
        Ok(Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&bytes)),
        })
    }

    /// Reads the key file, or creates it (mode 0600, 32 random bytes in hex) when missing.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretsError> {
        let err = |source| SecretsError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let hex_key = hex::encode(rand::random::<[u8; 32]>());
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut file = opts.open(path).map_err(err)?;
                std::io::Write::write_all(&mut file, format!("{hex_key}\n").as_bytes())
                    .map_err(err)?;
                file.sync_all().map_err(err)?;
                tracing::info!(path = %path.display(), "created the webhook secrets key file");
                Self::from_hex(&hex_key)
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Encrypts the secret of webhook `webhook_id` for storage.
    pub fn encrypt(&self, webhook_id: i64, secret: &str) -> String {
        let nonce = rand::random::<[u8; 12]>();
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: &webhook_id.to_be_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 encrypts any message under 256 GiB");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        hex::encode(out)
    }

    /// The secret of webhook `webhook_id` from its stored form.
    pub fn decrypt(&self, webhook_id: i64, stored: &str) -> Result<String, SecretsError> {
        let bytes = hex::decode(stored).map_err(|_| SecretsError::Undecryptable)?;
        if bytes.len() < 12 {
            return Err(SecretsError::Undecryptable);
        }
        let (nonce, sealed) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &webhook_id.to_be_bytes(),
                },
            )
            .map_err(|_| SecretsError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| SecretsError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_only_for_their_webhook_and_key() {
        let key = SecretsKey::from_hex(&"11".repeat(32)).unwrap();
        let secret = generate_secret();
        assert!(secret.starts_with("whsec_") && secret.len() == 6 + 64);
        let stored = key.encrypt(7, &secret);
        assert!(!stored.contains(&secret[6..]));
        assert_eq!(key.decrypt(7, &stored).unwrap(), secret);
        assert!(key.decrypt(8, &stored).is_err());
        let other = SecretsKey::from_hex(&"22".repeat(32)).unwrap();
        assert!(other.decrypt(7, &stored).is_err());
        // A fresh nonce each time.
        assert_ne!(key.encrypt(7, &secret), stored);
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(SecretsKey::from_hex("abc").is_err());
        assert!(SecretsKey::from_hex(&"zz".repeat(32)).is_err());
        assert!(SecretsKey::from_hex(&"11".repeat(31)).is_err());
    }

    #[test]
    fn the_key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.key");
        let a = SecretsKey::load_or_create(&path).unwrap();
        let b = SecretsKey::load_or_create(&path).unwrap();
        let stored = a.encrypt(1, "whsec_x");
        assert_eq!(b.decrypt(1, &stored).unwrap(), "whsec_x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
