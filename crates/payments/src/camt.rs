//! ISO 20022 camt.053 (bank-to-customer statement), versions 001.02 and later.
//!
//! The XML is read into a small element tree (UTF-8 only, at most 64 levels deep) and then
//! walked by local name, so namespace prefixes and the version don't matter; the differences
//! between versions that matter here are handled by looking in both places:
//! `Sts` text (001.02) or `Sts/Cd` (001.08+), `Dbtr/Nm` or `Dbtr/Pty/Nm`, `Dt` or `DtTm`.
//!
//! Assumptions:
//! - The VS is looked for, in this order, in `NtryDtls/TxDtls/Refs/EndToEndId` (`VS1234`,
//!   `/VS/1234`, `VS:1234` or the whole reference being 1 to 10 digits), then in
//!   `RmtInf/Strd/CdtrRefInf/Ref` (same forms), then in `RmtInf/Ustrd` (remittance forms only).
//!   SS and KS come from the `/SS/`, `/KS/` forms in the same texts. Only the first `TxDtls` of
//!   an entry is read.
//! - The counter-party is the debtor of a credit and the creditor of a debit (swapped for a
//!   reversal, which undoes a payment the other way), falling back to the other side.
//! - `bank_ref` is `AcctSvcrRef`, else `NtryRef`, else `TxDtls/Refs/AcctSvcrRef`.
//! - When a `Stmt` has exactly one opening (`OPBD` or `PRCD`) and one closing (`CLBD`) balance
//!   and all booked entries are in the balance's currency, opening + booked credits - booked
//!   debits must equal closing.
//! - Several `Stmt` are accepted when they are for the same account.

use crate::statement::{
    iso_date, Direction, Fault, Format, Statement, StatementError, Transaction,
};
use crate::symbol::{
    ks_from_remittance, ss_from_remittance, vs_from_reference, vs_from_remittance,
};
use crate::Amount;
use chrono::NaiveDate;
use quick_xml::events::Event;
use quick_xml::Reader;

const MAX_DEPTH: usize = 64;

/// The path named for faults outside any element.
const DOCUMENT: &str = "(document)";

