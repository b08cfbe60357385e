//! The domain of apisendsms: the types every other crate speaks in and the rules that need no I/O.
//!
//! - [`ids`]: typed identifiers ([`AccountId`], [`MessageId`]) and the time-ordered id generator.
//! - [`money`]: [`Money`], integer hundredths of CZK, never a float.
//! - [`status`]: the message state machine ([`MessageStatus`]).
//! - [`routing`]: the route table that picks a connector by destination prefix.
//! - [`pricing`]: the price of a message by its parts.
//! - [`optout`]: opt-out keywords in replies and the rules of commercial messages.
//! - [`rate_limit`]: a token bucket driven by an explicit clock value.
//! - [`consent`]: consent purposes and the age rules of newsletter and service.
//! - [`retention`]: the retention policies (seed clause 4) as data, and calendar periods.
//! - [`processing`]: the record of processing: purposes, legal bases, recipients.
//!
//! Boundary: this crate knows nothing of databases, HTTP, JSON wire formats or sockets.
#![forbid(unsafe_code)]

pub mod consent;
pub mod ids;
pub mod money;
pub mod optout;
pub mod pricing;
pub mod processing;
pub mod rate_limit;
pub mod retention;
pub mod routing;
pub mod status;

pub use ids::{AccountId, IdGenerator, MessageId};
pub use money::Money;
pub use status::MessageStatus;
