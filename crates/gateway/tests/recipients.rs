//! Recipients' protection through the real binary: contact lists and CSV imports, the
//! Blacklist from the API and from a STOP reply, sending to a list, commercial-message rules,
//! erasure by staff after which the number is nowhere in the database yet still blocked, and the
//! block on the customer SMPP path.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{backends, App, Options, Reply, SimProcess};

const KEY: &str = "test-blacklist-key-0123456789";

async fn import_csv(app: &App, list: &str, query: &str, csv: &str) -> Reply {
    let r = app
        .client
        .post(app.url(&format!("/v1/contact-lists/{list}/import{query}")))
        .bearer_auth(&app.key)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert!(status == 201 || status >= 400, "{status} {text}");
    Reply {
        status,
        headers,
        content_type,
        body,
        text,
    }
}

fn statuses(r: &Reply) -> Vec<(String, String)> {
    r.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["to"].as_str().unwrap().to_owned(),
                m["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn lists_imports_blacklist_and_commercial_rules() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        // The API's Blacklist: any written form of a number.
        let r = app
            .post("/v1/blacklist", &json!({"number": "777 000 003"}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = app.get("/v1/blacklist").await;
        assert_eq!(r.body["entries"][0]["number"], "+420777000003");
        assert_eq!(r.body["entries"][0]["source"], "api");

        let r = app
            .post("/v1/contact-lists", &json!({"name": "Zákazníci"}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let list = r.body["id"].as_str().unwrap().to_owned();
        let csv = "Telefon;Jméno;Město\n\
                   +420 777 000 001;Jana;Brno\n\
                   12;Bad;X\n\
                   777000002;Petr;Praha\n\
                   777000001;Jana again;Brno\n\
                   777000003;Blocked;Ostrava\n";
        let r = import_csv(&app, &list, "?basis=consent", csv).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["status"], "done");
        assert_eq!(
            (
                &r.body["rows_read"],
                &r.body["imported"],
                &r.body["duplicates"],
                &r.body["rejected"],
                &r.body["blocked"]
            ),
            (&json!(5), &json!(2), &json!(1), &json!(1), &json!(1))
        );
        let rejects = r.body["rejects"].as_array().unwrap();
        assert_eq!(rejects.len(), 2, "{rejects:?}");
        assert_eq!(rejects[0]["row"], 2);
        assert_eq!(rejects[0]["value"], "12");
        assert!(rejects[1]["reason"].as_str().unwrap().contains("opted out"));
        let import_id = r.body["id"].as_str().unwrap();
        let progress = app
            .get(&format!("/v1/contact-lists/{list}/imports/{import_id}"))
            .await;
        assert_eq!(progress.body["imported"], 2, "{}", progress.text);
        // Without a header naming the number column the upload is refused and says why.
        let bad = import_csv(&app, &list, "", "foo,bar\n1,2\n").await;
        bad.assert_problem(422, "invalid-csv");
        let bad = import_csv(&app, &list, "?basis=maybe", "number\n777000009\n").await;
        bad.assert_problem(422, "invalid-basis");

        // Sending to the list fills the fields; a number blocked meanwhile costs nothing.
        let r = app
            .post("/v1/blacklist", &json!({"number": "+420777000002"}))
            .await;
        assert_eq!(r.status, 201);
        let r = app
            .post(
                "/v1/messages",
                &json!({"to_list": list, "text": "Ahoj {name} z {Město}!"}),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        assert_eq!(
            statuses(&r),
            vec![
                ("+420777000001".into(), "queued".into()),
                ("+420777000002".into(), "blocked".into())
            ]
        );
        assert_eq!(r.body["messages"][1]["price_czk"], "0.00");
        let first = r.body["messages"][0]["id"].as_str().unwrap().to_owned();
        let blocked = r.body["messages"][1]["id"].as_str().unwrap().to_owned();
        let m = app.get(&format!("/v1/messages/{first}")).await;
        assert_eq!(m.body["text"], "Ahoj Jana z Brno!");
        let m = app.get(&format!("/v1/messages/{blocked}")).await;
        assert_eq!(m.body["status"], "blocked");
        assert!(m.body["status_reason"]
            .as_str()
            .unwrap()
            .contains("opted out"));
        app.wait_for_status(&first, "delivered", Duration::from_secs(30))
            .await;
        assert_eq!(app.get("/v1/balance").await.body["available_czk"], "999.10");

        // The customer's own entry can be lifted.
        assert_eq!(app.delete("/v1/blacklist/+420777000002").await.status, 204);
        app.delete("/v1/blacklist/+420777000002")
            .await
            .assert_problem(404, "not-found");

        // Commercial messages: 422 naming what is missing; then only to numbers with a basis.
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "+420777000001", "text": "Sleva 20 %!", "marketing": true}),
            )
            .await;
        r.assert_problem(422, "marketing-requirements");
        let missing: Vec<&str> = r.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["missing"].as_str().unwrap())
            .collect();
        assert_eq!(
            missing,
            vec![
                "commercial-mark",
                "sender-identification",
                "opt-out-instruction"
            ]
        );
        let r = app
            .send(
                reqwest::Method::PUT,
                "/v1/account/marketing",
                Some(&app.key),
                Some(&json!({"identification": "ACME s.r.o.", "optout_line": "Odhlášení: STOP"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let text = "OS: Sleva 20 %! ACME s.r.o. Odhlášení: STOP";
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": ["+420777000001", "+420777000055"], "text": text, "marketing": true}),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        assert_eq!(
            statuses(&r),
            vec![
                ("+420777000001".into(), "queued".into()),
                ("+420777000055".into(), "blocked".into())
            ]
        );
        assert!(r.body["messages"][1]["status_reason"]
            .as_str()
            .unwrap()
            .contains("consent"));
    }
}

#[tokio::test]
async fn a_stop_reply_blocks_the_next_send_and_erasure_leaves_only_the_block() {
    for backend in backends().await {
        let sim = SimProcess::start(&["--receipt-delay-ms", "20"]);
        let app = App::spawn_with(
            backend,
            Options {
                connectors_toml: Some(sim.connectors_toml()),
                ..Options::default()
            },
        )
        .await;
        let number = "+420777123456";
        let r = app
            .post("/v1/messages", &json!({"to": number, "text": "Hi there"}))
            .await;
        let id = r.body["messages"][0]["id"].as_str().unwrap().to_owned();
        app.wait_for_status(&id, "delivered", Duration::from_secs(30))
            .await;
        // A scheduled message queued before the STOP.
        let later = support::rfc3339_in_days(1);
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": number, "text": "Tomorrow", "scheduled_at": later}),
            )
            .await;
        let scheduled = r.body["messages"][0]["id"].as_str().unwrap().to_owned();

        assert_eq!(
            sim.inject_mo("420777123456", "4209000", " stop ").await,
            200
        );
        let start = Instant::now();
        loop {
            let entries = app.get("/v1/blacklist").await.body["entries"].clone();
            if let Some(e) = entries.as_array().unwrap().first() {
                assert_eq!(e["number"], number);
                assert_eq!(e["source"], "recipient");
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "STOP not applied"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let m = app.get(&format!("/v1/messages/{scheduled}")).await;
        assert_eq!(m.body["status"], "blocked", "{}", m.text);
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "777 123 456", "text": "Again"}),
            )
            .await;
        assert_eq!(statuses(&r), vec![(number.into(), "blocked".into())]);
        // The customer cannot lift the recipient's own opt-out.
        app.delete("/v1/blacklist/+420777123456")
            .await
            .assert_problem(409, "opted-out-by-recipient");
        assert_eq!(app.get("/v1/balance").await.body["available_czk"], "999.10");

        // Erasure is for staff only.
        app.post("/v1/recipients/erase", &json!({"number": number}))
            .await
            .assert_problem(403, "forbidden");
        let out = app.cli(&[
            "accounts",
            "create",
            "--email",
            "dpo@operator.example",
            "--name",
            "DPO",
            "--staff",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let staff: Value = serde_json::from_slice(&out.stdout).unwrap();
        let staff_key = staff["api_key"].as_str().unwrap();
        let r = app
            .send(
                reqwest::Method::POST,
                "/v1/recipients/restrict",
                Some(staff_key),
                Some(&json!({"number": "+420777000077"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app
            .post("/v1/messages", &json!({"to": "+420777000077", "text": "x"}))
            .await;
        assert_eq!(r.body["messages"][0]["status"], "blocked");
        assert!(r.body["messages"][0]["status_reason"]
            .as_str()
            .unwrap()
            .contains("restricted"));

        let r = app
            .send(
                reqwest::Method::POST,
                "/v1/recipients/erase",
                Some(staff_key),
                Some(&json!({"number": "777123456"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["inbound_deleted"], 1, "{}", r.text);
        let m = app.get(&format!("/v1/messages/{id}")).await;
        assert_eq!(m.body["to"], "[erased]");
        assert_eq!(m.body["text"], "[erased]");
        assert!(app.get("/v1/inbound").await.body["messages"]
            .as_array()
            .unwrap()
            .is_empty());
        // Still blocked, for any account, and a later upload is refused.
        let r = app
            .post("/v1/messages", &json!({"to": number, "text": "After"}))
            .await;
        assert_eq!(r.body["messages"][0]["status"], "blocked");
        assert!(r.body["messages"][0]["status_reason"]
            .as_str()
            .unwrap()
            .contains("erased"));
        let list = app
            .post("/v1/contact-lists", &json!({"name": "L"}))
            .await
            .body["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = import_csv(&app, &list, "", "number\n+420777123456\n").await;
        assert_eq!(r.body["blocked"], 1, "{}", r.text);
        assert_eq!(r.body["rejects"][0]["value"], Value::Null);

        // Nowhere in the database: every text column of every table is searched.
        let store = store::Store::connect(
            &app.db.url,
            store::StoreOptions {
                blacklist_key: Some(store::BlacklistKey::new(KEY.as_bytes().to_vec()).unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        for needle in ["420777123456", "777123456"] {
            let found = store.find_text(needle).await.unwrap();
            assert!(found.is_empty(), "{needle} found in {found:?}");
        }
        store.close().await;
    }
}

/// One `submit_sm` over a customer SMPP bind; returns the message id the server answered.
async fn smpp_submit(addr: &str, system_id: &str, password: &str, to: &str) -> String {
    use smpp::codec::{Bind, CommandStatus, Pdu, PduBody, ShortMessage, SubmitSm};
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut conn = smpp::Connection::new(stream, 64 * 1024);
    let request = |seq: u32, body: PduBody| Pdu {
        command_status: CommandStatus::ESME_ROK,
        sequence_number: seq,
        body,
    };
    let bind = Bind {
        system_id: system_id.try_into().unwrap(),
        password: password.try_into().unwrap(),
        interface_version: 0x34,
        ..Bind::default()
    };
    let submit = SubmitSm {
        source_addr_ton: 5,
        source_addr: "ACME".try_into().unwrap(),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: to.try_into().unwrap(),
        short_message: ShortMessage::new(b"Hello over SMPP".to_vec()).unwrap(),
        ..SubmitSm::default()
    };
    for (seq, body) in [
        (1, PduBody::BindTransceiver(bind)),
        (2, PduBody::SubmitSm(submit)),
    ] {
        conn.write_pdu(&request(seq, body)).await.unwrap();
        loop {
            let pdu = tokio::time::timeout(Duration::from_secs(30), conn.read_pdu())
                .await
                .expect("an answer in time")
                .unwrap()
                .expect("the session stays open");
            if pdu.sequence_number != seq {
                continue;
            }
            assert_eq!(pdu.command_status, CommandStatus::ESME_ROK, "{pdu:?}");
            if let PduBody::SubmitSmResp(r) = pdu.body {
                return String::from_utf8(r.message_id.as_bytes().to_vec()).unwrap();
            }
            break;
        }
    }
    unreachable!("no submit_sm_resp")
}

#[tokio::test]
async fn a_blocked_recipient_is_blocked_over_the_customer_smpp_path_too() {
    for backend in backends().await {
        let mut opts = Options::default();
        opts.env
            .push(("APISENDSMS_SMPP_LISTEN", "127.0.0.1:0".into()));
        let app = App::spawn_with(backend, opts).await;
        let addr = app.smpp.clone().expect("the SMPP server is on");
        let r = app.post("/v1/smpp-credentials", &json!({})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let (system_id, password) = (
            r.body["system_id"].as_str().unwrap().to_owned(),
            r.body["password"].as_str().unwrap().to_owned(),
        );
        let r = app
            .post("/v1/blacklist", &json!({"number": "+420777000042"}))
            .await;
        assert_eq!(r.status, 201);
        let id = smpp_submit(&addr, &system_id, &password, "420777000042").await;
        let m = app.get(&format!("/v1/messages/{id}")).await;
        assert_eq!(m.body["status"], "blocked", "{}", m.text);
        assert_eq!(m.body["price_czk"], "0.00");
        let other = smpp_submit(&addr, &system_id, &password, "420777000043").await;
        app.wait_for_status(&other, "delivered", Duration::from_secs(30))
            .await;
    }
}
