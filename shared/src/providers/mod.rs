//! The systems leads come from besides Leadpipe's own hook.

pub mod meta;
