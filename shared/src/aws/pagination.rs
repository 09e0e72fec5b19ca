//! `?limit=` and `?cursor=` in, `{"items": […], "nextCursor": …}` out.
//!
//! A cursor is the listing it belongs to and the last sort key it covered
//! (an item id), base64url-encoded JSON. A listing reads several index
//! partitions (its shards, [`crate::aws::table::Listing`]) and the ids are
//! unique and time-ordered across all of them, so one sort key is a
//! position in every shard at once: the next page asks each shard for what
//! lies strictly past it. (A cursor per shard would grow with the shards
//! and say nothing more.) It is checked on the way back in: a cursor from
//! another listing or read in the other direction, or garbage, is a 422
//! and never reaches DynamoDB.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::error::DataError;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// A listing request.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    pub limit: u32,
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    /// Reads `limit` and `cursor` from query parameters.
    pub fn from_query(limit: Option<&str>, cursor: Option<&str>) -> Result<Self, DataError> {
        let limit = match limit {
            None | Some("") => DEFAULT_LIMIT,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(DataError::invalid(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    ));
                }
            },
        };
        let cursor = match cursor {
            None | Some("") => None,
            Some(text) => Some(Cursor::decode(text)?),
        };
        Ok(PageRequest { limit, cursor })
    }
}

/// One page of a listing.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(rename = "nextCursor")]
    pub next_cursor: Option<Cursor>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// An opaque position in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(BTreeMap<String, String>);

impl Serialize for Cursor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.encode())
    }
}

impl Cursor {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(&self.0).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(text: &str) -> Result<Self, DataError> {
        let bad = || DataError::invalid("cursor", "is not a cursor this API handed out");
        if text.len() > 2048 {
            return Err(bad());
        }
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let map: BTreeMap<String, String> = serde_json::from_slice(&raw).map_err(|_| bad())?;
        Ok(Cursor(map))
    }

    /// The cursor past `sort_key` in the listing named `scope`, read
    /// newest first (the next page holds smaller keys) or oldest first.
    pub fn past(scope: &str, newest_first: bool, sort_key: &str) -> Self {
        let map = BTreeMap::from([
            (LISTING.to_owned(), scope.to_owned()),
            (direction(newest_first).to_owned(), sort_key.to_owned()),
        ]);
        Cursor(map)
    }

    /// The sort key to continue strictly past, for the listing named
    /// `scope` read in the given direction; refuses a cursor that was made
    /// for another listing or direction.
    pub fn position(&self, scope: &str, newest_first: bool) -> Result<&str, DataError> {
        let bad = || DataError::invalid("cursor", "does not belong to this listing");
        if self.0.len() != 2 || self.0.get(LISTING).map(String::as_str) != Some(scope) {
            return Err(bad());
        }
        match self.0.get(direction(newest_first)) {
            // DynamoDB's bound on a sort key.
            Some(key) if !key.is_empty() && key.len() <= 1024 => Ok(key),
            _ => Err(bad()),
        }
    }
}

const LISTING: &str = "listing";

fn direction(newest_first: bool) -> &'static str {
    if newest_first { "before" } else { "after" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds() {
        assert_eq!(PageRequest::from_query(None, None).unwrap().limit, 50);
        assert_eq!(
            PageRequest::from_query(Some("200"), None).unwrap().limit,
            200
        );
        for bad in ["0", "201", "-1", "ten", "1e3"] {
            assert!(PageRequest::from_query(Some(bad), None).is_err(), "{bad}");
        }
    }

    #[test]
    fn cursor_round_trip_and_scope() {
        let cursor = Cursor::past("gsi1v2/KEYS", true, "key_a");
        let back = Cursor::decode(&cursor.encode()).unwrap();
        assert_eq!(back, cursor);
        assert_eq!(back.position("gsi1v2/KEYS", true).unwrap(), "key_a");
        assert!(back.position("gsi1v2/EVENTS", true).is_err());
        assert!(back.position("gsi2v2/KEYS", true).is_err());
        assert!(back.position("gsi1v2/KEYS", false).is_err());
    }

    #[test]
    fn garbage_cursor_is_422() {
        for bad in ["%%%", "e30", "bm90IGpzb24"] {
            let err = PageRequest::from_query(None, Some(bad));
            match err {
                Err(e) => assert!(matches!(e, DataError::Invalid(_))),
                Ok(p) => assert!(p.cursor.unwrap().position("gsi1v2/KEYS", true).is_err()),
            }
        }
    }
}
