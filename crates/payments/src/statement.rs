//! The statement model shared by all formats, format detection, and the error type.

use crate::{Amount, VariableSymbol};
use chrono::NaiveDate;

/// A bank statement in one of the supported formats, reduced to what payment matching needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub format: Format,
    /// The statement's own account: IBAN where the format gives one, else the domestic number.
    pub account: Option<String>,
    pub statement_id: Option<String>,
    pub transactions: Vec<Transaction>,
}

/// One movement on the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// Unique within the bank account: ABO document number, camt `AcctSvcrRef` (else `NtryRef`),
    /// Fio `column22` id.
    pub bank_ref: String,
    /// Which way this entry moved money: `Credit` = into the account.
    pub direction: Direction,
    /// The entry undoes an earlier one: a reversed debit is a `Credit` with `reversal`, a
    /// reversed credit a `Debit` with `reversal`.
    pub reversal: bool,
    /// Always zero or more; the sign is in `direction`.
    pub amount: Amount,
    pub currency: String,
    pub booking_date: NaiveDate,
    pub value_date: Option<NaiveDate>,
    pub vs: Option<VariableSymbol>,
    /// Specific symbol without leading zeros.
    pub ss: Option<String>,
    /// Constant symbol as written (normally 4 digits).
    pub ks: Option<String>,
    pub counter_account: Option<String>,
    pub counter_name: Option<String>,
    pub message: Option<String>,
    /// Booked, as opposed to pending or informational (camt `PDNG`/`INFO`).
    pub status_booked: bool,
}

/// Money into (`Credit`) or out of (`Debit`) the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Credit,
    Debit,
}

/// The statement formats this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// ABO/GPC fixed-width text (Windows-1250).
    AboGpc,
    /// ISO 20022 camt.053, any version from 001.02 on.
    Camt053,
    /// Fio banka's JSON API.
    FioJson,
}

/// What is wrong at the place a [`StatementError`] names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("record is {found} bytes long, expected 128")]
    RecordLength { found: usize },
    #[error("unknown record type {0:?}")]
    UnknownRecord(String),
    #[error("{0:?} is not a number")]
    NotANumber(String),
    #[error("{0:?} is not a valid date")]
    BadDate(String),
    #[error("{0:?} is not a valid value here")]
    BadValue(String),
    #[error("missing")]
    Missing,
    #[error("header turnover {header} does not match the items' sum {items}")]
    TurnoverMismatch { header: Amount, items: Amount },
    #[error("opening balance {opening} + credits {credits} - debits {debits} is not the closing balance {closing}")]
    BalanceMismatch {
        opening: Amount,
        credits: Amount,
        debits: Amount,
        closing: Amount,
    },
    #[error("sum of amounts overflows")]
    Overflow,
    #[error("statement of another account {0:?}")]
    OtherAccount(String),
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("no statement found")]
    Empty,
}

/// A statement refused whole, naming where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("not an ABO/GPC, camt.053 or Fio JSON statement")]
    UnknownFormat,
    /// `line` and `column` are 1-based; `column` is where `field` starts.
    #[error("ABO line {line}, column {column} ({field}): {fault}")]
    Abo {
        line: usize,
        column: usize,
        field: &'static str,
        fault: Fault,
    },
    /// `path` is relative to the `Document`/`BkToCstmrStmt` element, e.g. `Stmt/Ntry[3]/Amt`.
    #[error("camt.053 {path}: {fault}")]
    Camt { path: String, fault: Fault },
    /// `path` from the document root, e.g. `accountStatement.transactionList.transaction[2].column1.value`.
    #[error("Fio JSON {path}: {fault}")]
    Fio { path: String, fault: Fault },
}

impl StatementError {
    /// The failure without its location.
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            StatementError::UnknownFormat => None,
            StatementError::Abo { fault, .. }
            | StatementError::Camt { fault, .. }
            | StatementError::Fio { fault, .. } => Some(fault),
        }
    }
}

/// Recognises the format from the first bytes: an ABO record type (`074`, `075`, ...) for ABO, an XML document in a camt.053
/// namespace (or with `BkToCstmrStmt`) for camt, a JSON object with `accountStatement` for Fio.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if matches!(
        bytes.get(..3),
        Some(b"074" | b"075" | b"076" | b"078" | b"079")
    ) {
        return Some(Format::AboGpc);
    }
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &bytes[start..bytes.len().min(start + 4096)];
    let contains = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    match head[0] {
        b'<' if contains(b"camt.053") || contains(b"BkToCstmrStmt") => Some(Format::Camt053),
        b'{' if contains(b"\"accountStatement\"") => Some(Format::FioJson),
        _ => None,
    }
}

/// Detects the format and parses the whole statement, or refuses it whole.
pub fn parse(bytes: &[u8]) -> Result<Statement, StatementError> {
    match detect(bytes).ok_or(StatementError::UnknownFormat)? {
        Format::AboGpc => crate::abo::parse(bytes),
        Format::Camt053 => crate::camt::parse(bytes),
        Format::FioJson => crate::fio::parse(bytes),
    }
}

/// A `NaiveDate` from numbers, or `None` when they name no day.
pub(crate) fn ymd(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day)
}

/// `YYYY-MM-DD` at the start of `text`; what follows (a time or a zone: `T`, `+`, `-`, `Z`) is
/// ignored, but a further digit is refused.
pub(crate) fn iso_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' || b.get(10).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    ymd(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        for (text, expected) in [
            ("2026-11-02", Some((2026, 11, 2))),
            ("2026-11-02+0100", Some((2026, 11, 2))),
            ("2026-11-02T10:15:00Z", Some((2026, 11, 2))),
            ("2026-11-02Z", Some((2026, 11, 2))),
            ("2026-11-022", None),
            ("2026-02-30", None),
            ("2026-1-02", None),
            ("02.11.2026", None),
            ("2026-11-0", None),
            ("+026-11-02", None),
            ("2026-ž1-02", None),
        ] {
            let expected = expected.map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap());
            assert_eq!(iso_date(text), expected, "{text}");
        }
    }
}
