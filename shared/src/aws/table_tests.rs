//! Unit tests of `table`: keys, shards and listings.

use super::*;

#[test]
fn keys_are_as_documented() {
    assert_eq!(event("evt_1"), Key::new("EVT#evt_1".into(), "EVT"));
    assert_eq!(
        history_entry("lead_1", "evt_1", "lead.created").sk,
        "HIST#evt_1#lead.created"
    );
    assert!(
        history_entry("lead_1", "evt_1", "lead.created")
            .sk
            .starts_with(&history_of_cause("evt_1"))
    );
    assert_eq!(attempt("dlv_1", 3).sk, "ATT#000003");
    assert_eq!(key_counter("key_1", 7).pk, "KEY#key_1#COUNT#7");
    let failed = Listing::events_by_status("FAILED");
    let n = shard_of("evt_1", LISTING_SHARDS);
    assert_eq!(failed.partition_for("evt_1"), format!("EVENTS#FAILED#s{n}"));
    assert_eq!(
        Listing::leads_by_status("new").partition_for("lead_1"),
        format!("LEADS#s{}#status#new", shard_of("lead_1", LISTING_SHARDS))
    );
    assert_eq!(Listing::keys().partition_for("key_1"), "KEYS");
    assert_eq!(Listing::keys().partitions(), vec!["KEYS".to_owned()]);
}

#[test]
fn a_listing_reads_every_shard_and_the_legacy_partition() {
    let by_sub = Listing::deliveries_by_subscription("sub_1");
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
    let mut listings = vec![Listing::events(), Listing::leads(), Listing::deliveries()];
    for c in chosen {
        listings.push(Listing::leads_by_status(c));
        listings.push(Listing::deliveries_by_subscription(c));
    }
    for s in ["RECEIVED", "PROCESSED", "FAILED", "DUPLICATE"] {
        listings.push(Listing::events_by_status(s));
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
        event("x").pk,
        lead("x").pk,
        email_identity("x").pk,
        phone_identity("x").pk,
        webhook_key("x").pk,
        key_counter("x", 0).pk,
        rate_window("x", 0).pk,
        subscription("x").pk,
        delivery("x").pk,
        leadgen_marker("x").pk,
        idempotency("x", "y").pk,
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
