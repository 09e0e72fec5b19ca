//! Test leads (issue 23): a provider's test submission (Google Ads'
//! `is_test`) and a key's **Send test lead** are recorded and marked, and
//! delivered only to subscriptions that ask for test leads (`testLeads`).

use leadpipe_tests::{ScriptedServer, TestStack};
use serde_json::{Value, json};

use super::sources::{key_with, post};

/// Two receivers: one subscription with `testLeads`, one without.
async fn receivers(t: &TestStack) -> (ScriptedServer, ScriptedServer) {
    let (with, without) = (ScriptedServer::start().await, ScriptedServer::start().await);
    for (server, test_leads) in [(&with, Some(true)), (&without, None)] {
        server.script("/hook", &[(200, "{}")]);
        let mut body = json!({"url": format!("{}/hook", server.base_url)});
        if let Some(v) = test_leads {
            body["testLeads"] = json!(v);
        }
        let r = t.admin("POST", "/v1/subscriptions", Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(r.json()["testLeads"], test_leads.unwrap_or(false));
    }
    (with, without)
}

async fn lead_of(t: &TestStack, event_id: &str) -> Value {
    t.process_queue().await;
    let e = t.event(event_id).await;
    assert_eq!(e["status"], "PROCESSED", "{e}");
    assert_eq!(e["provider"]["test"], true, "{e}");
    t.admin(
        "GET",
        &format!("/v1/leads/{}", e["leadId"].as_str().unwrap()),
        None,
    )
    .await
    .json()
}

#[tokio::test]
async fn send_test_lead_goes_only_to_subscriptions_that_ask() {
    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let (with, without) = receivers(&t).await;
    let (key, token) = key_with(&t, json!({"name": "Site form", "defaultTags": ["web"]})).await;

    let r = t
        .admin("POST", &format!("/v1/keys/{key}/test-lead"), None)
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["test"], true);
    let lead = lead_of(&t, r.json()["eventId"].as_str().unwrap()).await;
    assert_eq!(lead["test"], true);
    assert_eq!(lead["tags"], json!(["web"]), "the key's own defaults apply");
    t.deliver_queue().await;
    assert_eq!(with.requests_to("/hook").len(), 1);
    let sent: Value = serde_json::from_slice(&with.requests_to("/hook")[0].body).unwrap();
    assert_eq!(sent["lead"]["test"], true);
    assert!(
        without.requests_to("/hook").is_empty(),
        "a test lead reached a subscription without testLeads"
    );

    // A second test makes a second lead (a new address each time).
    let again = t
        .admin("POST", &format!("/v1/keys/{key}/test-lead"), None)
        .await;
    let second = lead_of(&t, again.json()["eventId"].as_str().unwrap()).await;
    assert_ne!(second["id"], lead["id"]);

    // A real lead goes to both, and is not marked.
    let real = t
        .post_lead(&key, &token, json!({"email": "real@example.com"}))
        .await;
    t.process_queue().await;
    let e = t.event(&real).await;
    assert!(e["provider"]["test"].is_null(), "{e}");
    t.deliver_queue().await;
    assert_eq!(with.requests_to("/hook").len(), 3);
    assert_eq!(without.requests_to("/hook").len(), 1);
    let real_sent: Value = serde_json::from_slice(&without.requests_to("/hook")[0].body).unwrap();
    assert!(real_sent["lead"].get("test").is_none());

    // Another workspace's key is not found; nor is an unknown one.
    let unknown = t
        .admin("POST", "/v1/keys/key_0123456789abcdef/test-lead", None)
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn a_google_ads_test_lead_is_marked_and_held_back_from_others() {
    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let (with, without) = receivers(&t).await;
    let (key, token) = key_with(&t, json!({"name": "Google", "provider": "google_ads"})).await;
    let body = json!({
        "lead_id": "TeSter-1", "api_version": "1.0", "google_key": token, "is_test": true,
        "form_id": 1, "campaign_id": 2,
        "user_column_data": [{"column_id": "EMAIL", "string_value": "g-test@example.com"}]
    })
    .to_string();
    let r = post(
        &t,
        &format!("/v1/hooks/{key}"),
        &[("content-type", "application/json")],
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let lead = lead_of(&t, r.json()["eventId"].as_str().unwrap()).await;
    assert_eq!(lead["test"], true);
    t.deliver_queue().await;
    assert_eq!(with.requests_to("/hook").len(), 1);
    assert!(without.requests_to("/hook").is_empty());

    // Turned on later by a patch: the next test lead reaches it.
    let subs = t.admin("GET", "/v1/subscriptions", None).await.json();
    let off = subs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["testLeads"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let patched = t
        .admin(
            "PATCH",
            &format!("/v1/subscriptions/{off}"),
            Some(json!({"testLeads": true})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text());
    assert_eq!(patched.json()["testLeads"], true);
    let bad = t
        .admin(
            "PATCH",
            &format!("/v1/subscriptions/{off}"),
            Some(json!({"testLeads": "yes"})),
        )
        .await;
    assert_eq!(bad.status, 422);
}
