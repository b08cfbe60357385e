//! Czech payment formats for a prepaid SMS service, without any I/O.
//!
//! - [`Amount`]: money as whole hundredths (haléře), never a float.
//! - [`VariableSymbol`] and [`vs_from_remittance`]: the symbol that ties a bank transfer to a
//!   customer, compared without leading zeros.
//! - [`Iban`]: ISO 13616 account numbers checked with mod 97; Czech domestic numbers converted.
//! - [`Spayd`], [`spayd_qr_svg`] and [`spayd_qr_png`]: QR Platba payment requests with their
//!   CRC32 and QR code as SVG or PNG.
//! - [`parse`] and [`detect`]: bank statements in ABO/GPC, camt.053 or Fio JSON, read into one
//!   [`Statement`] model. A corrupt or truncated file is refused whole with a
//!   [`StatementError`] that names the line, element path or JSON path at fault.
//!
//! ```
//! use payments::{parse, Amount, Direction, Iban, Spayd, VariableSymbol};
//!
//! let request = Spayd::new(Iban::parse("CZ58 5500 0000 0012 6509 8001")?)
//!     .with_amount(Amount::parse("100.00")?)?;
//! assert_eq!(
//!     request.to_string_with_crc(),
//!     "SPD*1.0*ACC:CZ5855000000001265098001*AM:100.00*CC:CZK*CRC32:AAD80227"
//! );
//!
//! let json = br#"{"accountStatement":{"info":{"iban":"CZ7920100000002000000000"},
//!   "transactionList":{"transaction":[{"column22":{"value":1},
//!   "column0":{"value":"2026-11-02+0100"},"column1":{"value":500.0},
//!   "column14":{"value":"CZK"},"column5":{"value":"0012345"}}]}}}"#;
//! let statement = parse(json)?;
//! let payment = &statement.transactions[0];
//! assert_eq!(payment.direction, Direction::Credit);
//! assert_eq!(payment.amount, Amount::parse("500")?);
//! assert_eq!(payment.vs, Some(VariableSymbol::parse("12345")?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Boundary: this crate knows formats, not accounts: matching a payment to a customer, crediting
//! and deduplicating by [`Transaction::bank_ref`] belong to the callers. Parsers take bytes, so
//! fetching statements (Fio's API, e-mail, upload) is elsewhere too.

#![forbid(unsafe_code)]

mod abo;
mod amount;
mod camt;
mod fio;
mod iban;
mod spayd;
mod statement;
mod symbol;

pub use amount::{Amount, AmountError};
pub use iban::{Iban, IbanError};
pub use spayd::{spayd_qr_png, spayd_qr_svg, Spayd, SpaydError};
pub use statement::{
    detect, parse, Direction, Fault, Format, Statement, StatementError, Transaction,
};
pub use symbol::{vs_from_remittance, VariableSymbol, VariableSymbolError};
