//! Background work of apisendsms.
//!
//! - [`connector`]: the interface every delivery channel implements (SMPP carriers, devices,
//!   the in-process simulated carrier), and the events they report back.
//! - [`sim_carrier`]: an in-process carrier that accepts every message and reports receipts.
//! - [`dispatcher`]: claims due messages, routes them by prefix with failover, records results.
//! - [`events`]: applies delivery receipts and stores inbound messages, in batches.
//! - [`maintenance`]: expiry, lease recovery and late receipts.
//!
//! Each worker has a `run_once` that returns what it did, wrapped in a thin loop; tests call
//! `run_once`.
//! Boundary: workers know the store and the connector interface, not HTTP.
#![forbid(unsafe_code)]

pub mod connector;
pub mod dispatcher;
pub mod events;
pub mod maintenance;
pub mod metrics;
pub mod sim_carrier;

pub use connector::{Connector, ConnectorEvent, ConnectorLoad, Delivery, OutboundMessage};
pub use dispatcher::{DispatchReport, Dispatcher, DispatcherConfig};
pub use metrics::WorkerMetrics;
