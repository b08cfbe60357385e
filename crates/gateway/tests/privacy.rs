//! Privacy through the real binary on SQLite and PostgreSQL: a complaint ticket holding its
//! message past the retention period and its release, `retention run` with a moved clock, the
//! staff's audit check, retention report and lawful request over the API, an objection, and
//! `apisendsms audit verify` failing, naming the entry, after an entry is edited in the database.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::browser::{sign_up, sign_up_staff, Browser, Person};
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

async fn pool(app: &App) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&app.db.url).await.unwrap()
}

async fn store_of(app: &App) -> store::Store {
    store::Store::connect(&app.db.url, store::StoreOptions::default())
        .await
        .unwrap()
}

/// (to, body) of the outbox e-mails with this subject.
async fn outbox(pool: &sqlx::AnyPool, subject: &str) -> Vec<(String, String)> {
    use sqlx::Row;
    sqlx::query("SELECT to_address, body FROM email_outbox WHERE subject = $1 ORDER BY id")
        .bind(subject)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("to_address"), r.get("body")))
        .collect()
}

/// Live, granted consents of a web user to a purpose.
async fn live_consents(pool: &sqlx::AnyPool, user: i64, purpose: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(
        "SELECT COUNT(*) AS n FROM consents WHERE subject = $1 AND purpose = $2 AND granted = 1 AND withdrawn_at IS NULL",
    )
    .bind(format!("user:{user}"))
    .bind(purpose)
    .fetch_one(pool)
    .await
    .unwrap()
    .get("n")
}

/// Audit entries of an action about a subject.
async fn audited(pool: &sqlx::AnyPool, action: &str, subject: &str) -> Vec<(String, String)> {
    use sqlx::Row;
    sqlx::query(
        "SELECT reason, details FROM audit_log WHERE action = $1 AND subject = $2 ORDER BY id",
    )
    .bind(action)
    .bind(subject)
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("reason"), r.get("details")))
    .collect()
}

