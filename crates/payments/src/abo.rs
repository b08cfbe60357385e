//! ABO/GPC: the Czech fixed-width statement, 128 bytes a record plus CRLF, Windows-1250.
//!
//! Layout after Česká spořitelna's description (1-based, inclusive):
//! `074` header: 4-19 account, 20-39 short name, 40-45 old balance date, 46-59 old balance,
//! 60 sign, 61-74 new balance, 75 sign, 76-89 debit turnover, 90 sign, 91-104 credit turnover,
//! 105 sign, 106-108 statement number, 109-114 statement date.
//! `075` item: 4-19 own account, 20-35 counter-account, 36-48 document number, 49-60 amount,
//! 61 posting code, 62-71 VS, 72-81 (74-77 counter bank code, 78-81 KS), 82-91 SS, 92-97 value
//! date, 98-117 counter-party name, 118 change code, 119-122 data type (`0` + ISO 4217 numeric
//! currency), 123-128 due (booking) date.
//!
//! Assumptions, since banks differ:
//! - Posting codes: 1 debit, 2 credit, 3 reversed debit (money back in: a `Credit` reversal),
//!   4 reversed credit (a `Debit` reversal).
//! - The header turnovers are accepted when they match either way banks book reversals: by the
//!   money's direction (debit turnover = codes 1 + 4, credit = 2 + 3) or as negative entries on
//!   the original side (debit = 1 - 3, credit = 2 - 4). Old balance + credit - debit must be the
//!   new balance.
//! - Dates are DDMMYY, years 00-79 meaning 20xx. An all-zero or blank optional date is absent;
//!   a blank booking date falls back to the value date, then to the statement date.
//! - Accounts are 6 digits of prefix then 10 of number, written `prefix-number` without zeros.
//! - A file may hold several `074` groups for the same account (consecutive days); the
//!   statement id is then their numbers joined by commas.
//! - A trailing Ctrl-Z and LF-only line ends are tolerated; a last line without a line end too.

use crate::statement::{ymd, Direction, Fault, Format, Statement, StatementError, Transaction};
use crate::symbol::{normalise_ks, normalise_ss};
use crate::{Amount, VariableSymbol};
use chrono::NaiveDate;

const RECORD_LEN: usize = 128;

/// One 1-based, inclusive column range with its name, for error messages.
#[derive(Clone, Copy)]
struct Field {
    name: &'static str,
    start: usize,
    end: usize,
}

const fn field(name: &'static str, start: usize, end: usize) -> Field {
    Field { name, start, end }
}

const H_ACCOUNT: Field = field("account", 4, 19);
const H_OLD_DATE: Field = field("old balance date", 40, 45);
const H_OLD_BALANCE: Field = field("old balance", 46, 59);
const H_OLD_SIGN: Field = field("old balance sign", 60, 60);
const H_NEW_BALANCE: Field = field("new balance", 61, 74);
const H_NEW_SIGN: Field = field("new balance sign", 75, 75);
const H_DEBIT: Field = field("debit turnover", 76, 89);
const H_DEBIT_SIGN: Field = field("debit turnover sign", 90, 90);
const H_CREDIT: Field = field("credit turnover", 91, 104);
const H_CREDIT_SIGN: Field = field("credit turnover sign", 105, 105);
const H_NUMBER: Field = field("statement number", 106, 108);
const H_DATE: Field = field("statement date", 109, 114);

const I_ACCOUNT: Field = field("own account", 4, 19);
const I_COUNTER: Field = field("counter-account", 20, 35);
const I_DOCUMENT: Field = field("document number", 36, 48);
const I_AMOUNT: Field = field("amount", 49, 60);
const I_CODE: Field = field("posting code", 61, 61);
const I_VS: Field = field("variable symbol", 62, 71);
const I_BANK: Field = field("counter bank code", 74, 77);
const I_KS: Field = field("constant symbol", 78, 81);
const I_SS: Field = field("specific symbol", 82, 91);
const I_VALUE_DATE: Field = field("value date", 92, 97);
const I_NAME: Field = field("counter-party name", 98, 117);
const I_DATA_TYPE: Field = field("data type", 119, 122);
const I_DUE_DATE: Field = field("due date", 123, 128);

