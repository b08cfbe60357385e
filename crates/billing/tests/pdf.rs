//! The invoice PDF carries every field § 29 of the VAT Act asks for, readable as text.
#![cfg(feature = "pdf")]

use billing::{InvoiceDocument, InvoiceKind, Supplier, VatRate};
use chrono::NaiveDate;
use domain::Money;

fn document() -> InvoiceDocument {
    let rate = VatRate::parse_percent("21").unwrap();
    let split = rate.split_gross(Money::from_hundredths(50_000));
    InvoiceDocument {
        number: "FV2026000007".into(),
        kind: InvoiceKind::Invoice,
        corrects: None,
        issue_date: NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(),
        taxable_date: NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
        payment_date: Some(NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()),
        supplier: Supplier {
            name: "Žluťoučký kůň s.r.o.".into(),
            address: "Řípská 12, 130 00 Praha 3".into(),
            ico: "12345678".into(),
            dic: "CZ12345678".into(),
            register:
                "zapsaná v obchodním rejstříku u Městského soudu v Praze, oddíl C, vložka 98765"
                    .into(),
            iban: "CZ5855000000001265098001".into(),
            bic: String::new(),
        },
        customer_name: "Účetní Šárka Dvořáková".into(),
        customer_address: Some("Ostrava, Českobratrská 5".into()),
        customer_ico: Some("87654321".into()),
        customer_dic: Some("CZ87654321".into()),
        description: "Předplacený kredit na SMS služby".into(),
        quantity: 1,
        unit_price: split.base,
        discount: Money::ZERO,
        base: split.base,
        vat_rate: rate,
        vat: split.vat,
        total: split.total,
        currency: "CZK".into(),
        variable_symbol: "10000001".into(),
        due_date: NaiveDate::from_ymd_opt(2026, 12, 14),
        payment_qr: Some("SPD*1.0*ACC:CZ5855000000001265098001*AM:500.00*CC:CZK".into()),
    }
}

/// The text of a PDF written by printpdf: the glyph ids of every `Tj`/`TJ` string mapped to
/// characters through the font's `ToUnicode` CMap (`<gid> <code point>` pairs), one line per
/// text operation.
fn extract_text(bytes: &[u8]) -> String {
    use lopdf::{content::Content, Document, Object};
    let doc = Document::load_mem(bytes).expect("a PDF lopdf reads");
    let mut to_unicode = std::collections::HashMap::new();
    for obj in doc.objects.values() {
        if let Object::Stream(stream) = obj {
            let data = stream
                .decompressed_content()
                .unwrap_or_else(|_| stream.content.clone());
            let text = String::from_utf8_lossy(&data);
            if !text.contains("beginbfchar") {
                continue;
            }
            for line in text.lines() {
                let parts: Vec<&str> = line
                    .split(['<', '>', ' '])
                    .filter(|p| !p.is_empty())
                    .collect();
                if let [gid, code] = parts[..] {
                    if let (Ok(g), Ok(c)) =
                        (u16::from_str_radix(gid, 16), u32::from_str_radix(code, 16))
                    {
                        if let Some(ch) = char::from_u32(c) {
                            to_unicode.insert(g, ch);
                        }
                    }
                }
            }
        }
    }
    assert!(!to_unicode.is_empty(), "no ToUnicode CMap in the PDF");
    let mut out = String::new();
    let decode = |bytes: &[u8], out: &mut String| {
        for pair in bytes.chunks(2) {
            let gid = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            out.push(*to_unicode.get(&gid).unwrap_or(&'\u{fffd}'));
        }
    };
    for page in doc.get_pages().values() {
        let content = Content::decode(&doc.get_page_content(*page).expect("content")).expect("ops");
        for op in content.operations {
            match (op.operator.as_str(), op.operands.first()) {
                ("Tj", Some(Object::String(s, _))) => decode(s, &mut out),
                ("TJ", Some(Object::Array(items))) => {
                    for item in items {
                        if let Object::String(s, _) = item {
                            decode(s, &mut out);
                        }
                    }
                }
                _ => continue,
            }
            out.push('\n');
        }
    }
    out
}

/// Whitespace differs between the writer and the extractor; compare without it.
fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn pdf_text_has_every_mandatory_field() {
    let doc = document();
    let bytes = billing::invoice::render_pdf(&doc).expect("pdf");
    assert!(bytes.starts_with(b"%PDF-"));
    let text = extract_text(&bytes);
    let text = squash(&text);
    let mandatory = [
        "Daňový doklad č. FV2026000007",
        "Žluťoučký kůň s.r.o.",
        "Řípská 12, 130 00 Praha 3",
        "12345678",
        "CZ12345678",
        "oddíl C, vložka 98765",
        "Účetní Šárka Dvořáková",
        "CZ87654321",
        "87654321",
        "Předplacený kredit na SMS služby",
        "Datum vystavení",
        "29. 11. 2026",
        "Datum uskutečnění zdanitelného plnění",
        "27. 11. 2026",
        "Jednotková cena bez DPH",
        "413,22 CZK",
        "Sleva",
        "0,00 CZK",
        "Základ daně",
        "Sazba DPH",
        "21 %",
        "DPH (VAT) v CZK",
        "86,78 CZK",
        "500,00 CZK",
        "10000001",
        "Datum splatnosti",
        "14. 12. 2026",
    ];
    for field in mandatory {
        assert!(text.contains(&squash(field)), "{field:?} missing in {text}");
    }
}

#[test]
fn a_credit_note_names_the_invoice_it_corrects() {
    let mut doc = document();
    doc.kind = InvoiceKind::CreditNote;
    doc.number = "DB2026000001".into();
    doc.corrects = Some("FV2026000007".into());
    doc.payment_qr = None;
    let rate = doc.vat_rate;
    let split = rate.split_gross(Money::from_hundredths(-50_000));
    (doc.base, doc.vat, doc.total, doc.unit_price) =
        (split.base, split.vat, split.total, split.base);
    let text = squash(&extract_text(&billing::invoice::render_pdf(&doc).unwrap()));
    for field in [
        "Opravný daňový doklad č. DB2026000001",
        "FV2026000007",
        "-86,78 CZK",
    ] {
        assert!(text.contains(&squash(field)), "{field:?} missing in {text}");
    }
}
