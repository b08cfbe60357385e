//! The HTTP side of devices: the customer's `/v1/devices` resource and routing setting (API
//! key), and the device's own endpoints (device credential): the pairing exchange, the
//! WebSocket and the long-poll fallback.

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
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::{DeviceRecord, DeviceRouting, NewDevice, OfflineFallback};
use tokio::sync::mpsc;

use crate::hub::{secret_hash, Hub, HubError};
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

/// Every device route, ready to merge into the API.
pub fn router(state: AppState, hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/v1/devices", post(create).get(list))
        .route("/v1/devices/{id}", delete(revoke))
        .route("/v1/devices/pair", post(pair))
        .route("/v1/devices/ws", get(websocket))
        .route("/v1/devices/poll", post(poll))
        .route("/v1/account/devices", get(get_routing).put(put_routing))
        .layer(Extension(hub))
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    name: String,
    #[serde(default = "default_per_minute")]
    per_minute: u32,
    #[serde(default = "default_per_day")]
    per_day: u32,
}

fn default_per_minute() -> u32 {
    10
}
fn default_per_day() -> u32 {
    500
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

/// `POST /v1/devices`: a new device and its one-time pairing code (and the code as a QR code).
async fn create(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: CreateRequest = parse(&body)?;
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
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let link = format!("apisendsms://pair?host={host}&code={code}");
    let body = json!({
        "id": id.to_string(),
        "name": device.name,
        "pairing_code": code,
        "pairing_expires_at": api::timefmt::to_rfc3339(device.pairing_expires_at),
        "pairing_link": link,
        "qr_svg": qr_svg(&link)?,
        "per_minute": device.per_minute,
        "per_day": device.per_day,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
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
    per_minute: u32,
    per_day: u32,
    created_at: Option<String>,
    paired_at: Option<String>,
    revoked_at: Option<String>,
}

async fn view(hub: &Hub, d: DeviceRecord) -> Result<DeviceView, ApiError> {
    let live = hub.live(d.id);
    let (_, queue) = hub.store().device_load(d.id, 0).await?;
    let status = if d.revoked_at.is_some() {
        "revoked"
    } else if d.paired_at.is_some() {
        "paired"
    } else {
        "awaiting_pairing"
    };
    Ok(DeviceView {
        id: d.id.to_string(),
        name: d.name,
        status,
        online: live.is_some(),
        last_seen_at: to_rfc3339(d.last_seen_at),
        model: d.model,
        sim_slots: d.sim_slots,
        signal: live.and_then(|l| l.signal).map(i64::from).or(d.signal),
        battery: live.and_then(|l| l.battery).map(i64::from).or(d.battery),
        queue,
        per_minute: d.per_minute,
        per_day: d.per_day,
        created_at: to_rfc3339(Some(d.created_at)),
        paired_at: to_rfc3339(d.paired_at),
        revoked_at: to_rfc3339(d.revoked_at),
    })
}

/// `GET /v1/devices`: the account's devices with their live state.
async fn list(
    State(state): State<AppState>,
    Extension(hub): Extension<Arc<Hub>>,
    Authenticated(account): Authenticated,
) -> Result<Response, ApiError> {
    let mut devices = Vec::new();
    for d in state.store().list_devices(account).await? {
        devices.push(view(&hub, d).await?);
    }
    Ok(Json(json!({ "devices": devices })).into_response())
}

/// `DELETE /v1/devices/{id}`: revokes the device; a connected device is cut off at once.
async fn revoke(
    State(state): State<AppState>,
    Extension(hub): Extension<Arc<Hub>>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("device"))?;
    if !state
        .store()
        .revoke_device(account, id, store::now_us())
        .await?
    {
        return Err(ApiError::not_found("device"));
    }
    hub.cut_off(id);
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

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutingBody {
    route: String,
    offline_wait_s: u32,
    offline_fallback: String,
}

/// `GET /v1/account/devices`: the account's channel and offline policy.
async fn get_routing(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
) -> Result<Response, ApiError> {
    let r = state.store().device_routing(account).await?;
    Ok(Json(RoutingBody {
        route: if r.device_by_default {
            "device"
        } else {
            "carrier"
        }
        .into(),
        offline_wait_s: r.offline_wait_s,
        offline_fallback: r.offline_fallback.as_str().into(),
    })
    .into_response())
}

/// `PUT /v1/account/devices`: sets the account's channel and offline policy.
async fn put_routing(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: RoutingBody = parse(&body)?;
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
    state
        .store()
        .set_device_routing(
            account,
            DeviceRouting {
                device_by_default,
                offline_wait_s: req.offline_wait_s,
                offline_fallback,
            },
        )
        .await?;
    state.forget_device_default(account);
    Ok(Json(req).into_response())
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
