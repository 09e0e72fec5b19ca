//! Any body with any content type: parse, apply the field rules, never panic;
//! an accepted lead is always normalised.
#![no_main]

use leadpipe::rules::inbound::{LeadInput, normalise, parse_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (ct, body) = match data.first() {
        Some(b) if b % 3 == 0 => (Some("application/json"), &data[1..]),
        Some(b) if b % 3 == 1 => (Some("application/x-www-form-urlencoded"), &data[1..]),
        Some(_) => (None, &data[1..]),
        None => return,
    };
    if let Ok(fields) = parse_body(ct, body)
        && let Ok(lead) = LeadInput::from_fields(fields, leadpipe::rules::inbound::normalise::Region::US, Some("hp"))
    {
        assert!(lead.email.is_some() || lead.phone.is_some());
        if let Some(e) = &lead.email {
            assert_eq!(normalise::email(e).as_deref(), Ok(e.as_str()));
        }
    }
});
