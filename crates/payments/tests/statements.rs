//! Statement parsing over the fixtures in `tests/fixtures/`, their corrupt variants, and
//! property tests: an ABO writer round trip and no panics on arbitrary or damaged input.

use chrono::{Datelike, NaiveDate};
use payments::{detect, parse, Direction, Fault, Format, Statement, StatementError, Transaction};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const FIXTURES: &[&str] = &[
    "abo_ok.gpc",
    "abo_truncated.gpc",
    "abo_missing_item.gpc",
    "abo_wrong_length.gpc",
    "abo_bad_amount.gpc",
    "camt053_v02.xml",
    "camt053_v08.xml",
    "camt053_truncated.xml",
    "camt053_bad_xml.xml",
    "camt053_missing_amount.xml",
    "fio.json",
    "fio_truncated.json",
    "fio_bad_amount.json",
];

/// One line per transaction, every field of the model in a fixed order.
fn summary(t: &Transaction) -> String {
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    format!(
        "{} {}{} {} {} {} {} vs={} ss={} ks={} acc={} name={} msg={}{}",
        t.bank_ref,
        if t.direction == Direction::Credit {
            "CRDT"
        } else {
            "DBIT"
        },
        if t.reversal { "/rev" } else { "" },
        t.amount,
        t.currency,
        t.booking_date,
        t.value_date.map_or("-".into(), |d| d.to_string()),
        t.vs.as_ref().map_or("-".into(), |v| v.to_string()),
        opt(&t.ss),
        opt(&t.ks),
        opt(&t.counter_account),
        opt(&t.counter_name),
        opt(&t.message),
        if t.status_booked { "" } else { " (not booked)" },
    )
}

fn check(name: &str, format: Format, account: &str, statement_id: &str, expected: &[&str]) {
    let bytes = fixture(name);
    assert_eq!(detect(&bytes), Some(format), "{name}");
    let statement = parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(statement.format, format);
    assert_eq!(statement.account.as_deref(), Some(account), "{name}");
    assert_eq!(
        statement.statement_id.as_deref(),
        Some(statement_id),
        "{name}"
    );
    let lines: Vec<String> = statement.transactions.iter().map(summary).collect();
    assert_eq!(lines, expected, "{name}");
    for t in &statement.transactions {
        assert!(!t.amount.is_negative(), "{name}: {}", t.bank_ref);
    }
}

fn check_error(bytes: &[u8], expected: &str) {
    let error = parse(bytes).expect_err(expected);
    assert_eq!(error.to_string(), expected);
}

#[test]
fn abo_statement() {
    check(
        "abo_ok.gpc",
        Format::AboGpc,
        "1265098001",
        "47",
        &[
            "2611020000001 CRDT 500.00 CZK 2026-11-02 2026-11-02 vs=12345 ss=- ks=0308 acc=19-2000145399/0800 name=Jan Novák msg=-",
            "2611020000002 CRDT 1234.56 CZK 2026-11-02 2026-11-02 vs=2026000001 ss=77 ks=- acc=670100016/5500 name=Žluťoučký kůň s.r.o msg=-",
            "2611020000003 CRDT 99.00 CZK 2026-11-02 - vs=42 ss=- ks=0558 acc=- name=SMITH JOHN msg=-",
            "2611020000004 DBIT 150.00 CZK 2026-11-02 2026-11-02 vs=- ss=- ks=- acc=- name=- msg=-",
            "2611020000005 DBIT/rev 500.00 CZK 2026-11-02 2026-11-02 vs=12345 ss=- ks=0308 acc=19-2000145399/0800 name=Jan Novák msg=-",
            "2611020000006 CRDT 0.01 CZK 2026-11-02 2026-11-02 vs=- ss=- ks=- acc=- name=Petr Dvořák msg=-",
        ],
    );
}

