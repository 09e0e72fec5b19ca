//! Issue 22 §1: a subscription's retry schedule — validated at save,
//! followed by `deliver`, `Retry-After` capped by its longest step, waits
//! past SQS's 12-hour ceiling chained, and long waits never mistaken for
//! stalls by the sweeper. (The test stack counts a schedule's seconds in
//! 10 ms units: see `TestStack::with_options`.)

use std::time::Duration;

use leadpipe::model::deliveries::{self, DeliveryStatus};
use leadpipe::rules::clock;
use leadpipe_tests::{ScriptedServer, TestStack, leadpipe};
use serde_json::{Value, json};

async fn stack() -> TestStack {
    TestStack::with_config(|c| c.allow_private_targets = true).await
}

async fn create(t: &TestStack, body: Value) -> leadpipe_tests::Reply {
    t.admin("POST", "/v1/subscriptions", Some(body)).await
}

#[tokio::test]
async fn a_schedule_is_validated_at_save_and_read_back() {
    let t = stack().await;
    let url = "https://hooks.example.com/x";
    let r = create(&t, json!({"url": url})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.json()["retrySchedule"],
        json!([5, 300, 1800, 7200, 18000, 36000, 36000])
    );
    assert_eq!(r.json()["maxAttempts"], 8);

    let r = create(&t, json!({"url": url, "retrySchedule": [5, 300]})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["maxAttempts"], 3);
    let id = r.json()["id"].as_str().unwrap().to_owned();

    // maxAttempts alone: an exponential schedule of that length (the
    // deployment's 1 s doubling to 15 s, in the test stack's units).
    let r = create(&t, json!({"url": url, "maxAttempts": 5})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["retrySchedule"], json!([100, 200, 400, 800]));
    assert_eq!(r.json()["maxAttempts"], 5);

    for (bad, says) in [
        (json!(vec![5; 21]), "20 steps"),
        (json!([0]), "from 1"),
        (json!([86_401]), "24 hours"),
        (
            json!([86_400, 86_400, 86_400, 86_400, 86_400, 86_400, 86_400, 1]),
            "7 days",
        ),
        (json!(["5"]), "whole numbers"),
        (json!(5), "whole numbers"),
        (json!([-5]), "whole numbers"),
    ] {
        let r = create(&t, json!({"url": url, "retrySchedule": bad})).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        assert!(
            r.text().contains("retrySchedule") && r.text().contains(says),
            "{bad}: {}",
            r.text()
        );
    }
    let r = create(
        &t,
        json!({"url": url, "retrySchedule": [5], "maxAttempts": 4}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = create(
        &t,
        json!({"url": url, "retrySchedule": [5, 6, 7], "maxAttempts": 4}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());

    let r = t
        .admin(
            "PATCH",
            &format!("/v1/subscriptions/{id}"),
            Some(json!({"retrySchedule": [60, 3600, 86400]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["retrySchedule"], json!([60, 3600, 86400]));
    assert_eq!(r.json()["maxAttempts"], 4);
}

/// The schedule's steps, then dead; `Retry-After` capped by the longest step.
#[tokio::test]
async fn deliver_follows_the_schedule_and_caps_retry_after() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(503, "busy")]);
    crm.header("retry-after", "3600");
    let r = create(
        &t,
        json!({"url": format!("{}/crm", crm.base_url), "retrySchedule": [1, 3]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(&key, &token, json!({"email": "schedule@example.com"}))
        .await;
    t.process_queue().await;
    let all = t.admin("GET", "/v1/deliveries", None).await.json();
    let id = all["items"][0]["id"].as_str().unwrap().to_owned();
    t.deliver_queue().await;
    // One attempt made; the hour the receiver asked for is capped at the
    // longest step (3 units: 30 ms here).
    let d = deliveries::get(&t.scope, &id).await.unwrap().unwrap();
    assert_eq!(d.attempt_count, 1);
    let next = d
        .next_attempt_at_ms
        .expect("the next attempt is due at a time");
    assert!(next - clock::now_ms() <= 30, "{}", next - clock::now_ms());
    for _ in 0..100 {
        t.deliver_queue().await;
        if deliveries::get(&t.scope, &id)
            .await
            .unwrap()
            .unwrap()
            .status
            != DeliveryStatus::Pending
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let d = deliveries::get(&t.scope, &id).await.unwrap().unwrap();
    assert_eq!(d.status, DeliveryStatus::Dead);
    assert_eq!(
        crm.requests_to("/crm").len(),
        3,
        "the first try and two retries"
    );
    assert_eq!(t.queue_depth(&t.stack.deliveries_dlq_url).await, 1);
}

/// A wait longer than SQS hides a message: the message comes back early,
/// finds the attempt not due, and waits again (at most 12 hours a hop);
/// the sweeper does not take the wait for a stall.
#[tokio::test]
async fn a_wait_past_twelve_hours_is_chained_not_swept() {
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(200, "ok")]);
    let r = create(&t, json!({"url": format!("{}/crm", crm.base_url)})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(&key, &token, json!({"email": "chained@example.com"}))
        .await;
    t.process_queue().await;
    let all = t.admin("GET", "/v1/deliveries", None).await.json();
    let id = all["items"][0]["id"].as_str().unwrap().to_owned();
    // Its next attempt is due in 20 hours (as after a failed one).
    let due = clock::now_ms() + 20 * 3_600_000;
    let d = deliveries::get(&t.scope, &id).await.unwrap().unwrap();
    t.app
        .store
        .update_if(
            &d.pk,
            &d.sk,
            "SET nextAttemptAtMs = :d",
            None,
            vec![],
            vec![(":d", leadpipe::aws::store::n(due))],
        )
        .await
        .unwrap();
    let mut record = SqsMessage::default();
    record.message_id = Some("m-hop".into());
    let message = leadpipe::aws::queue::DeliveriesMessage::attempt(t.scope.ws(), &id);
    record.body = Some(serde_json::to_string(&message).unwrap());
    let mut event = SqsEvent::default();
    event.records = vec![record];
    let answer = leadpipe::deliver::handle(&t.app, event).await;
    assert_eq!(answer.batch_item_failures.len(), 1, "kept, to come back");
    assert!(crm.requests_to("/crm").is_empty(), "not due: nothing sent");
    assert_eq!(
        leadpipe::rules::schedule::hop(Duration::from_secs(20 * 3600)),
        Duration::from_secs(43_200)
    );
    // Not a stall while it waits; one once it is overdue.
    let stall = leadpipe::deliver::stall_after(&t.app.config).as_millis() as i64;
    let now = clock::now_ms();
    let swept = leadpipe::sweep::sweep_at(&t.app, now + 10 * 3_600_000)
        .await
        .unwrap();
    assert_eq!(swept.deliveries, 0);
    let swept = leadpipe::sweep::sweep_at(&t.app, due + stall + 1_000)
        .await
        .unwrap();
    assert_eq!(swept.deliveries, 1);
}