/// A record being read: its bytes and 1-based line number.
struct Record<'a> {
    line: usize,
    bytes: &'a [u8],
}

impl<'a> Record<'a> {
    fn error(&self, f: Field, fault: Fault) -> StatementError {
        StatementError::Abo {
            line: self.line,
            column: f.start,
            field: f.name,
            fault,
        }
    }

    fn raw(&self, f: Field) -> &'a [u8] {
        &self.bytes[f.start - 1..f.end]
    }

    fn text(&self, f: Field) -> String {
        let (text, _) = encoding_rs::WINDOWS_1250.decode_without_bom_handling(self.raw(f));
        text.trim().to_owned()
    }

    /// The field as ASCII digits (may be empty when `blank_ok` and the field is all spaces).
    fn digits(&self, f: Field, blank_ok: bool) -> Result<&'a str, StatementError> {
        let raw = self.raw(f);
        if blank_ok && raw.iter().all(|b| *b == b' ') {
            return Ok("");
        }
        if raw.iter().all(u8::is_ascii_digit) {
            // ASCII digits only, so valid UTF-8.
            Ok(std::str::from_utf8(raw).unwrap_or_default())
        } else {
            Err(self.error(f, Fault::NotANumber(self.text(f))))
        }
    }

    fn amount(&self, f: Field) -> Result<Amount, StatementError> {
        let digits = self.digits(f, false)?;
        crate::amount::digits_to_i64(digits)
            .map(Amount::from_halere)
            .ok_or_else(|| self.error(f, Fault::Overflow))
    }

    fn signed(&self, f: Field, sign: Field) -> Result<Amount, StatementError> {
        let amount = self.amount(f)?;
        match self.raw(sign) {
            b"+" => Ok(amount),
            b"-" => Ok(Amount::from_halere(-amount.halere())),
            _ => Err(self.error(sign, Fault::BadValue(self.text(sign)))),
        }
    }

    /// A DDMMYY date; `None` for an all-zero or blank field.
    fn date(&self, f: Field) -> Result<Option<NaiveDate>, StatementError> {
        let raw = self.raw(f);
        if raw.iter().all(|b| *b == b'0' || *b == b' ') {
            return Ok(None);
        }
        let bad = || self.error(f, Fault::BadDate(self.text(f)));
        let digits = self.digits(f, false).map_err(|_| bad())?;
        let num = |r: std::ops::Range<usize>| digits[r].parse::<u32>().unwrap_or(0);
        let yy = num(4..6) as i32;
        let year = if yy < 80 { 2000 + yy } else { 1900 + yy };
        ymd(year, num(2..4), num(0..2)).map(Some).ok_or_else(bad)
    }
}

/// `prefix-number` from 16 digits, without leading zeros; `None` for all zeros or blank.
fn account_number(digits: &str) -> Option<String> {
    if digits.len() != 16 {
        return None;
    }
    let prefix = digits[..6].trim_start_matches('0');
    let number = digits[6..].trim_start_matches('0');
    match (prefix.is_empty(), number.is_empty()) {
        (true, true) => None,
        (true, false) => Some(number.to_owned()),
        (false, _) => Some(format!(
            "{prefix}-{}",
            if number.is_empty() { "0" } else { number }
        )),
    }
}

fn currency(code: &str) -> Option<&'static str> {
    Some(match code.trim_start_matches('0') {
        "" | "203" => "CZK",
        "978" => "EUR",
        "840" => "USD",
        "826" => "GBP",
        "756" => "CHF",
        "985" => "PLN",
        "348" => "HUF",
        _ => return None,
    })
}

/// The header of one `074` group and the sums of its items by posting code.
struct Group {
    line: usize,
    old_balance: Amount,
    new_balance: Amount,
    debit_turnover: Amount,
    credit_turnover: Amount,
    /// Sums of posting codes 1..=4.
    sums: [Amount; 4],
}

