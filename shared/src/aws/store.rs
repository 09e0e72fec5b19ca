//! The DynamoDB single table: typed items in, typed items out.
//!
//! Items are plain `serde` structs carrying their own `pk`/`sk` (and GSI keys
//! where they are listed); `serde_dynamo` converts them. Writes that must not
//! clobber use conditions and answer [`Write::Conflict`] instead of an error.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnValue, TransactWriteItem,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::aws::LazyClient;
use crate::aws::table::{Item, PK, SK};
use crate::error::{AwsErrorKind, Error};

/// The outcome of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Done,
    /// The condition failed: the item exists (or does not), someone was first.
    Conflict,
}

/// The outcome of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tx {
    Done,
    /// Nothing was written. One reason per item, in order: `None` where
    /// that item was not the cause, else why it failed (a condition, a
    /// conflicting transaction, throttling…), where DynamoDB tells.
    Cancelled(Vec<Option<AwsErrorKind>>),
}

/// Names and values for an expression: `("#s", "status")`, `(":v", value)`.
pub type Names = Vec<(&'static str, &'static str)>;
pub type Values = Vec<(&'static str, AttributeValue)>;

/// The table, with the client built on first use and kept.
#[derive(Clone, Debug)]
pub struct Store {
    client: LazyClient<Client>,
    pub(crate) table: String,
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

pub fn to_item<T: Serialize>(value: &T) -> Result<Item, Error> {
    serde_dynamo::to_item(value).map_err(|e| Error::Data(format!("encode item: {e}")))
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, Error> {
    serde_dynamo::from_item(item).map_err(|e| Error::Data(format!("decode item: {e}")))
}

impl Store {
    pub(crate) async fn client(&self) -> &Client {
        self.client.get().await
    }

    pub fn new(client: LazyClient<Client>, table: impl Into<String>) -> Self {
        Store {
            client,
            table: table.into(),
        }
    }

    /// Reads one item, strongly consistent (a rotated token fails at once).
    pub async fn get<T: DeserializeOwned>(&self, pk: &str, sk: &str) -> Result<Option<T>, Error> {
        let out = self
            .client()
            .await
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::store("GetItem", e))?;
        out.item.map(from_item).transpose()
    }

    /// Writes an item unconditionally.
    pub async fn put<T: Serialize>(&self, item: &T) -> Result<(), Error> {
        self.client()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(item)?))
            .send()
            .await
            .map_err(|e| Error::store("PutItem", e))?;
        Ok(())
    }

    /// Writes an item only when no item with its key exists.
    pub async fn put_new<T: Serialize>(&self, item: &T) -> Result<Write, Error> {
        self.put_if(item, "attribute_not_exists(pk)", HashMap::new())
            .await
    }

    /// Writes an item only when an item with its key exists (update in full).
    pub async fn replace<T: Serialize>(&self, item: &T) -> Result<Write, Error> {
        self.put_if(item, "attribute_exists(pk)", HashMap::new())
            .await
    }

    /// Writes an item under a condition expression.
    pub async fn put_if<T: Serialize>(
        &self,
        item: &T,
        condition: &str,
        values: HashMap<String, AttributeValue>,
    ) -> Result<Write, Error> {
        let result = self
            .client()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(item)?))
            .condition_expression(condition)
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .send()
            .await;
        conditional("PutItem", result)
    }

    /// Deletes an item; `condition` (optional, with its `values`) must hold.
    pub async fn delete(
        &self,
        pk: &str,
        sk: &str,
        condition: Option<&str>,
        values: Values,
    ) -> Result<Write, Error> {
        let result = self
            .client()
            .await
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values(to_map(values))
            .send()
            .await;
        conditional("DeleteItem", result)
    }

    /// Atomically adds to numeric attributes of an item (creating it).
    pub async fn add(&self, pk: &str, sk: &str, deltas: &[(&str, i64)]) -> Result<(), Error> {
        let mut expr = String::from("ADD ");
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        for (i, (attr, delta)) in deltas.iter().enumerate() {
            if i > 0 {
                expr.push_str(", ");
            }
            expr.push_str(&format!("#a{i} :v{i}"));
            names.insert(format!("#a{i}"), (*attr).to_owned());
            values.insert(format!(":v{i}"), n(*delta));
        }
        self.client()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression(expr)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::None)
            .send()
            .await
            .map_err(|e| Error::store("UpdateItem", e))?;
        Ok(())
    }

    /// Reads many items by key (any order; missing ones are absent), in
    /// chunks of 100, retrying unprocessed keys.
    pub async fn batch_get(&self, keys: &[(String, String)]) -> Result<Vec<Item>, Error> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut pending: Vec<Item> = chunk.iter().map(|(p, s)| key(p, s)).collect();
            let mut rounds = 0;
            while !pending.is_empty() {
                rounds += 1;
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| Error::request("dynamodb", "BatchGetItem", e))?;
                let out = self
                    .client()
                    .await
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| Error::store("BatchGetItem", e))?;
                if let Some(mut responses) = out.responses {
                    found.extend(responses.remove(&self.table).unwrap_or_default());
                }
                if let Some(mut unprocessed) = out.unprocessed_keys
                    && let Some(rest) = unprocessed.remove(&self.table)
                {
                    pending = rest.keys;
                }
                if !pending.is_empty() {
                    if rounds >= 8 {
                        return Err(Error::Data(
                            "BatchGetItem kept leaving keys unprocessed".into(),
                        ));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(25 << rounds)).await;
                }
            }
        }
        Ok(found)
    }

    /// A `Put` for a transaction, optionally conditional.
    pub fn tx_put<T: Serialize>(
        &self,
        item: &T,
        condition: Option<&str>,
        values: Values,
    ) -> Result<TransactWriteItem, Error> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(item)?))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values(to_map(values))
            .build()
            .map_err(|e| Error::request("dynamodb", "TransactWriteItems", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A `Delete` for a transaction, optionally conditional.
    pub fn tx_delete(
        &self,
        pk: &str,
        sk: &str,
        condition: Option<&str>,
        names: Names,
        values: Values,
    ) -> Result<TransactWriteItem, Error> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(to_names(names))
            .set_expression_attribute_values(to_map(values))
            .build()
            .map_err(|e| Error::request("dynamodb", "TransactWriteItems", e))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// A condition on an item a transaction does not write.
    pub fn tx_check(
        &self,
        pk: &str,
        sk: &str,
        condition: &str,
        values: Values,
    ) -> Result<TransactWriteItem, Error> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .condition_expression(condition)
            .set_expression_attribute_values(to_map(values))
            .build()
            .map_err(|e| Error::request("dynamodb", "TransactWriteItems", e))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Runs a transaction: all of it or none.
    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Tx, Error> {
        let result = self
            .client()
            .await
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Tx::Done),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) => {
                    Ok(Tx::Cancelled(
                        c.cancellation_reasons()
                            .iter()
                            .map(|r| r.code().filter(|c| *c != "None").map(AwsErrorKind::from_code))
                            .collect(),
                    ))
                }
                _ => Err(Error::store("TransactWriteItems", e)),
            },
        }
    }

    /// Updates one item under a condition.
    pub async fn update_if(
        &self,
        pk: &str,
        sk: &str,
        expression: &str,
        condition: Option<&str>,
        names: Names,
        values: Values,
    ) -> Result<Write, Error> {
        let result = self
            .client()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(to_names(names))
            .set_expression_attribute_values(to_map(values))
            .send()
            .await;
        conditional("UpdateItem", result)
    }

    /// Like [`Store::update_if`], with attribute names made at run time (an
    /// attribute named after an id).
    pub async fn update_if_owned_names(
        &self,
        pk: &str,
        sk: &str,
        expression: &str,
        condition: Option<&str>,
        names: Vec<(String, String)>,
        values: Values,
    ) -> Result<Write, Error> {
        let result = self
            .client()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(Some(names.into_iter().collect()))
            .set_expression_attribute_values(to_map(values))
            .send()
            .await;
        conditional("UpdateItem", result)
    }

    /// Every item of a partition whose sort key starts with `prefix`, in
    /// sort-key order.
    pub async fn query_prefix<T: DeserializeOwned>(
        &self,
        pk: &str,
        prefix: &str,
    ) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            // An empty prefix is the whole partition.
            let query = self
                .client()
                .await
                .query()
                .table_name(&self.table)
                .expression_attribute_values(":p", s(pk));
            let query = if prefix.is_empty() {
                query.key_condition_expression("pk = :p")
            } else {
                query
                    .key_condition_expression("pk = :p AND begins_with(sk, :s)")
                    .expression_attribute_values(":s", s(prefix))
            };
            let page = query
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| Error::store("Query", e))?;
            for item in page.items.unwrap_or_default() {
                out.push(from_item(item)?);
            }
            match page.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(out),
            }
        }
    }
}

/// A conditional write's result: a failed condition is `Write::Conflict`,
/// not an error.
fn conditional<T, E, R>(op: &'static str, result: Result<T, SdkError<E, R>>) -> Result<Write, Error>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match result {
        Ok(_) => Ok(Write::Done),
        Err(e) if AwsErrorKind::of(&e) == AwsErrorKind::ConditionalCheckFailed => {
            Ok(Write::Conflict)
        }
        Err(e) => Err(Error::store(op, e)),
    }
}

fn to_names(names: Names) -> Option<HashMap<String, String>> {
    (!names.is_empty()).then(|| {
        names
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    })
}

fn to_map(values: Values) -> Option<HashMap<String, AttributeValue>> {
    (!values.is_empty()).then(|| values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}
