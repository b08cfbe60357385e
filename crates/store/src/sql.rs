//! Bind-parameter placeholders for statements with many parameters.
//!
//! PostgreSQL numbers parameters `$1..$n`. SQLite accepts that too, but keeps every `$N`
//! parameter in a list it searches linearly, when preparing the statement and again each time
//! sqlx binds one (it asks for every parameter's name): quadratic in the number of parameters,
//! which made a multi-row insert of thousands of values cost most of a second. Anonymous `?`
//! parameters are numbered by their position in the text and are not in that list, so on
//! SQLite these helpers write `?`. Callers therefore write placeholders in the order they bind.

use sqlx::any::AnyArguments;
use sqlx::{Any, AnyConnection, Arguments, Encode, Type};

use crate::{Backend, Result, StoreError};

/// The placeholder of the `n`th parameter (1-based), `n` being its position in the text.
pub(crate) fn param(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => "?".to_owned(),
        Backend::Postgres => format!("${n}"),
    }
}

/// `(p,p,..),(p,..)` for `rows` rows of `cols` parameters, numbered from `first`.
pub(crate) fn rows(backend: Backend, first: usize, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * (cols * 6 + 3));
    let mut n = first;
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            s.push_str(&param(backend, n));
            n += 1;
        }
        s.push(')');
    }
    s
}

/// `p,p,..` for `n` parameters, numbered from `first`.
pub(crate) fn list(backend: Backend, first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| param(backend, i))
        .collect::<Vec<_>>()
        .join(",")
}

/// Statements that return no rows, sent to the database together. On SQLite they go as one
/// multi-statement query: one hand-over to the connection's thread instead of one for each
/// (the hand-overs, two context switches each, cost more than most of these statements).
/// On PostgreSQL each statement is sent alone, as before.
///
/// Every statement numbers its placeholders from 1 with [`param`], [`rows`] or [`list`] and
/// binds its values in that order, right after [`Batch::push`]: on SQLite the placeholders
/// are positional across the whole batch.
pub(crate) struct Batch<'q> {
    backend: Backend,
    /// PostgreSQL: the statements before the current one.
    done: Vec<(String, AnyArguments<'q>)>,
    sql: String,
    args: AnyArguments<'q>,
    /// The first value that could not be encoded.
    error: Option<sqlx::error::BoxDynError>,
    /// The rows the statements should change together ([`Batch::expect`]).
    expected: u64,
}

impl<'q> Batch<'q> {
    pub(crate) fn new(backend: Backend) -> Self {
        Batch {
            backend,
            done: Vec::new(),
            sql: String::new(),
            args: AnyArguments::default(),
            error: None,
            expected: 0,
        }
    }

