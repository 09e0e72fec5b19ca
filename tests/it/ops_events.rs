//! Issue 22 §3: operational events reach a person. A delivery that dies
//! raises `delivery.exhausted` (the lead, the subscription, the last
//! answer, the request without its secrets); its retry that gets through
//! raises `delivery.recovered`; a failing spell `subscription.failing`; a
//! 410 `subscription.disabled`. Each is a signed delivery to the
//! subscriptions that name it, never to the one it is about.

use std::time::Duration;

use leadpipe_tests::{Recorded, ScriptedServer, TestStack};
use serde_json::{Value, json};

async fn stack() -> TestStack {
    TestStack::with_config(|c| {
        c.allow_private_targets = true;
        c.failing_after = 3;
    })
    .await
}

async fn subscribe(t: &TestStack, body: Value) -> Value {
    let r = t.admin("POST", "/v1/subscriptions", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn signed_by(secret: &str, r: &Recorded) -> bool {
    let h = |n: &str| r.headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ts: i64 = h("webhook-timestamp").parse().unwrap_or(0);
    leadpipe::rules::signing::verify(secret, h("webhook-id"), ts, &r.body, h("webhook-signature"))
}

fn bodies(r: &[Recorded]) -> Vec<Value> {
    r.iter()
        .map(|x| serde_json::from_slice(&x.body).unwrap())
        .collect()
}

async fn pump_until(t: &TestStack, rounds: usize, done: impl Fn() -> bool) {
    for _ in 0..rounds {
        t.deliver_queue().await;
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_dead_delivery_is_reported_with_its_lead_and_request_and_its_recovery_too() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(503, "down for lunch")]);
    let ops = ScriptedServer::start().await;
    let crm_sub = subscribe(
        &t,
        json!({"url": format!("{}/crm?token=crm-secret-token", crm.base_url),
               "retrySchedule": [1, 1],
               "headers": {"X-Api-Key": "crm-header-secret"}}),
    )
    .await;
    let alerts = subscribe(
        &t,
        json!({"url": format!("{}/alerts", ops.base_url),
               "events": ["delivery.exhausted", "delivery.recovered"]}),
    )
    .await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(&key, &token, json!({"email": "lunch@example.com"}))
        .await;
    t.process_queue().await;
    pump_until(&t, 300, || !ops.requests_to("/alerts").is_empty()).await;

    let got = ops.requests_to("/alerts");
    assert_eq!(got.len(), 1, "one alert, and no lead event: it names none");
    assert!(signed_by(alerts["secret"].as_str().unwrap(), &got[0]));
    assert_eq!(got[0].headers["x-leadpipe-event"], "delivery.exhausted");
    assert_eq!(got[0].headers["x-leadpipe-source"], "leadpipe");
    let alert = &bodies(&got)[0];
    assert_eq!(alert["type"], "delivery.exhausted");
    assert_eq!(alert["workspace"], "default");
    let data = &alert["data"];
    assert_eq!(data["subscriptionId"], crm_sub["id"]);
    assert!(
        data["leadId"].as_str().unwrap().starts_with("lead_"),
        "{data}"
    );
    assert_eq!(data["eventType"], "lead.created");
    assert_eq!(data["attempts"], 3);
    assert_eq!(data["lastStatus"], 503);
    let request = &data["request"];
    assert_eq!(request["method"], "POST");
    assert_eq!(request["url"], format!("{}/crm?…", crm.base_url));
    assert_eq!(request["headers"]["x-api-key"], "********");
    assert_eq!(request["headers"]["webhook-signature"], "********");
    assert!(
        request["bodyExcerpt"]
            .as_str()
            .unwrap()
            .contains("lunch@example.com")
    );
    let text = String::from_utf8_lossy(&got[0].body).to_string();
    for secret in ["crm-secret-token", "crm-header-secret"] {
        assert!(!text.contains(secret), "{secret} leaked into the alert");
    }
    // The alert's own listing: a delivery of its type, about the lead.
    let listed = t
        .admin(
            "GET",
            &format!(
                "/v1/deliveries?subscriptionId={}",
                alerts["id"].as_str().unwrap()
            ),
            None,
        )
        .await
        .json();
    assert_eq!(listed["items"][0]["eventType"], "delivery.exhausted");
    assert_eq!(listed["items"][0]["leadId"], data["leadId"]);

    // The operator retries it once the CRM is back: recovered.
    crm.script("/crm", &[(200, "ok")]);
    let dead = data["deliveryId"].as_str().unwrap();
    let r = t
        .admin("POST", &format!("/v1/deliveries/{dead}/retry"), None)
        .await;
    assert!(r.status < 300, "{}", r.text());
    pump_until(&t, 300, || ops.requests_to("/alerts").len() >= 2).await;
    let got = bodies(&ops.requests_to("/alerts"));
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1]["type"], "delivery.recovered");
    assert_eq!(got[1]["data"]["deliveryId"], dead);
    // Three failures in a row had made the CRM `failing`: the retry was
    // its probe, and its success ends the spell.
    assert_eq!(got[1]["data"]["subscriptionRecovered"], true);
}

