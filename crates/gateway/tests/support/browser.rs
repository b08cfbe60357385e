//! A tiny browser for the web's pages: keeps cookies, does not follow redirects, and signs up
//! web users the way a person does (the form, then the e-mail's confirmation in the database).

use std::collections::BTreeMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;

use super::App;

pub struct Browser {
    base: String,
    client: reqwest::Client,
    /// The cookies kept, by name.
    pub jar: BTreeMap<String, String>,
    /// The raw `Set-Cookie` values of the last answer.
    pub last_set: Vec<String>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Browser {
    pub fn new(app: &App) -> Browser {
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
            headers: r.headers().clone(),
            body: r.text().await.unwrap(),
        }
    }

    /// GET a path, or a whole URL.
    pub async fn get(&mut self, path: &str) -> Page {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let r = self
            .client
            .get(url)
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.take(r).await
    }

    /// POST a form; the CSRF token is added.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        if !self.jar.contains_key("csrf") {
            self.get("/").await;
        }
        let csrf = self.csrf();
        let form: Vec<(&str, &str)> = [("csrf", csrf.as_str())]
            .into_iter()
            .chain(form.iter().copied())
            .collect();
        self.post_raw(path, &form).await
    }

    /// POST a form exactly as given (no CSRF token added).
    pub async fn post_raw(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
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

    pub fn csrf(&self) -> String {
        self.jar.get("csrf").cloned().expect("a csrf cookie")
    }
}

pub const PASSWORD: &str = "correct horse battery";

/// A person's registration.
pub struct Person<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub address: &'a str,
    pub phone: Option<&'a str>,
    /// Ticks the consent to commercial e-mails.
    pub marketing: bool,
}

/// Registers a person, confirms the e-mail in the database, sets the role and signs in.
/// Returns the signed-in browser and the web user.
pub async fn sign_up(
    app: &App,
    store: &store::Store,
    p: &Person<'_>,
    role: &str,
) -> (Browser, store::WebUser) {
    let mut b = Browser::new(app);
    let mut form = vec![
        ("kind", "person"),
        ("full_name", p.name),
        ("address", p.address),
        ("email", p.email),
        ("birth_date", "1980-05-05"),
        ("password", PASSWORD),
        ("terms", "on"),
    ];
    if let Some(phone) = p.phone {
        form.push(("phone", phone));
    }
    if p.marketing {
        form.push(("marketing", "on"));
    }
    let r = b.post("/app/register", &form).await;
    assert_eq!(r.status, 200, "registration of {}: {}", p.email, r.body);
    let user = store.web_user_by_email(p.email).await.unwrap().unwrap();
    store
        .set_web_user_verified(user.id, store::now_us())
        .await
        .unwrap();
    if role != "customer" {
        assert!(store.set_web_user_role(p.email, role).await.unwrap());
    }
    let r = b
        .post("/app/login", &[("email", p.email), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status, 303, "sign-in of {}: {}", p.email, r.body);
    let user = store.web_user_by_email(p.email).await.unwrap().unwrap();
    (b, user)
}

/// Signs up a member of the operator's staff with `role` (`support`, `dpo`, `admin`...) as
/// `<role>@operator.example`, confirmed and signed in.
pub async fn sign_up_staff(app: &App, store: &store::Store, role: &str) -> Browser {
    let email = format!("{role}@operator.example");
    let name = format!("Staff {role}");
    let person = Person {
        email: &email,
        name: &name,
        address: "Světova 523/1, Praha",
        phone: None,
        marketing: false,
    };
    sign_up(app, store, &person, role).await.0
}