#[test]
fn abo_corrupt_files_name_line_and_field() {
    let truncated = parse(&fixture("abo_truncated.gpc")).unwrap_err();
    assert_eq!(truncated.fault(), Some(&Fault::RecordLength { found: 60 }));
    assert_eq!(StatementError::UnknownFormat.fault(), None);
    check_error(
        &fixture("abo_truncated.gpc"),
        "ABO line 6, column 1 (record): record is 60 bytes long, expected 128",
    );
    check_error(
        &fixture("abo_wrong_length.gpc"),
        "ABO line 3, column 1 (record): record is 127 bytes long, expected 128",
    );
    check_error(
        &fixture("abo_bad_amount.gpc"),
        "ABO line 3, column 49 (amount): \"0000O0123456\" is not a number",
    );
    check_error(
        &fixture("abo_missing_item.gpc"),
        "ABO line 1, column 91 (credit turnover): header turnover 1833.57 does not match the items' sum 599.01",
    );
}

/// The good ABO file with record `line` (1-based) changed at `column` (1-based) to `text`.
fn abo_with(line: usize, column: usize, text: &str) -> Vec<u8> {
    let good = fixture("abo_ok.gpc");
    let mut lines: Vec<Vec<u8>> = good.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    let record = &mut lines[line - 1];
    record.splice(column - 1..column - 1 + text.len(), text.bytes());
    lines.join(&b'\n')
}

#[test]
fn abo_field_faults() {
    for (line, column, text, expected) in [
        (2, 1, "077", "ABO line 2, column 1 (record type): unknown record type \"077\""),
        (2, 123, "310226", "ABO line 2, column 123 (due date): \"310226\" is not a valid date"),
        (2, 92, "02X126", "ABO line 2, column 92 (value date): \"02X126\" is not a valid date"),
        (2, 61, "7", "ABO line 2, column 61 (posting code): \"7\" is not a valid value here"),
        (2, 62, "00001A2345", "ABO line 2, column 62 (variable symbol): \"00001A2345\" is not a number"),
        (2, 119, "0999", "ABO line 2, column 119 (data type): \"0999\" is not a valid value here"),
        (2, 36, "             ", "ABO line 2, column 36 (document number): missing"),
        (2, 4, "0000001265098002", "ABO line 2, column 4 (own account): statement of another account \"0000001265098002\""),
        (1, 60, "*", "ABO line 1, column 60 (old balance sign): \"*\" is not a valid value here"),
        (
            1,
            61,
            "00000001118358",
            "ABO line 1, column 61 (new balance): opening balance 10000.00 + credits 1833.57 - debits 650.00 is not the closing balance 11183.58",
        ),
        (1, 109, "320126", "ABO line 1, column 109 (statement date): \"320126\" is not a valid date"),
    ] {
        check_error(&abo_with(line, column, text), expected);
    }
}

#[test]
fn abo_structure_faults() {
    let good = fixture("abo_ok.gpc");
    let header_len = 130;
    check_error(
        &good[header_len..],
        "ABO line 1, column 1 (record type): malformed: item before any 074 header",
    );
    check_error(
        &good[..header_len],
        "ABO line 1, column 76 (debit turnover): header turnover 650.00 does not match the items' sum 0.00",
    );
    check_error(
        b"074",
        "ABO line 1, column 1 (record): record is 3 bytes long, expected 128",
    );
    assert_eq!(parse(b"").unwrap_err(), StatementError::UnknownFormat);
    let mut blank_line = good.clone();
    blank_line.splice(header_len..header_len, b"\r\n".iter().copied());
    check_error(
        &blank_line,
        "ABO line 2, column 1 (record type): record is 0 bytes long, expected 128",
    );
}

#[test]
fn abo_tolerates_lf_ctrl_z_and_a_missing_last_line_end() {
    let good = fixture("abo_ok.gpc");
    let expected = parse(&good).unwrap();
    let lf: Vec<u8> = good.iter().copied().filter(|b| *b != b'\r').collect();
    assert_eq!(parse(&lf).unwrap(), expected);
    let mut ctrl_z = good.clone();
    ctrl_z.push(0x1A);
    assert_eq!(parse(&ctrl_z).unwrap(), expected);
    assert_eq!(parse(&good[..good.len() - 2]).unwrap(), expected);
}

