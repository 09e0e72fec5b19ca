//! Meta across many pages: the sweep's page health check against a Graph
//! stand-in on 127.0.0.1 answering as Graph documents (`subscribed_apps`,
//! error 190 for a revoked token), and Meta's data-deletion callback.

use leadpipe::providers::meta_signed;
use leadpipe_local::bootstrap::DEV_META_APP_ID;
use leadpipe_tests::{LogCapture, ScriptedServer, TestStack};
use serde_json::{Value, json};

const HOUR_MS: i64 = 3_600_000;

async fn stack_with_graph() -> (TestStack, ScriptedServer) {
    let graph = ScriptedServer::start().await;
    let url = format!("{}/v25.0", graph.base_url);
    let t = TestStack::with_config(|c| {
        c.meta_graph_url = url;
        c.allow_private_targets = true;
    })
    .await;
    (t, graph)
}

async fn register(t: &TestStack, page_id: &str, token: &str) {
    let r = t
        .admin(
            "PUT",
            &format!("/v1/meta/pages/{page_id}"),
            Some(json!({"accessToken": token, "name": format!("Page {page_id}")})),
        )
        .await;
    assert!(r.status == 201 || r.status == 200, "{}", r.text());
}

async fn health_of(t: &TestStack, page_id: &str) -> Value {
    let pages = t.admin("GET", "/v1/meta/pages", None).await.json();
    pages["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pageId"] == page_id)
        .map(|p| p["health"].clone())
        .unwrap()
}

const REVOKED: &str = r#"{"error":{"message":"Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.","type":"OAuthException","code":190,"error_subcode":460,"fbtrace_id":"AbCdEf"}}"#;

fn subscribed(app_id: &str) -> String {
    json!({"data": [{"category": "Business", "link": "https://leadpipe.example", "name": "Leadpipe", "id": app_id, "subscribed_fields": ["leadgen"]}]}).to_string()
}

