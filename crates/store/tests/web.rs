//! The web's storage (users, sessions, tokens, login attempts, consents) on both backends.

use domain::{AccountId, Money};
use store::{NewWebUser, Store, StoreError, StoreOptions};
use testkit::{backends, TestDb};

fn new_user(id: i64, email: &str) -> NewWebUser {
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
        address: "Světova 1, Praha".into(),
        phone: None,
        birth_date: "1990-01-01".into(),
        age_text_version: "age-2026-01".into(),
        terms_version: "terms-2022-01".into(),
        lang: "cs".into(),
        credit: Money::from_hundredths(5000),
    }
}

#[tokio::test]
async fn users_sessions_tokens_and_consents() {
    for backend in backends().await {
        let db = TestDb::new(backend).await;
        let store = Store::connect(&db.url, StoreOptions::default())
            .await
            .unwrap();
        store
            .create_web_user(&new_user(10, "jana@example.cz"), 1)
            .await
            .unwrap();
        let again = store
            .create_web_user(&new_user(20, "jana@example.cz"), 2)
            .await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{backend:?}");
        let u = store
            .web_user_by_email("jana@example.cz")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((u.id, u.role.as_str()), (10, "customer"));
        let balance = store.balance(u.account).await.unwrap().unwrap();
        assert_eq!(balance.available, Money::from_hundredths(5000));
        assert!(store.ledger_consistent(u.account).await.unwrap());

        store
            .create_web_token("t1", 10, "verify_email", 100, 3)
            .await
            .unwrap();
        assert_eq!(
            store
                .take_web_token("t1", "reset_password", 4)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store.take_web_token("t1", "verify_email", 4).await.unwrap(),
            Some(10)
        );
        assert_eq!(
            store.take_web_token("t1", "verify_email", 5).await.unwrap(),
            None,
            "a token is used once"
        );

        store
            .create_web_session("s1", 10, "full", 5, 1000)
            .await
            .unwrap();
        assert!(store.web_session("s1", 6).await.unwrap().is_some());
        assert!(store.web_session("s1", 1000).await.unwrap().is_none());
        store.delete_web_session("s1").await.unwrap();
        assert!(store.web_session("s1", 6).await.unwrap().is_none());

        for at in 10..15 {
            store
                .record_login_attempt("jana@example.cz", "ip", false, at)
                .await
                .unwrap();
        }
        assert_eq!(
            store
                .failed_logins_since("jana@example.cz", 12)
                .await
                .unwrap(),
            3
        );
        store
            .record_login_attempt("jana@example.cz", "ip", true, 16)
            .await
            .unwrap();
        assert_eq!(
            store
                .failed_logins_since("jana@example.cz", 0)
                .await
                .unwrap(),
            0
        );
        assert_eq!(store.logins_from_ip_since("ip", 0).await.unwrap(), 6);

        let subject = vec!["visitor:abc".to_owned()];
        store
            .record_consents(
                "visitor:abc",
                &[("statistics", true), ("marketing", false)],
                "v1",
                "web",
                "banner",
                20,
            )
            .await
            .unwrap();
        let all = store.consents_of(&subject).await.unwrap();
        assert_eq!(all.len(), 2);
        let stats = all.iter().find(|c| c.purpose == "statistics").unwrap();
        assert!(stats.granted);
        let other = vec!["visitor:other".to_owned()];
        assert!(store
            .withdraw_consent(stats.id, &other, 21)
            .await
            .unwrap()
            .is_none());
        assert!(store
            .withdraw_consent(stats.id, &subject, 21)
            .await
            .unwrap()
            .is_some());
        let all = store.consents_of(&subject).await.unwrap();
        let live: Vec<_> = all.iter().filter(|c| c.withdrawn_at.is_none()).collect();
        assert_eq!(live.len(), 2);
        assert!(live.iter().all(|c| !c.granted));
        store.close().await;
        drop(db);
    }
}
