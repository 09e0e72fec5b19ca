//! Pure rules: no I/O, so every one is unit- and property-tested without
//! the emulator.

pub mod clock;
pub mod crypto;
pub mod dashboard;
pub mod filter;
pub mod ids;
pub mod inbound;
pub mod rate;
pub mod redact;
pub mod retry;
pub mod schedule;
pub mod signing;
pub mod ssrf;
pub mod templates;
