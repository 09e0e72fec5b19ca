//! Webhook keys through the admin API (CONTRACT §6, Keys), against the emulator.

use leadpipe_tests::{TestStack, leadpipe};
use serde_json::{Value, json};

#[tokio::test]
async fn create_get_list_reveal() {
    let t = TestStack::new().await;
    let r = t
        .admin(
            "POST",
            "/v1/keys",
            Some(json!({"name": "Landing page", "allowedDomains": ["*.example.com", "https://Shop.test/"],
                        "honeypotField": "company_url", "defaultStatus": "new", "defaultTags": ["lp", "lp", " q4 "]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let key = r.json();
    let id = key["id"].as_str().unwrap();
    let token = key["token"].as_str().unwrap();
    assert!(id.starts_with("key_"));
    assert!(token.starts_with("wh_live_") && token.len() >= 8 + 43);
    assert_eq!(key["url"], format!("https://leadpipe.test/v1/hooks/{id}"));
    assert_eq!(key["allowedDomains"], json!(["*.example.com", "shop.test"]));
    assert_eq!(key["honeypotField"], "company_url");
    assert_eq!(key["defaultStatus"], "new");
    assert_eq!(key["defaultTags"], json!(["lp", "q4"]));
    assert_eq!(key["requestCount"], 0);
    assert_eq!(key["droppedCount"], 0);
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/keys/{id}").as_str())
    );

    let got = t.admin("GET", &format!("/v1/keys/{id}"), None).await.json();
    let masked = got["token"].as_str().unwrap();
    assert_eq!(masked, format!("{}…", &token[..12]));
    assert_eq!(got["name"], "Landing page");

    let revealed = t
        .admin("GET", &format!("/v1/keys/{id}?reveal=true"), None)
        .await
        .json();
    assert_eq!(revealed["token"], token);

    let list = t.admin("GET", "/v1/keys", None).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["token"], masked);
    assert_eq!(list["nextCursor"], json!(null));
    let list = t.admin("GET", "/v1/keys?reveal=true", None).await.json();
    assert_eq!(list["items"][0]["token"], token);

    // The token is never stored in clear.
    let dump = t.raw_table_dump().await;
    assert!(!dump.contains(&token[8..]), "token stored in clear");
}

#[tokio::test]
async fn pagination_walks_every_key_once() {
    let t = TestStack::new().await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(t.create_key(json!({"name": format!("k{i}")})).await.0);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/keys?limit=2&cursor={c}"),
            None => "/v1/keys?limit=2".to_owned(),
        };
        let page = t.admin("GET", &path, None).await.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|k| k["id"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    created.reverse(); // newest first
    assert_eq!(seen, created);

    for bad in [
        "/v1/keys?limit=0",
        "/v1/keys?limit=201",
        "/v1/keys?limit=x",
        "/v1/keys?cursor=garbage!",
        "/v1/keys?reveal=maybe",
    ] {
        let r = t.admin("GET", bad, None).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        assert_eq!(r.code(), "validation_failed");
    }
}

#[tokio::test]
async fn patch_rotate_delete() {
    let t = TestStack::new().await;
    let (id, token) = t.create_key(json!({"name": "Zapier"})).await;
    assert_eq!(
        t.hook(&id, &token, json!({"email": "a@b.co"})).await.status,
        202
    );

    let r = t
        .admin("PATCH", &format!("/v1/keys/{id}"), Some(json!({"name": "Zapier – Mailchimp", "honeypotField": null, "defaultTags": ["zap"]})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let k = r.json();
    assert_eq!(k["name"], "Zapier – Mailchimp");
    assert_eq!(k["defaultTags"], json!(["zap"]));
    assert_ne!(k["updatedAt"], k["createdAt"]);
    // Editing does not rotate.
    assert_eq!(
        t.hook(&id, &token, json!({"email": "a@b.co"})).await.status,
        202
    );

    let r = t
        .admin(
            "PATCH",
            &format!("/v1/keys/{id}"),
            Some(json!({"token": "wh_live_mine"})),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"]["details"][0]["field"], "token");

    let r = t
        .admin("POST", &format!("/v1/keys/{id}/rotate"), None)
        .await;
    assert_eq!(r.status, 200);
    let new_token = r.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(new_token, token);
    assert_eq!(
        t.hook(&id, &token, json!({"email": "a@b.co"})).await.status,
        401,
        "old token must fail at once"
    );
    assert_eq!(
        t.hook(&id, &new_token, json!({"email": "a@b.co"}))
            .await
            .status,
        202
    );

    let got = t.admin("GET", &format!("/v1/keys/{id}"), None).await.json();
    assert_eq!(got["requestCount"], 3);

    assert_eq!(
        t.admin("DELETE", &format!("/v1/keys/{id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        t.admin("GET", &format!("/v1/keys/{id}"), None).await.status,
        404
    );
    assert_eq!(
        t.admin("DELETE", &format!("/v1/keys/{id}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        t.admin("POST", &format!("/v1/keys/{id}/rotate"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        t.admin(
            "PATCH",
            &format!("/v1/keys/{id}"),
            Some(json!({"name": "x"}))
        )
        .await
        .status,
        404
    );
    assert_eq!(
        t.hook(&id, &new_token, json!({"email": "a@b.co"}))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn bad_key_input() {
    let t = TestStack::new().await;
    let cases = [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": 5}), "name"),
        (
            json!({"name": "x", "allowedDomains": ["not a domain"]}),
            "allowedDomains",
        ),
        (
            json!({"name": "x", "allowedDomains": "example.com"}),
            "allowedDomains",
        ),
        (
            json!({"name": "x", "allowedDomains": ["*"]}),
            "allowedDomains",
        ),
        (json!({"name": "x", "defaultTags": [1]}), "defaultTags"),
        (json!({"name": "x", "defaultStatus": ""}), "defaultStatus"),
        (json!({"name": "x", "colour": "red"}), "colour"),
        (json!({"name": "x".repeat(201)}), "name"),
    ];
    for (body, field) in cases {
        let r = t.admin("POST", "/v1/keys", Some(body.clone())).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        let j = r.json();
        assert_eq!(j["error"]["code"], "validation_failed");
        assert!(
            j["error"]["details"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["field"] == field),
            "{body}: {j}"
        );
        assert!(j["requestId"].is_string());
    }
    let auth = format!("Bearer {}", t.admin_token);
    let r = t
        .call(
            "POST",
            "/v1/keys",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            "{oops",
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "malformed_body"));
    let r = t
        .call(
            "POST",
            "/v1/keys",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            "[]",
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "malformed_body"));
    let r = t
        .call(
            "POST",
            "/v1/keys",
            &[("authorization", &auth), ("content-type", "text/plain")],
            "name=x",
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (415, "unsupported_media_type")
    );
    // Nothing was created by any of that.
    assert_eq!(
        t.admin("GET", "/v1/keys", None).await.json()["items"],
        json!([])
    );
}

#[tokio::test]
async fn admin_auth_and_routing() {
    let t = TestStack::new().await;
    let r = t.call("GET", "/v1/keys", &[], "").await;
    assert_eq!((r.status, r.code().as_str()), (401, "unauthorized"));
    let r = t
        .call("GET", "/v1/keys", &[("authorization", "Bearer nope")], "")
        .await;
    assert_eq!(r.status, 401);
    let r = t
        .call(
            "GET",
            "/v1/keys",
            &[("authorization", &format!("Basic {}", t.admin_token))],
            "",
        )
        .await;
    assert_eq!(r.status, 401);
    let r = t.call("GET", "/healthz", &[], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
    let r = t.admin("GET", "/v1/nothing", None).await;
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    let r = t.admin("PUT", "/v1/keys", None).await;
    assert_eq!((r.status, r.code().as_str()), (405, "method_not_allowed"));
    assert_eq!(r.header("allow"), Some("POST, GET"));
    let r = t.admin("GET", "/v1/keys/key_not-a-real-id", None).await;
    assert_eq!(r.status, 404);
    let r = t.admin("GET", "/v1/events/evt_nope", None).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn a_missing_deployment_secret_is_a_clear_500_not_a_panic() {
    let t = TestStack::with_config(|c| c.secret_id = "leadpipe-missing/deployment".into()).await;
    // Authorised by the admin secret, then the data key is missing.
    let r = t
        .admin("POST", "/v1/keys", Some(json!({"name": "k"})))
        .await;
    assert_eq!((r.status, r.code().as_str()), (500, "internal"));
    assert!(
        !r.text().contains("leadpipe-missing"),
        "no internals in the answer"
    );
    let err = t.app.secrets.get().await.unwrap_err().to_string();
    assert!(err.contains("cannot read the deployment secret"), "{err}");
    // Health needs no secret.
    assert_eq!(t.call("GET", "/healthz", &[], "").await.status, 200);
}

#[tokio::test]
async fn the_admin_token_lives_in_the_admin_secret_alone() {
    // What ingest and meta-verify get in the cloud: no admin secret id.
    let t = TestStack::with_config(|c| c.admin_secret_id = None).await;
    let changes = leadpipe::model::keys::KeyChanges {
        name: Some("k".into()),
        ..Default::default()
    };
    let (key, token) = leadpipe::model::keys::create(&t.scope, changes)
        .await
        .unwrap();
    let key = key.id;
    // Ingest works without it…
    let r = t.hook(&key, &token, json!({"email": "a@b.co"})).await;
    assert_eq!(r.status, 202, "{}", r.text());
    // …and the deployment secret holds no admin token.
    let deployment = aws_sdk_secretsmanager::Client::new(&t.sdk)
        .get_secret_value()
        .secret_id(&t.stack.secret_id)
        .send()
        .await
        .unwrap();
    assert!(!deployment.secret_string().unwrap().contains("adminToken"));
    assert!(!deployment.secret_string().unwrap().contains(&t.admin_token));
    // The admin API cannot authorise anyone there, even with the right token.
    let r = t.admin("GET", "/v1/keys", None).await;
    assert_eq!((r.status, r.code().as_str()), (500, "internal"));
    let err = t.app.admin_secret.get().await.unwrap_err().to_string();
    assert!(err.contains("LEADPIPE_ADMIN_SECRET_ID"), "{err}");
    assert!(t.app.admin_secret.ensure_configured().is_err());
}

#[tokio::test]
async fn bootstrap_moves_a_legacy_admin_token_out_of_the_deployment_secret() {
    use leadpipe_local::bootstrap::{SecretOverrides, StackNames, bootstrap};
    let endpoint = tokio::task::spawn_blocking(leadpipe_tests::endpoint)
        .await
        .unwrap();
    let sdk = leadpipe_tests::leadpipe_local::sdk_config(&endpoint).await;
    let names = StackNames::new(leadpipe_tests::unique_stack());
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let legacy = json!({
        "adminToken": "adm_legacy_0123456789abcdef",
        "dataKey": leadpipe::rules::crypto::generate_data_key(),
    });
    sm.create_secret()
        .name(names.secret())
        .secret_string(legacy.to_string())
        .send()
        .await
        .unwrap();
    let stack = bootstrap(&sdk, &names, SecretOverrides::default())
        .await
        .unwrap();
    assert_eq!(
        stack.admin_secret.admin_token,
        "adm_legacy_0123456789abcdef"
    );
    assert_eq!(stack.secret.data_key, legacy["dataKey"]);
    let read = |id: String| {
        let sm = sm.clone();
        async move {
            let out = sm.get_secret_value().secret_id(id).send().await.unwrap();
            serde_json::from_str::<Value>(out.secret_string().unwrap()).unwrap()
        }
    };
    let deployment = read(names.secret()).await;
    assert!(deployment.get("adminToken").is_none(), "{deployment}");
    assert_eq!(deployment["dataKey"], legacy["dataKey"]);
    assert_eq!(
        read(names.admin_secret()).await,
        json!({"adminToken": "adm_legacy_0123456789abcdef"})
    );
    // The admin API answers to the moved token.
    let app = leadpipe::App::new(stack.config(), &sdk);
    let secret = app.admin_secret.get().await.unwrap();
    assert_eq!(secret.admin_token, "adm_legacy_0123456789abcdef");
}

/// A key's `rateLimitPerMinute`: over it the hook answers 429 with
/// `Retry-After` and writes nothing; `null` lifts it.
#[tokio::test]
async fn a_rate_limited_key_answers_429_and_writes_nothing() {
    let t = TestStack::new().await;
    let (id, token) = t
        .create_key(json!({"name": "limited", "rateLimitPerMinute": 3}))
        .await;
    let got = t.admin("GET", &format!("/v1/keys/{id}"), None).await.json();
    assert_eq!(got["rateLimitPerMinute"], 3);

    // A minute boundary between the posts would open a new window: start
    // early in one (the window is the clock minute).
    let into_minute = leadpipe::rules::clock::now_ms().rem_euclid(60_000);
    if into_minute > 40_000 {
        tokio::time::sleep(std::time::Duration::from_millis(
            (60_000 - into_minute + 200) as u64,
        ))
        .await;
    }
    for n in 0..3 {
        let r = t
            .hook(&id, &token, json!({"email": format!("r{n}@example.com")}))
            .await;
        assert_eq!(r.status, 202, "post {n}: {}", r.text());
    }
    let before = t.drain_leads_queue().await.len();
    assert_eq!(before, 3);
    let r = t
        .hook(&id, &token, json!({"email": "over@example.com"}))
        .await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.code(), "rate_limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // Nothing written: no event, no message, no request counted.
    assert!(t.drain_leads_queue().await.is_empty());
    assert!(!t.raw_table_dump().await.contains("over@example.com"));
    let got = t.admin("GET", &format!("/v1/keys/{id}"), None).await.json();
    assert_eq!(got["requestCount"], 3);

    // Lifted: accepted again.
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/keys/{id}"),
            Some(json!({"rateLimitPerMinute": null})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["rateLimitPerMinute"], json!(null));
    let r = t
        .hook(&id, &token, json!({"email": "after@example.com"}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
}

#[tokio::test]
async fn bad_rate_limits_are_422() {
    let t = TestStack::new().await;
    for bad in [
        json!(0),
        json!(-1),
        json!(30001),
        json!(1.5),
        json!("60"),
        json!(true),
    ] {
        let r = t
            .admin(
                "POST",
                "/v1/keys",
                Some(json!({"name": "k", "rateLimitPerMinute": bad})),
            )
            .await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        assert!(r.text().contains("rateLimitPerMinute"), "{}", r.text());
    }
}
