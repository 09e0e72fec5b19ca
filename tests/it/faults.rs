//! Issue 22 §4: the paths that only run under faults, each driven through
//! its fault (lost answers through the fault proxy, a hung endpoint, a
//! copy racing the last receive, more stuck work than one page).

use std::time::Duration;

use futures::StreamExt;
use leadpipe::model::deliveries::{self, DeliveryStatus, Finished};
use leadpipe::model::events::{self, EventRecord};
use leadpipe::rules::clock;
use leadpipe::rules::ids::EventId;
use leadpipe_tests::{Fault, ScriptedServer, TestStack, leadpipe};
use serde_json::{Value, json};

fn quick(c: &mut leadpipe::Config) {
    c.allow_private_targets = true;
    c.retry_base = Duration::from_millis(50);
    c.retry_max = Duration::from_millis(200);
}

/// A 500 after the write took effect: the SDK tries again and finds the
/// condition failed by its own write.
fn lost_answer() -> Fault {
    Fault::AfterForward {
        status: 500,
        body: r#"{"__type":"InternalFailure","message":"injected"}"#.into(),
    }
}

async fn subscribe(t: &TestStack, receiver: &ScriptedServer, extra: Value) -> String {
    let mut body = json!({"url": format!("{}/crm", receiver.base_url)});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = t.admin("POST", "/v1/subscriptions", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn one_pending_delivery(t: &TestStack, email: &str) -> String {
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(&key, &token, json!({"email": email})).await;
    t.process_queue().await;
    let all = t.admin("GET", "/v1/deliveries", None).await.json();
    all["items"][0]["id"].as_str().unwrap().to_owned()
}

async fn status(t: &TestStack, id: &str) -> DeliveryStatus {
    deliveries::get(&t.scope, id).await.unwrap().unwrap().status
}

/// §4.1: the `dead` write's answer is lost; its retry finds its own write.
/// The delivery must still be parked on the DLQ.
#[tokio::test]
async fn a_lost_answer_to_the_dead_write_still_parks_it() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), quick).await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(500, "down")]);
    subscribe(&t, &crm, json!({"maxAttempts": 1})).await;
    let id = one_pending_delivery(&t, "lostdead@example.com").await;
    proxy.inject("UpdateItem", Some(r#"{"S":"dead"}"#), 1, lost_answer());
    t.deliver_queue().await;
    assert_eq!(proxy.injected(), 1);
    assert_eq!(status(&t, &id).await, DeliveryStatus::Dead);
    assert_eq!(
        t.queue_depth(&t.stack.deliveries_dlq_url).await,
        1,
        "parked"
    );
}

/// §4.1, `prepare`: a delivery ended dead because its subscription is off,
/// the answer lost: parked all the same.
#[tokio::test]
async fn a_lost_answer_to_ending_a_disabled_subscriptions_delivery_still_parks_it() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), quick).await;
    let crm = ScriptedServer::start().await;
    let sub = subscribe(&t, &crm, json!({})).await;
    let id = one_pending_delivery(&t, "lostdisabled@example.com").await;
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/subscriptions/{sub}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    proxy.inject(
        "UpdateItem",
        Some("subscription disabled"),
        1,
        lost_answer(),
    );
    t.deliver_queue().await;
    assert_eq!(proxy.injected(), 1);
    assert_eq!(status(&t, &id).await, DeliveryStatus::Dead);
    assert_eq!(
        t.queue_depth(&t.stack.deliveries_dlq_url).await,
        1,
        "parked"
    );
    assert!(crm.requests_to("/crm").is_empty());
}

/// §4.5: the last receive arrives while another copy holds a live claim
/// and is sending. The delivery is not ended dead under it: that copy's
/// 200 is what the delivery says, and nothing is parked to send again.
#[tokio::test]
async fn the_last_receive_leaves_a_live_copy_to_finish() {
    let t = TestStack::with_config(quick).await;
    let crm = ScriptedServer::start().await;
    subscribe(&t, &crm, json!({})).await;
    let id = one_pending_delivery(&t, "livecopy@example.com").await;
    // Another copy claims the next attempt and is sending it.
    let d = deliveries::get(&t.scope, &id).await.unwrap().unwrap();
    let lease = leadpipe::deliver::lease(&t.app.config);
    let deliveries::Claimed::Yes(claim) = deliveries::claim(&t.scope, &d, lease).await.unwrap()
    else {
        panic!("claimed")
    };
    // This copy is at its last receive.
    let answer = t.deliver_at_last_receive(&id).await;
    assert!(answer.batch_item_failures.is_empty(), "this copy is done");
    assert_eq!(status(&t, &id).await, DeliveryStatus::Pending);
    assert_eq!(t.queue_depth(&t.stack.deliveries_dlq_url).await, 0);
    // The live copy's 200 lands.
    let d = deliveries::get(&t.scope, &id).await.unwrap().unwrap();
    let recorded = deliveries::record_attempt(
        &t.scope,
        &d,
        &claim,
        deliveries::AttemptRecord {
            n: claim.n,
            status_code: Some(200),
            duration_ms: 5,
            error: None,
            response: None,
            next_attempt_at_ms: None,
        },
        DeliveryStatus::Delivered,
    )
    .await
    .unwrap();
    assert!(recorded);
    assert_eq!(status(&t, &id).await, DeliveryStatus::Delivered);
    // And `finish` never ends it under a live claim, nor over delivered.
    let mut stale = d.clone();
    stale.status = DeliveryStatus::Pending;
    let ended = deliveries::finish(&t.scope, &stale, DeliveryStatus::Dead, "x")
        .await
        .unwrap();
    assert_eq!(ended, Finished::Already(DeliveryStatus::Delivered));
}

