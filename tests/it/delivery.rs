//! Subscriptions and outbound webhooks against the emulator and real local
//! receivers: signatures, templates, filters, retries, the DLQ, timeouts,
//! 410, rotation, the SSRF guard, and secrets kept out of reads and logs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use leadpipe::http::resolver::Dns;
use leadpipe::{App, Config};
use leadpipe_tests::{LogCapture, Recorded, ScriptedServer, TestStack, leadpipe};
use serde_json::{Value, json};
use sha2::Sha256;

async fn stack() -> TestStack {
    TestStack::with_config(|c| c.allow_private_targets = true).await
}

/// Creates a key and a subscription to `receiver` + `path`; returns (key, token, subscription JSON).
async fn setup(
    t: &TestStack,
    receiver: &ScriptedServer,
    path: &str,
    extra: Value,
) -> (String, String, Value) {
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let mut body = json!({"url": format!("{}{path}", receiver.base_url)});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = t.admin("POST", "/v1/subscriptions", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    (key, token, r.json())
}

/// The id of the first pending delivery, through the admin API.
async fn first_pending_delivery(t: &TestStack) -> String {
    let pending = t
        .admin("GET", "/v1/deliveries?status=pending", None)
        .await
        .json();
    pending["items"][0]["id"].as_str().unwrap().to_owned()
}

/// Runs the pipeline until the deliveries queue is quiet for `quiet`.
async fn pump(t: &TestStack, rounds: usize, pause: Duration) {
    for _ in 0..rounds {
        t.process_queue().await;
        t.deliver_queue().await;
        tokio::time::sleep(pause).await;
    }
}

/// Verifies a Standard Webhooks signature independently of Leadpipe's code.
fn verify(secret: &str, r: &Recorded) -> Vec<bool> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let id = r.headers["webhook-id"].to_str().unwrap();
    let ts = r.headers["webhook-timestamp"].to_str().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&r.body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    r.headers["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .map(|s| s == expected)
        .collect()
}

#[tokio::test]
async fn a_lead_arrives_signed_with_every_header() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/hook", &[(200, "{}")]);
    let (key, token, sub) = setup(
        &t,
        &crm,
        "/hook",
        json!({"auth": {"type": "bearer", "token": "crm-api-key-123"},
                                                            "headers": {"X-Tenant": "acme"}}),
    )
    .await;
    let secret = sub["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&secret[6..])
            .unwrap()
            .len(),
        32
    );
    t.post_lead(
        &key,
        &token,
        json!({"email": "Signed@Example.com", "name": "Sig Ned", "phone": "+1 415 555 0100"}),
    )
    .await;
    pump(&t, 1, Duration::ZERO).await;

    let got = crm.requests_to("/hook");
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(
        verify(&secret, r),
        vec![true],
        "Standard Webhooks signature"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(&secret[6..])
            .unwrap(),
    )
    .unwrap();
    mac.update(&r.body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        r.headers["x-leadpipe-signature"],
        format!("sha256={hex}").as_str()
    );
    let id = r.headers["webhook-id"].to_str().unwrap();
    assert!(id.starts_with("dlv_"));
    assert_eq!(r.headers["x-leadpipe-delivery-id"], id);
    assert_eq!(r.headers["x-leadpipe-event"], "lead.created");
    assert_eq!(r.headers["x-leadpipe-source"], "webhook");
    assert_eq!(r.headers["x-leadpipe-attempt"], "1");
    assert_eq!(r.headers["content-type"], "application/json");
    assert!(
        r.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("leadpipe/")
    );
    assert_eq!(r.headers["authorization"], "Bearer crm-api-key-123");
    assert_eq!(r.headers["x-tenant"], "acme");
    let ts: i64 = r.headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((leadpipe::rules::clock::now_s() - ts).abs() < 60);

    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], "lead.created");
    assert_eq!(body["deliveryId"], id);
    assert_eq!(body["lead"]["email"], "signed@example.com");
    assert_eq!(body["lead"]["phone"], "+14155550100");
    assert_eq!(
        body["lead"]["source"],
        json!({"type": "webhook", "keyId": key})
    );
    assert!(body.get("previousSeenAt").is_none() && body.get("changes").is_none());

    let d = t
        .admin("GET", &format!("/v1/deliveries/{id}"), None)
        .await
        .json();
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["subscriptionId"], sub["id"]);
    assert_eq!(d["eventType"], "lead.created");
    assert_eq!(d["leadId"], body["lead"]["id"]);
    assert_eq!(d["attempts"][0]["n"], 1);
    assert_eq!(d["attempts"][0]["statusCode"], 200);
    assert!(d["attempts"][0]["durationMs"].is_u64());
    assert_eq!(d["attempts"][0]["error"], Value::Null);
    let listed = t
        .admin(
            "GET",
            &format!(
                "/v1/deliveries?subscriptionId={}&status=delivered",
                sub["id"].as_str().unwrap()
            ),
            None,
        )
        .await
        .json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let none = t
        .admin("GET", "/v1/deliveries?status=dead", None)
        .await
        .json();
    assert_eq!(none["items"], json!([]));
}

