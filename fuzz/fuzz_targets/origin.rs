//! Allow-list entries and Origin/Referer headers: never panic, and a
//! wildcard never matches its own base domain.
#![no_main]

use leadpipe::rules::inbound::origin::{DomainPattern, allowed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (&str, &str, &str)| {
    let (entry, origin, referer) = data;
    if let Ok(p) = DomainPattern::parse(entry) {
        let _ = allowed(std::slice::from_ref(&p), Some(origin), Some(referer));
        if let DomainPattern::Subdomains(base) = &p {
            assert!(!p.matches(base));
        }
    }
});
