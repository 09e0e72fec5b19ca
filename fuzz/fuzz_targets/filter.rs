//! Routing filters: parsing any JSON never panics and either gives a filter
//! or issues under the root path; a parsed filter evaluates on a lead made
//! of the same hostile bytes without panicking.
#![no_main]

use leadpipe::rules::filter;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: (&[u8], &str)| {
    let (bytes, text) = data;
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let lead = json!({"email": text, "tags": [text, 1], "customFields": {text: text, "n": 5},
                      "source": {"type": text}});
    match filter::parse(&v, "filter") {
        Ok(f) => {
            let _ = f.matches(&lead);
            let _ = f.matches(&v);
        }
        Err(issues) => {
            assert!(!issues.is_empty());
            assert!(issues.iter().all(|i| i.path.starts_with("filter")));
        }
    }
});
