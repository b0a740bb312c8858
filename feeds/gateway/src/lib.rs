//! gavel's client gateway: the binary protocol ([`protocol`]), API keys and
//! logon ([`auth`]), per-session limits ([`limits`]), the mio server that
//! connects sessions to the engine's rings ([`server`]), and a blocking
//! client ([`client`]) for `gavel load`, the tests and researchers.
#![warn(missing_docs)]

pub mod protocol;
pub mod auth;
pub mod client;
pub mod echo;
pub mod limits;
pub mod event_clock;
pub mod market_data;
mod requests;
mod routing;
pub mod server;
pub mod session;

pub use event_clock::EventClock;
pub use server::{Gateway, GatewayConfig, GatewayCounters, InlineJournal, JournalGate, HELD_CAPACITY};
