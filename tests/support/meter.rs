//! A DynamoDB write-unit meter: what a code path would be billed, measured
//! from the calls it makes rather than counted by hand.
//!
//! [`Meter`] rides on a [`crate::FaultProxy`]: while it is on, every
//! DynamoDB write passing the proxy is serialised, and the items it touches
//! are read straight from the emulator before and after it. From those
//! before/after images [`Schema::cost`] prices each write by DynamoDB's
//! published rules:
//!
//! * the table write: the larger of the item's size before and after, in
//!   1 KB units (at least one); a write whose condition fails costs one;
//! * each global secondary index: nothing when the item is in it neither
//!   before nor after, or its index entry (projected attributes, table and
//!   index keys, 100 bytes of overhead) did not change; one entry write
//!   when it appears, disappears or changes in place; two (a delete and a
//!   put) when its index key changes;
//! * a transaction bills every one of those twice.
//!
//! The trace is kept, so the same run is priced under other layouts (other
//! projections, a sparse index, no transactions) to choose a data model by
//! measurement.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value, json};

/// One write as the meter saw it.
#[derive(Debug, Clone)]
pub struct Written {
    pub stage: String,
    pub operation: String,
    pub transactional: bool,
    pub succeeded: bool,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Records DynamoDB writes while on.
#[derive(Clone, Default)]
pub struct Meter {
    on: Arc<AtomicBool>,
    stage: Arc<std::sync::Mutex<String>>,
    writes: Arc<std::sync::Mutex<Vec<Written>>>,
    /// Held across one write and its before/after reads.
    pub(crate) serial: Arc<tokio::sync::Mutex<()>>,
}

impl Meter {
    /// Starts (or goes on) recording, labelling what follows `stage`.
    pub fn stage(&self, stage: &str) {
        *self.stage.lock().expect("lock") = stage.to_owned();
        self.on.store(true, Ordering::SeqCst);
    }

    pub fn stop(&self) {
        self.on.store(false, Ordering::SeqCst);
    }

    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::SeqCst)
    }

    pub fn writes(&self) -> Vec<Written> {
        self.writes.lock().expect("lock").clone()
    }

    pub(crate) fn record(
        &self,
        operation: &str,
        transactional: bool,
        succeeded: bool,
        images: Vec<(Option<Value>, Option<Value>)>,
    ) {
        let stage = self.stage.lock().expect("lock").clone();
        let mut writes = self.writes.lock().expect("lock");
        for (before, after) in images {
            writes.push(Written {
                stage: stage.clone(),
                operation: operation.to_owned(),
                transactional,
                succeeded,
                before,
                after,
            });
        }
    }
}

/// The DynamoDB write operations, and whether they are transactional.
pub(crate) fn write_operation(operation: &str) -> Option<bool> {
    match operation {
        "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem" => Some(false),
        "TransactWriteItems" => Some(true),
        _ => None,
    }
}

