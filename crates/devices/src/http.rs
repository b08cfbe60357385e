//! The HTTP side of devices: the customer's `/v1/devices` resource and routing setting (API
//! key), and the device's own endpoints (device credential): the pairing exchange, the
//! WebSocket and the long-poll fallback.
//!
//! The rules of adding a device, of its state as the customer sees it and of the account's
//! routing choice are the public functions [`add_device`], [`device_states`] and
//! [`set_routing`] (with [`Hub::revoke`]): the web app calls the same ones.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api::error::ApiError;
use api::{AppState, Authenticated};
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use domain::AccountId;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::{DeviceRecord, DeviceRouting, NewDevice, OfflineFallback};
use tokio::sync::mpsc;

use crate::hub::{secret_hash, Hub, HubError, LiveState};
use crate::protocol::{DeviceFrame, ServerFrame};

/// How long a pairing code works.
const PAIRING_TTL_US: i64 = 15 * 60 * 1_000_000;
/// Unambiguous characters (Crockford's base 32) for pairing codes.
const CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// The longest a long-poll request waits for frames.
const MAX_POLL_WAIT_S: u64 = 25;

/// Long-poll connections: the frames waiting for each device's next poll.
#[derive(Default)]
struct Polls {
    by_device: Mutex<HashMap<i64, PollSession>>,
}

#[derive(Clone)]
struct PollSession {
    conn: u64,
    frames: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<ServerFrame>>>,
}

/// How the gateway is reached, for the pairing link.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpConfig {
    /// The gateway serves HTTPS (the pairing link names `https://`).
    pub https: bool,
}

/// Every device route, ready to merge into the API.
pub fn router(state: AppState, hub: Arc<Hub>, config: HttpConfig) -> Router {
    Router::new()
        .route("/v1/devices", post(create).get(list))
        .route("/v1/devices/{id}", delete(revoke))
        .route("/v1/devices/pair", post(pair))
        .route("/v1/devices/ws", get(websocket))
        .route("/v1/devices/poll", post(poll))
        .route("/v1/account/devices", get(get_routing).put(put_routing))
        .layer(Extension(hub))
        .layer(Extension(config))
        .layer(Extension(Arc::new(Polls::default())))
        .with_state(state)
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::malformed(format!("invalid JSON: {e}")))
}

fn internal(e: HubError) -> ApiError {
    match e {
        HubError::Store(e) => e.into(),
        HubError::Closed => ApiError::conflict(
            "device-connection-closed",
            "this connection was closed: start again with a hello",
        ),
        HubError::Protocol(detail) => ApiError::malformed(detail),
    }
}

/// Messages a new device may be given per minute unless the customer says otherwise.
pub const DEFAULT_PER_MINUTE: u32 = 10;
/// Messages a new device may be given per 24 hours unless the customer says otherwise.
pub const DEFAULT_PER_DAY: u32 = 500;

/// A device the customer adds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDeviceRequest {
    pub name: String,
    #[serde(default = "default_per_minute")]
    pub per_minute: u32,
    #[serde(default = "default_per_day")]
    pub per_day: u32,
}

fn default_per_minute() -> u32 {
    DEFAULT_PER_MINUTE
}
fn default_per_day() -> u32 {
    DEFAULT_PER_DAY
}

/// A fresh pairing code, `XXXXX-XXXXX` (50 bits).
fn pairing_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let chars: String = (0..10)
        .map(|_| char::from(CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())]))
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// A code as typed (any case, with or without the dash) in its canonical form.
fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A device credential: 32 random bytes, shown once.
fn credential() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    format!("dev_{}", hex::encode(bytes))
}

