//! Issue 25: a delivery's first attempts ride in its own item; later ones,
//! and long answers, are items beside it. Either way the API shows every
//! attempt, in order, and an erasure leaves none of their answers.

use std::time::Duration;

use leadpipe_tests::{ScriptedServer, TestStack};
use serde_json::json;

#[tokio::test]
async fn every_attempt_is_shown_in_order_wherever_it_is_kept() {
    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let crm = ScriptedServer::start().await;
    let long = "x".repeat(1000);
    crm.script(
        "/crm",
        &[
            (503, "busy"),
            (500, &long),
            (502, "bad gateway"),
            (503, "again"),
            (200, "ok"),
        ],
    );
    let r = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"url": format!("{}/crm", crm.base_url), "retrySchedule": [1, 1, 1, 1, 1]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(&key, &token, json!({"email": "log@example.com"}))
        .await;
    t.process_queue().await;
    for _ in 0..200 {
        t.deliver_queue().await;
        if crm.requests_to("/crm").len() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let list = t.admin("GET", "/v1/deliveries", None).await.json();
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let d = t
        .admin("GET", &format!("/v1/deliveries/{id}"), None)
        .await
        .json();
    assert_eq!(d["status"], "delivered", "{d}");
    let attempts = d["attempts"].as_array().unwrap();
    let ns: Vec<u64> = attempts.iter().map(|a| a["n"].as_u64().unwrap()).collect();
    assert_eq!(ns, [1, 2, 3, 4, 5]);
    let codes: Vec<u64> = attempts
        .iter()
        .map(|a| a["statusCode"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [503, 500, 502, 503, 200]);
    assert_eq!(attempts[1]["response"].as_str().unwrap().len(), 1000);
    assert_eq!(attempts[0]["response"], "busy");

    // Where each is kept: 1 and 3 in the item, 2 (a long answer), 4 and 5
    // (past the first three) beside it.
    let stored = leadpipe::model::deliveries::get(&t.scope, &id)
        .await
        .unwrap()
        .unwrap();
    let inline: Vec<u32> = stored.inline_attempts.iter().map(|a| a.n).collect();
    assert_eq!(inline, [1, 3]);

    // An erasure takes every answer, inline ones included.
    let lead = d["leadId"].as_str().unwrap();
    let r = t
        .admin("POST", &format!("/v1/leads/{lead}/erase"), None)
        .await;
    assert!(r.status < 300, "{}", r.text());
    let d = t
        .admin("GET", &format!("/v1/deliveries/{id}"), None)
        .await
        .json();
    assert_eq!(d["attempts"], json!([]), "{d}");
}