#[test]
fn camt_001_02() {
    check(
        "camt053_v02.xml",
        Format::Camt053,
        "CZ5855000000001265098001",
        "2026-47",
        &[
            "2611020000001 CRDT 500.00 CZK 2026-11-02 2026-11-02 vs=12345 ss=- ks=- acc=CZ6508000000192000145399 name=Jan Novák msg=Kredit SMS & notifikace",
            "2611020000002 CRDT 1234.56 CZK 2026-11-02 2026-11-02 vs=2026000001 ss=- ks=- acc=670100016/5500 name=Žluťoučký kůň s.r.o. msg=-",
            "2611020000003 CRDT 99.00 CZK 2026-11-02 2026-11-03 vs=42 ss=1 ks=0558 acc=DE89370400440532013000 name=John Smith msg=/VS/42/SS/0001/KS/0558 SMS credit",
            "2611020000004 DBIT 150.00 CZK 2026-11-02 2026-11-02 vs=- ss=- ks=- acc=- name=- msg=Poplatek za vedení účtu",
            "2611020000005 DBIT/rev 500.00 CZK 2026-11-02 2026-11-02 vs=12345 ss=- ks=- acc=CZ6508000000192000145399 name=Jan Novák msg=-",
            "6 CRDT 300.00 CZK 2026-11-03 2026-11-03 vs=777 ss=- ks=- acc=- name=Eva Malá msg=- (not booked)",
        ],
    );
}

#[test]
fn camt_001_08() {
    check(
        "camt053_v08.xml",
        Format::Camt053,
        "1265098001/5500",
        "20261102-1",
        &[
            "N-0001 CRDT 1000.00 CZK 2026-11-02 2026-11-02 vs=2026007 ss=5 ks=0308 acc=CZ6508000000192000145399 name=Alena Svobodová msg=Dobití <kredit>",
            "INFO-77 CRDT 250.00 CZK 2026-11-02 - vs=5550001 ss=- ks=- acc=- name=- msg=VS: 5550001 (not booked)",
            "R-0003 CRDT/rev 100.00 CZK 2026-11-02 - vs=- ss=- ks=- acc=CZ5855000000001265098001 name=Operátor a.s. msg=-",
            "R-0004 DBIT 100.00 CZK 2026-11-02 - vs=- ss=- ks=- acc=- name=- msg=SMS operator invoice",
        ],
    );
}

#[test]
fn camt_corrupt_files_name_the_element() {
    let truncated = parse(&fixture("camt053_truncated.xml")).unwrap_err();
    assert!(
        matches!(&truncated, StatementError::Camt { path, fault: Fault::Malformed(_) } if path == "Stmt/Ntry[3]/Amt"),
        "{truncated}"
    );
    let bad = parse(&fixture("camt053_bad_xml.xml")).unwrap_err();
    assert!(
        matches!(&bad, StatementError::Camt { path, fault: Fault::Malformed(_) } if path == "Stmt/Ntry[2]/Sts"),
        "{bad}"
    );
    check_error(
        &fixture("camt053_missing_amount.xml"),
        "camt.053 Stmt/Ntry[3]/Amt: missing",
    );
}

fn camt_with(from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(fixture("camt053_v02.xml")).unwrap();
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1).into_bytes()
}

#[test]
fn camt_element_faults() {
    for (from, to, expected) in [
        ("<CdtDbtInd>CRDT</CdtDbtInd>\n        <RvslInd>", "<CdtDbtInd>CR</CdtDbtInd>\n        <RvslInd>", "camt.053 Stmt/Ntry[1]/CdtDbtInd: \"CR\" is not a valid value here"),
        ("<RvslInd>false", "<RvslInd>maybe", "camt.053 Stmt/Ntry[1]/RvslInd: \"maybe\" is not a valid value here"),
        ("<Sts>BOOK</Sts>", "<Sts>DONE</Sts>", "camt.053 Stmt/Ntry[1]/Sts: \"DONE\" is not a valid value here"),
        ("<Sts>BOOK</Sts>", "", "camt.053 Stmt/Ntry[1]/Sts: missing"),
        ("<BookgDt><Dt>2026-11-02</Dt>", "<BookgDt><Dt>2026-02-30</Dt>", "camt.053 Stmt/Ntry[1]/BookgDt/Dt: \"2026-02-30\" is not a valid date"),
        (">1234.56<", ">1234,56<", "camt.053 Stmt/Ntry[2]/Amt: \"1234,56\" is not a number"),
        (">1234.56<", ">-1234.56<", "camt.053 Stmt/Ntry[2]/Amt: \"-1234.56\" is not a valid value here"),
        ("<Amt Ccy=\"CZK\">1234.56", "<Amt>1234.56", "camt.053 Stmt/Ntry[2]/Amt/@Ccy: missing"),
        ("<NtryRef>6</NtryRef>", "", "camt.053 Stmt/Ntry[6]/AcctSvcrRef: missing"),
        (
            "11183.56",
            "11183.57",
            "camt.053 Stmt/Bal: opening balance 10000.00 + credits 1833.56 - debits 650.00 is not the closing balance 11183.57",
        ),
    ] {
        check_error(&camt_with(from, to), expected);
    }
}