fn qr_svg(content: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::with_error_correction_level(content.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

fn to_rfc3339(us: Option<i64>) -> Option<String> {
    us.map(api::timefmt::to_rfc3339)
}

/// A device just added: its one-time pairing code, shown only now (no `Debug`: the code is
/// never logged).
#[derive(Clone)]
pub struct Pairing {
    pub id: i64,
    pub name: String,
    /// `XXXXX-XXXXX`; the store keeps only its hash.
    pub code: String,
    /// UTC microseconds.
    pub expires_at: i64,
    /// What the QR code holds: see [`pairing_link`].
    pub link: String,
    /// The link as a QR code (SVG).
    pub qr_svg: String,
    pub per_minute: u32,
    pub per_day: u32,
}

/// What a device needs to pair, as one URI for a QR code:
/// `apisendsms://pair?server=<the gateway's base URL>&code=<the pairing code>` (query values
/// percent-encoded). `server` is what the agent takes as `--server`.
pub fn pairing_link(server: &str, code: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("server", server)
        .append_pair("code", code)
        .finish();
    format!("apisendsms://pair?{query}")
}

/// Adds a device to the account and makes its pairing code (valid for 15 minutes). `server`
/// is the gateway's base URL as the customer reached it (`https://host`), for the link.
pub async fn add_device(
    state: &AppState,
    account: AccountId,
    req: &NewDeviceRequest,
    server: &str,
) -> Result<Pairing, ApiError> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid(
            "invalid-name",
            "name",
            "name must be 1 to 100 characters",
        ));
    }
    if !(1..=600).contains(&req.per_minute) {
        return Err(ApiError::invalid(
            "invalid-limit",
            "per_minute",
            "per_minute must be between 1 and 600",
        ));
    }
    if !(1..=100_000).contains(&req.per_day) {
        return Err(ApiError::invalid(
            "invalid-limit",
            "per_day",
            "per_day must be between 1 and 100000",
        ));
    }
    let code = pairing_code();
    let now = store::now_us();
    let id = state.ids().next();
    let device = NewDevice {
        id,
        account,
        name: name.to_owned(),
        pairing_code_hash: secret_hash(&normalise_code(&code)),
        pairing_expires_at: now + PAIRING_TTL_US,
        per_minute: req.per_minute,
        per_day: req.per_day,
    };
    state.store().create_device(&device, now).await?;
    let link = pairing_link(server, &code);
    Ok(Pairing {
        id,
        name: device.name,
        qr_svg: qr_svg(&link)?,
        link,
        code,
        expires_at: device.pairing_expires_at,
        per_minute: device.per_minute,
        per_day: device.per_day,
    })
}

