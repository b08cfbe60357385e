//! Property: no sequence of imports, sends, opt-outs, opt-ins, restrictions and erasures lets
//! a blocked number through. Each generated sequence runs against a model of the rules; after
//! every send the stored status must be `blocked` exactly when the model says so, and the
//! dispatcher's claim must never hand out a message whose number is blocked at that moment.

use std::collections::{HashMap, HashSet};

use domain::optout::Keyword;
use domain::{AccountId, MessageId, MessageStatus, Money};
use proptest::prelude::*;
use store::{
    Basis, Contact, EntryKind, ImportRow, NewMessage, Scope, Source, Store, StoreOptions,
    Submission,
};
use testkit::TestDb;

const SECOND: i64 = 1_000_000;
const T0: i64 = 1_800_000_000 * SECOND;
const NUMBERS: [&str; 3] = ["+420777000001", "+420777000002", "+420777000003"];
const ACCOUNTS: [i64; 2] = [1, 2];

#[derive(Debug, Clone)]
enum Op {
    Send {
        a: usize,
        n: usize,
        scheduled: bool,
        marketing: bool,
    },
    Import {
        a: usize,
        n: usize,
        basis: bool,
    },
    BlacklistApi {
        a: usize,
        n: usize,
    },
    RemoveApi {
        a: usize,
        n: usize,
    },
    Stop {
        a: usize,
        n: usize,
    },
    StopAll {
        n: usize,
    },
    Start {
        a: usize,
        n: usize,
    },
    Restrict {
        n: usize,
    },
    Unrestrict {
        n: usize,
    },
    Erase {
        n: usize,
    },
    Claim,
}

fn op() -> impl Strategy<Value = Op> {
    let a = 0..ACCOUNTS.len();
    let n = 0..NUMBERS.len();
    prop_oneof![
        4 => (a.clone(), n.clone(), any::<bool>(), any::<bool>())
            .prop_map(|(a, n, scheduled, marketing)| Op::Send { a, n, scheduled, marketing }),
        2 => (a.clone(), n.clone(), any::<bool>()).prop_map(|(a, n, basis)| Op::Import { a, n, basis }),
        1 => (a.clone(), n.clone()).prop_map(|(a, n)| Op::BlacklistApi { a, n }),
        1 => (a.clone(), n.clone()).prop_map(|(a, n)| Op::RemoveApi { a, n }),
        1 => (a.clone(), n.clone()).prop_map(|(a, n)| Op::Stop { a, n }),
        1 => n.clone().prop_map(|n| Op::StopAll { n }),
        1 => (a.clone(), n.clone()).prop_map(|(a, n)| Op::Start { a, n }),
        1 => n.clone().prop_map(|n| Op::Restrict { n }),
        1 => n.clone().prop_map(|n| Op::Unrestrict { n }),
        1 => n.clone().prop_map(|n| Op::Erase { n }),
        2 => Just(Op::Claim),
    ]
}