#[test]
fn camt_structure_faults() {
    check_error(
        b"<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"></Document>",
        "camt.053 BkToCstmrStmt: missing",
    );
    check_error(
        b"<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><BkToCstmrStmt/></Document>",
        "camt.053 Stmt: missing",
    );
    check_error(
        b"<Other xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"/>",
        "camt.053 Other: malformed: the root element is not Document",
    );
    check_error(
        b"<Document xmlns=\"camt.053\"><BkToCstmrStmt/></Document>trailing",
        "camt.053 (document): malformed: text outside the root element",
    );
    check_error(
        b"<Document xmlns=\"camt.053\"/><Document/>",
        "camt.053 (document): malformed: content after the root element",
    );
    let mut not_utf8 = fixture("camt053_v02.xml");
    let at = not_utf8.windows(4).position(|w| w == b"Jan ").unwrap();
    not_utf8[at] = 0xFF;
    assert!(matches!(
        parse(&not_utf8),
        Err(StatementError::Camt {
            fault: Fault::Malformed(_),
            ..
        })
    ));
    let deep = format!(
        "<Document xmlns=\"camt.053\"><BkToCstmrStmt>{}",
        "<Stmt>".repeat(100_000)
    );
    assert!(matches!(
        parse(deep.as_bytes()),
        Err(StatementError::Camt {
            fault: Fault::Malformed(_),
            ..
        })
    ));
    // Two statements of different accounts cannot be one Statement.
    let text = String::from_utf8(fixture("camt053_v02.xml")).unwrap();
    let start = text.find("<Stmt>").unwrap();
    let end = text.find("</Stmt>").unwrap() + "</Stmt>".len();
    let other = text[start..end].replace(
        "CZ5855000000001265098001</IBAN></Id>\n        <Ccy>",
        "CZ6508000000192000145399</IBAN></Id>\n        <Ccy>",
    );
    let two = format!("{}{}{}", &text[..end], other, &text[end..]);
    check_error(
        two.as_bytes(),
        "camt.053 Stmt[2]/Acct: statement of another account \"CZ6508000000192000145399\"",
    );
    let same = format!("{}{}{}", &text[..end], &text[start..end], &text[end..]);
    assert_eq!(parse(same.as_bytes()).unwrap().transactions.len(), 12);
}

#[test]
fn fio_statement() {
    check(
        "fio.json",
        Format::FioJson,
        "CZ7920100000002000000000",
        "26110201-26110205",
        &[
            "26110201 CRDT 1500.00 CZK 2026-11-01 - vs=12345 ss=- ks=0308 acc=2000145399/0800 name=Novák, Jan msg=Kredit SMS",
            "26110202 DBIT 150.50 CZK 2026-11-01 - vs=- ss=- ks=- acc=- name=- msg=-",
            "26110203 CRDT 0.29 CZK 2026-11-02 - vs=77 ss=- ks=- acc=DE89370400440532013000 name=John Smith msg=/VS/77/SS/9 SMS credit",
            "26110204 CRDT 240.88 CZK 2026-11-02 - vs=2026000001 ss=77 ks=- acc=- name=- msg=-",
            "26110205 CRDT 0.10 CZK 2026-11-02 - vs=- ss=- ks=- acc=- name=- msg=-",
        ],
    );
}

