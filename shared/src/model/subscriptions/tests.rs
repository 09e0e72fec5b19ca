//! `Subscription::wants`: which deliveries a lead event makes.

use super::*;

fn sub(events: &[&str], sources: Option<&[&str]>, enabled: bool) -> Subscription {
    Subscription {
        pk: String::new(),
        sk: String::new(),
        gsi1pk: String::new(),
        gsi1sk: String::new(),
        id: crate::rules::ids::SubscriptionId::parse("sub_01jsaaaaaaaaaaaaaaaaaaaaaa").unwrap(),
        url: "https://crm.example.com/hook".into(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        sources: sources.map(|s| s.iter().map(|e| (*e).to_owned()).collect()),
        secret_sealed: String::new(),
        secret_hint: String::new(),
        previous_secret_sealed: None,
        previous_secret_expires_ms: None,
        headers: vec![],
        auth: None,
        template: None,
        filter: None,
        kind: None,
        config_sealed: None,
        config_shown: None,
        mapping: None,
        enabled,
        disabled_reason: None,
        max_attempts: 4,
        retry_schedule: None,
        test_leads: false,
        created_at: String::new(),
        updated_at: String::new(),
    }
}

fn hook(key: &str) -> Source {
    Source::Webhook { key_id: key.into() }
}

const META: Source = Source::MetaLeadAds {
    page_id: None,
    form_id: None,
    ad_id: None,
};

#[test]
fn event_types_are_filtered() {
    let all = sub(&["*"], None, true);
    let created = sub(&["lead.created"], None, true);
    for kind in [
        LeadEventType::Created,
        LeadEventType::Updated,
        LeadEventType::ReEngaged,
    ] {
        assert!(all.wants(kind, &hook("key_a")));
        assert_eq!(
            created.wants(kind, &hook("key_a")),
            kind == LeadEventType::Created
        );
    }
}

#[test]
fn sources_are_filtered() {
    let key_a = sub(&["*"], Some(&["key:key_a"]), true);
    assert!(key_a.wants(LeadEventType::Created, &hook("key_a")));
    assert!(!key_a.wants(LeadEventType::Created, &hook("key_b")));
    assert!(!key_a.wants(LeadEventType::Created, &META));
    let meta = sub(&["*"], Some(&["meta_lead_ads"]), true);
    assert!(meta.wants(LeadEventType::Created, &META));
    assert!(!meta.wants(LeadEventType::Created, &hook("key_a")));
    let none = sub(&["*"], Some(&[]), true);
    assert!(!none.wants(LeadEventType::Created, &hook("key_a")));
}

#[test]
fn a_disabled_subscription_wants_nothing() {
    let off = sub(&["*"], None, false);
    assert!(!off.wants(LeadEventType::Created, &hook("key_a")));
}

#[test]
fn a_subscription_saved_before_schedules_keeps_its_exponential_round() {
    let required = crate::config::vars::REQUIRED;
    let config = crate::Config::from_lookup(|k| required.contains(&k).then(|| "x".into())).unwrap();
    let mut s = sub(&["*"], None, true);
    assert_eq!(s.schedule(&config).steps(), &[1, 2, 4]);
    s.retry_schedule = Some(vec![5, 300]);
    assert_eq!(s.schedule(&config).steps(), &[5, 300]);
    // A stored schedule that no longer validates falls back to the default.
    s.retry_schedule = Some(vec![0]);
    assert_eq!(s.schedule(&config), Schedule::default());
}
