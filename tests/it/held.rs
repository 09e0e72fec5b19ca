//! Issue 22 §2: a failing destination is held, not hammered. After
//! `failing_after` failures in a row one probe keeps retrying on its
//! schedule while the other deliveries wait; the probe's first success
//! releases them in order; a span of total failure disables the
//! subscription, keeping its configuration.

use std::time::Duration;

use leadpipe::model::deliveries::{self, DeliveryStatus};
use leadpipe_tests::{ScriptedServer, TestStack, leadpipe};
use serde_json::{Value, json};

async fn stack(disable_after: Duration) -> TestStack {
    TestStack::with_config(|c| {
        c.allow_private_targets = true;
        c.failing_after = 3;
        c.disable_after = disable_after;
        // A sweep a minute after a delivery's last change finds it stalled.
        c.delivery_stall = Some(Duration::from_secs(60));
    })
    .await
}

/// A subscription to `crm` whose steps are 10 ms (the test stack's unit)
/// and then long ones: a probe still retrying when the destination
/// comes back.
async fn failing_subscription(t: &TestStack, crm: &ScriptedServer) -> String {
    let r = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"url": format!("{}/crm", crm.base_url), "retrySchedule": [1, 1, 1, 1, 300, 300]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["state"], "active");
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn sub_view(t: &TestStack, id: &str) -> Value {
    t.admin("GET", &format!("/v1/subscriptions/{id}"), None)
        .await
        .json()
}

