//! Settings: built-in defaults, then the TOML file (`--config`), then `APISENDSMS_*`
//! environment variables (nested keys with `__`), then command-line flags.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub http: SocketAddr,
    pub database_url: String,
    /// Unique per node when several nodes share one PostgreSQL database (0..1024).
    pub node_id: u16,
    pub price_per_part_czk: String,
    pub default_sender: String,
    pub default_region: String,
    pub default_validity_s: u64,
    pub max_parts: u32,
    pub max_recipients: usize,
    /// Requests per second per account; 0 turns the limit off.
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    pub body_limit_bytes: usize,
    pub dispatch: DispatchSettings,
    /// Only from the file: connectors carry secrets and nest deeply.
    #[serde(skip_serializing)]
    pub connectors: Vec<ConnectorSettings>,
    pub routes: Vec<RouteSettings>,
    /// "text" or "json".
    pub log_format: String,
    /// The SMPP server for customers; off when unset (`--smpp ADDR`).
    pub smpp_listen: Option<SocketAddr>,
    /// Tag of the vendor TLV that marks an SMPP submit as a commercial message.
    pub smpp_marketing_tlv: u16,
    /// SHA-256 (hex) of the operator's admin token for `/v1/admin/*`
    /// (`printf %s TOKEN | sha256sum`); the admin API is closed when unset.
    pub admin_token_sha256: Option<String>,
    /// 64 hex digits: the key that encrypts webhook signing secrets at rest
    /// (`APISENDSMS_SECRETS_KEY`). The same on every node sharing a database. Without it,
    /// SQLite uses a key file next to the database and PostgreSQL has no webhooks.
    pub secrets_key: Option<SecretString>,
    pub webhooks: WebhookSettings,
    /// The operator's payment and invoice details, VAT rates, invoice series.
    pub billing: crate::billing::BillingSettings,
    /// The secret key of the Blacklist's number hashes (`APISENDSMS_BLACKLIST_KEY`, at least 16
    /// characters). Required with PostgreSQL unless `blacklist_key_file` is set; with SQLite a
    /// key file beside the database is made when neither is set.
    pub blacklist_key: Option<SecretString>,
    /// A file holding the key in hex; created with a random key if missing.
    pub blacklist_key_file: Option<std::path::PathBuf>,
    /// Reply keywords (single word, any case) that opt a recipient out or back in.
    pub keywords: KeywordSettings,
    /// The web site, the customer app and the back office.
    pub web: web::WebSettings,
    /// Customers' own phones and modems (the device hub).
    pub devices: DeviceSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceSettings {
    /// How long a message waits for the device to acknowledge its assignment.
    pub ack_timeout_ms: u64,
    /// How often devices send a heartbeat (told to each at connection); three missed ones and
    /// the device counts as offline.
    pub heartbeat_s: u32,
}

impl Default for DeviceSettings {
    fn default() -> Self {
        let d = ::devices::HubConfig::default();
        Self {
            ack_timeout_ms: d.ack_timeout.as_millis() as u64,
            heartbeat_s: d.heartbeat_s,
        }
    }
}

