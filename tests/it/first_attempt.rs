//! Issue 25: `process` makes a delivery's first attempt itself when the
//! destination is healthy — one delivered write, no queue hop — and every
//! other way it can go ends as a queued delivery: a failed or unanswered
//! first attempt, a held destination, a `process` that stopped mid-attempt,
//! a lost answer on either of its writes.

use std::time::Duration;

use leadpipe::model::deliveries::{self, DeliveryStatus};
use leadpipe_tests::{Fault, ScriptedServer, TestStack, leadpipe};
use serde_json::{Value, json};

fn first(c: &mut leadpipe::Config) {
    c.allow_private_targets = true;
    c.first_attempt = Some(Duration::from_secs(3));
}

async fn subscribe(t: &TestStack, crm: &ScriptedServer, extra: Value) -> String {
    let mut body = json!({"url": format!("{}/crm", crm.base_url)});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = t.admin("POST", "/v1/subscriptions", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn lead(t: &TestStack, email: &str) {
    let (key, token) = t.create_key(json!({"name": email})).await;
    t.post_lead(&key, &token, json!({"email": email})).await;
}

/// The only delivery, as the API shows it (found by listing: a delivery
/// in flight in `process` is on no listing).
async fn the_delivery(t: &TestStack) -> Value {
    let list = t.admin("GET", "/v1/deliveries", None).await.json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let id = items[0]["id"].as_str().unwrap();
    t.admin("GET", &format!("/v1/deliveries/{id}"), None)
        .await
        .json()
}

/// Runs `deliver` until the receiver has `n` requests (schedules are
/// compressed a hundredfold in the tests).
async fn deliver_until(t: &TestStack, crm: &ScriptedServer, n: usize) {
    for _ in 0..200 {
        t.deliver_queue().await;
        if crm.requests_to("/crm").len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the receiver never got {n} requests");
}

#[tokio::test]
async fn a_healthy_destination_gets_its_first_attempt_from_process() {
    let t = TestStack::with_config(first).await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(200, "ok")]);
    let sub = subscribe(&t, &crm, json!({})).await;
    lead(&t, "first@example.com").await;
    t.process_queue().await;

    let got = crm.requests_to("/crm");
    assert_eq!(got.len(), 1, "sent by process");
    assert_eq!(
        t.queue_depth(&t.stack.deliveries_queue_url).await,
        0,
        "no queue hop"
    );
    let d = the_delivery(&t).await;
    assert_eq!(d["status"], "delivered", "{d}");
    assert_eq!(d["attempts"].as_array().unwrap().len(), 1, "{d}");
    assert_eq!(d["attempts"][0]["statusCode"], 200, "{d}");
    let id = d["id"].as_str().unwrap();
    assert_eq!(got[0].headers["webhook-id"], id);
    // On both listings it belongs to, off the work index.
    for path in [
        "/v1/deliveries?status=delivered".to_owned(),
        format!("/v1/deliveries?subscriptionId={sub}"),
    ] {
        let list = t.admin("GET", &path, None).await.json();
        assert_eq!(list["items"][0]["id"], id, "{path}: {list}");
    }
    let stored = deliveries::get(&t.scope, id).await.unwrap().unwrap();
    assert!(stored.gsi3pk.is_none() && stored.claim.is_none());
    // Nothing left for deliver.
    assert_eq!(t.deliver_queue().await, 0);
    assert_eq!(crm.requests_to("/crm").len(), 1);
}

#[tokio::test]
async fn a_failed_first_attempt_is_queued_and_retried_by_deliver() {
    let t = TestStack::with_config(first).await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(503, "busy"), (200, "ok")]);
    subscribe(&t, &crm, json!({"retrySchedule": [1, 1]})).await;
    lead(&t, "retry@example.com").await;
    t.process_queue().await;
    assert_eq!(crm.requests_to("/crm").len(), 1);
    let d = the_delivery(&t).await;
    assert_eq!(d["status"], "pending", "{d}");
    let id = d["id"].as_str().unwrap().to_owned();
    let stored = deliveries::get(&t.scope, &id).await.unwrap().unwrap();
    assert!(
        stored.gsi3pk.is_some(),
        "on the work index: the sweeper sees it"
    );
    let pending = t
        .admin("GET", "/v1/deliveries?status=pending", None)
        .await
        .json();
    assert_eq!(pending["items"][0]["id"], id.as_str());

    deliver_until(&t, &crm, 2).await;
    let d = the_delivery(&t).await;
    assert_eq!(d["status"], "delivered", "{d}");
    let codes: Vec<u64> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["statusCode"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [503, 200]);
    let ids: Vec<String> = crm
        .requests_to("/crm")
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [id.clone(), id], "one webhook-id for every attempt");
}

