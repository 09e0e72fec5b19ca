//! Zero loss (issue 11): the paths where a lead or a delivery could end
//! nowhere, or be sent twice, each driven through its fault.

use std::time::Duration;

use leadpipe_tests::{Fault, ScriptedServer, TestStack, leadpipe};
use serde_json::{Value, json};

async fn stack() -> TestStack {
    TestStack::with_config(|c| {
        c.allow_private_targets = true;
        c.retry_base = Duration::from_millis(50);
        c.retry_max = Duration::from_millis(200);
    })
    .await
}

async fn subscribe(t: &TestStack, receiver: &ScriptedServer, path: &str, extra: Value) -> String {
    let mut body = json!({"url": format!("{}{path}", receiver.base_url)});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = t.admin("POST", "/v1/subscriptions", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn delivery(t: &TestStack, id: &str) -> Value {
    t.admin("GET", &format!("/v1/deliveries/{id}"), None)
        .await
        .json()
}

/// Posts one lead, processes it, and pumps deliveries until the one
/// delivery is no longer pending; returns its id.
async fn one_delivery_to_the_end(t: &TestStack, email: &str) -> String {
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(&key, &token, json!({"email": email})).await;
    t.process_queue().await;
    let all = t.admin("GET", "/v1/deliveries", None).await.json();
    let id = all["items"][0]["id"].as_str().unwrap().to_owned();
    for _ in 0..50 {
        t.deliver_queue().await;
        if delivery(t, &id).await["status"] != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    id
}

/// §4: dead → manual retry → delivered → redrive must not send it again.
#[tokio::test]
async fn redrive_never_resends_a_delivery_that_got_through() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(500, "down")]);
    subscribe(&t, &crm, "/crm", json!({"maxAttempts": 1})).await;
    let id = one_delivery_to_the_end(&t, "redrive@example.com").await;
    assert_eq!(delivery(&t, &id).await["status"], "dead");
    assert_eq!(t.queue_depth(&t.stack.deliveries_dlq_url).await, 1);

    crm.script("/crm", &[(200, "ok")]);
    let r = t
        .admin("POST", &format!("/v1/deliveries/{id}/retry"), None)
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    t.deliver_queue().await;
    assert_eq!(delivery(&t, &id).await["status"], "delivered");
    let sent = crm.requests_to("/crm").len();

    let r = t.admin("POST", "/v1/dlq/redrive", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["moved"]["deliveries"], 0, "{}", r.text());
    assert_eq!(r.json()["dropped"], 1, "{}", r.text());
    t.deliver_queue().await;
    assert_eq!(crm.requests_to("/crm").len(), sent, "nothing sent again");
    assert_eq!(t.queue_depth(&t.stack.deliveries_dlq_url).await, 0);
}

/// §4: two retries at once queue one copy; two redrives at once (of a
/// delivery parked twice) move one.
#[tokio::test]
async fn concurrent_retries_and_redrives_queue_one_copy() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(500, "down")]);
    subscribe(&t, &crm, "/crm", json!({"maxAttempts": 1})).await;
    let id = one_delivery_to_the_end(&t, "twice@example.com").await;
    assert_eq!(delivery(&t, &id).await["status"], "dead");

    let path = format!("/v1/deliveries/{id}/retry");
    let (a, b) = tokio::join!(t.admin("POST", &path, None), t.admin("POST", &path, None));
    let mut codes = [a.status, b.status];
    codes.sort();
    assert_eq!(codes, [202, 409], "{} / {}", a.text(), b.text());
    assert_eq!(t.queue_depth(&t.stack.deliveries_queue_url).await, 1);
    t.deliver_queue().await; // dead again (the receiver is still down)
    assert_eq!(delivery(&t, &id).await["status"], "dead");

    // A crash parked it twice: two identical messages in the DLQ, plus
    // the one from the first round.
    let sqs = aws_sdk_sqs::Client::new(&t.sdk);
    sqs.send_message()
        .queue_url(&t.stack.deliveries_dlq_url)
        .message_body(json!({"deliveryId": id}).to_string())
        .send()
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        t.admin("POST", "/v1/dlq/redrive", None),
        t.admin("POST", "/v1/dlq/redrive", None)
    );
    let moved = a.json()["moved"]["deliveries"].as_u64().unwrap()
        + b.json()["moved"]["deliveries"].as_u64().unwrap();
    assert_eq!(moved, 1, "{} / {}", a.text(), b.text());
    assert_eq!(t.queue_depth(&t.stack.deliveries_queue_url).await, 1);
}

