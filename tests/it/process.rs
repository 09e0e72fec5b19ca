//! `process` against the emulator: clean leads, de-duplication under races
//! and redelivery, re-engagement, the poison path, and the leads admin API.

use leadpipe::aws::batch::Outcome;
use leadpipe::model::history::{self, LeadEventType};
use leadpipe::model::leads;
use leadpipe::process;
use leadpipe_tests::{TestStack, leadpipe};
use serde_json::{Value, json};

async fn lead_of(t: &TestStack, event_id: &str) -> Value {
    let e = t.event(event_id).await;
    let lead_id = e["leadId"]
        .as_str()
        .unwrap_or_else(|| panic!("no lead: {e}"));
    t.admin("GET", &format!("/v1/leads/{lead_id}"), None)
        .await
        .json()
}

#[tokio::test]
async fn a_lead_comes_out_normalised() {
    let t = TestStack::new().await;
    let (key, token) = t
        .create_key(json!({"name": "LP", "defaultStatus": "new", "defaultTags": ["landing"]}))
        .await;
    let evt = t
        .post_lead(&key, &token, json!({"full_name": "Alex Customer", "Email": " ALEX@Example.com",
                                         "phone_number": "(415) 555-0123", "tags": "vip", "utm_source": "google"}))
        .await;
    assert_eq!(t.process_queue().await, 1);
    let e = t.event(&evt).await;
    assert_eq!(e["status"], "PROCESSED");
    assert!(e["processedAt"].is_string());
    let lead = lead_of(&t, &evt).await;
    assert!(lead["id"].as_str().unwrap().starts_with("lead_"));
    assert_eq!(lead["email"], "alex@example.com");
    assert_eq!(lead["phone"], "+14155550123");
    assert_eq!(
        (lead["firstName"].clone(), lead["lastName"].clone()),
        (json!("Alex"), json!("Customer"))
    );
    assert_eq!(lead["name"], "Alex Customer");
    assert_eq!(lead["status"], "new");
    assert_eq!(lead["tags"], json!(["landing", "vip"]));
    assert_eq!(lead["customFields"], json!({"utm_source": "google"}));
    assert_eq!(lead["source"], json!({"type": "webhook", "keyId": key}));
    for f in ["createdAt", "updatedAt", "lastSeenAt"] {
        assert!(lead[f].as_str().unwrap().ends_with('Z'), "{f}");
    }
    let history = history::history(&t.scope, lead["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, LeadEventType::Created);
    assert_eq!(history[0].cause_id.as_str(), evt);
}

#[tokio::test]
async fn the_same_person_by_email_then_by_phone_is_one_lead() {
    let t = TestStack::new().await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let first = t
        .post_lead(
            &key,
            &token,
            json!({"email": "ann@example.org", "first_name": "Ann", "tags": ["a"]}),
        )
        .await;
    t.process_queue().await;
    let second = t
        .post_lead(&key, &token, json!({"email": "Ann@Example.org", "phone": "+1 415 555 0199", "last_name": "Lee", "tags": ["b"], "x": 1}))
        .await;
    t.process_queue().await;
    let third = t
        .post_lead(
            &key,
            &token,
            json!({"phone": "415-555-0199", "first_name": "Someone Else", "y": 2}),
        )
        .await;
    t.process_queue().await;

    let lead_id = t.event(&first).await["leadId"].clone();
    for (evt, status) in [
        (&first, "PROCESSED"),
        (&second, "DUPLICATE"),
        (&third, "DUPLICATE"),
    ] {
        let e = t.event(evt).await;
        assert_eq!(e["status"], status, "{e}");
        assert_eq!(e["leadId"], lead_id);
    }
    let lead = lead_of(&t, &third).await;
    assert_eq!(lead["phone"], "+14155550199", "the phone filled a gap");
    assert_eq!(
        lead["firstName"], "Ann",
        "a present field is not overwritten"
    );
    assert_eq!(lead["lastName"], "Lee");
    assert_eq!(lead["tags"], json!(["a", "b"]));
    assert_eq!(lead["customFields"], json!({"x": 1, "y": 2}));
    assert!(lead["lastSeenAt"].as_str() > lead["createdAt"].as_str());
    let all = t.admin("GET", "/v1/leads", None).await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn ten_racing_events_make_one_lead() {
    let t = TestStack::new().await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let mut events = Vec::new();
    for i in 0..10 {
        events.push(
            t.post_lead(
                &key,
                &token,
                json!({"email": "race@example.com", "tags": [format!("t{i}")]}),
            )
            .await,
        );
    }
    let outcomes = futures::future::join_all(
        events
            .iter()
            .map(|id| process::process_event(&t.scope, id, 1)),
    )
    .await;
    // Contention may hand a few back for a retry, as SQS would.
    for (id, outcome) in events.iter().zip(outcomes) {
        if outcome != Outcome::Done {
            assert_eq!(process::process_event(&t.scope, id, 2).await, Outcome::Done);
        }
    }
    let mut processed = 0;
    let mut duplicate = 0;
    let mut leads_seen = std::collections::HashSet::new();
    for id in &events {
        let e = t.event(id).await;
        match e["status"].as_str().unwrap() {
            "PROCESSED" => processed += 1,
            "DUPLICATE" => duplicate += 1,
            other => panic!("{other}"),
        }
        leads_seen.insert(e["leadId"].as_str().unwrap().to_owned());
    }
    assert_eq!((processed, duplicate, leads_seen.len()), (1, 9, 1));
    let lead = lead_of(&t, &events[0]).await;
    assert_eq!(
        lead["tags"].as_array().unwrap().len(),
        10,
        "every merge kept its tags: {lead}"
    );
}

#[tokio::test]
async fn a_redelivered_message_changes_nothing() {
    let t = TestStack::new().await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let evt = t
        .post_lead(&key, &token, json!({"email": "once@example.com"}))
        .await;
    let messages = t.drain_leads_queue().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        process::process_event(&t.scope, &evt, 1).await,
        Outcome::Done
    );
    let before = lead_of(&t, &evt).await;
    // Lambda timed out after the work was done; SQS delivers it again.
    assert_eq!(
        process::process_event(&t.scope, &evt, 2).await,
        Outcome::Done
    );
    // Even a resolution run again straight through (bypassing the status
    // check) is refused by the event's condition.
    let record = leadpipe::model::events::get(&t.scope, &evt)
        .await
        .unwrap()
        .unwrap();
    let mut replay = record.clone();
    replay.status = leadpipe::model::events::EventStatus::Received;
    let input = leadpipe::rules::inbound::LeadInput {
        email: Some("once@example.com".into()),
        ..Default::default()
    };
    assert_eq!(
        leadpipe::process::dedupe::resolve(&t.scope, &replay, &input)
            .await
            .unwrap(),
        leadpipe::process::dedupe::Resolution::AlreadyDone
    );
    let after = lead_of(&t, &evt).await;
    assert_eq!(before, after);
    assert_eq!(
        t.admin("GET", "/v1/leads", None).await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let history = history::history(&t.scope, before["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
}

#[tokio::test]
async fn a_hundred_concurrent_leads_are_all_processed() {
    let t = TestStack::new().await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let posts = (0..100).map(|i| {
        t.post_lead(
            &key,
            &token,
            json!({"email": format!("person{i}@example.com")}),
        )
    });
    let events = futures::future::join_all(posts).await;
    // Ten pollers at once, as ten concurrent Lambda invocations would be.
    let pollers = (0..10).map(|_| t.process_queue());
    let received: usize = futures::future::join_all(pollers).await.into_iter().sum();
    assert!(received >= 100);
    for id in &events {
        assert_eq!(t.event(id).await["status"], "PROCESSED");
    }
    let all = t.admin("GET", "/v1/leads?limit=200", None).await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 100);
    let processed = t
        .admin("GET", "/v1/events?status=PROCESSED&limit=200", None)
        .await
        .json();
    assert_eq!(processed["items"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn a_returning_lead_is_re_engaged() {
    let t = TestStack::new().await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let first = t
        .post_lead(&key, &token, json!({"email": "back@example.com"}))
        .await;
    t.process_queue().await;
    let lead_id = t.event(&first).await["leadId"].as_str().unwrap().to_owned();
    // Forty days of silence.
    let mut lead = leads::get(&t.scope, &lead_id).await.unwrap().unwrap();
    let old = leadpipe::rules::clock::rfc3339(leadpipe::rules::clock::now_ms() - 40 * 86_400_000);
    lead.last_seen_at = old.clone();
    t.app.store.put(&lead).await.unwrap();

    let second = t
        .post_lead(&key, &token, json!({"email": "back@example.com"}))
        .await;
    t.process_queue().await;
    assert_eq!(t.event(&second).await["status"], "DUPLICATE");
    let history = history::history(&t.scope, &lead_id).await.unwrap();
    let kinds: Vec<_> = history.iter().map(|h| h.kind).collect();
    assert_eq!(
        kinds,
        vec![LeadEventType::Created, LeadEventType::ReEngaged]
    );
    assert_eq!(history[1].previous_seen_at.as_deref(), Some(old.as_str()));
    // A third contact right after is not a re-engagement.
    t.post_lead(&key, &token, json!({"email": "back@example.com"}))
        .await;
    t.process_queue().await;
    assert_eq!(history::history(&t.scope, &lead_id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_poison_message_ends_in_the_dlq() {
    let t = TestStack::new().await;
    let sqs = aws_sdk_sqs::Client::new(&t.sdk);
    sqs.send_message()
        .queue_url(&t.stack.leads_queue_url)
        .message_body("this is not a lead message")
        .send()
        .await
        .unwrap();
    // The mapping receives it, the handler refuses it with no delay, until
    // SQS's redrive moves it (maxReceiveCount = 5).
    let mut receives = 0;
    for _ in 0..20 {
        receives += t.process_queue().await;
        if t.queue_depth(&t.stack.leads_dlq_url).await == 1 {
            break;
        }
    }
    assert_eq!(t.queue_depth(&t.stack.leads_dlq_url).await, 1);
    assert_eq!(
        receives,
        leadpipe::aws::resources::LEADS_QUEUE.max_receive_count as usize
    );
    assert_eq!(t.queue_depth(&t.stack.leads_queue_url).await, 0);
}

#[tokio::test]
async fn leads_admin_filters_and_export() {
    let t = TestStack::new().await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(
        &key,
        &token,
        json!({"email": "a@example.com", "name": "=cmd|' /C calc'!A0", "tags": ["vip"]}),
    )
    .await;
    t.post_lead(
        &key,
        &token,
        json!({"phone": "+44 20 7946 0958", "tags": ["cold"], "note": "line one\nline, two"}),
    )
    .await;
    t.process_queue().await;

    let by_email = t
        .admin("GET", "/v1/leads?email=A@Example.COM", None)
        .await
        .json();
    assert_eq!(by_email["items"].as_array().unwrap().len(), 1);
    let by_phone = t
        .admin("GET", "/v1/leads?phone=%2B442079460958", None)
        .await
        .json();
    assert_eq!(by_phone["items"][0]["phone"], "+442079460958");
    let by_tag = t.admin("GET", "/v1/leads?tag=vip", None).await.json();
    assert_eq!(by_tag["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_tag["items"][0]["email"], "a@example.com");
    let by_status = t
        .admin("GET", "/v1/leads?status=unassigned", None)
        .await
        .json();
    assert_eq!(by_status["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        t.admin("GET", "/v1/leads?status=won", None).await.json()["items"],
        json!([])
    );
    assert_eq!(
        t.admin("GET", "/v1/leads?email=nope", None).await.status,
        422
    );
    assert_eq!(
        t.admin("GET", "/v1/leads/lead_nope", None).await.status,
        404
    );

    let csv = t.admin("GET", "/v1/leads/export", None).await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let text = csv.text();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(lines[0].starts_with("id,email,phone,firstName"));
    assert!(
        text.contains("\"'=cmd|' /C calc'!A0\""),
        "formula defused: {text}"
    );
    assert!(text.contains("+442079460958"));
    assert!(
        text.contains("\"{\"\"note\"\":\"\"line one\\nline, two\"\"}\""),
        "{text}"
    );
}
