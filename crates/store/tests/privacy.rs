//! Privacy in the store, on SQLite and PostgreSQL: the hash-chained audit log and its
//! verification after a direct edit, retention with a controllable clock and legal holds from
//! complaint tickets, data-subject requests (verification, deadline, access data, erasure that
//! keeps invoices), and an objection stopping a scheduled commercial message.

use domain::consent::ConsentPurpose;
use domain::retention::Category;
use domain::{AccountId, MessageId, MessageStatus, Money};
use store::audit::AuditEntry;
use store::{
    Basis, CodeCheck, Contact, ImportRow, NewConsent, NewDataRequest, NewMessage, NewTicket,
    NewWebUser, RequestKind, Store, StoreOptions, Submission, SubmitOutcome, TicketKind,
};
use testkit::{backends, Backend, TestDb};

const SECOND: i64 = 1_000_000;
const DAY: i64 = 86_400 * SECOND;
/// 2026-11-29T12:00:00Z
const NOW: i64 = 1_795_953_600 * SECOND;
const A_NUMBER: &str = "+420777123456";

async fn each_backend<F, Fut>(test: F)
where
    F: Fn(Store, String, Backend) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in backends().await {
        let db = TestDb::new(backend).await;
        let store = Store::connect(&db.url, StoreOptions::default())
            .await
            .expect("connect");
        test(store.clone(), db.url.clone(), backend).await;
        store.close().await;
    }
}

/// A raw connection that bypasses the store, as someone tampering with the database would.
async fn raw(url: &str, sql: &[&str]) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("raw connection");
    for s in sql {
        sqlx::query(s).execute(&pool).await.expect(s);
    }
    pool.close().await;
}

fn user(id: i64, email: &str) -> NewWebUser {
    NewWebUser {
        id,
        account: AccountId::new(id + 1),
        account_name: "Jana Nováková".into(),
        email: email.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$x$y".into(),
        kind: "person".into(),
        full_name: "Jana Nováková".into(),
        company: None,
        ico: None,
        dic: None,
        address: "Světova 523/1, Praha".into(),
        phone: Some("+420777999888".into()),
        birth_date: "1990-01-01".into(),
        age_text_version: "age-2026-01".into(),
        terms_version: "terms-2022-01".into(),
        lang: "cs".into(),
        credit: Money::from_hundredths(5000),
    }
}

fn message(id: i64, to: &str, at: i64, due: i64) -> NewMessage {
    NewMessage {
        id: MessageId::new(id),
        to: to.into(),
        sender: "ACME".into(),
        body: format!("Hello {to}"),
        encoding: "gsm7",
        parts: 1,
        price: Money::from_hundredths(90),
        status: if due > at {
            MessageStatus::Scheduled
        } else {
            MessageStatus::Queued
        },
        client_ref: None,
        scheduled_at: (due > at).then_some(due),
        due_at: due,
        expires_at: due + 3600 * SECOND,
    }
}

async fn send(store: &Store, a: AccountId, id: i64, to: &str, at: i64, due: i64, marketing: bool) {
    let s = Submission {
        account: a,
        submission_id: id + 1_000_000,
        idempotency: None,
        messages: vec![message(id, to, at, due)],
        response: "{}".into(),
        now: at,
        marketing,
        device: None,
        smpp: None,
    };
    assert_eq!(store.submit(s).await.unwrap(), SubmitOutcome::Accepted);
}

