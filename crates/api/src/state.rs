//! Shared state of the API and the authentication extractor.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use domain::pricing::FlatPricing;
use domain::rate_limit::TokenBucket;
use domain::{AccountId, IdGenerator};
use prometheus_client::registry::Registry;
use store::Store;

use crate::error::ApiError;
use crate::{keys, ApiMetrics};

/// What the API needs from the settings.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub pricing: FlatPricing,
    /// Sender ID when a request names none.
    pub default_sender: String,
    /// ISO 3166 region for numbers written without a country code.
    pub default_region: String,
    pub default_validity: Duration,
    pub max_validity: Duration,
    pub max_recipients: usize,
    pub max_parts: u32,
    /// Requests per second per account; 0 = no limit.
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    pub body_limit_bytes: usize,
    /// SHA-256 (hex) of the operator's admin token for `/v1/admin/*`; admin routes answer 401
    /// when unset.
    pub admin_token_sha256: Option<String>,
    pub billing: crate::billing::BillingSettings,
    /// Most contacts one send to a contact list (`to_list`) takes.
    pub max_list_recipients: usize,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            pricing: FlatPricing::new(domain::Money::from_hundredths(90)),
            default_sender: "apisendsms".into(),
            default_region: "CZ".into(),
            default_validity: Duration::from_secs(72 * 3600),
            max_validity: Duration::from_secs(30 * 24 * 3600),
            max_recipients: 10_000,
            max_parts: 10,
            rate_limit_per_second: 200,
            rate_limit_burst: 400,
            body_limit_bytes: 1024 * 1024,
            admin_token_sha256: None,
            billing: crate::billing::BillingSettings::default(),
            max_list_recipients: 100_000,
        }
    }
}

/// Everything a handler may use; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    settings: ApiSettings,
    ids: Arc<IdGenerator>,
    registry: Arc<Mutex<Registry>>,
    metrics: ApiMetrics,
    started: Instant,
    key_cache: Mutex<HashMap<String, (AccountId, Instant)>>,
    buckets: Mutex<HashMap<AccountId, TokenBucket>>,
    connectors: std::sync::RwLock<Option<ConnectorsView>>,
    webhook_key: std::sync::OnceLock<Arc<::webhooks::SecretsKey>>,
    prices: crate::billing::PriceCache,
    /// Whether an account sends through its devices by default, as last read.
    device_default: Mutex<HashMap<AccountId, (bool, Instant)>>,
}

/// The live state of every delivery connector, as the admin API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConnectorStatus {
    pub name: String,
    pub kind: String,
    /// Bound (SMPP) or otherwise able to take messages.
    pub up: bool,
    pub window_in_use: usize,
    pub submitted_last_second: u64,
    pub submitted_total: u64,
    /// The device channel only: its devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devices: Option<DeviceChannelStatus>,
}

/// The customers' devices as one delivery channel.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct DeviceChannelStatus {
    /// Devices connected to this node now.
    pub online: usize,
    /// Paired devices not revoked, of every account (filled from the database when asked).
    pub total: i64,
}

/// Reads the connectors' state when asked.
pub type ConnectorsView = Arc<dyn Fn() -> Vec<ConnectorStatus> + Send + Sync>;

/// How long an account's default channel is trusted without asking the database again (this
/// node forgets it at once when the setting changes here; another node within this time).
const DEVICE_DEFAULT_TTL: Duration = Duration::from_secs(5);

/// How long a verified key is trusted without asking the database again.
const KEY_CACHE_TTL: Duration = Duration::from_secs(30);

impl AppState {
    pub fn new(
        store: Store,
        settings: ApiSettings,
        ids: Arc<IdGenerator>,
        registry: Arc<Mutex<Registry>>,
        metrics: ApiMetrics,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                settings,
                ids,
                registry,
                metrics,
                started: Instant::now(),
                key_cache: Mutex::new(HashMap::new()),
                buckets: Mutex::new(HashMap::new()),
                connectors: std::sync::RwLock::new(None),
                webhook_key: std::sync::OnceLock::new(),
                prices: crate::billing::PriceCache::default(),
                device_default: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }
    pub fn settings(&self) -> &ApiSettings {
        &self.inner.settings
    }
    pub fn ids(&self) -> &IdGenerator {
        &self.inner.ids
    }
    pub fn metrics(&self) -> &ApiMetrics {
        &self.inner.metrics
    }
    /// Makes the connectors' state visible in `GET /v1/admin/connectors`.
    pub fn set_connectors(&self, view: ConnectorsView) {
        *self.inner.connectors.write().expect("connectors view") = Some(view);
    }

