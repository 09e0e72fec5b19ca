//! Slack destinations: a Block Kit message to an incoming-webhook URL
//! (a local receiver answering as Slack documents), the URL sealed and
//! shown as its origin, Slack's error strings in the attempt log, 410
//! disabling, and the SSRF guard on the URL.

use std::time::Duration;

use leadpipe_tests::{ScriptedServer, TestStack};
use serde_json::{Value, json};

const HOOK: &str = "/services/T000/B000/XXXXSECRETXXXX";

async fn stack() -> TestStack {
    TestStack::with_config(|c| {
        c.allow_private_targets = true;
        c.public_url = Some("https://leads.example.com".into());
    })
    .await
}

async fn slack(t: &TestStack, receiver: &ScriptedServer, extra: Value) -> Value {
    let mut body =
        json!({"kind": "slack", "config": {"url": format!("{}{HOOK}", receiver.base_url)}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = t.admin("POST", "/v1/subscriptions", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn a_lead_becomes_a_block_kit_message() {
    let t = stack().await;
    let receiver = ScriptedServer::start().await;
    receiver.script(HOOK, &[(200, "ok")]);
    let sub = slack(&t, &receiver, json!({})).await;
    assert!(
        !sub.to_string().contains("SECRET"),
        "the URL is masked: {sub}"
    );
    assert_eq!(sub["config"]["url"], format!("{}/…", receiver.base_url));
    let listed = t.admin("GET", "/v1/subscriptions", None).await.text();
    assert!(!listed.contains("SECRET"), "{listed}");

    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let evt = t
        .post_lead(
            &key,
            &token,
            json!({"name": "Ann <b>Lee</b>", "email": "ann@example.com",
                                         "phone": "+1 415 555 0105", "tags": ["vip"]}),
        )
        .await;
    t.process_queue().await;
    t.deliver_queue().await;
    let got = receiver.requests_to(HOOK);
    assert_eq!(got.len(), 1);
    let msg: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(msg["text"], "New lead: Ann <b>Lee</b>");
    assert_eq!(msg["blocks"][0]["type"], "header");
    let fields: Vec<&str> = msg["blocks"][1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "*Email*\nann@example.com",
            "*Name*\nAnn &lt;b&gt;Lee&lt;/b&gt;",
            "*Phone*\n+14155550105",
            "*Source*\nwebhook",
            "*Tags*\nvip"
        ]
    );
    let lead_id = t.event(&evt).await["leadId"].as_str().unwrap().to_owned();
    let context = msg["blocks"][2]["elements"][0]["text"].as_str().unwrap();
    assert_eq!(
        context,
        format!(
            "lead.created · <https://leads.example.com/console/leads/{lead_id}|Open in Leadpipe>"
        )
    );
    assert!(
        got[0].headers.get("webhook-signature").is_none(),
        "Slack gets no signature headers"
    );
}

#[tokio::test]
async fn slacks_errors_are_logged_retried_and_a_410_disables() {
    let t = stack().await;
    let receiver = ScriptedServer::start().await;
    receiver.script(
        HOOK,
        &[(404, "channel_not_found"), (410, "channel_is_archived")],
    );
    let sub = slack(&t, &receiver, json!({})).await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(&key, &token, json!({"email": "bo@example.com"}))
        .await;
    for _ in 0..30 {
        t.process_queue().await;
        t.deliver_queue().await;
        if receiver.requests_to(HOOK).len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let page = t.admin("GET", "/v1/deliveries", None).await.json();
    let id = page["items"][0]["id"].as_str().unwrap();
    let d = t
        .admin("GET", &format!("/v1/deliveries/{id}"), None)
        .await
        .json();
    assert_eq!(d["status"], "dead", "{d}");
    assert_eq!(d["attempts"][0]["statusCode"], 404);
    assert_eq!(
        d["attempts"][0]["error"],
        "Slack answered HTTP 404: channel_not_found"
    );
    assert_eq!(d["attempts"][1]["statusCode"], 410);
    let sub = t
        .admin(
            "GET",
            &format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap()),
            None,
        )
        .await
        .json();
    assert_eq!(sub["enabled"], false, "{sub}");
}

#[tokio::test]
async fn the_url_is_under_the_ssrf_guard() {
    let t = TestStack::new().await;
    for url in [
        "http://hooks.slack.com/services/x",
        "https://169.254.169.254/latest",
        "https://localhost/x",
    ] {
        let r = t
            .admin(
                "POST",
                "/v1/subscriptions",
                Some(json!({"kind": "slack", "config": {"url": url}})),
            )
            .await;
        assert_eq!(r.status, 422, "{url}: {}", r.text());
        assert_eq!(
            r.json()["error"]["details"][0]["field"],
            "config.url",
            "{url}"
        );
    }
}