/// An element: local name, attributes by local name, text content and child elements.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, name| node.child(name))
    }

    /// Trimmed, non-empty text at `path`.
    fn text_at(&self, path: &[&str]) -> Option<&str> {
        self.at(path)
            .map(|n| n.text.trim())
            .filter(|t| !t.is_empty())
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn err(path: impl Into<String>, fault: Fault) -> StatementError {
    StatementError::Camt {
        path: path.into(),
        fault,
    }
}

/// The path of the open elements, `Document/BkToCstmrStmt/` left off, `Ntry` always indexed and
/// other elements indexed when not the first of their name.
fn open_path(stack: &[Node]) -> String {
    let mut parts = Vec::new();
    for (depth, node) in stack.iter().enumerate() {
        let index = match depth.checked_sub(1) {
            Some(parent) => 1 + stack[parent].all(&node.name).count(),
            None => 1,
        };
        if index > 1 || node.name == "Ntry" {
            parts.push(format!("{}[{index}]", node.name));
        } else {
            parts.push(node.name.clone());
        }
    }
    let skip = match (
        parts.first().map(String::as_str),
        parts.get(1).map(String::as_str),
    ) {
        (Some("Document"), Some("BkToCstmrStmt")) => 2,
        (Some("Document"), _) => 1,
        _ => 0,
    };
    if parts.is_empty() {
        return DOCUMENT.to_owned();
    }
    if parts.len() <= skip {
        return parts.join("/");
    }
    parts[skip..].join("/")
}

fn local(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

fn element(
    start: &quick_xml::events::BytesStart<'_>,
    stack: &[Node],
) -> Result<Node, StatementError> {
    let mut node = Node {
        name: local(start.local_name().as_ref()),
        ..Node::default()
    };
    for attr in start.attributes() {
        let attr = attr.map_err(|e| err(open_path(stack), Fault::Malformed(e.to_string())))?;
        let value = attr
            .unescape_value()
            .map_err(|e| err(open_path(stack), Fault::Malformed(e.to_string())))?;
        node.attrs
            .push((local(attr.key.local_name().as_ref()), value.into_owned()));
    }
    Ok(node)
}

/// Reads the whole document into a tree; truncation and syntax errors name the open elements.
fn read_tree(text: &str) -> Result<Node, StatementError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let event = reader.read_event().map_err(|e| {
            err(
                open_path(&stack),
                Fault::Malformed(format!("at byte {}: {e}", reader.error_position())),
            )
        })?;
        match event {
            Event::Start(start) => {
                if root.is_some() && stack.is_empty() {
                    return Err(err(
                        DOCUMENT,
                        Fault::Malformed("content after the root element".into()),
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(err(
                        open_path(&stack),
                        Fault::Malformed("elements nested too deep".into()),
                    ));
                }
                let node = element(&start, &stack)?;
                stack.push(node);
            }
            Event::Empty(start) => {
                let node = element(&start, &stack)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None if root.is_none() => root = Some(node),
                    None => {
                        return Err(err(
                            DOCUMENT,
                            Fault::Malformed("content after the root element".into()),
                        ))
                    }
                }
            }
            Event::End(_) => {
                // quick-xml has already checked that the end tag matches the open element.
                let Some(node) = stack.pop() else {
                    return Err(err(DOCUMENT, Fault::Malformed("unexpected end tag".into())));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                let text = t
                    .unescape()
                    .map_err(|e| err(open_path(&stack), Fault::Malformed(e.to_string())))?;
                match stack.last_mut() {
                    Some(node) => node.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => {
                        return Err(err(
                            DOCUMENT,
                            Fault::Malformed("text outside the root element".into()),
                        ))
                    }
                }
            }
            Event::CData(c) => {
                let text = String::from_utf8_lossy(&c).into_owned();
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(&text);
                }
            }
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(err(
                        open_path(&stack),
                        Fault::Malformed("document ends inside this element".into()),
                    ));
                }
                return root.ok_or_else(|| err("Document", Fault::Missing));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
}

/// Parses a camt.053 document, refusing it at the first fault.
pub(crate) fn parse(bytes: &[u8]) -> Result<Statement, StatementError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        err(
            DOCUMENT,
            Fault::Malformed(format!("not UTF-8 at byte {}", e.valid_up_to())),
        )
    })?;
    let root = read_tree(text)?;
    if root.name != "Document" {
        return Err(err(
            root.name.clone(),
            Fault::Malformed("the root element is not Document".into()),
        ));
    }
    let body = root
        .child("BkToCstmrStmt")
        .ok_or_else(|| err("BkToCstmrStmt", Fault::Missing))?;
    let stmts: Vec<&Node> = body.all("Stmt").collect();
    if stmts.is_empty() {
        return Err(err("Stmt", Fault::Missing));
    }
    let mut account: Option<String> = None;
    let mut ids = Vec::new();
    let mut transactions = Vec::new();
    for (i, stmt) in stmts.iter().enumerate() {
        let path = if stmts.len() > 1 {
            format!("Stmt[{}]", i + 1)
        } else {
            "Stmt".to_owned()
        };
        let acct = stmt
            .text_at(&["Acct", "Id", "IBAN"])
            .or_else(|| stmt.text_at(&["Acct", "Id", "Othr", "Id"]))
            .map(str::to_owned);
        if i == 0 {
            account = acct;
        } else if acct != account {
            return Err(err(
                format!("{path}/Acct"),
                Fault::OtherAccount(acct.unwrap_or_default()),
            ));
        }
        if let Some(id) = stmt.text_at(&["Id"]) {
            ids.push(id.to_owned());
        }
        let first = transactions.len();
        for (j, entry) in stmt.all("Ntry").enumerate() {
            transactions.push(entry_of(entry, &format!("{path}/Ntry[{}]", j + 1))?);
        }
        check_balances(stmt, &path, &transactions[first..])?;
    }
    Ok(Statement {
        format: Format::Camt053,
        account,
        statement_id: (!ids.is_empty()).then(|| ids.join(",")),
        transactions,
    })
}

