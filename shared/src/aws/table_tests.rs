//! Unit tests of `table`: keys, shards and listings.

use super::*;

#[test]
fn keys_are_as_documented() {
    assert_eq!(
        event(&WorkspaceId::default(), "evt_1"),
        Key::new("EVT#evt_1".into(), "EVT")
    );
    assert_eq!(
        history_entry(&WorkspaceId::default(), "lead_1", "evt_1", "lead.created").sk,
        "HIST#evt_1#lead.created"
    );
    assert!(
        history_entry(&WorkspaceId::default(), "lead_1", "evt_1", "lead.created")
            .sk
            .starts_with(&history_of_cause("evt_1"))
    );
    assert_eq!(
        attempt(&WorkspaceId::default(), "dlv_1", 3).sk,
        "ATT#000003"
    );
    assert_eq!(
        key_counter(&WorkspaceId::default(), "key_1", 7).pk,
        "KEY#key_1#COUNT#7"
    );
    let failed = Listing::events_by_status(&WorkspaceId::default(), "FAILED");
    let n = shard_of("evt_1", LISTING_SHARDS);
    assert_eq!(failed.partition_for("evt_1"), format!("EVENTS#FAILED#s{n}"));
    assert_eq!(
        Listing::leads_by_status(&WorkspaceId::default(), "new").partition_for("lead_1"),
        format!("LEADS#s{}#status#new", shard_of("lead_1", LISTING_SHARDS))
    );
    assert_eq!(
        Listing::keys(&WorkspaceId::default()).partition_for("key_1"),
        "KEYS"
    );
    assert_eq!(
        Listing::keys(&WorkspaceId::default()).partitions(),
        vec!["KEYS".to_owned()]
    );
}

#[test]
fn a_listing_reads_every_shard_and_the_legacy_partition() {
    let by_sub = Listing::deliveries_by_subscription(&WorkspaceId::default(), "sub_1");
    let partitions = by_sub.partitions();
    assert_eq!(partitions.len(), LISTING_SHARDS as usize + 1);
    assert_eq!(partitions[0], "DELIVERIES#s0#sub#sub_1");
    assert_eq!(partitions.last().unwrap(), "DELIVERIES#sub#sub_1");
    assert!(partitions.contains(&by_sub.partition_for("dlv_x")));
}

#[test]
fn no_sharded_partition_is_another_listings_or_a_legacy_one() {
    // Whatever an admin names a status or a subscription.
    let chosen = ["new", "s1", "s1#status#x", "#s1", "sub#x", "x#s2"];
    let mut listings = vec![
        Listing::events(&WorkspaceId::default()),
        Listing::leads(&WorkspaceId::default()),
        Listing::deliveries(&WorkspaceId::default()),
    ];
    for c in chosen {
        listings.push(Listing::leads_by_status(&WorkspaceId::default(), c));
        listings.push(Listing::deliveries_by_subscription(
            &WorkspaceId::default(),
            c,
        ));
    }
    for s in ["RECEIVED", "PROCESSED", "FAILED", "DUPLICATE"] {
        listings.push(Listing::events_by_status(&WorkspaceId::default(), s));
    }
    let mut owner = std::collections::HashMap::new();
    for l in &listings {
        for p in l.partitions() {
            if let Some(other) = owner.insert((l.gsi.name, p.clone()), l.scope()) {
                assert_eq!(other, l.scope(), "{p} is in two listings");
            }
        }
    }
}

#[test]
fn item_kinds_do_not_share_partitions() {
    // A lead's partition holds its history; nothing else may land there.
    let partitions = [
        event(&WorkspaceId::default(), "x").pk,
        lead(&WorkspaceId::default(), "x").pk,
        email_identity(&WorkspaceId::default(), "x").pk,
        phone_identity(&WorkspaceId::default(), "x").pk,
        webhook_key("x").pk,
        key_counter(&WorkspaceId::default(), "x", 0).pk,
        rate_window(&WorkspaceId::default(), "x", 0).pk,
        subscription(&WorkspaceId::default(), "x").pk,
        delivery(&WorkspaceId::default(), "x").pk,
        leadgen_marker(&WorkspaceId::default(), "x").pk,
        idempotency(&WorkspaceId::default(), "x", "y").pk,
        workspace_rate_window(&WorkspaceId::default(), 0).pk,
        audit_entry(&WorkspaceId::default(), "x").pk,
        workspace(&WorkspaceId::default()).pk,
        token("x").pk,
        meta_page("x").pk,
        events_cursor(&WorkspaceId::default()).pk,
    ];
    for (i, a) in partitions.iter().enumerate() {
        for b in &partitions[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

proptest::proptest! {
    #[test]
    fn every_id_has_one_shard_in_range(ms in 0u64..(1 << 48), shards in 1u32..64) {
        let id = crate::rules::ids::new_id_at(crate::rules::ids::IdKind::Lead, ms);
        let n = shard_of(&id, shards);
        proptest::prop_assert!(n < shards);
        proptest::prop_assert_eq!(n, shard_of(&id, shards));
    }

}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    #[test]
    fn ids_spread_evenly_over_the_shards(ms in 0u64..(1 << 48)) {
        // 8,000 ids made in one millisecond (a burst): every shard gets
        // its eighth within 15 % (the binomial's spread is ~3.5 %).
        let mut counts = [0u32; LISTING_SHARDS as usize];
        for _ in 0..8_000 {
            let id = crate::rules::ids::new_id_at(crate::rules::ids::IdKind::Event, ms);
            counts[shard_of(&id, LISTING_SHARDS) as usize] += 1;
        }
        for c in counts {
            proptest::prop_assert!((850..=1150).contains(&c), "{:?}", counts);
        }
    }
}

#[test]
fn a_workspaces_keys_name_it_and_defaults_keys_are_the_old_layout() {
    let ws = WorkspaceId::generate();
    let d = WorkspaceId::default();
    // The default workspace's keys are exactly what earlier versions wrote.
    assert_eq!(event(&d, "evt_1").pk, "EVT#evt_1");
    assert_eq!(email_identity(&d, "a@b.c").pk, "IDENT#email#a@b.c");
    // Another workspace's carry it, and never collide with default's.
    let mine = email_identity(&ws, "a@b.c").pk;
    assert_eq!(mine, format!("W#{ws}#IDENT#email#a@b.c"));
    assert_ne!(mine, email_identity(&d, "a@b.c").pk);
    assert_eq!(workspace_of(&mine), Some((ws.clone(), "IDENT#email#a@b.c")));
    assert_eq!(workspace_of("DLV#dlv_1"), Some((d.clone(), "DLV#dlv_1")));
    assert_eq!(workspace_of("W#nope#DLV#x"), None);
    assert_eq!(workspace_of("W#default#DLV#x"), None);
    // Listings: no legacy partition outside default, and none shared.
    let theirs = Listing::events(&ws).partitions();
    assert_eq!(theirs.len(), LISTING_SHARDS as usize);
    for p in Listing::events(&d).partitions() {
        assert!(!theirs.contains(&p));
    }
    assert_eq!(
        Listing::keys(&ws).partitions(),
        vec![format!("W#{ws}#KEYS")]
    );
}
