//! Sources (issue 23): a key's `provider` decides how its hook reads a
//! request. Each provider's request is shaped as the provider documents it
//! and signed here, on the raw bytes (non-ASCII, a trailing newline): the
//! right secret records one event with the provider's metadata, a retry of
//! the same lead id records nothing more, a wrong secret stores nothing,
//! a malformed body gets the error envelope.

use leadpipe::providers::base64_hmac;
use leadpipe_tests::{Reply, ScriptedServer, TestStack};
use serde_json::{Value, json};

async fn events(t: &TestStack) -> Vec<Value> {
    let r = t.admin("GET", "/v1/events", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["items"].as_array().cloned().unwrap_or_default()
}

async fn key_with(t: &TestStack, body: Value) -> (String, String) {
    t.create_key(body).await
}

async fn post(t: &TestStack, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    t.call("POST", path, headers, body.as_bytes().to_vec())
        .await
}

/// The accepted answer's event, processed: its lead exists and its view
/// carries the provider's metadata.
async fn processed_event(t: &TestStack, r: &Reply) -> Value {
    let id = r.json()["eventId"].as_str().expect("eventId").to_owned();
    t.process_queue().await;
    let e = t.event(&id).await;
    assert_eq!(e["status"], "PROCESSED", "{e}");
    e
}

fn google_body(key: &str) -> String {
    // As Google documents it; ids are JSON numbers past 2^53.
    format!(
        "{}\n",
        json!({
            "lead_id": "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz",
            "user_column_data": [
                {"column_name": "Full Name", "string_value": "Zoë Müller", "column_id": "FULL_NAME"},
                {"column_name": "User Email", "string_value": "zoe@example.com", "column_id": "EMAIL"},
                {"column_name": "User Phone", "string_value": "+16505550123", "column_id": "PHONE_NUMBER"},
                {"column_name": "Postal Code", "string_value": "94043", "column_id": "POSTAL_CODE"}
            ],
            "api_version": "1.0",
            "form_id": 9_007_199_254_740_993_u64,
            "campaign_id": 123_456_789_012_u64,
            "google_key": key,
            "is_test": true,
            "gcl_id": "EAIaIQobChMI",
            "adgroup_id": 20_000_000_001_u64,
            "creative_id": 30_000_000_001_u64
        })
    )
}

#[tokio::test]
async fn google_ads_leads_are_verified_recorded_once_and_marked() {
    let t = TestStack::new().await;
    let (key, token) = key_with(&t, json!({"name": "Google", "provider": "google_ads"})).await;
    let path = format!("/v1/hooks/{key}");
    let ct = [("content-type", "application/json")];

    let wrong = post(&t, &path, &ct, &google_body("wh_live_wrong")).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.code(), "unauthorized");
    assert!(events(&t).await.is_empty(), "a wrong key stores nothing");

    let r = post(&t, &path, &ct, &google_body(&token)).await;
    assert_eq!(r.status, 200, "Google expects 200: {}", r.text());
    let again = post(&t, &path, &ct, &google_body(&token)).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.json()["eventId"],
        r.json()["eventId"],
        "a retry replays"
    );
    assert_eq!(events(&t).await.len(), 1, "one event for one lead id");

    let e = processed_event(&t, &r).await;
    let p = &e["provider"];
    assert_eq!(p["name"], "google_ads");
    assert_eq!(p["formId"], "9007199254740993");
    assert_eq!(p["campaignId"], "123456789012");
    assert_eq!(p["adGroupId"], "20000000001");
    assert_eq!(p["adId"], "30000000001");
    assert_eq!(p["clickId"], "EAIaIQobChMI");
    assert_eq!(p["test"], true);
    let lead = t
        .admin(
            "GET",
            &format!("/v1/leads/{}", e["leadId"].as_str().unwrap()),
            None,
        )
        .await
        .json();
    assert_eq!(lead["email"], "zoe@example.com");
    assert_eq!(lead["firstName"], "Zoë");
    assert_eq!(lead["customFields"]["postal_code"], "94043");

    let bad = post(
        &t,
        &path,
        &ct,
        &json!({"google_key": token, "lead_id": "x", "user_column_data": 7}).to_string(),
    )
    .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.code(), "validation_failed");
    assert_eq!(
        bad.json()["error"]["details"][0]["field"],
        "user_column_data"
    );
    let unreadable = post(&t, &path, &ct, "{\"google_key\":").await;
    assert_eq!(unreadable.status, 401, "an unreadable body carries no key");
}

