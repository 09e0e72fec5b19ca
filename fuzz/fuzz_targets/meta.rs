//! Meta notifications and Graph answers, as hostile bytes: never panic;
//! every leadgen found has a non-empty id; a signature over the body
//! verifies, and one over other bytes does not.
#![no_main]

use leadpipe::providers::meta;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (&[u8], &str)| {
    let (body, header) = data;
    if let Ok(changes) = meta::leadgen_changes(body) {
        for lg in changes {
            assert!(!lg.leadgen_id.is_empty());
        }
    }
    let _ = meta::field_data_to_fields(body);
    let _ = meta::signature_valid("app-secret", body, Some(header));
    let signed = meta::sign("app-secret", body);
    assert!(meta::signature_valid("app-secret", body, Some(&signed)));
    let mut other = body.to_vec();
    other.push(b'x');
    assert!(!meta::signature_valid("app-secret", &other, Some(&signed)));
});
