//! The SMPP server's storage: credentials, owed receipts, pushed inbound messages.

use domain::{AccountId, MessageId, MessageStatus, Money};
use store::{
    CancelOutcome, NewMessage, ReceiptMode, SmppCredential, SmppOrigin, Store, StoreError,
    StoreOptions, Submission, SubmitOutcome,
};

async fn open(db: &testkit::TestDb) -> Store {
    Store::connect(&db.url, StoreOptions::default())
        .await
        .expect("connect")
}

async fn account(store: &Store) -> AccountId {
    let id = AccountId::new(7);
    store
        .create_account(
            id,
            "smpp@example.com",
            "SMPP",
            Money::from_hundredths(10_000),
            1,
        )
        .await
        .unwrap();
    id
}

fn credential(account: AccountId, id: i64, system_id: &str) -> SmppCredential {
    SmppCredential {
        id,
        account,
        system_id: system_id.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        created_at: 1,
        revoked_at: None,
    }
}

fn submission(account: AccountId, id: i64, origin: Option<SmppOrigin>) -> Submission {
    Submission {
        account,
        submission_id: id,
        idempotency: None,
        messages: vec![NewMessage {
            id: MessageId::new(id),
            to: "+420777123456".into(),
            sender: "ACME".into(),
            body: "hello there, this is a long enough text".into(),
            encoding: "gsm7",
            parts: 1,
            price: Money::from_hundredths(100),
            status: MessageStatus::Queued,
            client_ref: None,
            scheduled_at: None,
            due_at: 1,
            expires_at: i64::MAX,
        }],
        response: "{}".into(),
        now: 10,
        smpp: origin,
        marketing: false,
        device: None,
    }
}

#[tokio::test]
async fn credentials_are_unique_and_revocable() {
    for backend in testkit::backends().await {
        let db = testkit::TestDb::new(backend).await;
        let store = open(&db).await;
        let acc = account(&store).await;
        store
            .create_smpp_credential(&credential(acc, 1, "acme1"))
            .await
            .unwrap();
        let dup = store
            .create_smpp_credential(&credential(acc, 2, "acme1"))
            .await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{backend:?}");
        assert_eq!(store.smpp_credential("acme1").await.unwrap().unwrap().id, 1);
        assert!(!store
            .revoke_smpp_credential(AccountId::new(99), 1, 5)
            .await
            .unwrap());
        assert!(store.revoke_smpp_credential(acc, 1, 5).await.unwrap());
        assert!(store.smpp_credential("acme1").await.unwrap().is_none());
        assert_eq!(store.list_smpp_credentials(acc).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_receipt_is_owed_once_the_message_is_final_and_until_marked() {
    for backend in testkit::backends().await {
        let db = testkit::TestDb::new(backend).await;
        let store = open(&db).await;
        let acc = account(&store).await;
        store
            .create_smpp_credential(&credential(acc, 1, "acme1"))
            .await
            .unwrap();
        let origin = SmppOrigin {
            credential_id: 1,
            mode: ReceiptMode::Final,
            source_addr: "ACME".into(),
            dest_addr: "420777123456".into(),
        };
        let outcome = store
            .submit(submission(acc, 100, Some(origin)))
            .await
            .unwrap();
        assert_eq!(outcome, SubmitOutcome::Accepted);
        let outcome = store.submit(submission(acc, 101, None)).await.unwrap();
        assert_eq!(outcome, SubmitOutcome::Accepted);
        // Queued: nothing owed yet.
        assert!(store.owed_receipts(&[1], 10).await.unwrap().is_empty());
        assert_eq!(
            store
                .cancel_message(acc, MessageId::new(100), 20)
                .await
                .unwrap(),
            CancelOutcome::Cancelled
        );
        let owed = store.owed_receipts(&[1], 10).await.unwrap();
        assert_eq!(owed.len(), 1, "{backend:?}");
        assert_eq!(owed[0].message_id, MessageId::new(100));
        assert_eq!(owed[0].status, MessageStatus::Cancelled);
        assert_eq!(owed[0].dest_addr, "420777123456");
        assert!(store.owed_receipts(&[2], 10).await.unwrap().is_empty());
        store
            .mark_receipts_sent(&[MessageId::new(100)], 30)
            .await
            .unwrap();
        assert!(store.owed_receipts(&[1], 10).await.unwrap().is_empty());
    }
}
