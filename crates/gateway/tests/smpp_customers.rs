//! The SMPP server for customers, driven over TCP: binds with account credentials, concatenated
//! UCS-2 submits, receipts and inbound messages as deliver_sm, query/cancel, revocation; and
//! the same server driven by a third-party client (python-smpplib).

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use smpp::codec::{
    esm_class, Bind, CommandStatus, DeliverSm, DeliveryReceipt, MessageState, Pdu, PduBody,
    QuerySm, ShortMessage, SubmitSm, Tlv, TlvsExt,
};
use smpp::Connection;
use support::{backends, App, Options, SimProcess};
use tokio::net::TcpStream;

/// A minimal ESME: one request at a time; `deliver_sm` arriving meanwhile is answered and kept.
struct Esme {
    conn: Connection<TcpStream>,
    seq: u32,
    inbox: Vec<DeliverSm>,
}

impl Esme {
    async fn bind(addr: &str, system_id: &str, password: &str) -> Result<Esme, CommandStatus> {
        let stream = TcpStream::connect(addr)
            .await
            .expect("connect to the SMPP server");
        let mut esme = Esme {
            conn: Connection::new(stream, 64 * 1024),
            seq: 0,
            inbox: Vec::new(),
        };
        let bind = Bind {
            system_id: system_id.try_into().unwrap(),
            password: password.try_into().unwrap(),
            interface_version: 0x34,
            ..Bind::default()
        };
        let resp = esme.request(PduBody::BindTransceiver(bind)).await;
        if resp.command_status.is_ok() {
            Ok(esme)
        } else {
            Err(resp.command_status)
        }
    }

    async fn request(&mut self, body: PduBody) -> Pdu {
        self.seq += 1;
        let seq = self.seq;
        self.conn
            .write_pdu(&Pdu {
                command_status: CommandStatus::ESME_ROK,
                sequence_number: seq,
                body,
            })
            .await
            .expect("write request");
        loop {
            let pdu = tokio::time::timeout(Duration::from_secs(30), self.conn.read_pdu())
                .await
                .expect("a response in time")
                .expect("a readable PDU")
                .expect("the session stays open");
            if pdu.sequence_number == seq && pdu.body.command_id().is_response() {
                return pdu;
            }
            self.take(pdu).await;
        }
    }

    async fn take(&mut self, pdu: Pdu) {
        if let PduBody::DeliverSm(sm) = pdu.body {
            self.inbox.push(sm);
            self.conn
                .write_pdu(&Pdu {
                    command_status: CommandStatus::ESME_ROK,
                    sequence_number: pdu.sequence_number,
                    body: PduBody::DeliverSmResp(Default::default()),
                })
                .await
                .expect("write deliver_sm_resp");
        }
    }

    /// Waits for a `deliver_sm` matching `pred`.
    async fn wait_deliver(&mut self, pred: impl Fn(&DeliverSm) -> bool) -> DeliverSm {
        let start = Instant::now();
        loop {
            if let Some(i) = self.inbox.iter().position(&pred) {
                return self.inbox.remove(i);
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no such deliver_sm: {:?}",
                self.inbox
            );
            match tokio::time::timeout(Duration::from_secs(1), self.conn.read_pdu()).await {
                Ok(Ok(Some(pdu))) => self.take(pdu).await,
                Ok(other) => panic!("session ended: {other:?}"),
                Err(_) => {}
            }
        }
    }

    /// True when the server closes the session within `within`.
    async fn closed_within(&mut self, within: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < within {
            match tokio::time::timeout(Duration::from_millis(500), self.conn.read_pdu()).await {
                Ok(Ok(Some(pdu))) => self.take(pdu).await,
                Ok(_) => return true,
                Err(_) => {}
            }
        }
        false
    }
}

fn submit(text_udh: Vec<u8>, esm: u8, data_coding: u8, to: &str, receipt: u8) -> PduBody {
    PduBody::SubmitSm(SubmitSm {
        source_addr_ton: 5,
        source_addr: "ACME".try_into().unwrap(),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: to.try_into().unwrap(),
        esm_class: esm,
        registered_delivery: receipt,
        data_coding,
        short_message: ShortMessage::new(text_udh).unwrap(),
        ..SubmitSm::default()
    })
}

/// UCS-2 parts of `text` with an 8-bit-reference concatenation header, 67 characters each.
fn ucs2_parts(text: &str, reference: u8) -> Vec<Vec<u8>> {
    let units: Vec<u16> = text.encode_utf16().collect();
    let chunks: Vec<&[u16]> = units.chunks(67).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut p = vec![5, 0, 3, reference, chunks.len() as u8, i as u8 + 1];
            for u in *c {
                p.extend_from_slice(&u.to_be_bytes());
            }
            p
        })
        .collect()
}

