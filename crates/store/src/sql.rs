//! Bind-parameter placeholders for statements with many parameters.
//!
//! PostgreSQL numbers parameters `$1..$n`. SQLite accepts that too, but keeps every `$N`
//! parameter in a list it searches linearly, when preparing the statement and again each time
//! sqlx binds one (it asks for every parameter's name): quadratic in the number of parameters,
//! which made a multi-row insert of thousands of values cost most of a second. Anonymous `?`
//! parameters are numbered by their position in the text and are not in that list, so on
//! SQLite these helpers write `?`. Callers therefore write placeholders in the order they bind.

use crate::Backend;

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
}
