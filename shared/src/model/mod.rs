//! The stored entities: one file each, with the record as stored, the view
//! the API shows, and the functions that read and write it.

pub mod audit;
pub mod deliveries;
pub mod erasure;
pub mod events;
pub mod health;
pub mod history;
pub mod keys;
pub mod leads;
pub mod pages;
pub mod subscriptions;
pub mod tokens;
pub mod workspaces;