/// `(table, key)` of every item a write request touches.
pub(crate) fn touched(operation: &str, request: &Value) -> Vec<(String, Value)> {
    let key_of_item = |item: &Value| {
        let mut key = Map::new();
        for attr in ["pk", "sk"] {
            if let Some(v) = item.get(attr) {
                key.insert(attr.to_owned(), v.clone());
            }
        }
        Value::Object(key)
    };
    let table = |v: &Value| v["TableName"].as_str().unwrap_or_default().to_owned();
    match operation {
        "PutItem" => vec![(table(request), key_of_item(&request["Item"]))],
        "UpdateItem" | "DeleteItem" => vec![(table(request), request["Key"].clone())],
        "TransactWriteItems" => request["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|op| {
                let (kind, body) = op.as_object()?.iter().next()?;
                Some(match kind.as_str() {
                    "Put" => (table(body), key_of_item(&body["Item"])),
                    _ => (table(body), body["Key"].clone()),
                })
            })
            .collect(),
        "BatchWriteItem" => request["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(t, reqs)| {
                reqs.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| {
                        if let Some(p) = r.get("PutRequest") {
                            Some((t.clone(), key_of_item(&p["Item"])))
                        } else {
                            r.get("DeleteRequest")
                                .map(|d| (t.clone(), d["Key"].clone()))
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The body of a consistent GetItem of `key`.
pub(crate) fn get_item_request(table: &str, key: &Value) -> Value {
    json!({"TableName": table, "Key": key, "ConsistentRead": true})
}

/// Reads `keys` straight from the emulator (consistent reads), with the
/// intercepted call's headers for its region and credentials.
pub(crate) async fn read_items(
    client: &reqwest::Client,
    upstream: &str,
    headers: &http::HeaderMap,
    keys: &[(String, Value)],
) -> Vec<Option<Value>> {
    let mut out = Vec::with_capacity(keys.len());
    for (table, key) in keys {
        let mut req = client
            .post(format!("{upstream}/"))
            .header("x-amz-target", "DynamoDB_20120810.GetItem")
            .header("content-type", "application/x-amz-json-1.0");
        if let Some(auth) = headers.get(http::header::AUTHORIZATION) {
            req = req.header(http::header::AUTHORIZATION, auth);
        }
        let item = match req.json(&get_item_request(table, key)).send().await {
            Ok(r) => r
                .json::<Value>()
                .await
                .ok()
                .and_then(|v| v.get("Item").cloned()),
            Err(_) => None,
        };
        out.push(item);
    }
    out
}

// ----- pricing -----

/// What an index keeps of an item besides its keys.
#[derive(Debug, Clone)]
pub enum Projection {
    All,
    KeysOnly,
    Include(Vec<&'static str>),
}

/// A global secondary index.
#[derive(Debug, Clone)]
pub struct Index {
    pub pk: &'static str,
    pub sk: &'static str,
    pub projection: Projection,
    /// Items the index leaves out although they carry its keys (a layout
    /// that omits them: a sparse index).
    pub leaves_out: Option<fn(&Value) -> bool>,
}

/// A table layout to price writes under.
#[derive(Debug, Clone)]
pub struct Schema {
    pub name: &'static str,
    pub indexes: Vec<Index>,
    /// Price transactional writes as single writes (a de-duplication made
    /// of conditional single-item writes).
    pub no_transactions: bool,
}

/// Write units of some writes, table and indexes apart.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    pub table: u64,
    pub indexes: u64,
}

impl Units {
    pub fn total(self) -> u64 {
        self.table + self.indexes
    }
}

impl std::ops::AddAssign for Units {
    fn add_assign(&mut self, other: Units) {
        self.table += other.table;
        self.indexes += other.indexes;
    }
}

/// Whole 1 KB units, at least one.
fn units(bytes: usize) -> u64 {
    (bytes.div_ceil(1024) as u64).max(1)
}

impl Schema {
    /// The write units of one write.
    pub fn cost(&self, w: &Written) -> Units {
        let factor = if w.transactional && !self.no_transactions {
            2
        } else {
            1
        };
        if !w.succeeded {
            let size = w.before.as_ref().map_or(0, item_size);
            return Units {
                table: units(size) * factor,
                indexes: 0,
            };
        }
        let size = w
            .before
            .as_ref()
            .map_or(0, item_size)
            .max(w.after.as_ref().map_or(0, item_size));
        let mut indexes = 0;
        for index in &self.indexes {
            let before = w.before.as_ref().and_then(|i| index.entry(i));
            let after = w.after.as_ref().and_then(|i| index.entry(i));
            indexes += match (before, after) {
                (None, None) => 0,
                (None, Some(a)) => units(item_size(&a) + 100),
                (Some(b), None) => units(item_size(&b) + 100),
                (Some(b), Some(a)) if index.key(&b) != index.key(&a) => {
                    units(item_size(&b) + 100) + units(item_size(&a) + 100)
                }
                (Some(b), Some(a)) if b != a => units(item_size(&b).max(item_size(&a)) + 100),
                _ => 0,
            };
        }
        Units {
            table: units(size) * factor,
            indexes: indexes * factor,
        }
    }

    /// The write units of every write of `stage`.
    pub fn cost_of(&self, writes: &[Written], stage: &str) -> Units {
        let mut total = Units::default();
        for w in writes.iter().filter(|w| w.stage == stage) {
            total += self.cost(w);
        }
        total
    }
}

impl Index {
    fn key(&self, entry: &Value) -> (Value, Value) {
        (entry[self.pk].clone(), entry[self.sk].clone())
    }

    /// The item's entry in this index, if it has one.
    fn entry(&self, item: &Value) -> Option<Value> {
        let map = item.as_object()?;
        if !map.contains_key(self.pk) || !map.contains_key(self.sk) {
            return None;
        }
        if self.leaves_out.is_some_and(|f| f(item)) {
            return None;
        }
        let keep = |name: &str| match &self.projection {
            Projection::All => true,
            Projection::KeysOnly => false,
            Projection::Include(names) => names.contains(&name),
        };
        let entry: Map<String, Value> = map
            .iter()
            .filter(|(name, _)| {
                ["pk", "sk", self.pk, self.sk].contains(&name.as_str()) || keep(name)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Some(Value::Object(entry))
    }
}

/// The size DynamoDB bills for an item in its wire form
/// (`{"name": {"S": "…"}, …}`): each attribute's name plus its value.
pub fn item_size(item: &Value) -> usize {
    item.as_object()
        .map_or(0, |m| m.iter().map(|(k, v)| k.len() + value_size(v)).sum())
}

fn number_size(text: &str) -> usize {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

fn value_size(v: &Value) -> usize {
    let Some((kind, inner)) = v.as_object().and_then(|m| m.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" => inner.as_str().map_or(0, str::len),
        "N" => inner.as_str().map_or(1, number_size),
        "B" => inner.as_str().map_or(0, |b| b.len() * 3 / 4),
        "BOOL" | "NULL" => 1,
        "SS" => inner.as_array().map_or(0, |a| {
            a.iter().filter_map(Value::as_str).map(str::len).sum()
        }),
        "NS" => inner.as_array().map_or(0, |a| {
            a.iter().filter_map(Value::as_str).map(number_size).sum()
        }),
        "BS" => inner.as_array().map_or(0, |a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|b| b.len() * 3 / 4)
                .sum()
        }),
        "L" => {
            3 + inner
                .as_array()
                .map_or(0, |a| a.iter().map(|e| 1 + value_size(e)).sum())
        }
        "M" => {
            3 + inner.as_object().map_or(0, |m| {
                m.iter().map(|(k, e)| 1 + k.len() + value_size(e)).sum()
            })
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(projection: Projection) -> Index {
        Index {
            pk: "gsi1pk",
            sk: "gsi1sk",
            projection,
            leaves_out: None,
        }
    }

    fn schema(projection: Projection) -> Schema {
        Schema {
            name: "t",
            indexes: vec![index(projection)],
            no_transactions: false,
        }
    }

    fn item(status: &str, note: &str) -> Value {
        json!({"pk": {"S": "EVT#1"}, "sk": {"S": "EVT"}, "gsi1pk": {"S": status}, "gsi1sk": {"S": "1"},
               "note": {"S": note}, "n": {"N": "120"}})
    }

    fn write(before: Option<Value>, after: Option<Value>, tx: bool) -> Written {
        Written {
            stage: "s".into(),
            operation: "UpdateItem".into(),
            transactional: tx,
            succeeded: true,
            before,
            after,
        }
    }

    #[test]
    fn sizes_follow_the_published_rules() {
        assert_eq!(item_size(&json!({"ab": {"S": "xyz"}})), 5);
        assert_eq!(item_size(&json!({"a": {"N": "120"}})), 1 + 2);
        assert_eq!(item_size(&json!({"a": {"BOOL": true}})), 2);
        assert_eq!(
            item_size(&json!({"a": {"L": [{"S": "xy"}]}})),
            1 + 3 + 1 + 2
        );
        assert_eq!(
            item_size(&json!({"a": {"M": {"k": {"S": "xy"}}}})),
            1 + 3 + 1 + 1 + 2
        );
        assert_eq!(units(0), 1);
        assert_eq!(units(1024), 1);
        assert_eq!(units(1025), 2);
    }

    #[test]
    fn a_put_writes_the_table_and_each_index_it_lands_in() {
        let w = write(None, Some(item("A", "x")), false);
        assert_eq!(
            schema(Projection::All).cost(&w),
            Units {
                table: 1,
                indexes: 1
            }
        );
        let big = "x".repeat(2900);
        let w = write(None, Some(item("A", &big)), false);
        assert_eq!(
            schema(Projection::All).cost(&w),
            Units {
                table: 3,
                indexes: 3
            }
        );
        // The index entry's 100 bytes of overhead can tip it into one more.
        let big = "x".repeat(3000);
        let w = write(None, Some(item("A", &big)), false);
        assert_eq!(schema(Projection::All).cost(&w).indexes, 4);
        assert_eq!(
            schema(Projection::KeysOnly).cost(&w),
            Units {
                table: 3,
                indexes: 1
            }
        );
    }

    #[test]
    fn updates_touch_an_index_only_when_its_entry_changes() {
        let w = write(Some(item("A", "x")), Some(item("A", "y")), false);
        assert_eq!(schema(Projection::All).cost(&w).indexes, 1);
        assert_eq!(schema(Projection::KeysOnly).cost(&w).indexes, 0);
        assert_eq!(
            schema(Projection::Include(vec!["note"])).cost(&w).indexes,
            1
        );
        // The index key moves: a delete and a put.
        let w = write(Some(item("A", "x")), Some(item("B", "x")), false);
        assert_eq!(schema(Projection::KeysOnly).cost(&w).indexes, 2);
        // A transaction bills twice.
        let w = write(Some(item("A", "x")), Some(item("B", "x")), true);
        assert_eq!(
            schema(Projection::KeysOnly).cost(&w),
            Units {
                table: 2,
                indexes: 4
            }
        );
    }

    #[test]
    fn a_sparse_index_leaves_items_out() {
        let mut s = schema(Projection::KeysOnly);
        s.indexes[0].leaves_out = Some(|i| i["gsi1pk"]["S"] == "A");
        let w = write(None, Some(item("A", "x")), false);
        assert_eq!(s.cost(&w).indexes, 0);
        let w = write(Some(item("A", "x")), Some(item("B", "x")), false);
        assert_eq!(s.cost(&w).indexes, 1);
    }

    #[test]
    fn touched_keys() {
        let tx = json!({"TransactItems": [
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}, "sk": {"S": "b"}, "x": {"S": "y"}}}},
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "c"}, "sk": {"S": "d"}}}}]});
        let keys = touched("TransactWriteItems", &tx);
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].1, json!({"pk": {"S": "a"}, "sk": {"S": "b"}}));
        assert_eq!(keys[1].1, json!({"pk": {"S": "c"}, "sk": {"S": "d"}}));
    }
}