#[test]
fn fio_corrupt_files_name_the_json_path() {
    let truncated = parse(&fixture("fio_truncated.json")).unwrap_err();
    assert!(
        matches!(&truncated, StatementError::Fio { path, fault: Fault::Malformed(m) } if path == "$" && m.contains("EOF")),
        "{truncated}"
    );
    check_error(
        &fixture("fio_bad_amount.json"),
        "Fio JSON accountStatement.transactionList.transaction[2].column1.value: \"0,29\" is not a number",
    );
}

fn fio_with(from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(fixture("fio.json")).unwrap();
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1).into_bytes()
}

#[test]
fn fio_value_faults() {
    let tx = "Fio JSON accountStatement.transactionList.transaction";
    for (from, to, expected) in [
        ("\"column22\":{\"value\":26110202,\"name\":\"ID pohybu\",\"id\":22},", "", format!("{tx}[1].column22.value: missing")),
        ("\"value\":\"2026-11-02+0100\"", "\"value\":\"02.11.2026\"", format!("{tx}[2].column0.value: \"02.11.2026\" is not a valid date")),
        ("\"value\":-150.5", "\"value\":-150.505", format!("{tx}[1].column1.value: \"-150.505\" is not a number")),
        ("\"value\":\"0000012345\"", "\"value\":\"12A\"", format!("{tx}[0].column5.value: \"12A\" is not a number")),
        ("\"value\":\"000077\"", "\"value\":\"7-7\"", format!("{tx}[3].column6.value: \"7-7\" is not a number")),
        ("\"value\":1500.0", "\"value\":true", format!("{tx}[0].column1.value: \"true\" is not a valid value here")),
        (
            "\"column0\":{\"value\":\"2026-11-01+0100\",\"name\":\"Datum\",\"id\":0}",
            "\"column0\":[\"2026-11-01+0100\"]",
            format!("{tx}[0].column0: \"[\\\"2026-11-01+0100\\\"]\" is not a valid value here"),
        ),
        (
            "\"transaction\":[",
            "\"transaction\":\"none\",\"x\":[",
            "Fio JSON accountStatement.transactionList.transaction: \"\\\"none\\\"\" is not a valid value here".to_owned(),
        ),
    ] {
        check_error(&fio_with(from, to), &expected);
    }
    check_error(
        b"{\"accountStatement\":null, \"x\":1}",
        "Fio JSON accountStatement: \"null\" is not a valid value here",
    );
    check_error(
        b"{\"x\":{\"accountStatement\":1}}",
        "Fio JSON accountStatement: missing",
    );
    let empty =
        parse(b"{\"accountStatement\":{\"info\":null,\"transactionList\":{\"transaction\":[]}}}")
            .unwrap();
    assert_eq!(
        empty,
        Statement {
            format: Format::FioJson,
            account: None,
            statement_id: None,
            transactions: vec![]
        }
    );
}

#[test]
fn every_fixture_is_detected() {
    for name in FIXTURES {
        let expected = match name.rsplit('.').next() {
            Some("gpc") => Format::AboGpc,
            Some("xml") => Format::Camt053,
            _ => Format::FioJson,
        };
        assert_eq!(detect(&fixture(name)), Some(expected), "{name}");
    }
    assert_eq!(detect(b"hello"), None);
    assert_eq!(detect(b"<html></html>"), None);
    assert_eq!(detect(b"{\"a\":1}"), None);
    assert_eq!(detect(b"   "), None);
}

/// A small ABO writer for round trips: the inverse of the parser for the fields it reads.
mod abo_writer {
    use super::*;

    #[derive(Debug, Clone)]
    pub struct Item {
        pub counter_prefix: u32,
        pub counter_number: u64,
        pub bank: u16,
        pub document: u64,
        pub amount: i64,
        pub code: u8,
        pub vs: u64,
        pub ks: u16,
        pub ss: u64,
        pub value_date: Option<NaiveDate>,
        pub name: String,
        pub due_date: NaiveDate,
    }

    fn date(d: Option<NaiveDate>) -> String {
        d.map_or("000000".into(), |d| {
            format!("{:02}{:02}{:02}", d.day(), d.month(), d.year() % 100)
        })
    }

    fn name(s: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1250.encode(s);
        assert!(!unmappable && bytes.len() <= 20, "{s}");
        let mut out = bytes.into_owned();
        out.resize(20, b' ');
        out
    }