impl DeviceSettings {
    pub fn config(&self) -> anyhow::Result<::devices::HubConfig> {
        anyhow::ensure!(
            (1..=3600).contains(&self.heartbeat_s),
            "devices.heartbeat_s must be between 1 and 3600"
        );
        anyhow::ensure!(
            self.ack_timeout_ms > 0,
            "devices.ack_timeout_ms must be more than 0"
        );
        Ok(::devices::HubConfig {
            ack_timeout: std::time::Duration::from_millis(self.ack_timeout_ms),
            heartbeat_s: self.heartbeat_s,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeywordSettings {
    /// Stop messages from the account the reply went to.
    pub opt_out: Vec<String>,
    /// Stop messages from every account.
    pub opt_out_all: Vec<String>,
    /// Lift what the recipient's own opt-out reply started.
    pub opt_in: Vec<String>,
}

impl Default for KeywordSettings {
    fn default() -> Self {
        let k = domain::optout::Keywords::default();
        Self {
            opt_out: k.opt_out,
            opt_out_all: k.opt_out_all,
            opt_in: k.opt_in,
        }
    }
}

impl KeywordSettings {
    pub fn keywords(&self) -> domain::optout::Keywords {
        domain::optout::Keywords {
            opt_out: self.opt_out.clone(),
            opt_out_all: self.opt_out_all.clone(),
            opt_in: self.opt_in.clone(),
        }
    }
}

/// A setting that must not be printed: `Debug` shows `***`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Seconds to wait before each retry; after the last, a delivery fails. The default
    /// retries for about 27.7 hours.
    pub retry_schedule_s: Vec<f64>,
    /// Each wait is lengthened by up to this fraction at random.
    pub jitter: f64,
    /// Timeout of one HTTP attempt.
    pub timeout_ms: u64,
    /// How often idle workers look for events and due deliveries.
    pub poll_ms: u64,
    /// How long a missing feed id may hold the feed on PostgreSQL (see `store::feed`).
    pub gap_grace_ms: u64,
    /// Attempts in flight at once per node.
    pub concurrency: usize,
    /// The key file when `secrets_key` is not set (default: `secrets.key` next to the SQLite
    /// database).
    pub key_file: Option<std::path::PathBuf>,
    /// Deliver also to loopback, private and link-local addresses. Off by default, so that a
    /// customer's webhook URL cannot make the service reach its own network.
    pub allow_private_targets: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        let d = webhooks::WebhookConfig::default();
        Self {
            retry_schedule_s: d.retry_schedule.iter().map(|w| w.as_secs_f64()).collect(),
            jitter: d.jitter,
            timeout_ms: d.timeout.as_millis() as u64,
            poll_ms: d.poll.as_millis() as u64,
            gap_grace_ms: d.gap_grace.as_millis() as u64,
            concurrency: d.concurrency,
            key_file: None,
            allow_private_targets: d.allow_private_targets,
        }
    }
}

impl WebhookSettings {
    pub fn config(&self) -> anyhow::Result<webhooks::WebhookConfig> {
        let retry_schedule = self
            .retry_schedule_s
            .iter()
            .map(|s| {
                std::time::Duration::try_from_secs_f64(*s)
                    .map_err(|_| anyhow::anyhow!("webhooks.retry_schedule_s: {s} is not a wait"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.jitter),
            "webhooks.jitter must be between 0 and 1"
        );
        Ok(webhooks::WebhookConfig {
            retry_schedule,
            jitter: self.jitter,
            timeout: std::time::Duration::from_millis(self.timeout_ms.max(1)),
            poll: std::time::Duration::from_millis(self.poll_ms.max(1)),
            gap_grace: std::time::Duration::from_millis(self.gap_grace_ms),
            concurrency: self.concurrency.max(1),
            allow_private_targets: self.allow_private_targets,
            ..webhooks::WebhookConfig::default()
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DispatchSettings {
    /// Dispatcher loops per node.
    pub workers: usize,
    pub batch: u32,
    pub concurrency: usize,
    pub lease_s: u64,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ConnectorSettings {
    /// An SMPP v3.4 carrier (see `carrier::SmppCarrierConfig` for the keys).
    Smpp(carrier::SmppCarrierConfig),
    /// The in-process simulated carrier.
    Sim {
        name: String,
        #[serde(default = "default_receipt_delay_ms")]
        receipt_delay_ms: u64,
        #[serde(default)]
        undeliverable_per_mille: u32,
    },
}

fn default_receipt_delay_ms() -> u64 {
    200
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSettings {
    /// E.164 digits without '+'; "" matches every number.
    #[serde(default)]
    pub prefix: String,
    pub connector: String,
    #[serde(default)]
    pub priority: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            http: "127.0.0.1:8080".parse().expect("valid address"),
            database_url: "sqlite://./data/apisendsms.db".into(),
            node_id: 0,
            price_per_part_czk: "0.90".into(),
            default_sender: "apisendsms".into(),
            default_region: "CZ".into(),
            default_validity_s: 72 * 3600,
            max_parts: 10,
            max_recipients: 10_000,
            rate_limit_per_second: 200,
            rate_limit_burst: 400,
            body_limit_bytes: 1024 * 1024,
            dispatch: DispatchSettings::default(),
            connectors: Vec::new(),
            routes: Vec::new(),
            log_format: "text".into(),
            smpp_listen: None,
            smpp_marketing_tlv: smpp_edge::DEFAULT_MARKETING_TLV,
            admin_token_sha256: None,
            secrets_key: None,
            webhooks: WebhookSettings::default(),
            billing: crate::billing::BillingSettings::default(),
            blacklist_key: None,
            blacklist_key_file: None,
            keywords: KeywordSettings::default(),
            web: web::WebSettings::default(),
            devices: DeviceSettings::default(),
        }
    }
}

impl Default for DispatchSettings {
    fn default() -> Self {
        Self {
            workers: 2,
            batch: 500,
            concurrency: 256,
            lease_s: 300,
            max_attempts: 12,
        }
    }
}

impl Settings {
    pub fn load(config: Option<&Path>) -> anyhow::Result<Settings> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config {
            anyhow::ensure!(
                path.exists(),
                "config file {} does not exist",
                path.display()
            );
            fig = fig.merge(Toml::file(path));
        }
        // Only variables naming a setting: APISENDSMS_LOG and the test variables are not ours.
        let known: Vec<String> = serde_json::to_value(Settings::default())
            .ok()
            .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
            .unwrap_or_default();
        let env = Env::prefixed("APISENDSMS_")
            .filter(move |key| {
                let key = key.as_str().to_ascii_lowercase();
                let top = key.split("__").next().unwrap_or_default();
                known.iter().any(|k| k == top)
            })
            .split("__");
        fig = fig.merge(env);
        fig.extract().context("invalid settings")
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                r#"
                database_url = "sqlite://from-file.db"
                rate_limit_per_second = 5
                [[connectors]]
                kind = "sim"
                name = "a"
                [[routes]]
                prefix = "420"
                connector = "a"
                "#,
            )?;
            jail.set_env("APISENDSMS_RATE_LIMIT_PER_SECOND", "0");
            jail.set_env("APISENDSMS_DISPATCH__WORKERS", "3");
            jail.set_env("APISENDSMS_LOG", "debug");
            jail.set_env("APISENDSMS_REQUIRE_POSTGRES", "1");
            jail.create_file(
                "smpp.toml",
                r#"
                [[connectors]]
                kind = "smpp"
                name = "operator-a"
                host = "127.0.0.1"
                port = 2775
                system_id = "acme"
                password = "secret"
                window = 20
                "#,
            )?;
            let smpp = Settings::load(Some(Path::new("smpp.toml"))).expect("smpp settings");
            match &smpp.connectors[0] {
                ConnectorSettings::Smpp(c) => {
                    assert_eq!((c.name.as_str(), c.window), ("operator-a", 20))
                }
                other => panic!("{other:?}"),
            }
            let s = Settings::load(Some(Path::new("c.toml"))).expect("settings");
            assert_eq!(s.database_url, "sqlite://from-file.db");
            assert_eq!(s.rate_limit_per_second, 0);
            assert_eq!(s.dispatch.workers, 3);
            assert_eq!(s.routes[0].prefix, "420");
            assert_eq!(s.http.port(), 8080);
            Ok(())
        });
    }

    #[test]
    fn the_device_hub_is_set_from_the_file_and_checked() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "[devices]\nheartbeat_s = 5\nack_timeout_ms = 2500\n",
            )?;
            jail.set_env("APISENDSMS_DEVICES__HEARTBEAT_S", "7");
            let hub = Settings::load(Some(Path::new("c.toml")))
                .expect("settings")
                .devices
                .config()
                .expect("hub settings");
            assert_eq!(hub.heartbeat_s, 7);
            assert_eq!(hub.ack_timeout, std::time::Duration::from_millis(2500));
            let d = ::devices::HubConfig::default();
            let defaults = Settings::default().devices.config().unwrap();
            assert_eq!(
                (defaults.heartbeat_s, defaults.ack_timeout),
                (d.heartbeat_s, d.ack_timeout)
            );
            jail.clear_env();
            for bad in [
                "heartbeat_s = 0",
                "heartbeat_s = 3601",
                "ack_timeout_ms = 0",
            ] {
                jail.create_file("bad.toml", &format!("[devices]\n{bad}\n"))?;
                let s = Settings::load(Some(Path::new("bad.toml"))).expect("it reads");
                assert!(s.devices.config().is_err(), "{bad} accepted");
            }
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "databse_url = \"typo\"")?;
            assert!(Settings::load(Some(Path::new("c.toml"))).is_err());
            Ok(())
        });
    }
}
