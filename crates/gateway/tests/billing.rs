//! Credit and billing through the real binary: a customer asks to top up, the operator imports
//! the bank statement with the CLI, the credit arrives once, the invoice is listed and served as
//! PDF; prices from a price list are charged at acceptance.

mod support;

use serde_json::{json, Value};
use support::{backends, App};

/// A Fio JSON statement with (id, amount, variable symbol) credits.
fn fio_statement(payments: &[(u64, &str, &str)]) -> String {
    let txs: Vec<Value> = payments
        .iter()
        .map(|(id, amount, vs)| {
            json!({
                "column22": {"value": id},
                "column0": {"value": "2026-11-27+0100"},
                "column1": {"value": amount.parse::<f64>().unwrap()},
                "column14": {"value": "CZK"},
                "column5": {"value": vs},
                "column10": {"value": "Novák, Jan"},
            })
        })
        .collect();
    json!({"accountStatement": {
        "info": {"iban": "CZ7920100000002000000000", "currency": "CZK"},
        "transactionList": {"transaction": txs},
    }})
    .to_string()
}

fn cli_json(app: &App, args: &[&str]) -> Value {
    let out = app.cli(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the command prints JSON")
}

#[tokio::test]
async fn top_up_statement_import_credit_and_invoice() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let dir = tempfile::tempdir().unwrap();

        // A price list: 0.50 per segment to Czech mobile numbers from now on.
        let csv = dir.path().join("prices.csv");
        std::fs::write(&csv, "prefix,price_czk\n420,0.50\n").unwrap();
        let r = cli_json(&app, &["prices", "import", csv.to_str().unwrap()]);
        assert_eq!(r["entries"], 1);
        let prices = app.get("/v1/prices").await;
        assert_eq!(prices.status, 200, "{}", prices.text);
        assert_eq!(prices.body["prices"][0]["prefix"], "420");
        assert_eq!(prices.body["prices"][0]["price_czk"], "0.50");
        assert_eq!(prices.body["default_price_czk"], "0.90");
        let sent = app
            .post(
                "/v1/messages",
                &json!({"to": ["+420777123456", "+421901123456"], "text": "hi"}),
            )
            .await;
        assert_eq!(sent.status, 202, "{}", sent.text);
        assert_eq!(sent.body["messages"][0]["price_czk"], "0.50");
        assert_eq!(
            sent.body["messages"][1]["price_czk"], "0.90",
            "no list has +421: the default price"
        );

        // Invoice details, then a payment request.
        let details = app
            .send(
                reqwest::Method::PUT,
                "/v1/account/billing",
                Some(&app.key.clone()),
                Some(&json!({"name": "Šťastný & syn s.r.o.", "address": "Brno", "ico": "12345678", "dic": "CZ12345678"})),
            )
            .await;
        assert_eq!(details.status, 200, "{}", details.text);
        let vs = details.body["variable_symbol"].as_str().unwrap().to_owned();

        let top_up = app
            .post("/v1/top-ups", &json!({"amount_czk": "500.00"}))
            .await;
        assert_eq!(top_up.status, 201, "{}", top_up.text);
        assert_eq!(top_up.body["variable_symbol"], vs.as_str());
        assert_eq!(top_up.body["amount_czk"], "500.00");
        let spayd = top_up.body["spayd"].as_str().unwrap();
        assert!(spayd.starts_with("SPD*1.0*ACC:CZ"), "{spayd}");
        assert!(spayd.contains("*AM:500.00*"), "{spayd}");
        assert!(spayd.contains(&format!("*X-VS:{vs}")), "{spayd}");
        assert!(spayd.contains("*CRC32:"), "{spayd}");
        assert!(top_up.body["due_date"].as_str().unwrap().len() == 10);
        let qr = app.get(top_up.body["qr_svg"].as_str().unwrap()).await;
        assert_eq!(qr.status, 200);
        assert_eq!(qr.content_type, "image/svg+xml");
        assert!(qr.text.contains("<svg"));
        app.post("/v1/top-ups", &json!({"amount_czk": "1.00"}))
            .await
            .assert_problem(422, "invalid-amount");
        app.post("/v1/top-ups", &json!({"amount_czk": 500}))
            .await
            .assert_problem(400, "malformed-request");
        assert_eq!(app.get("/v1/top-ups/999999").await.status, 404);

        let before = app.get("/v1/balance").await.body["available_czk"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(before, "998.60");

        // A corrupt statement is refused whole and names the place at fault.
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, &fio_statement(&[(1, "500.00", &vs)])[..60]).unwrap();
        let out = app.cli(&["payments", "import", bad.to_str().unwrap()]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("nothing was imported"), "{err}");
        assert!(err.contains("Fio JSON"), "{err}");

        // The statement: our payment (VS padded with zeros) and one nobody can pair.
        let file = dir.path().join("statement.json");
        let padded = format!("{vs:0>10}");
        std::fs::write(
            &file,
            fio_statement(&[(26110201, "500.00", &padded), (26110202, "42.00", "55")]),
        )
        .unwrap();
        let r = cli_json(&app, &["payments", "import", file.to_str().unwrap()]);
        assert_eq!(
            (r["credited"].as_u64(), r["unpaired"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(r["credited_czk"], "500.00");
        let again = cli_json(&app, &["payments", "import", file.to_str().unwrap()]);
        assert_eq!(
            (again["credited"].as_u64(), again["duplicates"].as_u64()),
            (Some(0), Some(2))
        );

        let balance = app.get("/v1/balance").await;
        assert_eq!(balance.body["available_czk"], "1498.60", "{}", balance.text);

        let list = app.get("/v1/invoices").await;
        assert_eq!(list.status, 200, "{}", list.text);
        let invoices = list.body["invoices"].as_array().unwrap();
        assert_eq!(invoices.len(), 1);
        let inv = &invoices[0];
        assert!(inv["number"].as_str().unwrap().starts_with("FV20"));
        assert_eq!(inv["total_czk"], "500.00");
        assert_eq!(inv["base_czk"], "413.22");
        assert_eq!(inv["vat_czk"], "86.78");
        assert_eq!(inv["vat_rate_percent"], "21");
        assert_eq!(inv["taxable_supply_date"], "2026-11-27");
        assert_eq!(inv["customer"]["name"], "Šťastný & syn s.r.o.");
        assert_eq!(inv["customer"]["dic"], "CZ12345678");
        assert_eq!(inv["variable_symbol"], vs.as_str());
        assert!(inv["supplier"]["dic"].as_str().is_some());
        let one = app.get(&format!("/v1/invoices/{}", inv["id"])).await;
        assert_eq!(one.body, *inv);

        let pdf = app
            .client
            .get(app.url(inv["pdf"].as_str().unwrap()))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(pdf.status(), 200);
        assert_eq!(
            pdf.headers()[reqwest::header::CONTENT_TYPE],
            "application/pdf"
        );
        let bytes = pdf.bytes().await.unwrap();
        assert!(bytes.starts_with(b"%PDF-"));

        // Another customer sees none of it.
        let (_, other_key) = app.create_account("other@example.com", "0");
        let other = app
            .send(
                reqwest::Method::GET,
                &format!("/v1/invoices/{}.pdf", inv["id"]),
                Some(&other_key),
                None,
            )
            .await;
        assert_eq!(other.status, 404);

        // Staff pair the unknown payment by hand; the decision is logged with the credit.
        let out = app.cli(&["payments", "unpaired"]);
        let queue: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(queue.len(), 1);
        assert_eq!(queue[0]["amount"], "42.00");
        let id = queue[0]["id"].to_string();
        let r = cli_json(
            &app,
            &[
                "payments",
                "pair",
                "--transaction",
                &id,
                "--account",
                &app.account,
                "--by",
                "staff:eva",
                "--note",
                "phoned",
            ],
        );
        assert!(r["document"].as_str().is_some());
        assert_eq!(
            app.get("/v1/balance").await.body["available_czk"],
            "1540.60"
        );
        assert_eq!(
            app.get("/v1/invoices").await.body["invoices"]
                .as_array()
                .unwrap()
                .len(),
            2
        );

        // The low-credit threshold.
        let low = app
            .send(
                reqwest::Method::PUT,
                "/v1/account/low-credit",
                Some(&app.key.clone()),
                Some(&json!({"threshold_czk": "100.00"})),
            )
            .await;
        assert_eq!(low.status, 200, "{}", low.text);
        assert_eq!(low.body["threshold_czk"], "100.00");

        let doc = app.get("/openapi.json").await;
        for path in ["/v1/prices", "/v1/top-ups", "/v1/invoices/{id}"] {
            assert!(doc.body["paths"][path].is_object(), "{path} undocumented");
        }
    }
}
