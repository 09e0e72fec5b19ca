//! Routing rules: a subscription's `filter` on the normalised lead, checked
//! at save with field errors and applied at fan-out beside the event and
//! source filters.

use std::time::Duration;

use leadpipe_tests::{ScriptedServer, TestStack};
use serde_json::{Value, json};

async fn subscribe(t: &TestStack, url: String, filter: Value) -> Value {
    let r = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"url": url, "filter": filter})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn two_leads_go_to_two_destinations_by_their_country() {
    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let crm = ScriptedServer::start().await;
    crm.script("/de", &[(200, "{}")]);
    crm.script("/rest", &[(200, "{}")]);
    let de = json!({"field": "customFields.country", "op": "eq", "value": "DE"});
    let sub_de = subscribe(&t, format!("{}/de", crm.base_url), de.clone()).await;
    assert_eq!(sub_de["filter"], de, "shown back as saved");
    subscribe(
        &t,
        format!("{}/rest", crm.base_url),
        json!({"all": [{"not": de}, {"field": "email", "op": "exists"}]}),
    )
    .await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(
        &key,
        &token,
        json!({"email": "anna@example.de", "country": "de"}),
    )
    .await;
    t.post_lead(
        &key,
        &token,
        json!({"email": "bob@example.com", "country": "US"}),
    )
    .await;
    t.process_queue().await;
    for _ in 0..3 {
        t.deliver_queue().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let emails = |path: &str| -> Vec<String> {
        crm.requests_to(path)
            .iter()
            .map(|r| {
                let body: Value = serde_json::from_slice(&r.body).unwrap();
                body["lead"]["email"].as_str().unwrap().to_owned()
            })
            .collect()
    };
    assert_eq!(emails("/de"), ["anna@example.de"]);
    assert_eq!(emails("/rest"), ["bob@example.com"]);

    // A filter can be replaced and removed; the next lead follows it.
    let id = sub_de["id"].as_str().unwrap();
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/subscriptions/{id}"),
            Some(json!({"filter": null})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["filter"], Value::Null);
}

#[tokio::test]
async fn a_bad_filter_is_refused_with_every_problem_in_place() {
    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let r = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"url": "http://127.0.0.1:9/x", "filter": {"any": [
                {"field": "tags", "op": "like", "value": "vip"},
                {"field": "customFields.budget", "op": "gte", "value": "lots"}
            ]}})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let body = r.json();
    assert_eq!(body["error"]["code"], "validation_failed");
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["filter.any[0].op", "filter.any[1].value"]);
    let listed = t.admin("GET", "/v1/subscriptions", None).await.json();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        0,
        "nothing saved"
    );
}

#[tokio::test]
async fn the_console_previews_a_filter_on_recent_leads() {
    use crate::console::{post, sign_in};
    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    for (email, country) in [
        ("a@example.de", "DE"),
        ("b@example.com", "US"),
        ("c@example.de", "de"),
    ] {
        t.post_lead(&key, &token, json!({"email": email, "country": country}))
            .await;
    }
    t.process_queue().await;
    let (cookie, csrf) = sign_in(&t).await;
    let form = |filter: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("url", "https://crm.example.com/hook".to_owned()),
            ("events", "*".to_owned()),
            ("filter", filter.to_owned()),
            ("maxAttempts", "4".to_owned()),
            ("enabled", "1".to_owned()),
            ("op", "preview".to_owned()),
        ]
    };
    let pairs = form(r#"{"field": "customFields.country", "op": "eq", "value": "DE"}"#);
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post(&t, &cookie, "/console/destinations", &refs).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains(
            "Would have matched <strong id=\"filter-matched\">2</strong> of the last 3 leads"
        ),
        "{}",
        r.text()
    );
    // A broken filter is refused at save, its problem beside the field.
    let mut pairs = form(r#"{"field": "tags", "op": "like"}"#);
    pairs.pop();
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post(&t, &cookie, "/console/destinations", &refs).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("id=\"err-filter\""), "{}", r.text());
    assert!(r.text().contains("must be one of eq, ne"), "{}", r.text());
}

#[tokio::test]
async fn an_erasure_reaches_a_filtered_destination() {
    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let crm = ScriptedServer::start().await;
    crm.script("/de", &[(200, "{}")]);
    subscribe(
        &t,
        format!("{}/de", crm.base_url),
        json!({"field": "customFields.country", "op": "eq", "value": "DE"}),
    )
    .await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let evt = t
        .post_lead(
            &key,
            &token,
            json!({"email": "erase@example.de", "country": "DE"}),
        )
        .await;
    t.process_queue().await;
    t.deliver_queue().await;
    let lead_id = t.event(&evt).await["leadId"].as_str().unwrap().to_owned();
    let r = t
        .admin("POST", &format!("/v1/leads/{lead_id}/erase"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    t.deliver_queue().await;
    let types: Vec<String> = crm
        .requests_to("/de")
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(types, ["lead.created", "lead.deleted"]);
}
