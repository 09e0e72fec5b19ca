//! Listings: one page of a listing, newest or oldest first, optionally
//! filtered, with the cursor to the next page.
//!
//! A listing is spread over index partitions ([`Listing::partitions`]: its
//! shards and the legacy partition). A page queries all of them at once,
//! each for at most `limit` keys strictly past the cursor's sort key, and
//! merges them ([`crate::aws::merge`]).
//!
//! The indexes keep only the keys and the attributes listings filter on
//! ([`crate::aws::table::INDEX_INCLUDES`]): an update that changes neither rewrites no index
//! copy. A page is therefore read in two steps, the index for the order
//! and the table (one `BatchGetItem`) for the items.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;

use crate::aws::merge::{ShardPage, merge};
use crate::aws::pagination::{Cursor, Page, PageRequest};
use crate::aws::store::{Store, from_item, s};
use crate::aws::table::{Gsi, Item, Listing, PK, SK};
use crate::error::{DataError, Error};

/// A filter on a listing: `expression` with `:v` bound to `value`, and
/// optionally one attribute name placeholder (`("#st", "status")`).
#[derive(Debug, Clone)]
pub struct Filter<'a> {
    pub expression: &'a str,
    pub value: AttributeValue,
    pub name: Option<(&'a str, &'a str)>,
}

/// One query of one partition, before it is sent.
type QueryBuilder = aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

fn with_filter(query: QueryBuilder, filter: Option<&Filter<'_>>) -> QueryBuilder {
    match filter {
        Some(f) => {
            let q = query
                .filter_expression(f.expression)
                .expression_attribute_values(":v", f.value.clone());
            match f.name {
                Some((placeholder, attr)) => q.expression_attribute_names(placeholder, attr),
                None => q,
            }
        }
        None => query,
    }
}

/// The table key (`pk`, `sk`) an index entry points at.
pub fn key_of(entry: &Item) -> Option<(String, String)> {
    match (entry.get(PK), entry.get(SK)) {
        (Some(AttributeValue::S(p)), Some(AttributeValue::S(s))) => Some((p.clone(), s.clone())),
        _ => None,
    }
}

/// The string value of `attr` in an index entry or key.
fn text<'a>(item: &'a Item, attr: &str) -> Option<&'a str> {
    match item.get(attr) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

impl Store {
    /// One page of a listing, in sort-key order.
    pub async fn query_page<T: DeserializeOwned>(
        &self,
        listing: &Listing,
        page: &PageRequest,
        newest_first: bool,
    ) -> Result<Page<T>, DataError> {
        self.query_listing(listing, page, newest_first, None).await
    }

    /// One page of a listing, keeping only items where `filter` holds. A
    /// page may hold fewer than `limit` items and still have a next cursor.
    pub async fn query_page_filtered<T: DeserializeOwned>(
        &self,
        listing: &Listing,
        page: &PageRequest,
        newest_first: bool,
        filter: Filter<'_>,
    ) -> Result<Page<T>, DataError> {
        self.query_listing(listing, page, newest_first, Some(filter))
            .await
    }

    async fn query_listing<T: DeserializeOwned>(
        &self,
        listing: &Listing,
        page: &PageRequest,
        newest_first: bool,
        filter: Option<Filter<'_>>,
    ) -> Result<Page<T>, DataError> {
        let scope = listing.scope();
        let past = match &page.cursor {
            Some(cursor) => Some(cursor.position(&scope, newest_first)?),
            None => None,
        };
        let partitions = listing.partitions();
        // Boxed: one future per partition, of a type as deep as the SDK's;
        // inline they overflow the compiler's layout depth in the binaries.
        let shards = partitions.iter().map(|partition| {
            Box::pin(self.query_shard(
                listing.gsi,
                partition,
                past,
                page.limit,
                newest_first,
                filter.as_ref(),
            ))
        });
        let pages = futures::future::try_join_all(shards).await?;
        let merged = merge(pages, page.limit as usize, newest_first);
        let items = self.items_of(merged.entries).await?;
        let next_cursor = merged
            .next
            .map(|sort_key| Cursor::past(&scope, newest_first, &sort_key));
        Ok(Page { items, next_cursor })
    }

