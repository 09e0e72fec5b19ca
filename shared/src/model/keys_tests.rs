//! `keys`' tests.

use super::*;

#[test]
fn tokens_are_long_random_and_masked() {
    let t = new_token();
    assert!(t.starts_with("wh_live_"));
    assert_eq!(t.len(), 8 + 43);
    assert_ne!(t, new_token());
    let m = mask(&t);
    assert_eq!(m.chars().count(), 8 + 4 + 1);
    assert!(m.ends_with('…'));
    assert!(t.starts_with(m.trim_end_matches('…')));
}

fn key_with(allowed: &[&str]) -> WebhookKey {
    WebhookKey {
        pk: "KEY#k".into(),
        sk: "KEY".into(),
        gsi1pk: "KEYS".into(),
        gsi1sk: "k".into(),
        workspace: WorkspaceId::default(),
        id: KeyId::generate(),
        name: "k".into(),
        token_sealed: String::new(),
        token_hint: String::new(),
        allowed_domains: allowed.iter().map(|d| d.to_string()).collect(),
        honeypot_field: None,
        default_status: "new".into(),
        default_tags: Vec::new(),
        rate_limit_per_minute: None,
        provider: Provider::Webhook,
        provider_secret_sealed: None,
        provider_token_sealed: None,
        redirect_url: None,
        created_at: String::new(),
        updated_at: String::new(),
    }
}

#[test]
fn an_unreadable_stored_allow_list_is_an_error_not_an_empty_list() {
    assert_eq!(key_with(&[]).domain_patterns(), Ok(Vec::new()));
    assert_eq!(
        key_with(&["example.com", "*.shop.example"])
            .domain_patterns()
            .map(|p| p.len()),
        Ok(2)
    );
    for list in [&["*"][..], &["a*b.com"], &["example.com", "*.*.com"], &[""]] {
        let err = key_with(list).domain_patterns().unwrap_err();
        assert!(err.entry < list.len(), "{list:?}");
    }
    // The error names the position, not the stored value.
    let err = key_with(&["ok.example", "<script>"])
        .domain_patterns()
        .unwrap_err();
    assert_eq!(err, UnreadableAllowList { entry: 1 });
    assert!(!err.to_string().contains("script"));
}
