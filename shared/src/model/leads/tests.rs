//! Unit tests of `leads`: new leads, merges and their bounds.

use super::*;
use serde_json::json;

fn input(v: Value) -> LeadInput {
    serde_json::from_value(v).unwrap()
}

fn source() -> Source {
    Source::Webhook {
        key_id: "key_1".into(),
    }
}

#[test]
fn new_lead_takes_defaults() {
    let d = LeadDefaults {
        status: "new".into(),
        tags: vec!["lp".into()],
    };
    let l = LeadRecord::new(
        &crate::rules::ids::WorkspaceId::default(),
        LeadId::generate(),
        &input(json!({"email": "a@b.co", "tags": ["LP", "vip"]})),
        &d,
        source(),
        "t1",
    );
    assert_eq!(l.status, "new");
    assert_eq!(l.tags, vec!["lp", "vip"]);
    assert_eq!(
        l.gsi2pk,
        format!(
            "LEADS#s{}#status#new",
            table::shard_of(l.id.as_str(), table::LISTING_SHARDS)
        )
    );
    assert_eq!(
        l.gsi1pk,
        format!(
            "LEADS#s{}",
            table::shard_of(l.id.as_str(), table::LISTING_SHARDS)
        )
    );
    assert_eq!(
        (l.created_at.as_str(), l.last_seen_at.as_str()),
        ("t1", "t1")
    );
}

fn fields(prefix: &str, n: usize, value_len: usize) -> Value {
    let map: serde_json::Map<String, Value> = (0..n)
        .map(|i| (format!("{prefix}{i:03}"), json!("v".repeat(value_len))))
        .collect();
    Value::Object(map)
}

#[test]
fn merges_can_never_grow_a_lead_past_its_bounds() {
    let d = LeadDefaults::default();
    let mut l = LeadRecord::new(
        &crate::rules::ids::WorkspaceId::default(),
        LeadId::generate(),
        &input(json!({"email": "a@b.co", "customFields": fields("a", 60, 600)})),
        &d,
        source(),
        "t1",
    );
    let mut dropped = 0;
    for round in 0..8 {
        let more = input(
            json!({"email": "a@b.co", "customFields": fields(&format!("r{round}_"), 100, 600)}),
        );
        dropped += l.merge(&more, &d, "t2").dropped_fields;
        assert!(
            l.custom_fields.len() <= MAX_LEAD_CUSTOM_BYTES,
            "{}",
            l.custom_fields.len()
        );
        assert!(l.custom_fields().len() <= MAX_LEAD_CUSTOM_FIELDS);
    }
    assert_eq!(dropped, 800 - (l.custom_fields().len() - 60));
    // The first values are kept.
    assert!(l.custom_fields().contains_key("a000"));
    let whole = serde_json::to_vec(&l).unwrap();
    assert!(whole.len() < 100 * 1024, "{}", whole.len());
}

#[test]
fn every_address_is_kept_up_to_a_bound() {
    let d = LeadDefaults::default();
    let mut l = LeadRecord::new(
        &crate::rules::ids::WorkspaceId::default(),
        LeadId::generate(),
        &input(json!({"phone": "+14155550100"})),
        &d,
        source(),
        "t1",
    );
    l.merge(
        &input(json!({"phone": "+14155550100", "email": "first@b.co"})),
        &d,
        "t2",
    );
    l.merge(
        &input(json!({"phone": "+14155550100", "email": "second@b.co"})),
        &d,
        "t3",
    );
    l.merge(
        &input(json!({"email": "second@b.co", "phone": "+14155550199"})),
        &d,
        "t4",
    );
    assert_eq!(l.email.as_deref(), Some("first@b.co"));
    assert_eq!(l.other_emails, vec!["second@b.co"]);
    assert_eq!(l.other_phones, vec!["+14155550199"]);
    for i in 0..30 {
        l.merge(&input(json!({"email": format!("x{i}@b.co")})), &d, "t5");
    }
    assert_eq!(l.other_emails.len(), MAX_OTHER_ADDRESSES);
}

#[test]
fn merge_fills_gaps_and_unions() {
    let d = LeadDefaults::default();
    let mut l = LeadRecord::new(
        &crate::rules::ids::WorkspaceId::default(),
        LeadId::generate(),
        &input(json!({"email": "a@b.co", "firstName": "Ann", "customFields": {"x": 1}})),
        &d,
        source(),
        "2026-01-01T00:00:00.000Z",
    );
    let m = l.merge(
        &input(json!({"email": "a@b.co", "phone": "+14155550123", "firstName": "Other", "lastName": "Lee",
                      "tags": ["t"], "customFields": {"x": 2, "y": 3}})),
        &d,
        "2026-02-01T00:00:00.000Z",
    );
    assert_eq!(l.phone.as_deref(), Some("+14155550123"));
    assert_eq!(m.dropped_fields, 0);
    assert_eq!(m.previous_seen_at, "2026-01-01T00:00:00.000Z");
    assert_eq!(l.first_name.as_deref(), Some("Ann"));
    assert_eq!(l.last_name.as_deref(), Some("Lee"));
    assert_eq!(l.tags, vec!["t"]);
    assert_eq!(
        l.custom_fields(),
        BTreeMap::from([("x".into(), json!(1)), ("y".into(), json!(3))])
    );
    assert_eq!(l.last_seen_at, "2026-02-01T00:00:00.000Z");
    assert_eq!(l.version, 2);
    // An older submission never moves lastSeenAt back.
    l.merge(&input(json!({})), &d, "2025-01-01T00:00:00.000Z");
    assert_eq!(l.last_seen_at, "2026-02-01T00:00:00.000Z");
}
