//! Fio banka's JSON statement: `accountStatement.info` and
//! `accountStatement.transactionList.transaction[].columnN.value`.
//!
//! Columns read: 22 movement id, 0 date (`2026-11-02+0100`), 1 signed amount, 14 currency,
//! 2/3 counter account and bank code, 4 KS, 5 VS, 6 SS, 10 counter-account name, 16 message for
//! the recipient. A column may be `null` or missing. Amounts are read from the number's text,
//! never through floating point.
//!
//! Assumptions: every Fio movement is booked and none is flagged as a reversal (the API has no
//! such flag); a missing currency column falls back to `info.currency`; a movement without VS
//! takes one from the `/VS/` form in its message; the account is `info.iban`, else
//! `accountId/bankId`; the statement id is `yearList/idList` when the request was for an official
//! statement, else `idFrom-idTo`.

use crate::statement::{
    iso_date, Direction, Fault, Format, Statement, StatementError, Transaction,
};
use crate::symbol::{normalise_ks, normalise_ss, vs_from_remittance};
use crate::{Amount, VariableSymbol};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

type Object<'a> = BTreeMap<String, &'a RawValue>;

fn err(path: impl Into<String>, fault: Fault) -> StatementError {
    StatementError::Fio {
        path: path.into(),
        fault,
    }
}

fn object<'a>(raw: &'a RawValue, path: &str) -> Result<Object<'a>, StatementError> {
    serde_json::from_str(raw.get()).map_err(|_| err(path, Fault::BadValue(short(raw.get()))))
}

fn short(text: &str) -> String {
    text.chars().take(40).collect()
}

fn is_null(raw: &RawValue) -> bool {
    raw.get() == "null"
}

/// A JSON string, or a number's text; `None` for null.
fn scalar(raw: &RawValue, path: &str) -> Result<Option<String>, StatementError> {
    let text = raw.get();
    if is_null(raw) {
        return Ok(None);
    }
    if text.starts_with('"') {
        let s: String =
            serde_json::from_str(text).map_err(|_| err(path, Fault::BadValue(short(text))))?;
        let s = s.trim().to_owned();
        return Ok((!s.is_empty()).then_some(s));
    }
    if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Ok(Some(text.to_owned()));
    }
    Err(err(path, Fault::BadValue(short(text))))
}

/// The columns of one transaction, read by number.
struct Columns<'a> {
    map: Object<'a>,
    path: String,
}

impl Columns<'_> {
    /// `(value, path of value)`; `None` when the column is missing or null or its value is null.
    fn get(&self, n: u32) -> Result<(Option<String>, String), StatementError> {
        let key = format!("column{n}");
        let col_path = format!("{}.{key}", self.path);
        let value_path = format!("{col_path}.value");
        let Some(raw) = self.map.get(&key).filter(|r| !is_null(r)) else {
            return Ok((None, value_path));
        };
        let column = object(raw, &col_path)?;
        let value = match column.get("value") {
            Some(v) => scalar(v, &value_path)?,
            None => None,
        };
        Ok((value, value_path))
    }

    fn text(&self, n: u32) -> Result<Option<String>, StatementError> {
        Ok(self.get(n)?.0)
    }

    fn required(&self, n: u32) -> Result<(String, String), StatementError> {
        match self.get(n)? {
            (Some(v), path) => Ok((v, path)),
            (None, path) => Err(err(path, Fault::Missing)),
        }
    }

    /// A symbol column: digits only.
    fn digits(&self, n: u32) -> Result<Option<String>, StatementError> {
        match self.get(n)? {
            (Some(v), path) if !v.bytes().all(|b| b.is_ascii_digit()) || v.len() > 10 => {
                Err(err(path, Fault::NotANumber(v)))
            }
            (v, _) => Ok(v),
        }
    }
}