/// Posts `n` leads (one delivery each), oldest first; their delivery ids.
async fn leads(t: &TestStack, n: usize, tag: &str) -> Vec<String> {
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    for i in 0..n {
        t.post_lead(
            &key,
            &token,
            json!({"email": format!("{tag}{i}@example.com")}),
        )
        .await;
        t.process_queue().await;
    }
    let all = t
        .admin("GET", "/v1/deliveries?limit=100", None)
        .await
        .json();
    let mut ids: Vec<String> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn pump(t: &TestStack, rounds: usize) {
    for _ in 0..rounds {
        t.deliver_queue().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_failing_destination_is_held_probed_and_released() {
    let t = stack(Duration::from_secs(86_400)).await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(503, "down")]);
    let sub = failing_subscription(&t, &crm).await;
    let ids = leads(&t, 6, "held").await;
    assert_eq!(ids.len(), 6);
    pump(&t, 15).await;

    let view = sub_view(&t, &sub).await;
    assert_eq!(view["state"], "failing", "{view}");
    assert!(view["failingSince"].is_string(), "{view}");
    assert!(view["consecutiveFailures"].as_u64().unwrap() >= 3, "{view}");
    // Not hammered: six deliveries of ten attempts each would be 60 sends;
    // held, the others stop while one probe spends its schedule.
    let sent = crm.requests_to("/crm").len();
    assert!(sent < 30, "{sent} sends to a failing destination");
    let mut held = 0;
    for id in &ids {
        let d = deliveries::get(&t.scope, id).await.unwrap().unwrap();
        assert_ne!(d.status, DeliveryStatus::Delivered);
        if d.held_at_ms.is_some() && d.status == DeliveryStatus::Pending {
            held += 1;
        }
    }
    assert!(held >= 3, "{held} held");

    // The destination comes back: the probe's next attempt gets through,
    // and the held ones are released (oldest first, at a bounded rate).
    crm.script("/crm", &[(200, "ok")]);
    for _ in 0..100 {
        t.deliver_queue().await;
        let pending = t
            .admin("GET", "/v1/deliveries?status=pending", None)
            .await
            .json();
        if pending["items"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let view = sub_view(&t, &sub).await;
    assert_eq!(view["state"], "active", "{view}");
    assert_eq!(view["consecutiveFailures"], 0, "{view}");
    // The release's start and its last message's due time, for the
    // sweeper to tell it from a lost one.
    let h = leadpipe::model::health::get(&t.scope, &sub).await.unwrap();
    let h = h.expect("the release's times");
    assert!(
        h.released_at_ms.is_some() && h.release_until_ms.is_some(),
        "{h:?}"
    );
    for id in &ids {
        let d = deliveries::get(&t.scope, id).await.unwrap().unwrap();
        assert_eq!(d.status, DeliveryStatus::Delivered, "{id}");
        assert!(d.held_at_ms.is_none() || d.attempt_count >= 1);
    }
    // Every delivery got through once the destination was back.
    let sent = crm.requests_to("/crm");
    for id in &ids {
        assert!(
            sent.iter().any(|r| r
                .headers
                .get("webhook-id")
                .is_some_and(|v| v == id.as_str())),
            "{id} never sent"
        );
    }
}

#[tokio::test]
async fn a_destination_failing_for_the_whole_span_is_disabled_keeping_its_configuration() {
    let t = stack(Duration::from_millis(300)).await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(500, "down")]);
    let r = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"url": format!("{}/crm", crm.base_url), "retrySchedule": vec![10; 20]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let sub = r.json()["id"].as_str().unwrap().to_owned();
    let url = r.json()["url"].clone();
    let ids = leads(&t, 3, "span").await;
    for _ in 0..40 {
        t.deliver_queue().await;
        if sub_view(&t, &sub).await["state"] == "disabled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let view = sub_view(&t, &sub).await;
    assert_eq!(view["state"], "disabled", "{view}");
    assert_eq!(view["enabled"], false);
    assert!(
        view["disabledReason"]
            .as_str()
            .unwrap()
            .contains("every delivery failed"),
        "{view}"
    );
    assert_eq!(view["url"], url, "the configuration is kept");
    assert!(view["secret"].as_str().unwrap().starts_with("whsec_"));
    // Its deliveries end dead and parked, none left pending.
    for _ in 0..40 {
        t.deliver_queue().await;
        let pending = t
            .admin("GET", "/v1/deliveries?status=pending", None)
            .await
            .json();
        if pending["items"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &ids {
        let d = deliveries::get(&t.scope, id).await.unwrap().unwrap();
        assert_eq!(d.status, DeliveryStatus::Dead, "{id} {d:?}");
    }
    assert!(t.queue_depth(&t.stack.deliveries_dlq_url).await >= ids.len());
}

/// The release that should free held deliveries was lost: the recovery
/// was recorded but the release's messages were never sent, as a crash
/// between the two, or a failed send, leaves it. The sweeper leaves held
/// deliveries alone while their hold stands, and queues them once it does
/// not, after the stall window rather than the hourly recheck.
#[tokio::test]
async fn held_deliveries_left_by_a_lost_release_are_freed_by_the_sweeper() {
    let t = stack(Duration::from_secs(86_400)).await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(503, "down")]);
    let sub = failing_subscription(&t, &crm).await;
    let ids = leads(&t, 5, "lost-release").await;
    pump(&t, 15).await;
    let held_ids = || async {
        let mut held = Vec::new();
        for id in &ids {
            let d = deliveries::get(&t.scope, id).await.unwrap().unwrap();
            if d.held_at_ms.is_some() && d.status == DeliveryStatus::Pending {
                held.push(id.clone());
            }
        }
        held
    };
    let held = held_ids().await;
    assert!(held.len() >= 2, "{held:?} held");
    let now = leadpipe::rules::clock::now_ms();

    // Still failing: the hold stands; at most the probe is looked at.
    let swept = leadpipe::sweep::sweep_at(&t.app, now + 61_000)
        .await
        .unwrap();
    assert!(swept.deliveries <= 1, "{swept:?}");

    // The destination is back and the recovery recorded, but the release's
    // messages were never sent.
    crm.script("/crm", &[(200, "ok")]);
    let health = leadpipe::model::health::get(&t.scope, &sub).await.unwrap();
    assert!(health.as_ref().is_some_and(|h| h.failing()));
    let ended = leadpipe::model::health::record_success(&t.scope, health.as_ref()).await;
    assert!(ended.unwrap(), "a failing spell ended");

    // A released delivery fails once and the next succeeds: the release's
    // time is kept (a delete here left nothing to tell a release under
    // way from a lost one).
    use leadpipe::model::health;
    health::record_failure(&t.scope, &sub, &held[0], now)
        .await
        .unwrap();
    let h = health::get(&t.scope, &sub).await.unwrap();
    assert!(!health::record_success(&t.scope, h.as_ref()).await.unwrap());
    let h = health::get(&t.scope, &sub).await.unwrap().expect("kept");
    assert_eq!(h.consecutive_failures, 0);
    let released = h.released_at_ms.expect("the release's start kept");
    assert_eq!(h.release_until_ms, None, "its end never written: lost");

    // Past the stall window of the release's start, with no end written,
    // the release was lost: the held ones are queued (spread at the
    // release's rate) and delivered. (A release under way holds them until
    // its last message is due: `Health::releasing`'s unit test.)
    let swept = leadpipe::sweep::sweep_at(&t.app, released + 121_000)
        .await
        .unwrap();
    assert!(swept.deliveries >= held.len(), "{swept:?}, {held:?}");
    for _ in 0..50 {
        t.deliver_queue().await;
        if held_ids().await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &held {
        let d = deliveries::get(&t.scope, id).await.unwrap().unwrap();
        assert_eq!(d.status, DeliveryStatus::Delivered, "{id}");
    }
    let view = sub_view(&t, &sub).await;
    assert_eq!(view["state"], "active", "{view}");
}