async fn exists(store: &Store, a: AccountId, id: i64) -> bool {
    store
        .get_message(a, MessageId::new(id))
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn the_audit_chain_verifies_and_a_direct_edit_is_found() {
    each_backend(|store, url, backend| async move {
        for i in 0..5 {
            store
                .audit(
                    &AuditEntry::new("user:1", "staff.view", format!("user:{i}"), "support"),
                    NOW + i,
                )
                .await
                .unwrap();
        }
        let v = store.verify_audit_log().await.unwrap();
        assert_eq!((v.entries, v.first_break), (5, None));
        // The triggers refuse a change through an ordinary connection.
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        assert!(
            sqlx::query("UPDATE audit_log SET reason = 'x' WHERE id = 2")
                .execute(&pool)
                .await
                .is_err()
        );
        assert!(sqlx::query("DELETE FROM audit_log WHERE id = 5")
            .execute(&pool)
            .await
            .is_err());
        pool.close().await;
        // Someone with the power to drop the trigger edits entry 3.
        match backend {
            Backend::Sqlite => {
                raw(
                    &url,
                    &[
                        "DROP TRIGGER audit_log_no_update",
                        "UPDATE audit_log SET subject = 'user:99' WHERE id = 3",
                    ],
                )
                .await
            }
            Backend::Postgres => {
                raw(
                    &url,
                    &[
                        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
                        "UPDATE audit_log SET subject = 'user:99' WHERE id = 3",
                    ],
                )
                .await
            }
        }
        let v = store.verify_audit_log().await.unwrap();
        let b = v.first_break.expect("the edit is found");
        assert_eq!(b.id, 3, "{b}");
        assert_eq!(v.entries, 2);
    })
    .await;
}

#[tokio::test]
async fn a_deleted_entry_or_tail_is_found_and_concurrent_appends_chain() {
    each_backend(|store, url, backend| async move {
        let mut tasks = Vec::new();
        for i in 0..20 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                s.audit(
                    &AuditEntry::new("system", "test", format!("n:{i}"), "x"),
                    NOW + i,
                )
                .await
                .unwrap()
            }));
        }
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        ids.sort_unstable();
        assert_eq!(ids, (1..=20).collect::<Vec<_>>());
        assert_eq!(store.verify_audit_log().await.unwrap().first_break, None);
        let disable = match backend {
            Backend::Sqlite => "DROP TRIGGER audit_log_no_delete",
            Backend::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
        };
        raw(&url, &[disable, "DELETE FROM audit_log WHERE id = 20"]).await;
        let b = store.verify_audit_log().await.unwrap().first_break.unwrap();
        assert_eq!(b.id, 20, "{b}");
        raw(&url, &["DELETE FROM audit_log WHERE id = 7"]).await;
        let b = store.verify_audit_log().await.unwrap().first_break.unwrap();
        assert_eq!(b.id, 7, "{b}");
    })
    .await;
}

#[tokio::test]
async fn retention_deletes_traffic_data_past_six_months_unless_held() {
    each_backend(|store, url, _| async move {
        let a = AccountId::new(1);
        store
            .create_account(
                a,
                "a@example.com",
                "A",
                Money::from_hundredths(100_000),
                NOW - 400 * DAY,
            )
            .await
            .unwrap();
        // 2026-05-29T12:00Z is six months before NOW.
        let six_months_ago = NOW - 184 * DAY;
        send(
            &store,
            a,
            1,
            A_NUMBER,
            six_months_ago - DAY,
            six_months_ago - DAY,
            false,
        )
        .await;
        send(
            &store,
            a,
            2,
            A_NUMBER,
            six_months_ago + DAY,
            six_months_ago + DAY,
            false,
        )
        .await;
        send(
            &store,
            a,
            3,
            A_NUMBER,
            six_months_ago - 30 * DAY,
            six_months_ago - 30 * DAY,
            false,
        )
        .await;
        send(
            &store,
            a,
            4,
            "+420777000004",
            six_months_ago - DAY,
            six_months_ago - DAY,
            false,
        )
        .await;
        raw(&url, &["UPDATE messages SET status = 'delivered'"]).await;
        // A complaint about message 3 holds it.
        assert!(store
            .open_ticket(
                &NewTicket {
                    id: 70,
                    account: a,
                    user_id: None,
                    kind: TicketKind::ComplaintMessage,
                    subject: "Charged but not delivered".into(),
                    message_id: Some(3),
                    body: "The message never arrived.".into(),
                    author: "account:1".into(),
                },
                NOW - DAY,
            )
            .await
            .unwrap());
        // A dry run counts and deletes nothing.
        let dry = store.run_retention(NOW, true, 1).await.unwrap();
        assert_eq!(dry.deleted(Category::TrafficData), 2);
        assert!(exists(&store, a, 1).await);
        // Batches of one: each message its own transaction.
        let run = store.run_retention(NOW, false, 1).await.unwrap();
        assert_eq!(run.deleted(Category::TrafficData), 2);
        assert!(!exists(&store, a, 1).await, "six months and a day: gone");
        assert!(!exists(&store, a, 4).await);
        assert!(exists(&store, a, 2).await, "six months less a day: kept");
        assert!(exists(&store, a, 3).await, "held by the complaint");
        let held = run
            .categories
            .iter()
            .find(|c| c.category == Category::TrafficData)
            .unwrap();
        assert_eq!(held.held, 1);
        let report = store.retention_report(NOW).await.unwrap();
        let traffic = report
            .iter()
            .find(|l| l.category == Category::TrafficData)
            .unwrap();
        assert_eq!((traffic.stored, traffic.held), (Some(2), 1));
        // Resolving the complaint releases the hold; the next run deletes the message.
        assert!(store.resolve_ticket(70, "user:5", NOW).await.unwrap());
        assert!(store.legal_holds().await.unwrap().is_empty());
        store.run_retention(NOW, false, 100).await.unwrap();
        assert!(!exists(&store, a, 3).await);
        assert!(exists(&store, a, 2).await);
        // The run and the deletions are recorded and the audit chain holds.
        assert!(store
            .audit_entries(None, Some("system"), 10)
            .await
            .unwrap()
            .iter()
            .any(|e| e.entry.action == "retention.delete"));
        assert_eq!(store.verify_audit_log().await.unwrap().first_break, None);
    })
    .await;
}