/// The rules, in memory: entries as (scope account or 0, number, kind) -> source.
#[derive(Default)]
struct Model {
    entries: HashMap<(i64, usize, &'static str), Source>,
    /// (account, number) -> has a basis (the first import of a contact wins).
    contacts: HashMap<(i64, usize), bool>,
}

impl Model {
    fn blacklisted(&self, a: i64, n: usize) -> bool {
        self.entries
            .keys()
            .any(|(scope, num, _)| *num == n && (*scope == 0 || *scope == a))
    }
    fn blocked(&self, a: i64, n: usize, marketing: bool) -> bool {
        self.blacklisted(a, n) || (marketing && self.contacts.get(&(a, n)) != Some(&true))
    }
    fn add(&mut self, scope: i64, n: usize, kind: &'static str, source: Source) {
        self.entries.entry((scope, n, kind)).or_insert(source);
    }
}

async fn run(store: &Store, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut model = Model::default();
    let mut next_id = 1000;
    let mut id = || {
        next_id += 1;
        next_id
    };
    let mut sent: HashMap<i64, (i64, usize)> = HashMap::new();
    let mut now = T0;
    for a in ACCOUNTS {
        store
            .create_account(
                AccountId::new(a),
                &format!("a{a}@example.com"),
                "T",
                Money::from_hundredths(1_000_000),
                T0,
            )
            .await
            .unwrap();
        store
            .create_contact_list(a, AccountId::new(a), "L", T0)
            .await
            .unwrap();
    }
    let mut claimed_ever: HashSet<i64> = HashSet::new();
    for op in ops {
        match *op {
            Op::Send {
                a,
                n,
                scheduled,
                marketing,
            } => {
                let account = ACCOUNTS[a];
                let mid = id();
                let due = if scheduled { now + 10 * SECOND } else { now };
                let m = NewMessage {
                    id: MessageId::new(mid),
                    to: NUMBERS[n].into(),
                    sender: "S".into(),
                    body: "b".into(),
                    encoding: "gsm7",
                    parts: 1,
                    price: Money::from_hundredths(90),
                    status: if scheduled {
                        MessageStatus::Scheduled
                    } else {
                        MessageStatus::Queued
                    },
                    client_ref: None,
                    scheduled_at: scheduled.then_some(due),
                    due_at: due,
                    expires_at: due + 3600 * SECOND,
                };
                store
                    .submit(Submission {
                        account: AccountId::new(account),
                        submission_id: id(),
                        idempotency: None,
                        messages: vec![m],
                        response: String::new(),
                        now,
                        marketing,
                        device: None,
                        smpp: None,
                    })
                    .await
                    .unwrap();
                let got = store
                    .get_message(AccountId::new(account), MessageId::new(mid))
                    .await
                    .unwrap()
                    .unwrap()
                    .status;
                let expect_blocked = model.blocked(account, n, marketing);
                prop_assert_eq!(
                    got == MessageStatus::Blocked,
                    expect_blocked,
                    "send {:?}",
                    op
                );
                sent.insert(mid, (account, n));
            }
            Op::Import { a, n, basis } => {
                let account = ACCOUNTS[a];
                let imp = id();
                store
                    .start_import(imp, AccountId::new(account), account, None, now)
                    .await
                    .unwrap();
                let row = ImportRow {
                    row: 1,
                    contact: Contact {
                        number: NUMBERS[n].into(),
                        name: None,
                        fields: None,
                        basis: basis.then_some(Basis::Consent),
                    },
                };
                let out = store
                    .import_batch(imp, AccountId::new(account), account, &[row], &[], 1, now)
                    .await
                    .unwrap();
                prop_assert_eq!(
                    out.blocked == 1,
                    model.blacklisted(account, n),
                    "import {:?}",
                    op
                );
                if out.blocked == 0 {
                    model.contacts.entry((account, n)).or_insert(basis);
                }
            }
            Op::BlacklistApi { a, n } => {
                let account = ACCOUNTS[a];
                store
                    .add_to_blacklist(
                        id(),
                        Scope::Account(AccountId::new(account)),
                        NUMBERS[n],
                        EntryKind::OptOut,
                        Source::Api,
                        now,
                    )
                    .await
                    .unwrap();
                model.add(account, n, "opt_out", Source::Api);
            }
            Op::RemoveApi { a, n } => {
                let account = ACCOUNTS[a];
                store
                    .remove_from_blacklist(AccountId::new(account), NUMBERS[n])
                    .await
                    .unwrap();
                if model.entries.get(&(account, n, "opt_out")) == Some(&Source::Api) {
                    model.entries.remove(&(account, n, "opt_out"));
                }
            }
            Op::Stop { a, n } | Op::Start { a, n } => {
                let account = ACCOUNTS[a];
                let stop = matches!(op, Op::Stop { .. });
                let kw = if stop {
                    Keyword::OptOut
                } else {
                    Keyword::OptIn
                };
                store
                    .apply_keywords(
                        &[(id(), NUMBERS[n].into(), Some(AccountId::new(account)), kw)],
                        now,
                    )
                    .await
                    .unwrap();
                if stop {
                    model.add(account, n, "opt_out", Source::Recipient);
                } else {
                    for scope in [0, account] {
                        if model.entries.get(&(scope, n, "opt_out")) == Some(&Source::Recipient) {
                            model.entries.remove(&(scope, n, "opt_out"));
                        }
                    }
                }
            }
            Op::StopAll { n } => {
                store
                    .apply_keywords(&[(id(), NUMBERS[n].into(), None, Keyword::OptOutAll)], now)
                    .await
                    .unwrap();
                model.add(0, n, "opt_out", Source::Recipient);
            }
            Op::Restrict { n } => {
                store
                    .add_to_blacklist(
                        id(),
                        Scope::Global,
                        NUMBERS[n],
                        EntryKind::Restricted,
                        Source::Staff,
                        now,
                    )
                    .await
                    .unwrap();
                model.add(0, n, "restricted", Source::Staff);
            }
            Op::Unrestrict { n } => {
                store.lift_restriction(NUMBERS[n]).await.unwrap();
                model.entries.remove(&(0, n, "restricted"));
            }
            Op::Erase { n } => {
                store
                    .erase_recipient(id(), NUMBERS[n], &[], now)
                    .await
                    .unwrap();
                model.add(0, n, "erased", Source::Staff);
                model.contacts.retain(|(_, num), _| *num != n);
            }
            Op::Claim => {
                now += 20 * SECOND;
                let claimed = store
                    .claim_due(1, now, now + 300 * SECOND, 1000)
                    .await
                    .unwrap();
                for c in &claimed {
                    let (account, n) = sent[&c.id.get()];
                    prop_assert!(
                        !model.blacklisted(account, n),
                        "message {} to blocked number {} of account {} was claimed",
                        c.id,
                        NUMBERS[n],
                        account
                    );
                    prop_assert!(claimed_ever.insert(c.id.get()));
                }
            }
        }
    }
    for a in ACCOUNTS {
        prop_assert!(store.ledger_consistent(AccountId::new(a)).await.unwrap());
    }
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn no_sequence_lets_a_blocked_number_through(ops in proptest::collection::vec(op(), 1..40)) {
        let rt = runtime();
        rt.block_on(async {
            for backend in testkit::backends().await {
                let db = TestDb::new(backend).await;
                let store = Store::connect(&db.url, StoreOptions::default()).await.unwrap();
                let result = run(&store, &ops).await;
                store.close().await;
                result?;
            }
            Ok::<(), TestCaseError>(())
        })?;
    }
}