#[tokio::test]
async fn marketing_email_carries_a_working_withdrawal_link() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let store = store_of(&app).await;
        let db = pool(&app).await;
        let person = |email, name, address, marketing| Person {
            email,
            name,
            address,
            phone: None,
            marketing,
        };
        let (_, jana) = sign_up(
            &app,
            &store,
            &person("jana@example.cz", "Jana Nováková", "Dlouhá 1, Praha", true),
            "customer",
        )
        .await;
        sign_up(
            &app,
            &store,
            &person("petr@example.cz", "Petr Svoboda", "Krátká 2, Brno", false),
            "customer",
        )
        .await;
        let mut admin = sign_up_staff(&app, &store, "admin").await;
        let mut dpo = sign_up_staff(&app, &store, "dpo").await;

        // Marketing is the administrator's duty, not the DPO's.
        assert_eq!(dpo.get("/admin/marketing").await.status, 403);
        let page = admin.get("/admin/marketing").await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("data-audience=\"marketing_email\""),
            "{}",
            page.body
        );
        let sent = admin
            .post(
                "/admin/marketing",
                &[
                    ("purpose", "marketing_email"),
                    ("subject", "Novinky v listopadu"),
                    ("body", "Nové ceny SMS od prosince."),
                ],
            )
            .await;
        assert_eq!(sent.status, 303, "{}", sent.body);
        assert!(sent.location.unwrap().contains("sent=1"));

        // Only the subject with a live consent got it, with the signed link.
        let mails = outbox(&db, "Novinky v listopadu").await;
        assert_eq!(mails.len(), 1, "{mails:?}");
        assert_eq!(mails[0].0, "jana@example.cz");
        let link = mails[0]
            .1
            .lines()
            .find(|l| l.contains("/odvolat-souhlas?"))
            .expect("the withdrawal link")
            .trim()
            .to_owned();
        assert!(link.starts_with(&app.base), "{link}");
        assert!(link.contains(&format!("s=user%3A{}", jana.id)), "{link}");

        // A tampered link is refused and withdraws nothing, by GET or by POST.
        let mut visitor = Browser::new(&app);
        let tampered = format!("{}0", link.trim_end_matches(|c: char| c != '='));
        assert_eq!(visitor.get(&tampered).await.status, 403);
        let sig = link.split("sig=").nth(1).unwrap().to_owned();
        let s = format!("user:{}", jana.id);
        let forged = visitor
            .post(
                "/odvolat-souhlas",
                &[
                    ("s", &s),
                    ("p", "marketing_email"),
                    ("sig", "0".repeat(sig.len()).as_str()),
                ],
            )
            .await;
        assert_eq!(forged.status, 403);
        let other = visitor
            .post(
                "/odvolat-souhlas",
                &[("s", "user:1"), ("p", "marketing_email"), ("sig", &sig)],
            )
            .await;
        assert_eq!(other.status, 403, "a signature is for its own subject");
        assert_eq!(live_consents(&db, jana.id, "marketing_email").await, 1);

        // The real link: one button without signing in; pressing it withdraws at once.
        let page = visitor.get(&link).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("action=\"/odvolat-souhlas\""));
        let done = visitor
            .post(
                "/odvolat-souhlas",
                &[("s", &s), ("p", "marketing_email"), ("sig", &sig)],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(live_consents(&db, jana.id, "marketing_email").await, 0);

        // The next e-mail reaches nobody.
        let again = admin
            .post(
                "/admin/marketing",
                &[
                    ("purpose", "marketing_email"),
                    ("subject", "Novinky v prosinci"),
                    ("body", "Další novinky."),
                ],
            )
            .await;
        assert!(again.location.unwrap().contains("sent=0"));
        assert!(outbox(&db, "Novinky v prosinci").await.is_empty());
        assert_eq!(audited(&db, "marketing.send", "campaign:0").await.len(), 0);
        let sends: i64 = {
            use sqlx::Row;
            sqlx::query("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'marketing.send'")
                .fetch_one(&db)
                .await
                .unwrap()
                .get("n")
        };
        assert_eq!(sends, 2);
        db.close().await;
        store.close().await;
    }
}

