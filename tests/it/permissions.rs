//! Least privilege, exercised: each function's paths run through the fault
//! proxy granting only what `shared/src/aws/permissions.rs` (and so the
//! Terraform roles, by the parity test) gives that function; any other call
//! is refused as IAM refuses it and makes the test fail. The emulator
//! enforces no IAM, so without this a call a role lacks shows only on AWS.

use std::time::Duration;

use leadpipe::http::routes::Function;
use leadpipe::rules::clock;
use leadpipe_tests::{FaultProxy, ScriptedServer, TestStack, leadpipe};
use serde_json::json;

/// Runs `work` as `function` would be allowed to; the calls refused.
async fn as_function<F: std::future::Future>(
    proxy: &FaultProxy,
    function: Function,
    work: F,
) -> Vec<String> {
    proxy.grant(function);
    work.await;
    proxy.ungrant()
}

/// The app a fresh function instance has: nothing cached.
async fn fresh_app(t: &TestStack, proxy: &FaultProxy) -> leadpipe::App {
    let sdk = leadpipe_tests::leadpipe_local::sdk_config(&proxy.endpoint).await;
    leadpipe::App::new(t.app.config.clone(), &sdk)
}

async fn subscribe(t: &TestStack, crm: &ScriptedServer, extra: serde_json::Value) {
    let mut body = json!({"url": format!("{}/crm", crm.base_url)});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = t.admin("POST", "/v1/subscriptions", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
}

/// process, making first attempts: a failure counted in the destination's
/// health, then a success that clears it.
#[tokio::test]
async fn process_with_first_attempts_stays_within_its_role() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |c| {
        c.allow_private_targets = true;
        c.first_attempt = Some(Duration::from_secs(3));
    })
    .await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(500, "down"), (200, "ok")]);
    subscribe(&t, &crm, json!({"retrySchedule": [1]})).await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    for email in ["one@example.com", "two@example.com"] {
        t.post_lead(&key, &token, json!({"email": email})).await;
        let denied = as_function(&proxy, Function::Process, t.process_queue()).await;
        assert_eq!(denied, Vec::<String>::new(), "process for {email}");
    }
    assert_eq!(crm.requests_to("/crm").len(), 2);
    let denied = as_function(&proxy, Function::Deliver, async {
        for _ in 0..100 {
            t.deliver_queue().await;
            if crm.requests_to("/crm").len() >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;
    assert_eq!(denied, Vec::<String>::new(), "deliver");
    assert_eq!(crm.requests_to("/crm").len(), 3);
}

/// deliver: a destination that fails, is held, recovers and releases its
/// held deliveries.
#[tokio::test]
async fn deliver_holding_and_releasing_stays_within_its_role() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |c| {
        c.allow_private_targets = true;
        c.failing_after = 1;
    })
    .await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(500, "down"), (200, "ok")]);
    subscribe(&t, &crm, json!({"retrySchedule": [1, 1]})).await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(&key, &token, json!({"email": "held1@example.com"}))
        .await;
    t.process_queue().await;
    let denied = as_function(&proxy, Function::Deliver, t.deliver_queue()).await;
    assert_eq!(denied, Vec::<String>::new(), "the first failure");
    t.post_lead(&key, &token, json!({"email": "held2@example.com"}))
        .await;
    t.process_queue().await;
    let denied = as_function(&proxy, Function::Deliver, async {
        for _ in 0..200 {
            t.deliver_queue().await;
            if crm.requests_to("/crm").len() >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;
    assert_eq!(denied, Vec::<String>::new(), "held, recovered, released");
    assert_eq!(
        crm.requests_to("/crm").len(),
        3,
        "the probe twice, the held one once"
    );
}

/// sweep: a stuck event (its mark's answer lost, so it reads the mark
/// back) and a stalled delivery.
#[tokio::test]
async fn sweep_stays_within_its_role() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |c| {
        c.allow_private_targets = true;
    })
    .await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(200, "ok")]);
    subscribe(&t, &crm, json!({})).await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(&key, &token, json!({"email": "stalled@example.com"}))
        .await;
    t.process_queue().await;
    t.put_unqueued_leadgen("7200000").await;
    proxy.inject(
        "UpdateItem",
        Some("sweptAtMs"),
        1,
        leadpipe_tests::Fault::AfterForward {
            status: 500,
            body: r#"{"__type":"InternalFailure","message":"injected"}"#.into(),
        },
    );
    let grace = t
        .app
        .config
        .sweep_grace
        .max(leadpipe::deliver::stall_after(&t.app.config));
    let later = clock::now_ms() + grace.as_millis() as i64 + 1_000;
    let mut swept = None;
    let denied = as_function(&proxy, Function::Sweep, async {
        let app = fresh_app(&t, &proxy).await;
        swept = Some(leadpipe::sweep::sweep_at(&app, later).await);
    })
    .await;
    assert_eq!(denied, Vec::<String>::new(), "sweep");
    let swept = swept.unwrap().unwrap();
    assert_eq!((swept.events, swept.deliveries), (1, 1));
}

