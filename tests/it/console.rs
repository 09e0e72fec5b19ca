//! The console (`/console`): sign-in, the session cookie, CSRF and Origin
//! checks, the security headers, and every page rendered with real data
//! through the same dispatch as the local server. Then the whole thing in
//! Debian's Chromium (`console_in_chromium`): tests/browser/console.mjs.

use std::path::PathBuf;

use leadpipe_local::bootstrap::SecretOverrides;
use leadpipe_local::{LocalStack, Options};
use leadpipe_tests::{Reply, TestStack, endpoint, unique_stack};
use serde_json::json;

const HOST: &str = "leadpipe.test";
const ORIGIN: &str = "http://leadpipe.test";

/// Signs in; returns the `Cookie` header value and the CSRF token of the
/// keys page.
pub(crate) async fn sign_in(t: &TestStack) -> (String, String) {
    let body = format!("token={}", t.admin_token);
    let r = t
        .call(
            "POST",
            "/console/sign-in",
            &[
                ("origin", ORIGIN),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            body,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/console"));
    let set = r.header("set-cookie").expect("a session cookie").to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age="] {
        assert!(set.contains(attr), "{set}");
    }
    // Not a loopback host, no configured http:// URL: served over HTTPS.
    assert!(set.contains("; Secure"), "{set}");
    assert!(!set.contains(&t.admin_token), "the token is not the cookie");
    let cookie = set.split(';').next().unwrap().to_owned();
    let keys = get(t, &cookie, "/console/keys").await;
    assert_eq!(keys.status, 200);
    let csrf = keys
        .text()
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a csrf field")
        .to_owned();
    (cookie, csrf)
}

pub(crate) async fn get(t: &TestStack, cookie: &str, path: &str) -> Reply {
    t.call("GET", path, &[("cookie", cookie)], Vec::new()).await
}

pub(crate) async fn post(t: &TestStack, cookie: &str, path: &str, form: &[(&str, &str)]) -> Reply {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    t.call(
        "POST",
        path,
        &[
            ("cookie", cookie),
            ("origin", ORIGIN),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        body,
    )
    .await
}

fn assert_secure_headers(r: &Reply) {
    let csp = r.header("content-security-policy").expect("a CSP");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("http"),
        "{csp}"
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
}

#[tokio::test]
async fn sign_in_session_and_csrf() {
    let t = TestStack::new().await;
    // Signed out: pages send to the sign-in page, forms are refused.
    let r = get(&t, "", "/console/keys").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/console/sign-in"));
    assert_secure_headers(&r);
    let r = t.call("GET", "/console/sign-in", &[], Vec::new()).await;
    assert_eq!(r.status, 200);
    assert_secure_headers(&r);
    assert!(r.text().contains("type=\"password\""));
    assert!(!r.text().contains("<script>"), "no inline script");

    // A wrong token: 401, the error beside the field.
    let r = t
        .call(
            "POST",
            "/console/sign-in",
            &[("origin", ORIGIN)],
            "token=adm_wrong",
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("id=\"err-token\""), "{}", r.text());
    assert!(r.header("set-cookie").is_none());
    // Sign-in from another site is refused (login CSRF).
    let body = format!("token={}", t.admin_token);
    let r = t
        .call(
            "POST",
            "/console/sign-in",
            &[("origin", "https://evil.example")],
            body.clone(),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.header("set-cookie").is_none());

    let (cookie, csrf) = sign_in(&t).await;
    // A tampered cookie is no session.
    let tampered = format!("{cookie}x");
    assert_eq!(get(&t, &tampered, "/console/keys").await.status, 303);
    // Another deployment's (another admin token's) cookie neither.
    let other = TestStack::new().await;
    assert_eq!(get(&other, &cookie, "/console/keys").await.status, 303);

    // State changes need the CSRF token and the console's Origin.
    let r = post(&t, &cookie, "/console/keys", &[("name", "No csrf")]).await;
    assert_eq!(r.status, 403);
    let r = post(
        &t,
        &cookie,
        "/console/keys",
        &[("csrf", "forged"), ("name", "Forged")],
    )
    .await;
    assert_eq!(r.status, 403);
    let r = t
        .call(
            "POST",
            "/console/keys",
            &[
                ("cookie", &cookie),
                ("origin", "https://evil.example"),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            format!("csrf={csrf}&name=Cross+site"),
        )
        .await;
    assert_eq!(r.status, 403, "right token, wrong origin");
    let r = t
        .call(
            "POST",
            "/console/keys",
            &[("cookie", &cookie), ("host", HOST)],
            format!("csrf={csrf}&name=No+origin"),
        )
        .await;
    assert_eq!(r.status, 403, "no Origin nor Referer");
    let listed = t.admin("GET", "/v1/keys", None).await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 0, "nothing made");

    // Sign-out clears the cookie.
    let r = post(&t, &cookie, "/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn pages_render_real_data_escaped_and_small() {
    let t = TestStack::new().await;
    let (cookie, csrf) = sign_in(&t).await;

    // Create a key through the console; a name that is markup stays text.
    let r = post(
        &t,
        &cookie,
        "/console/keys",
        &[
            ("csrf", &csrf),
            ("name", "<script>alert(1)</script> Landing"),
            ("allowedDomains", "*.example.com, example.org"),
            ("defaultTags", "web, spring"),
        ],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let html = r.text();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Landing"));
    assert!(!html.contains("<script>alert(1)"));
    let token = html
        .split("id=\"token-full\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_owned();
    assert!(token.starts_with("wh_live_"), "{token}");
    let keys = t.admin("GET", "/v1/keys", None).await.json();
    let key_id = keys["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        keys["items"][0]["allowedDomains"],
        json!(["*.example.com", "example.org"])
    );

    // The drawer masks the token; reveal (JSON for the script) shows it.
    let drawer = get(&t, &cookie, &format!("/console/keys/{key_id}")).await;
    assert_eq!(drawer.status, 200);
    assert!(!drawer.text().contains(&token), "masked in the drawer");
    assert!(drawer.text().contains(&format!("/v1/hooks/{key_id}")));
    let r = t
        .call(
            "POST",
            &format!("/console/keys/{key_id}/reveal"),
            &[
                ("cookie", &cookie),
                ("origin", ORIGIN),
                ("accept", "application/json"),
                ("x-csrf-token", &csrf),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["token"], json!(token));
    assert_eq!(r.header("cache-control"), Some("no-store"));

    // A field the API refuses is shown beside that field, values kept.
    let r = post(
        &t,
        &cookie,
        "/console/keys",
        &[
            ("csrf", &csrf),
            ("name", "Bad domains"),
            ("allowedDomains", "not a domain!"),
        ],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text().contains("id=\"err-allowedDomains\""),
        "{}",
        r.text()
    );
    assert!(r.text().contains("value=\"not a domain!\""));

    // A lead, its page, the leads and events lists.
    let hook = t
        .call(
            "POST",
            &format!("/v1/hooks/{key_id}"),
            &[
                ("x-webhook-token", &token),
                ("origin", "https://www.example.com"),
                ("content-type", "application/json"),
            ],
            json!({"name": "Dana Doe", "email": "dana@example.com"}).to_string(),
        )
        .await;
    assert_eq!(hook.status, 202);
    // No pollers here: process the queued event by hand.
    let messages = t.drain_leads_queue().await;
    assert!(!messages.is_empty());
    let events = t.admin("GET", "/v1/events", None).await.json();
    let event_id = events["items"][0]["id"].as_str().unwrap().to_owned();
    let r = get(&t, &cookie, "/console/events?status=RECEIVED").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains(&event_id));
    assert!(
        r.text().contains("Replay"),
        "a RECEIVED event can be replayed"
    );

    // Destinations: an unsafe URL is refused in words beside the field.
    let r = post(
        &t,
        &cookie,
        "/console/destinations",
        &[
            ("csrf", &csrf),
            ("url", "https://169.254.169.254/latest"),
            ("events", "*"),
            ("retrySchedule", "5, 300"),
            ("enabled", "1"),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("id=\"err-url\""));
    assert!(r.text().contains("sends only to public HTTPS addresses"));
    // A template that is not JSON is refused at save, with a preview.
    let r = post(
        &t,
        &cookie,
        "/console/destinations",
        &[
            ("csrf", &csrf),
            ("url", "https://crm.example.com/hook"),
            ("events", "*"),
            ("template", "{\"email\": {{lead.email}"),
            ("retrySchedule", "5, 300"),
            ("enabled", "1"),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("id=\"err-template\""));

    // Every page: 200, the security headers, no admin token, ≤ 60 KB.
    for path in [
        "/console".to_owned(),
        format!("/console/events/{event_id}"),
        "/console/keys".to_owned(),
        format!("/console/keys/{key_id}"),
        "/console/destinations".to_owned(),
        "/console/leads".to_owned(),
        "/console/leads?email=dana%40example.com".to_owned(),
        "/console/events".to_owned(),
        "/console/events?status=FAILED".to_owned(),
        "/console/deliveries".to_owned(),
        "/console/deliveries?status=dead".to_owned(),
    ] {
        let r = get(&t, &cookie, &path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_secure_headers(&r);
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        assert!(!r.text().contains(&t.admin_token), "{path}");
        assert!(r.body.len() <= 60 * 1024, "{path}: {} bytes", r.body.len());
        assert!(r.text().starts_with("<!DOCTYPE html><html lang=\"en\">"));
    }
    // The stylesheet and script: same origin, cacheable.
    for (path, ty) in [
        ("/console/assets/console.css", "text/css"),
        ("/console/assets/console.js", "text/javascript"),
    ] {
        let r = t.call("GET", path, &[], Vec::new()).await;
        assert_eq!(r.status, 200);
        assert!(r.header("content-type").unwrap().starts_with(ty));
    }
    assert_eq!(
        get(&t, &cookie, "/console/keys/key_missing").await.status,
        404
    );
    assert_eq!(
        get(&t, &cookie, "/console/keys/..%2Fx").await.status,
        404,
        "ids are checked before they reach an API path"
    );
}

/// Where the browser test's node modules are: `LEADPIPE_BROWSER_DEPS`,
/// else the cache `make deps-browser` fills.
fn browser_deps() -> PathBuf {
    std::env::var_os("LEADPIPE_BROWSER_DEPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                .join(".cache/leadpipe-browser")
        })
}

#[tokio::test]
async fn console_in_chromium() {
    let chromium =
        std::env::var("LEADPIPE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let deps = browser_deps();
    let missing: Vec<String> = [
        (!std::path::Path::new(&chromium).exists()).then(|| chromium.clone()),
        (!deps.join("node_modules/playwright-core").exists())
            .then(|| format!("{}/node_modules/playwright-core", deps.display())),
        (!deps.join("node_modules/axe-core").exists())
            .then(|| format!("{}/node_modules/axe-core", deps.display())),
        std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_err()
            .then(|| "node".to_owned()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !missing.is_empty() {
        let msg = format!(
            "\n\n!!!!!!!! BROWSER TEST SKIPPED: missing {} (run `make deps-browser`) !!!!!!!!\n\n",
            missing.join(", ")
        );
        assert!(
            std::env::var("LEADPIPE_REQUIRE_BROWSER").is_err(),
            "{msg}LEADPIPE_REQUIRE_BROWSER is set"
        );
        eprintln!("{msg}");
        return;
    }

    let endpoint = tokio::task::spawn_blocking(endpoint).await.unwrap();
    let admin = format!("adm_browser_{}", unique_stack());
    // A HubSpot stand-in, which this stack's configuration points at.
    let hubspot_token = "pat-na1-browser-0000-0000-0000-000000000000";
    let hubspot = leadpipe_tests::hubspot::HubSpot::start(hubspot_token).await;
    let stack = LocalStack::start(Options {
        addr: "127.0.0.1:0".into(),
        endpoint: Some(endpoint),
        emulator_port: 0,
        stack: unique_stack(),
        secret: SecretOverrides {
            admin_token: Some(admin.clone()),
            ..SecretOverrides::default()
        },
        env: vec![("LEADPIPE_HUBSPOT_API_URL".into(), hubspot.base_url.clone())],
        state: None,
    })
    .await
    .expect("local stack starts");
    let base = stack.base_url.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(stack.serve(async {
        let _ = stop_rx.await;
    }));

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shots = std::env::var("LEADPIPE_SCREENSHOTS").unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("../target"));
        target.join("console-screenshots").display().to_string()
    });
    let run = tokio::process::Command::new("node")
        .arg(root.join("browser/console.mjs"))
        .env("LEADPIPE_BASE_URL", &base)
        .env("LEADPIPE_ADMIN_TOKEN", &admin)
        .env("LEADPIPE_BROWSER_DEPS", &deps)
        .env("LEADPIPE_CHROMIUM", &chromium)
        .env("LEADPIPE_SCREENSHOTS", &shots)
        .env("LEADPIPE_HUBSPOT_TOKEN", hubspot_token)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(300), run)
        .await
        .expect("the browser test ends within 5 minutes")
        .expect("node runs");
    let _ = stop_tx.send(());
    let _ = server.await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("browser test: {stdout}");
    assert!(
        out.status.success(),
        "the console's browser journeys failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("\"ok\":true"), "{stdout}");
}