/// §5: the DLQ send fails after `dead` was written. The message comes
/// back, finds the delivery dead, and parks it: never dead outside the DLQ.
#[tokio::test]
async fn a_failed_park_is_parked_by_the_next_receive() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |c| {
        c.allow_private_targets = true;
        c.retry_base = Duration::from_millis(50);
        c.retry_max = Duration::from_millis(200);
    })
    .await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(500, "down")]);
    subscribe(&t, &crm, "/crm", json!({"maxAttempts": 1})).await;
    proxy.inject(
        "SendMessage",
        Some("-deliveries-dlq"),
        10,
        Fault::server_error(),
    );
    let id = one_delivery_to_the_end(&t, "park@example.com").await;
    assert_eq!(delivery(&t, &id).await["status"], "dead");
    assert_eq!(t.queue_depth(&t.stack.deliveries_dlq_url).await, 0);
    assert!(proxy.injected() > 0);
    proxy.clear();
    for _ in 0..40 {
        t.deliver_queue().await;
        if t.queue_depth(&t.stack.deliveries_dlq_url).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        t.queue_depth(&t.stack.deliveries_dlq_url).await,
        1,
        "parked"
    );
    assert_eq!(
        crm.requests_to("/crm").len(),
        1,
        "no attempt past maxAttempts"
    );
}

/// §5: ending a delivery never overwrites `delivered`.
#[tokio::test]
async fn finish_never_overwrites_delivered() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(200, "ok")]);
    subscribe(&t, &crm, "/crm", json!({})).await;
    let id = one_delivery_to_the_end(&t, "done@example.com").await;
    let d = leadpipe::model::deliveries::get(&t.app, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        d.status,
        leadpipe::model::deliveries::DeliveryStatus::Delivered
    );
    let mut stale = d.clone();
    stale.status = leadpipe::model::deliveries::DeliveryStatus::Pending;
    let ended = leadpipe::model::deliveries::finish(
        &t.app,
        &stale,
        leadpipe::model::deliveries::DeliveryStatus::Dead,
        "subscription deleted",
    )
    .await
    .unwrap();
    assert!(!ended);
    assert_eq!(delivery(&t, &id).await["status"], "delivered");
}

/// §3: at the last receive before SQS would dead-letter the message,
/// `deliver` itself ends the delivery dead and parks it: its status never
/// says `pending` while the message sits in the DLQ.
#[tokio::test]
async fn the_last_receive_ends_the_delivery_dead_and_parked() {
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(500, "down")]);
    subscribe(&t, &crm, "/crm", json!({"maxAttempts": 20})).await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(&key, &token, json!({"email": "lastreceive@example.com"}))
        .await;
    t.process_queue().await;
    let all = t.admin("GET", "/v1/deliveries", None).await.json();
    let id = all["items"][0]["id"].as_str().unwrap().to_owned();

    let max = leadpipe::aws::resources::DELIVERIES_QUEUE.max_receive_count;
    let mut record = SqsMessage::default();
    record.message_id = Some("m-1".into());
    record.body = Some(json!({"deliveryId": id}).to_string());
    record
        .attributes
        .insert("ApproximateReceiveCount".into(), (max - 1).to_string());
    let mut event = SqsEvent::default();
    event.records = vec![record];
    let answer = leadpipe::deliver::handle(&t.app, event).await;
    assert!(answer.batch_item_failures.is_empty(), "the message is done");
    let d = delivery(&t, &id).await;
    assert_eq!(d["status"], "dead", "{d}");
    assert_eq!(t.queue_depth(&t.stack.deliveries_dlq_url).await, 1);
}