#[tokio::test]
async fn a_hubspot_template_with_a_quote_and_a_missing_placeholder() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/contacts", &[(201, "{}")]);
    let template = r#"{"properties": {"email": "{{lead.email}}", "firstname": "{{lead.firstName}}", "lastname": "{{lead.lastName}}",
        "phone": "{{lead.phone}}", "company": "{{lead.customFields.company}}", "lead_source": "Leadpipe {{lead.source.type}}"}}"#;
    let (key, token, _) = setup(&t, &crm, "/contacts", json!({"template": template})).await;
    t.post_lead(&key, &token, json!({"email": "q@example.com", "first_name": "Dwayne \"The Rock\"", "last_name": "Johnson"})).await;
    pump(&t, 1, Duration::ZERO).await;
    let got = crm.requests_to("/contacts");
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(
        body,
        json!({"properties": {"email": "q@example.com", "firstname": "Dwayne \"The Rock\"", "lastname": "Johnson",
                              "phone": "", "company": "", "lead_source": "Leadpipe webhook"}})
    );
    // An invalid template is refused at save.
    let r = t
        .admin("POST", "/v1/subscriptions", Some(json!({"url": format!("{}/x", crm.base_url), "template": "{\"a\": {{lead.email}}}"})))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"]["details"][0]["field"], "template");
}

