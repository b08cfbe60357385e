//! Request signatures.
//!
//! Each delivery carries `X-Apisendsms-Timestamp` (Unix seconds) and
//! `X-Apisendsms-Signature: v1=<hex>`, the HMAC-SHA256 of `"<timestamp>.<body>"` keyed with the
//! webhook's secret exactly as it was shown (`whsec_...`, all of it). A receiver recomputes it
//! over the raw body, compares in constant time, and refuses old timestamps to stop replays.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER_TIMESTAMP: &str = "X-Apisendsms-Timestamp";
pub const HEADER_SIGNATURE: &str = "X-Apisendsms-Signature";
pub const HEADER_DELIVERY: &str = "X-Apisendsms-Delivery";

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Apisendsms-Signature` value for this body sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Whether `header` (an `X-Apisendsms-Signature` value) signs this body and timestamp.
pub fn verify(secret: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(sig) = header.strip_prefix("v1=").and_then(|h| hex::decode(h).ok()) else {
        return false;
    };
    mac(secret, timestamp, body).verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Computed independently: printf '1700000000.{"type":"inbound"}' | openssl dgst -sha256 -hmac whsec_test
    const VECTOR: &str = "v1=d30aa1578d4f829943f1988f9e753591887a1c70e7ba1b894c009110366cef35";

    #[test]
    fn a_fixed_vector() {
        let body = br#"{"type":"inbound"}"#;
        assert_eq!(signature("whsec_test", 1_700_000_000, body), VECTOR);
        assert!(verify("whsec_test", 1_700_000_000, body, VECTOR));
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let body = br#"{"type":"inbound"}"#;
        assert!(!verify("whsec_other", 1_700_000_000, body, VECTOR));
        assert!(!verify("whsec_test", 1_700_000_001, body, VECTOR));
        assert!(!verify(
            "whsec_test",
            1_700_000_000,
            br#"{"type":"inbounD"}"#,
            VECTOR
        ));
        assert!(!verify("whsec_test", 1_700_000_000, body, &VECTOR[3..]));
        assert!(!verify("whsec_test", 1_700_000_000, body, "v1=zz"));
    }
}
