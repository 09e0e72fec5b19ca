//! Meta Lead Ads against the emulator and a real local Graph API stand-in:
//! the handshake, signed notifications, batching, exact ids, Graph retries
//! and failures.

use leadpipe::providers::meta;
use leadpipe_tests::{ScriptedServer, TestStack, leadpipe};
use serde_json::{Value, json};

async fn stack_with_graph() -> (TestStack, ScriptedServer) {
    let graph = ScriptedServer::start().await;
    let url = format!("{}/v25.0", graph.base_url);
    let t = TestStack::with_config(|c| {
        c.meta_graph_url = url;
        c.retry_base = std::time::Duration::from_millis(200);
        c.retry_max = std::time::Duration::from_millis(1000);
    })
    .await;
    (t, graph)
}

fn notification(leadgen_ids: &[&str]) -> String {
    // Ids written as JSON numbers where they are numeric, as Meta may.
    let changes: Vec<String> = leadgen_ids
        .iter()
        .map(|id| format!(r#"{{"field":"leadgen","value":{{"leadgen_id":{id},"page_id":112233445566778899,"form_id":"5566","ad_id":"7788","created_time":1795451485}}}}"#))
        .collect();
    format!(
        r#"{{"object":"page","entry":[{{"id":"112233445566778899","time":1795451485,"changes":[{}]}},{{"id":"1","time":1,"changes":[{{"field":"feed","value":{{"item":"status"}}}}]}}]}}"#,
        changes.join(",")
    )
}

async fn post(t: &TestStack, body: &str, signature: Option<&str>) -> leadpipe_tests::Reply {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(s) = signature {
        headers.push(("x-hub-signature-256", s));
    }
    t.call(
        "POST",
        "/v1/providers/meta/webhook",
        &headers,
        body.to_owned(),
    )
    .await
}

fn app_secret(t: &TestStack) -> String {
    t.stack.secret.meta_app_secret.clone().unwrap()
}

fn graph_lead(email: &str) -> String {
    graph_lead_with_phone(email, "+14155550142")
}

fn graph_lead_with_phone(email: &str, phone: &str) -> String {
    json!({"id": "1", "created_time": "2026-11-22T10:00:00+0000", "field_data": [
        {"name": "email", "values": [email]},
        {"name": "full_name", "values": ["Meta Person"]},
        {"name": "phone_number", "values": [phone]},
        {"name": "budget", "values": ["10k"]}
    ]})
    .to_string()
}

#[tokio::test]
async fn handshake() {
    let t = TestStack::new().await;
    let token = t.stack.secret.meta_verify_token.clone().unwrap();
    let ok = t
        .call("GET", &format!("/v1/providers/meta/webhook?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"), &[], "")
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.text(), "1158201444");
    assert!(ok.header("content-type").unwrap().starts_with("text/plain"));
    for query in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1".to_owned(),
        format!("hub.mode=unsubscribe&hub.verify_token={token}&hub.challenge=1"),
        format!("hub.mode=subscribe&hub.verify_token={token}"),
        String::new(),
    ] {
        let r = t
            .call(
                "GET",
                &format!("/v1/providers/meta/webhook?{query}"),
                &[],
                "",
            )
            .await;
        assert_eq!(r.status, 403, "{query}");
        assert_eq!(r.code(), "forbidden");
    }
}

