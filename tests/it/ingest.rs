//! `POST /v1/hooks/{keyId}` (CONTRACT §3) against the emulator: every
//! success path and every bad input.

use leadpipe::model::events::{self, EventStatus};
use leadpipe::rules::inbound::LeadInput;
use leadpipe_tests::{TestStack, leadpipe};
use serde_json::{Value, json};

async fn event_input(t: &TestStack, id: &str) -> (EventStatus, LeadInput, Value) {
    let e = events::get(&t.scope, id)
        .await
        .unwrap()
        .expect("event stored");
    let input: LeadInput = serde_json::from_str(e.input.as_deref().unwrap()).unwrap();
    (e.status, input, serde_json::to_value(&e.source).unwrap())
}

#[tokio::test]
async fn json_lead_is_recorded_and_queued() {
    let t = TestStack::new().await;
    let (key, token) = t
        .create_key(json!({"name": "LP", "defaultTags": ["lp"]}))
        .await;
    let r = t
        .hook(&key, &token, json!({"name": "Alex Customer", "phone": "+91 98765 43210", "email": " Alex@Example.com",
                                   "tags": "vip, webinar", "utm_source": "google"}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let body = r.json();
    let event_id = body["eventId"].as_str().unwrap().to_owned();
    assert!(event_id.starts_with("evt_"));
    assert_eq!(body["status"], "RECEIVED");
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/events/{event_id}").as_str())
    );

    let (status, input, source) = event_input(&t, &event_id).await;
    assert_eq!(status, EventStatus::Received);
    assert_eq!(source, json!({"type": "webhook", "keyId": key}));
    assert_eq!(input.email.as_deref(), Some("alex@example.com"));
    assert_eq!(input.phone.as_deref(), Some("+919876543210"));
    assert_eq!(input.first_name.as_deref(), Some("Alex"));
    assert_eq!(input.last_name.as_deref(), Some("Customer"));
    assert_eq!(input.tags, vec!["vip", "webinar"]);
    assert_eq!(input.custom_fields["utm_source"], "google");

    let shown = t
        .admin("GET", &format!("/v1/events/{event_id}"), None)
        .await;
    assert_eq!(shown.status, 200);
    let shown = shown.json();
    assert_eq!(shown["id"], event_id.as_str());
    assert_eq!(shown["status"], "RECEIVED");
    assert_eq!(shown["source"]["keyId"], key.as_str());
    assert!(shown["receivedAt"].as_str().unwrap().ends_with('Z'));

    let messages = t.drain_leads_queue().await;
    assert_eq!(
        messages,
        vec![json!({"type": "event", "workspace": "default", "eventId": event_id})]
    );

    let listed = t
        .admin("GET", "/v1/events?status=RECEIVED", None)
        .await
        .json();
    assert_eq!(listed["items"][0]["id"], event_id.as_str());
    let none = t
        .admin("GET", "/v1/events?status=failed", None)
        .await
        .json();
    assert_eq!(none["items"], json!([]));
    assert_eq!(
        t.admin("GET", "/v1/events?status=LOST", None).await.status,
        422
    );

    let k = t
        .admin("GET", &format!("/v1/keys/{key}"), None)
        .await
        .json();
    assert_eq!(k["requestCount"], 1);
}

#[tokio::test]
async fn form_body_and_bearer_token() {
    let t = TestStack::new().await;
    let (key, token) = t.create_key(json!({"name": "form"})).await;
    let auth = format!("Bearer {token}");
    let r = t
        .call(
            "POST",
            &format!("/v1/hooks/{key}"),
            &[("authorization", &auth), ("content-type", "application/x-www-form-urlencoded")],
            "first_name=Ann&last_name=Lee&phone_number=%28415%29+555-0123&tags%5B%5D=a&tags%5B%5D=b&interest=x&interest=y",
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let (_, input, _) = event_input(&t, r.json()["eventId"].as_str().unwrap()).await;
    assert_eq!(input.name.as_deref(), Some("Ann Lee"));
    assert_eq!(input.phone.as_deref(), Some("+14155550123"));
    assert_eq!(input.tags, vec!["a", "b"]);
    assert_eq!(input.custom_fields["interest"], json!(["x", "y"]));
}

#[tokio::test]
async fn unknown_key_and_wrong_token_answer_alike() {
    let t = TestStack::new().await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let body = json!({"email": "a@b.co"});
    let cases = [
        (key.clone(), None),
        (key.clone(), Some("wh_live_wrong")),
        (key.clone(), Some(&token[..token.len() - 1])),
        (
            "key_01m821mbnnr1k9t1rt5sew9tj2".to_owned(),
            Some(token.as_str()),
        ),
        ("nonsense".to_owned(), Some(token.as_str())),
    ];
    let mut bodies = Vec::new();
    for (k, tok) in cases {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(tok) = tok {
            headers.push(("x-webhook-token", tok));
        }
        let r = t
            .call(
                "POST",
                &format!("/v1/hooks/{k}"),
                &headers,
                body.to_string(),
            )
            .await;
        assert_eq!(r.status, 401, "{k} {tok:?}");
        let mut j = r.json();
        j["requestId"] = Value::Null;
        bodies.push(j);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "401 bodies differ: {bodies:?}"
    );
    assert!(t.drain_leads_queue().await.is_empty());
}

#[tokio::test]
async fn origin_allow_list_and_cors() {
    let t = TestStack::new().await;
    let (key, token) = t
        .create_key(json!({"name": "web", "allowedDomains": ["*.example.com"]}))
        .await;
    let path = format!("/v1/hooks/{key}");
    let post = |origin: Option<&'static str>, referer: Option<&'static str>| {
        let (t, path, token) = (&t, path.clone(), token.clone());
        async move {
            let mut h = vec![
                ("x-webhook-token", token.as_str()),
                ("content-type", "application/json"),
            ];
            if let Some(o) = origin {
                h.push(("origin", o));
            }
            if let Some(r) = referer {
                h.push(("referer", r));
            }
            t.call("POST", &path, &h, json!({"email": "a@b.co"}).to_string())
                .await
        }
    };
    let ok = post(Some("https://www.example.com"), None).await;
    assert_eq!(ok.status, 202);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://www.example.com")
    );
    assert_eq!(
        post(None, Some("https://shop.example.com/landing?x=1"))
            .await
            .status,
        202
    );
    for (origin, referer) in [
        (Some("https://example.com"), None),
        (Some("https://example.com.evil.test"), None),
        (Some("https://evil.test"), Some("https://www.example.com/")),
        (None, Some("https://evilexample.com/")),
        (Some("null"), None),
        (None, None),
    ] {
        let r = post(origin, referer).await;
        assert_eq!(r.status, 403, "{origin:?} {referer:?}");
        assert_eq!(r.code(), "origin_not_allowed");
        // The message names what arrived, so the sender can fix its list.
        let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
        let expected = match (origin, referer) {
            (Some(o), _) => format!("Origin {o} is not allowed for this key"),
            (None, Some(r)) => format!("Referer {r} is not allowed for this key"),
            (None, None) => {
                "a request without Origin or Referer is not allowed for this key".to_owned()
            }
        };
        assert_eq!(message, expected);
    }

    let pre = t
        .call(
            "OPTIONS",
            &path,
            &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "POST"),
            ],
            "",
        )
        .await;
    assert_eq!(pre.status, 204);
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(
        pre.header("access-control-allow-headers")
            .unwrap()
            .contains("X-Webhook-Token")
    );
    assert!(
        pre.header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    let pre = t
        .call("OPTIONS", &path, &[("origin", "https://example.com")], "")
        .await;
    assert_eq!(pre.status, 403);
    assert_eq!(pre.code(), "origin_not_allowed");

    // An empty list allows any origin, and requests with neither header.
    let (open, open_token) = t.create_key(json!({"name": "server"})).await;
    assert_eq!(
        t.hook(&open, &open_token, json!({"email": "a@b.co"}))
            .await
            .status,
        202
    );
    let pre = t
        .call(
            "OPTIONS",
            &format!("/v1/hooks/{open}"),
            &[("origin", "https://anywhere.test")],
            "",
        )
        .await;
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("https://anywhere.test")
    );
}

