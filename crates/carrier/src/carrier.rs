//! [`SmppCarrier`]: a [`Connector`] over an `smpp` ESME client.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use smpp::client::{self, Client, SubmitError};
use smpp::codec::CommandStatus;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, info_span, warn, Instrument};
use workers::{Connector, ConnectorEvent, Delivery, OutboundMessage};

use crate::config::{ConfigError, SmppCarrierConfig};
use crate::deliver::{classify, mo_part, Inbound, MoKey};
use crate::submit::{build, BuildOptions};

/// How long an inbound `deliver_sm` waits for room in the event channel before it is refused
/// (`ESME_RX_T_APPN`, so the SMSC delivers it again later). Below the usual SMSC response
/// timeout of 10 s or more.
const QUEUE_WAIT: Duration = Duration::from_secs(5);

/// A snapshot of a carrier, for the admin pages and metrics.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CarrierState {
    pub name: String,
    /// A session that can submit is bound.
    pub bound: bool,
    /// `submit_sm` PDUs sent and not yet answered.
    pub window_in_use: usize,
    /// `submit_sm` PDUs (parts, not messages) accepted in the last whole second.
    pub submitted_last_second: u64,
    /// `submit_sm` PDUs (parts, not messages) accepted since the carrier started.
    pub submitted_total: u64,
}

/// An SMSC reached over SMPP: submits messages and reports receipts and MO messages as
/// [`ConnectorEvent`]s.
///
/// The client connects, binds and reconnects in the background; a task forwards what the
/// SMSC delivers. [`SmppCarrier::close`] (also [`Connector::shutdown`]) unbinds and waits for
/// both; dropping the carrier unbinds without waiting.
pub struct SmppCarrier {
    name: String,
    client: Client,
    build: BuildOptions,
    forwarder: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for SmppCarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmppCarrier")
            .field("name", &self.name)
            .field("state", &self.client.state())
            .finish_non_exhaustive()
    }
}

impl SmppCarrier {
    /// Starts connecting to `config.host:config.port` over TCP and returns at once; receipts
    /// and MO messages go to `events`. Must be called inside a tokio runtime.
    ///
    /// Fails only when the configuration cannot be used (see [`ConfigError`]).
    pub fn start(
        config: SmppCarrierConfig,
        events: mpsc::Sender<ConnectorEvent>,
    ) -> Result<SmppCarrier, ConfigError> {
        let client_config = config.client_config()?;
        let (host, port) = (config.host.clone(), config.port);
        let (client, deliveries) = Client::connect(client_config, move || {
            let host = host.clone();
            async move {
                let stream = TcpStream::connect((host.as_str(), port)).await?;
                stream.set_nodelay(true)?;
                Ok(stream)
            }
        });
        info!(carrier = %config.name, host = %config.host, port, bind = ?config.bind, "starting SMPP carrier");
        let forwarder = tokio::spawn(forward(config.name.clone(), deliveries, events));
        Ok(SmppCarrier {
            name: config.name,
            client,
            forwarder: Mutex::new(Some(forwarder)),
            build: BuildOptions {
                concat: config.concat,
                register_delivery: config.register_delivery,
                send_message_id_tlv: config.send_message_id_tlv,
            },
        })
    }

    /// The live state; cheap.
    pub fn state(&self) -> CarrierState {
        let s = self.client.state();
        CarrierState {
            name: self.name.clone(),
            bound: s.bound,
            window_in_use: s.window_in_use,
            submitted_last_second: s.submitted_last_second,
            submitted_total: s.submitted_total,
        }
    }

    /// Waits until the carrier can submit; false after `within`.
    pub async fn wait_bound(&self, within: Duration) -> bool {
        self.client.wait_bound(within).await
    }

    /// Stops taking messages, lets outstanding submits finish, unbinds, and waits until what
    /// the SMSC delivered before that has been queued as events (or refused).
    pub async fn close(&self) {
        self.client.close().await;
        let forwarder = self
            .forwarder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(forwarder) = forwarder {
            let _ = forwarder.await;
        }
    }