#[tokio::test]
async fn event_and_source_filters() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/all", &[(200, "{}")]);
    crm.script("/reengaged", &[(200, "{}")]);
    crm.script("/otherkey", &[(200, "{}")]);
    crm.script("/updated", &[(200, "{}")]);
    let (key, token, _) = setup(&t, &crm, "/all", json!({"events": ["*"]})).await;
    t.admin(
        "POST",
        "/v1/subscriptions",
        Some(json!({"url": format!("{}/reengaged", crm.base_url), "events": ["lead.re_engaged"]})),
    )
    .await;
    t.admin("POST", "/v1/subscriptions", Some(json!({"url": format!("{}/otherkey", crm.base_url), "sources": ["key:key_01m821mbnnr1k9t1rt5sew9tj2"]}))).await;
    let upd = t.admin("POST", "/v1/subscriptions", Some(json!({"url": format!("{}/updated", crm.base_url), "events": ["lead.updated"], "sources": [format!("key:{key}")]}))).await;
    assert_eq!(upd.status, 201);
    let evt = t
        .post_lead(&key, &token, json!({"email": "f@example.com"}))
        .await;
    pump(&t, 1, Duration::ZERO).await;
    assert_eq!(crm.requests_to("/all").len(), 1);
    assert_eq!(crm.requests_to("/reengaged").len(), 0);
    assert_eq!(crm.requests_to("/otherkey").len(), 0);
    assert_eq!(crm.requests_to("/updated").len(), 0);

    // lead.updated after a PATCH, with what changed.
    let lead_id = t.event(&evt).await["leadId"].as_str().unwrap().to_owned();
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/leads/{lead_id}"),
            Some(json!({"status": "contacted", "tags": ["hot"], "fields": {"owner": "sam"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "contacted");
    pump(&t, 1, Duration::ZERO).await;
    let got = crm.requests_to("/updated");
    assert_eq!(got.len(), 1);
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["type"], "lead.updated");
    assert_eq!(
        body["changes"]["status"],
        json!({"from": "unassigned", "to": "contacted"})
    );
    assert_eq!(body["changes"]["tags"], json!({"from": [], "to": ["hot"]}));
    assert_eq!(
        body["changes"]["fields"]["owner"],
        json!({"from": null, "to": "sam"})
    );
    assert_eq!(body["lead"]["status"], "contacted");
    assert_eq!(got[0].headers["x-leadpipe-event"], "lead.updated");
    assert_eq!(crm.requests_to("/all").len(), 2);
    // A PATCH that changes nothing fires nothing.
    t.admin(
        "PATCH",
        &format!("/v1/leads/{lead_id}"),
        Some(json!({"status": "contacted"})),
    )
    .await;
    pump(&t, 1, Duration::ZERO).await;
    assert_eq!(crm.requests_to("/all").len(), 2);
    assert_eq!(
        t.admin("GET", "/v1/leads?status=contacted", None)
            .await
            .json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn failures_are_retried_with_growing_gaps() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script(
        "/flaky",
        &[(500, "oops"), (502, "bad gateway"), (200, "ok")],
    );
    let (key, token, _) = setup(&t, &crm, "/flaky", json!({})).await;
    t.post_lead(&key, &token, json!({"email": "retry@example.com"}))
        .await;
    for _ in 0..60 {
        pump(&t, 1, Duration::from_millis(100)).await;
        if crm.requests_to("/flaky").len() >= 3 {
            break;
        }
    }
    let got = crm.requests_to("/flaky");
    assert_eq!(got.len(), 3);
    let attempts: Vec<&str> = got
        .iter()
        .map(|r| r.headers["x-leadpipe-attempt"].to_str().unwrap())
        .collect();
    assert_eq!(attempts, vec!["1", "2", "3"]);
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "webhook-id is stable across retries"
    );
    let (gap1, gap2) = (got[1].at - got[0].at, got[2].at - got[1].at);
    assert!(
        gap1 >= Duration::from_millis(750),
        "first retry after ~1 s, was {gap1:?}"
    );
    assert!(gap2 > gap1, "gaps grow: {gap1:?} then {gap2:?}");
    let d = t
        .admin("GET", &format!("/v1/deliveries/{}", ids[0]), None)
        .await
        .json();
    assert_eq!(d["status"], "delivered");
    let codes: Vec<Value> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["statusCode"].clone())
        .collect();
    assert_eq!(codes, vec![json!(500), json!(502), json!(200)]);
    assert_eq!(d["attempts"][0]["response"], "oops");
    assert_eq!(d["attempts"][0]["error"], "HTTP 500");
}

