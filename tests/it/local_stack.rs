//! The local stack as `make dev` runs it, over real HTTP: start, health,
//! the printed curl line, reading the event back, CORS, shutdown.

use leadpipe_local::bootstrap::SecretOverrides;
use leadpipe_local::{LocalStack, Options};
use leadpipe_tests::{endpoint, unique_stack};
use serde_json::{Value, json};

#[tokio::test]
async fn make_dev_flow_over_http() {
    let endpoint = tokio::task::spawn_blocking(endpoint).await.unwrap();
    let opts = Options {
        addr: "127.0.0.1:0".into(),
        endpoint: Some(endpoint),
        emulator_port: 0,
        stack: unique_stack(),
        secret: SecretOverrides {
            admin_token: Some("adm_test_0123456789abcdef".into()),
            ..SecretOverrides::default()
        },
        env: Vec::new(),
        state: None,
    };
    let stack = LocalStack::start(opts.clone())
        .await
        .expect("local stack starts");
    let base = stack.base_url.clone();
    let (key, token) = (stack.demo_key_id.clone(), stack.demo_token.clone());
    let banner = stack.banner();
    assert!(banner.contains(&base));
    assert!(banner.contains("adm_test_0123456789abcdef"));
    assert!(banner.contains(&format!("curl -i -X POST {base}/v1/hooks/{key}")));
    assert!(banner.contains(&token));
    assert!(banner.contains(&format!("{base}/console")));
    assert!(
        banner
            .trim_end()
            .ends_with(&format!("Ready: {base} answers (console: {base}/console)."))
    );

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(stack.serve(async {
        let _ = stop_rx.await;
    }));
    let http = reqwest::Client::new();
    let crm = leadpipe_tests::ScriptedServer::start().await;
    crm.script("/crm", &[(200, "{}")]);
    let sub = http
        .post(format!("{base}/v1/subscriptions"))
        .bearer_auth("adm_test_0123456789abcdef")
        .json(&json!({"url": format!("{}/crm", crm.base_url)}))
        .send()
        .await
        .unwrap();
    assert_eq!(sub.status(), 201, "private targets are allowed locally");

    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    // The bare address leads to the console.
    let root = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(root.status(), 302);
    assert_eq!(root.headers()["location"], "/console");

    // The banner's curl line, sent from a browser page.
    let r = http
        .post(format!("{base}/v1/hooks/{key}"))
        .header("X-Webhook-Token", &token)
        .header("Origin", "https://landing.example.com")
        .json(&json!({"name": "Alex Customer", "email": "alex@example.com", "phone": "+1 415 555 0123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://landing.example.com"
    );
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    let event_id = body["eventId"].as_str().unwrap();
    assert_eq!(location, format!("/v1/events/{event_id}"));

    let event: Value = http
        .get(format!("{base}{location}"))
        .bearer_auth("adm_test_0123456789abcdef")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(event["source"], json!({"type": "webhook", "keyId": key}));

    // The in-process poller runs `process` as the event source mapping would.
    let started = std::time::Instant::now();
    let event = loop {
        let event: Value = http
            .get(format!("{base}{location}"))
            .bearer_auth("adm_test_0123456789abcdef")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if event["status"] != "RECEIVED" {
            break event;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "never processed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(event["status"], "PROCESSED");
    let lead: Value = http
        .get(format!(
            "{base}/v1/leads/{}",
            event["leadId"].as_str().unwrap()
        ))
        .bearer_auth("adm_test_0123456789abcdef")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lead["phone"], "+14155550123");
    assert_eq!(lead["tags"], json!(["demo"]));

    // ingest → process → deliver: the lead arrives, signed, at the receiver.
    let started = std::time::Instant::now();
    while crm.requests_to("/crm").is_empty() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "never delivered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let got = &crm.requests_to("/crm")[0];
    assert!(
        got.headers["webhook-signature"]
            .to_str()
            .unwrap()
            .starts_with("v1,")
    );
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body["lead"]["id"], lead["id"]);

    let unauth = http.get(format!("{base}/v1/keys")).send().await.unwrap();
    assert_eq!(unauth.status(), 401);
    let env: Value = unauth.json().await.unwrap();
    assert_eq!(env["error"]["code"], "unauthorized");

    stop_tx.send(()).unwrap();
    server.await.unwrap();
    let fresh = reqwest::Client::new();
    assert!(
        fresh.get(format!("{base}/healthz")).send().await.is_err(),
        "still listening"
    );

    // Restarting against the same resources reuses the demo key and its token.
    let again = LocalStack::start(opts).await.expect("restart");
    assert_eq!(again.demo_key_id, key);
    assert_eq!(again.demo_token, token);
}

/// `make dev` twice: the second run has the first one's key, lead and
/// admin token (the state kept in its directory), on a new emulator.
#[tokio::test]
async fn make_dev_keeps_data_and_the_admin_token_across_restarts() {
    let dir = std::env::temp_dir().join(format!("leadpipe-dev-{}", unique_stack()));
    let opts = |port: u16| Options {
        addr: "127.0.0.1:0".into(),
        endpoint: None,
        emulator_port: port,
        stack: "leadpipe".into(),
        secret: SecretOverrides::default(),
        env: Vec::new(),
        state: Some(leadpipe_local::state::DevState { dir: dir.clone() }),
    };
    let port = leadpipe_local::free_port().unwrap();
    let first = LocalStack::start(opts(port)).await.expect("first run");
    assert_eq!(first.restored, None, "nothing kept yet");
    let admin = first.stack.admin_secret.admin_token.clone();
    let base = first.base_url.clone();
    let demo = (first.demo_key_id.clone(), first.demo_token.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(first.serve(async {
        let _ = stop_rx.await;
    }));
    let http = reqwest::Client::new();
    let key = http
        .post(format!("{base}/v1/keys"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Kept across restarts"}))
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), 201);
    let key_id = key.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    stop_tx.send(()).unwrap();
    server.await.unwrap();
    // Saved at the stop, readable by its owner only.
    #[cfg(unix)]
    for file in ["secrets.json", "table.jsonl"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }

    let port = leadpipe_local::free_port().unwrap();
    let second = LocalStack::start(opts(port)).await.expect("second run");
    assert!(second.restored.unwrap() >= 2, "the keys came back");
    assert_eq!(
        second.stack.admin_secret.admin_token, admin,
        "the same admin token"
    );
    assert_eq!(
        (second.demo_key_id.clone(), second.demo_token.clone()),
        demo
    );
    assert!(second.banner().contains("make dev-reset starts clean"));
    let base = second.base_url.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(second.serve(async {
        let _ = stop_rx.await;
    }));
    let got = http
        .get(format!("{base}/v1/keys/{key_id}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(
        got.json::<Value>().await.unwrap()["name"],
        "Kept across restarts"
    );
    stop_tx.send(()).unwrap();
    server.await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `make dev DEMO=1`: the banner's signed Meta notification becomes a lead
/// through the Graph stand-in, and its delivery reaches the sample
/// receiver, signature verified.
#[tokio::test]
async fn the_demo_runs_the_meta_and_delivery_walkthroughs() {
    let demo = leadpipe_local::demo::start_on("127.0.0.1:0".into(), "127.0.0.1:0".into())
        .await
        .expect("the stand-ins start");
    let endpoint = tokio::task::spawn_blocking(endpoint).await.unwrap();
    let stack = LocalStack::start(Options {
        addr: "127.0.0.1:0".into(),
        endpoint: Some(endpoint),
        emulator_port: 0,
        stack: unique_stack(),
        secret: SecretOverrides::default(),
        env: vec![("LEADPIPE_META_GRAPH_URL".into(), demo.graph_url.clone())],
        state: None,
    })
    .await
    .expect("local stack starts");
    let sub = leadpipe_local::demo::subscribe(&stack.app, &demo)
        .await
        .unwrap();
    let app_secret = stack.stack.secret.meta_app_secret.clone().unwrap();
    let banner = leadpipe_local::demo::banner(&demo, &stack.base_url, &app_secret, &sub);
    let base = stack.base_url.clone();
    let admin = stack.stack.admin_secret.admin_token.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(stack.serve(async {
        let _ = stop_rx.await;
    }));
    // The banner's curl line, as printed.
    let sig = banner
        .split("X-Hub-Signature-256: ")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .unwrap()
        .to_owned();
    let body = banner
        .split("-d '")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .unwrap()
        .to_owned();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/v1/providers/meta/webhook"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut found = Value::Null;
    for _ in 0..100 {
        let leads: Value = http
            .get(format!("{base}/v1/leads?email=demo-1@meta.example.com"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if demo.verified.load(std::sync::atomic::Ordering::SeqCst) >= 1
            && leads["items"].as_array().is_some_and(|a| !a.is_empty())
        {
            found = leads["items"][0].clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        found["name"], "Meta Demo",
        "the lead came from the Graph stand-in"
    );
    assert_eq!(found["source"]["type"], "meta_lead_ads");
    stop_tx.send(()).unwrap();
    server.await.unwrap();
}
