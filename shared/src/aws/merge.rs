//! One page of a sharded listing from the pages of its shards (pure).
//!
//! Every shard is queried past the same position for at most `limit`
//! entries. Sort keys are item ids: unique and totally ordered across the
//! shards, so the merged order is the sort-key order. A shard that stopped
//! early (it has more) bounds what may be shown: an entry past the point
//! where that shard stopped could have one of the shard's unread entries
//! before it. With a filter a shard may stop having matched few entries, so
//! a page may be short and still have a next position, as an unsharded
//! filtered page is.

/// What one shard's query gave: matching entries in scan order, each with
/// its sort key, and the sort key it stopped at when it has more.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardPage<E> {
    pub entries: Vec<(String, E)>,
    pub stopped_at: Option<String>,
}

/// One merged page: its entries in scan order, and the sort key the next
/// page continues strictly past (`None`: this was the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Merged<E> {
    pub entries: Vec<E>,
    pub next: Option<String>,
}

/// Merges shard pages into a page of at most `limit` entries (largest sort
/// key first when `newest_first`). An entry seen in two shards (an item
/// moving between partitions while they were read) is kept once.
pub fn merge<E>(pages: Vec<ShardPage<E>>, limit: usize, newest_first: bool) -> Merged<E> {
    let limit = limit.max(1);
    // `a` comes before `b` in the scan.
    let first = |a: &str, b: &str| if newest_first { a > b } else { a < b };
    let frontier = pages
        .iter()
        .filter_map(|p| p.stopped_at.as_deref())
        .reduce(|a, b| if first(a, b) { a } else { b })
        .map(str::to_owned);
    let mut entries: Vec<(String, E)> = pages
        .into_iter()
        .flat_map(|p| p.entries)
        .filter(|(k, _)| frontier.as_deref().is_none_or(|f| !first(f, k)))
        .collect();
    entries.sort_by(|a, b| {
        if newest_first {
            b.0.cmp(&a.0)
        } else {
            a.0.cmp(&b.0)
        }
    });
    entries.dedup_by(|a, b| a.0 == b.0);
    let more = entries.len() > limit;
    entries.truncate(limit);
    let next = if entries.len() == limit && (more || frontier.is_some()) {
        entries.last().map(|(k, _)| k.clone())
    } else {
        frontier
    };
    Merged {
        entries: entries.into_iter().map(|(_, e)| e).collect(),
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn page(keys: &[&str], stopped_at: Option<&str>) -> ShardPage<String> {
        ShardPage {
            entries: keys
                .iter()
                .map(|k| (k.to_string(), k.to_string()))
                .collect(),
            stopped_at: stopped_at.map(str::to_owned),
        }
    }

    #[test]
    fn a_shard_that_stopped_early_bounds_the_page() {
        // Shard b matched one entry of the three it read (down to "m"):
        // "c" and "a" from shard a could have b's unread entries before them.
        let merged = merge(
            vec![page(&["z", "c", "a"], None), page(&["q"], Some("m"))],
            3,
            true,
        );
        assert_eq!(merged.entries, vec!["z", "q"]);
        assert_eq!(merged.next.as_deref(), Some("m"));
    }

    #[test]
    fn the_last_page_has_no_next() {
        let merged = merge(vec![page(&["b"], None), page(&["a"], None)], 2, false);
        assert_eq!(merged.entries, vec!["a", "b"]);
        assert_eq!(merged.next, None);
        let merged = merge(vec![page(&["b"], None), page(&["a", "c"], None)], 2, false);
        assert_eq!(merged.next.as_deref(), Some("b"));
    }

    /// What DynamoDB answers for one shard: it reads up to `limit` entries
    /// strictly past `position`, keeps those matching the filter, and
    /// reports where it stopped whenever it read `limit` of them (even when
    /// nothing is left).
    fn query(
        shard: &[(String, bool)],
        position: Option<&str>,
        limit: usize,
        newest_first: bool,
    ) -> ShardPage<String> {
        let mut keys: Vec<&(String, bool)> = shard
            .iter()
            .filter(|(k, _)| {
                position.is_none_or(|p| {
                    if newest_first {
                        k.as_str() < p
                    } else {
                        k.as_str() > p
                    }
                })
            })
            .collect();
        keys.sort_by(|a, b| {
            if newest_first {
                b.0.cmp(&a.0)
            } else {
                a.0.cmp(&b.0)
            }
        });
        keys.truncate(limit);
        ShardPage {
            entries: keys
                .iter()
                .filter(|(_, m)| *m)
                .map(|(k, _)| (k.clone(), k.clone()))
                .collect(),
            stopped_at: (keys.len() == limit).then(|| keys[limit - 1].0.clone()),
        }
    }

    /// Unique keys, each in a shard and matching the filter or not.
    fn listing() -> impl Strategy<Value = (Vec<Vec<(String, bool)>>, usize, bool)> {
        (
            1usize..10,
            proptest::collection::btree_map(0u32..10_000, (0usize..9, any::<bool>()), 0..120),
            1usize..25,
            any::<bool>(),
        )
            .prop_map(|(shards, keys, limit, newest_first)| {
                let mut by_shard = vec![Vec::new(); shards];
                for (k, (s, matches)) in keys {
                    by_shard[s % shards].push((format!("id_{k:05}"), matches));
                }
                (by_shard, limit, newest_first)
            })
    }

    fn expected(shards: &[Vec<(String, bool)>], newest_first: bool) -> Vec<String> {
        let mut all: Vec<String> = shards
            .iter()
            .flatten()
            .filter(|(_, m)| *m)
            .map(|(k, _)| k.clone())
            .collect();
        all.sort();
        if newest_first {
            all.reverse();
        }
        all
    }

    proptest! {
        #[test]
        fn one_merge_is_the_sorted_concatenation_cut_to_the_limit(
            (shards, limit, newest_first) in listing()
        ) {
            let complete: Vec<Vec<(String, bool)>> = shards
                .iter()
                .map(|s| s.iter().map(|(k, _)| (k.clone(), true)).collect())
                .collect();
            let pages = complete.iter().map(|s| query(s, None, usize::MAX, newest_first)).collect();
            let merged = merge(pages, limit, newest_first);
            let mut all = expected(&complete, newest_first);
            let more = all.len() > limit;
            all.truncate(limit);
            prop_assert_eq!(merged.next.is_some(), more);
            prop_assert_eq!(merged.entries, all);
        }

        #[test]
        fn walking_the_cursors_yields_every_match_once_in_order(
            (shards, limit, newest_first) in listing()
        ) {
            let mut seen = Vec::new();
            let mut position: Option<String> = None;
            for _ in 0..1_000 {
                let pages = shards
                    .iter()
                    .map(|s| query(s, position.as_deref(), limit, newest_first))
                    .collect();
                let merged = merge(pages, limit, newest_first);
                prop_assert!(merged.entries.len() <= limit);
                seen.extend(merged.entries);
                match merged.next {
                    Some(next) => {
                        // Every page moves on.
                        prop_assert!(position.as_deref() != Some(next.as_str()));
                        position = Some(next);
                    }
                    None => break,
                }
            }
            prop_assert_eq!(seen, expected(&shards, newest_first));
        }
    }
}