    pub(crate) fn connectors(&self) -> Vec<ConnectorStatus> {
        let view = self
            .inner
            .connectors
            .read()
            .expect("connectors view")
            .clone();
        view.map(|v| v()).unwrap_or_default()
    }

    pub(crate) fn price_cache(&self) -> &crate::billing::PriceCache {
        &self.inner.prices
    }
    pub(crate) fn registry(&self) -> &Mutex<Registry> {
        &self.inner.registry
    }
    /// Sets the key that encrypts webhook secrets; without one, creating a webhook is refused.
    pub fn set_webhook_key(&self, key: Arc<::webhooks::SecretsKey>) {
        let _ = self.inner.webhook_key.set(key);
    }
    pub(crate) fn webhook_key(&self) -> Option<&::webhooks::SecretsKey> {
        self.inner.webhook_key.get().map(|k| &**k)
    }

    /// Whether the account sends through its own devices when a submission names no route:
    /// asked on every submission, so read from the database at most once per
    /// [`DEVICE_DEFAULT_TTL`].
    pub(crate) async fn devices_by_default(&self, account: AccountId) -> Result<bool, ApiError> {
        if let Some((on, at)) = self
            .inner
            .device_default
            .lock()
            .expect("device default cache")
            .get(&account)
        {
            if at.elapsed() < DEVICE_DEFAULT_TTL {
                return Ok(*on);
            }
        }
        let on = self
            .store()
            .device_routing(account)
            .await?
            .device_by_default;
        let mut cache = self
            .inner
            .device_default
            .lock()
            .expect("device default cache");
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(account, (on, Instant::now()));
        Ok(on)
    }

    /// Forgets the account's default channel after it changed.
    pub fn forget_device_default(&self, account: AccountId) {
        self.inner
            .device_default
            .lock()
            .expect("device default cache")
            .remove(&account);
    }

    async fn authenticate(&self, key: &str) -> Result<AccountId, ApiError> {
        let hash = keys::hash(key);
        if let Some((account, at)) = self.inner.key_cache.lock().expect("key cache").get(&hash) {
            if at.elapsed() < KEY_CACHE_TTL {
                return Ok(*account);
            }
        }
        let account = self
            .store()
            .account_for_key_hash(&hash)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let mut cache = self.inner.key_cache.lock().expect("key cache");
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(hash, (account, Instant::now()));
        Ok(account)
    }

    /// Takes one request from the account's rate-limit bucket.
    pub fn check_rate(&self, account: AccountId) -> Result<(), ApiError> {
        let s = &self.inner.settings;
        if s.rate_limit_per_second == 0 {
            return Ok(());
        }
        let now = u64::try_from(self.inner.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut buckets = self.inner.buckets.lock().expect("rate buckets");
        buckets
            .entry(account)
            .or_insert_with(|| TokenBucket::new(s.rate_limit_per_second, s.rate_limit_burst, now))
            .try_take(1, now)
            .map_err(|r| ApiError::rate_limited(r.seconds))
    }
}

/// The account behind the request's API key.
pub struct Authenticated(pub AccountId);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        state.authenticate(key).await.map(Authenticated)
    }
}

/// A request carrying the operator's admin token (`Authorization: Bearer <token>`).
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let expected = state
            .settings()
            .admin_token_sha256
            .as_deref()
            .ok_or_else(ApiError::unauthorized)?;
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        // Both sides are hex SHA-256, so comparing them leaks nothing about the token.
        if keys::hash(token).eq_ignore_ascii_case(expected) {
            Ok(Admin)
        } else {
            Err(ApiError::unauthorized())
        }
    }
}
