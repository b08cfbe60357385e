//! The web through the real binary on SQLite and PostgreSQL: only the necessary cookie before a
//! choice, CSRF, the cookie choice recorded and withdrawn on `/osobni-udaje/`, registration
//! (under 18 refused), sign-in only after verification, sending from the app until delivered.
//! The browser tests in `web-tests/` cover the same in Chromium.

mod support;

use std::time::Duration;

use support::browser::Browser;
use support::{backends, App};

/// The value of the first `name="NAME" value="…"` in a page.
fn field_value(body: &str, name: &str) -> Option<String> {
    let at = body.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &body[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

#[tokio::test]
async fn cookie_choice_is_recorded_and_withdrawn() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let mut b = Browser::new(&app);

        let home = b.get("/").await;
        assert_eq!(home.status, 200, "{backend:?}");
        assert!(home.body.contains("cookie-banner"));
        let names: Vec<_> = b.jar.keys().cloned().collect();
        assert_eq!(
            names,
            vec!["csrf"],
            "only the necessary CSRF cookie before a choice"
        );
        assert!(b.last_set[0].contains("HttpOnly") && b.last_set[0].contains("SameSite=Lax"));
        assert!(
            !b.last_set[0].contains("Secure"),
            "no Secure flag over plain HTTP"
        );

        // A forged form is refused and records nothing.
        let forged = b
            .post_raw(
                "/cookies/consent",
                &[("csrf", &"0".repeat(64)), ("choice", "all")],
            )
            .await;
        assert_eq!(forged.status, 403);
        assert!(!b.jar.contains_key("consent"));

        let csrf = b.csrf();
        let saved = b
            .post_raw(
                "/cookies/consent",
                &[
                    ("csrf", &csrf),
                    ("choice", "custom"),
                    ("statistics", "on"),
                    ("return_to", "/cenik/"),
                    ("source", "banner"),
                ],
            )
            .await;
        assert_eq!(saved.status, 303);
        assert_eq!(saved.location.as_deref(), Some("/cenik/"));
        let consent = b.jar.get("consent").cloned().unwrap();
        assert!(
            consent.starts_with("v1.") && consent.ends_with(".0100"),
            "{consent}"
        );
        assert!(!b.get("/cenik/").await.body.contains("cookie-banner"));

        // Four records: statistics given, the rest refused; one withdrawal button.
        let privacy = b.get("/osobni-udaje/").await;
        assert_eq!(privacy.status, 200);
        assert_eq!(privacy.body.matches("<tr><td>Cookies:").count(), 4);
        assert_eq!(privacy.body.matches("/osobni-udaje/odvolat\"").count(), 1);
        let id = field_value(&privacy.body, "id").expect("a consent to withdraw");
        let withdrawn = b
            .post_raw("/osobni-udaje/odvolat", &[("csrf", &csrf), ("id", &id)])
            .await;
        assert_eq!(withdrawn.status, 303);
        assert_eq!(withdrawn.location.as_deref(), Some("/osobni-udaje/?done=1"));
        assert!(b.jar["consent"].ends_with(".0000"));
        let after = b.get("/osobni-udaje/?done=1").await;
        assert!(after.body.contains("Souhlas byl odvolán"));
        assert_eq!(after.body.matches("/osobni-udaje/odvolat\"").count(), 0);
        // Withdrawing it again (or another's record) finds nothing.
        let again = b
            .post_raw("/osobni-udaje/odvolat", &[("csrf", &csrf), ("id", &id)])
            .await;
        assert_eq!(again.status, 404);
    }
}

#[tokio::test]
async fn register_verify_sign_in_and_send() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let mut b = Browser::new(&app);
        b.get("/app/register").await;
        let csrf = b.csrf();
        let today = time::OffsetDateTime::now_utc().date();
        let minor = today.replace_year(today.year() - 17).unwrap().to_string();
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("kind", "business"),
            ("full_name", "Jana Nováková"),
            ("company", "ACME s.r.o."),
            ("ico", "25596641"),
            ("dic", "CZ25596641"),
            ("address", "Světova 523/1, Praha"),
            ("email", "Jana@Example.cz"),
            ("birth_date", minor.as_str()),
            ("password", "correct horse battery"),
            ("terms", "on"),
        ];
        let refused = b.post_raw("/app/register", &form).await;
        assert_eq!(refused.status, 422, "{backend:?}");
        assert!(refused.body.contains("starším 18 let"));

        form[8].1 = "1990-02-03";
        let created = b.post_raw("/app/register", &form).await;
        assert_eq!(created.status, 200, "{}", created.body);
        let again = b.post_raw("/app/register", &form).await;
        assert_eq!(again.status, 422, "the e-mail is taken");

        let login = [
            ("csrf", csrf.as_str()),
            ("email", "jana@example.cz"),
            ("password", "correct horse battery"),
        ];
        assert_eq!(
            b.post_raw("/app/login", &login).await.status,
            403,
            "not verified yet"
        );

        let store = store::Store::connect(&app.db.url, store::StoreOptions::default())
            .await
            .unwrap();
        let user = store
            .web_user_by_email("jana@example.cz")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.kind, "business");
        assert_eq!(user.ico.as_deref(), Some("25596641"));
        assert!(user.password_hash.starts_with("$argon2id$"));
        store
            .set_web_user_verified(user.id, store::now_us())
            .await
            .unwrap();
        store
            .top_up(
                user.account,
                domain::Money::from_hundredths(1000),
                "test",
                store::now_us(),
            )
            .await
            .unwrap();

        let signed_in = b.post_raw("/app/login", &login).await;
        assert_eq!(signed_in.status, 303);
        assert_eq!(signed_in.location.as_deref(), Some("/app/"));
        let sid = b.last_set.iter().find(|c| c.starts_with("sid=")).unwrap();
        assert!(sid.contains("HttpOnly") && sid.contains("SameSite=Lax"));
        let dashboard = b.get("/app/").await;
        assert_eq!(dashboard.status, 200);
        assert!(dashboard.body.contains("10.00 Kč"), "the credit is shown");

        let sent = b
            .post_raw(
                "/app/send",
                &[
                    ("csrf", &csrf),
                    ("to", "777 123 456"),
                    ("text", "Dobrý den"),
                    ("action", "send"),
                ],
            )
            .await;
        assert_eq!(sent.status, 303, "{}", sent.body);
        let path = sent.location.unwrap();
        assert!(path.starts_with("/app/messages/"));
        let mut delivered = false;
        for _ in 0..100 {
            if b.get(&path)
                .await
                .body
                .contains("data-status=\"delivered\"")
            {
                delivered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(delivered, "the simulated carrier delivers the message");

        // Another account's message is not found; signing out ends the session.
        let other = b.get("/app/messages/1").await;
        assert_eq!(other.status, 404);
        assert_eq!(
            b.post_raw("/app/logout", &[("csrf", &csrf)]).await.status,
            303
        );
        assert_eq!(b.get("/app/").await.status, 303);
        store.close().await;
    }
}
