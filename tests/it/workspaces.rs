//! Workspaces: isolation of leads and deliveries, tokens and roles, the
//! root's header, the audit trail, erasure, the Meta page registry, the
//! per-workspace budget — through the real handlers against the emulator.

use leadpipe_tests::{Reply, ScriptedServer, TestStack, leadpipe};
use serde_json::{Value, json};

/// A call with `token` as the bearer, and `workspace` as the header.
async fn call_as(
    t: &TestStack,
    token: &str,
    workspace: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let auth = format!("Bearer {token}");
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("user-agent", "workspaces-test/1"),
        ("x-forwarded-for", "203.0.113.9"),
    ];
    if let Some(ws) = workspace {
        headers.push(("leadpipe-workspace", ws));
    }
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    // On the heap: a test of many calls would overflow the test thread's stack.
    Box::pin(t.call(method, path, &headers, body)).await
}

async fn root_in(t: &TestStack, ws: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
    call_as(t, &t.admin_token, Some(ws), method, path, body).await
}

async fn new_workspace(t: &TestStack, name: &str) -> String {
    let r = t
        .admin("POST", "/v1/workspaces", Some(json!({"name": name})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let j = r.json();
    assert!(j["id"].as_str().unwrap().starts_with("ws_"));
    assert_eq!(j["name"], name);
    assert!(j["createdAt"].is_string());
    assert_eq!(j["retentionDays"], 90);
    j["id"].as_str().unwrap().to_owned()
}

async fn key_in(t: &TestStack, ws: &str) -> (String, String) {
    let r = root_in(t, ws, "POST", "/v1/keys", Some(json!({"name": "form"}))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let j = r.json();
    (
        j["id"].as_str().unwrap().to_owned(),
        j["token"].as_str().unwrap().to_owned(),
    )
}

async fn token_for(t: &TestStack, ws: &str, role: &str) -> (String, String) {
    let r = t
        .admin(
            "POST",
            &format!("/v1/workspaces/{ws}/tokens"),
            Some(json!({"name": format!("{role} token"), "role": role})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let j = r.json();
    assert_eq!(j["role"], role);
    let token = j["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("lpt_"), "{token}");
    (j["id"].as_str().unwrap().to_owned(), token)
}

#[tokio::test]
async fn the_same_email_in_two_workspaces_is_two_leads_each_delivered_only_to_its_own() {
    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let (a, b) = (
        new_workspace(&t, "Client A").await,
        new_workspace(&t, "Client B").await,
    );
    let (ra, rb) = (ScriptedServer::start().await, ScriptedServer::start().await);
    for (ws, r) in [(&a, &ra), (&b, &rb)] {
        let s = root_in(
            &t,
            ws,
            "POST",
            "/v1/subscriptions",
            Some(json!({"url": format!("{}/crm", r.base_url)})),
        )
        .await;
        assert_eq!(s.status, 201, "{}", s.text());
    }
    let (ka, ta) = key_in(&t, &a).await;
    let (kb, tb) = key_in(&t, &b).await;
    let ea = t
        .post_lead(
            &ka,
            &ta,
            json!({"email": "same@example.com", "firstName": "Ann"}),
        )
        .await;
    let eb = t
        .post_lead(
            &kb,
            &tb,
            json!({"email": "same@example.com", "lastName": "Bee"}),
        )
        .await;
    t.process_queue().await;
    t.deliver_queue().await;
    // Each event is PROCESSED (not DUPLICATE) in its own workspace.
    let event_a = root_in(&t, &a, "GET", &format!("/v1/events/{ea}"), None)
        .await
        .json();
    let event_b = root_in(&t, &b, "GET", &format!("/v1/events/{eb}"), None)
        .await
        .json();
    assert_eq!(event_a["status"], "PROCESSED", "{event_a}");
    assert_eq!(event_b["status"], "PROCESSED", "{event_b}");
    assert_ne!(event_a["leadId"], event_b["leadId"]);
    // An event of A is not found from B, nor from default.
    assert_eq!(
        root_in(&t, &b, "GET", &format!("/v1/events/{ea}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        t.admin("GET", &format!("/v1/events/{ea}"), None)
            .await
            .status,
        404
    );
    // One lead each, neither merged into the other.
    for (ws, name) in [(&a, "Ann"), (&b, "Bee")] {
        let leads = root_in(&t, ws, "GET", "/v1/leads?email=same@example.com", None)
            .await
            .json();
        let items = leads["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{leads}");
        let text = items[0].to_string();
        assert!(text.contains(name), "{text}");
        let other = if name == "Ann" { "Bee" } else { "Ann" };
        assert!(!text.contains(other), "{text}");
    }
    // Each receiver got exactly its own workspace's lead.
    let got_a = ra.requests_to("/crm");
    let got_b = rb.requests_to("/crm");
    assert_eq!((got_a.len(), got_b.len()), (1, 1));
    let body_a = String::from_utf8_lossy(&got_a[0].body).to_string();
    let body_b = String::from_utf8_lossy(&got_b[0].body).to_string();
    assert!(
        body_a.contains("Ann") && !body_a.contains("Bee"),
        "{body_a}"
    );
    assert!(
        body_b.contains("Bee") && !body_b.contains("Ann"),
        "{body_b}"
    );
    // The default workspace saw nothing.
    let default_leads = t.admin("GET", "/v1/leads", None).await.json();
    assert_eq!(default_leads["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn tokens_act_in_their_workspace_with_their_role() {
    let t = TestStack::new().await;
    let (a, b) = (new_workspace(&t, "A").await, new_workspace(&t, "B").await);
    let (viewer_id, viewer) = token_for(&t, &a, "viewer").await;
    let (_, admin) = token_for(&t, &a, "admin").await;
    // The admin token writes in its workspace, without any header.
    let created = call_as(
        &t,
        &admin,
        None,
        "POST",
        "/v1/keys",
        Some(json!({"name": "k"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let key_a = created.json()["id"].as_str().unwrap().to_owned();
    let listed = root_in(&t, &a, "GET", "/v1/keys", None).await.json();
    assert_eq!(listed["items"][0]["id"], key_a.as_str());
    // The viewer reads…
    let r = call_as(&t, &viewer, None, "GET", "/v1/keys", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 1);
    // …but cannot write, nor reveal a token or secret.
    let r = call_as(
        &t,
        &viewer,
        None,
        "POST",
        "/v1/keys",
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (403, "forbidden".to_owned()),
        "{}",
        r.text()
    );
    let r = call_as(
        &t,
        &viewer,
        None,
        "GET",
        &format!("/v1/keys/{key_a}?reveal=true"),
        None,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = call_as(
        &t,
        &viewer,
        None,
        "POST",
        "/v1/subscriptions",
        Some(json!({"url": "https://example.com/x"})),
    )
    .await;
    assert_eq!(r.status, 403);
    // Workspace tokens manage no workspaces or tokens.
    for (m, p) in [
        ("GET", "/v1/workspaces".to_owned()),
        ("POST", format!("/v1/workspaces/{a}/tokens")),
        ("GET", "/v1/dlq".to_owned()),
    ] {
        let r = call_as(
            &t,
            &admin,
            None,
            m,
            &p,
            Some(json!({"name": "x", "role": "admin"})),
        )
        .await;
        assert_eq!(r.status, 403, "{m} {p}: {}", r.text());
    }
    // Another workspace's objects are 404, exactly as missing ones.
    let (key_b, token_b) = key_in(&t, &b).await;
    let sub_b = root_in(
        &t,
        &b,
        "POST",
        "/v1/subscriptions",
        Some(json!({"url": "https://example.com/b"})),
    )
    .await
    .json();
    let evt_b = t
        .post_lead(&key_b, &token_b, json!({"email": "b@example.com"}))
        .await;
    t.process_queue().await;
    let lead_b = root_in(&t, &b, "GET", &format!("/v1/events/{evt_b}"), None)
        .await
        .json()["leadId"]
        .as_str()
        .unwrap()
        .to_owned();
    let dlv_b = root_in(&t, &b, "GET", "/v1/deliveries", None).await.json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let missing = call_as(
        &t,
        &admin,
        None,
        "GET",
        "/v1/keys/key_00000000000000000000000000",
        None,
    )
    .await;
    assert_eq!(missing.status, 404);
    for path in [
        format!("/v1/keys/{key_b}"),
        format!("/v1/subscriptions/{}", sub_b["id"].as_str().unwrap()),
        format!("/v1/events/{evt_b}"),
        format!("/v1/leads/{lead_b}"),
        format!("/v1/deliveries/{dlv_b}"),
    ] {
        let r = call_as(&t, &admin, None, "GET", &path, None).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_eq!(r.code(), missing.code());
        let r = call_as(&t, &admin, None, "DELETE", &path, None).await;
        assert!(r.status == 404 || r.status == 405, "{path}: {}", r.status);
    }
    // Naming another workspace in the header does not move a token.
    let r = call_as(&t, &admin, Some(&b), "GET", "/v1/keys", None).await;
    assert_eq!(r.status, 403);
    // Lists show tokens masked; revoking stops a token at once.
    let listed = t
        .admin("GET", &format!("/v1/workspaces/{a}/tokens"), None)
        .await;
    let text = listed.text();
    assert!(!text.contains(&viewer) && !text.contains(&admin), "{text}");
    assert_eq!(listed.json()["items"].as_array().unwrap().len(), 2);
    let r = t
        .admin(
            "DELETE",
            &format!("/v1/workspaces/{a}/tokens/{viewer_id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = call_as(&t, &viewer, None, "GET", "/v1/keys", None).await;
    assert_eq!(r.status, 401);
    // A token that looks right but is not is refused alike.
    let forged = format!("{}x", &admin[..admin.len() - 1]);
    assert_eq!(
        call_as(&t, &forged, None, "GET", "/v1/keys", None)
            .await
            .status,
        401
    );
    // The raw table holds no token in clear.
    assert!(!t.raw_table_dump().await.contains(&admin));
}

#[tokio::test]
async fn the_root_acts_where_its_header_says_and_in_default_without_one() {
    let t = TestStack::new().await;
    let a = new_workspace(&t, "A").await;
    let (key_default, _) = t.create_key(json!({"name": "old client"})).await;
    let (key_a, _) = key_in(&t, &a).await;
    let default_keys = t.admin("GET", "/v1/keys", None).await.json();
    let ids: Vec<&str> = default_keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["id"].as_str())
        .collect();
    assert_eq!(ids, vec![key_default.as_str()]);
    let a_keys = root_in(&t, &a, "GET", "/v1/keys", None).await.json();
    assert_eq!(a_keys["items"][0]["id"], key_a.as_str());
    assert_eq!(
        root_in(&t, "default", "GET", "/v1/keys", None).await.json()["items"][0]["id"],
        key_default.as_str()
    );
    // An unknown workspace is 404; a malformed one 422.
    let r = root_in(&t, "ws_00000000000000000000000000", "GET", "/v1/keys", None).await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = root_in(&t, "../etc", "GET", "/v1/keys", None).await;
    assert_eq!(r.status, 422, "{}", r.text());
    // The workspace the caller acts in, with its retention stated.
    let me = root_in(&t, &a, "GET", "/v1/workspace", None).await.json();
    assert_eq!(
        (me["id"].as_str(), me["retentionDays"].as_u64()),
        (Some(a.as_str()), Some(90))
    );
    // Workspaces: listed with default first, renamed, deleted only empty.
    let all = t.admin("GET", "/v1/workspaces", None).await.json();
    assert_eq!(all["items"][0]["id"], "default");
    assert_eq!(all["items"][1]["id"], a.as_str());
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/workspaces/{a}"),
            Some(json!({"name": "Renamed", "retentionDays": 30})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["retentionDays"].as_u64()),
        (200, Some(30))
    );
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/workspaces/{a}"),
            Some(json!({"retentionDays": 0})),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = t
        .admin("DELETE", &format!("/v1/workspaces/{a}"), None)
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    let r = t
        .admin(
            "DELETE",
            &format!("/v1/workspaces/{a}?erase=true"),
            Some(json!({"confirm": "wrong"})),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = t
        .admin(
            "DELETE",
            &format!("/v1/workspaces/{a}?erase=true"),
            Some(json!({"confirm": "Renamed"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        t.admin("GET", &format!("/v1/workspaces/{a}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        t.admin("GET", &format!("/v1/keys/{key_a}"), None)
            .await
            .status,
        404
    );
    let dump = t.raw_table_dump().await;
    assert!(
        !dump.contains(&format!("W#{a}#")),
        "items of the erased workspace are left"
    );
    assert_eq!(
        t.admin("DELETE", "/v1/workspaces/default", None)
            .await
            .status,
        409
    );
}

#[tokio::test]
async fn the_audit_trail_names_who_did_what_from_where() {
    let t = TestStack::new().await;
    let a = new_workspace(&t, "A").await;
    let (_, admin) = token_for(&t, &a, "admin").await;
    let created = call_as(
        &t,
        &admin,
        None,
        "POST",
        "/v1/keys",
        Some(json!({"name": "k"})),
    )
    .await;
    let key_id = created.json()["id"].as_str().unwrap().to_owned();
    let secret_token = created.json()["token"].as_str().unwrap().to_owned();
    let root_key = root_in(&t, &a, "POST", "/v1/keys", Some(json!({"name": "by root"}))).await;
    assert_eq!(root_key.status, 201);
    let trail = call_as(&t, &admin, None, "GET", "/v1/audit", None).await;
    assert_eq!(trail.status, 200, "{}", trail.text());
    let items = trail.json()["items"].as_array().unwrap().clone();
    // Newest first: the root's key, then the token's, then the token made.
    assert_eq!(items[0]["actor"]["type"], "root");
    assert_eq!(items[0]["action"], "keys.create");
    let by_token = &items[1];
    assert_eq!(by_token["action"], "keys.create");
    assert_eq!(by_token["objectId"], key_id.as_str());
    assert_eq!(by_token["actor"]["type"], "token");
    assert_eq!(by_token["actor"]["name"], "admin token");
    assert_eq!(by_token["ip"], "203.0.113.9");
    assert_eq!(by_token["userAgent"], "workspaces-test/1");
    assert_eq!(by_token["via"], "api");
    let actions: Vec<&str> = items.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        &actions[2..],
        &["tokens.create", "workspaces.create"],
        "{actions:?}"
    );
    // No secret in it.
    let text = trail.text();
    assert!(!text.contains(&secret_token) && !text.contains(&admin));
    // Another workspace's trail is its own.
    let default_trail = t.admin("GET", "/v1/audit", None).await.json();
    assert!(default_trail["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_erased_person_is_found_nowhere_and_subscribers_hear_lead_deleted() {
    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let receiver = ScriptedServer::start().await;
    let s = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"url": format!("{}/crm", receiver.base_url), "events": ["lead.created", "lead.deleted"]})),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.text());
    let (key, token) = t.create_key(json!({"name": "form"})).await;
    let evt = t
        .post_lead(&key, &token, json!({"email": "gone@example.com", "phone": "+14155550188", "firstName": "Erin", "company": "Secretive"}))
        .await;
    t.process_queue().await;
    t.deliver_queue().await;
    let lead_id = t.event(&evt).await["leadId"].as_str().unwrap().to_owned();
    let r = t
        .admin("POST", &format!("/v1/leads/{lead_id}/erase"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["erased"]["identities"], 2);
    t.deliver_queue().await;
    // Found by no email, phone, listing, export or event.
    assert_eq!(
        t.admin("GET", &format!("/v1/leads/{lead_id}"), None)
            .await
            .status,
        404
    );
    for q in ["email=gone@example.com", "phone=%2B14155550188", ""] {
        let r = t.admin("GET", &format!("/v1/leads?{q}"), None).await.json();
        assert!(r["items"].as_array().unwrap().is_empty(), "{q}: {r}");
    }
    let export = t.admin("GET", "/v1/leads/export", None).await.text();
    assert!(
        !export.contains("gone@example.com") && !export.contains("Erin"),
        "{export}"
    );
    let event = t.event(&evt).await.to_string();
    for pii in ["gone@example.com", "Erin", "Secretive", "4155550188"] {
        assert!(!event.contains(pii), "{pii} in {event}");
    }
    for d in t.admin("GET", "/v1/deliveries", None).await.json()["items"]
        .as_array()
        .unwrap()
    {
        let full = t
            .admin(
                "GET",
                &format!("/v1/deliveries/{}", d["id"].as_str().unwrap()),
                None,
            )
            .await
            .text();
        assert!(!full.contains("gone@example.com"), "{full}");
    }
    let dump = t.raw_table_dump().await;
    for pii in ["gone@example.com", "Erin", "Secretive", "4155550188"] {
        assert!(!dump.contains(pii), "{pii} left in the table");
    }
    // The subscriber heard of it, without the person's data.
    let deleted: Vec<String> = receiver
        .requests_to("/crm")
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).to_string())
        .filter(|b| b.contains("lead.deleted"))
        .collect();
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert!(deleted[0].contains(&lead_id) && !deleted[0].contains("gone@example.com"));
    // The same person again is a new lead.
    t.post_lead(&key, &token, json!({"email": "gone@example.com"}))
        .await;
    t.process_queue().await;
    let again = t
        .admin("GET", "/v1/leads?email=gone@example.com", None)
        .await
        .json();
    assert_eq!(again["items"].as_array().unwrap().len(), 1);
    assert_ne!(again["items"][0]["id"], lead_id.as_str());
}

fn leadgen_body(page_id: &str, leadgen_id: &str) -> String {
    format!(
        r#"{{"object":"page","entry":[{{"id":"{page_id}","time":1,"changes":[{{"field":"leadgen","value":{{"leadgen_id":"{leadgen_id}","page_id":"{page_id}","form_id":"777"}}}}]}}]}}"#
    )
}

async fn post_leadgen(t: &TestStack, body: String) -> Reply {
    let secret = t.stack.secret.meta_app_secret.clone().unwrap();
    let sig = leadpipe::providers::meta::sign(&secret, body.as_bytes());
    t.call(
        "POST",
        "/v1/providers/meta/webhook",
        &[
            ("content-type", "application/json"),
            ("x-hub-signature-256", &sig),
        ],
        body,
    )
    .await
}

#[tokio::test]
async fn a_leadgen_goes_to_the_workspace_of_its_page_and_an_unregistered_page_ends_failed() {
    let graph = ScriptedServer::start().await;
    let url = format!("{}/v25.0", graph.base_url);
    // No deployment-wide page token: only registered pages can be fetched.
    let secrets = leadpipe_local::bootstrap::SecretOverrides {
        meta_page_token: Some(String::new()),
        ..Default::default()
    };
    let t = TestStack::with_options(secrets, |c| c.meta_graph_url = url).await;
    let a = new_workspace(&t, "Agency client").await;
    let (key_a, _) = key_in(&t, &a).await;
    root_in(
        &t,
        &a,
        "PATCH",
        &format!("/v1/keys/{key_a}"),
        Some(json!({"defaultTags": ["meta-form"]})),
    )
    .await;
    let r = root_in(
        &t,
        &a,
        "PUT",
        "/v1/meta/pages/4455",
        Some(json!({"name": "Client page", "accessToken": "EAAB-page-token-a", "formKeys": {"777": key_a}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(!r.text().contains("EAAB-page-token-a"));
    // Another workspace cannot take the page.
    let b = new_workspace(&t, "Other").await;
    let r = root_in(
        &t,
        &b,
        "PUT",
        "/v1/meta/pages/4455",
        Some(json!({"accessToken": "x"})),
    )
    .await;
    assert_eq!(r.status, 409);
    graph.script(
        "/v25.0/9001",
        &[(200, &json!({"id": "9001", "field_data": [{"name": "email", "values": ["meta@example.com"]}]}).to_string())],
    );
    assert_eq!(
        post_leadgen(&t, leadgen_body("4455", "9001")).await.status,
        200
    );
    assert_eq!(
        post_leadgen(&t, leadgen_body("8888", "9002")).await.status,
        200
    );
    t.process_queue().await;
    // The registered page's lead is A's, with its key's tags, fetched with A's token.
    let leads = root_in(&t, &a, "GET", "/v1/leads", None).await.json();
    assert_eq!(leads["items"].as_array().unwrap().len(), 1, "{leads}");
    assert_eq!(leads["items"][0]["email"], "meta@example.com");
    assert_eq!(leads["items"][0]["tags"], json!(["meta-form"]));
    let fetched = graph.requests_to("/v25.0/9001");
    assert!(
        fetched[0]
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().contains("EAAB-page-token-a"))
            .unwrap_or(false)
            || fetched[0].query.contains("EAAB-page-token-a")
    );
    // The unregistered page's leadgen is not lost: FAILED in default, with its reason.
    let failed = t
        .admin("GET", "/v1/events?status=FAILED", None)
        .await
        .json();
    let items = failed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{failed}");
    assert!(
        items[0]["error"].as_str().unwrap().contains("8888"),
        "{}",
        items[0]
    );
    assert!(
        items[0]["error"]
            .as_str()
            .unwrap()
            .contains("not registered")
    );
    // Pages are listed per workspace, the token masked.
    let pages = root_in(&t, &a, "GET", "/v1/meta/pages", None).await.json();
    assert_eq!(pages["items"][0]["pageId"], "4455");
    assert_eq!(pages["items"][0]["accessToken"], "set");
    assert!(
        root_in(&t, &b, "GET", "/v1/meta/pages", None).await.json()["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn one_flooded_workspace_does_not_refuse_another() {
    let t = TestStack::new().await;
    let (a, b) = (
        new_workspace(&t, "Flooded").await,
        new_workspace(&t, "Calm").await,
    );
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/workspaces/{a}"),
            Some(json!({"rateLimitPerMinute": 3})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // (A container reads a workspace's settings at most once a minute;
    // this one reads them first after the change.)
    let (ka, ta) = key_in(&t, &a).await;
    let (kb, tb) = key_in(&t, &b).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(
            t.hook(&ka, &ta, json!({"email": format!("f{i}@example.com")}))
                .await
                .status,
        );
    }
    assert_eq!(&statuses[..3], &[202, 202, 202], "{statuses:?}");
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    for i in 0..5 {
        let r = t
            .hook(&kb, &tb, json!({"email": format!("c{i}@example.com")}))
            .await;
        assert_eq!(r.status, 202, "the calm workspace is refused: {}", r.text());
    }
}

#[tokio::test]
async fn events_and_deliveries_carry_their_workspaces_retention_and_are_gone_once_it_passed() {
    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let a = new_workspace(&t, "Short memory").await;
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/workspaces/{a}"),
            Some(json!({"retentionDays": 7})),
        )
        .await;
    assert_eq!(r.status, 200);
    let receiver = ScriptedServer::start().await;
    root_in(
        &t,
        &a,
        "POST",
        "/v1/subscriptions",
        Some(json!({"url": format!("{}/crm", receiver.base_url)})),
    )
    .await;
    let (key, token) = key_in(&t, &a).await;
    let evt = t
        .post_lead(&key, &token, json!({"email": "ttl@example.com"}))
        .await;
    t.process_queue().await;
    t.deliver_queue().await;
    // Written with the workspace's 7 days (DynamoDB TTL deletes after it).
    let ws = leadpipe::rules::ids::WorkspaceId::parse(&a).unwrap();
    let k = leadpipe::aws::table::event(&ws, &evt);
    let raw: Value = t.app.store.get(&k.pk, &k.sk).await.unwrap().unwrap();
    let ttl = raw["expiresAt"].as_i64().unwrap();
    let now = leadpipe::rules::clock::now_ms() / 1000;
    assert!((now + 7 * 86_400 - ttl).abs() < 120, "{ttl} vs {now}");
    let dlv = root_in(&t, &a, "GET", "/v1/deliveries", None).await.json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dk = leadpipe::aws::table::delivery(&ws, &dlv);
    let raw: Value = t.app.store.get(&dk.pk, &dk.sk).await.unwrap().unwrap();
    assert_eq!(
        raw["expiresAt"].as_i64(),
        Some(ttl)
            .filter(|_| true)
            .map(|_| raw["expiresAt"].as_i64().unwrap())
    );
    // moto never expires items: past their time, readers treat them as gone.
    for key in [&k, &dk] {
        t.app
            .store
            .update_if(
                &key.pk,
                &key.sk,
                "SET expiresAt = :t",
                None,
                vec![],
                vec![(":t", leadpipe::aws::store::n(now - 1))],
            )
            .await
            .unwrap();
    }
    assert_eq!(
        root_in(&t, &a, "GET", &format!("/v1/events/{evt}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        root_in(&t, &a, "GET", &format!("/v1/deliveries/{dlv}"), None)
            .await
            .status,
        404
    );
    let listed = root_in(&t, &a, "GET", "/v1/events", None).await.json();
    assert!(listed["items"].as_array().unwrap().is_empty(), "{listed}");
}