    /// Header turnovers by money direction (`by_side` false) or as negative reversals.
    pub fn write(
        account: &str,
        old_balance: i64,
        items: &[Item],
        by_side: bool,
        number: u16,
        day: NaiveDate,
    ) -> Vec<u8> {
        let sum = |code: u8| {
            items
                .iter()
                .filter(|i| i.code == code)
                .map(|i| i.amount)
                .sum::<i64>()
        };
        let (debit, credit) = if by_side {
            (sum(1) - sum(3), sum(2) - sum(4))
        } else {
            (sum(1) + sum(4), sum(2) + sum(3))
        };
        let new_balance = old_balance + credit - debit;
        let signed = |v: i64| format!("{:014}{}", v.unsigned_abs(), if v < 0 { '-' } else { '+' });
        let mut out = Vec::new();
        let mut header = format!("074{account}").into_bytes();
        header.extend(name("Účet SMS"));
        header.extend(
            format!(
                "{}{}{}{}{}{number:03}{}{:14}",
                date(Some(day)),
                signed(old_balance),
                signed(new_balance),
                signed(debit),
                signed(credit),
                date(Some(day)),
                ""
            )
            .bytes(),
        );
        assert_eq!(header.len(), 128);
        out.extend(header);
        out.extend(b"\r\n");
        for i in items {
            let mut line = format!(
                "075{account}{:06}{:010}{:013}{:012}{}{:010}00{:04}{:04}{:010}{}",
                i.counter_prefix,
                i.counter_number,
                i.document,
                i.amount,
                i.code,
                i.vs,
                i.bank,
                i.ks,
                i.ss,
                date(i.value_date)
            )
            .into_bytes();
            line.extend(name(&i.name));
            line.extend(format!("00203{}", date(Some(i.due_date))).bytes());
            assert_eq!(line.len(), 128);
            out.extend(line);
            out.extend(b"\r\n");
        }
        out
    }
}

