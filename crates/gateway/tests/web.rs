//! The web through the real binary on SQLite and PostgreSQL: only the necessary cookie before a
//! choice, CSRF, the cookie choice recorded and withdrawn on `/osobni-udaje/`, registration
//! (under 18 refused), sign-in only after verification, sending from the app until delivered.
//! The browser tests in `web-tests/` cover the same in Chromium.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use support::{backends, App};

/// A tiny browser: keeps cookies, does not follow redirects.
struct Browser {
    base: String,
    client: reqwest::Client,
    jar: BTreeMap<String, String>,
    /// The raw `Set-Cookie` values of the last answer.
    last_set: Vec<String>,
}

struct Page {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Browser {
    fn new(app: &App) -> Browser {
        Browser {
            base: app.base.clone(),
            client: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            jar: BTreeMap::new(),
            last_set: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn take(&mut self, r: reqwest::Response) -> Page {
        self.last_set = r
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        for c in &self.last_set {
            let pair = c.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.jar.remove(k);
                } else {
                    self.jar.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        Page {
            status: r.status().as_u16(),
            location: r
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: r.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.take(r).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.take(r).await
    }

    fn csrf(&self) -> String {
        self.jar.get("csrf").cloned().expect("a csrf cookie")
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

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
            .post(
                "/cookies/consent",
                &[("csrf", &"0".repeat(64)), ("choice", "all")],
            )
            .await;
        assert_eq!(forged.status, 403);
        assert!(!b.jar.contains_key("consent"));

        let csrf = b.csrf();
        let saved = b
            .post(
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
            .post("/osobni-udaje/odvolat", &[("csrf", &csrf), ("id", &id)])
            .await;
        assert_eq!(withdrawn.status, 303);
        assert_eq!(withdrawn.location.as_deref(), Some("/osobni-udaje/?done=1"));
        assert!(b.jar["consent"].ends_with(".0000"));
        let after = b.get("/osobni-udaje/?done=1").await;
        assert!(after.body.contains("Souhlas byl odvolán"));
        assert_eq!(after.body.matches("/osobni-udaje/odvolat\"").count(), 0);
        // Withdrawing it again (or another's record) finds nothing.
        let again = b
            .post("/osobni-udaje/odvolat", &[("csrf", &csrf), ("id", &id)])
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
        let refused = b.post("/app/register", &form).await;
        assert_eq!(refused.status, 422, "{backend:?}");
        assert!(refused.body.contains("starším 18 let"));

        form[8].1 = "1990-02-03";
        let created = b.post("/app/register", &form).await;
        assert_eq!(created.status, 200, "{}", created.body);
        let again = b.post("/app/register", &form).await;
        assert_eq!(again.status, 422, "the e-mail is taken");

        let login = [
            ("csrf", csrf.as_str()),
            ("email", "jana@example.cz"),
            ("password", "correct horse battery"),
        ];
        assert_eq!(
            b.post("/app/login", &login).await.status,
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

        let signed_in = b.post("/app/login", &login).await;
        assert_eq!(signed_in.status, 303);
        assert_eq!(signed_in.location.as_deref(), Some("/app/"));
        let sid = b.last_set.iter().find(|c| c.starts_with("sid=")).unwrap();
        assert!(sid.contains("HttpOnly") && sid.contains("SameSite=Lax"));
        let dashboard = b.get("/app/").await;
        assert_eq!(dashboard.status, 200);
        assert!(dashboard.body.contains("10.00 Kč"), "the credit is shown");

        let sent = b
            .post(
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
        assert_eq!(b.post("/app/logout", &[("csrf", &csrf)]).await.status, 303);
        assert_eq!(b.get("/app/").await.status, 303);
        store.close().await;
    }
}