/// A positive decimal amount with its `Ccy`, at `path`.
fn amount_at(node: &Node, path: &str) -> Result<(Amount, String), StatementError> {
    let text = node.text.trim();
    let amount = Amount::parse(text).map_err(|_| err(path, Fault::NotANumber(text.to_owned())))?;
    if amount.is_negative() {
        return Err(err(path, Fault::BadValue(text.to_owned())));
    }
    let ccy = node
        .attr("Ccy")
        .ok_or_else(|| err(format!("{path}/@Ccy"), Fault::Missing))?;
    if ccy.len() != 3 || !ccy.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(err(format!("{path}/@Ccy"), Fault::BadValue(ccy.to_owned())));
    }
    Ok((amount, ccy.to_owned()))
}

fn direction_at(node: &Node, path: &str) -> Result<Direction, StatementError> {
    match node.text_at(&["CdtDbtInd"]) {
        Some("CRDT") => Ok(Direction::Credit),
        Some("DBIT") => Ok(Direction::Debit),
        Some(other) => Err(err(
            format!("{path}/CdtDbtInd"),
            Fault::BadValue(other.to_owned()),
        )),
        None => Err(err(format!("{path}/CdtDbtInd"), Fault::Missing)),
    }
}

/// `Dt` or the date part of `DtTm` under the element `name`; `None` when the element is absent.
fn date_at(entry: &Node, name: &str, path: &str) -> Result<Option<NaiveDate>, StatementError> {
    let Some(node) = entry.child(name) else {
        return Ok(None);
    };
    let (leaf, text) = match (node.text_at(&["Dt"]), node.text_at(&["DtTm"])) {
        (Some(t), _) => ("Dt", t),
        (None, Some(t)) => ("DtTm", t),
        (None, None) => return Err(err(format!("{path}/{name}/Dt"), Fault::Missing)),
    };
    iso_date(text).map(Some).ok_or_else(|| {
        err(
            format!("{path}/{name}/{leaf}"),
            Fault::BadDate(text.to_owned()),
        )
    })
}