#[tokio::test]
async fn dead_then_dlq_then_redrive_then_delivered() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/down", &[(503, "down")]);
    let (key, token, _) = setup(&t, &crm, "/down", json!({"maxAttempts": 2})).await;
    t.post_lead(&key, &token, json!({"email": "dead@example.com"}))
        .await;
    for _ in 0..40 {
        pump(&t, 1, Duration::from_millis(100)).await;
        if t.queue_depth(&t.stack.deliveries_dlq_url).await == 1 {
            break;
        }
    }
    assert_eq!(crm.requests_to("/down").len(), 2);
    assert_eq!(t.queue_depth(&t.stack.deliveries_dlq_url).await, 1);
    let dead = t
        .admin("GET", "/v1/deliveries?status=dead", None)
        .await
        .json();
    let id = dead["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(dead["items"][0]["attempts"].as_array().unwrap().len(), 2);

    crm.script("/down", &[(200, "back")]);
    let r = t.admin("POST", "/v1/dlq/redrive", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["moved"], json!({"leads": 0, "deliveries": 1}));
    assert_eq!(t.queue_depth(&t.stack.deliveries_dlq_url).await, 0);
    pump(&t, 1, Duration::ZERO).await;
    let d = t
        .admin("GET", &format!("/v1/deliveries/{id}"), None)
        .await
        .json();
    assert_eq!(d["status"], "delivered");
    let ns: Vec<u64> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, vec![1, 2, 3], "attempt numbers keep counting");
    assert_eq!(
        crm.requests_to("/down").last().unwrap().headers["x-leadpipe-attempt"],
        "3"
    );

    // A delivered one can be sent again on demand; a pending one cannot.
    let r = t
        .admin("POST", &format!("/v1/deliveries/{id}/retry"), None)
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.json()["status"], "pending");
    assert_eq!(
        t.admin("POST", &format!("/v1/deliveries/{id}/retry"), None)
            .await
            .status,
        409
    );
    pump(&t, 1, Duration::ZERO).await;
    assert_eq!(crm.requests_to("/down").len(), 4);
    assert_eq!(
        t.admin("POST", "/v1/deliveries/dlv_nope/retry", None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_receiver_that_hangs_times_out_and_redirects_fail() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/hang", &[(0, "")]);
    crm.script("/moved", &[(302, "")]);
    let (_, _, hang) = setup(&t, &crm, "/hang", json!({})).await;
    let r = t
        .admin(
            "POST",
            &format!("/v1/subscriptions/{}/test", hang["id"].as_str().unwrap()),
            None,
        )
        .await;
    let j = r.json();
    assert_eq!(j["delivered"], false);
    assert_eq!(j["statusCode"], Value::Null);
    assert!(j["error"].as_str().unwrap().contains("timed out"), "{j}");
    let moved = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"url": format!("{}/moved", crm.base_url)})),
        )
        .await
        .json();
    let j = t
        .admin(
            "POST",
            &format!("/v1/subscriptions/{}/test", moved["id"].as_str().unwrap()),
            None,
        )
        .await
        .json();
    assert_eq!(j["delivered"], false);
    assert_eq!(j["statusCode"], 302);
    assert!(j["error"].as_str().unwrap().contains("redirect"));
}

#[tokio::test]
async fn gone_disables_the_subscription() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/gone", &[(410, "gone")]);
    let (key, token, sub) = setup(&t, &crm, "/gone", json!({})).await;
    t.post_lead(&key, &token, json!({"email": "gone@example.com"}))
        .await;
    pump(&t, 2, Duration::from_millis(50)).await;
    assert_eq!(crm.requests_to("/gone").len(), 1, "no retry after 410");
    let s = t
        .admin(
            "GET",
            &format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap()),
            None,
        )
        .await
        .json();
    assert_eq!(s["enabled"], false);
    assert!(s["disabledReason"].as_str().unwrap().contains("410"));
    assert_eq!(s["url"], sub["url"], "config kept");
    let dead = t
        .admin("GET", "/v1/deliveries?status=dead", None)
        .await
        .json();
    assert_eq!(dead["items"].as_array().unwrap().len(), 1);
    // Further leads are not sent to a disabled subscription.
    t.post_lead(&key, &token, json!({"email": "gone2@example.com"}))
        .await;
    pump(&t, 1, Duration::ZERO).await;
    assert_eq!(crm.requests_to("/gone").len(), 1);
    // Re-enabling keeps URL and secret and clears the reason.
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap()),
            Some(json!({"enabled": true})),
        )
        .await
        .json();
    assert_eq!(r["enabled"], true);
    assert!(r.get("disabledReason").is_none());
    assert_eq!(
        r["secret"],
        t.admin(
            "GET",
            &format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap()),
            None
        )
        .await
        .json()["secret"]
    );
}

#[tokio::test]
async fn rotation_sends_both_signatures_during_the_grace_period() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/rot", &[(200, "{}")]);
    let given = leadpipe::rules::signing::new_secret();
    let (key, token, sub) = setup(&t, &crm, "/rot", json!({"secret": given})).await;
    assert_eq!(sub["secret"], given.as_str());
    let r = t
        .admin(
            "POST",
            &format!(
                "/v1/subscriptions/{}/rotate-secret",
                sub["id"].as_str().unwrap()
            ),
            Some(json!({"graceSeconds": 3600})),
        )
        .await;
    assert_eq!(r.status, 200);
    let new = r.json()["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, given);
    assert!(r.json()["previousSecretExpiresAt"].is_string());
    t.post_lead(&key, &token, json!({"email": "rot@example.com"}))
        .await;
    pump(&t, 1, Duration::ZERO).await;
    let got = crm.requests_to("/rot");
    assert_eq!(verify(&new, &got[0]), vec![true, false], "new first");
    assert_eq!(verify(&given, &got[0]), vec![false, true], "then the old");

    // With no grace, only the new secret signs.
    let r = t
        .admin(
            "POST",
            &format!(
                "/v1/subscriptions/{}/rotate-secret",
                sub["id"].as_str().unwrap()
            ),
            Some(json!({"graceSeconds": 0})),
        )
        .await;
    let newest = r.json()["secret"].as_str().unwrap().to_owned();
    t.post_lead(&key, &token, json!({"email": "rot2@example.com"}))
        .await;
    pump(&t, 1, Duration::ZERO).await;
    let got = crm.requests_to("/rot");
    assert_eq!(verify(&newest, got.last().unwrap()), vec![true]);
}