    /// Starts the next statement.
    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        if !self.sql.is_empty() {
            match self.backend {
                Backend::Sqlite => self.sql.push_str(";\n"),
                Backend::Postgres => {
                    let sql = std::mem::take(&mut self.sql);
                    let args = std::mem::take(&mut self.args);
                    self.done.push((sql, args));
                }
            }
        }
        self.sql.push_str(sql);
        self
    }

    /// Binds the current statement's next value.
    pub(crate) fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + Encode<'q, Any> + Type<Any>,
    {
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert(e);
        }
        self
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// Counts `rows` more that the statements pushed should change (checked by
    /// [`Batch::execute_checked`]).
    pub(crate) fn expect(&mut self, rows: u64) -> &mut Self {
        self.expected += rows;
        self
    }

    /// [`Batch::execute`], failing unless the statements changed the rows they were expected
    /// to (a row they update was missing): `what` names the writes in the error.
    pub(crate) async fn execute_checked(self, conn: &mut AnyConnection, what: &str) -> Result<()> {
        let expected = self.expected;
        let changed = self.execute(conn).await?;
        if changed != expected {
            return Err(StoreError::Corrupt(format!(
                "{what} changed {changed} rows, not {expected}"
            )));
        }
        Ok(())
    }

    /// Runs the statements in order; the rows they changed, all together.
    pub(crate) async fn execute(self, conn: &mut AnyConnection) -> Result<u64> {
        if let Some(e) = self.error {
            return Err(StoreError::Database(sqlx::Error::Encode(e)));
        }
        let mut changed = 0;
        for (sql, args) in self.done {
            changed += sqlx::query_with(&sql, args)
                .execute(&mut *conn)
                .await?
                .rows_affected();
        }
        if !self.sql.is_empty() {
            changed += sqlx::query_with(&self.sql, self.args)
                .execute(&mut *conn)
                .await?
                .rows_affected();
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        assert_eq!(rows(Backend::Postgres, 2, 2, 2), "($2,$3),($4,$5)");
        assert_eq!(rows(Backend::Sqlite, 2, 2, 2), "(?,?),(?,?)");
        assert_eq!(list(Backend::Postgres, 1, 3), "$1,$2,$3");
        assert_eq!(list(Backend::Sqlite, 1, 3), "?,?,?");
    }

    /// The statements of a batch run in order with their own values (on SQLite the
    /// placeholders of one multi-statement query), and its count is theirs together.
    #[tokio::test]
    async fn a_batch_runs_its_statements_in_order_with_their_values() {
        use crate::{Store, StoreOptions};
        use sqlx::Row;
        for backend in testkit::backends().await {
            let db = testkit::TestDb::new(backend).await;
            let store = Store::connect(&db.url, StoreOptions::default())
                .await
                .unwrap();
            let backend = store.backend();
            let mut conn = store.write.acquire().await.unwrap();
            let mut batch = Batch::new(backend);
            batch
                .push(&format!(
                    "INSERT INTO accounts (id, email, name, created_at) VALUES {}",
                    rows(backend, 1, 2, 4)
                ))
                .bind(1_i64)
                .bind("a@example.com")
                .bind("A")
                .bind(10_i64)
                .bind(2_i64)
                .bind("b@example.com".to_owned())
                .bind("B")
                .bind(20_i64);
            batch
                .push(&format!(
                    "UPDATE accounts SET name = name || {} WHERE id = {}",
                    param(backend, 1),
                    param(backend, 2)
                ))
                .bind(" first")
                .bind(2_i64);
            batch
                .push(&format!(
                    "UPDATE accounts SET balance_cents = {} WHERE id IN ({})",
                    param(backend, 1),
                    list(backend, 2, 3)
                ))
                .bind(7_i64)
                .bind(1_i64)
                .bind(2_i64)
                .bind(3_i64);
            batch.expect(2 + 1 + 2);
            batch
                .execute_checked(&mut conn, "the test's writes")
                .await
                .unwrap();
            let got: Vec<(i64, String, i64)> =
                sqlx::query("SELECT id, name, balance_cents FROM accounts ORDER BY id")
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2)))
                    .collect();
            assert_eq!(
                got,
                [(1, "A".to_owned(), 7), (2, "B first".to_owned(), 7)],
                "{backend:?}"
            );
            // Fewer rows changed than expected (no account 9) fails it, naming the writes.
            let mut short = Batch::new(backend);
            short
                .push(&format!(
                    "UPDATE accounts SET name = 'x' WHERE id = {}",
                    param(backend, 1)
                ))
                .bind(9_i64)
                .expect(1);
            let err = short
                .execute_checked(&mut conn, "the renaming")
                .await
                .unwrap_err();
            assert!(
                err.to_string()
                    .contains("the renaming changed 0 rows, not 1"),
                "{err}"
            );
            // A failing statement fails the batch.
            let mut bad = Batch::new(backend);
            bad.push("UPDATE accounts SET name = 'x'");
            bad.push("INSERT INTO no_such_table VALUES (1)");
            assert!(bad.execute(&mut conn).await.is_err());
            drop(conn);
            store.close().await;
        }
    }
}