#[tokio::test]
async fn identity_codes_go_by_sms_through_the_queue_hashed_and_limited() {
    for backend in backends().await {
        let mut app = App::spawn(backend).await;
        // The operator's own account carries the code SMS.
        let operator = app.account.clone();
        app.set_env("APISENDSMS_WEB__CODE_SMS_ACCOUNT", &operator);
        app.terminate();
        app.start();
        let store = store_of(&app).await;
        let db = pool(&app).await;
        let (_, jana) = sign_up(
            &app,
            &store,
            &Person {
                email: "jana@example.cz",
                name: "Jana Nováková",
                address: "Dlouhá 1, Praha",
                phone: Some("777 111 222"),
                marketing: false,
            },
            "customer",
        )
        .await;
        sign_up(
            &app,
            &store,
            &Person {
                email: "petr@example.cz",
                name: "Petr Svoboda",
                address: "Krátká 2, Brno",
                phone: None,
                marketing: false,
            },
            "customer",
        )
        .await;
        let mut dpo = sign_up_staff(&app, &store, "dpo").await;

        // Without a registered phone the SMS path is refused, and nothing is filed.
        let r = dpo
            .post(
                "/admin/dsr",
                &[
                    ("email", "petr@example.cz"),
                    ("kind", "access"),
                    ("verified", ""),
                    ("channel", "phone"),
                ],
            )
            .await;
        assert_eq!(r.location.as_deref(), Some("/admin/dsr?error=phone"));

        let r = dpo
            .post(
                "/admin/dsr",
                &[
                    ("email", "jana@example.cz"),
                    ("kind", "access"),
                    ("verified", ""),
                    ("channel", "phone"),
                ],
            )
            .await;
        assert_eq!(
            r.location.as_deref(),
            Some("/admin/dsr?done=filed"),
            "{}",
            r.body
        );
        let requests = store.data_requests(Some(jana.id), false).await.unwrap();
        assert_eq!(requests.len(), 1);
        let request = requests[0].id;
        assert_eq!(requests[0].status, "unverified");

        // The SMS went through the operator account's queue to the registered phone.
        let r = app.get("/v1/messages?limit=10").await;
        let msgs = r.body["messages"].as_array().unwrap().clone();
        let sms = msgs
            .iter()
            .find(|m| m["to"] == "+420777111222")
            .unwrap_or_else(|| panic!("{}", r.text));
        let sms_id = sms["id"].as_str().unwrap().to_owned();
        app.wait_for_status(&sms_id, "delivered", Duration::from_secs(10))
            .await;
        let text: String = {
            use sqlx::Row;
            sqlx::query("SELECT body FROM messages WHERE id = $1")
                .bind(sms_id.parse::<i64>().unwrap())
                .fetch_one(&db)
                .await
                .unwrap()
                .get("body")
        };
        let code: String = text
            .rsplit(": ")
            .next()
            .unwrap()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        assert_eq!(code.len(), 6, "{text}");

        // At rest only the hash; no e-mail and no audit entry holds the code.
        let stored: String = {
            use sqlx::Row;
            sqlx::query("SELECT code_hash FROM data_requests WHERE id = $1")
                .bind(request)
                .fetch_one(&db)
                .await
                .unwrap()
                .get("code_hash")
        };
        assert!(stored.starts_with("code_phone:") && !stored.contains(&code));
        let leaks: i64 = {
            use sqlx::Row;
            sqlx::query(
                "SELECT (SELECT COUNT(*) FROM email_outbox WHERE body LIKE $1) + \
                 (SELECT COUNT(*) FROM audit_log WHERE details LIKE $1 OR reason LIKE $1) AS n",
            )
            .bind(format!("%{code}%"))
            .fetch_one(&db)
            .await
            .unwrap()
            .get("n")
        };
        assert_eq!(leaks, 0);

        // A wrong code counts; the right one verifies, and the SMS's stored text is redacted.
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let path = format!("/admin/dsr/{request}/verify");
        let r = dpo.post(&path, &[("code", wrong)]).await;
        assert_eq!(r.location.as_deref(), Some("/admin/dsr?error=1"));
        let r = dpo.post(&path, &[("code", &code)]).await;
        assert_eq!(r.location.as_deref(), Some("/admin/dsr?done=verified"));
        let r = store.data_request(request).await.unwrap().unwrap();
        assert_eq!(
            (r.status.as_str(), r.verified_by.as_deref()),
            ("open", Some("code_phone"))
        );
        let text: String = {
            use sqlx::Row;
            sqlx::query("SELECT body FROM messages WHERE id = $1")
                .bind(sms_id.parse::<i64>().unwrap())
                .fetch_one(&db)
                .await
                .unwrap()
                .get("body")
        };
        assert_eq!(text, store::CODE_REDACTED);

        // Five wrong tries use a code up: the right one no longer verifies.
        let r = dpo
            .post(
                "/admin/dsr",
                &[
                    ("email", "jana@example.cz"),
                    ("kind", "portability"),
                    ("verified", ""),
                    ("channel", "phone"),
                ],
            )
            .await;
        assert_eq!(r.location.as_deref(), Some("/admin/dsr?done=filed"));
        let second = store
            .data_requests(Some(jana.id), true)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.kind == store::RequestKind::Portability)
            .unwrap()
            .id;
        let code: String = {
            use sqlx::Row;
            let id: i64 = sqlx::query("SELECT code_message_id FROM data_requests WHERE id = $1")
                .bind(second)
                .fetch_one(&db)
                .await
                .unwrap()
                .get("code_message_id");
            let body: String = sqlx::query("SELECT body FROM messages WHERE id = $1")
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap()
                .get("body");
            body.rsplit(": ")
                .next()
                .unwrap()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect()
        };
        // Half an hour later the code has expired.
        assert_eq!(
            store
                .verify_request_code(second, &hash(&code), store::now_us() + 31 * 60_000_000)
                .await
                .unwrap(),
            store::CodeCheck::NotLive
        );
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            assert_eq!(
                store
                    .verify_request_code(second, &hash(wrong), store::now_us())
                    .await
                    .unwrap(),
                store::CodeCheck::Wrong
            );
        }
        assert_eq!(
            store
                .verify_request_code(second, &hash(&code), store::now_us())
                .await
                .unwrap(),
            store::CodeCheck::NotLive
        );
        db.close().await;
        store.close().await;
    }
}