#[tokio::test]
async fn the_ssrf_guard_at_save_time() {
    let t = TestStack::new().await; // private targets not allowed
    for url in [
        "http://example.com/hook",
        "https://127.0.0.1/x",
        "https://2130706433/x",
        "https://0x7f000001/x",
        "https://127.1/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.8/x",
        "https://192.168.0.1/x",
        "https://100.64.1.1/x",
        "https://[fd12::1]/x",
        "https://[fe80::1]/x",
        "https://224.0.0.1/x",
        "https://0.0.0.0/x",
        "https://localhost/x",
        "https://api.localhost/x",
        "https://metadata.google.internal/x",
        "https://nas.local/x",
    ] {
        let r = t
            .admin("POST", "/v1/subscriptions", Some(json!({"url": url})))
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (422, "unsafe_url"),
            "{url}: {}",
            r.text()
        );
    }
    let ok = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"url": "https://hooks.example.com/leadpipe"})),
        )
        .await;
    assert_eq!(ok.status, 201);
    let id = ok.json()["id"].as_str().unwrap().to_owned();
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/subscriptions/{id}"),
            Some(json!({"url": "https://127.0.0.1/"})),
        )
        .await;
    assert_eq!(r.code(), "unsafe_url");
    for bad in [
        json!({"url": "https://hooks.example.com/x", "headers": {"webhook-signature": "v1,forged"}}),
        json!({"url": "https://hooks.example.com/x", "headers": {"X-Leadpipe-Event": "lead.created"}}),
        json!({"url": "https://hooks.example.com/x", "headers": {"X-Bad": "a\r\nInjected: 1"}}),
        json!({"url": "https://hooks.example.com/x", "auth": {"type": "header", "name": "Webhook-Id", "value": "x"}}),
        json!({"url": "https://hooks.example.com/x", "auth": {"type": "basic"}}),
        json!({"url": "https://hooks.example.com/x", "events": ["lead.removed"]}),
        json!({"url": "https://hooks.example.com/x", "sources": ["everything"]}),
        json!({"url": "https://hooks.example.com/x", "secret": "nope"}),
        json!({"url": "https://hooks.example.com/x", "maxAttempts": 0}),
        json!({"events": ["*"]}),
    ] {
        let r = t
            .admin("POST", "/v1/subscriptions", Some(bad.clone()))
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (422, "validation_failed"),
            "{bad}: {}",
            r.text()
        );
    }
}

