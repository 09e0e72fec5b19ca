//! Listing cursors from `?cursor=`: decoding never panics, a decoded
//! cursor re-encodes to one that decodes the same, and it only becomes a
//! position (a sort key) for the listing and direction it names.
#![no_main]

use leadpipe::aws::pagination::Cursor;
use leadpipe::aws::table::{GSI1, GSI2};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(cursor) = Cursor::decode(text) {
        let again = Cursor::decode(&cursor.encode()).expect("a cursor we encode decodes");
        assert_eq!(again, cursor);
        for gsi in [GSI1, GSI2] {
            if let Ok(key) = cursor.position(&format!("{}/LEADS", gsi.name), true) {
                assert!(!key.is_empty());
            }
        }
    }
});
