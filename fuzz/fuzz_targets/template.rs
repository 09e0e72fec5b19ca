//! Subscription templates: rendering never panics, whatever the template
//! and the lead's values; a template that passes the save-time check
//! renders valid JSON for the sample, and for a lead with hostile values
//! (quotes, backslashes, control characters).
#![no_main]

use leadpipe::rules::templates;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: (&str, &str)| {
    let (template, value) = data;
    let hostile = json!({
        "type": "lead.created",
        "lead": {"email": value, "name": value, "customFields": {"x": value, "n": 1}},
    });
    let _ = templates::render(template, &hostile);
    let sample = json!({"type": "lead.created", "lead": {"email": "a@b.co", "name": "A"}});
    if templates::check(template, &sample).is_ok() {
        let out = templates::render(template, &hostile);
        assert!(
            serde_json::from_str::<serde_json::Value>(&out).is_ok(),
            "template {template:?} passed the check but rendered invalid JSON: {out:?}"
        );
    }
});