/// Parses a Fio JSON statement, refusing it at the first fault.
pub(crate) fn parse(bytes: &[u8]) -> Result<Statement, StatementError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        err(
            "$",
            Fault::Malformed(format!("not UTF-8 at byte {}", e.valid_up_to())),
        )
    })?;
    let root: Object =
        serde_json::from_str(text).map_err(|e| err("$", Fault::Malformed(e.to_string())))?;

    let path = "accountStatement";
    let statement = root.get(path).ok_or_else(|| err(path, Fault::Missing))?;
    let statement = object(statement, path)?;

    let info = match statement.get("info").filter(|r| !is_null(r)) {
        Some(raw) => object(raw, "accountStatement.info")?,
        None => Object::new(),
    };
    let info_text = |key: &str| -> Result<Option<String>, StatementError> {
        match info.get(key) {
            Some(raw) => scalar(raw, &format!("accountStatement.info.{key}")),
            None => Ok(None),
        }
    };
    let account = match (
        info_text("iban")?,
        info_text("accountId")?,
        info_text("bankId")?,
    ) {
        (Some(iban), _, _) => Some(iban),
        (None, Some(id), Some(bank)) => Some(format!("{id}/{bank}")),
        (None, id, _) => id,
    };
    let statement_id = match (
        info_text("yearList")?,
        info_text("idList")?,
        info_text("idFrom")?,
        info_text("idTo")?,
    ) {
        (Some(year), Some(id), _, _) => Some(format!("{year}/{id}")),
        (_, _, Some(from), Some(to)) => Some(format!("{from}-{to}")),
        _ => None,
    };
    let default_currency = info_text("currency")?;

    let list_path = "accountStatement.transactionList";
    let list = statement
        .get("transactionList")
        .ok_or_else(|| err(list_path, Fault::Missing))?;
    let raws: Vec<&RawValue> = if is_null(list) {
        Vec::new()
    } else {
        let list = object(list, list_path)?;
        let tx_path = format!("{list_path}.transaction");
        match list.get("transaction").filter(|r| !is_null(r)) {
            Some(raw) => serde_json::from_str(raw.get())
                .map_err(|_| err(&tx_path, Fault::BadValue(short(raw.get()))))?,
            None => Vec::new(),
        }
    };

    let mut transactions = Vec::with_capacity(raws.len());
    for (i, raw) in raws.into_iter().enumerate() {
        let path = format!("{list_path}.transaction[{i}]");
        let columns = Columns {
            map: object(raw, &path)?,
            path,
        };
        transactions.push(transaction(&columns, default_currency.as_deref())?);
    }
    Ok(Statement {
        format: Format::FioJson,
        account,
        statement_id,
        transactions,
    })
}

fn transaction(
    columns: &Columns<'_>,
    default_currency: Option<&str>,
) -> Result<Transaction, StatementError> {
    let (bank_ref, _) = columns.required(22)?;
    let (date, date_path) = columns.required(0)?;
    let booking_date =
        iso_date(&date).ok_or_else(|| err(date_path, Fault::BadDate(date.clone())))?;
    let (amount_text, amount_path) = columns.required(1)?;
    let signed = Amount::from_json_number(&amount_text)
        .map_err(|_| err(&amount_path, Fault::NotANumber(amount_text.clone())))?;
    let amount = signed
        .checked_abs()
        .ok_or_else(|| err(&amount_path, Fault::Overflow))?;
    let direction = if signed.is_negative() {
        Direction::Debit
    } else {
        Direction::Credit
    };
    let currency = match columns.get(14)? {
        (Some(c), _) => c,
        (None, path) => default_currency
            .map(str::to_owned)
            .ok_or_else(|| err(path, Fault::Missing))?,
    };
    let message = columns.text(16)?;
    let (vs_text, vs_path) = columns.get(5)?;
    let vs = match vs_text {
        Some(text) => {
            let vs =
                VariableSymbol::parse(&text).map_err(|_| err(vs_path, Fault::NotANumber(text)))?;
            (!vs.is_zero()).then_some(vs)
        }
        None => None,
    }
    .or_else(|| message.as_deref().and_then(vs_from_remittance));
    let counter_account = match (columns.text(2)?, columns.text(3)?) {
        (Some(acc), Some(bank)) => Some(format!("{acc}/{bank}")),
        (acc, _) => acc,
    };
    Ok(Transaction {
        bank_ref,
        direction,
        reversal: false,
        amount,
        currency,
        booking_date,
        value_date: None,
        vs,
        ss: columns.digits(6)?.as_deref().and_then(normalise_ss),
        ks: columns.digits(4)?.as_deref().and_then(normalise_ks),
        counter_account,
        counter_name: columns.text(10)?,
        message,
        status_booked: true,
    })
}