#[tokio::test]
async fn the_sweep_marks_revoked_and_unsubscribed_pages_failing_hourly() {
    let logs = LogCapture::start("debug");
    let (t, graph) = stack_with_graph().await;
    register(&t, "1001", "tok-healthy-1001").await;
    register(&t, "1002", "tok-revoked-1002").await;
    register(&t, "1003", "tok-unsubscribed-1003").await;
    assert_eq!(health_of(&t, "1001").await, json!({"state": "unchecked"}));
    let ops = ScriptedServer::start().await;
    let r = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"url": format!("{}/alerts", ops.base_url), "events": ["source.failing"]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    graph.script(
        "/v25.0/1001/subscribed_apps",
        &[(200, &subscribed(DEV_META_APP_ID))],
    );
    graph.script("/v25.0/1002/subscribed_apps", &[(400, REVOKED)]);
    graph.script("/v25.0/1003/subscribed_apps", &[(200, r#"{"data":[]}"#)]);

    let now = leadpipe::rules::clock::now_ms();
    let swept = leadpipe::sweep::sweep_at(&t.app, now).await.unwrap();
    assert_eq!((swept.pages_checked, swept.pages_failing), (3, 2));
    assert_eq!(
        swept.sources_failing, 2,
        "source.failing raised once per failing page"
    );

    // Each failing page reaches the alerts subscription as a signed
    // `source.failing` delivery, without its token.
    for _ in 0..100 {
        t.deliver_queue().await;
        if ops.requests_to("/alerts").len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut alerted: Vec<String> = ops
        .requests_to("/alerts")
        .iter()
        .map(|r| {
            let body = String::from_utf8_lossy(&r.body).to_string();
            assert!(!body.contains("tok-"), "a token in an alert: {body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["type"], "source.failing");
            v["data"]["source"]["pageId"].as_str().unwrap().to_owned()
        })
        .collect();
    alerted.sort();
    assert_eq!(alerted, ["1002", "1003"]);

    // Each page asked with its own token.
    let asked = graph.requests_to("/v25.0/1002/subscribed_apps");
    assert_eq!(asked.len(), 1);
    assert!(asked[0].query.contains("access_token=tok-revoked-1002"));

    let healthy = health_of(&t, "1001").await;
    assert_eq!(healthy["state"], "healthy", "{healthy}");
    let revoked = health_of(&t, "1002").await;
    assert_eq!(revoked["state"], "failing", "{revoked}");
    assert!(revoked["reason"].as_str().unwrap().contains("190"));
    assert!(revoked["since"].is_string());
    let empty = health_of(&t, "1003").await;
    assert_eq!(empty["state"], "failing");
    assert!(
        empty["reason"]
            .as_str()
            .unwrap()
            .contains("no subscribed apps")
    );

    // source.failing was raised for the two failing pages (counted
    // above; the line's shape is `ops`' unit test). Whatever the capture
    // saw, no token is in it.
    assert!(
        !logs.text().contains("tok-revoked-1002"),
        "a token reached a log line"
    );

    // Within the hour: not asked again.
    let again = leadpipe::sweep::sweep_at(&t.app, now + HOUR_MS / 2)
        .await
        .unwrap();
    assert_eq!(again.pages_checked, 0);
    assert_eq!(graph.requests_to("/v25.0/1002/subscribed_apps").len(), 1);

    // An hour on, still failing: marked as before (same since), not raised
    // again; the unsubscribed page re-subscribed is healthy again.
    graph.script(
        "/v25.0/1003/subscribed_apps",
        &[(200, &subscribed(DEV_META_APP_ID))],
    );
    let later = leadpipe::sweep::sweep_at(&t.app, now + HOUR_MS + 1_000)
        .await
        .unwrap();
    assert_eq!((later.pages_checked, later.pages_failing), (3, 1));
    assert_eq!(
        later.sources_failing, 0,
        "a page failing before is not raised again"
    );
    let still = health_of(&t, "1002").await;
    assert_eq!(still["since"], revoked["since"]);
    assert_eq!(health_of(&t, "1003").await["state"], "healthy");
}

#[tokio::test]
async fn another_app_subscribed_or_graph_down_are_told_apart() {
    let (t, graph) = stack_with_graph().await;
    register(&t, "2001", "tok-2001").await;
    register(&t, "2002", "tok-2002").await;
    graph.script("/v25.0/2001/subscribed_apps", &[(200, &subscribed("42"))]);
    graph.script(
        "/v25.0/2002/subscribed_apps",
        &[(
            500,
            r#"{"error":{"message":"An unknown error occurred","code":1}}"#,
        )],
    );
    let swept = leadpipe::sweep::sweep_at(&t.app, leadpipe::rules::clock::now_ms())
        .await
        .unwrap();
    assert_eq!(swept.pages_checked, 2);
    let other = health_of(&t, "2001").await;
    assert_eq!(other["state"], "failing");
    assert!(other["reason"].as_str().unwrap().contains("no longer"));
    // An outage says nothing about the page.
    assert_eq!(health_of(&t, "2002").await["state"], "unchecked");
}

fn app_secret(t: &TestStack) -> String {
    t.stack.secret.meta_app_secret.clone().unwrap()
}

async fn deletion(t: &TestStack, body: &str) -> leadpipe_tests::Reply {
    t.call(
        "POST",
        "/v1/meta/data-deletion",
        &[("content-type", "application/x-www-form-urlencoded")],
        body.to_owned(),
    )
    .await
}

fn form(signed: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("signed_request", signed)
        .finish()
}

#[tokio::test]
async fn a_data_deletion_request_is_verified_answered_and_its_status_served() {
    let t = TestStack::new().await;
    let payload = r#"{"algorithm":"HMAC-SHA256","expires":1291840400,"issued_at":1291836800,"user_id":"218471"}"#;
    let signed = meta_signed::sign(&app_secret(&t), payload);
    let r = deletion(&t, &form(&signed)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answer = r.json();
    let code = answer["confirmation_code"].as_str().unwrap().to_owned();
    let url = answer["url"].as_str().unwrap();
    assert!(
        url.ends_with(&format!("/v1/meta/data-deletion/{code}")),
        "{url}"
    );
    assert_eq!(answer.as_object().unwrap().len(), 2);

    // The same request again: the same code.
    let again = deletion(&t, &form(&signed)).await.json();
    assert_eq!(again["confirmation_code"], code.as_str());

    let path = &url[url.find("/v1/").unwrap()..];
    let status = t.call("GET", path, &[], "").await;
    assert_eq!(status.status, 200, "{}", status.text());
    let s = status.json();
    assert_eq!(s["confirmationCode"], code.as_str());
    assert_eq!(s["state"], "completed");
    assert_eq!(s["leadsErased"], 0);
    assert!(
        s["explanation"]
            .as_str()
            .unwrap()
            .contains("Facebook user id")
    );
    // The person's user id is kept nowhere.
    assert!(!t.raw_table_dump().await.contains("218471"));

    let unknown = t.call("GET", "/v1/meta/data-deletion/00ff", &[], "").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.code(), "not_found");
}

#[tokio::test]
async fn a_wrong_signature_is_401_and_a_malformed_request_400() {
    let t = TestStack::new().await;
    let payload = r#"{"algorithm":"HMAC-SHA256","issued_at":1291836800,"user_id":"218471"}"#;
    let forged = meta_signed::sign("not-the-app-secret", payload);
    let r = deletion(&t, &form(&forged)).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "unauthorized");

    for body in [
        String::new(),
        "other=1".to_owned(),
        form("no-dot"),
        form("abc.%%%"),
        form(&meta_signed::sign(
            &app_secret(&t),
            r#"{"algorithm":"HMAC-SHA1","user_id":"1"}"#,
        )),
    ] {
        let r = deletion(&t, &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert_eq!(r.code(), "malformed_body");
        assert!(r.json()["requestId"].is_string());
    }
    let json_body = t
        .call(
            "POST",
            "/v1/meta/data-deletion",
            &[("content-type", "application/json")],
            "{}".to_owned(),
        )
        .await;
    assert_eq!(json_body.status, 415);
    // Nothing was recorded by any of them.
    assert!(!t.raw_table_dump().await.contains("META#deletion"));
}