    /// Submits the parts in order and stops at the first failure, which decides the result
    /// even when earlier parts were taken: a permanent failure leaves the recipient with an
    /// incomplete message; after a temporary one the whole message is sent again, and the
    /// per-part deduplication TLV keeps a deduplicating SMSC from sending the taken parts twice.
    async fn send(&self, message: &OutboundMessage) -> Delivery {
        let pdus = match build(message, &self.build) {
            Ok(pdus) => pdus,
            Err(e) => {
                warn!(error = %e, "message cannot be sent over SMPP");
                return Delivery::Permanent {
                    reason: e.to_string(),
                };
            }
        };
        if pdus.len() > 1 && pdus.len() != message.parts as usize {
            warn!(
                parts = pdus.len(),
                expected = message.parts,
                "part count differs from the one stored"
            );
        }
        let total = pdus.len();
        let mut smsc_id = String::new();
        for (index, sm) in pdus.into_iter().enumerate() {
            match self.client.submit(sm).await {
                Ok(submitted) => {
                    debug!(
                        part = index + 1,
                        total,
                        smsc_id = %submitted.message_id,
                        attempts = submitted.attempts,
                        "submitted"
                    );
                    smsc_id = submitted.message_id;
                }
                Err(e) => {
                    let delivery = failure(&e);
                    warn!(part = index + 1, total, error = %e, ?delivery, "submit failed");
                    return delivery;
                }
            }
        }
        Delivery::Accepted { smsc_id }
    }
}

/// What a failed `submit_sm` means for the message.
///
/// A timeout or a lost connection is temporary even though the SMSC may have taken the
/// message: it is resent with the same deduplication TLV.
pub(crate) fn failure(e: &SubmitError) -> Delivery {
    match e {
        SubmitError::Rejected(status) if !status.is_temporary() => Delivery::Permanent {
            reason: status.to_string(),
        },
        SubmitError::Rejected(status) => Delivery::Temporary {
            reason: status.to_string(),
        },
        SubmitError::RetriesExhausted { last, attempts } => Delivery::Temporary {
            reason: format!("{last} after {attempts} attempts"),
        },
        SubmitError::Request(r) => Delivery::Temporary {
            reason: r.to_string(),
        },
    }
}

#[async_trait]
impl Connector for SmppCarrier {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_up(&self) -> bool {
        self.client.state().bound
    }

    fn load(&self) -> workers::ConnectorLoad {
        let s = self.state();
        workers::ConnectorLoad {
            window_in_use: s.window_in_use,
            submitted_last_second: s.submitted_last_second,
            submitted_total: s.submitted_total,
        }
    }

    async fn submit(&self, message: &OutboundMessage) -> Delivery {
        let span = info_span!(
            "smpp_submit",
            carrier = %self.name,
            message_id = %message.id,
            account_id = %message.account,
        );
        self.send(message).instrument(span).await
    }

    /// Unbinds after the outstanding submits and queues what was already delivered. Receipts
    /// the SMSC has not sent yet come on the next bind; it keeps them until then.
    async fn shutdown(&self) {
        self.close().await
    }
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// How long the parts of a concatenated MO message wait for the rest.
const MO_REASSEMBLY_TIMEOUT: Duration = Duration::from_secs(60);

/// Concatenated MO messages waiting for parts, with (their key, data_coding, first arrival).
type MoParts = sms::Reassembler<MoKey, (MoKey, u8, i64)>;

/// Turns the client's events into connector events until the client ends.
async fn forward(
    name: String,
    mut deliveries: mpsc::Receiver<client::Event>,
    events: mpsc::Sender<ConnectorEvent>,
) {
    let mut parts = MoParts::default();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        let event = tokio::select! {
            event = deliveries.recv() => match event {
                Some(event) => event,
                None => break,
            },
            _ = tick.tick() => {
                for joined in parts.take_expired(MO_REASSEMBLY_TIMEOUT) {
                    warn!(carrier = %name, missing = joined.missing, "concatenated MO message incomplete; reporting the parts that came");
                    let _ = events.send(joined_mo(&name, joined)).await;
                }
                continue;
            }
        };
        match event {
            client::Event::Bound(kind) => info!(carrier = %name, ?kind, "bound"),
            client::Event::Unbound(kind) => warn!(carrier = %name, ?kind, "unbound"),
            client::Event::Deliver(delivery) => match mo_part(&delivery.sm) {
                Some((key, info, data)) => {
                    let dc = delivery.sm.data_coding;
                    let (from, to) = (key.from.clone(), key.to.clone());
                    let meta_key = key.clone();
                    match parts.offer(key, info, &data, || (meta_key, dc, now_us())) {
                        // A part in memory is acknowledged: the SMSC would only resend it.
                        None => delivery.accept(),
                        Some(joined) => {
                            debug!(carrier = %name, %from, %to, "concatenated MO message complete");
                            send_or_refuse(&name, delivery, joined_mo(&name, joined), &events).await
                        }
                    }
                }
                None => answer(&name, *delivery, &events).await,
            },
        }
    }
    debug!(carrier = %name, "SMPP client ended");
}