    /// At most `limit` index entries of one partition strictly past
    /// `past`, and the sort key where the query stopped if it has more.
    async fn query_shard(
        &self,
        gsi: Gsi,
        partition: &str,
        past: Option<&str>,
        limit: u32,
        newest_first: bool,
        filter: Option<&Filter<'_>>,
    ) -> Result<ShardPage<Item>, Error> {
        let query = self
            .client()
            .await
            .query()
            .table_name(&self.table)
            .index_name(gsi.name)
            .expression_attribute_names("#p", gsi.pk)
            .expression_attribute_values(":p", s(partition))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .scan_index_forward(!newest_first);
        let query = match past {
            None => query.key_condition_expression("#p = :p"),
            Some(c) => query
                .key_condition_expression(if newest_first {
                    "#p = :p AND #s < :c"
                } else {
                    "#p = :p AND #s > :c"
                })
                .expression_attribute_names("#s", gsi.sk)
                .expression_attribute_values(":c", s(c)),
        };
        let out = with_filter(query, filter)
            .send()
            .await
            .map_err(|e| Error::store("Query", e))?;
        let entries = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| match text(&item, gsi.sk) {
                Some(k) => Ok((k.to_owned(), item)),
                None => Err(Error::Data(format!("index entry lacks {}", gsi.sk))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let stopped_at = match out.last_evaluated_key {
            Some(key) => Some(
                text(&key, gsi.sk)
                    .ok_or_else(|| Error::Data(format!("LastEvaluatedKey lacks {}", gsi.sk)))?
                    .to_owned(),
            ),
            None => None,
        };
        Ok(ShardPage {
            entries,
            stopped_at,
        })
    }

    /// Up to `limit` items of the GSI `partitions` whose sort key lies in
    /// `[from, to)`, oldest first, keeping only items where `filter` holds.
    /// For background sweeps over a time range of time-ordered ids. The
    /// partitions are read at once, each for at most `limit` keys; only the
    /// `limit` oldest of them are read from the table.
    pub async fn query_range<T: DeserializeOwned>(
        &self,
        gsi: Gsi,
        partitions: &[String],
        range: (&str, &str),
        filter: Option<Filter<'_>>,
        limit: usize,
    ) -> Result<Vec<T>, Error> {
        Ok(self
            .query_range_page(gsi, partitions, range, filter, limit)
            .await?
            .0)
    }

    /// [`Store::query_range`], and where the next page of the range starts
    /// (`None` when none is left): a sweep pages through all of a range.
    pub async fn query_range_page<T: DeserializeOwned>(
        &self,
        gsi: Gsi,
        partitions: &[String],
        (from, to): (&str, &str),
        filter: Option<Filter<'_>>,
        limit: usize,
    ) -> Result<(Vec<T>, Option<String>), Error> {
        let (entries, next) =
            Box::pin(self.range_entries(gsi, partitions, (from, to), filter.as_ref(), limit))
                .await?;
        // Boxed, as the shard queries are: the sweep binary's future
        // otherwise overflows the compiler's layout depth.
        let items = Box::pin(self.items_of(entries.into_iter().map(|(_, e)| e).collect())).await?;
        Ok((items, next))
    }

    /// The index entries behind [`Store::query_range_page`], each with its
    /// sort key, without their items: for a sweep that decides from the
    /// entries alone (their projected `status`) which few items it needs.
    pub async fn query_range_entries(
        &self,
        gsi: Gsi,
        partitions: &[String],
        range: (&str, &str),
        limit: usize,
    ) -> Result<(Vec<(String, Item)>, Option<String>), Error> {
        Box::pin(self.range_entries(gsi, partitions, range, None, limit)).await
    }

    async fn range_entries(
        &self,
        gsi: Gsi,
        partitions: &[String],
        (from, to): (&str, &str),
        filter: Option<&Filter<'_>>,
        limit: usize,
    ) -> Result<(Vec<(String, Item)>, Option<String>), Error> {
        let each = partitions
            .iter()
            .map(|p| Box::pin(self.range_keys(gsi, p, (from, to), filter, limit)));
        let mut entries: Vec<(String, Item)> = futures::future::try_join_all(each)
            .await?
            .into_iter()
            .flatten()
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        let full = entries.len() >= limit;
        entries.truncate(limit);
        // Sort keys are ids: the next page starts just after the last one.
        let next = full
            .then(|| entries.last().map(|(k, _)| format!("{k}\u{1}")))
            .flatten();
        Ok((entries, next))
    }

    /// Up to `limit` index entries of one partition in `[from, to)`, oldest
    /// first, each with its sort key.
    async fn range_keys(
        &self,
        gsi: Gsi,
        partition: &str,
        (from, to): (&str, &str),
        filter: Option<&Filter<'_>>,
        limit: usize,
    ) -> Result<Vec<(String, Item)>, Error> {
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
            let out = with_filter(query, filter)
                .send()
                .await
                .map_err(|e| Error::store("Query", e))?;
            for item in out.items.unwrap_or_default() {
                if found.len() >= limit {
                    return Ok(found);
                }
                if let Some(k) = text(&item, gsi.sk) {
                    found.push((k.to_owned(), item));
                }
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
