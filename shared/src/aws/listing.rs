//! Listings: one page of an index partition, newest or oldest first,
//! optionally filtered, with the cursor to the next page.
//!
//! The indexes keep only the keys and the attributes listings filter on
//! ([`crate::aws::table::INDEX_INCLUDES`]): an update that changes neither rewrites no index
//! copy. A page is therefore read in two steps, the index for the order
//! and the table (one `BatchGetItem`) for the items.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;

use crate::aws::pagination::{Cursor, Page, PageRequest};
use crate::aws::store::{Store, from_item, s};
use crate::aws::table::{Gsi, Item, PK, SK};
use crate::error::{DataError, Error};

/// A filter on a listing: `expression` with `:v` bound to `value`, and
/// optionally one attribute name placeholder (`("#st", "status")`).
pub struct Filter<'a> {
    pub expression: &'a str,
    pub value: AttributeValue,
    pub name: Option<(&'a str, &'a str)>,
}

impl Store {
    /// One page of a GSI partition, in sort-key order.
    pub async fn query_page<T: DeserializeOwned>(
        &self,
        gsi: Gsi,
        partition: &str,
        page: &PageRequest,
        newest_first: bool,
    ) -> Result<Page<T>, DataError> {
        self.query_gsi(gsi, partition, page, newest_first, None)
            .await
    }

    /// One page of a GSI partition, keeping only items where `filter`
    /// holds. A page may hold fewer than `limit` items and still have a next
    /// cursor.
    pub async fn query_page_filtered<T: DeserializeOwned>(
        &self,
        gsi: Gsi,
        partition: &str,
        page: &PageRequest,
        newest_first: bool,
        filter: Filter<'_>,
    ) -> Result<Page<T>, DataError> {
        self.query_gsi(gsi, partition, page, newest_first, Some(filter))
            .await
    }

    async fn query_gsi<T: DeserializeOwned>(
        &self,
        gsi: Gsi,
        partition: &str,
        page: &PageRequest,
        newest_first: bool,
        filter: Option<Filter<'_>>,
    ) -> Result<Page<T>, DataError> {
        let start = match &page.cursor {
            Some(cursor) => Some(cursor.to_key(gsi, partition)?),
            None => None,
        };
        let out = self
            .client()
            .await
            .query()
            .table_name(&self.table)
            .index_name(gsi.name)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", gsi.pk)
            .expression_attribute_values(":p", s(partition))
            .limit(page.limit as i32)
            .scan_index_forward(!newest_first)
            .set_exclusive_start_key(start);
        let out = match filter {
            Some(Filter {
                expression,
                value,
                name,
            }) => {
                let out = out
                    .filter_expression(expression)
                    .expression_attribute_values(":v", value);
                match name {
                    Some((placeholder, attr)) => out.expression_attribute_names(placeholder, attr),
                    None => out,
                }
            }
            None => out,
        }
        .send()
        .await
        .map_err(|e| Error::store("Query", e))?;
        let items = self.items_of(out.items.unwrap_or_default()).await?;
        let next_cursor = out
            .last_evaluated_key
            .map(|k| Cursor::from_key(gsi, &k))
            .transpose()?;
        Ok(Page { items, next_cursor })
    }

    /// Up to `limit` items of a GSI partition whose sort key lies in
    /// `[from, to)`, oldest first, keeping only items where `filter` holds.
    /// For background sweeps over a time range of time-ordered ids.
    pub async fn query_range<T: DeserializeOwned>(
        &self,
        gsi: Gsi,
        partition: &str,
        (from, to): (&str, &str),
        filter: Option<Filter<'_>>,
        limit: usize,
    ) -> Result<Vec<T>, Error> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let query = self
                .client()
                .await
                .query()
                .table_name(&self.table)
                .index_name(gsi.name)
                .key_condition_expression("#p = :p AND #s BETWEEN :from AND :to")
                .expression_attribute_names("#p", gsi.pk)
                .expression_attribute_names("#s", gsi.sk)
                .expression_attribute_values(":p", s(partition))
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(to))
                .scan_index_forward(true)
                .set_exclusive_start_key(start);
            let query = match &filter {
                Some(f) => {
                    let q = query
                        .filter_expression(f.expression)
                        .expression_attribute_values(":v", f.value.clone());
                    match f.name {
                        Some((placeholder, attr)) => {
                            q.expression_attribute_names(placeholder, attr)
                        }
                        None => q,
                    }
                }
                None => query,
            };
            let out = query.send().await.map_err(|e| Error::store("Query", e))?;
            let mut entries = out.items.unwrap_or_default();
            entries.truncate(limit - found.len());
            found.extend(self.items_of::<T>(entries).await?);
            if found.len() >= limit {
                return Ok(found);
            }
            match out.last_evaluated_key {
                Some(k) if found.len() < limit => start = Some(k),
                _ => return Ok(found),
            }
        }
    }

    /// The table's items behind index entries, in the entries' order; an
    /// item deleted since the index was read is left out.
    async fn items_of<T: DeserializeOwned>(&self, entries: Vec<Item>) -> Result<Vec<T>, Error> {
        let key_of = |item: &Item| match (item.get(PK), item.get(SK)) {
            (Some(AttributeValue::S(p)), Some(AttributeValue::S(s))) => {
                Some((p.clone(), s.clone()))
            }
            _ => None,
        };
        let keys: Vec<(String, String)> = entries.iter().filter_map(key_of).collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut by_key: std::collections::HashMap<(String, String), Item> = self
            .batch_get(&keys)
            .await?
            .into_iter()
            .filter_map(|item| key_of(&item).map(|k| (k, item)))
            .collect();
        keys.iter()
            .filter_map(|k| by_key.remove(k))
            .map(from_item)
            .collect()
    }
}