/// `POST /v1/devices`: a new device and its one-time pairing code (and the code as a QR code).
async fn create(
    State(state): State<AppState>,
    Extension(config): Extension<HttpConfig>,
    Authenticated(account): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: NewDeviceRequest = parse(&body)?;
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if config.https { "https" } else { "http" };
    let p = add_device(&state, account, &req, &format!("{scheme}://{host}")).await?;
    let body = json!({
        "id": p.id.to_string(),
        "name": p.name,
        "pairing_code": p.code,
        "pairing_expires_at": api::timefmt::to_rfc3339(p.expires_at),
        "pairing_link": p.link,
        "qr_svg": p.qr_svg,
        "per_minute": p.per_minute,
        "per_day": p.per_day,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// A device as its customer sees it: what is stored, what the hub knows of it now, and its
/// load.
#[derive(Debug, Clone)]
pub struct DeviceState {
    pub record: DeviceRecord,
    /// Connected to this node and heard from lately.
    pub live: Option<LiveState>,
    /// Messages assigned to it and not yet sent by it.
    pub queue: u32,
    /// Messages given to it in the last 24 hours (what `per_day` limits).
    pub last_24h: u32,
}

impl DeviceState {
    pub fn status(&self) -> &'static str {
        if self.record.revoked_at.is_some() {
            "revoked"
        } else if self.record.paired_at.is_some() {
            "paired"
        } else {
            "awaiting_pairing"
        }
    }

    /// The latest signal strength (0-31 as `AT+CSQ` gives it, 99 unknown).
    pub fn signal(&self) -> Option<i64> {
        self.live
            .and_then(|l| l.signal)
            .map(i64::from)
            .or(self.record.signal)
    }

    /// The latest battery charge in percent.
    pub fn battery(&self) -> Option<i64> {
        self.live
            .and_then(|l| l.battery)
            .map(i64::from)
            .or(self.record.battery)
    }
}

/// The account's devices with their live state, oldest first.
pub async fn device_states(hub: &Hub, account: AccountId) -> Result<Vec<DeviceState>, ApiError> {
    let day_ago = store::now_us() - 24 * 3600 * 1_000_000;
    let mut out = Vec::new();
    for record in hub.store().list_devices(account).await? {
        let (_, queue) = hub.store().device_load(record.id, 0).await?;
        let (last_24h, _) = hub.store().device_load(record.id, day_ago).await?;
        out.push(DeviceState {
            live: hub.live(record.id),
            record,
            queue,
            last_24h,
        });
    }
    Ok(out)
}

#[derive(Serialize)]
struct DeviceView {
    id: String,
    name: String,
    status: &'static str,
    online: bool,
    last_seen_at: Option<String>,
    model: Option<String>,
    sim_slots: Option<i64>,
    signal: Option<i64>,
    battery: Option<i64>,
    /// Messages assigned and not yet sent by the device.
    queue: u32,
    /// Messages given to the device in the last 24 hours.
    last_24h: u32,
    per_minute: u32,
    per_day: u32,
    created_at: Option<String>,
    paired_at: Option<String>,
    revoked_at: Option<String>,
}

fn view(d: DeviceState) -> DeviceView {
    DeviceView {
        status: d.status(),
        online: d.live.is_some(),
        signal: d.signal(),
        battery: d.battery(),
        queue: d.queue,
        last_24h: d.last_24h,
        id: d.record.id.to_string(),
        name: d.record.name,
        last_seen_at: to_rfc3339(d.record.last_seen_at),
        model: d.record.model,
        sim_slots: d.record.sim_slots,
        per_minute: d.record.per_minute,
        per_day: d.record.per_day,
        created_at: to_rfc3339(Some(d.record.created_at)),
        paired_at: to_rfc3339(d.record.paired_at),
        revoked_at: to_rfc3339(d.record.revoked_at),
    }
}

/// `GET /v1/devices`: the account's devices with their live state.
async fn list(
    Extension(hub): Extension<Arc<Hub>>,
    Authenticated(account): Authenticated,
) -> Result<Response, ApiError> {
    let devices: Vec<DeviceView> = device_states(&hub, account)
        .await?
        .into_iter()
        .map(view)
        .collect();
    Ok(Json(json!({ "devices": devices })).into_response())
}

/// `DELETE /v1/devices/{id}`: revokes the device; a connected device is cut off at once.
async fn revoke(
    Extension(hub): Extension<Arc<Hub>>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("device"))?;
    if !hub.revoke(account, id).await.map_err(internal)? {
        return Err(ApiError::not_found("device"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PairRequest {
    code: String,
}

/// `POST /v1/devices/pair`: a device exchanges its one-time code for its credential.
async fn pair(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let req: PairRequest = parse(&body)?;
    let credential = credential();
    let device = state
        .store()
        .pair_device(
            &secret_hash(&normalise_code(&req.code)),
            &secret_hash(&credential),
            store::now_us(),
        )
        .await?
        .ok_or_else(|| {
            ApiError::invalid(
                "invalid-pairing-code",
                "code",
                "the pairing code is unknown, used or expired: create the device again",
            )
        })?;
    Ok(Json(json!({
        "device_id": device.id.to_string(),
        "credential": credential,
    }))
    .into_response())
}

/// The account's channel and offline policy as the customer states it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRequest {
    /// `"device"` or `"carrier"`.
    pub route: String,
    pub offline_wait_s: u32,
    /// `"fail"` or `"carrier"`.
    pub offline_fallback: String,
}

impl From<DeviceRouting> for RoutingRequest {
    fn from(r: DeviceRouting) -> Self {
        RoutingRequest {
            route: if r.device_by_default {
                "device"
            } else {
                "carrier"
            }
            .into(),
            offline_wait_s: r.offline_wait_s,
            offline_fallback: r.offline_fallback.as_str().into(),
        }
    }
}

/// Sets the account's channel and offline policy; this node forgets the cached channel at once.
pub async fn set_routing(
    state: &AppState,
    account: AccountId,
    req: &RoutingRequest,
) -> Result<DeviceRouting, ApiError> {
    let device_by_default = match req.route.as_str() {
        "device" => true,
        "carrier" => false,
        _ => {
            return Err(ApiError::invalid(
                "invalid-route",
                "route",
                "route must be \"device\" or \"carrier\"",
            ))
        }
    };
    let offline_fallback = match req.offline_fallback.as_str() {
        "fail" => OfflineFallback::Fail,
        "carrier" => OfflineFallback::Carrier,
        _ => {
            return Err(ApiError::invalid(
                "invalid-fallback",
                "offline_fallback",
                "offline_fallback must be \"fail\" or \"carrier\"",
            ))
        }
    };
    if req.offline_wait_s > 7 * 24 * 3600 {
        return Err(ApiError::invalid(
            "invalid-wait",
            "offline_wait_s",
            "offline_wait_s is at most a week (604800)",
        ));
    }
    let routing = DeviceRouting {
        device_by_default,
        offline_wait_s: req.offline_wait_s,
        offline_fallback,
    };
    state.store().set_device_routing(account, routing).await?;
    state.forget_device_default(account);
    Ok(routing)
}

/// `GET /v1/account/devices`: the account's channel and offline policy.
async fn get_routing(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
) -> Result<Response, ApiError> {
    let r = state.store().device_routing(account).await?;
    Ok(Json(RoutingRequest::from(r)).into_response())
}

/// `PUT /v1/account/devices`: sets the account's channel and offline policy.
async fn put_routing(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: RoutingRequest = parse(&body)?;
    let r = set_routing(&state, account, &req).await?;
    Ok(Json(RoutingRequest::from(r)).into_response())
}

/// The device behind the request's `Authorization: Bearer <credential>`.
async fn device_of(hub: &Hub, headers: &HeaderMap) -> Result<DeviceRecord, ApiError> {
    let credential = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(ApiError::unauthorized)?;
    hub.authenticate(credential)
        .await
        .map_err(internal)?
        .ok_or_else(ApiError::unauthorized)
}

/// `GET /v1/devices/ws`: the device's WebSocket.
async fn websocket(
    Extension(hub): Extension<Arc<Hub>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let device = device_of(&hub, &headers).await?;
    Ok(ws.on_upgrade(move |socket| run_socket(hub, device, socket)))
}

async fn send(socket: &mut WebSocket, frame: &ServerFrame) -> bool {
    match serde_json::to_string(frame) {
        Ok(text) => socket.send(Message::Text(text.into())).await.is_ok(),
        Err(_) => false,
    }
}

async fn run_socket(hub: Arc<Hub>, device: DeviceRecord, mut socket: WebSocket) {
    let idle = Duration::from_secs(u64::from(hub.heartbeat_s()) * 3);
    let hello = match tokio::time::timeout(idle, socket.recv()).await {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<DeviceFrame>(t.as_str()).ok(),
        _ => None,
    };
    let conn = match hello {
        Some(hello) => hub.connect(&device, &hello).await,
        None => Err(HubError::Protocol("the first frame must be a hello".into())),
    };
    let mut conn = match conn {
        Ok(c) => c,
        Err(e) => {
            send(
                &mut socket,
                &ServerFrame::Error {
                    detail: e.to_string(),
                },
            )
            .await;
            return;
        }
    };
    loop {
        tokio::select! {
            out = conn.frames.recv() => {
                let Some(frame) = out else { break };
                let last = matches!(frame, ServerFrame::Error { .. });
                if !send(&mut socket, &frame).await || last {
                    break;
                }
            }
            incoming = tokio::time::timeout(idle, socket.recv()) => {
                let text = match incoming {
                    Ok(Some(Ok(Message::Text(t)))) => t,
                    Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => break,
                    Ok(Some(Ok(_))) => continue,
                    Err(_) => {
                        tracing::info!(device = device.id, "device silent for too long");
                        break;
                    }
                };
                let result = match serde_json::from_str::<DeviceFrame>(text.as_str()) {
                    Ok(frame) => hub.handle(&device, conn.id, frame).await,
                    Err(e) => Err(HubError::Protocol(format!("invalid frame: {e}"))),
                };
                match result {
                    Ok(()) => {}
                    Err(HubError::Closed) => {
                        // Revoked or replaced: say why (the hub queued the reason) and end.
                        while let Ok(frame) = conn.frames.try_recv() {
                            send(&mut socket, &frame).await;
                        }
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(device = device.id, error = %e, "device frame refused");
                        send(&mut socket, &ServerFrame::Error { detail: e.to_string() }).await;
                        break;
                    }
                }
            }
        }
    }
    hub.disconnect(device.id, conn.id);
    let _ = socket.send(Message::Close(None)).await;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PollRequest {
    #[serde(default)]
    frames: Vec<DeviceFrame>,
    /// Seconds to wait for frames when none is ready (at most 25).
    #[serde(default)]
    wait_s: Option<u64>,
}

/// `POST /v1/devices/poll`: the long-poll fallback. The request carries the device's frames
/// (the first poll of a connection starts with `hello`); the answer carries the server's,
/// waiting up to `wait_s` for one.
async fn poll(
    Extension(hub): Extension<Arc<Hub>>,
    Extension(polls): Extension<Arc<Polls>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let device = device_of(&hub, &headers).await?;
    let req: PollRequest = parse(&body)?;
    let mut frames = req.frames.into_iter().peekable();
    if matches!(frames.peek(), Some(DeviceFrame::Hello { .. })) {
        let hello = frames.next().expect("peeked");
        let conn = hub.connect(&device, &hello).await.map_err(internal)?;
        polls.by_device.lock().expect("polls").insert(
            device.id,
            PollSession {
                conn: conn.id,
                frames: Arc::new(tokio::sync::Mutex::new(conn.frames)),
            },
        );
    }
    let session = polls
        .by_device
        .lock()
        .expect("polls")
        .get(&device.id)
        .cloned()
        .ok_or_else(|| {
            ApiError::conflict(
                "device-connection-closed",
                "no connection: start with a hello frame",
            )
        })?;
    hub.keepalive(device.id, session.conn).map_err(internal)?;
    for frame in frames {
        hub.handle(&device, session.conn, frame)
            .await
            .map_err(internal)?;
    }
    let wait = Duration::from_secs(req.wait_s.unwrap_or(MAX_POLL_WAIT_S).min(MAX_POLL_WAIT_S));
    let mut out = Vec::new();
    {
        let mut rx = session.frames.lock().await;
        if let Ok(Some(first)) = tokio::time::timeout(wait, rx.recv()).await {
            out.push(first);
            while let Ok(f) = rx.try_recv() {
                out.push(f);
            }
        }
    }
    if out.iter().any(|f| matches!(f, ServerFrame::Error { .. })) {
        polls.by_device.lock().expect("polls").remove(&device.id);
    }
    Ok(Json(json!({ "frames": out })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pairing_link_carries_the_server_and_the_code_percent_encoded() {
        assert_eq!(
            pairing_link("https://sms.example.com", "7K2QX-M9D4R"),
            "apisendsms://pair?server=https%3A%2F%2Fsms.example.com&code=7K2QX-M9D4R"
        );
        assert_eq!(
            pairing_link("http://127.0.0.1:8080", "AAAAA-BBBBB"),
            "apisendsms://pair?server=http%3A%2F%2F127.0.0.1%3A8080&code=AAAAA-BBBBB"
        );
    }

    #[test]
    fn a_code_reads_the_same_in_any_case_and_with_or_without_the_dash() {
        let code = pairing_code();
        assert_eq!(code.len(), 11);
        assert_eq!(
            normalise_code(&code.to_lowercase().replace('-', "")),
            normalise_code(&code)
        );
    }
}