/// sweep: the Meta page check, a revoked token raising `source.failing`.
#[tokio::test]
async fn the_sweeps_page_check_stays_within_its_role() {
    let graph = ScriptedServer::start().await;
    let url = format!("{}/v25.0", graph.base_url);
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |c| {
        c.meta_graph_url = url;
        c.allow_private_targets = true;
    })
    .await;
    let r = t
        .admin(
            "PUT",
            "/v1/meta/pages/1002",
            Some(json!({"accessToken": "tok-revoked-1002", "name": "Page 1002"})),
        )
        .await;
    assert!(r.status < 300, "{}", r.text());
    let alerts = ScriptedServer::start().await;
    let r = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(
                json!({"url": format!("{}/alerts", alerts.base_url), "events": ["source.failing"]}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    graph.script(
        "/v25.0/1002/subscribed_apps",
        &[(400, r#"{"error":{"message":"Error validating access token","type":"OAuthException","code":190,"error_subcode":460}}"#)],
    );
    let mut swept = None;
    let denied = as_function(&proxy, Function::Sweep, async {
        // A fresh app, as a fresh Lambda has: no secret cached.
        let app = fresh_app(&t, &proxy).await;
        swept = Some(leadpipe::sweep::sweep_at(&app, clock::now_ms()).await);
    })
    .await;
    assert_eq!(denied, Vec::<String>::new(), "the page check");
    let swept = swept.unwrap().unwrap();
    assert_eq!(
        (
            swept.pages_checked,
            swept.pages_failing,
            swept.sources_failing
        ),
        (1, 1, 1)
    );
}

/// ingest: a hook post with an `Idempotency-Key` (and its replay), and a
/// Meta notification.
#[tokio::test]
async fn ingest_stays_within_its_role() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |_| {}).await;
    let (key, token) = t
        .create_key(json!({"name": "k", "rateLimitPerMinute": 100}))
        .await;
    let denied = as_function(&proxy, Function::Ingest, async {
        for _ in 0..2 {
            let r = t
                .call(
                    "POST",
                    &format!("/v1/hooks/{key}"),
                    &[
                        ("x-webhook-token", token.as_str()),
                        ("content-type", "application/json"),
                        ("idempotency-key", "perm-1"),
                    ],
                    json!({"email": "ingest@example.com"}).to_string(),
                )
                .await;
            assert_eq!(r.status, 202, "{}", r.text());
        }
        let r = t.post_meta_leadgen("7300000").await;
        assert_eq!(r.status, 200, "{}", r.text());
    })
    .await;
    assert_eq!(denied, Vec::<String>::new(), "ingest");
}

/// admin: the management API's writes and reads, one of each kind.
#[tokio::test]
async fn admin_stays_within_its_role() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |c| {
        c.allow_private_targets = true;
    })
    .await;
    let crm = ScriptedServer::start().await;
    crm.script("/crm", &[(500, "down")]);
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(&key, &token, json!({"email": "admin-role@example.com"}))
        .await;
    t.process_queue().await;
    proxy.grant(Function::Admin);
    let call = |method: &'static str, path: String, body: Option<serde_json::Value>| {
        let t = &t;
        async move {
            let r = t.admin(method, &path, body).await;
            assert!(r.status < 500, "{method} {path}: {} {}", r.status, r.text());
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap_or_default()
        }
    };
    let sub = call(
        "POST",
        "/v1/subscriptions".into(),
        Some(json!({"url": format!("{}/crm", crm.base_url), "maxAttempts": 1})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lead = call("GET", "/v1/leads".into(), None).await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let event = call("GET", "/v1/events".into(), None).await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, path, body) in [
        ("GET", format!("/v1/keys/{key}"), None),
        ("POST", format!("/v1/keys/{key}/rotate"), None),
        ("POST", format!("/v1/keys/{key}/test-lead"), None),
        ("GET", format!("/v1/events/{event}"), None),
        ("POST", format!("/v1/events/{event}/replay"), None),
        ("GET", format!("/v1/leads/{lead}"), None),
        (
            "PATCH",
            format!("/v1/leads/{lead}"),
            Some(json!({"tags": ["vip"]})),
        ),
        ("GET", "/v1/leads/export".into(), None),
        (
            "PATCH",
            format!("/v1/subscriptions/{sub}"),
            Some(json!({"retrySchedule": [1]})),
        ),
        (
            "POST",
            format!("/v1/subscriptions/{sub}/rotate-secret"),
            Some(json!({})),
        ),
        ("POST", format!("/v1/subscriptions/{sub}/test"), None),
        ("GET", "/v1/deliveries".into(), None),
        ("GET", "/v1/dlq".into(), None),
        ("POST", "/v1/dlq/redrive".into(), None),
        ("GET", "/v1/audit".into(), None),
        (
            "PUT",
            "/v1/meta/pages/4001".into(),
            Some(json!({"accessToken": "tok-4001"})),
        ),
        ("GET", "/v1/meta/pages".into(), None),
        ("DELETE", "/v1/meta/pages/4001".into(), None),
        (
            "POST",
            "/v1/workspaces".into(),
            Some(json!({"name": "Client B"})),
        ),
        ("GET", "/v1/workspaces".into(), None),
    ] {
        call(method, path, body).await;
    }
    let denied = proxy.ungrant();
    assert_eq!(denied, Vec::<String>::new(), "admin");
    // A delivery to retry, and the erasure, once the lead has one.
    t.deliver_queue().await;
    proxy.grant(Function::Admin);
    let deliveries = t.admin("GET", "/v1/deliveries", None).await.json();
    if let Some(id) = deliveries["items"][0]["id"].as_str() {
        let r = t
            .admin("POST", &format!("/v1/deliveries/{id}/retry"), None)
            .await;
        assert!(r.status < 500, "{}", r.text());
    }
    let r = t
        .admin("POST", &format!("/v1/leads/{lead}/erase"), None)
        .await;
    assert!(r.status < 500, "{}", r.text());
    assert_eq!(proxy.ungrant(), Vec::<String>::new(), "admin: retry, erase");
}
