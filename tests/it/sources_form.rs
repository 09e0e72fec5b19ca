//! Sources (issue 23), a plain HTML form's key: origins, redirects,
//! honeypot and Turnstile (a siteverify stand-in on 127.0.0.1); and
//! `Prefer: wait=N` on the hook.

use leadpipe_tests::{ScriptedServer, TestStack};
use serde_json::json;

use super::sources::{events, key_with, post};

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const FORM_CT: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn form_posts_need_an_allowed_origin_and_are_redirected() {
    let t = TestStack::new().await;
    let (key, _) = key_with(
        &t,
        json!({"name": "Landing", "provider": "form", "allowedDomains": ["*.example.com"],
               "honeypotField": "company_url", "redirectUrl": "https://www.example.com/thanks"}),
    )
    .await;
    let path = format!("/v1/hooks/{key}");
    let from = |origin: &'static str, accept: &'static str| {
        [
            ("origin", origin),
            ("content-type", FORM_CT),
            ("accept", accept),
        ]
    };
    let body = "name=Zo%C3%AB+M%C3%BCller&email=zoe.form%40example.com&company_url=";

    let r = post(&t, &path, &from("https://evil.test", BROWSER), body).await;
    assert_eq!(r.status, 403);
    let r = post(&t, &path, &[("content-type", FORM_CT)], body).await;
    assert_eq!(r.status, 403, "no origin, no referer: refused");
    assert!(events(&t).await.is_empty());

    let r = post(&t, &path, &from("https://www.example.com", BROWSER), body).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("https://www.example.com/thanks"));
    assert_eq!(events(&t).await.len(), 1);

    let own = format!("{body}&_redirect=https%3A%2F%2Fshop.example.com%2Fdone");
    let r = post(&t, &path, &from("https://www.example.com", BROWSER), &own).await;
    assert_eq!(r.header("location"), Some("https://shop.example.com/done"));
    let elsewhere = format!("{body}&_redirect=https%3A%2F%2Fevil.test%2F");
    let r = post(
        &t,
        &path,
        &from("https://www.example.com", BROWSER),
        &elsewhere,
    )
    .await;
    assert_eq!(
        r.header("location"),
        Some("https://www.example.com/thanks"),
        "not an open redirect"
    );

    let before = events(&t).await.len();
    let spam = "name=Bot&email=bot%40example.com&company_url=http%3A%2F%2Fspam";
    let r = post(&t, &path, &from("https://www.example.com", BROWSER), spam).await;
    assert_eq!(r.status, 303, "spam is answered like success");
    assert_eq!(r.header("location"), Some("https://www.example.com/thanks"));
    assert_eq!(events(&t).await.len(), before, "and stores nothing");

    let r = post(
        &t,
        &path,
        &from("https://www.example.com", "application/json"),
        body,
    )
    .await;
    assert_eq!(r.status, 202, "a script asking for JSON gets JSON");
    assert_eq!(r.json()["status"], "RECEIVED");

    let r = post(
        &t,
        &path,
        &from("https://www.example.com", BROWSER),
        "name=Nobody",
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains("email or phone is required"));
    let r = post(
        &t,
        &path,
        &from("https://www.example.com", "application/json"),
        "name=Nobody",
    )
    .await;
    assert_eq!(r.code(), "validation_failed");

    let page = t.call("GET", &path, &[], Vec::new()).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Thank you"));
}

#[tokio::test]
async fn turnstile_is_verified_server_side() {
    let siteverify = ScriptedServer::start().await;
    siteverify.script(
        "/turnstile/v0/siteverify",
        &[
            (
                200,
                r#"{"success": true, "error-codes": [], "hostname": "www.example.com"}"#,
            ),
            (
                200,
                r#"{"success": false, "error-codes": ["invalid-input-response"]}"#,
            ),
        ],
    );
    let url = format!("{}/turnstile/v0/siteverify", siteverify.base_url);
    let t = TestStack::with_config(|c| c.turnstile_verify_url = url).await;
    let (key, _) = key_with(
        &t,
        json!({"name": "Landing", "provider": "form", "allowedDomains": ["www.example.com"],
               "providerSecret": "0x4AAAAAAA-turnstile-secret"}),
    )
    .await;
    let path = format!("/v1/hooks/{key}");
    let headers = [
        ("origin", "https://www.example.com"),
        ("content-type", FORM_CT),
        ("accept", BROWSER),
        ("x-forwarded-for", "203.0.113.7"),
    ];
    let r = post(
        &t,
        &path,
        &headers,
        "email=zoe.ts%40example.com&cf-turnstile-response=XXXX.DUMMY.TOKEN",
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(events(&t).await.len(), 1);
    let sent = siteverify.requests_to("/turnstile/v0/siteverify");
    assert_eq!(sent.len(), 1);
    let form: Vec<(String, String)> = form_urlencoded::parse(&sent[0].body).into_owned().collect();
    assert!(form.contains(&("secret".into(), "0x4AAAAAAA-turnstile-secret".into())));
    assert!(form.contains(&("response".into(), "XXXX.DUMMY.TOKEN".into())));
    assert!(form.contains(&("remoteip".into(), "203.0.113.7".into())));

    let r = post(
        &t,
        &path,
        &headers,
        "email=bot%40example.com&cf-turnstile-response=forged",
    )
    .await;
    assert_eq!(r.status, 303, "refused like success");
    let r = post(&t, &path, &headers, "email=bot2%40example.com").await;
    assert_eq!(r.status, 303, "no token: refused like success");
    assert_eq!(events(&t).await.len(), 1);
    assert_eq!(
        siteverify.requests_to("/turnstile/v0/siteverify").len(),
        2,
        "no call without a token"
    );
}

#[tokio::test]
async fn prefer_wait_answers_with_the_created_lead() {
    let t = TestStack::new().await;
    let (key, token) = key_with(&t, json!({"name": "Waiting"})).await;
    let path = format!("/v1/hooks/{key}");
    let headers = |wait: &'static str| {
        [
            ("x-webhook-token", token.clone()),
            ("content-type", "application/json".to_owned()),
            ("prefer", wait.to_owned()),
        ]
    };
    let send = |h: [(&'static str, String); 3], body: String| {
        let path = path.clone();
        let t = &t;
        async move {
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(t, &path, &h, &body).await
        }
    };
    let processor = async {
        for _ in 0..30 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            if t.process_queue().await > 0 {
                break;
            }
        }
    };
    let body = json!({"email": "wait@example.com", "name": "Zoë Müller"}).to_string();
    let (r, ()) = tokio::join!(send(headers("respond-async, wait=5"), body), processor);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("preference-applied"), Some("wait=5"));
    let j = r.json();
    assert_eq!(j["status"], "PROCESSED");
    assert_eq!(j["lead"]["email"], "wait@example.com");
    assert_eq!(j["lead"]["id"], j["leadId"]);

    // Nobody processes: after the wait, today's 202.
    let started = std::time::Instant::now();
    let r = send(
        headers("wait=1"),
        json!({"email": "late@example.com"}).to_string(),
    )
    .await;
    assert_eq!(r.status, 202);
    assert!(r.header("preference-applied").is_none());
    assert!(started.elapsed() >= std::time::Duration::from_millis(800));
    // Out of range: ignored, answered at once.
    let started = std::time::Instant::now();
    let r = send(
        headers("wait=60"),
        json!({"email": "now@example.com"}).to_string(),
    )
    .await;
    assert_eq!(r.status, 202);
    assert!(started.elapsed() < std::time::Duration::from_millis(800));
}
