#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The integration tests, one binary (one link of the crate and the SDK,
//! one emulator): each module drives one part of Leadpipe against moto's
//! server and real local HTTP servers, through the same handlers Lambda
//! runs. `cargo test -p leadpipe-tests --test it <module>::` runs one part.

mod attempt_log;
mod console;
mod console_pages;
mod cost;
mod dedupe;
mod delivery;
mod docs;
mod events;
mod faults;
mod first_attempt;
mod form_browser;
mod held;
mod hubspot;
mod infra;
mod ingest;
mod keys;
mod listing;
mod local_stack;
mod logs;
mod meta;
mod meta_pages;
mod migration;
mod ops_events;
mod permissions;
mod pipedrive;
mod process;
mod receivers;
mod routing;
mod schedule;
mod sheets;
mod slack;
mod sources;
mod sources_form;
mod sources_linkedin;
mod sweep_events;
mod test_leads;
mod workspaces;
mod zero_loss;
