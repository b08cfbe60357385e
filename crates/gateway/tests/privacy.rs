//! Privacy through the real binary on SQLite and PostgreSQL: a complaint ticket holding its
//! message past the retention period and its release, `retention run` with a moved clock, the
//! staff's audit check, retention report and lawful request over the API, an objection, and
//! `apisendsms audit verify` failing, naming the entry, after an entry is edited in the database.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{backends, rfc3339_in_days, App, Backend};

fn cli_json(app: &App, args: &[&str]) -> Value {
    let out = app.cli(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

async fn tamper(url: &str, backend: Backend, sql: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let disable = match backend {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
        Backend::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
    };
    sqlx::query(disable).execute(&pool).await.unwrap();
    sqlx::query(sql).execute(&pool).await.unwrap();
    pool.close().await;
}

#[tokio::test]
async fn tickets_holds_retention_audit_and_lawful_requests() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let staff = cli_json(
            &app,
            &[
                "accounts",
                "create",
                "--email",
                "dpo@operator.example",
                "--name",
                "DPO",
                "--staff",
            ],
        );
        let staff_key = staff["api_key"].as_str().unwrap().to_owned();
        let as_staff = |method: reqwest::Method, path: &'static str, body: Option<Value>| {
            let app = &app;
            let key = staff_key.clone();
            async move { app.send(method, path, Some(&key), body.as_ref()).await }
        };

        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "+420777123456", "text": "Hello"}),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        let id = r.body["messages"][0]["id"].as_str().unwrap().to_owned();
        app.wait_for_status(&id, "delivered", Duration::from_secs(10))
            .await;

        // A complaint about the message: a ticket, its conversation, and a legal hold.
        let r = app
            .post(
                "/v1/privacy/tickets",
                &json!({"kind": "complaint_message", "subject": "Not delivered", "body": "It never came.", "message_id": id}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let ticket = r.body["id"].as_str().unwrap().to_owned();
        app.post(
            "/v1/privacy/tickets",
            &json!({"kind": "complaint_message", "subject": "x", "body": "y"}),
        )
        .await
        .assert_problem(422, "missing-message-id");
        let r = app
            .post(
                &format!("/v1/privacy/tickets/{ticket}/messages"),
                &json!({"body": "Any news?"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = app.get(&format!("/v1/privacy/tickets/{ticket}")).await;
        assert_eq!(
            r.body["messages"].as_array().unwrap().len(),
            2,
            "{}",
            r.text
        );

        // Staff only: the customer gets 403.
        app.get("/v1/privacy/audit/verify")
            .await
            .assert_problem(403, "forbidden");
        let r = as_staff(reqwest::Method::GET, "/v1/privacy/retention", None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            r.body["legal_holds"].as_array().unwrap().len(),
            1,
            "{}",
            r.text
        );
        let r = as_staff(
            reqwest::Method::POST,
            "/v1/privacy/lawful-requests",
            Some(json!({"number": "777 123 456", "from": rfc3339_in_days(-1), "to": rfc3339_in_days(1), "reference": "KRPA-1234/TČ-2026"})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            r.body["data"]["messages_to"].as_array().unwrap().len(),
            1,
            "{}",
            r.text
        );

        // Seven months on, the message is past its period but held by the complaint.
        let later = rfc3339_in_days(7 * 31);
        let run = cli_json(&app, &["retention", "run", "--now", &later]);
        assert_eq!(run["categories"]["traffic_data"]["held"], 1, "{run}");
        assert_eq!(run["categories"]["traffic_data"]["deleted"], 0, "{run}");
        assert_eq!(app.get(&format!("/v1/messages/{id}")).await.status, 200);
        cli_json(&app, &["privacy", "resolve-ticket", "--id", &ticket]);
        let dry = cli_json(&app, &["retention", "run", "--dry-run", "--now", &later]);
        assert_eq!(dry["categories"]["traffic_data"]["deleted"], 1, "{dry}");
        assert_eq!(app.get(&format!("/v1/messages/{id}")).await.status, 200);
        let run = cli_json(&app, &["retention", "run", "--now", &later]);
        assert_eq!(run["categories"]["traffic_data"]["deleted"], 1, "{run}");
        assert_eq!(app.get(&format!("/v1/messages/{id}")).await.status, 404);

        // An objection from the customer's recipient.
        let r = app
            .post(
                "/v1/privacy/objections",
                &json!({"number": "+420777000001"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        app.post(
            "/v1/privacy/objections",
            &json!({"number": "+420777000001", "scope": "global"}),
        )
        .await
        .assert_problem(403, "forbidden");

        // The chain verifies, over the API and the CLI; then an entry is edited in the database.
        let r = as_staff(reqwest::Method::GET, "/v1/privacy/audit/verify", None).await;
        assert_eq!(r.body["ok"], true, "{}", r.text);
        let entries = r.body["entries"].as_i64().unwrap();
        assert!(entries >= 6, "{}", r.text);
        assert_eq!(cli_json(&app, &["audit", "verify"])["ok"], true);
        tamper(
            &app.db.url,
            backend,
            "UPDATE audit_log SET reason = 'nothing to see' WHERE id = 4",
        )
        .await;
        let out = app.cli(&["audit", "verify"]);
        assert!(!out.status.success(), "verify must fail after an edit");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["first_bad_entry"], 4, "{v}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("audit entry 4"));
        let r = as_staff(reqwest::Method::GET, "/v1/privacy/audit/verify", None).await;
        assert_eq!(
            (r.body["ok"].clone(), r.body["first_bad_entry"].clone()),
            (json!(false), json!("4"))
        );
    }
}
