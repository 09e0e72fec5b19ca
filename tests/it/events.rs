//! Every sample in `events/` (what `cargo lambda invoke --data-file` sends)
//! parses as the Lambda event it claims to be and runs through its function.

use leadpipe_tests::{TestStack, leadpipe};
use serde_json::json;

fn samples() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn every_http_sample_runs_through_its_function() {
    let graph = leadpipe_tests::ScriptedServer::start().await;
    let graph_url = format!("{}/v25.0", graph.base_url);
    let secrets = leadpipe_local::bootstrap::SecretOverrides {
        meta_app_secret: Some("leadpipe-sample-app-secret".into()),
        meta_verify_token: Some("leadpipe-sample-verify-token".into()),
        ..Default::default()
    };
    let t = TestStack::with_options(secrets, |c| c.meta_graph_url = graph_url).await;
    // Make the placeholders real: the samples' key id, token and admin token.
    let (key, token) = t.create_key(json!({"name": "samples"})).await;
    let (google, google_token) = t
        .create_key(json!({"name": "Google samples", "provider": "google_ads"}))
        .await;
    let (form, _) = t
        .create_key(json!({"name": "Form samples", "provider": "form", "allowedDomains": ["www.example.com"]}))
        .await;
    // One key of each provider the samples post as (their secrets fixed:
    // the samples are signed with them).
    let mut providers = Vec::new();
    for (placeholder, body) in [
        (
            "key_01m821j0admzq24kmv73teegtf",
            json!({"name": "Typeform samples", "provider": "typeform", "providerSecret": "leadpipe-sample-typeform-secret"}),
        ),
        (
            "key_01m821j0admzq24kmv73teegtl",
            json!({"name": "Tally samples", "provider": "tally", "providerSecret": "leadpipe-sample-tally-secret"}),
        ),
        (
            "key_01m821j0admzq24kmv73teegjf",
            json!({"name": "Jotform samples", "provider": "jotform"}),
        ),
        (
            "key_01m821j0admzq24kmv73teegli",
            json!({"name": "LinkedIn samples", "provider": "linkedin", "providerSecret": "leadpipe-sample-linkedin-secret"}),
        ),
    ] {
        let (id, token) = t.create_key(body).await;
        providers.push((placeholder, id, token));
    }
    let mut ran = 0;
    for (name, text) in samples() {
        let function = if name.starts_with("meta-verify") {
            "meta-verify"
        } else {
            name.split('-').next().unwrap()
        };
        if !matches!(function, "ingest" | "admin" | "meta-verify") {
            continue;
        }
        let text = text
            .replace("key_01m821j0admzq24kmv73teegtk", &key)
            .replace(
                "wh_live_REPLACE_WITH_THE_DEMO_TOKEN_FROM_MAKE_DEV_0000000",
                &token,
            )
            .replace("REPLACE_WITH_THE_ADMIN_TOKEN", &t.admin_token)
            .replace("key_01m821j0admzq24kmv73teegga", &google)
            .replace(
                "wh_live_REPLACE_WITH_THE_GOOGLE_ADS_KEY_TOKEN_00000000000",
                &google_token,
            )
            .replace("key_01m821j0admzq24kmv73teegfm", &form);
        let mut text = text;
        for (placeholder, id, token) in &providers {
            text = text.replace(placeholder, id);
            if placeholder.ends_with("jf") {
                text = text.replace(
                    "wh_live_REPLACE_WITH_THE_JOTFORM_KEY_TOKEN_000000000000000",
                    token,
                );
            }
        }
        let req = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let resp = match function {
            "ingest" => leadpipe::ingest::handle(&t.app, req).await,
            "meta-verify" => leadpipe::meta_verify::handle(&t.app, req).await,
            _ => leadpipe::admin::handle(&t.app, req).await,
        };
        let status = resp.status().as_u16();
        // A browser's plain form post is answered 303 See Other.
        let want = if name == "ingest-hook-plain-form.json" {
            303..304
        } else {
            200..300
        };
        assert!(want.contains(&status), "{name}: {status} {:?}", resp.body());
        ran += 1;
    }
    assert!(ran >= 13, "only {ran} samples ran");
}

#[tokio::test]
async fn every_sqs_sample_runs_through_its_function() {
    use aws_lambda_events::event::sqs::SqsEvent;
    let t = TestStack::new().await;
    let mut ran = 0;
    for (name, text) in samples() {
        if !name.starts_with("process-") && !name.starts_with("deliver-") {
            continue;
        }
        let event: SqsEvent = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!event.records.is_empty(), "{name}");
        // The sample's events and deliveries do not exist in a fresh stack:
        // acknowledged, not retried.
        let resp = if name.starts_with("process-") {
            leadpipe::process::handle(&t.app, event).await
        } else {
            leadpipe::deliver::handle(&t.app, event).await
        };
        assert!(resp.batch_item_failures.is_empty(), "{name}");
        ran += 1;
    }
    assert!(ran >= 2);
}

/// What API Gateway's `$default` route sends `admin` (every request no
/// route matched) is answered from the whole route table, in the envelope;
/// `GET /v1/openapi.json` needs no token and is the repository's document.
#[tokio::test]
async fn admin_answers_unmatched_requests_and_serves_the_openapi_document() {
    let t = TestStack::new().await;
    let call = |method: &str, path: &str| {
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "leadpipe.test")
            .body(lambda_http::Body::Empty)
            .unwrap();
        leadpipe::admin::handle(&t.app, req)
    };
    let body = |resp: &lambda_http::Response<lambda_http::Body>| -> serde_json::Value {
        serde_json::from_slice(resp.body().as_ref()).unwrap()
    };

    // Another method on ingest's path: 405 with ingest's methods.
    let resp = call("DELETE", "/v1/hooks/key_abc").await;
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST, OPTIONS, GET");
    assert_eq!(body(&resp)["error"]["code"], "method_not_allowed");
    assert!(body(&resp)["requestId"].is_string());

    // An unknown path: 404 in the envelope, not API Gateway's own body.
    let resp = call("PUT", "/v2/anything").await;
    assert_eq!(resp.status(), 404);
    assert_eq!(body(&resp)["error"]["code"], "not_found");

    // A route of another function that reached admin anyway is not served.
    let resp = call("POST", "/v1/providers/meta/webhook").await;
    assert_eq!(resp.status(), 404);

    // The document, without a token.
    let resp = call("GET", "/v1/openapi.json").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.body().as_ref(), leadpipe::openapi::DOCUMENT.as_bytes());
    assert_eq!(body(&resp)["openapi"], "3.1.0");
    // Admin routes still need it.
    assert_eq!(call("GET", "/v1/keys").await.status(), 401);
}
