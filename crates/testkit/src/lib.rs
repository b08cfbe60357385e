//! Test support shared by the store's conformance suite and the gateway's integration tests:
//! a fresh database per test, on SQLite (a temporary file) or PostgreSQL (a new database on the
//! server named by `APISENDSMS_TEST_POSTGRES_URL`, default `postgres://root@127.0.0.1:5432/test`).
//!
//! PostgreSQL tests skip with a printed reason when no server answers, unless
//! `APISENDSMS_REQUIRE_POSTGRES=1` (CI sets it), which turns the skip into a failure.
#![forbid(unsafe_code)]

use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test. PostgreSQL databases are dropped with it.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    admin_url: Option<String>,
    name: Option<String>,
}

const DEFAULT_PG: &str = "postgres://root@127.0.0.1:5432/test";

fn admin_url() -> String {
    std::env::var("APISENDSMS_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_PG.to_owned())
}

fn postgres_required() -> bool {
    std::env::var("APISENDSMS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// The backends a test should run on: SQLite always, PostgreSQL when reachable or required.
pub async fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    match sqlx::PgConnection::connect(&admin_url()).await {
        Ok(c) => {
            let _ = c.close().await;
            v.push(Backend::Postgres);
        }
        Err(e) if postgres_required() => {
            panic!(
                "APISENDSMS_REQUIRE_POSTGRES=1 but PostgreSQL at {} does not answer: {e}",
                admin_url()
            )
        }
        Err(e) => eprintln!(
            "skipping the PostgreSQL run: no server at {} ({e})",
            admin_url()
        ),
    }
    v
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/test.db", dir.path().display());
                TestDb {
                    url,
                    backend,
                    _dir: Some(dir),
                    admin_url: None,
                    name: None,
                }
            }
            Backend::Postgres => {
                let admin = admin_url();
                let name = format!("apisendsms_t_{:016x}", rand::random::<u64>());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("PostgreSQL admin connection");
                sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let _ = conn.close().await;
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                TestDb {
                    url: format!("{base}/{name}"),
                    backend,
                    _dir: None,
                    admin_url: Some(admin),
                    name: Some(name),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (Some(admin), Some(name)) = (self.admin_url.take(), self.name.take()) else {
            return;
        };
        // Drop needs its own runtime: the test's runtime may be shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio_rt();
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                }
            })
        })
        .join();
    }
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}