fn joined_mo(name: &str, joined: sms::Joined<(MoKey, u8, i64)>) -> ConnectorEvent {
    let (key, dc, received_at) = joined.meta;
    ConnectorEvent::Inbound(workers::connector::InboundSms {
        connector: name.to_owned(),
        from: key.from,
        to: key.to,
        text: sms::decode_user_data(dc, &joined.data),
        smsc_id: None,
        received_at,
    })
}

/// Reports one `deliver_sm` and answers it: `ESME_ROK` once the event is queued,
/// `ESME_RX_T_APPN` when it cannot be (channel closed, or full for [`QUEUE_WAIT`]).
async fn answer(name: &str, delivery: client::Delivery, events: &mpsc::Sender<ConnectorEvent>) {
    let event = match classify(name, &delivery.sm, delivery.receipt.as_ref(), now_us()) {
        Inbound::Event(event) => event,
        Inbound::Nothing(why) => {
            debug!(carrier = %name, why, "deliver_sm acknowledged, nothing to report");
            delivery.accept();
            return;
        }
    };
    send_or_refuse(name, Box::new(delivery), event, events).await
}

/// Queues the event, then acknowledges the `deliver_sm` (or refuses it for redelivery).
async fn send_or_refuse(
    name: &str,
    delivery: Box<client::Delivery>,
    event: ConnectorEvent,
    events: &mpsc::Sender<ConnectorEvent>,
) {
    match tokio::time::timeout(QUEUE_WAIT, events.send(event)).await {
        Ok(Ok(())) => delivery.accept(),
        Ok(Err(_)) => {
            warn!(carrier = %name, "event channel closed; deliver_sm refused for redelivery");
            delivery.reject(CommandStatus::ESME_RX_T_APPN);
        }
        Err(_) => {
            warn!(carrier = %name, "event channel full; deliver_sm refused for redelivery");
            delivery.reject(CommandStatus::ESME_RX_T_APPN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smpp::client::RequestError;

    #[test]
    fn failures_map_to_deliveries() {
        let check = |e: SubmitError, expected: Delivery| assert_eq!(failure(&e), expected);
        check(
            SubmitError::Rejected(CommandStatus::ESME_RINVDSTADR),
            Delivery::Permanent {
                reason: "ESME_RINVDSTADR (0x0000000B)".into(),
            },
        );
        check(
            SubmitError::RetriesExhausted {
                last: CommandStatus::ESME_RTHROTTLED,
                attempts: 5,
            },
            Delivery::Temporary {
                reason: "ESME_RTHROTTLED (0x00000058) after 5 attempts".into(),
            },
        );
        check(
            SubmitError::Rejected(CommandStatus::ESME_RMSGQFUL),
            Delivery::Temporary {
                reason: "ESME_RMSGQFUL (0x00000014)".into(),
            },
        );
        for r in [
            RequestError::Timeout,
            RequestError::ConnectionLost,
            RequestError::NotBound,
            RequestError::Closed,
            RequestError::MalformedResponse(CommandStatus::ESME_RINVCMDLEN),
        ] {
            let reason = r.to_string();
            check(SubmitError::Request(r), Delivery::Temporary { reason });
        }
    }
}
