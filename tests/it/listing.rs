//! Sharded listings: events, leads and deliveries are written over
//! `LISTING_SHARDS` index partitions; paging through any listing (with and
//! without a filter, pages smaller than the whole) yields every item once,
//! newest first, and a cursor only continues the listing it came from.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use leadpipe::aws::table::{LISTING_SHARDS, shard_of};
use leadpipe_tests::{ScriptedServer, TestStack};
use serde_json::json;

/// Every id in `path`'s listing, page by page of `limit`.
pub async fn walk(t: &TestStack, path: &str, limit: u32) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let r = t.admin("GET", &url, None).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        let page = r.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize, "{url}: {page}");
        seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return seen,
        }
    }
    panic!("{path}: the cursors never end");
}

/// The table's items of one kind (`sk`), straight from a scan.
pub async fn scan(
    t: &TestStack,
    sk: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let ddb = aws_sdk_dynamodb::Client::new(&t.sdk);
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let out = ddb
            .scan()
            .table_name(&t.stack.table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        found.extend(
            out.items()
                .iter()
                .filter(|i| i.get("sk") == Some(&AttributeValue::S(sk.into())))
                .cloned(),
        );
        match out.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return found,
        }
    }
}

pub fn text(item: &std::collections::HashMap<String, AttributeValue>, attr: &str) -> String {
    match item.get(attr) {
        Some(AttributeValue::S(s)) => s.clone(),
        other => panic!("{attr}: {other:?}"),
    }
}

/// Ids newest first, as listings order them.
fn newest_first(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut ids: Vec<String> = ids.into_iter().collect();
    ids.sort();
    ids.reverse();
    ids
}

#[tokio::test]
async fn every_listing_pages_across_its_shards() {
    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let crm = ScriptedServer::start().await;
    let (key, token) = t.create_key(json!({"name": "burst"})).await;
    let sub = t.subscribe(&format!("{}/hook", crm.base_url)).await;
    let sub_id = sub["id"].as_str().unwrap();
    for n in 0..24 {
        let tags = if n % 3 == 0 {
            json!(["vip"])
        } else {
            json!([])
        };
        t.post_lead(
            &key,
            &token,
            json!({"email": format!("p{n}@example.com"), "tags": tags}),
        )
        .await;
    }
    assert_eq!(t.process_queue().await, 24);

    let events = scan(&t, "EVT").await;
    let leads = scan(&t, "LEAD").await;
    let deliveries = scan(&t, "DLV").await;
    assert_eq!((events.len(), leads.len(), deliveries.len()), (24, 24, 24));
    // Spread: an item's index partitions carry its id's shard, and a burst
    // lands on several shards.
    for (items, gsi1) in [
        (&events, "EVENTS"),
        (&leads, "LEADS"),
        (&deliveries, "DELIVERIES"),
    ] {
        let mut shards = BTreeSet::new();
        for item in items.iter() {
            let shard = shard_of(&text(item, "id"), LISTING_SHARDS);
            assert_eq!(text(item, "gsi1pk"), format!("{gsi1}#s{shard}"));
            // An event that ended PROCESSED has left the status index.
            if gsi1 == "EVENTS" {
                assert!(
                    !item.contains_key("gsi2pk"),
                    "an ended event on the status index"
                );
            } else {
                assert!(text(item, "gsi2pk").contains(&format!("#s{shard}")));
            }
            shards.insert(shard);
        }
        assert!(shards.len() >= 3, "{gsi1}: {shards:?}");
    }

    let ids = |items: &[std::collections::HashMap<String, AttributeValue>]| {
        newest_first(items.iter().map(|i| text(i, "id")))
    };
    let all_events = ids(&events);
    assert_eq!(walk(&t, "/v1/events", 5).await, all_events);
    assert_eq!(walk(&t, "/v1/events?status=PROCESSED", 7).await, all_events);
    assert_eq!(
        walk(&t, "/v1/events?status=FAILED", 3).await,
        Vec::<String>::new()
    );
    let all_leads = ids(&leads);
    assert_eq!(walk(&t, "/v1/leads", 5).await, all_leads);
    assert_eq!(
        walk(&t, "/v1/leads?status=unassigned", 200).await,
        all_leads
    );
    // A filter: a page may come back short, the walk still finds each once.
    let vip = newest_first(
        leads
            .iter()
            .filter(|l| matches!(l.get("tags"), Some(AttributeValue::L(t)) if !t.is_empty()))
            .map(|l| text(l, "id")),
    );
    assert_eq!(vip.len(), 8);
    assert_eq!(walk(&t, "/v1/leads?tag=vip", 3).await, vip);
    let all_deliveries = ids(&deliveries);
    assert_eq!(walk(&t, "/v1/deliveries", 4).await, all_deliveries);
    assert_eq!(
        walk(
            &t,
            &format!("/v1/deliveries?subscriptionId={sub_id}&status=pending"),
            6
        )
        .await,
        all_deliveries
    );
    assert_eq!(
        walk(&t, "/v1/deliveries?status=delivered", 2).await,
        Vec::<String>::new()
    );

    // A cursor continues its own listing only.
    let page = t.admin("GET", "/v1/events?limit=2", None).await.json();
    let cursor = page["nextCursor"].as_str().unwrap();
    for other in [
        format!("/v1/leads?cursor={cursor}"),
        // (PROCESSED is read from every event, filtered: the same
        // listing, so its cursor would continue it; FAILED is its own.)
        format!("/v1/events?status=FAILED&cursor={cursor}"),
        format!("/v1/deliveries?cursor={cursor}"),
    ] {
        let r = t.admin("GET", &other, None).await;
        assert_eq!(r.status, 422, "{other}: {}", r.text());
    }
}