fn hash(code: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(code.as_bytes()))
}

#[tokio::test]
async fn restriction_is_enforced_and_lifted_and_data_rectified() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let store = store_of(&app).await;
        let db = pool(&app).await;
        let person = |email, name, address, marketing| Person {
            email,
            name,
            address,
            phone: None,
            marketing,
        };
        let (mut jana, user) = sign_up(
            &app,
            &store,
            &person("jana@example.cz", "Jana Nováková", "Dlouhá 1, Praha", true),
            "customer",
        )
        .await;
        let mut support = sign_up_staff(&app, &store, "support").await;
        let mut dpo = sign_up_staff(&app, &store, "dpo").await;
        let mut admin = sign_up_staff(&app, &store, "admin").await;
        let subject = format!("user:{}", user.id);

        // The customer corrects their own details; the audit names the fields, not the values.
        let details = |name: &'static str, billing: &'static str| {
            vec![
                ("full_name", name),
                ("email", "jana@example.cz"),
                ("address", "Dlouhá 1, Praha"),
                ("phone", ""),
                ("company", ""),
                ("ico", ""),
                ("dic", ""),
                ("billing_name", billing),
                ("billing_address", ""),
                ("billing_ico", ""),
                ("billing_dic", ""),
            ]
        };
        let r = jana
            .post(
                "/app/privacy/details",
                &details("Jana Dvořáková", "Jana Dvořáková, OSVČ"),
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let u = store.web_user(user.id).await.unwrap().unwrap();
        assert_eq!(u.full_name, "Jana Dvořáková");
        let b = store
            .billing_account(user.account, store::now_us())
            .await
            .unwrap();
        assert_eq!(b.customer_name.as_deref(), Some("Jana Dvořáková, OSVČ"));
        let entries = audited(&db, "dsr.rectify", &subject).await;
        assert_eq!(
            entries,
            vec![("app".to_owned(), "fields=full_name,billing_name".to_owned())]
        );
        // Another account's e-mail is refused.
        let mut taken = details("Jana Dvořáková", "Jana Dvořáková, OSVČ");
        taken[1].1 = "support@operator.example";
        let r = jana.post("/app/privacy/details", &taken).await;
        assert_eq!(r.location.as_deref(), Some("/app/privacy?error=email"));

        // A restriction request, granted by the DPO.
        let r = jana
            .post(
                "/app/privacy/requests",
                &[("kind", "restriction"), ("details", "Údaje nejsou přesné.")],
            )
            .await;
        assert_eq!(r.status, 303);
        let request = store.data_requests(Some(user.id), true).await.unwrap()[0].id;
        assert!(support.get("/admin/").await.body.contains("Jana Dvořáková"));
        assert_eq!(
            support
                .post(&format!("/admin/dsr/{request}/restrict"), &[])
                .await
                .status,
            403,
            "only the DPO grants it"
        );
        let r = dpo
            .post(&format!("/admin/dsr/{request}/restrict"), &[])
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(store
            .data_request(request)
            .await
            .unwrap()
            .unwrap()
            .closed_at
            .is_some());
        let restriction = store.restriction_of(user.account).await.unwrap().unwrap();

        // While restricted: other staff see no personal data, with a clear message; the DPO does.
        let list = support.get("/admin/").await;
        assert!(!list.body.contains("Jana Dvořáková"), "{}", list.body);
        assert!(!list.body.contains("jana@example.cz"));
        assert!(list
            .body
            .contains(&format!("data-restricted=\"{}\"", user.account)));
        assert!(
            list.body.contains("Processing of some customers")
                || list.body.contains("Zpracování údajů některých")
        );
        assert!(dpo.get("/admin/").await.body.contains("Jana Dvořáková"));
        // ... and no marketing reaches the customer.
        let r = admin
            .post(
                "/admin/marketing",
                &[
                    ("purpose", "marketing_email"),
                    ("subject", "Akce"),
                    ("body", "Sleva."),
                ],
            )
            .await;
        assert!(r.location.unwrap().contains("sent=0"));
        assert!(outbox(&db, "Akce").await.is_empty());

        // Lifting needs a reason and is recorded; then both come back.
        let lift = format!("/admin/restrictions/{}/lift", restriction.id);
        assert_eq!(support.post(&lift, &[("reason", "x")]).await.status, 403);
        let r = dpo
            .post(&lift, &[("reason", "Přesnost údajů ověřena.")])
            .await;
        assert_eq!(
            r.location.as_deref(),
            Some("/admin/dsr?done=lifted#restrictions")
        );
        assert!(store.restriction_of(user.account).await.unwrap().is_none());
        assert_eq!(
            audited(&db, "restriction.lift", &subject).await[0].0,
            "Přesnost údajů ověřena."
        );
        assert_eq!(audited(&db, "restriction.grant", &subject).await.len(), 1);
        assert!(support.get("/admin/").await.body.contains("Jana Dvořáková"));
        admin
            .post(
                "/admin/marketing",
                &[
                    ("purpose", "marketing_email"),
                    ("subject", "Akce 2"),
                    ("body", "Sleva."),
                ],
            )
            .await;
        assert_eq!(outbox(&db, "Akce 2").await.len(), 1);

        // Rectification applied by the DPO through the request.
        jana.post(
            "/app/privacy/requests",
            &[
                ("kind", "rectification"),
                ("details", "Nová adresa: Nová 5, Praha"),
            ],
        )
        .await;
        let request = store.data_requests(Some(user.id), true).await.unwrap()[0].id;
        assert_eq!(
            support
                .get(&format!("/admin/dsr/{request}/rectify"))
                .await
                .status,
            403
        );
        let form = dpo.get(&format!("/admin/dsr/{request}/rectify")).await;
        assert_eq!(form.status, 200);
        assert!(form.body.contains("Dlouhá 1, Praha"));
        let mut fixed = details("Jana Dvořáková", "Jana Dvořáková, OSVČ");
        fixed[2].1 = "Nová 5, Praha";
        let r = dpo
            .post(&format!("/admin/dsr/{request}/rectify"), &fixed)
            .await;
        assert_eq!(
            r.location.as_deref(),
            Some("/admin/dsr?done=rectified"),
            "{}",
            r.body
        );
        assert_eq!(
            store.web_user(user.id).await.unwrap().unwrap().address,
            "Nová 5, Praha"
        );
        let r = store.data_request(request).await.unwrap().unwrap();
        assert_eq!(r.status, "done");
        assert!(r.answer.unwrap().contains("address"));
        let entries = audited(&db, "dsr.rectify", &subject).await;
        assert_eq!(
            entries[1],
            (format!("dsr:{request}"), "fields=address".to_owned())
        );
        db.close().await;
        store.close().await;
    }
}

