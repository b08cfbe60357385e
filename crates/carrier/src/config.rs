//! Settings of one SMPP carrier, as the gateway reads them from TOML:
//!
//! ```toml
//! name = "operator-a"
//! host = "smsc.example.net"
//! port = 2775
//! system_id = "apisendsms"
//! password = "secret"
//! system_type = ""              # default ""
//! bind = "transceiver"          # or "transmitter_receiver"; default "transceiver"
//! window = 10                   # default 10
//! throughput_per_second = 50    # default: no cap
//! enquire_link_s = 30           # default 30
//! concat = "udh"                # or "sar" or "payload"; default "udh"
//! register_delivery = true      # default true
//! send_message_id_tlv = true    # default true
//! response_timeout_s = 10       # default 10
//! ```

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use smpp::client::{self, ClientConfig};
use smpp::codec::{FieldError, SystemType};

/// How the carrier binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindMode {
    /// One `bind_transceiver` session.
    #[default]
    Transceiver,
    /// A `bind_transmitter` session for submits and a `bind_receiver` session for receipts and
    /// MO messages.
    TransmitterReceiver,
}

/// How a message longer than one SMS travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConcatMode {
    /// One `submit_sm` per part with an 8-bit-reference user data header (`esm_class` 0x40).
    #[default]
    Udh,
    /// One `submit_sm` per part with `sar_msg_ref_num`, `sar_total_segments` and
    /// `sar_segment_seqnum`; the SMSC builds the headers.
    Sar,
    /// One `submit_sm` with the whole text in `message_payload`; the SMSC splits it.
    Payload,
}

/// Settings of one SMPP carrier. `Debug` hides the password.
#[derive(Clone, Deserialize)]
pub struct SmppCarrierConfig {
    /// The connector name routes and receipts refer to.
    pub name: String,
    pub host: String,
    pub port: u16,
    /// At most 15 characters.
    pub system_id: String,
    /// At most 8 characters. Never logged.
    pub password: String,
    /// At most 12 characters; usually empty.
    #[serde(default)]
    pub system_type: String,
    #[serde(default)]
    pub bind: BindMode,
    /// Outstanding requests per transmitting session (at least 1).
    #[serde(default = "default_window")]
    pub window: usize,
    /// `submit_sm` PDUs per second (a part counts as one); `None` for no cap.
    #[serde(default)]
    pub throughput_per_second: Option<u32>,
    /// Seconds between `enquire_link`s (at least 1).
    #[serde(default = "default_enquire_link_s")]
    pub enquire_link_s: u64,
    #[serde(default)]
    pub concat: ConcatMode,
    /// Ask for a delivery receipt (on the last part of a concatenated message).
    #[serde(default = "yes")]
    pub register_delivery: bool,
    /// Send our message id in the vendor TLV 0x1501, so a deduplicating SMSC (like our
    /// simulator) sends a message that we resend after a lost response only once.
    #[serde(default = "yes")]
    pub send_message_id_tlv: bool,
    /// Seconds a bind, submit or `enquire_link` waits for its response (at least 1); a submit
    /// also waits this long for a bound session before it fails as temporary.
    #[serde(default = "default_response_timeout_s")]
    pub response_timeout_s: u64,
}

fn default_window() -> usize {
    10
}

fn default_enquire_link_s() -> u64 {
    30
}

fn default_response_timeout_s() -> u64 {
    10
}

fn yes() -> bool {
    true
}

impl fmt::Debug for SmppCarrierConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmppCarrierConfig")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("system_id", &self.system_id)
            .field("password", &"***")
            .field("system_type", &self.system_type)
            .field("bind", &self.bind)
            .field("window", &self.window)
            .field("throughput_per_second", &self.throughput_per_second)
            .field("enquire_link_s", &self.enquire_link_s)
            .field("concat", &self.concat)
            .field("register_delivery", &self.register_delivery)
            .field("send_message_id_tlv", &self.send_message_id_tlv)
            .field("response_timeout_s", &self.response_timeout_s)
            .finish()
    }
}