async fn credentials(app: &App) -> (String, String, String) {
    let r = app.post("/v1/smpp-credentials", &json!({})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let system_id = r.body["system_id"].as_str().unwrap().to_owned();
    let password = r.body["password"].as_str().unwrap().to_owned();
    assert!(system_id.len() <= 15 && password.len() <= 8);
    (
        r.body["id"].as_str().unwrap().to_owned(),
        system_id,
        password,
    )
}

async fn spawn(backend: support::Backend, sim: &SimProcess) -> App {
    let mut opts = Options {
        connectors_toml: Some(sim.connectors_toml()),
        ..Options::default()
    };
    opts.env
        .push(("APISENDSMS_SMPP_LISTEN", "127.0.0.1:0".into()));
    App::spawn_with(backend, opts).await
}

#[tokio::test]
async fn customers_submit_over_smpp_and_get_receipts_and_replies() {
    for backend in backends().await {
        let sim = SimProcess::start(&["--receipt-delay-ms", "30"]);
        let app = spawn(backend, &sim).await;
        let addr = app.smpp.clone().expect("the SMPP server is on");
        let (credential_id, system_id, password) = credentials(&app).await;

        // Wrong password: refused, and nothing else is possible on that connection.
        let wrong = Esme::bind(&addr, &system_id, "nope").await.err();
        assert_eq!(wrong, Some(CommandStatus::ESME_RBINDFAIL));
        let unknown = Esme::bind(&addr, "nobody", &password).await.err();
        assert_eq!(unknown, Some(CommandStatus::ESME_RBINDFAIL));
        // Repeated failures for one system_id are answered ever more slowly.
        let _ = Esme::bind(&addr, &system_id, "nope2").await;
        let started = Instant::now();
        let third = Esme::bind(&addr, &system_id, "nope3").await.err();
        assert_eq!(third, Some(CommandStatus::ESME_RBINDFAIL));
        assert!(
            started.elapsed() >= Duration::from_millis(450),
            "{:?}",
            started.elapsed()
        );

        let mut esme = Esme::bind(&addr, &system_id, &password)
            .await
            .expect("bind");
        let text = "Příliš žluťoučký kůň úpěl ďábelské ódy. ".repeat(4);
        let parts = ucs2_parts(&text, 0x2A);
        assert_eq!(parts.len(), 3);
        let mut ids = Vec::new();
        for p in parts {
            let resp = esme
                .request(submit(p, esm_class::UDHI, 0x08, "420777123456", 1))
                .await;
            assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
            let PduBody::SubmitSmResp(r) = resp.body else {
                panic!("{resp:?}")
            };
            ids.push(String::from_utf8(r.message_id.as_bytes().to_vec()).unwrap());
        }
        assert!(
            ids.iter().all(|i| i == &ids[0]),
            "one message, one id: {ids:?}"
        );
        let id = ids[0].clone();

        // The message is the API's message: joined text, UCS-2, three parts, charged.
        let done = app
            .wait_for_status(&id, "delivered", Duration::from_secs(30))
            .await;
        assert_eq!(done["text"], text.as_str(), "{done}");
        assert_eq!(done["encoding"], "ucs2");
        assert_eq!(done["parts"], 3);
        assert_eq!(done["to"], "+420777123456");

        let receipt = esme
            .wait_deliver(|d| d.esm_class & esm_class::DELIVERY_RECEIPT != 0)
            .await;
        let parsed = DeliveryReceipt::from_deliver_sm(&receipt).expect("a receipt");
        assert_eq!(parsed.id.as_deref(), Some(id.as_str()));
        assert_eq!(parsed.stat, Some(MessageState::Delivered));
        assert_eq!(receipt.tlvs.message_state(), Some(MessageState::Delivered));
        assert_eq!(receipt.source_addr.as_bytes(), b"420777123456");
        assert_eq!(receipt.destination_addr.as_bytes(), b"ACME");

        let q = esme
            .request(PduBody::QuerySm(QuerySm {
                message_id: id.as_str().try_into().unwrap(),
                ..QuerySm::default()
            }))
            .await;
        let PduBody::QuerySmResp(q) = q.body else {
            panic!("{q:?}")
        };
        assert_eq!(q.message_state, MessageState::Delivered.value());
        assert!(!q.final_date.is_empty());

        // Refusals carry SMPP statuses.
        let bad = esme
            .request(submit(b"hi".to_vec(), 0, 0, "not-a-number", 0))
            .await;
        assert_eq!(bad.command_status, CommandStatus::ESME_RINVDSTADR);
        let binary = esme
            .request(submit(vec![1, 2, 3], 0, 0x04, "420777123456", 0))
            .await;
        assert_eq!(binary.command_status, CommandStatus::ESME_RSUBMITFAIL);
        // A commercial message (the vendor TLV) without the mark, identification and opt-out
        // line is refused like `"marketing": true` over HTTP.
        let mut commercial = submit(b"Sleva 20 % jen dnes".to_vec(), 0, 0, "420777123456", 0);
        if let PduBody::SubmitSm(sm) = &mut commercial {
            sm.tlvs.push(Tlv::Other {
                tag: smpp_edge::DEFAULT_MARKETING_TLV,
                value: smpp::codec::tlv::TlvValue::new(vec![1]).unwrap(),
            });
        }
        let refused = esme.request(commercial).await;
        assert_eq!(refused.command_status, CommandStatus::ESME_RSUBMITFAIL);

        // A reply from the recipient reaches the customer's bind.
        assert_eq!(
            sim.inject_mo("420777123456", "4209000", "Díky, STOP").await,
            200
        );
        let mo = esme
            .wait_deliver(|d| d.esm_class & esm_class::DELIVERY_RECEIPT == 0)
            .await;
        assert_eq!(mo.source_addr.as_bytes(), b"420777123456");
        assert_eq!(
            sms::decode_user_data(mo.data_coding, mo.short_message.as_bytes()),
            "Díky, STOP"
        );

        // Revoking the credential closes its session and refuses new binds.
        let r = app
            .send(
                reqwest::Method::DELETE,
                &format!("/v1/smpp-credentials/{credential_id}"),
                Some(&app.key.clone()),
                None,
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert!(
            esme.closed_within(Duration::from_secs(10)).await,
            "session still open"
        );
        assert_eq!(
            Esme::bind(&addr, &system_id, &password).await.err(),
            Some(CommandStatus::ESME_RBINDFAIL)
        );
        let listed = app.get("/v1/smpp-credentials").await;
        assert!(
            listed.body["credentials"][0]["revoked_at"].is_string(),
            "{}",
            listed.text
        );
        assert!(!listed.text.contains(&password));
    }
}

#[tokio::test]
async fn admin_api_shows_connectors_only_with_the_admin_token() {
    let backend = backends().await[0];
    let sim = SimProcess::start(&["--receipt-delay-ms", "30"]);
    let token = "adm_test_token";
    let mut opts = Options {
        connectors_toml: Some(sim.connectors_toml()),
        ..Options::default()
    };
    opts.env
        .push(("APISENDSMS_ADMIN_TOKEN_SHA256", api::keys::hash(token)));
    let app = App::spawn_with(backend, opts).await;
    let denied = app.get("/v1/admin/connectors").await;
    assert_eq!(denied.status, 401, "a customer key is not an admin token");
    let start = Instant::now();
    loop {
        let r = app
            .send(
                reqwest::Method::GET,
                "/v1/admin/connectors",
                Some(token),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let c: &Value = &r.body["connectors"][0];
        assert_eq!(c["name"], "smsc");
        assert_eq!(c["kind"], "smpp");
        if c["up"] == true {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "connector never up: {c}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_third_party_client_binds_submits_a_long_ucs2_text_and_gets_its_receipt() {
    let backend = backends().await[0];
    let sim = SimProcess::start(&["--receipt-delay-ms", "30"]);
    let app = spawn(backend, &sim).await;
    let addr = app.smpp.clone().expect("the SMPP server is on");
    let (host, port) = addr.rsplit_once(':').unwrap();
    let (_, system_id, password) = credentials(&app).await;
    let text =
        "Dobrý den, vaše zásilka č. 12345 je připravena k vyzvednutí na pobočce. Děkujeme! 📦";
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/smpplib_client.py"
    );
    let out = tokio::process::Command::new("python3")
        .args([script, host, port, &system_id, &password, text])
        .output()
        .await
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the smpplib client failed (scripts/test.sh installs smpplib): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON from the client");
    assert_eq!(v["data_coding"], 8, "{v}");
    assert!(v["parts"].as_u64().unwrap() >= 2, "{v}");
    let ids = v["message_ids"].as_array().unwrap();
    assert_eq!(ids.len() as u64, v["parts"].as_u64().unwrap(), "{v}");
    let id = ids[0].as_str().unwrap();
    let receipt = &v["receipt"];
    assert_eq!(receipt["esm_class"], 4, "{v}");
    assert_eq!(receipt["receipted_message_id"], id, "{v}");
    assert!(
        receipt["short_message"]
            .as_str()
            .unwrap()
            .contains("stat:DELIVRD"),
        "{v}"
    );
    let m = app.get(&format!("/v1/messages/{id}")).await;
    assert_eq!(m.body["text"], text, "{}", m.text);
    assert_eq!(m.body["status"], "delivered");
}