#[tokio::test]
async fn a_signed_notification_becomes_a_lead() {
    let (t, graph) = stack_with_graph().await;
    let leadgen = "1234567890123456789"; // past 2^53
    graph.script(
        &format!("/v25.0/{leadgen}"),
        &[(200, &graph_lead("Meta@Example.com"))],
    );
    let body = notification(&[leadgen]);
    let r = post(
        &t,
        &body,
        Some(&meta::sign(&app_secret(&t), body.as_bytes())),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["accepted"], 1);

    let events = t.admin("GET", "/v1/events", None).await.json();
    let event = &events["items"][0];
    assert_eq!(
        event["source"],
        json!({"type": "meta_lead_ads", "pageId": "112233445566778899", "formId": "5566", "adId": "7788"})
    );
    assert_eq!(event["status"], "RECEIVED");

    t.process_queue().await;
    let event = t.event(event["id"].as_str().unwrap()).await;
    assert_eq!(event["status"], "PROCESSED", "{event}");
    let lead = t
        .admin(
            "GET",
            &format!("/v1/leads/{}", event["leadId"].as_str().unwrap()),
            None,
        )
        .await
        .json();
    assert_eq!(lead["email"], "meta@example.com");
    assert_eq!(lead["phone"], "+14155550142");
    assert_eq!(lead["firstName"], "Meta");
    assert_eq!(lead["customFields"], json!({"budget": "10k"}));
    assert_eq!(lead["source"]["type"], "meta_lead_ads");

    let requests = graph.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, format!("/v25.0/{leadgen}"));
    let page_token = t.stack.secret.meta_page_token.clone().unwrap();
    assert!(
        requests[0]
            .query
            .contains(&format!("access_token={page_token}"))
    );
    assert!(requests[0].query.contains("field_data"));

    // The same notification again (Meta retries): nothing new.
    let again = post(
        &t,
        &body,
        Some(&meta::sign(&app_secret(&t), body.as_bytes())),
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["accepted"], 0);
    assert_eq!(t.drain_leads_queue().await.len(), 0);
}

#[tokio::test]
async fn forged_and_unsigned_notifications_are_refused() {
    let t = TestStack::new().await;
    let body = notification(&["42"]);
    let forged = meta::sign("not-the-app-secret", body.as_bytes());
    for sig in [
        Some(forged.as_str()),
        None,
        Some("sha256="),
        Some("garbage"),
    ] {
        let r = post(&t, &body, sig).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (401, "unauthorized"),
            "{sig:?}"
        );
    }
    // Signed over other bytes than those received.
    let sig = meta::sign(&app_secret(&t), body.as_bytes());
    let r = post(&t, &body.replace("42", "43"), Some(&sig)).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        t.admin("GET", "/v1/events", None).await.json()["items"],
        json!([])
    );
    assert!(t.drain_leads_queue().await.is_empty());
}

#[tokio::test]
async fn a_base64_encoded_body_is_verified_on_its_raw_bytes() {
    use base64::Engine;
    let t = TestStack::new().await;
    let body = notification(&["77"]);
    let sig = meta::sign(&app_secret(&t), body.as_bytes());
    let event = json!({
        "version": "2.0", "routeKey": "POST /v1/providers/meta/webhook", "rawPath": "/v1/providers/meta/webhook",
        "rawQueryString": "", "headers": {"content-type": "application/json", "x-hub-signature-256": sig, "host": "x"},
        "requestContext": {"http": {"method": "POST", "path": "/v1/providers/meta/webhook", "protocol": "HTTP/1.1",
                           "sourceIp": "1.2.3.4", "userAgent": "facebookexternalua"}, "requestId": "r1",
                           "routeKey": "POST /v1/providers/meta/webhook", "stage": "$default",
                           "accountId": "1", "apiId": "a", "domainName": "x", "domainPrefix": "x", "time": "t", "timeEpoch": 0},
        "body": base64::engine::general_purpose::STANDARD.encode(&body), "isBase64Encoded": true
    });
    let req = lambda_http::request::from_str(&event.to_string()).unwrap();
    let resp = leadpipe::ingest::handle(&t.app, req).await;
    assert_eq!(resp.status(), 200, "{:?}", resp.body());
}

#[tokio::test]
async fn a_batched_notification_makes_one_event_per_lead() {
    let (t, graph) = stack_with_graph().await;
    let ids = ["9007199254740993", "9007199254740995", "\"444555666\""];
    for (i, id) in ids.iter().enumerate() {
        graph.script(
            &format!("/v25.0/{}", id.trim_matches('"')),
            &[(
                200,
                &graph_lead_with_phone(&format!("b{i}@example.com"), &format!("+1415555016{i}")),
            )],
        );
    }
    let body = notification(&ids);
    let r = post(
        &t,
        &body,
        Some(&meta::sign(&app_secret(&t), body.as_bytes())),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"received": 3, "accepted": 3, "duplicates": 0, "requeued": 0})
    );
    t.process_queue().await;
    let processed = t
        .admin("GET", "/v1/events?status=PROCESSED", None)
        .await
        .json();
    assert_eq!(processed["items"].as_array().unwrap().len(), 3);
    let mut fetched: Vec<String> = graph.requests().iter().map(|r| r.path.clone()).collect();
    fetched.sort();
    assert_eq!(
        fetched,
        vec![
            "/v25.0/444555666",
            "/v25.0/9007199254740993",
            "/v25.0/9007199254740995"
        ]
    );
}

