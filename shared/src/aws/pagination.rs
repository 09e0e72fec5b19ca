//! `?limit=` and `?cursor=` in, `{"items": […], "nextCursor": …}` out.
//!
//! A cursor is the DynamoDB position it stands for, base64url-encoded. It is
//! checked on the way back in: a cursor from another listing, or garbage, is
//! a 422 and never reaches DynamoDB.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::aws::table::{Gsi, Item, PK, SK};
use crate::error::{DataError, Error};

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

    /// The cursor for DynamoDB's `LastEvaluatedKey` of a query on `gsi`.
    pub fn from_key(gsi: Gsi, key: &Item) -> Result<Self, Error> {
        let mut map = BTreeMap::new();
        for attr in [PK, SK, gsi.pk, gsi.sk] {
            match key.get(attr) {
                Some(AttributeValue::S(v)) => {
                    map.insert(attr.to_owned(), v.clone());
                }
                _ => return Err(Error::Data(format!("LastEvaluatedKey lacks {attr}"))),
            }
        }
        Ok(Cursor(map))
    }

    /// The `ExclusiveStartKey` for a query on `gsi` in `partition`; refuses a
    /// cursor that was made for another listing.
    pub fn to_key(&self, gsi: Gsi, partition: &str) -> Result<Item, DataError> {
        let bad = || DataError::invalid("cursor", "does not belong to this listing");
        let expected = [PK, SK, gsi.pk, gsi.sk];
        if self.0.len() != expected.len()
            || expected.iter().any(|a| !self.0.contains_key(*a))
            || self.0.get(gsi.pk).map(String::as_str) != Some(partition)
        {
            return Err(bad());
        }
        Ok(self
            .0
            .iter()
            .map(|(k, v)| (k.clone(), AttributeValue::S(v.clone())))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::table::GSI1;

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
        let key: Item = [
            (PK, "KEY#a"),
            (SK, "KEY"),
            (GSI1.pk, "KEYS"),
            (GSI1.sk, "key_a"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())))
        .collect();
        let cursor = Cursor::from_key(GSI1, &key).unwrap();
        let back = Cursor::decode(&cursor.encode()).unwrap();
        assert_eq!(back.to_key(GSI1, "KEYS").unwrap(), key);
        assert!(back.to_key(GSI1, "EVENTS").is_err());
    }

    #[test]
    fn garbage_cursor_is_422() {
        for bad in ["%%%", "e30", "bm90IGpzb24"] {
            let err = PageRequest::from_query(None, Some(bad));
            match err {
                Err(e) => assert!(matches!(e, DataError::Invalid(_))),
                Ok(p) => assert!(p.cursor.unwrap().to_key(GSI1, "KEYS").is_err()),
            }
        }
    }
}