#[tokio::test]
async fn the_ssrf_guard_at_send_time() {
    let crm = ScriptedServer::start().await;
    crm.script("/internal", &[(200, "{}")]);
    let port = crm.base_url.rsplit(':').next().unwrap().to_owned();
    // A name that looked public when saved and resolves to loopback when sent.
    let public: IpAddr = "93.184.216.34".parse().unwrap();
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    let t = TestStack::with_config(|c| c.allow_private_targets = false).await;
    let saving = App::with_dns(
        t.app.config.clone(),
        &t.sdk,
        Dns::with_overrides(HashMap::from([(
            "crm.rebind.test".to_owned(),
            vec![public],
        )])),
    );
    let sending = App::with_dns(
        t.app.config.clone(),
        &t.sdk,
        Dns::with_overrides(HashMap::from([(
            "crm.rebind.test".to_owned(),
            vec![loopback],
        )])),
    );
    // Saved over https (it looked public); the receiver speaks plain HTTP,
    // but the guard refuses before any byte is sent.
    let changes = leadpipe::model::subscriptions::SubChanges {
        url: Some(format!("https://crm.rebind.test:{port}/internal")),
        ..Default::default()
    };
    let (sub, _) = leadpipe::model::subscriptions::create(&saving.default_scope(), changes)
        .await
        .unwrap();
    let r = leadpipe::deliver::send::send(
        &sending,
        &sub,
        "dlv_x",
        leadpipe::model::history::LeadEventType::Created.into(),
        &leadpipe::model::events::Source::MetaLeadAds {
            page_id: None,
            form_id: None,
            ad_id: None,
        },
        "{}",
        1,
    )
    .await;
    assert!(!r.delivered());
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("not publicly routable"),
        "{:?}",
        r.error
    );
    // The same save-time check refuses it once it resolves to loopback.
    let refused = leadpipe::http::resolver::check_url_resolved(
        "https://crm.rebind.test/x",
        false,
        sending.dns(),
    )
    .await;
    assert!(refused.is_err());
    // A literal private address stored earlier (say, under a looser setting)
    // is refused at send time too.
    let mut literal = sub.clone();
    literal.url = format!("{}/internal", crm.base_url);
    let r = leadpipe::deliver::send::send(
        &sending,
        &literal,
        "dlv_y",
        leadpipe::model::history::LeadEventType::Created.into(),
        &leadpipe::model::events::Source::MetaLeadAds {
            page_id: None,
            form_id: None,
            ad_id: None,
        },
        "{}",
        1,
    )
    .await;
    assert!(
        r.error.as_deref().unwrap().contains("url refused"),
        "{:?}",
        r.error
    );
    assert!(
        crm.requests().is_empty(),
        "nothing reached the internal receiver"
    );
    let _ = Config::from_env;
}

#[tokio::test]
async fn secrets_stay_out_of_reads_and_logs() {
    let logs = LogCapture::start("debug");

    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/s", &[(500, "no"), (200, "{}")]);
    let (key, token, sub) = setup(
        &t,
        &crm,
        "/s",
        json!({"auth": {"type": "header", "name": "X-Api-Key", "value": "sk_live_SUPERSECRET"},
        "headers": {"X-Other": "hdr-secret-value"}}),
    )
    .await;
    let secret = sub["secret"].as_str().unwrap().to_owned();
    let id = sub["id"].as_str().unwrap().to_owned();
    t.post_lead(&key, &token, json!({"email": "s@example.com"}))
        .await;
    for _ in 0..20 {
        pump(&t, 1, Duration::from_millis(100)).await;
        if crm.requests_to("/s").len() >= 2 {
            break;
        }
    }
    assert_eq!(
        crm.requests_to("/s")[0].headers["x-api-key"],
        "sk_live_SUPERSECRET"
    );
    let reads = [
        t.admin("GET", &format!("/v1/subscriptions/{id}"), None)
            .await
            .text(),
        t.admin("GET", "/v1/subscriptions", None).await.text(),
        t.admin(
            "PATCH",
            &format!("/v1/subscriptions/{id}"),
            Some(json!({"enabled": true})),
        )
        .await
        .text(),
        t.admin("GET", "/v1/deliveries", None).await.text(),
        t.admin("GET", "/v1/keys", None).await.text(),
        t.raw_table_dump().await,
    ];
    let logs = logs.text();
    assert!(!logs.is_empty());
    for (what, text) in reads
        .iter()
        .enumerate()
        .map(|(i, r)| (i.to_string(), r))
        .chain([("logs".to_owned(), &logs)])
    {
        for needle in [
            &secret[6..],
            "sk_live_SUPERSECRET",
            "hdr-secret-value",
            &token[8..],
        ] {
            assert!(!text.contains(needle), "{needle} appears in {what}");
        }
    }
    let shown = t
        .admin("GET", &format!("/v1/subscriptions/{id}"), None)
        .await
        .json();
    assert_eq!(shown["secret"], format!("{}…", &secret[..10]));
    assert_eq!(
        shown["auth"],
        json!({"type": "header", "name": "X-Api-Key", "value": "********"})
    );
    assert_eq!(shown["headers"], json!({"X-Other": "********"}));
}

