//! Meta's `signed_request` (the data-deletion callback), as hostile text:
//! never panic; nothing unsigned is accepted; what the app secret signs is
//! read back, and the same request under another secret is refused.
#![no_main]

use leadpipe::providers::meta_signed::{self, SignedError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (&str, &str)| {
    let (text, payload) = data;
    if let Ok(read) = meta_signed::parse("app-secret", text) {
        // Accepted: a signature and a payload, naming a user.
        let (_, encoded) = text.trim().split_once('.').expect("a dot");
        assert!(!read.user_id.is_empty());
        assert!(!encoded.is_empty());
    }
    let signed = meta_signed::sign("app-secret", payload);
    match meta_signed::parse("app-secret", &signed) {
        Ok(_) => assert_eq!(
            meta_signed::parse("other-secret", &signed),
            Err(SignedError::BadSignature)
        ),
        // Signed but not the documented payload (no user_id, another
        // algorithm, not JSON): malformed, never a bad signature.
        Err(e) => assert!(matches!(e, SignedError::Malformed(_)), "{e:?}"),
    }
});
