//! The tax document (daňový doklad) as issued, and its PDF.
//!
//! § 29 of the VAT Act (235/2004 Coll.) asks for: the supplier's name and DIČ; the customer's
//! name and DIČ (when the customer has one); the document number; the scope and subject of the
//! supply; the issue date; the date of the taxable supply or of the payment; the unit price
//! without VAT and any discount; the tax base; the VAT rate; the VAT in CZK. The Civil Code
//! (§ 435) adds the registered seat, the register entry and the IČO. Every one of them is a field
//! of [`InvoiceDocument`] and a line of the PDF.

use chrono::NaiveDate;
use domain::Money;
use serde::{Deserialize, Serialize};

use crate::{SeriesRule, VatRate, VatRates};

/// The operator as the supplier on its documents (from the settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Supplier {
    pub name: String,
    /// Registered seat.
    pub address: String,
    pub ico: String,
    /// Empty for a supplier that is not a VAT payer.
    pub dic: String,
    /// The register entry, e.g. "zapsaná v obchodním rejstříku u Městského soudu v Praze,
    /// oddíl A, vložka 12345".
    pub register: String,
    /// Where customers pay, as an IBAN.
    pub iban: String,
    pub bic: String,
}

impl Default for Supplier {
    fn default() -> Self {
        // Development defaults; a real deployment sets its own (see README).
        Supplier {
            name: "ApiSendSMS (vývojová instalace)".into(),
            address: "Václavské náměstí 1, 110 00 Praha 1".into(),
            ico: "00000000".into(),
            dic: "CZ00000000".into(),
            register: "zapsaná v obchodním rejstříku u Městského soudu v Praze, oddíl A, vložka 0"
                .into(),
            iban: "CZ5855000000001265098001".into(),
            bic: String::new(),
        }
    }
}

/// How documents are issued: the supplier, the series, the VAT rates, the wording.
#[derive(Debug, Clone)]
pub struct InvoicePolicy {
    pub supplier: Supplier,
    pub invoices: SeriesRule,
    pub credit_notes: SeriesRule,
    pub vat_rates: VatRates,
    /// The subject of supply printed for a credit top-up.
    pub top_up_description: String,
    /// When prepaid top-ups are invoiced.
    pub invoicing: Invoicing,
}

/// When the payments of prepaid accounts are invoiced (postpaid accounts always get one usage
/// invoice a month instead, and their payments settle those invoices).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Invoicing {
    /// One invoice per paired payment, issued with the credit.
    #[default]
    PerPayment,
    /// One invoice per account for the payments paired in a calendar month, issued after it.
    Monthly,
}

impl InvoicePolicy {
    /// A policy with 21 % from 2013 and the default series `FV` / `DB`.
    pub fn with_supplier(supplier: Supplier) -> InvoicePolicy {
        InvoicePolicy {
            supplier,
            invoices: SeriesRule::new("FV", 6),
            credit_notes: SeriesRule::new("DB", 6),
            vat_rates: VatRates::new(vec![(
                NaiveDate::from_ymd_opt(2013, 1, 1).expect("valid date"),
                VatRate::from_basis_points(2100),
            )])
            .expect("one rate"),
            top_up_description: "Předplacený kredit na SMS služby (prepaid SMS credit)".into(),
            invoicing: Invoicing::PerPayment,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceKind {
    /// Daňový doklad.
    Invoice,
    /// Opravný daňový doklad (credit note) correcting an earlier invoice.
    CreditNote,
}

impl InvoiceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceKind::Invoice => "invoice",
            InvoiceKind::CreditNote => "credit_note",
        }
    }
    pub fn parse(s: &str) -> Option<InvoiceKind> {
        match s {
            "invoice" => Some(InvoiceKind::Invoice),
            "credit_note" => Some(InvoiceKind::CreditNote),
            _ => None,
        }
    }
}

/// An issued document, as stored and as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceDocument {
    pub number: String,
    pub kind: InvoiceKind,
    /// The number of the invoice a credit note corrects.
    pub corrects: Option<String>,
    pub issue_date: NaiveDate,
    /// Datum uskutečnění zdanitelného plnění (DUZP).
    pub taxable_date: NaiveDate,
    pub payment_date: Option<NaiveDate>,
    /// Datum splatnosti: when a document asks for a payment (a postpaid usage invoice).
    pub due_date: Option<NaiveDate>,
    pub supplier: Supplier,
    pub customer_name: String,
    pub customer_address: Option<String>,
    pub customer_ico: Option<String>,
    pub customer_dic: Option<String>,
    pub description: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub discount: Money,
    pub base: Money,
    pub vat_rate: VatRate,
    pub vat: Money,
    pub total: Money,
    pub currency: String,
    pub variable_symbol: String,
    /// A QR Platba (SPAYD) string when the document asks for a payment.
    pub payment_qr: Option<String>,
}

/// A money amount as Czech documents write it: `1 234,50`.
pub fn czk(m: Money) -> String {
    let s = m.to_string();
    let (sign, s) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest.to_owned()),
        None => ("", s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped},{frac}")
}