impl Group {
    fn check(&self) -> Result<(), StatementError> {
        let at = |f: Field, fault| StatementError::Abo {
            line: self.line,
            column: f.start,
            field: f.name,
            fault,
        };
        let [s1, s2, s3, s4] = self.sums;
        let add =
            |a: Amount, b: Amount| a.checked_add(b).ok_or_else(|| at(H_DEBIT, Fault::Overflow));
        let sub =
            |a: Amount, b: Amount| a.checked_sub(b).ok_or_else(|| at(H_DEBIT, Fault::Overflow));
        let by_direction = (add(s1, s4)?, add(s2, s3)?);
        let by_side = (sub(s1, s3)?, sub(s2, s4)?);
        let header = (self.debit_turnover, self.credit_turnover);
        if header != by_direction && header != by_side {
            return Err(
                if self.debit_turnover != by_direction.0 && self.debit_turnover != by_side.0 {
                    at(
                        H_DEBIT,
                        Fault::TurnoverMismatch {
                            header: self.debit_turnover,
                            items: by_direction.0,
                        },
                    )
                } else {
                    at(
                        H_CREDIT,
                        Fault::TurnoverMismatch {
                            header: self.credit_turnover,
                            items: by_direction.1,
                        },
                    )
                },
            );
        }
        let expected = self
            .old_balance
            .checked_add(self.credit_turnover)
            .and_then(|a| a.checked_sub(self.debit_turnover))
            .ok_or_else(|| at(H_NEW_BALANCE, Fault::Overflow))?;
        if expected != self.new_balance {
            return Err(at(
                H_NEW_BALANCE,
                Fault::BalanceMismatch {
                    opening: self.old_balance,
                    credits: self.credit_turnover,
                    debits: self.debit_turnover,
                    closing: self.new_balance,
                },
            ));
        }
        Ok(())
    }
}

/// Parses a whole ABO/GPC file, refusing it at the first fault.
pub(crate) fn parse(bytes: &[u8]) -> Result<Statement, StatementError> {
    let mut bytes = bytes;
    while let Some(rest) = bytes.strip_suffix(b"\x1A") {
        bytes = rest;
    }
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }

    let mut account_raw: Option<&[u8]> = None;
    let mut account: Option<String> = None;
    let mut header_date: Option<NaiveDate> = None;
    let mut numbers: Vec<String> = Vec::new();
    let mut group: Option<Group> = None;
    let mut transactions = Vec::new();

    for (index, line) in lines.into_iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let record = Record {
            line: index + 1,
            bytes: line,
        };
        let kind = line.get(..3).unwrap_or(line);
        match kind {
            // Supplementary records (076 transaction details, 078/079 messages for the
            // recipient) vary by bank in length and content; they are skipped.
            b"076" | b"078" | b"079" => continue,
            b"074" | b"075" => {}
            _ => {
                let shown = String::from_utf8_lossy(kind).into_owned();
                let fault = if line.len() < 3 {
                    Fault::RecordLength { found: line.len() }
                } else {
                    Fault::UnknownRecord(shown)
                };
                return Err(record.error(field("record type", 1, 3), fault));
            }
        }
        if line.len() != RECORD_LEN {
            return Err(record.error(
                field("record", 1, RECORD_LEN),
                Fault::RecordLength { found: line.len() },
            ));
        }
        if kind == b"074" {
            if let Some(done) = group.take() {
                done.check()?;
            }
            let raw_account = record.raw(H_ACCOUNT);
            let digits = record.digits(H_ACCOUNT, false)?;
            match account_raw {
                None => {
                    account_raw = Some(raw_account);
                    account = account_number(digits);
                }
                Some(first) if first != raw_account => {
                    return Err(
                        record.error(H_ACCOUNT, Fault::OtherAccount(record.text(H_ACCOUNT)))
                    );
                }
                Some(_) => {}
            }
            record.date(H_OLD_DATE)?;
            let number = record.digits(H_NUMBER, true)?;
            if !number.is_empty() {
                let trimmed = number.trim_start_matches('0');
                numbers.push(if trimmed.is_empty() { "0" } else { trimmed }.to_owned());
            }
            header_date = record.date(H_DATE)?.or(header_date);
            group = Some(Group {
                line: record.line,
                old_balance: record.signed(H_OLD_BALANCE, H_OLD_SIGN)?,
                new_balance: record.signed(H_NEW_BALANCE, H_NEW_SIGN)?,
                debit_turnover: record.signed(H_DEBIT, H_DEBIT_SIGN)?,
                credit_turnover: record.signed(H_CREDIT, H_CREDIT_SIGN)?,
                sums: [Amount::ZERO; 4],
            });
            continue;
        }

        // A 075 item.
        let Some(current) = group.as_mut() else {
            return Err(record.error(
                field("record type", 1, 3),
                Fault::Malformed("item before any 074 header".into()),
            ));
        };
        if Some(record.raw(I_ACCOUNT)) != account_raw {
            return Err(record.error(I_ACCOUNT, Fault::OtherAccount(record.text(I_ACCOUNT))));
        }
        let (transaction, slot) = item(&record, header_date)?;
        current.sums[slot] = current.sums[slot]
            .checked_add(transaction.amount)
            .ok_or_else(|| record.error(I_AMOUNT, Fault::Overflow))?;
        transactions.push(transaction);
    }

    match group {
        Some(last) => last.check()?,
        None => {
            return Err(StatementError::Abo {
                line: 1,
                column: 1,
                field: "record type",
                fault: Fault::Empty,
            });
        }
    }
    Ok(Statement {
        format: Format::AboGpc,
        account,
        statement_id: (!numbers.is_empty()).then(|| numbers.join(",")),
        transactions,
    })
}