fn entry_of(entry: &Node, path: &str) -> Result<Transaction, StatementError> {
    let amt = entry
        .child("Amt")
        .ok_or_else(|| err(format!("{path}/Amt"), Fault::Missing))?;
    let (amount, currency) = amount_at(amt, &format!("{path}/Amt"))?;
    let direction = direction_at(entry, path)?;
    let reversal = match entry.text_at(&["RvslInd"]) {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(err(
                format!("{path}/RvslInd"),
                Fault::BadValue(other.to_owned()),
            ))
        }
    };
    let status = entry
        .text_at(&["Sts", "Cd"])
        .or_else(|| entry.text_at(&["Sts"]))
        .ok_or_else(|| err(format!("{path}/Sts"), Fault::Missing))?;
    let status_booked = match status {
        "BOOK" => true,
        "PDNG" | "INFO" | "FUTR" => false,
        other => {
            return Err(err(
                format!("{path}/Sts"),
                Fault::BadValue(other.to_owned()),
            ))
        }
    };
    let value_date = date_at(entry, "ValDt", path)?;
    let booking_date = date_at(entry, "BookgDt", path)?
        .or(value_date)
        .ok_or_else(|| err(format!("{path}/BookgDt"), Fault::Missing))?;

    let tx = entry.at(&["NtryDtls", "TxDtls"]);
    let bank_ref = entry
        .text_at(&["AcctSvcrRef"])
        .or_else(|| entry.text_at(&["NtryRef"]))
        .or_else(|| tx.and_then(|t| t.text_at(&["Refs", "AcctSvcrRef"])))
        .ok_or_else(|| err(format!("{path}/AcctSvcrRef"), Fault::Missing))?
        .to_owned();

    let end_to_end = tx
        .and_then(|t| t.text_at(&["Refs", "EndToEndId"]))
        .filter(|r| !r.eq_ignore_ascii_case("NOTPROVIDED"));
    let creditor_ref = tx.and_then(|t| {
        t.child("RmtInf")?
            .all("Strd")
            .find_map(|s| s.text_at(&["CdtrRefInf", "Ref"]))
    });
    let unstructured: Vec<&str> = tx
        .and_then(|t| t.child("RmtInf"))
        .map(|r| {
            r.all("Ustrd")
                .map(|u| u.text.trim())
                .filter(|u| !u.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let ustrd = (!unstructured.is_empty()).then(|| unstructured.join(" "));

    let vs = end_to_end
        .and_then(vs_from_reference)
        .or_else(|| creditor_ref.and_then(vs_from_reference))
        .or_else(|| ustrd.as_deref().and_then(vs_from_remittance));
    let texts = [end_to_end, creditor_ref, ustrd.as_deref()];
    let ss = texts.iter().flatten().find_map(|t| ss_from_remittance(t));
    let ks = texts.iter().flatten().find_map(|t| ks_from_remittance(t));

    let payer_side = (direction == Direction::Credit) != reversal;
    let (near, far) = if payer_side {
        ("Dbtr", "Cdtr")
    } else {
        ("Cdtr", "Dbtr")
    };
    let parties = tx.and_then(|t| t.child("RltdPties"));
    let party = |side: &str| -> (Option<String>, Option<String>) {
        let Some(p) = parties else {
            return (None, None);
        };
        let name = p
            .text_at(&[side, "Nm"])
            .or_else(|| p.text_at(&[side, "Pty", "Nm"]))
            .map(str::to_owned);
        let acct_name = format!("{side}Acct");
        let account = p
            .text_at(&[&acct_name, "Id", "IBAN"])
            .or_else(|| p.text_at(&[&acct_name, "Id", "Othr", "Id"]))
            .map(str::to_owned);
        (name, account)
    };
    let (near_name, near_account) = party(near);
    let (counter_name, counter_account) = if near_name.is_some() || near_account.is_some() {
        (near_name, near_account)
    } else {
        party(far)
    };

    let message = ustrd
        .or_else(|| {
            tx.and_then(|t| t.text_at(&["AddtlTxInf"]))
                .map(str::to_owned)
        })
        .or_else(|| entry.text_at(&["AddtlNtryInf"]).map(str::to_owned));

    Ok(Transaction {
        bank_ref,
        direction,
        reversal,
        amount,
        currency,
        booking_date,
        value_date,
        vs,
        ss,
        ks,
        counter_account,
        counter_name,
        message,
        status_booked,
    })
}

/// Opening + booked credits - booked debits = closing, where the statement allows the check.
fn check_balances(stmt: &Node, path: &str, entries: &[Transaction]) -> Result<(), StatementError> {
    let mut opening = Vec::new();
    let mut closing = Vec::new();
    for (k, bal) in stmt.all("Bal").enumerate() {
        let bal_path = format!("{path}/Bal[{}]", k + 1);
        let code = bal.text_at(&["Tp", "CdOrPrtry", "Cd"]);
        let target = match code {
            Some("OPBD") | Some("PRCD") => &mut opening,
            Some("CLBD") => &mut closing,
            _ => continue,
        };
        let amt = bal
            .child("Amt")
            .ok_or_else(|| err(format!("{bal_path}/Amt"), Fault::Missing))?;
        let (amount, ccy) = amount_at(amt, &format!("{bal_path}/Amt"))?;
        let signed = match direction_at(bal, &bal_path)? {
            Direction::Credit => amount,
            Direction::Debit => Amount::from_halere(-amount.halere()),
        };
        target.push((signed, ccy));
    }
    let ([(open, ccy)], [(close, close_ccy)]) = (opening.as_slice(), closing.as_slice()) else {
        return Ok(());
    };
    let booked: Vec<&Transaction> = entries.iter().filter(|t| t.status_booked).collect();
    if ccy != close_ccy || booked.iter().any(|t| &t.currency != ccy) {
        return Ok(());
    }
    let overflow = || err(format!("{path}/Bal"), Fault::Overflow);
    let (mut credits, mut debits) = (Amount::ZERO, Amount::ZERO);
    for t in booked {
        let sum = if t.direction == Direction::Credit {
            &mut credits
        } else {
            &mut debits
        };
        *sum = sum.checked_add(t.amount).ok_or_else(overflow)?;
    }
    let expected = open
        .checked_add(credits)
        .and_then(|a| a.checked_sub(debits))
        .ok_or_else(overflow)?;
    if expected != *close {
        return Err(err(
            format!("{path}/Bal"),
            Fault::BalanceMismatch {
                opening: *open,
                credits,
                debits,
                closing: *close,
            },
        ));
    }
    Ok(())
}