impl InvoiceDocument {
    /// The printed lines: (label, value), in order. The PDF and the tests use the same list.
    pub fn lines(&self) -> Vec<(String, String)> {
        let c = crate::calendar::czech;
        let mut l: Vec<(String, String)> = Vec::new();
        let mut push = |a: &str, b: String| l.push((a.to_owned(), b));
        push("Dodavatel (supplier)", self.supplier.name.clone());
        push("Sídlo", self.supplier.address.clone());
        push("IČO", self.supplier.ico.clone());
        if !self.supplier.dic.is_empty() {
            push("DIČ", self.supplier.dic.clone());
        }
        push("Zápis", self.supplier.register.clone());
        push("Odběratel (customer)", self.customer_name.clone());
        if let Some(a) = &self.customer_address {
            push("Adresa", a.clone());
        }
        if let Some(i) = &self.customer_ico {
            push("IČO", i.clone());
        }
        if let Some(d) = &self.customer_dic {
            push("DIČ", d.clone());
        }
        if let Some(n) = &self.corrects {
            push("Opravuje doklad (corrects)", n.clone());
        }
        push("Datum vystavení (issued)", c(self.issue_date));
        push(
            "Datum uskutečnění zdanitelného plnění (DUZP)",
            c(self.taxable_date),
        );
        if let Some(p) = self.payment_date {
            push("Datum přijetí platby (payment received)", c(p));
        }
        if let Some(d) = self.due_date {
            push("Datum splatnosti (due date)", c(d));
        }
        push("Variabilní symbol", self.variable_symbol.clone());
        push("Bankovní účet (IBAN)", self.supplier.iban.clone());
        push("Předmět plnění (subject)", self.description.clone());
        push("Množství (quantity)", self.quantity.to_string());
        push(
            "Jednotková cena bez DPH (unit price excl. VAT)",
            format!("{} {}", czk(self.unit_price), self.currency),
        );
        push(
            "Sleva (discount)",
            format!("{} {}", czk(self.discount), self.currency),
        );
        push(
            "Základ daně (tax base)",
            format!("{} {}", czk(self.base), self.currency),
        );
        push(
            "Sazba DPH (VAT rate)",
            format!("{} %", self.vat_rate.percent_text()),
        );
        push("DPH (VAT) v CZK", format!("{} CZK", czk(self.vat)));
        push(
            "Celkem (total)",
            format!("{} {}", czk(self.total), self.currency),
        );
        l
    }

    pub fn title(&self) -> String {
        match self.kind {
            InvoiceKind::Invoice => format!("Daňový doklad č. {}", self.number),
            InvoiceKind::CreditNote => format!("Opravný daňový doklad č. {}", self.number),
        }
    }
}

#[cfg(feature = "pdf")]
pub use pdf::render_pdf;

#[cfg(feature = "pdf")]
mod pdf {
    use printpdf::{Mm, PdfDocument, Rect};

    use super::InvoiceDocument;

    /// DejaVu Sans (Bitstream Vera licence, see `fonts/LICENSE-DejaVu.txt`): every Czech letter.
    static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

    #[derive(Debug, thiserror::Error)]
    #[error("rendering the invoice PDF: {0}")]
    pub struct PdfError(String);

    /// The document as an A4 PDF with the font embedded.
    pub fn render_pdf(doc: &InvoiceDocument) -> Result<Vec<u8>, PdfError> {
        let err = |e: &dyn std::fmt::Display| PdfError(e.to_string());
        let (pdf, page, layer) = PdfDocument::new(doc.title(), Mm(210.0), Mm(297.0), "invoice");
        let font = pdf
            .add_external_font(std::io::Cursor::new(FONT))
            .map_err(|e| err(&e))?;
        let layer = pdf.get_page(page).get_layer(layer);
        layer.use_text(doc.title(), 16.0, Mm(20.0), Mm(277.0), &font);
        let mut y = 262.0;
        for (label, value) in doc.lines() {
            layer.use_text(format!("{label}:"), 9.0, Mm(20.0), Mm(y), &font);
            // Long values (the register entry) wrap at about 60 characters.
            for chunk in wrap(&value, 62) {
                layer.use_text(chunk, 9.0, Mm(100.0), Mm(y), &font);
                y -= 5.0;
            }
            y -= 1.5;
        }
        if let Some(spayd) = &doc.payment_qr {
            if let Ok(code) =
                qrcode::QrCode::with_error_correction_level(spayd.as_bytes(), qrcode::EcLevel::M)
            {
                let width = code.width();
                let module = 40.0 / width as f32;
                let (x0, y0) = (150.0, y - 45.0);
                for (i, color) in code.to_colors().iter().enumerate() {
                    if *color == qrcode::Color::Dark {
                        let (cx, cy) = ((i % width) as f32, (i / width) as f32);
                        let x = x0 + cx * module;
                        let top = y0 + 40.0 - cy * module;
                        layer.add_rect(Rect::new(Mm(x), Mm(top - module), Mm(x + module), Mm(top)));
                    }
                }
                layer.use_text("QR Platba", 9.0, Mm(150.0), Mm(y0 - 5.0), &font);
            }
        }
        pdf.save_to_bytes().map_err(|e| err(&e))
    }

    /// Splits at spaces into lines of at most `width` characters (longer words stay whole).
    fn wrap(text: &str, width: usize) -> Vec<String> {
        let mut lines = vec![String::new()];
        for word in text.split(' ') {
            let last = lines.last_mut().expect("one line");
            if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
                lines.push(word.to_owned());
            } else {
                if !last.is_empty() {
                    last.push(' ');
                }
                last.push_str(word);
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn czech_amounts() {
        assert_eq!(czk(Money::from_hundredths(123_450)), "1 234,50");
        assert_eq!(czk(Money::from_hundredths(5)), "0,05");
        assert_eq!(czk(Money::from_hundredths(-100_000_000)), "-1 000 000,00");
    }
}