/// §4.2: more stuck events than one page, the oldest of them queued again
/// recently: one run still reaches the newest.
#[tokio::test]
async fn the_sweeper_pages_through_every_stuck_event() {
    let t = TestStack::with_config(|_| {}).await;
    let n = leadpipe::sweep::BATCH + 1;
    let scope = t.scope.clone();
    let written: Vec<EventId> = futures::stream::iter(0..n)
        .map(|i| {
            let scope = scope.clone();
            async move {
                let leadgen = leadpipe::providers::meta::Leadgen {
                    leadgen_id: format!("{}", 7_000_000 + i),
                    page_id: None,
                    form_id: None,
                    ad_id: None,
                    created_time: None,
                };
                let event = EventRecord::from_leadgen(
                    scope.ws(),
                    EventId::generate(),
                    leadgen,
                    clock::now_rfc3339(),
                );
                events::put_new(&scope, &event).await.unwrap();
                event.id
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(written.len(), n);
    let later = clock::now_ms() + t.app.config.sweep_grace.as_millis() as i64 + 1_000;
    let swept = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(
        swept.events,
        n,
        "every stuck event, not the {} oldest",
        n - 1
    );
    let again = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(again.events, 0, "once per grace");
}

/// The sweeper's mark on a stuck event, its answer lost: the SDK's retry
/// finds the mark written; it is this run's (its time), so the event is
/// still queued now, not one grace later.
#[tokio::test]
async fn a_lost_answer_to_the_sweepers_mark_still_queues_the_event() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |_| {}).await;
    t.put_unqueued_leadgen("7100000").await;
    proxy.inject("UpdateItem", Some("sweptAtMs"), 1, lost_answer());
    let later = clock::now_ms() + t.app.config.sweep_grace.as_millis() as i64 + 1_000;
    let swept = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(proxy.injected(), 1);
    assert_eq!(swept.events, 1, "queued by the run whose answer was lost");
    assert_eq!(t.queue_depth(&t.stack.leads_queue_url).await, 1);
}

/// §4.2, deliveries: more stalled deliveries than one page.
#[tokio::test]
async fn the_sweeper_pages_through_every_stalled_delivery() {
    let t = TestStack::with_config(quick).await;
    let crm = ScriptedServer::start().await;
    subscribe(&t, &crm, json!({})).await;
    let first = one_pending_delivery(&t, "stalledmany@example.com").await;
    let template = deliveries::get(&t.scope, &first).await.unwrap().unwrap();
    let n = leadpipe::sweep::BATCH + 1;
    let store = t.app.store.clone();
    let ws = t.scope.ws().clone();
    futures::stream::iter(1..n)
        .map(|_| {
            let (store, ws, mut d) = (store.clone(), ws.clone(), template.clone());
            async move {
                let id = leadpipe::rules::ids::DeliveryId::generate().to_string();
                let key = leadpipe::aws::table::delivery(&ws, &id);
                d.pk = key.pk;
                d.sk = key.sk;
                d.gsi1sk = id.clone();
                d.gsi2sk = id.clone();
                d.gsi3pk = Some(leadpipe::aws::table::pending_delivery_shard(&id));
                d.gsi3sk = Some(id.clone());
                d.id = leadpipe::rules::ids::DeliveryId::parse(&id).unwrap();
                store.put(&d).await.unwrap();
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    let stall = leadpipe::deliver::stall_after(&t.app.config).as_millis() as i64;
    let later = clock::now_ms() + stall + 1_000;
    let swept = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(swept.deliveries, n);
    let again = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(again.deliveries, 0);
}

/// §4.3: the `Idempotency-Key` claim is written, its answer lost; the
/// SDK's retry finds the claim. The client's first try is that request,
/// not a collision: 202, not 409.
#[tokio::test]
async fn a_lost_answer_to_the_idempotency_claim_is_not_a_collision() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |_| {}).await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    proxy.inject("PutItem", Some(r#""sk":{"S":"IDEM"}"#), 1, lost_answer());
    let body = json!({"email": "idem-lost@example.com"}).to_string();
    let headers = [
        ("x-webhook-token", token.as_str()),
        ("content-type", "application/json"),
        ("idempotency-key", "order-4711"),
    ];
    let path = format!("/v1/hooks/{key}");
    let r = t.call("POST", &path, &headers, body.clone()).await;
    assert_eq!(proxy.injected(), 1);
    assert_eq!(r.status, 202, "{}", r.text());
    // A repeat replays the first answer.
    let again = t.call("POST", &path, &headers, body).await;
    assert_eq!(again.status, 202, "{}", again.text());
    assert_eq!(again.json()["eventId"], r.json()["eventId"]);
}

/// §4.4: ingest takes back an event whose send failed only while nothing
/// counts on it. An address already claimed by the event (its message got
/// through and `process` is at work) keeps it.
#[tokio::test]
async fn an_event_process_counts_on_is_not_taken_back() {
    let t = TestStack::with_config(|_| {}).await;
    let leadgen = leadpipe::providers::meta::Leadgen {
        leadgen_id: "8100000000000001".into(),
        page_id: None,
        form_id: None,
        ad_id: None,
        created_time: None,
    };
    let event = EventRecord::from_leadgen(
        t.scope.ws(),
        EventId::generate(),
        leadgen.clone(),
        clock::now_rfc3339(),
    );
    events::put_new(&t.scope, &event).await.unwrap();
    let email = leadpipe::aws::table::email_identity(t.scope.ws(), "counted@example.com");
    let lead = leadpipe::model::leads::lead_id_of(&event.id, &event.received_at);
    let claim = leadpipe::model::leads::Identity::new(email.clone(), &lead, &event.id);
    t.app.store.put(&claim).await.unwrap();
    let kept = events::withdraw(&t.scope, &event.id, std::slice::from_ref(&email))
        .await
        .unwrap();
    assert_eq!(kept, events::Withdrawn::Kept);
    assert!(
        events::get(&t.scope, event.id.as_str())
            .await
            .unwrap()
            .is_some()
    );

    // Nothing claimed: taken back.
    let other = EventRecord::from_leadgen(
        t.scope.ws(),
        EventId::generate(),
        leadgen,
        clock::now_rfc3339(),
    );
    events::put_new(&t.scope, &other).await.unwrap();
    let free = leadpipe::aws::table::email_identity(t.scope.ws(), "free@example.com");
    let removed = events::withdraw(&t.scope, &other.id, &[free])
        .await
        .unwrap();
    assert_eq!(removed, events::Withdrawn::Removed);
    assert!(
        events::get(&t.scope, other.id.as_str())
            .await
            .unwrap()
            .is_none()
    );
}

/// §4.4 through the hook: the send's answer is lost after the message was
/// queued, and `process` ends the event before ingest hears of the
/// failure. The event is not deleted under its lead: the answer is 202.
#[tokio::test]
async fn a_send_that_got_through_is_accepted_not_deleted() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |_| {}).await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    // Every try of the send is queued; every answer is lost, late.
    let slow = Fault::SlowAfterForward {
        status: 500,
        body: r#"{"__type":"InternalFailure","message":"injected"}"#.into(),
        delay: Duration::from_millis(1_500),
    };
    proxy.inject("SendMessage", Some("-leads"), 10, slow);
    let hook = t.hook(&key, &token, json!({"email": "gotthrough@example.com"}));
    let process = async {
        for _ in 0..100 {
            if t.queue_depth(&t.stack.leads_queue_url).await > 0 {
                t.process_queue().await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the message never arrived");
    };
    let (r, ()) = tokio::join!(hook, process);
    proxy.clear();
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["eventId"].as_str().unwrap().to_owned();
    t.process_queue().await;
    assert_eq!(t.event(&id).await["status"], "PROCESSED");
    let leads = t
        .admin("GET", "/v1/leads?email=gotthrough@example.com", None)
        .await
        .json();
    assert_eq!(leads["items"].as_array().unwrap().len(), 1, "{leads}");
}

/// §4.7: a second Meta notification for a leadgen whose event is still
/// `RECEIVED` (its message queued, `process` not yet done) does not queue
/// it again at once: Graph would be called twice for one lead.
#[tokio::test]
async fn a_repeated_notification_waits_out_the_grace_before_requeueing() {
    let t = TestStack::with_config(|_| {}).await;
    let r = t.post_meta_leadgen("8200000000000001").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["accepted"], 1);
    let r = t.post_meta_leadgen("8200000000000001").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["requeued"], 0, "{}", r.text());
    assert_eq!(t.drain_leads_queue().await.len(), 1, "one message, not two");
}

/// §4.8: an AWS endpoint that accepts connections and never answers fails
/// the call within the operation timeout instead of hanging it.
#[tokio::test]
async fn a_hung_aws_endpoint_fails_the_call_in_time() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            if let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        }
    });
    let sdk = leadpipe_tests::leadpipe_local::sdk_config(&format!("http://{addr}")).await;
    let t = TestStack::with_config(|_| {}).await;
    let app = leadpipe::App::new(t.app.config.clone(), &sdk);
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(
        leadpipe::aws::OPERATION_TIMEOUT + Duration::from_secs(10),
        app.store.get::<Value>("p", "s"),
    )
    .await;
    let Ok(result) = result else {
        panic!("the call hung past the operation timeout")
    };
    assert!(result.is_err());
    assert!(started.elapsed() < leadpipe::aws::OPERATION_TIMEOUT + Duration::from_secs(5));
}