#[tokio::test]
async fn no_answer_within_the_budget_is_a_failed_attempt() {
    let t = TestStack::with_config(|c| {
        first(c);
        c.first_attempt = Some(Duration::from_millis(300));
    })
    .await;
    let crm = ScriptedServer::start().await;
    // Status 0: the receiver hangs past any timeout.
    crm.script("/crm", &[(0, "late"), (200, "ok")]);
    subscribe(&t, &crm, json!({"retrySchedule": [1]})).await;
    lead(&t, "slow@example.com").await;
    t.process_queue().await;
    let d = the_delivery(&t).await;
    assert_eq!(d["status"], "pending", "{d}");
    let error = d["attempts"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("no answer within"), "{d}");
    deliver_until(&t, &crm, 2).await;
    assert_eq!(the_delivery(&t).await["status"], "delivered");
}

#[tokio::test]
async fn a_held_destination_is_not_attempted_by_process() {
    let t = TestStack::with_config(|c| {
        first(c);
        c.failing_after = 1;
    })
    .await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(500, "down")]);
    subscribe(&t, &crm, json!({"retrySchedule": [3600]})).await;
    lead(&t, "one@example.com").await;
    t.process_queue().await;
    assert_eq!(crm.requests_to("/crm").len(), 1, "the first lead's attempt");
    let subs = t.admin("GET", "/v1/subscriptions", None).await.json();
    assert_eq!(subs["items"][0]["state"], "failing", "{subs}");

    lead(&t, "two@example.com").await;
    t.process_queue().await;
    assert_eq!(
        crm.requests_to("/crm").len(),
        1,
        "a failing destination waits for its probe; process sends nothing"
    );
    // The second delivery went through the queue, where deliver holds it.
    let list = t
        .admin("GET", "/v1/deliveries?status=pending", None)
        .await
        .json();
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
    t.deliver_queue().await;
    assert_eq!(crm.requests_to("/crm").len(), 1, "held, not sent");
}

/// `process` stopped after claiming the first attempt (here: every write
/// of its record refused), and the lead's message comes back while the
/// claim is live: fan-out leaves the claim alone and hands the delivery
/// to the deliveries queue, due when the lease runs out, so the lead's
/// message is done (retrying it instead spent its receives until the DLQ
/// took it, the delivery stranded). `deliver` waits while the lease runs,
/// then records the attempt as unanswered and makes the next.
#[tokio::test]
async fn an_abandoned_first_attempt_is_queued_for_when_its_lease_runs_out() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), first).await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(200, "ok")]);
    subscribe(&t, &crm, json!({})).await;
    let id = stopped_mid_attempt(&t, &proxy, &crm).await;

    // The claim is live: nothing is sent again, and the lead's message is
    // done; the delivery waits on its own queue for the lease's end.
    again(&t).await;
    assert_eq!(crm.requests_to("/crm").len(), 1);
    let d = deliveries::get(&t.scope, &id).await.unwrap().unwrap();
    assert!(d.claim.is_some() && d.gsi1pk.is_empty());
    assert_eq!(t.queue_depth(&t.stack.leads_queue_url).await, 0);
    assert_eq!(t.queue_depth(&t.stack.deliveries_queue_url).await, 0);
    assert_eq!(delayed(&t).await, 1, "queued for the lease's end");

    // A copy of its message while the lease runs: `deliver` waits too.
    queue_copy(&t, &id).await;
    t.deliver_queue().await;
    assert_eq!(crm.requests_to("/crm").len(), 1);

    // Its lease runs out (the claimant is gone): `deliver` records the
    // attempt as unanswered, which lists the delivery, and makes the next.
    expire_lease(&t, &id).await;
    queue_copy(&t, &id).await;
    deliver_until(&t, &crm, 2).await;
    assert_recovered(&t).await;
}

