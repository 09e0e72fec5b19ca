//! Every source adapter's parser and verifier, as hostile bytes (Google Ads,
//! Typeform, Tally, Jotform, LinkedIn, plain forms, multipart): never panic; a lead id
//! read is never empty; a body signed with the secret verifies, the same
//! signature over other bytes does not.
#![no_main]

use leadpipe::providers::{self, Presented, Provider, base64_hmac, form, multipart};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (&[u8], &str, &str)| {
    let (body, content_type, header) = data;
    for p in Provider::ALL {
        let Some(adapter) = p.adapter() else { continue };
        if let Ok(s) = adapter.parse(Some(content_type), body) {
            assert!(s.meta.lead_id.as_deref().is_some_and(|id| !id.is_empty()));
        }
        let _ = adapter.parse(None, body);
        let mut headers = http::HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_str(header) {
            headers.insert("typeform-signature", v.clone());
            headers.insert("tally-signature", v);
        }
        let query = vec![("token".to_owned(), header.to_owned())];
        let req = Presented { headers: &headers, query: &query, body };
        let _ = adapter.authentic("secret", &req);
    }
    let _ = multipart::parse(content_type, body);
    let _ = form::parse(Some(content_type), body);
    let _ = form::siteverify_success(body);
    let _ = providers::json_object(body);
    if let Ok(n) = providers::linkedin::notification(body) {
        assert!(!n.response_id.is_empty());
    }
    let _ = providers::linkedin::response_fields(body, "x");
    let li = providers::linkedin::sign("secret", body);
    assert!(providers::linkedin::signature_valid("secret", body, Some(&li)));
    assert!(!providers::linkedin::signature_valid("secret", &[body, b"\n"].concat(), Some(&li)));

    let sig = base64_hmac("secret", body);
    assert!(providers::base64_hmac_valid("secret", body, &sig));
    let mut other = body.to_vec();
    other.push(b'\n');
    assert!(!providers::base64_hmac_valid("secret", &other, &sig));
});