/// RFC 3339 of `now` moved by whole years and then days, on the calendar.
fn in_years_and_days(years: i32, days: i64) -> String {
    let now = time::OffsetDateTime::now_utc();
    let moved = now.replace_year(now.year() + years).unwrap_or_else(|_| {
        now.replace_day(28)
            .unwrap()
            .replace_year(now.year() + years)
            .unwrap()
    }) + time::Duration::days(days);
    moved
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn contract_end_starts_former_customer_retention() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let store = store_of(&app).await;
        let db = pool(&app).await;
        let mut users = Vec::new();
        for (email, name, address) in [
            ("anna@example.cz", "Anna Malá", "Jarní 1, Praha"),
            ("bedrich@example.cz", "Bedřich Velký", "Letní 2, Brno"),
            ("cyril@example.cz", "Cyril Dlouhý", "Zimní 3, Ostrava"),
            ("dita@example.cz", "Dita Krátká", "Podzimní 4, Plzeň"),
        ] {
            let person = Person {
                email,
                name,
                address,
                phone: None,
                marketing: true,
            };
            users.push(sign_up(&app, &store, &person, "customer").await);
        }
        let accounts: Vec<String> = users.iter().map(|u| u.1.account.to_string()).collect();
        let account = |i: usize| accounts[i].clone();

        // The customer closes their own account; staff close the others; one is reopened.
        let anna_account = users[0].1.account;
        let (anna, _) = &mut users[0];
        let r = anna.post("/app/privacy/close", &[]).await;
        assert_eq!(
            r.location.as_deref(),
            Some("/app/privacy?error=confirm#contract")
        );
        let r = anna.post("/app/privacy/close", &[("confirm", "1")]).await;
        assert_eq!(r.status, 303);
        assert!(anna
            .get("/app/privacy")
            .await
            .body
            .contains("data-contract-ended"));
        // A closed account sends nothing, from the web app either (the writer refuses it).
        let refused = anna
            .post(
                "/app/send",
                &[
                    ("to", "777 123 456"),
                    ("text", "Dobrý den"),
                    ("action", "send"),
                ],
            )
            .await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert!(
            refused.body.contains("the account was closed"),
            "{}",
            refused.body
        );
        assert!(
            store
                .list_messages(anna_account, &Default::default())
                .await
                .unwrap()
                .is_empty(),
            "nothing stored"
        );
        for i in 1..3 {
            cli_json(
                &app,
                &[
                    "accounts",
                    "close",
                    "--account",
                    &account(i),
                    "--reason",
                    "výpověď",
                ],
            );
        }
        // Staff end Dita's contract in the back office, with the reason; a customer cannot.
        let mut support = sign_up_staff(&app, &store, "support").await;
        let dita = users[3].1.account;
        let close = format!("/admin/customers/{}/close", account(3));
        let r = users[3].0.post(&close, &[("reason", "výpověď")]).await;
        assert_eq!(r.status, 403, "{}", r.body);
        let r = support.post(&close, &[("reason", "  ")]).await;
        assert_eq!(r.location.as_deref(), Some("/admin/?error=reason"));
        assert!(store.contract_ended_at(dita).await.unwrap().is_none());
        let page = support.get("/admin/").await;
        assert!(
            page.body.contains(&format!("action=\"{close}\"")),
            "{}",
            page.body
        );
        let r = support.post(&close, &[("reason", "výpověď")]).await;
        assert_eq!(r.location.as_deref(), Some("/admin/?done=closed"));
        assert!(store.contract_ended_at(dita).await.unwrap().is_some());
        let r = support.post(&close, &[("reason", "znovu")]).await;
        assert_eq!(r.location.as_deref(), Some("/admin/?error=state"));
        let page = support.get("/admin/?done=closed").await;
        assert!(
            page.body.contains(&format!(
                "action=\"/admin/customers/{}/reopen\"",
                account(3)
            )),
            "{}",
            page.body
        );
        let actor: String = {
            use sqlx::Row;
            sqlx::query(
                "SELECT actor FROM audit_log WHERE action = 'contract.end' AND subject = $1",
            )
            .bind(format!("account:{}", account(3)))
            .fetch_one(&db)
            .await
            .unwrap()
            .get("actor")
        };
        assert_eq!(actor, "support@operator.example");
        assert_eq!(
            audited(&db, "contract.end", &format!("account:{}", account(3))).await[0].0,
            "výpověď"
        );
        let out = app.cli(&[
            "accounts",
            "close",
            "--account",
            &account(1),
            "--reason",
            "znovu",
        ]);
        assert!(!out.status.success(), "closed already");
        let r = support
            .post(
                &format!("/admin/customers/{}/reopen", account(3)),
                &[("reason", "nová smlouva")],
            )
            .await;
        assert_eq!(r.location.as_deref(), Some("/admin/?done=reopened"));
        let out = app.cli(&[
            "accounts",
            "reopen",
            "--account",
            &account(3),
            "--reason",
            "znovu",
        ]);
        assert!(!out.status.success(), "open already");
        assert!(store
            .contract_ended_at(users[3].1.account)
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            audited(&db, "contract.end", &format!("account:{}", account(0))).await[0].0,
            "closed by the customer"
        );
        assert_eq!(
            audited(&db, "contract.reopen", &format!("account:{}", account(3)))
                .await
                .len(),
            1
        );
        // A dispute keeps Cyril's record.
        cli_json(
            &app,
            &[
                "retention",
                "hold",
                "--account",
                &account(2),
                "--reason",
                "soudní spor",
            ],
        );

        // Marketing to former customers: one day inside the year, then one day past it.
        let run = cli_json(
            &app,
            &["retention", "run", "--now", &in_years_and_days(1, -1)],
        );
        assert_eq!(
            run["categories"]["former_customer_marketing"]["deleted"], 0,
            "{run}"
        );
        assert_eq!(
            live_consents(&db, users[0].1.id, "marketing_email").await,
            1
        );
        let run = cli_json(
            &app,
            &["retention", "run", "--now", &in_years_and_days(1, 1)],
        );
        assert_eq!(
            run["categories"]["former_customer_marketing"]["deleted"], 3,
            "{run}"
        );
        for (i, live) in [(0, 0), (1, 0), (2, 0), (3, 1)] {
            assert_eq!(
                live_consents(&db, users[i].1.id, "marketing_email").await,
                live,
                "user {i}"
            );
        }
        assert_eq!(
            audited(
                &db,
                "retention.end_marketing",
                &format!("account:{}", account(0))
            )
            .await
            .len(),
            1
        );

        // The customer record: ten years, the same two sides; the legal hold keeps one.
        let run = cli_json(
            &app,
            &["retention", "run", "--now", &in_years_and_days(10, -1)],
        );
        assert_eq!(run["categories"]["customer_record"]["deleted"], 0, "{run}");
        assert_eq!(
            store
                .web_user(users[0].1.id)
                .await
                .unwrap()
                .unwrap()
                .full_name,
            "Anna Malá"
        );
        let dry = cli_json(
            &app,
            &[
                "retention",
                "run",
                "--dry-run",
                "--now",
                &in_years_and_days(10, 1),
            ],
        );
        assert_eq!(dry["categories"]["customer_record"]["deleted"], 2, "{dry}");
        assert_eq!(dry["categories"]["customer_record"]["held"], 1, "{dry}");
        let run = cli_json(
            &app,
            &["retention", "run", "--now", &in_years_and_days(10, 1)],
        );
        assert_eq!(run["categories"]["customer_record"]["deleted"], 2, "{run}");
        assert_eq!(run["categories"]["customer_record"]["held"], 1, "{run}");
        for i in [0, 1] {
            let u = store.web_user(users[i].1.id).await.unwrap().unwrap();
            assert_eq!(u.full_name, store::ERASED, "user {i}");
            assert!(u.email.ends_with("@invalid"));
        }
        for i in [2, 3] {
            let u = store.web_user(users[i].1.id).await.unwrap().unwrap();
            assert_ne!(u.full_name, store::ERASED, "user {i} is kept");
        }
        let erased: i64 = {
            use sqlx::Row;
            sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE record_erased_at IS NOT NULL AND name = $1")
                .bind(store::ERASED)
                .fetch_one(&db)
                .await
                .unwrap()
                .get("n")
        };
        assert_eq!(erased, 2);
        // A second run finds nothing more to do; the chain still verifies.
        let run = cli_json(
            &app,
            &["retention", "run", "--now", &in_years_and_days(10, 2)],
        );
        assert_eq!(run["categories"]["customer_record"]["deleted"], 0, "{run}");
        assert_eq!(cli_json(&app, &["audit", "verify"])["ok"], true);
        db.close().await;
        store.close().await;
    }
}