/// The lead's message comes back after the claim's lease ran out: fan-out
/// records the abandoned attempt as unanswered and queues the next at once.
#[tokio::test]
async fn an_abandoned_first_attempt_found_after_its_lease_is_recorded_and_queued() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), first).await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(200, "ok")]);
    subscribe(&t, &crm, json!({})).await;
    let id = stopped_mid_attempt(&t, &proxy, &crm).await;
    expire_lease(&t, &id).await;
    again(&t).await;
    let d = the_delivery(&t).await;
    assert_eq!(d["status"], "pending", "{d}");
    assert_eq!(delayed(&t).await, 0, "queued at once");
    deliver_until(&t, &crm, 2).await;
    assert_recovered(&t).await;
}

/// `process` stopped mid-attempt, and the subscription stopped wanting the
/// lead before the lead's message came back (its event types changed):
/// fan-out, run again, still finds the abandoned attempt, records it and
/// queues it, instead of leaving it claimed on no listing.
#[tokio::test]
async fn an_abandoned_first_attempt_to_a_subscription_that_changed_is_found() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), first).await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(200, "ok")]);
    let sub = subscribe(&t, &crm, json!({})).await;
    let id = stopped_mid_attempt(&t, &proxy, &crm).await;
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/subscriptions/{sub}"),
            Some(json!({"events": ["lead.updated"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    expire_lease(&t, &id).await;
    again(&t).await;
    let d = the_delivery(&t).await;
    assert_eq!(d["status"], "pending", "{d}");
    deliver_until(&t, &crm, 2).await;
    assert_recovered(&t).await;
}

/// The deliveries message of an abandoned first attempt reaches its last
/// receive: while the claim's lease runs, a fresh message is left for the
/// lease's end (giving up would delete the only message of a delivery on
/// no listing); after it, the attempt is recorded (which lists it) before
/// the delivery ends dead and is parked for redrive.
#[tokio::test]
async fn an_abandoned_first_attempt_at_the_last_receive_is_kept_then_listed_and_parked() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), first).await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(200, "ok")]);
    subscribe(&t, &crm, json!({})).await;
    let id = stopped_mid_attempt(&t, &proxy, &crm).await;

    let answer = t.deliver_at_last_receive(&id).await;
    assert!(answer.batch_item_failures.is_empty());
    assert_eq!(delayed(&t).await, 1, "a message kept for the lease's end");
    let d = deliveries::get(&t.scope, &id).await.unwrap().unwrap();
    assert!(d.claim.is_some() && d.status == DeliveryStatus::Pending);

    expire_lease(&t, &id).await;
    t.deliver_at_last_receive(&id).await;
    let d = the_delivery(&t).await;
    assert_eq!(d["status"], "dead", "{d}");
    assert_eq!(
        t.queue_depth(&t.stack.deliveries_dlq_url).await,
        1,
        "parked"
    );
    assert_eq!(crm.requests_to("/crm").len(), 1, "nothing sent again");
}

