//! The device protocol: JSON frames over a WebSocket (or batches of them over HTTP long-poll),
//! each an object whose `type` names it. `docs/device-protocol.md` is the specification.
//!
//! Message ids travel as decimal strings (they exceed the 2^53 that JavaScript numbers hold).
//! Delivery is at-least-once both ways: the server repeats an `assign` until the device
//! `ack`s it, and the device repeats a report until the server `confirm`s it; both sides
//! recognise repeats by the message id (or the device's inbound `ref`).

use serde::{Deserialize, Serialize};

/// Frames a device sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeviceFrame {
    /// The first frame of every connection.
    Hello {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sim_slots: Option<u8>,
        /// Received signal strength, 0-31 as `AT+CSQ` gives it (99: unknown).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<u8>,
        /// Battery charge in percent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        battery: Option<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        app: Option<String>,
    },
    /// The device holds the assigned message durably and will send it.
    Ack { id: String },
    /// The network took the message; `refs` are the message references of its parts (TP-MR).
    Sent {
        id: String,
        #[serde(default)]
        refs: Vec<u16>,
    },
    /// Every part was delivered to the handset (status reports).
    Delivered { id: String },
    /// The message was not sent or not delivered; `error` is the modem's or phone's error.
    Failed { id: String, error: String },
    /// A message the device's SIM received. `ref` is the device's own id for it, unique per
    /// device, so that a repeat is stored once.
    Inbound {
        #[serde(rename = "ref")]
        reference: String,
        from: String,
        text: String,
        /// Unix milliseconds.
        received_at_ms: i64,
    },
    /// Sent every `heartbeat_s` seconds (any frame counts as a sign of life).
    Heartbeat {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        battery: Option<u8>,
        /// Messages the device holds unsent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queue: Option<u32>,
    },
}

/// Frames the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerFrame {
    /// The answer to `hello`.
    Welcome { device_id: String, heartbeat_s: u32 },
    /// Send this message. Exactly one of `text` and `ciphertext` is present: `ciphertext` is
    /// the customer's end-to-end encrypted text, which only the device can read; `parts` is
    /// then the number of parts paid for, which the device must not exceed.
    Assign {
        id: String,
        to: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ciphertext: Option<String>,
        parts: u32,
        /// Unix milliseconds after which the message must not be sent.
        expires_at_ms: i64,
    },
    /// The server recorded the device's report about message `id`; the device may forget it.
    Confirm { id: String },
    /// The server stored inbound message `ref`; the device may delete it.
    InboundStored {
        #[serde(rename = "ref")]
        reference: String,
    },
    /// The server refuses to go on (revoked credential, bad frame); the connection ends.
    Error { detail: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_device(json: &str, frame: DeviceFrame) {
        let parsed: DeviceFrame = serde_json::from_str(json).unwrap();
        assert_eq!(parsed, frame);
        let again: DeviceFrame =
            serde_json::from_str(&serde_json::to_string(&frame).unwrap()).unwrap();
        assert_eq!(again, frame);
    }

    #[test]
    fn device_frames_read_as_the_specification_writes_them() {
        check_device(
            r#"{"type":"hello","model":"SIM800","sim_slots":1,"signal":17,"battery":80}"#,
            DeviceFrame::Hello {
                model: Some("SIM800".into()),
                sim_slots: Some(1),
                signal: Some(17),
                battery: Some(80),
                app: None,
            },
        );
        check_device(
            r#"{"type":"ack","id":"123"}"#,
            DeviceFrame::Ack { id: "123".into() },
        );
        check_device(
            r#"{"type":"sent","id":"123","refs":[4,5]}"#,
            DeviceFrame::Sent {
                id: "123".into(),
                refs: vec![4, 5],
            },
        );
        check_device(
            r#"{"type":"failed","id":"1","error":"+CMS ERROR: 38"}"#,
            DeviceFrame::Failed {
                id: "1".into(),
                error: "+CMS ERROR: 38".into(),
            },
        );
        check_device(
            r#"{"type":"inbound","ref":"7","from":"+420777000111","text":"Hi","received_at_ms":5}"#,
            DeviceFrame::Inbound {
                reference: "7".into(),
                from: "+420777000111".into(),
                text: "Hi".into(),
                received_at_ms: 5,
            },
        );
        check_device(
            r#"{"type":"heartbeat","queue":3}"#,
            DeviceFrame::Heartbeat {
                signal: None,
                battery: None,
                queue: Some(3),
            },
        );
    }

    #[test]
    fn unknown_frames_and_fields_are_refused() {
        assert!(serde_json::from_str::<DeviceFrame>(r#"{"type":"reboot"}"#).is_err());
        assert!(serde_json::from_str::<DeviceFrame>(r#"{"type":"ack","id":"1","x":1}"#).is_err());
        assert!(serde_json::from_str::<DeviceFrame>(r#"{"id":"1"}"#).is_err());
    }

    #[test]
    fn server_frames_carry_ids_as_strings() {
        let f = ServerFrame::Assign {
            id: "9223372036854775807".into(),
            to: "+420777000111".into(),
            text: Some("Hello".into()),
            ciphertext: None,
            parts: 1,
            expires_at_ms: 1,
        };
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            json,
            r#"{"type":"assign","id":"9223372036854775807","to":"+420777000111","text":"Hello","parts":1,"expires_at_ms":1}"#
        );
        assert_eq!(serde_json::from_str::<ServerFrame>(&json).unwrap(), f);
    }
}