fn arb_date() -> impl Strategy<Value = NaiveDate> {
    (2000i32..2079, 1u32..=12, 1u32..=28)
        .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

fn arb_item() -> impl Strategy<Value = abo_writer::Item> {
    (
        (
            0u32..1_000_000,
            0u64..10_000_000_000,
            0u16..10_000,
            1u64..10_000_000_000_000,
        ),
        (
            0i64..1_000_000_000_000,
            1u8..=4,
            0u64..10_000_000_000,
            0u16..10_000,
            0u64..10_000_000_000,
        ),
        (
            proptest::option::of(arb_date()),
            "[A-Za-z0-9 .,čďěňřšťůžýáíéúČĎŘŠŽ]{0,20}",
            arb_date(),
        ),
    )
        .prop_map(
            |(
                (counter_prefix, counter_number, bank, document),
                (amount, code, vs, ks, ss),
                (value_date, name, due_date),
            )| {
                abo_writer::Item {
                    counter_prefix,
                    counter_number,
                    bank,
                    document,
                    amount,
                    code,
                    vs,
                    ks,
                    ss,
                    value_date,
                    name,
                    due_date,
                }
            },
        )
}

fn expected_counter(i: &abo_writer::Item) -> Option<String> {
    let acc = match (i.counter_prefix, i.counter_number) {
        (0, 0) => return None,
        (0, n) => n.to_string(),
        (p, n) => format!("{p}-{n}"),
    };
    Some(if i.bank == 0 {
        acc
    } else {
        format!("{acc}/{:04}", i.bank)
    })
}

proptest! {
    #[test]
    fn abo_round_trip(
        items in proptest::collection::vec(arb_item(), 0..12),
        old_balance in -1_000_000_000_000i64..1_000_000_000_000,
        by_side in any::<bool>(),
        number in 0u16..1000,
        day in arb_date(),
    ) {
        let bytes = abo_writer::write("0000001265098001", old_balance, &items, by_side, number, day);
        prop_assert_eq!(detect(&bytes), Some(Format::AboGpc));
        let statement = parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(statement.account.as_deref(), Some("1265098001"));
        prop_assert_eq!(statement.statement_id, Some(number.to_string()));
        prop_assert_eq!(statement.transactions.len(), items.len());
        for (t, i) in statement.transactions.iter().zip(&items) {
            prop_assert_eq!(&t.bank_ref, &format!("{:013}", i.document));
            prop_assert_eq!(t.amount.halere(), i.amount);
            let (direction, reversal) = match i.code {
                1 => (Direction::Debit, false),
                2 => (Direction::Credit, false),
                3 => (Direction::Credit, true),
                _ => (Direction::Debit, true),
            };
            prop_assert_eq!(t.direction, direction);
            prop_assert_eq!(t.reversal, reversal);
            prop_assert_eq!(t.vs.as_ref().map(|v| v.to_string()), (i.vs != 0).then(|| i.vs.to_string()));
            prop_assert_eq!(t.ss.clone(), (i.ss != 0).then(|| i.ss.to_string()));
            prop_assert_eq!(t.ks.clone(), (i.ks != 0).then(|| format!("{:04}", i.ks)));
            prop_assert_eq!(t.counter_account.clone(), expected_counter(i));
            let name = i.name.trim();
            prop_assert_eq!(t.counter_name.as_deref(), (!name.is_empty()).then_some(name));
            prop_assert_eq!(t.value_date, i.value_date);
            prop_assert_eq!(t.booking_date, i.due_date);
            prop_assert_eq!(t.currency.as_str(), "CZK");
            prop_assert!(t.status_booked);
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn parse_never_panics_with_a_known_prefix(
        prefix in prop::sample::select(vec![&b"074"[..], b"<Document><BkToCstmrStmt>", b"{\"accountStatement\":"]),
        tail in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut bytes = prefix.to_vec();
        bytes.extend(tail);
        let _ = parse(&bytes);
    }

    #[test]
    fn damaged_fixtures_are_refused_or_parsed_never_panic(
        name in prop::sample::select(FIXTURES.to_vec()),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = fixture(name);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(statement) = parse(&bytes) {
            for t in statement.transactions {
                prop_assert!(!t.amount.is_negative());
            }
        }
    }
}

#[test]
fn abo_several_days_of_one_account() {
    let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let item = |document, amount, code| abo_writer::Item {
        counter_prefix: 0,
        counter_number: 0,
        bank: 0,
        document,
        amount,
        code,
        vs: document,
        ks: 0,
        ss: 0,
        value_date: None,
        name: String::new(),
        due_date: day(2),
    };
    let account = "0000001265098001";
    let mut bytes = abo_writer::write(account, 100, &[item(1, 50, 2)], false, 7, day(2));
    bytes.extend(abo_writer::write(
        account,
        150,
        &[item(2, 20, 1), item(3, 5, 3)],
        true,
        8,
        day(3),
    ));
    let statement = parse(&bytes).unwrap();
    assert_eq!(statement.statement_id.as_deref(), Some("7,8"));
    let refs: Vec<&str> = statement
        .transactions
        .iter()
        .map(|t| t.bank_ref.as_str())
        .collect();
    assert_eq!(refs, ["0000000000001", "0000000000002", "0000000000003"]);

    let mut other = abo_writer::write(account, 100, &[item(1, 50, 2)], false, 7, day(2));
    other.extend(abo_writer::write(
        "0000001265098002",
        0,
        &[],
        false,
        8,
        day(3),
    ));
    check_error(
        &other,
        "ABO line 3, column 4 (account): statement of another account \"0000001265098002\"",
    );

    // A fault in the first group is found when the second header starts.
    let mut broken = abo_writer::write(account, 100, &[item(1, 50, 2)], false, 7, day(2));
    broken.splice(130..130 + 130, []);
    broken.extend(abo_writer::write(account, 150, &[], false, 8, day(3)));
    check_error(
        &broken,
        "ABO line 1, column 91 (credit turnover): header turnover 0.50 does not match the items' sum 0.00",
    );
}

#[test]
fn fio_official_statement_id() {
    let json = br#"{"accountStatement":{"info":{"accountId":"2000000000","bankId":"2010",
        "yearList":2026,"idList":11},"transactionList":{"transaction":[]}}}"#;
    let statement = parse(json).unwrap();
    assert_eq!(statement.account.as_deref(), Some("2000000000/2010"));
    assert_eq!(statement.statement_id.as_deref(), Some("2026/11"));
}
