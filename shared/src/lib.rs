//! Leadpipe: a serverless lead-webhook hub.
//!
//! The folders are the pipeline, one per Lambda function:
//!
//! * [`ingest`] — `POST /v1/hooks/{keyId}` and Meta's notifications:
//!   authenticate, check origin, parse, record the event and queue it.
//! * [`meta_verify`] — Meta's subscription handshake.
//! * [`process`] — the leads queue: clean the event into a lead,
//!   de-duplicated exactly once, and fan it out into deliveries.
//! * [`deliver`] — the deliveries queue: signed webhooks, retried.
//! * [`admin`] — the management API, one file per resource, and the
//!   [`console`] it serves: server-rendered pages over the same handlers.
//! * [`sweep`] — the scheduled safety net: queues again what a lost
//!   message left stuck, and checks each registered Meta page's health.
//! * [`ops`] — operational events (`delivery.exhausted`,
//!   `subscription.failing`…): raised by the stages, delivered like a
//!   lead's to the subscriptions that ask for them.
//!
//! Under them the layers:
//!
//! * [`model`] — the stored entities (events, leads, keys, subscriptions,
//!   deliveries): records, views and their storage functions.
//! * [`rules`] — pure logic, no I/O: inbound parsing and normalisation,
//!   signing, templates, SSRF rules, retry back-off, crypto, ids, clock.
//! * [`providers`] — other systems leads come from (Meta Lead Ads).
//! * [`aws`] — the SDK, the DynamoDB store, pagination, SQS, Secrets
//!   Manager, batches, the resources and the IAM permissions.
//! * [`http`] — JSON and header helpers and the route table.
//!
//! Beside them: [`app`] (what handlers share), [`config`], [`telemetry`] and
//! [`error`].

pub mod admin;
pub mod app;
pub mod aws;
pub mod config;
pub mod console;
pub mod deliver;
pub mod error;
pub mod http;
pub mod ingest;
pub mod listen;
pub mod meta_verify;
pub mod model;
pub mod openapi;
pub mod ops;
pub mod process;
pub mod providers;
pub mod rules;
pub mod sweep;
pub mod telemetry;

pub use app::{App, Scope};
pub use config::Config;
pub use error::Error;
pub use http::error::ApiError;