/// Why a carrier configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("carrier {name}: {field} is too long or contains NUL: {source}")]
    Field {
        name: String,
        field: &'static str,
        source: FieldError,
    },
    #[error("carrier {name}: {field} must be at least 1")]
    Zero { name: String, field: &'static str },
    #[error("carrier {name}: host is empty")]
    EmptyHost { name: String },
}

impl SmppCarrierConfig {
    /// A configuration with the defaults documented on each field.
    pub fn new(
        name: impl Into<String>,
        host: impl Into<String>,
        port: u16,
        system_id: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        SmppCarrierConfig {
            name: name.into(),
            host: host.into(),
            port,
            system_id: system_id.into(),
            password: password.into(),
            system_type: String::new(),
            bind: BindMode::default(),
            window: default_window(),
            throughput_per_second: None,
            enquire_link_s: default_enquire_link_s(),
            concat: ConcatMode::default(),
            register_delivery: true,
            send_message_id_tlv: true,
            response_timeout_s: default_response_timeout_s(),
        }
    }

    /// The `smpp` client settings: these fields plus the client's defaults (reconnect backoff
    /// 1 s doubling to 60 s; 5 attempts for throttled or other temporary statuses, 1 s doubling
    /// to 30 s apart).
    pub fn client_config(&self) -> Result<ClientConfig, ConfigError> {
        let field = |field: &'static str| {
            let name = self.name.clone();
            move |source| ConfigError::Field {
                name,
                field,
                source,
            }
        };
        let zero = |field: &'static str| ConfigError::Zero {
            name: self.name.clone(),
            field,
        };
        if self.host.trim().is_empty() {
            return Err(ConfigError::EmptyHost {
                name: self.name.clone(),
            });
        }
        if self.window == 0 {
            return Err(zero("window"));
        }
        if self.enquire_link_s == 0 {
            return Err(zero("enquire_link_s"));
        }
        if self.response_timeout_s == 0 {
            return Err(zero("response_timeout_s"));
        }
        if self.throughput_per_second == Some(0) {
            return Err(zero("throughput_per_second"));
        }
        // `ClientConfig::new` reports which of the two fields failed only through the error;
        // check them one by one for a precise message.
        let mut config = ClientConfig::new(&self.system_id, "").map_err(field("system_id"))?;
        config.password = self
            .password
            .as_str()
            .try_into()
            .map_err(field("password"))?;
        config.system_type =
            SystemType::try_from(self.system_type.as_str()).map_err(field("system_type"))?;
        config.bind_mode = match self.bind {
            BindMode::Transceiver => client::BindMode::Transceiver,
            BindMode::TransmitterReceiver => client::BindMode::TransmitterAndReceiver,
        };
        config.window = self.window;
        config.enquire_link_interval = Duration::from_secs(self.enquire_link_s);
        config.max_submits_per_second = self.throughput_per_second;
        config.response_timeout = Duration::from_secs(self.response_timeout_s);
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let c = SmppCarrierConfig::new("a", "localhost", 2775, "id", "hunter2");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"));
    }

    #[test]
    fn client_config_checks_lengths_and_zeroes() {
        let ok = SmppCarrierConfig::new("a", "localhost", 2775, "id", "pw");
        let c = ok.client_config().unwrap();
        assert_eq!(c.bind_mode, client::BindMode::Transceiver);
        assert_eq!(c.window, 10);
        assert_eq!(c.enquire_link_interval, Duration::from_secs(30));

        let check = |edit: fn(&mut SmppCarrierConfig), field: &str| {
            let mut c = ok.clone();
            edit(&mut c);
            let e = c.client_config().unwrap_err();
            assert!(e.to_string().contains(field), "{e} should name {field}");
        };
        check(|c| c.system_id = "x".repeat(16), "system_id");
        check(|c| c.password = "123456789".into(), "password");
        check(|c| c.system_type = "x".repeat(13), "system_type");
        check(|c| c.window = 0, "window");
        check(|c| c.enquire_link_s = 0, "enquire_link_s");
        check(|c| c.response_timeout_s = 0, "response_timeout_s");
        check(
            |c| c.throughput_per_second = Some(0),
            "throughput_per_second",
        );
        check(|c| c.host = " ".into(), "host");
    }
}
