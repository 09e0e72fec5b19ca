//! The `filter` of a subscription in the admin API: read and checked at
//! save (every problem a field issue with its path, such as
//! `filter.all[1].op`), shown back as JSON on reads. The rules themselves
//! are [`crate::rules::filter`]'s.

use serde_json::Value;

use super::input::JsonInput;
use crate::rules::filter;

/// Absent → `None` (unchanged); `null` → remove; otherwise the checked
/// filter as compact JSON text.
pub fn read_filter(input: &mut JsonInput) -> Option<Option<String>> {
    let raw = input.raw("filter")?.clone();
    if raw.is_null() {
        return Some(None);
    }
    match filter::parse(&raw, "filter") {
        Ok(_) => Some(Some(raw.to_string())),
        Err(issues) => {
            for i in issues {
                input.issue(i.path, i.issue);
            }
            None
        }
    }
}

/// The stored filter as the API shows it.
pub fn show_filter(stored: Option<&str>) -> Option<Value> {
    stored.and_then(|t| serde_json::from_str(t).ok())
}
