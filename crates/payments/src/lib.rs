//! Czech payment formats for a prepaid SMS service, without any I/O.
//!
//! - [`Amount`]: money as whole hundredths (haléře), never a float.
//! - [`VariableSymbol`] and [`vs_from_remittance`]: the symbol that ties a bank transfer to a
//!   customer, compared without leading zeros.
//! - [`Iban`]: ISO 13616 account numbers checked with mod 97; Czech domestic numbers converted.
//! - [`Spayd`] and [`spayd_qr_svg`]: QR Platba payment requests with their CRC32 and QR code.
//! - [`parse`] and [`detect`]: bank statements in ABO/GPC, camt.053 or Fio JSON, read into one
//!   [`Statement`] model. A corrupt or truncated file is refused whole with a
//!   [`StatementError`] that names the line, element path or JSON path at fault.
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
pub use spayd::{spayd_qr_svg, Spayd, SpaydError};
pub use statement::{
    detect, parse, Direction, Fault, Format, Statement, StatementError, Transaction,
};
pub use symbol::{vs_from_remittance, VariableSymbol, VariableSymbolError};