#[tokio::test]
async fn failing_and_gone_destinations_are_announced_never_to_themselves() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(500, "boom")]);
    crm.script("/gone", &[(410, "gone")]);
    let ops = ScriptedServer::start().await;
    let kinds = ["subscription.failing", "subscription.disabled"];
    // It asks for alerts itself, and fails: it is never told about itself.
    let failing = subscribe(
        &t,
        json!({"url": format!("{}/crm", crm.base_url), "retrySchedule": [1, 1, 1, 1, 1, 1],
               "events": ["*", "subscription.failing"]}),
    )
    .await;
    let gone = subscribe(&t, json!({"url": format!("{}/gone", crm.base_url)})).await;
    subscribe(
        &t,
        json!({"url": format!("{}/alerts", ops.base_url), "events": kinds}),
    )
    .await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    for i in 0..4 {
        t.post_lead(&key, &token, json!({"email": format!("f{i}@example.com")}))
            .await;
        t.process_queue().await;
    }
    pump_until(&t, 300, || ops.requests_to("/alerts").len() >= 2).await;

    let got = bodies(&ops.requests_to("/alerts"));
    let failing_alerts: Vec<&Value> = got
        .iter()
        .filter(|b| b["type"] == "subscription.failing")
        .collect();
    assert_eq!(failing_alerts.len(), 1, "once per spell: {got:?}");
    assert_eq!(failing_alerts[0]["data"]["subscriptionId"], failing["id"]);
    assert_eq!(failing_alerts[0]["data"]["consecutiveFailures"], 3);
    assert_eq!(failing_alerts[0]["data"]["lastStatus"], 500);
    let disabled: Vec<&Value> = got
        .iter()
        .filter(|b| b["type"] == "subscription.disabled")
        .collect();
    assert_eq!(disabled.len(), 1, "{got:?}");
    assert_eq!(disabled[0]["data"]["subscriptionId"], gone["id"]);
    assert!(
        disabled[0]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("410 Gone")
    );
    // The failing subscription got lead events only, never its own alert.
    for r in crm.requests_to("/crm") {
        assert!(
            r.headers["x-leadpipe-event"]
                .to_str()
                .unwrap()
                .starts_with("lead.")
        );
    }
}

#[tokio::test]
async fn operational_events_are_named_and_only_for_a_webhook_or_slack() {
    let t = stack().await;
    // `*` means every lead event, not the alerts.
    let r = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"url": "http://127.0.0.1:9/x", "events": ["delivery.nope"]})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(
                json!({"kind": "hubspot", "config": {"accessToken": "pat-na1-0000"},
                        "events": ["lead.created", "delivery.exhausted"]}),
            ),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("operational events"), "{}", r.text());
}