#[tokio::test]
async fn an_unreadable_stored_allow_list_refuses_every_origin() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let t = TestStack::new().await;
    let (key, token) = t
        .create_key(json!({"name": "site", "allowedDomains": ["example.com"]}))
        .await;
    // The stored list no longer parses (edited by hand, another version…).
    let item_key = leadpipe::aws::table::webhook_key(&key);
    aws_sdk_dynamodb::Client::new(&t.sdk)
        .update_item()
        .table_name(&t.stack.config().table)
        .key("pk", AttributeValue::S(item_key.pk.clone()))
        .key("sk", AttributeValue::S(item_key.sk.clone()))
        .update_expression("SET allowedDomains = :d")
        .expression_attribute_values(":d", AttributeValue::L(vec![AttributeValue::S("*".into())]))
        .send()
        .await
        .unwrap();
    let path = format!("/v1/hooks/{key}");
    let body = json!({"email": "a@b.co"}).to_string();
    for origin in [Some("https://example.com"), Some("https://evil.test"), None] {
        let mut headers = vec![
            ("x-webhook-token", token.as_str()),
            ("content-type", "application/json"),
        ];
        headers.extend(origin.map(|o| ("origin", o)));
        let r = t.call("POST", &path, &headers, body.clone()).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (403, "allow_list_unreadable"),
            "{origin:?}: {}",
            r.text()
        );
        assert!(r.json()["requestId"].is_string());
    }
    let pre = t
        .call("OPTIONS", &path, &[("origin", "https://evil.test")], "")
        .await;
    assert_eq!(
        (pre.status, pre.code().as_str()),
        (403, "allow_list_unreadable")
    );
    assert_eq!(pre.header("access-control-allow-origin"), None);
    assert!(t.drain_leads_queue().await.is_empty());
    // Saving the list again restores the key.
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/keys/{key}"),
            Some(json!({"allowedDomains": ["example.com"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = t
        .call(
            "POST",
            &path,
            &[
                ("x-webhook-token", token.as_str()),
                ("content-type", "application/json"),
                ("origin", "https://example.com"),
            ],
            body,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
}

#[tokio::test]
async fn bad_bodies() {
    let t = TestStack::new().await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let path = format!("/v1/hooks/{key}");
    let send = |ct: &'static str, body: Vec<u8>| {
        let (t, path, token) = (&t, path.clone(), token.clone());
        async move {
            t.call(
                "POST",
                &path,
                &[("x-webhook-token", &token), ("content-type", ct)],
                body,
            )
            .await
        }
    };
    let r = send("text/plain", b"email=a@b.co".to_vec()).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (415, "unsupported_media_type")
    );
    let r = send("application/json", b"{\"email\": ".to_vec()).await;
    assert_eq!((r.status, r.code().as_str()), (400, "malformed_body"));
    for body in ["[{\"email\":\"a@b.co\"}]", "\"a@b.co\"", "null"] {
        let r = send("application/json", body.as_bytes().to_vec()).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "malformed_body"),
            "{body}"
        );
    }
    let mut big = br#"{"email":"a@b.co","notes":""#.to_vec();
    big.extend(std::iter::repeat_n(b'x', 70 * 1024));
    big.extend(br#""}"#);
    let r = send("application/json", big).await;
    assert_eq!((r.status, r.code().as_str()), (413, "payload_too_large"));

    let r = send(
        "application/json",
        json!({"name": "No Contact"}).to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"]["details"][0]["field"], "email");
    let r = send(
        "application/json",
        json!({"email": "not-an-email", "phone": "12"})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!((r.status, r.code().as_str()), (422, "validation_failed"));
    let details = r.json()["error"]["details"].clone();
    assert_eq!(details.as_array().unwrap().len(), 2, "{details}");
    assert_eq!(
        details[0],
        json!({"field": "email", "issue": "not a valid address"})
    );
    assert_eq!(details[1]["field"], "phone");
    let r = send(
        "application/json",
        json!({"phone": "+1 000 000 0000"}).to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.json()["error"]["details"][0]["field"], "phone");

    // Nothing of it was stored or queued, and no request was counted.
    assert!(t.drain_leads_queue().await.is_empty());
    assert_eq!(
        t.admin("GET", "/v1/events", None).await.json()["items"],
        json!([])
    );
    assert_eq!(
        t.admin("GET", &format!("/v1/keys/{key}"), None)
            .await
            .json()["requestCount"],
        0
    );
}

#[tokio::test]
async fn honeypot_drops_silently() {
    let t = TestStack::new().await;
    let (key, token) = t
        .create_key(json!({"name": "form", "honeypotField": "company_url"}))
        .await;
    let human = t
        .hook(
            &key,
            &token,
            json!({"email": "human@b.co", "company_url": ""}),
        )
        .await;
    let bot = t
        .hook(
            &key,
            &token,
            json!({"email": "bot@b.co", "company_url": "http://spam.test"}),
        )
        .await;
    assert_eq!(human.status, 202);
    assert_eq!(bot.status, human.status);
    let (h, b) = (human.json(), bot.json());
    assert_eq!(b["status"], h["status"]);
    assert_ne!(b["eventId"], h["eventId"]);
    assert!(b["eventId"].as_str().unwrap().starts_with("evt_"));
    assert!(bot.header("location").is_some());
    // Only the human's event exists and is queued.
    let bot_event = b["eventId"].as_str().unwrap();
    assert_eq!(
        t.admin("GET", &format!("/v1/events/{bot_event}"), None)
            .await
            .status,
        404
    );
    assert_eq!(t.drain_leads_queue().await.len(), 1);
    let k = t
        .admin("GET", &format!("/v1/keys/{key}"), None)
        .await
        .json();
    assert_eq!(
        (k["requestCount"].clone(), k["droppedCount"].clone()),
        (json!(1), json!(1))
    );
    // The honeypot field is not kept as data.
    let (_, input, _) = event_input(&t, h["eventId"].as_str().unwrap()).await;
    assert!(input.custom_fields.is_empty());
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer() {
    let t = TestStack::new().await;
    let (key, token) = t.create_key(json!({"name": "zap"})).await;
    let path = format!("/v1/hooks/{key}");
    let body = json!({"email": "a@b.co"}).to_string();
    let headers = [
        ("x-webhook-token", token.as_str()),
        ("content-type", "application/json"),
        ("idempotency-key", "zap-123"),
    ];
    let first = t.call("POST", &path, &headers, body.clone()).await;
    let second = t.call("POST", &path, &headers, body.clone()).await;
    assert_eq!(first.status, 202);
    assert_eq!(second.status, 202);
    assert_eq!(first.json(), second.json());
    assert_eq!(first.header("location"), second.header("location"));
    assert_eq!(t.drain_leads_queue().await.len(), 1);
    assert_eq!(
        t.admin("GET", "/v1/events", None).await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let other = t
        .call(
            "POST",
            &path,
            &headers,
            json!({"email": "other@b.co"}).to_string(),
        )
        .await;
    assert_eq!((other.status, other.code().as_str()), (409, "conflict"));

    // Another key (scope) with the same Idempotency-Key is independent.
    let (key2, token2) = t.create_key(json!({"name": "zap2"})).await;
    let h2 = [
        ("x-webhook-token", token2.as_str()),
        ("content-type", "application/json"),
        ("idempotency-key", "zap-123"),
    ];
    let r = t
        .call("POST", &format!("/v1/hooks/{key2}"), &h2, body)
        .await;
    assert_eq!(r.status, 202);
    assert_ne!(r.json()["eventId"], first.json()["eventId"]);

    let bad = [
        ("x-webhook-token", token.as_str()),
        ("content-type", "application/json"),
        ("idempotency-key", "é"),
    ];
    let r = t.call("POST", &path, &bad, "{\"email\":\"a@b.co\"}").await;
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn enqueue_failure_leaves_nothing_behind() {
    let t =
        TestStack::with_config(|c| c.leads_queue_url = format!("{}-missing", c.leads_queue_url))
            .await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let path = format!("/v1/hooks/{key}");
    let headers = [
        ("x-webhook-token", token.as_str()),
        ("content-type", "application/json"),
        ("idempotency-key", "retry-me"),
    ];
    let r = t
        .call("POST", &path, &headers, "{\"email\":\"a@b.co\"}")
        .await;
    assert_eq!((r.status, r.code().as_str()), (500, "internal"));
    assert!(
        !r.text().contains("missing"),
        "internals leaked: {}",
        r.text()
    );
    assert_eq!(
        t.admin("GET", "/v1/events", None).await.json()["items"],
        json!([])
    );
    // A request that was not accepted is not counted.
    let k = t
        .admin("GET", &format!("/v1/keys/{key}"), None)
        .await
        .json();
    assert_eq!(k["requestCount"], 0);
    // The idempotency claim was released: a retry is processed, not replayed.
    let again = t
        .call("POST", &path, &headers, "{\"email\":\"a@b.co\"}")
        .await;
    assert_eq!(again.status, 500);
}

#[tokio::test]
async fn a_burst_is_counted_exactly() {
    let t = TestStack::new().await;
    let (key, token) = t.create_key(json!({"name": "burst"})).await;
    let sends = (0..40).map(|i| t.hook(&key, &token, json!({"email": format!("p{i}@b.co")})));
    let replies = futures::future::join_all(sends).await;
    assert!(replies.iter().all(|r| r.status == 202));
    let ids: std::collections::HashSet<String> = replies
        .iter()
        .map(|r| r.json()["eventId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 40);
    assert_eq!(
        t.admin("GET", &format!("/v1/keys/{key}"), None)
            .await
            .json()["requestCount"],
        40
    );
    assert_eq!(t.drain_leads_queue().await.len(), 40);
}

#[tokio::test]
async fn a_cold_start_warms_up_the_secret_in_the_background() {
    let t = TestStack::new().await;
    let app = leadpipe::App::new(t.stack.config(), &t.sdk);
    assert!(!app.secrets.is_cached().await);
    app.warm_up(leadpipe::app::WarmUp {
        secret: true,
        table: true,
        phones: true,
        graph: true,
        webhooks: true,
    });
    let mut cached = false;
    for _ in 0..100 {
        if app.secrets.is_cached().await {
            cached = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(cached, "the secret was not fetched by the warm-up");
    let scan = aws_sdk_dynamodb::Client::new(&t.sdk)
        .scan()
        .table_name(&t.stack.config().table)
        .send()
        .await
        .unwrap();
    assert!(
        scan.items()
            .iter()
            .all(|i| i["pk"].as_s().map(String::as_str) != Ok("WARMUP")),
        "the table warm-up only reads"
    );
}

/// A large submission is kept beside its event, not in it: the event stays
/// one write unit on both its writes (received, ended), and the lead still
/// gets every field.
#[tokio::test]
async fn a_large_submission_is_kept_beside_its_event() {
    let t = TestStack::new().await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let fields: serde_json::Map<String, Value> = (0..40)
        .map(|i| (format!("field{i:02}"), json!("x".repeat(400))))
        .collect();
    let mut body = json!({"email": "big@example.com"});
    body.as_object_mut().unwrap().extend(fields);
    let id = t.post_lead(&key, &token, body).await;
    let raw: Value = {
        let k = leadpipe::aws::table::event(&leadpipe::rules::ids::WorkspaceId::default(), &id);
        t.app.store.get(&k.pk, &k.sk).await.unwrap().unwrap()
    };
    assert_eq!(raw["inputApart"], true, "{raw}");
    assert!(raw.get("input").is_none());
    assert!(serde_json::to_vec(&raw).unwrap().len() < 1024);
    t.process_queue().await;
    let e = t.event(&id).await;
    assert_eq!(e["status"], "PROCESSED", "{e}");
    let lead = t
        .admin(
            "GET",
            &format!("/v1/leads/{}", e["leadId"].as_str().unwrap()),
            None,
        )
        .await
        .json();
    assert_eq!(lead["customFields"].as_object().unwrap().len(), 40);
    // A small one stays inline.
    let small = t
        .post_lead(&key, &token, json!({"email": "small@example.com"}))
        .await;
    let k = leadpipe::aws::table::event(&leadpipe::rules::ids::WorkspaceId::default(), &small);
    let raw: Value = t.app.store.get(&k.pk, &k.sk).await.unwrap().unwrap();
    assert!(
        raw["input"].is_string() && raw.get("inputApart").is_none(),
        "{raw}"
    );
}