#[tokio::test]
async fn graph_500_then_200_is_retried_and_400_fails_the_event() {
    let (t, graph) = stack_with_graph().await;
    graph.script(
        "/v25.0/500500",
        &[
            (500, "{\"error\":{\"message\":\"try later\"}}"),
            (200, &graph_lead("retry@example.com")),
        ],
    );
    graph.script(
        "/v25.0/400400",
        &[(
            400,
            "{\"error\":{\"message\":\"(#100) Invalid leadgen id\",\"code\":100}}",
        )],
    );
    let body = notification(&["500500", "400400"]);
    let r = post(
        &t,
        &body,
        Some(&meta::sign(&app_secret(&t), body.as_bytes())),
    )
    .await;
    assert_eq!(r.json()["accepted"], 2);

    t.process_queue().await;
    let events: Vec<Value> = t.admin("GET", "/v1/events", None).await.json()["items"]
        .as_array()
        .unwrap()
        .clone();
    let status_of = |events: &[Value], s: &str| events.iter().filter(|e| e["status"] == s).count();
    assert_eq!(status_of(&events, "FAILED"), 1);
    assert_eq!(
        status_of(&events, "RECEIVED"),
        1,
        "the 500 is retried, not failed"
    );
    let failed = events.iter().find(|e| e["status"] == "FAILED").unwrap();
    let reason = failed["error"].as_str().unwrap();
    assert!(
        reason.contains("graph api 400") && reason.contains("Invalid leadgen id"),
        "{reason}"
    );
    let page_token = t.stack.secret.meta_page_token.clone().unwrap();
    assert!(!reason.contains(&page_token));

    // The message comes back after its back-off (the visibility timeout set
    // for attempt 1), not after the queue's default.
    let mut rounds = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        t.process_queue().await;
        let events: Vec<Value> = t
            .admin("GET", "/v1/events?status=PROCESSED", None)
            .await
            .json()["items"]
            .as_array()
            .unwrap()
            .clone();
        if events.len() == 1 {
            break;
        }
        rounds += 1;
        assert!(rounds < 20, "the retried lead was never made");
    }
    assert_eq!(
        graph
            .requests()
            .iter()
            .filter(|r| r.path == "/v25.0/500500")
            .count(),
        2
    );
    let failed = t
        .admin("GET", "/v1/events?status=FAILED", None)
        .await
        .json();
    assert_eq!(failed["items"].as_array().unwrap().len(), 1);
}

/// Zero loss, issue 11 §1: a marker write refused by throttling or a 500
/// is not "seen before": Meta gets a 5xx, sends again, and the lead is
/// recorded then.
#[tokio::test]
async fn a_throttled_marker_write_is_a_5xx_not_a_duplicate() {
    use leadpipe_tests::Fault;
    let graph = ScriptedServer::start().await;
    let url = format!("{}/v25.0", graph.base_url);
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |c| c.meta_graph_url = url).await;
    let leadgen = "9000000000000000001";
    graph.script(
        &format!("/v25.0/{leadgen}"),
        &[(200, &graph_lead("throttled@example.com"))],
    );
    let body = notification(&[leadgen]);
    let signature = meta::sign(&app_secret(&t), body.as_bytes());
    // Enough of each to outlast the SDK's own retries.
    for fault in [Fault::ddb_throttled(), Fault::server_error()] {
        proxy.inject("PutItem", Some("META#leadgen#"), 10, fault.clone());
        let r = post(&t, &body, Some(&signature)).await;
        assert_eq!(r.status, 500, "{fault:?}: {}", r.text());
        proxy.clear();
    }
    assert!(proxy.injected() >= 2);
    // Meta's retry records it.
    let r = post(&t, &body, Some(&signature)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["accepted"], 1);
    t.process_queue().await;
    let leads = t
        .admin("GET", "/v1/leads?email=throttled@example.com", None)
        .await
        .json();
    assert_eq!(leads["items"].as_array().unwrap().len(), 1, "{leads}");
}