#[tokio::test]
async fn the_test_button_and_crud() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/t", &[(200, "{\"ok\":true}")]);
    let (_, _, sub) = setup(&t, &crm, "/t", json!({})).await;
    let id = sub["id"].as_str().unwrap();
    let r = t
        .admin("POST", &format!("/v1/subscriptions/{id}/test"), None)
        .await
        .json();
    assert_eq!(r["delivered"], true);
    assert_eq!(r["statusCode"], 200);
    assert!(r["durationMs"].is_u64());
    assert_eq!(r["error"], Value::Null);
    let got = crm.requests_to("/t");
    assert_eq!(verify(sub["secret"].as_str().unwrap(), &got[0]), vec![true]);
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["type"], "lead.created");
    // Marked, so a CRM can drop it.
    assert_eq!(body["test"], true);
    assert_eq!(body["lead"]["tags"], json!(["leadpipe-test"]));

    let list = t.admin("GET", "/v1/subscriptions", None).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["maxAttempts"], 8);
    assert_eq!(
        list["items"][0]["retrySchedule"],
        json!([5, 300, 1800, 7200, 18000, 36000, 36000])
    );
    assert_eq!(list["items"][0]["events"], json!(["*"]));
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/subscriptions/{id}"),
            Some(json!({"enabled": false})),
        )
        .await
        .json();
    assert_eq!(r["enabled"], false);
    assert_eq!(r["url"], sub["url"]);
    assert_eq!(
        t.admin("DELETE", &format!("/v1/subscriptions/{id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        t.admin("GET", &format!("/v1/subscriptions/{id}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        t.admin("POST", &format!("/v1/subscriptions/{id}/test"), None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn two_copies_of_a_message_record_one_attempt() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/twice", &[(200, "{}")]);
    let (key, token, _) = setup(&t, &crm, "/twice", json!({})).await;
    t.post_lead(&key, &token, json!({"email": "twice@example.com"}))
        .await;
    t.process_queue().await;
    let id = first_pending_delivery(&t).await;
    // SQS delivers a message at least once: two consumers hold copies.
    let (a, b) = tokio::join!(
        leadpipe::deliver::attempt_delivery(&t.scope, &id),
        leadpipe::deliver::attempt_delivery(&t.scope, &id)
    );
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    let d = t
        .admin("GET", &format!("/v1/deliveries/{id}"), None)
        .await
        .json();
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["attempts"].as_array().unwrap().len(), 1, "{d}");
    // Only the copy that claimed the attempt sent it (issue 11 §6).
    assert_eq!(crm.requests_to("/twice").len(), 1, "one send per attempt");
    // A later copy finds the delivery finished and sends nothing.
    let sent = crm.requests_to("/twice").len();
    leadpipe::deliver::attempt_delivery(&t.scope, &id)
        .await
        .unwrap();
    assert_eq!(crm.requests_to("/twice").len(), sent);
}

#[tokio::test]
async fn a_retry_after_date_sets_the_next_attempt() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/busy", &[(503, "busy")]);
    let in_8s = time::OffsetDateTime::now_utc() + time::Duration::seconds(8);
    let http_date = in_8s
        .format(time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        ))
        .unwrap();
    crm.header("retry-after", &http_date);
    let (key, token, _) = setup(&t, &crm, "/busy", json!({})).await;
    t.post_lead(&key, &token, json!({"email": "busy@example.com"}))
        .await;
    t.process_queue().await;
    let id = first_pending_delivery(&t).await;
    match leadpipe::deliver::attempt_delivery(&t.scope, &id).await {
        Ok(leadpipe::aws::batch::Outcome::Retry { delay, .. }) => {
            // 8 s ahead at a one-second resolution, less the time taken.
            assert!(
                (5..=8).contains(&delay.as_secs()),
                "{http_date}: next attempt in {delay:?}"
            );
        }
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[tokio::test]
async fn an_edit_whose_fan_out_fails_is_delivered_through_process() {
    let t = stack().await;
    let crm = ScriptedServer::start().await;
    crm.script("/updated", &[(200, "{}")]);
    let (key, token, _) = setup(&t, &crm, "/updated", json!({"events": ["lead.updated"]})).await;
    let evt = t
        .post_lead(&key, &token, json!({"email": "edited@example.com"}))
        .await;
    pump(&t, 1, Duration::ZERO).await;
    let lead_id = t.event(&evt).await["leadId"].as_str().unwrap().to_owned();

    // The admin function edits the lead while the deliveries queue is out
    // of reach: the edit stands and the fan-out is handed to process.
    let mut config = t.stack.config();
    config.deliveries_queue_url = format!("{}-unreachable", config.deliveries_queue_url);
    let cut_off = App::new(config, &t.sdk);
    let lead = leadpipe::admin::leads::edit(
        &cut_off.default_scope(),
        &lead_id,
        Some("contacted".into()),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(lead.status, "contacted");
    assert!(crm.requests_to("/updated").is_empty());

    pump(&t, 2, Duration::ZERO).await;
    let got = crm.requests_to("/updated");
    assert_eq!(got.len(), 1, "lead.updated was not delivered");
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["type"], "lead.updated");
    assert_eq!(
        body["changes"]["status"],
        json!({"from": "unassigned", "to": "contacted"})
    );
    // Fanned out once: another round sends nothing more.
    pump(&t, 1, Duration::ZERO).await;
    assert_eq!(crm.requests_to("/updated").len(), 1);
}

/// A receiver that reads the request and hangs up without answering.
async fn hang_up_receiver() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
        }
    });
    port
}

