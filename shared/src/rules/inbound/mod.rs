//! Turning what a form, a landing page or a Zapier step sends into a clean
//! lead input: the body ([`body`]), the fields ([`fields`]), the checks on
//! emails and phones ([`normalise`]), and where a request may come from
//! ([`origin`]).

pub mod body;
pub mod fields;
pub mod normalise;
pub mod origin;

pub use body::{BodyError, MAX_BODY_BYTES, RawFields, parse_body};
pub use fields::LeadInput;