/// Zero loss, issue 11 §2: the marker and event were committed but the
/// message was never sent; Meta's retry must queue the event again, not
/// answer "duplicate".
#[tokio::test]
async fn a_recorded_leadgen_whose_message_was_lost_is_queued_again() {
    use leadpipe_tests::Fault;
    let graph = ScriptedServer::start().await;
    let url = format!("{}/v25.0", graph.base_url);
    // Meta's retry comes after the requeue grace (minutes in production).
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |c| {
        c.meta_graph_url = url;
        c.sweep_grace = std::time::Duration::ZERO;
    })
    .await;
    let leadgen = "9000000000000000002";
    graph.script(
        &format!("/v25.0/{leadgen}"),
        &[(200, &graph_lead("lostmsg@example.com"))],
    );
    let body = notification(&[leadgen]);
    let signature = meta::sign(&app_secret(&t), body.as_bytes());
    // Every send fails (past the SDK's own retries), and so would any
    // clean-up: the marker stays.
    proxy.inject("SendMessageBatch", None, 10, Fault::server_error());
    proxy.inject("SendMessage", None, 10, Fault::server_error());
    proxy.inject("DeleteItem", None, 10, Fault::server_error());
    let r = post(&t, &body, Some(&signature)).await;
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(t.drain_leads_queue().await.len(), 0);
    // Sends work again; Meta retries.
    proxy.clear();
    let r = post(&t, &body, Some(&signature)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["requeued"], 1, "{}", r.text());
    t.process_queue().await;
    let leads = t
        .admin("GET", "/v1/leads?email=lostmsg@example.com", None)
        .await
        .json();
    assert_eq!(leads["items"].as_array().unwrap().len(), 1, "{leads}");
    // Processed now: a third notification is a plain duplicate.
    let r = post(&t, &body, Some(&signature)).await;
    assert_eq!(r.json()["requeued"], 0, "{}", r.text());
    assert_eq!(r.json()["duplicates"], 1, "{}", r.text());
    assert_eq!(t.drain_leads_queue().await.len(), 0);
}

/// Issue 12: the marker and the event are two writes. A stop between them
/// (the event's put failed) answers 500; Meta's retry finds the marker
/// without its event, writes the event under the marker's id and queues it.
#[tokio::test]
async fn a_marker_without_its_event_gets_it_on_metas_retry() {
    use leadpipe_tests::Fault;
    let graph = ScriptedServer::start().await;
    let url = format!("{}/v25.0", graph.base_url);
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |c| c.meta_graph_url = url).await;
    let leadgen = "9000000000000000003";
    graph.script(
        &format!("/v25.0/{leadgen}"),
        &[(200, &graph_lead("halfway@example.com"))],
    );
    let body = notification(&[leadgen]);
    let signature = meta::sign(&app_secret(&t), body.as_bytes());
    proxy.inject(
        "PutItem",
        Some(r#""sk":{"S":"EVT"}"#),
        10,
        Fault::server_error(),
    );
    let r = post(&t, &body, Some(&signature)).await;
    assert_eq!(r.status, 500, "{}", r.text());
    proxy.clear();
    let marker = leadpipe::model::events::leadgen_marker(&t.scope, leadgen)
        .await
        .unwrap()
        .expect("the marker was written");
    assert!(
        t.app
            .store
            .get::<serde_json::Value>(&format!("EVT#{}", marker.event_id), "EVT")
            .await
            .unwrap()
            .is_none()
    );
    let r = post(&t, &body, Some(&signature)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["requeued"], 1, "{}", r.text());
    t.process_queue().await;
    assert_eq!(
        t.event(marker.event_id.as_str()).await["status"],
        "PROCESSED"
    );
}