fn typeform_body() -> String {
    format!(
        "{}\n",
        json!({
          "event_id": "01EK4R5PFZZP6C8H14RTP4YW6C",
          "event_type": "form_response",
          "form_response": {
            "form_id": "lT4Z3j",
            "token": "a3a12ec67a1365927098a606107fbc15",
            "submitted_at": "2026-09-26T08:23:49Z",
            "hidden": {"utm_source": "newsletter"},
            "definition": {"id": "lT4Z3j", "title": "Demo request", "fields": []},
            "answers": [
              {"type": "text", "text": "Zoë", "field": {"id": "a", "type": "short_text", "ref": "first_name"}},
              {"type": "email", "email": "zoe.tf@example.com", "field": {"id": "b", "type": "email", "ref": "b"}},
              {"type": "phone_number", "phone_number": "+16505550124", "field": {"id": "c", "type": "phone_number", "ref": "c"}}
            ]
          }
        })
    )
}

#[tokio::test]
async fn typeform_responses_are_verified_with_the_provider_secret() {
    let t = TestStack::new().await;
    let created = t
        .admin(
            "POST",
            "/v1/keys",
            Some(json!({"name": "Typeform", "provider": "typeform", "providerSecret": "tf-signing-secret"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let k = created.json();
    assert_eq!(k["provider"], "typeform");
    assert_eq!(k["providerSecretSet"], true);
    assert!(
        !created.text().contains("tf-signing-secret"),
        "never returned"
    );
    let path = format!("/v1/hooks/{}", k["id"].as_str().unwrap());
    let token = k["token"].as_str().unwrap();

    let body = typeform_body();
    let signed =
        |secret: &str, body: &str| format!("sha256={}", base64_hmac(secret, body.as_bytes()));
    let with_token = signed(token, &body);
    let r = post(&t, &path, &[("typeform-signature", &with_token)], &body).await;
    assert_eq!(r.status, 401, "the provider secret, not the token, signs");
    let trimmed = signed("tf-signing-secret", body.trim_end());
    let r = post(&t, &path, &[("typeform-signature", &trimmed)], &body).await;
    assert_eq!(r.status, 401, "the signature covers the raw bytes");
    assert!(events(&t).await.is_empty());

    let sig = signed("tf-signing-secret", &body);
    let r = post(
        &t,
        &path,
        &[
            ("typeform-signature", &sig),
            ("content-type", "application/json"),
        ],
        &body,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let again = post(&t, &path, &[("typeform-signature", &sig)], &body).await;
    assert_eq!(again.json()["eventId"], r.json()["eventId"]);
    assert_eq!(events(&t).await.len(), 1);
    let e = processed_event(&t, &r).await;
    assert_eq!(e["provider"]["leadId"], "a3a12ec67a1365927098a606107fbc15");
    assert_eq!(e["provider"]["formId"], "lT4Z3j");

    let broken = "{\"form_response\": [}\n";
    let sig = signed("tf-signing-secret", broken);
    let r = post(&t, &path, &[("typeform-signature", &sig)], broken).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "malformed_body");
    assert!(r.json()["requestId"].is_string());
}

#[tokio::test]
async fn tally_responses_are_signed_with_the_token_by_default() {
    let t = TestStack::new().await;
    let (key, token) = key_with(&t, json!({"name": "Tally", "provider": "tally"})).await;
    let path = format!("/v1/hooks/{key}");
    let body = format!(
        "{}\n",
        json!({
          "eventId": "a4cb511e-d513-4fa5-baee-b815d718dfd1",
          "eventType": "FORM_RESPONSE",
          "createdAt": "2026-06-28T15:00:21.889Z",
          "data": {
            "responseId": "2wgx4n", "submissionId": "2wgx4n", "respondentId": "dwQKYm",
            "formId": "VwbNEw", "formName": "Démo", "createdAt": "2026-06-28T15:00:21.000Z",
            "fields": [
              {"key": "question_1", "label": "Full name", "type": "INPUT_TEXT", "value": "Zoë Müller"},
              {"key": "question_2", "label": "Work address", "type": "INPUT_EMAIL", "value": "zoe.tally@example.com"},
              {"key": "question_3", "label": "Plan", "type": "MULTIPLE_CHOICE", "value": ["o1"],
               "options": [{"id": "o1", "text": "Pro"}]}
            ]
          }
        })
    );
    let r = post(
        &t,
        &path,
        &[("tally-signature", &base64_hmac("nope", body.as_bytes()))],
        &body,
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(events(&t).await.is_empty());
    let sig = base64_hmac(&token, body.as_bytes());
    let r = post(&t, &path, &[("tally-signature", &sig)], &body).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let again = post(&t, &path, &[("tally-signature", &sig)], &body).await;
    assert_eq!(again.json()["eventId"], r.json()["eventId"]);
    assert_eq!(events(&t).await.len(), 1);
    let e = processed_event(&t, &r).await;
    assert_eq!(e["provider"]["leadId"], "2wgx4n");
    assert_eq!(e["provider"]["formName"], "Démo");

    let no_contact =
        json!({"eventType": "FORM_RESPONSE", "data": {"responseId": "r2", "fields": []}})
            .to_string();
    let sig = base64_hmac(&token, no_contact.as_bytes());
    let r = post(&t, &path, &[("tally-signature", &sig)], &no_contact).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"]["details"][0]["field"], "email");
}

#[tokio::test]
async fn jotform_submissions_carry_the_token_in_the_url() {
    let t = TestStack::new().await;
    let (key, token) = key_with(&t, json!({"name": "Jotform", "provider": "jotform"})).await;
    let boundary = "------------------------J1JNT4vbVO4FCC1qLG4HSv";
    let raw = json!({
        "slug": "submit/243231271343446",
        "q3_fullName": {"first": "Zoë", "last": "Müller"},
        "q4_email4": "zoe.jf@example.com",
        "q5_phoneNumber": {"full": "+1 650 555 0125"}
    });
    let part = |name: &str, value: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
    };
    let body = [
        part("formID", "243231271343446"),
        part("submissionID", "6084250982513018472"),
        part("formTitle", "Démo"),
        part("rawRequest", &raw.to_string()),
        format!("--{boundary}--\r\n"),
    ]
    .concat();
    let ct = format!("multipart/form-data; boundary={boundary}");
    let headers = [("content-type", ct.as_str())];
    let r = post(
        &t,
        &format!("/v1/hooks/{key}?token=wh_live_nope"),
        &headers,
        &body,
    )
    .await;
    assert_eq!(r.status, 401);
    let r = post(&t, &format!("/v1/hooks/{key}"), &headers, &body).await;
    assert_eq!(r.status, 401);
    assert!(events(&t).await.is_empty());

    let path = format!("/v1/hooks/{key}?token={token}");
    let r = post(&t, &path, &headers, &body).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let again = post(&t, &path, &headers, &body).await;
    assert_eq!(again.json()["eventId"], r.json()["eventId"]);
    assert_eq!(events(&t).await.len(), 1);
    let e = processed_event(&t, &r).await;
    assert_eq!(e["provider"]["leadId"], "6084250982513018472");
    assert_eq!(e["provider"]["formId"], "243231271343446");

    let r = post(&t, &path, &headers, &format!("--{boundary}\r\nnonsense")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "malformed_body");
}

#[tokio::test]
async fn key_provider_fields_are_validated() {
    let t = TestStack::new().await;
    for (body, field) in [
        (json!({"name": "x", "provider": "fax"}), "provider"),
        (json!({"name": "x", "provider": "form"}), "allowedDomains"),
        (
            json!({"name": "x", "redirectUrl": "http://example.com/"}),
            "redirectUrl",
        ),
        (
            json!({"name": "x", "redirectUrl": "javascript:alert(1)"}),
            "redirectUrl",
        ),
        (
            json!({"name": "x", "providerSecret": "a\u{7}b"}),
            "providerSecret",
        ),
        (
            json!({"name": "x", "providerSecretSet": true}),
            "providerSecretSet",
        ),
    ] {
        let r = t.admin("POST", "/v1/keys", Some(body.clone())).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert_eq!(r.json()["error"]["details"][0]["field"], field, "{body}");
    }
    let (key, _) = t.create_key(json!({"name": "plain"})).await;
    let k = t
        .admin("GET", &format!("/v1/keys/{key}"), None)
        .await
        .json();
    assert_eq!(k["provider"], "webhook");
    assert_eq!(k["providerSecretSet"], false);
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/keys/{key}"),
            Some(json!({"provider": "form"})),
        )
        .await;
    assert_eq!(r.status, 422, "a form key needs origins: {}", r.text());
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/keys/{key}"),
            Some(json!({"provider": "form", "allowedDomains": ["example.com"], "providerSecret": "0x4AAA",
                        "redirectUrl": "https://example.com/thanks"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["providerSecretSet"], true);
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/keys/{key}"),
            Some(json!({"providerSecret": null})),
        )
        .await;
    assert_eq!(r.json()["providerSecretSet"], false);
    let listed = t.admin("GET", "/v1/keys?reveal=true", None).await.text();
    assert!(!listed.contains("0x4AAA"));
}

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

fn li_sign(secret: &str, body: &str) -> String {
    let mac =
        leadpipe::providers::hmac_sha256(secret.as_bytes(), &[b"hmacsha256=", body.as_bytes()]);
    leadpipe::rules::crypto::encode_hex(&mac)
}

fn li_note(action: &str, id: &str) -> String {
    format!(
        "{}\n",
        json!({
            "type": "LEAD_ACTION",
            "leadGenFormResponse": format!("urn:li:leadGenFormResponse:{id}"),
            "owner": {"sponsoredAccount": "urn:li:sponsoredAccount:522529623"},
            "leadGenForm": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:5678,1)",
            "leadType": "SPONSORED", "leadAction": action, "occurredAt": 1_679_496_483_000_u64,
            "note": "Zoë"
        })
    )
}

const LI_RESPONSE: &str = r#"{"id": "a9a29e52-4", "testLead": false, "leadType": "SPONSORED",
  "versionedLeadGenFormUrn": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:5678,1)",
  "associatedEntity": {"associatedCreative": "urn:li:sponsoredCreative:241257736"},
  "form": {"name": "Démo", "hiddenFields": [{"name": "utm_source", "value": "linkedin"}],
    "content": {"questions": [
      {"questionId": 1, "name": "firstName", "predefinedField": "FIRST_NAME"},
      {"questionId": 2, "name": "lastName", "predefinedField": "LAST_NAME"},
      {"questionId": 3, "name": "email", "predefinedField": "EMAIL"}]}},
  "formResponse": {"answers": [
    {"questionId": 1, "answerDetails": {"textQuestionAnswer": {"answer": "Zoë"}}},
    {"questionId": 2, "answerDetails": {"textQuestionAnswer": {"answer": "Müller"}}},
    {"questionId": 3, "answerDetails": {"textQuestionAnswer": {"answer": "zoe.li@example.com"}}}]}}"#;

#[tokio::test]
async fn linkedin_lead_sync_challenge_signature_and_fetch() {
    let api = ScriptedServer::start().await;
    api.script("/rest/leadFormResponses/a9a29e52-4", &[(200, LI_RESPONSE)]);
    api.script(
        "/rest/leadFormResponses/flaky-1",
        &[(500, r#"{"status": 500}"#), (200, LI_RESPONSE)],
    );
    let base = format!("{}/rest", api.base_url);
    let t = TestStack::with_config(|c| c.linkedin_api_url = base).await;
    let created = t
        .admin(
            "POST",
            "/v1/keys",
            Some(json!({"name": "LinkedIn", "provider": "linkedin",
                        "providerSecret": "li-client-secret", "providerToken": "AQV-access-token"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json()["providerTokenSet"], true);
    assert!(!created.text().contains("AQV-access-token"));
    let key = created.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/hooks/{key}");

    // The validation LinkedIn repeats every two hours.
    let code = "890e4665-4dfe-4ab1-b689-ed553bceeed0";
    let r = t
        .call(
            "GET",
            &format!("{path}?challengeCode={code}"),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let expected = leadpipe::rules::crypto::encode_hex(&leadpipe::providers::hmac_sha256(
        b"li-client-secret",
        &[code.as_bytes()],
    ));
    assert_eq!(
        r.json(),
        json!({"challengeCode": code, "challengeResponse": expected})
    );

    let body = li_note("CREATED", "a9a29e52-4");
    let r = post(
        &t,
        &path,
        &[("x-li-signature", &li_sign("wrong", &body))],
        &body,
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(events(&t).await.is_empty());
    assert!(
        api.requests().is_empty(),
        "nothing fetched for a forged notification"
    );

    let sig = li_sign("li-client-secret", &body);
    let r = post(
        &t,
        &path,
        &[
            ("x-li-signature", &sig),
            ("content-type", "application/json"),
        ],
        &body,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let again = post(&t, &path, &[("x-li-signature", &sig)], &body).await;
    assert_eq!(
        again.json()["eventId"],
        r.json()["eventId"],
        "a redelivery replays"
    );
    let fetched = api.requests_to("/rest/leadFormResponses/a9a29e52-4");
    assert_eq!(fetched.len(), 1);
    assert_eq!(
        fetched[0]
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer AQV-access-token")
    );
    assert_eq!(
        fetched[0]
            .headers
            .get("x-restli-protocol-version")
            .and_then(|v| v.to_str().ok()),
        Some("2.0.0")
    );
    assert!(fetched[0].query.starts_with("fields="));
    let e = processed_event(&t, &r).await;
    assert_eq!(e["provider"]["name"], "linkedin");
    assert_eq!(e["provider"]["leadId"], "a9a29e52-4");
    assert_eq!(e["provider"]["adId"], "urn:li:sponsoredCreative:241257736");
    let lead = t
        .admin(
            "GET",
            &format!("/v1/leads/{}", e["leadId"].as_str().unwrap()),
            None,
        )
        .await
        .json();
    assert_eq!(lead["email"], "zoe.li@example.com");
    assert_eq!(lead["lastName"], "Müller");

    // LinkedIn's API fails once: nothing recorded, the redelivery succeeds.
    let body = li_note("CREATED", "flaky-1");
    let sig = li_sign("li-client-secret", &body);
    let r = post(&t, &path, &[("x-li-signature", &sig)], &body).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.code(), "internal");
    assert_eq!(events(&t).await.len(), 1);
    let r = post(&t, &path, &[("x-li-signature", &sig)], &body).await;
    assert_eq!(r.status, 202, "{}", r.text());

    let body = li_note("DELETED", "a9a29e52-4");
    let r = post(
        &t,
        &path,
        &[("x-li-signature", &li_sign("li-client-secret", &body))],
        &body,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(events(&t).await.len(), 2, "a deletion records nothing");

    let broken = "{\"leadAction\": \"CREATED\"}";
    let r = post(
        &t,
        &path,
        &[("x-li-signature", &li_sign("li-client-secret", broken))],
        broken,
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.code(), "validation_failed");
}
