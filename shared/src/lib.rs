//! Leadpipe: a serverless lead-webhook hub.
//!
//! The pipeline reads top to bottom in the module names:
//!
//! * [`ingest`] — `POST /v1/hooks/{keyId}`: authenticate, check origin,
//!   parse ([`inbound`]), record the event and queue it; [`meta`] and
//!   [`meta_verify`] do the same for Meta Lead Ads.
//! * [`process`] — the leads queue: clean the event into a lead,
//!   de-duplicated exactly once ([`dedupe`], [`leads`]), and fan it out.
//! * [`delivery`] — the deliveries queue: signed webhooks ([`signing`],
//!   [`templates`], [`ssrf`]) to [`subscriptions`], retried ([`retry`]).
//! * [`admin`] — the management API over [`keys`] and the rest.
//!
//! Underneath: [`app`] (what handlers share), [`aws`] (the SDK, set up on
//! first use), [`store`] (DynamoDB single table), [`queue`] (SQS),
//! [`secrets`] (Secrets Manager, cached), [`crypto`] (AES-256-GCM for stored
//! secrets, constant-time comparison), [`resources`] (the table, queues and
//! secret, defined once), [`routes`] (the HTTP route table, defined once) and
//! [`errors`] (the contract's error envelope, produced in one place).

pub mod admin;
pub mod app;
pub mod aws;
pub mod batch;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod dedupe;
pub mod delivery;
pub mod dlq;
pub mod errors;
pub mod events;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod inbound;
pub mod ingest;
pub mod keys;
pub mod leads;
pub mod meta;
pub mod meta_verify;
pub mod pagination;
pub mod permissions;
pub mod process;
pub mod queue;
pub mod resources;
pub mod retry;
pub mod routes;
pub mod secrets;
pub mod signing;
pub mod ssrf;
pub mod store;
pub mod subscriptions;
pub mod telemetry;
pub mod templates;

pub use app::App;
pub use config::Config;
pub use errors::{ApiError, Error};