/// One `075` item as a transaction, with the index (0..4) of its posting code for the sums.
fn item(
    record: &Record<'_>,
    header_date: Option<NaiveDate>,
) -> Result<(Transaction, usize), StatementError> {
    let counter = record.digits(I_COUNTER, true)?;
    let bank = record.digits(I_BANK, true)?;
    let counter_account = account_number(counter).map(|acc| {
        if bank.is_empty() || bank.bytes().all(|b| b == b'0') {
            acc
        } else {
            format!("{acc}/{bank}")
        }
    });
    let bank_ref = record.text(I_DOCUMENT);
    if bank_ref.is_empty() {
        return Err(record.error(I_DOCUMENT, Fault::Missing));
    }
    let amount = record.amount(I_AMOUNT)?;
    let (direction, reversal, slot) = match record.raw(I_CODE) {
        b"1" => (Direction::Debit, false, 0),
        b"2" => (Direction::Credit, false, 1),
        b"3" => (Direction::Credit, true, 2),
        b"4" => (Direction::Debit, true, 3),
        _ => return Err(record.error(I_CODE, Fault::BadValue(record.text(I_CODE)))),
    };
    let vs_digits = record.text(I_VS);
    let vs = if vs_digits.is_empty() {
        None
    } else {
        let vs = VariableSymbol::parse(&vs_digits)
            .map_err(|_| record.error(I_VS, Fault::NotANumber(vs_digits.clone())))?;
        (!vs.is_zero()).then_some(vs)
    };
    let ks = record.digits(I_KS, true)?;
    let ss = record.digits(I_SS, true)?;
    let value_date = record.date(I_VALUE_DATE)?;
    let data_type = record.digits(I_DATA_TYPE, true)?;
    let currency = currency(data_type)
        .ok_or_else(|| record.error(I_DATA_TYPE, Fault::BadValue(data_type.into())))?;
    let booking_date = record
        .date(I_DUE_DATE)?
        .or(value_date)
        .or(header_date)
        .ok_or_else(|| record.error(I_DUE_DATE, Fault::Missing))?;
    let name = record.text(I_NAME);
    let transaction = Transaction {
        bank_ref,
        direction,
        reversal,
        amount,
        currency: currency.to_owned(),
        booking_date,
        value_date,
        vs,
        ss: normalise_ss(ss),
        ks: normalise_ks(ks),
        counter_account,
        counter_name: (!name.is_empty()).then_some(name),
        message: None,
        status_booked: true,
    };
    Ok((transaction, slot))
}
