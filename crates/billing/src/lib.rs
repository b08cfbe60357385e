//! Billing rules of apisendsms, without any I/O.
//!
//! - [`prices`]: price lists per destination prefix (longest prefix wins), an account's own
//!   prices before the public list, the flat price as the last resort.
//! - [`vat`]: VAT rates as data with validity dates, and the split of an amount into tax base
//!   and VAT rounded to hundredths (half away from zero).
//! - [`numbering`]: invoice series (`FV2026000001`): unique, increasing, one series per year.
//! - [`calendar`]: the date in Europe/Prague of a UTC instant (the date printed on documents).
//! - [`invoice`]: the supplier's details and the tax document as printed; with the `pdf`
//!   feature, [`invoice::render_pdf`] renders it with an embedded font that has Czech letters.
//!
//! Boundary: knows money, dates and documents; nothing of SQL, HTTP or JSON.
#![forbid(unsafe_code)]

pub mod calendar;
pub mod invoice;
pub mod numbering;
pub mod prices;
pub mod vat;

pub use invoice::{InvoiceDocument, InvoiceKind, InvoicePolicy, Invoicing, Supplier};
pub use numbering::SeriesRule;
pub use prices::{PriceBook, PriceEntry, PriceSource};
pub use vat::{VatRate, VatRates, VatSplit};
