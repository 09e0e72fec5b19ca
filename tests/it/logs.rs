//! No log line of a full run — hooks, Meta, process, deliver with failures
//! and retries, the admin API — contains a token, a secret or a configured
//! header value (issue 11).

use std::time::Duration;

use leadpipe_tests::{LogCapture, ScriptedServer, TestStack};
use serde_json::json;

#[tokio::test]
async fn a_full_run_logs_no_secret() {
    // The most a user can ask for: RUST_LOG=trace, through Leadpipe's filter.
    let logs = LogCapture::start("trace");

    let graph = ScriptedServer::start().await;
    let graph_url = format!("{}/v25.0", graph.base_url);
    let t = TestStack::with_config(|c| {
        c.allow_private_targets = true;
        c.meta_graph_url = graph_url;
        c.retry_base = Duration::from_millis(50);
        c.retry_max = Duration::from_millis(100);
        c.lead_retry_max = Duration::from_millis(100);
    })
    .await;
    let crm = ScriptedServer::start().await;
    crm.script("/hook", &[(503, "busy"), (200, "{}")]);
    // A receiver whose URL carries a token, and that is down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut secrets = vec![
        t.admin_token.clone(),
        t.stack.secret.meta_app_secret.clone().unwrap(),
        t.stack.secret.meta_page_token.clone().unwrap(),
        t.stack.secret.meta_verify_token.clone().unwrap(),
        "URLTOKEN-0042-SECRET".to_owned(),
        "Bearer-SECRET-crm-token".to_owned(),
        "hdr-SECRET-value".to_owned(),
    ];
    for body in [
        json!({"url": format!("{}/hook", crm.base_url),
               "auth": {"type": "bearer", "token": "Bearer-SECRET-crm-token"},
               "headers": {"X-Custom": "hdr-SECRET-value"}}),
        json!({"url": format!("http://127.0.0.1:{closed_port}/in?token=URLTOKEN-0042-SECRET"),
               "maxAttempts": 2}),
    ] {
        let r = t.admin("POST", "/v1/subscriptions", Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.text());
        secrets.push(r.json()["secret"].as_str().unwrap()[6..].to_owned());
    }
    let (key, token) = t.create_key(json!({"name": "logs"})).await;
    secrets.push(token.clone());
    t.post_lead(
        &key,
        &token,
        json!({"email": "logs@example.com", "phone": "+14155550123"}),
    )
    .await;
    // A wrong token, and a wrong admin token.
    let wrong = t
        .hook(
            &key,
            "wh_live_WRONGTOKENSECRET",
            json!({"email": "x@example.com"}),
        )
        .await;
    assert_eq!(wrong.status, 401);
    secrets.push("wh_live_WRONGTOKENSECRET".to_owned());
    let r = t
        .call(
            "GET",
            "/v1/keys",
            &[("authorization", "Bearer ADMIN-GUESS-SECRET-123456")],
            "",
        )
        .await;
    assert_eq!(r.status, 401);
    secrets.push("ADMIN-GUESS-SECRET-123456".to_owned());

    // Meta: a Graph 500 (the page token travels in the query), then 200.
    let leadgen = "9000000000000000042";
    graph.script(
        &format!("/v25.0/{leadgen}"),
        &[
            (500, r#"{"error":{"message":"oops"}}"#),
            (
                200,
                r#"{"id":"1","field_data":[{"name":"email","values":["meta-logs@example.com"]}]}"#,
            ),
        ],
    );
    let r = t.post_meta_leadgen(leadgen).await;
    assert_eq!(r.status, 200, "{}", r.text());

    for _ in 0..30 {
        t.process_queue().await;
        t.deliver_queue().await;
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    assert!(crm.requests_to("/hook").len() >= 2, "the CRM was retried");
    let _ = t.admin("GET", "/v1/deliveries", None).await;

    let logs = logs.text();
    assert!(logs.lines().count() > 20, "{logs}");
    for secret in &secrets {
        for line in logs.lines() {
            assert!(
                !line.contains(secret.as_str()),
                "a secret in a log line: {line}"
            );
        }
    }
}

/// A failed AWS call is reported by its code and message, never with the
/// raw response (headers, and a body that can carry item data).
#[tokio::test]
async fn a_failed_aws_call_is_reported_without_its_raw_response() {
    use leadpipe_tests::Fault;
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |_| {}).await;
    proxy.inject(
        "GetItem",
        None,
        1,
        Fault::Reply {
            status: 400,
            body: r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"One or more parameter values were invalid","Item":{"token":{"S":"RAWBODYSECRET"}}}"#.into(),
        },
    );
    let err = leadpipe::model::keys::get(&t.scope, "key_01m84vjx86q8jk0btpqmws5ek6")
        .await
        .expect_err("the injected error");
    let text = format!("{err} {err:?}");
    assert!(text.contains("ValidationException"), "{text}");
    assert!(
        text.contains("One or more parameter values were invalid"),
        "{text}"
    );
    for leak in ["RAWBODYSECRET", "x-amz", "SdkBody", "headers"] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
}