#[tokio::test]
async fn a_secret_in_the_target_url_stays_out_of_attempts_and_logs() {
    let logs = LogCapture::start("debug");

    let t = stack().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let hang_up = hang_up_receiver().await;
    let targets = [
        format!("http://127.0.0.1:{closed}/hook/PATHSECRET?token=SECRET123"),
        format!("http://127.0.0.1:{hang_up}/hook/PATHSECRET?token=SECRET456"),
    ];
    for url in &targets {
        let r = t
            .admin("POST", "/v1/subscriptions", Some(json!({"url": url})))
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(&key, &token, json!({"email": "url@example.com"}))
        .await;
    let mut errors: Vec<String> = Vec::new();
    for _ in 0..40 {
        pump(&t, 1, Duration::from_millis(100)).await;
        let list = t.admin("GET", "/v1/deliveries", None).await.json();
        errors = Vec::new();
        for d in list["items"].as_array().unwrap() {
            let id = d["id"].as_str().unwrap();
            let d = t
                .admin("GET", &format!("/v1/deliveries/{id}"), None)
                .await
                .json();
            for a in d["attempts"].as_array().unwrap() {
                errors.push(a["error"].as_str().unwrap_or_default().to_owned());
            }
        }
        if errors.len() >= 2 {
            break;
        }
    }
    assert!(errors.len() >= 2, "attempts: {errors:?}");
    assert!(
        errors.iter().any(|e| e.starts_with("could not connect")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.starts_with("request failed")),
        "{errors:?}"
    );
    let logs = logs.text();
    for (what, text) in errors
        .iter()
        .map(|e| ("an attempt's error", e))
        .chain([("the logs", &logs)])
    {
        for needle in ["SECRET123", "SECRET456", "PATHSECRET"] {
            assert!(!text.contains(needle), "{needle} appears in {what}: {text}");
        }
    }
}

#[tokio::test]
async fn the_dlq_depths_are_shown() {
    let t = stack().await;
    let r = t.admin("GET", "/v1/dlq", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"leads": {"waiting": 0, "inFlight": 0}, "deliveries": {"waiting": 0, "inFlight": 0}})
    );
    for _ in 0..2 {
        t.app
            .queue
            .send(&t.stack.deliveries_dlq_url, &json!({"deliveryId": "dlv_x"}))
            .await
            .unwrap();
    }
    t.app
        .queue
        .send(&t.stack.leads_dlq_url, &json!({"eventId": "evt_x"}))
        .await
        .unwrap();
    let depths = t.admin("GET", "/v1/dlq", None).await.json();
    assert_eq!(depths["deliveries"]["waiting"], 2);
    assert_eq!(depths["leads"]["waiting"], 1);
    // Without the token: refused like every admin route.
    let r = t.call("GET", "/v1/dlq", &[], Vec::new()).await;
    assert_eq!(r.status, 401);
}