/// A lead whose first attempt `process` made (one request) and could not
/// record: its delivery, claimed and on no listing.
async fn stopped_mid_attempt(
    t: &TestStack,
    proxy: &leadpipe_tests::FaultProxy,
    crm: &ScriptedServer,
) -> String {
    lead(t, "stopped@example.com").await;
    let refused = Fault::Reply {
        status: 500,
        body: r#"{"__type":"InternalFailure","message":"injected"}"#.into(),
    };
    proxy.inject("UpdateItem", Some(r#"{"S":"delivered"}"#), 100, refused);
    t.process_queue().await;
    proxy.clear();
    assert_eq!(crm.requests_to("/crm").len(), 1);
    let list = t.admin("GET", "/v1/deliveries", None).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
    claimed_delivery(t).await
}

/// Delivered by its second attempt, the first logged as unanswered.
async fn assert_recovered(t: &TestStack) {
    let d = the_delivery(t).await;
    assert_eq!(d["status"], "delivered", "{d}");
    assert_eq!(d["attempts"].as_array().unwrap().len(), 2, "{d}");
    let first = d["attempts"][0]["error"].as_str().unwrap_or_default();
    assert!(first.contains("process stopped"), "{d}");
}

/// Messages on the deliveries queue waiting out their delay.
async fn delayed(t: &TestStack) -> usize {
    let out = aws_sdk_sqs::Client::new(&t.sdk)
        .get_queue_attributes()
        .queue_url(&t.stack.deliveries_queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .expect("attributes");
    out.attributes()
        .and_then(|a| a.values().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Another copy of the delivery's message, visible at once.
async fn queue_copy(t: &TestStack, id: &str) {
    let message = leadpipe::aws::queue::DeliveriesMessage::attempt(t.scope.ws(), id);
    t.app
        .queue
        .send_all_delayed(&t.stack.deliveries_queue_url, &[(message, 0)])
        .await
        .expect("send");
}

/// A lost answer on either write of the first attempt (the put that
/// claims it, the update that records it): the SDK's retry finds the
/// condition failed by its own write, and the attempt goes on as one.
#[tokio::test]
async fn lost_answers_on_the_first_attempt_s_writes_change_nothing() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), first).await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(200, "ok")]);
    subscribe(&t, &crm, json!({})).await;
    let lost = || Fault::AfterForward {
        status: 500,
        body: r#"{"__type":"InternalFailure","message":"injected"}"#.into(),
    };
    proxy.inject("PutItem", Some("leaseUntilMs"), 1, lost());
    proxy.inject("UpdateItem", Some(r#"{"S":"delivered"}"#), 1, lost());
    lead(&t, "lost@example.com").await;
    t.process_queue().await;
    assert_eq!(proxy.injected(), 2);
    assert_eq!(crm.requests_to("/crm").len(), 1, "sent once");
    let d = the_delivery(&t).await;
    assert_eq!(d["status"], "delivered", "{d}");
    assert_eq!(d["attempts"].as_array().unwrap().len(), 1, "{d}");
    assert_eq!(t.queue_depth(&t.stack.deliveries_queue_url).await, 0);
    assert_eq!(t.queue_depth(&t.stack.leads_queue_url).await, 0);
}

/// The lead's message, back after its back-off.
async fn again(t: &TestStack) {
    for _ in 0..100 {
        if t.process_queue().await > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the lead's message never came back");
}

/// The one delivery in the table, found without the listings.
async fn claimed_delivery(t: &TestStack) -> String {
    let dump = t.raw_table_dump().await;
    let at = dump.find("dlv_").expect("a delivery item");
    dump[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Moves a delivery's claim lease into the past, as time would.
async fn expire_lease(t: &TestStack, id: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let key = leadpipe::aws::table::delivery(t.scope.ws(), id);
    aws_sdk_dynamodb::Client::new(&t.sdk)
        .update_item()
        .table_name(&t.stack.table)
        .key("pk", AttributeValue::S(key.pk))
        .key("sk", AttributeValue::S(key.sk))
        .update_expression("SET leaseUntilMs = :past")
        .expression_attribute_values(":past", AttributeValue::N("1".into()))
        .send()
        .await
        .expect("update");
    let d = deliveries::get(&t.scope, id).await.unwrap().unwrap();
    assert_eq!(d.status, DeliveryStatus::Pending);
}