#[tokio::test]
async fn an_objection_stops_a_scheduled_commercial_message() {
    each_backend(|store, url, _| async move {
        let a = AccountId::new(1);
        store
            .create_account(a, "a@example.com", "A", Money::from_hundredths(10_000), NOW)
            .await
            .unwrap();
        store.create_contact_list(50, a, "Newsletter", NOW).await.unwrap();
        store.start_import(60, a, 50, Some(Basis::Consent), NOW).await.unwrap();
        let row = |n: i64, number: &str| ImportRow {
            row: n,
            contact: Contact {
                number: number.into(),
                name: None,
                fields: None,
                basis: Some(Basis::Consent),
            },
        };
        store
            .import_batch(60, a, 50, &[row(1, A_NUMBER), row(2, "+420777000002")], &[], 2, NOW)
            .await
            .unwrap();
        // A campaign scheduled for tomorrow, and a non-commercial message.
        send(&store, a, 100, A_NUMBER, NOW, NOW + DAY, true).await;
        send(&store, a, 101, A_NUMBER, NOW, NOW + DAY, false).await;
        let st = |id| {
            let store = store.clone();
            async move { store.get_message(a, MessageId::new(id)).await.unwrap().unwrap().status }
        };
        assert_eq!(st(100).await, MessageStatus::Scheduled);
        // The recipient withdraws consent to commercial SMS.
        let stopped = store
            .record_consent(
                &NewConsent {
                    subject: &format!("number:{A_NUMBER}"),
                    purpose: ConsentPurpose::MarketingSms,
                    granted: false,
                    text_version: "marketing-sms-2026-01",
                    channel: "sms",
                    source: "reply",
                    birth_date: None,
                    age_text_version: None,
                    actor: "recipient",
                },
                NOW,
            )
            .await;
        assert!(stopped.is_ok());
        assert_eq!(st(100).await, MessageStatus::Blocked, "stopped at once");
        assert_eq!(st(101).await, MessageStatus::Scheduled, "not commercial: goes");
        let b = store.balance(a).await.unwrap().unwrap();
        assert_eq!(b.reserved.hundredths(), 90);
        assert!(store.ledger_consistent(a).await.unwrap());
        // An objection that lands between scheduling and sending: the claim refuses it.
        send(&store, a, 102, "+420777000002", NOW, NOW, true).await;
        raw(
            &url,
            &["INSERT INTO marketing_objections (number, account_id, source, created_at) VALUES ('+420777000002', 0, 'test', 0)"],
        )
        .await;
        let claimed = store.claim_due(1, NOW, NOW + 60 * SECOND, 10).await.unwrap();
        assert!(claimed.is_empty(), "{claimed:?}");
        assert_eq!(st(102).await, MessageStatus::Blocked);
        // A new commercial message to an objecting number is refused at submission too.
        send(&store, a, 103, "+420777000002", NOW, NOW, true).await;
        assert_eq!(st(103).await, MessageStatus::Blocked);
        assert!(store.ledger_consistent(a).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn a_request_is_verified_before_anything_and_has_its_deadline() {
    each_backend(|store, _, _| async move {
        store
            .create_web_user(&user(10, "jana@example.cz"), NOW)
            .await
            .unwrap();
        store
            .file_data_request(
                &NewDataRequest {
                    id: 500,
                    kind: RequestKind::Access,
                    user_id: 10,
                    details: String::new(),
                    lang: "cs".into(),
                    filed_by: "user:3".into(),
                    verified_by: None,
                },
                NOW,
            )
            .await
            .unwrap();
        let r = store.data_request(500).await.unwrap().unwrap();
        assert_eq!((r.status.as_str(), r.is_verified()), ("unverified", false));
        // One month: 2026-12-29T12:00Z.
        assert_eq!(r.due_at, NOW + 30 * DAY);
        // Closing an unverified request as done is refused.
        assert!(!store
            .close_data_request(500, false, "x", "user:3", NOW)
            .await
            .unwrap());
        assert_eq!(
            store.verify_request_code(500, "h", NOW).await.unwrap(),
            CodeCheck::NotLive
        );
        assert!(store
            .set_request_code(500, "right", "code_email", NOW + DAY, NOW)
            .await
            .unwrap());
        assert_eq!(
            store.verify_request_code(500, "wrong", NOW).await.unwrap(),
            CodeCheck::Wrong
        );
        assert_eq!(
            store.verify_request_code(500, "right", NOW).await.unwrap(),
            CodeCheck::Verified
        );
        let r = store.data_request(500).await.unwrap().unwrap();
        assert_eq!(
            (r.status.as_str(), r.verified_by.as_deref()),
            ("open", Some("code_email"))
        );
        // The extension: within the first month, once, with reasons; three months in all.
        assert!(!store
            .extend_data_request(500, " ", "user:3", NOW)
            .await
            .unwrap());
        assert!(store
            .extend_data_request(500, "many systems to search", "user:3", NOW + DAY)
            .await
            .unwrap());
        assert!(!store
            .extend_data_request(500, "again", "user:3", NOW + DAY)
            .await
            .unwrap());
        let r = store.data_request(500).await.unwrap().unwrap();
        assert_eq!(r.due_at, NOW + (31 + 31 + 29) * DAY);
        assert!(!r.is_overdue(NOW + 60 * DAY));
        assert!(r.is_overdue(NOW + 92 * DAY));
        // The access data: the user, the consents, everything of the account.
        let tables = store.subject_data(10).await.unwrap();
        let user_table = tables.iter().find(|t| t.name == "user").unwrap();
        assert_eq!(user_table.rows.len(), 1);
        assert!(!user_table.columns.iter().any(|c| c.contains("password")));
        assert!(user_table.rows[0]
            .iter()
            .any(|v| v.as_deref() == Some("jana@example.cz")));
        assert!(store
            .close_data_request(500, false, "archive sent", "user:3", NOW)
            .await
            .unwrap());
        // Every step is in the audit log.
        let steps: Vec<String> = store
            .audit_entries(None, Some("dsr:500"), 50)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.entry.action)
            .collect();
        for step in ["dsr.code_sent", "dsr.verified", "dsr.extend", "dsr.done"] {
            assert!(steps.iter().any(|s| s == step), "{step} in {steps:?}");
        }
        assert_eq!(store.verify_audit_log().await.unwrap().first_break, None);
    })
    .await;
}

#[tokio::test]
async fn an_erasure_keeps_invoices_and_leaves_the_person_unfindable_elsewhere() {
    each_backend(|store, url, _| async move {
        let email = "jana.erase@example.cz";
        store.create_web_user(&user(10, email), NOW).await.unwrap();
        let a = AccountId::new(11);
        send(&store, a, 1, "+420777999888", NOW, NOW, false).await;
        store
            .record_consents("user:10", &[("marketing_email", true)], "v1", "web", "/app/privacy", NOW)
            .await
            .unwrap();
        store.push_email(email, "Welcome", "Dear Jana Nováková", NOW).await.unwrap();
        assert!(store
            .open_ticket(
                &NewTicket {
                    id: 71,
                    account: a,
                    user_id: Some(10),
                    kind: TicketKind::Question,
                    subject: "Question from Jana Nováková".into(),
                    message_id: None,
                    body: format!("Write to me at {email}"),
                    author: "user:10".into(),
                },
                NOW,
            )
            .await
            .unwrap());
        raw(
            &url,
            &["INSERT INTO invoices (id, number, series, seq, kind, account_id, issue_date, taxable_date, \
              supplier_name, supplier_address, supplier_ico, supplier_register, supplier_iban, customer_name, \
              customer_address, description, quantity, unit_price_cents, discount_cents, base_cents, vat_rate_bp, \
              vat_cents, total_cents, currency, variable_symbol, created_at) VALUES (900, 'FV2026000001', 'FV2026', 1, \
              'invoice', 11, '2026-11-29', '2026-11-29', 'WTI LLC o.z.', 'Světova 523/1', '09828397', 'A 79642', \
              'CZ00', 'Jana Nováková', 'Světova 523/1, Praha', 'Credit', 1, 12100, 0, 10000, 2100, 2100, 12100, \
              'CZK', '1234', 0)"],
        )
        .await;
        let e = store.erase_customer(10, "user:3", "dsr:1", NOW).await.unwrap().unwrap();
        assert_eq!(e.invoices_kept, 1);
        assert!(!e.debtor_record_kept);
        let invoice = store.get_invoice(a, 900).await.unwrap().expect("the invoice stays");
        assert_eq!(invoice.document.customer_name, "Jana Nováková");
        for needle in [email, "Jana Nováková", "+420777999888", "Světova 523/1, Praha"] {
            let found: Vec<_> = store
                .find_text(needle)
                .await
                .unwrap()
                .into_iter()
                .filter(|(t, _, _)| t != "invoices")
                .collect();
            assert!(found.is_empty(), "{needle} still in {found:?}");
        }
        assert!(store.web_user_by_email(email).await.unwrap().is_none());
        assert!(store.consents_of(&["user:10".into()]).await.unwrap().is_empty());
        assert_eq!(store.verify_audit_log().await.unwrap().first_break, None);
    })
    .await;
}

#[tokio::test]
async fn consents_record_the_age_declaration_and_are_audited() {
    each_backend(|store, _, _| async move {
        let id = store
            .record_consent(
                &NewConsent {
                    subject: "email:novak@example.cz",
                    purpose: ConsentPurpose::Newsletter,
                    granted: true,
                    text_version: "newsletter-2026-01",
                    channel: "web",
                    source: "/newsletter",
                    birth_date: Some("2000-01-01"),
                    age_text_version: Some("age16-2026-01"),
                    actor: "visitor",
                },
                NOW,
            )
            .await
            .unwrap();
        let c = store
            .consents_of(&["email:novak@example.cz".into()])
            .await
            .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].id, c[0].granted, c[0].purpose.as_str()),
            (id, true, "newsletter")
        );
        let w = store
            .withdraw_consent(id, &["email:novak@example.cz".into()], NOW + 1)
            .await
            .unwrap();
        assert!(w.is_some());
        let entries = store.audit_entries(None, None, 10).await.unwrap();
        assert!(entries.iter().any(|e| e.entry.action == "consent.grant"));
        assert!(entries.iter().any(|e| e.entry.action == "consent.withdraw"));
        // The audit log never holds the e-mail in clear.
        assert!(store
            .find_text("novak@example.cz")
            .await
            .unwrap()
            .iter()
            .all(|(t, _, _)| t == "consents"));
    })
    .await;
}
